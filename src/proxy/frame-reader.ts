/**
 * Splits a Kafka byte stream into size-prefixed frames without buffering large frames whole.
 *
 * For each frame the reader first collects a "head" (the first `peekBytes` of the frame, or all of it if
 * smaller) and asks `classify` what to do: "buffer" delivers the complete frame to `onFrame` (for frames the
 * proxy decodes or rewrites), "stream" hands the bytes to `onPassthrough` as they arrive (size prefix
 * included), so Produce and Fetch payloads are relayed chunk by chunk.
 *
 * The size prefix stays with the frame's bytes until the frame is classified, so a frame that arrived in one
 * chunk is handed on as a slice of that chunk, prefix included: forwarding it unchanged copies nothing.
 *
 * `classify` may answer "more" when the head is too short to decide (a request header with a long client id or
 * large tagged fields, a Produce whose acks field lies further in): it is asked again with a head twice as long,
 * up to the whole frame, so a decision is never made on a guess.
 *
 * hold() stops the reader at the next frame boundary: later bytes stay buffered, unread, until release(). The
 * connection holds while the broker's answer decides how the next bytes are framed (SASL) and while an audited
 * request waits for its write-ahead record.
 */

export type FrameMode = 'buffer' | 'stream' | 'more';

export interface FrameHandler {
  classify(size: number, head: Buffer): FrameMode;
  /** A complete frame, size prefix excluded; `whole` is the same bytes with the size prefix (forward it as is). */
  onFrame(frame: Buffer, whole: Buffer): void;
  /** Bytes of a streamed frame, in order; the first call carries the size prefix and the head. */
  onPassthrough(bytes: Buffer, frameDone: boolean): void;
}

const EMPTY = Buffer.alloc(0);

/** Why a connection was closed; the label of kafka_proxy_connection_errors_total. */
export type FrameErrorReason = 'oversized' | 'negative_size' | 'malformed' | 'unsupported_version' | 'too_large_to_audit'
  | 'unmatched_response' | 'unauthenticated_request' | 'sasl_unsupported' | 'unknown_principal' | 'write_ahead_failed' | 'unknown_api'
  | 'audit_not_durable';

export class FrameError extends Error {
  constructor(message: string, readonly reason: FrameErrorReason) { super(message); this.name = 'FrameError'; }
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Size of the current frame, or -1 while reading a size prefix. */
  private size = -1;
  private mode: FrameMode | undefined;
  /** Bytes of a streamed frame still to pass through. */
  private remaining = 0;
  /** A frame went to onFrame as a slice of the current chunk (see retainsInput). */
  private lent = false;
  /** Head bytes wanted for the current frame (grows when classify answers "more"). */
  private headWant: number;
  private held = false;

  constructor(
    private readonly handler: FrameHandler,
    private readonly maxFrameBytes: number,
    private readonly peekBytes = 1024,
    private readonly what = 'frame',
  ) {
    this.headWant = peekBytes;
  }

  /** Stops reading at the next frame boundary; bytes pushed meanwhile are kept in order. */
  hold(): void { this.held = true; }

  get isHeld(): boolean { return this.held; }

  /** Resumes reading, starting with what was kept while held. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.lent = false;
    this.drain();
  }

  /**
   * True when bytes of the chunk given to the last push() may still be referenced after it returned: a frame or
   * frame head kept for the next chunk, or a complete frame handed to onFrame as a slice of the chunk (what is
   * decoded from it can point into it). Streamed bytes are not counted: onPassthrough is done with them.
   */
  get retainsInput(): boolean { return this.lent || this.buffered > 0; }

  /** True while the reader is inside a frame (bytes of it seen but not all). */
  get midFrame(): boolean { return this.size >= 0 || this.buffered > 0; }

  push(chunk: Buffer): void {
    this.lent = false;
    if (this.mode === 'stream' && !this.held) {
      if (chunk.length <= this.remaining) {
        this.remaining -= chunk.length;
        const done = this.remaining === 0;
        if (done) this.reset();
        this.handler.onPassthrough(chunk, done);
        return;
      }
      const head = chunk.subarray(0, this.remaining);
      const rest = chunk.subarray(this.remaining);
      this.reset();
      this.handler.onPassthrough(head, true);
      chunk = rest;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.drain();
  }

  private reset(): void { this.size = -1; this.mode = undefined; this.remaining = 0; this.headWant = this.peekBytes; }

  private take(n: number): Buffer {
    if (n === 0) return EMPTY; // a zero-size frame may end a chunk: there may be no chunk left to cut from
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift(); else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let copied = 0;
      while (copied < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - copied);
        c.copy(out, copied, 0, k);
        copied += k;
        if (k === c.length) this.chunks.shift(); else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }

  private peek(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.chunks[0];
    if (first.length >= n) return first.subarray(0, n);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.subarray(0, n);
  }

  /** The current frame's size prefix, read without consuming it. */
  private peekSize(): number {
    const first = this.chunks[0];
    return (first.length >= 4 ? first : this.peek(4)).readInt32BE(0);
  }

  private drain(): void {
    for (;;) {
      if (this.held) return;
      if (this.size < 0) {
        if (this.buffered < 4) return;
        const size = this.peekSize();
        if (size < 0) throw new FrameError(`${this.what} size ${size} is negative: the stream is not Kafka protocol or is corrupt`, 'negative_size');
        if (size > this.maxFrameBytes) {
          throw new FrameError(`${this.what} of ${size} bytes exceeds the configured limit of ${this.maxFrameBytes} bytes (maxFrameBytes)`, 'oversized');
        }
        this.size = size;
      }
      const total = 4 + this.size;
      if (this.mode === undefined) {
        const headLen = Math.min(this.size, this.headWant);
        if (this.buffered < 4 + headLen) return;
        const head = this.peek(4 + headLen).subarray(4);
        const mode = this.handler.classify(this.size, head);
        if (mode === 'more') {
          if (headLen >= this.size) throw new FrameError(`${this.what}: classify asked for more than the whole frame`, 'malformed');
          this.headWant = Math.min(this.size, headLen * 2);
          continue;
        }
        this.mode = mode;
        if (this.mode === 'stream') {
          const available = Math.min(this.buffered, total);
          const bytes = this.take(available); // size prefix included
          this.remaining = total - available;
          const done = this.remaining === 0;
          if (done) this.reset();
          this.handler.onPassthrough(bytes, done);
          if (!done) return;
          continue;
        }
      }
      if (this.buffered < total) return;
      if (this.chunks[0].length >= total) this.lent = true; // take() slices rather than copies
      const whole = this.take(total);
      this.reset();
      this.handler.onFrame(whole.subarray(4), whole);
    }
  }
}

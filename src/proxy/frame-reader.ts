/**
 * Splits a Kafka byte stream into size-prefixed frames without buffering large frames whole.
 *
 * For each frame the reader first collects a "head" (the first `peekBytes` of the frame, or all of it if
 * smaller) and asks `classify` what to do: "buffer" delivers the complete frame to `onFrame` (for frames the
 * proxy decodes or rewrites), "stream" hands the bytes to `onPassthrough` as they arrive (size prefix
 * included), so Produce and Fetch payloads are relayed chunk by chunk.
 */

export type FrameMode = 'buffer' | 'stream';

export interface FrameHandler {
  classify(size: number, head: Buffer): FrameMode;
  /** A complete frame, size prefix excluded. */
  onFrame(frame: Buffer): void;
  /** Bytes of a streamed frame, in order; the first call carries the size prefix and the head. */
  onPassthrough(bytes: Buffer, frameDone: boolean): void;
}

export class FrameError extends Error {
  constructor(message: string, readonly reason: 'oversized' | 'negative_size' | 'malformed') { super(message); this.name = 'FrameError'; }
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Size of the current frame, or -1 while reading a size prefix. */
  private size = -1;
  private mode: FrameMode | undefined;
  /** Bytes of a streamed frame still to pass through. */
  private remaining = 0;

  constructor(
    private readonly handler: FrameHandler,
    private readonly maxFrameBytes: number,
    private readonly peekBytes = 1024,
    private readonly what = 'frame',
  ) {}

  /** True while the reader is inside a frame (bytes of it seen but not all). */
  get midFrame(): boolean { return this.size >= 0 || this.buffered > 0; }

  push(chunk: Buffer): void {
    if (this.mode === 'stream') {
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

  private reset(): void { this.size = -1; this.mode = undefined; this.remaining = 0; }

  private take(n: number): Buffer {
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
    const first = this.chunks[0];
    if (first.length >= n) return first.subarray(0, n);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.subarray(0, n);
  }

  private drain(): void {
    for (;;) {
      if (this.size < 0) {
        if (this.buffered < 4) return;
        const size = this.take(4).readInt32BE(0);
        if (size < 0) throw new FrameError(`${this.what} size ${size} is negative: the stream is not Kafka protocol or is corrupt`, 'negative_size');
        if (size > this.maxFrameBytes) {
          throw new FrameError(`${this.what} of ${size} bytes exceeds the configured limit of ${this.maxFrameBytes} bytes (maxFrameBytes)`, 'oversized');
        }
        this.size = size;
      }
      if (this.mode === undefined) {
        const headLen = Math.min(this.size, this.peekBytes);
        if (this.buffered < headLen) return;
        const head = this.peek(headLen);
        this.mode = this.handler.classify(this.size, head);
        if (this.mode === 'stream') {
          const prefix = Buffer.allocUnsafe(4);
          prefix.writeInt32BE(this.size, 0);
          const available = Math.min(this.buffered, this.size);
          const body = this.take(available);
          this.remaining = this.size - available;
          const done = this.remaining === 0;
          if (done) this.reset();
          this.handler.onPassthrough(Buffer.concat([prefix, body]), done);
          if (!done) return;
          continue;
        }
      }
      if (this.buffered < this.size) return;
      const frame = this.take(this.size);
      this.reset();
      this.handler.onFrame(frame);
    }
  }
}

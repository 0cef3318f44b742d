/**
 * Raw Kafka protocol over a socket, for the tests and benchmarks that must send exactly the bytes they choose, or do
 * what real clients cannot do on purpose: send malformed frames, hold thousands of idle connections cheaply, stop
 * reading their socket. One module for the proxy tests (test/proxy), the fuzz tests (test/fuzz) and the benchmarks
 * (bench/lib/raw.ts re-exports it).
 *
 * Responses are split into frames as they arrive (each frame is copied at most once, however many socket reads it
 * spans). A frame answering a request made with send()/request() goes to that request; any other frame goes to
 * onFrame, which by default keeps it in `frames` (for nextFrame()).
 */
import net from 'node:net';
import { decodeMessage, encodeMessage, type Decoded } from '../../protocol/codec.js';
import { skipTaggedSection } from '../../protocol/header.js';
import { apiSchema, isFlexible } from '../../protocol/registry.js';

const EMPTY = Buffer.alloc(0);

export function sizePrefixed(...parts: Buffer[]): Buffer {
  const payload = Buffer.concat(parts);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, payload]);
}

export interface RequestHeaderOptions {
  /** Header v2 (adds an empty tagged-field section) instead of v1. */
  flexible?: boolean;
  /** Client id; null is written as a null string (length -1). Default "raw-test". */
  clientId?: string | null;
}

/** A request header, v1 (v2 with `flexible`), size prefix not included. */
export function requestHeader(apiKey: number, apiVersion: number, correlationId: number, opts: RequestHeaderOptions = {}): Buffer {
  const clientId = opts.clientId === undefined ? 'raw-test' : opts.clientId;
  const id = clientId === null ? null : Buffer.from(clientId);
  const head = Buffer.alloc(10 + (id?.length ?? 0) + (opts.flexible ? 1 : 0));
  head.writeInt16BE(apiKey, 0);
  head.writeInt16BE(apiVersion, 2);
  head.writeInt32BE(correlationId, 4);
  head.writeInt16BE(id ? id.length : -1, 8);
  id?.copy(head, 10);
  return head;
}

/** A request frame, size prefix included: the header (see requestHeader), then `body`, as given. */
export function requestFrame(apiKey: number, apiVersion: number, correlationId: number, body: Buffer = EMPTY, opts: RequestHeaderOptions = {}): Buffer {
  return sizePrefixed(requestHeader(apiKey, apiVersion, correlationId, opts), body);
}

/** A request frame whose body is `body` encoded with the project's codec; the header version follows the schema. */
export function kafkaRequest(apiKey: number, apiVersion: number, correlationId: number, body: Decoded, clientId: string | null = 'raw-test'): Buffer {
  const schema = apiSchema(apiKey);
  if (!schema) throw new Error(`no schema for API key ${apiKey}`);
  return requestFrame(apiKey, apiVersion, correlationId, encodeMessage(schema.request, apiVersion, body),
    { flexible: isFlexible(schema.request, apiVersion), clientId });
}

/** Decodes a response frame (size prefix excluded) of `apiKey` v`apiVersion`: the body, after the response header. */
export function decodeResponse(apiKey: number, apiVersion: number, frame: Buffer): Decoded {
  const schema = apiSchema(apiKey);
  if (!schema) throw new Error(`no schema for API key ${apiKey}`);
  // ApiVersions responses always have header v0 (KIP-511); other flexible versions have header v1 (tagged fields).
  const flexibleHeader = apiKey !== 18 && isFlexible(schema.response, apiVersion);
  return decodeMessage(schema.response, apiVersion, frame.subarray(flexibleHeader ? skipTaggedSection(frame, 4) : 4));
}

export interface RawOpenOptions {
  host?: string;
  /** Local address to connect from (e.g. 127.0.0.5: all of 127/8 is loopback on Linux), to tell connections apart in proxy logs or to spread per-address limits. */
  localAddress?: string;
  /** Client id of requests made with send()/request(). Default "raw-test". */
  clientId?: string;
  /** TCP_NODELAY. Default true. */
  noDelay?: boolean;
  /** Pause the socket before it connects: it never reads until socket.resume(). */
  paused?: boolean;
}

export class RawConnection {
  /** Frames (size prefix excluded) not taken by a send(), in arrival order, when onFrame is the default. */
  readonly frames: Buffer[] = [];
  /** Bytes received so far. */
  received = 0;
  readonly openedAt = Date.now();
  closedAt: number | undefined;
  /** "ip:port" of this end, as the proxy logs it in `client` (kept: a closed socket forgets it). */
  localAddress = '';
  /** Where frames not taken by a send() go. Replace it to process frames as they come without keeping them. */
  onFrame: (frame: Buffer) => void = (frame) => { this.frames.push(frame); };

  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes of the frame being read, prefix included; -1 while its size prefix is incomplete. */
  private need = -1;
  private waiters: (() => void)[] = [];
  private readonly pending = new Map<number, (frame: Buffer) => void>();
  private nextCorrelationId = 1;

  private constructor(readonly socket: net.Socket, private readonly clientId: string) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => { this.closedAt = Date.now(); this.wake(); });
  }

  static open(port: number, opts: RawOpenOptions = {}): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: opts.host ?? '127.0.0.1', port, localAddress: opts.localAddress });
      if (opts.paused) socket.pause();
      if (opts.noDelay ?? true) socket.setNoDelay(true);
      const conn = new RawConnection(socket, opts.clientId ?? 'raw-test');
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        conn.localAddress = `${socket.localAddress}:${socket.localPort}`;
        resolve(conn);
      });
      socket.once('error', reject);
    });
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.length;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const head = this.chunks[0].length >= 4 ? this.chunks[0] : Buffer.concat(this.chunks);
        const size = head.readInt32BE(0);
        if (size < 0) break; // not a Kafka stream: keep the bytes (counted in `received`), split nothing more
        this.need = 4 + size;
      }
      if (this.buffered < this.need) break;
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
      const frame = all.subarray(4, this.need);
      const rest = all.subarray(this.need);
      // The rest (at most one socket read) is copied so it does not keep a large frame's memory alive.
      this.chunks = rest.length > 0 ? [Buffer.from(rest)] : [];
      this.buffered = rest.length;
      this.need = -1;
      this.deliver(frame);
    }
    this.wake();
  }

  private deliver(frame: Buffer): void {
    const correlationId = frame.length >= 4 ? frame.readInt32BE(0) : undefined;
    const waiter = correlationId === undefined ? undefined : this.pending.get(correlationId);
    if (waiter) {
      this.pending.delete(correlationId!);
      waiter(frame);
    } else {
      this.onFrame(frame);
    }
  }

  get closed(): boolean { return this.closedAt !== undefined; }

  /** Writes bytes as they are, unless the socket is gone (a peer that closed first is an expected outcome in these tests). */
  write(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  /**
   * Writes a request encoded with the project's codec (correlation ids 1, 2, ... per connection); `response` resolves
   * with its response frame (size prefix excluded) and never rejects: await it only where an answer must come.
   */
  send(apiKey: number, apiVersion: number, body: Decoded): { correlationId: number; response: Promise<Buffer> } {
    const correlationId = this.nextCorrelationId++;
    const response = new Promise<Buffer>((resolve) => this.pending.set(correlationId, resolve));
    this.write(kafkaRequest(apiKey, apiVersion, correlationId, body, this.clientId));
    return { correlationId, response };
  }

  /** Sends a request and decodes its response body. */
  async request(apiKey: number, apiVersion: number, body: Decoded): Promise<Decoded> {
    return decodeResponse(apiKey, apiVersion, await this.send(apiKey, apiVersion, body).response);
  }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  /** Waits until cond() holds (checked whenever bytes arrive or the socket closes) or the time is up; returns cond(). */
  async until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
    return true;
  }

  /** The next frame to arrive in `frames` after this call, or undefined if the peer closes (or nothing comes) first. */
  async tryNextFrame(timeoutMs = 10_000): Promise<Buffer | undefined> {
    const index = this.frames.length;
    await this.until(() => this.frames.length > index || this.closed, timeoutMs);
    return this.frames[index];
  }

  /** The next frame to arrive in `frames` after this call; throws if the peer closes or nothing comes in time. */
  async nextFrame(timeoutMs = 10_000): Promise<Buffer> {
    const index = this.frames.length;
    if (!await this.until(() => this.frames.length > index || this.closed, timeoutMs)) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for a response frame`);
    }
    if (this.frames.length > index) return this.frames[index];
    throw new Error('connection closed before a response frame arrived');
  }

  private taken = 0;

  /**
   * The oldest frame in `frames` not taken yet, waiting for one if none is there: unlike nextFrame(), frames that
   * arrived together (answers to pipelined requests) are each returned in turn.
   */
  async takeFrame(timeoutMs = 10_000): Promise<Buffer> {
    if (!await this.until(() => this.frames.length > this.taken || this.closed, timeoutMs)) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for a response frame`);
    }
    if (this.frames.length > this.taken) return this.frames[this.taken++];
    throw new Error('connection closed before a response frame arrived');
  }

  /** Waits for the peer to close; resolves with ms since the connection was opened. */
  async waitClosed(timeoutMs = 10_000): Promise<number> {
    if (!await this.until(() => this.closed, timeoutMs)) throw new Error(`timed out after ${timeoutMs} ms waiting for the connection to close`);
    return this.closedAt! - this.openedAt;
  }

  /** An ApiVersions v0 round trip: proves the connection is alive and relayed. Returns the error code. */
  async apiVersions(correlationId = 1, timeoutMs = 10_000): Promise<number> {
    this.write(requestFrame(18, 0, correlationId));
    const frame = await this.nextFrame(timeoutMs);
    if (frame.readInt32BE(0) !== correlationId) throw new Error(`ApiVersions answered with correlation id ${frame.readInt32BE(0)}`);
    return frame.readInt16BE(4);
  }

  end(): void { this.socket.end(); }
  destroy(): void { this.socket.destroy(); }
  close(): void { this.socket.destroy(); }
}

/** Metadata v12 for one topic, through `c`: the brokers (as `c`'s peer names them), the topic's id and partition 0's leader. */
export async function topicMetadata(c: RawConnection, topic: string): Promise<{ brokers: Array<{ nodeId: number; host: string; port: number }>; topicId: string; leader: number }> {
  const r = await c.request(3, 12, { Topics: [{ TopicId: 'AAAAAAAAAAAAAAAAAAAAAA', Name: topic }], AllowAutoTopicCreation: false, IncludeTopicAuthorizedOperations: false });
  const t = (r.Topics as Decoded[]).find((x) => x.Name === topic);
  if (!t || t.ErrorCode !== 0) throw new Error(`metadata for ${topic}: ${JSON.stringify(t?.ErrorCode)}`);
  const p0 = (t.Partitions as Decoded[]).find((p) => p.PartitionIndex === 0);
  return { brokers: (r.Brokers as Decoded[]).map((b) => ({ nodeId: b.NodeId, host: b.Host, port: b.Port })), topicId: t.TopicId, leader: p0?.LeaderId ?? -1 };
}

/** A Fetch v16 request body for partition 0 of a topic, from `offset`, responses up to `partitionMaxBytes`. */
export function fetchBody(topicId: string, offset: number, partitionMaxBytes: number): Decoded {
  return {
    ReplicaId: -1, MaxWaitMs: 500, MinBytes: 1, MaxBytes: partitionMaxBytes, IsolationLevel: 0, SessionId: 0, SessionEpoch: -1,
    Topics: [{ TopicId: topicId, Partitions: [{ Partition: 0, CurrentLeaderEpoch: -1, FetchOffset: BigInt(offset), LastFetchedEpoch: -1, LogStartOffset: -1n, PartitionMaxBytes: partitionMaxBytes }] }],
    ForgottenTopicsData: [], RackId: '',
  };
}

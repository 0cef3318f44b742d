/** Raw Kafka protocol over a socket for the fuzz tests: exact bytes out, size-prefixed frames back, close noted. */
import net from 'node:net';

export function sizePrefixed(...parts: Buffer[]): Buffer {
  const payload = Buffer.concat(parts);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, payload]);
}

/** A request header (v1; v2 adds an empty tagged section), size prefix not included. */
export function requestHeader(apiKey: number, apiVersion: number, correlationId: number, flexible: boolean, clientId: string | null = 'fuzz'): Buffer {
  const id = clientId === null ? null : Buffer.from(clientId);
  const h = Buffer.alloc(10 + (id?.length ?? 0) + (flexible ? 1 : 0));
  h.writeInt16BE(apiKey, 0);
  h.writeInt16BE(apiVersion, 2);
  h.writeInt32BE(correlationId, 4);
  h.writeInt16BE(id ? id.length : -1, 8);
  id?.copy(h, 10);
  return h;
}

export function requestFrame(apiKey: number, apiVersion: number, correlationId: number, flexible: boolean, body: Buffer): Buffer {
  return sizePrefixed(requestHeader(apiKey, apiVersion, correlationId, flexible), body);
}

export class RawConn {
  readonly frames: Buffer[] = [];
  received = 0;
  closedAt: number | undefined;
  localAddress = '';
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 4 && this.buffer.readInt32BE(0) >= 0 && this.buffer.length >= 4 + this.buffer.readInt32BE(0)) {
        const n = this.buffer.readInt32BE(0);
        this.frames.push(this.buffer.subarray(4, 4 + n));
        this.buffer = this.buffer.subarray(4 + n);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => { this.closedAt = Date.now(); this.wake(); });
  }

  /** `localAddress` (a loopback address of its own, e.g. 127.77.0.5) makes the connection easy to find in proxy logs. */
  static open(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, localAddress });
      socket.setNoDelay(true);
      const conn = new RawConn(socket);
      socket.once('connect', () => { conn.localAddress = `${socket.localAddress}:${socket.localPort}`; resolve(conn); });
      socket.once('error', reject);
    });
  }

  get closed(): boolean { return this.closedAt !== undefined; }

  /** Writes unless the socket is gone (a peer that closed first is an expected outcome here). */
  write(bytes: Buffer): void { if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes); }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  /** Waits until cond() or timeout; returns cond(). */
  async until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
    return true;
  }

  /** The next frame, or undefined if the peer closed (or nothing came) first. */
  async nextFrame(timeoutMs = 10_000): Promise<Buffer | undefined> {
    const index = this.frames.length;
    await this.until(() => this.frames.length > index || this.closed, timeoutMs);
    return this.frames[index];
  }

  end(): void { this.socket.end(); }
  destroy(): void { this.socket.destroy(); }
}

/**
 * In-memory socket pairs for driving a ProxyConnection without a network: what is written to one end comes out of
 * its peer, and each end keeps what it received, in order.
 */
import { Duplex } from 'node:stream';

/** One end of an in-memory socket pair. */
export class MemorySocket extends Duplex {
  peer!: MemorySocket;
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 40000;
  /** Everything this end received, in order. */
  received: Buffer[] = [];
  constructor() { super(); this.on('data', (c: Buffer) => this.received.push(c)); }
  _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void { this.peer.push(Buffer.from(chunk)); cb(); }
  _read(): void { /* pushed by the peer */ }
  _final(cb: () => void): void { this.peer.push(null); cb(); }
  setNoDelay(): this { return this; }
  setTimeout(): this { return this; }
  destroySoon(): void { this.end(); }
  get bytes(): Buffer { return Buffer.concat(this.received); }
}

/** Two connected ends. */
export function socketPair(): [MemorySocket, MemorySocket] {
  const a = new MemorySocket();
  const b = new MemorySocket();
  a.peer = b; b.peer = a;
  return [a, b];
}

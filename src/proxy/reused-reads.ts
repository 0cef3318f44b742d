/**
 * Socket reads into a reused buffer, for sockets that carry bulk data.
 *
 * Node allocates a fresh 64 KiB ArrayBuffer for every socket read. At 100+ MB/s that is thousands of
 * external allocations a second, and V8 answers that external-memory pressure with a full mark-compact every
 * 50-100 ms. Measured through the proxy (bench/RESULTS.md), V8's GC threads spent 0.5-1.5 ms of CPU per MB
 * moved, more than the proxy's own JavaScript. Reading into a buffer the socket keeps (Node's `onread`
 * option) removes those allocations and the collections they set off.
 *
 * The buffer is read into again only when nothing refers to its bytes once the chunk has been handled: the
 * caller's `reusable()` says so (every write completed synchronously, no frame or decoded request kept a slice
 * of it). Otherwise the next read gets a new buffer, and the old one belongs to whatever still holds it.
 *
 * A socket starts with ordinary 'data' events and switches once it has carried SWITCH_AFTER_BYTES, or made
 * SWITCH_AFTER_READS reads within a second (a producer's broker socket: thousands of small Produce responses,
 * each a fresh 64 KiB allocation on the 'data' path, carry too few bytes to reach the first mark; such a socket
 * gets a buffer of at most 64 KiB): idle and admin connections keep costing nothing, and the buffers of a process
 * take at most MAX_REUSED_BYTES (64 MiB), so memory stays bounded whatever the number of connections; sockets
 * beyond that keep their 'data' events.
 *
 * The caller picks the buffer size. Node's own is 64 KiB; the proxy reads brokers' sockets 256 KiB at a time
 * (RESPONSE_READ_BYTES): Fetch responses run to megabytes, and a read's fixed cost (the system call, the frame
 * reader, the write on) is then paid a quarter as often. Measured, that took the proxy's CPU per MB fetched
 * below the byte relay's; requests gained nothing, so client sockets keep 64 KiB.
 *
 * Node offers `onread` only to sockets it creates with that option, not to those a server accepts, so the
 * switch is made on an open socket through the fields that option sets. They are Node internals: each one is
 * looked up and checked, and where anything is missing (another Node version, a TLS socket) the socket keeps
 * its 'data' events. The kafka_proxy_reused_read_buffers gauge shows how many sockets use the fast path.
 */
import type { Socket } from 'node:net';
import tls from 'node:tls';

/** Node's own read size, and the default here: one read never returns more than its buffer. */
export const READ_BYTES = 64 * 1024;
/** Read size for broker sockets (responses). */
export const RESPONSE_READ_BYTES = 256 * 1024;
/** Bytes a socket carries before it gets its own buffer: far more than any idle or admin connection moves. */
export const SWITCH_AFTER_BYTES = 256 * 1024;
/** Reads within SWITCH_WINDOW_MS that make a socket switch, however few bytes they carried. */
export const SWITCH_AFTER_READS = 64;
const SWITCH_WINDOW_MS = 1000;
/** Bytes of reused buffers a process may hold at once. */
export const MAX_REUSED_BYTES = 64 * 1024 * 1024;

let held = 0;
let heldBytes = 0;

/** Sockets currently reading into a buffer of their own (for the metric). */
export function reusedReadBuffers(): number { return held; }

/** Bytes of those buffers (for the metric: broker and client sockets read different sizes). */
export function reusedReadBufferBytes(): number { return heldBytes; }

interface OnreadFields { buffer: symbol; callback: symbol; generator: symbol }
interface Handle { useUserBuffer?: (buf: Uint8Array) => void }

let fields: OnreadFields | null | undefined;

/** The private fields behind `onread` (net.Socket's constructor sets all three on every socket, null by default). */
function onreadFields(socket: Socket): OnreadFields | null {
  if (fields !== undefined) return fields;
  const own = Object.getOwnPropertySymbols(socket);
  const find = (name: string) => own.find((s) => s.description === name);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const generator = find('kBufferGen');
  fields = buffer && callback && generator ? { buffer, callback, generator } : null;
  return fields;
}

/** Whether the switch is possible for this socket: a plain TCP socket, on a Node whose internals are as expected. */
function switchable(socket: Socket): boolean {
  if (socket instanceof tls.TLSSocket) return false;
  const handle = (socket as unknown as { _handle?: Handle | null })._handle;
  if (!handle || typeof handle.useUserBuffer !== 'function') return false;
  const f = onreadFields(socket);
  const record = socket as unknown as Record<symbol, unknown>;
  return f !== null && record[f.buffer] === null && record[f.callback] === null && record[f.generator] === null;
}

/** Switches an open socket to reads into a reused buffer (see the module comment). */
function switchToReusedBuffer(socket: Socket, onChunk: (chunk: Buffer) => void, reusable: () => boolean, readBytes: number): void {
  const f = fields!;
  const record = socket as unknown as Record<symbol, unknown>;
  // Bytes Node read before the switch wait in the stream's own buffer: they go first, in order.
  for (let pending: Buffer | null; (pending = socket.read() as Buffer | null) !== null;) onChunk(pending);
  let buffer = Buffer.allocUnsafeSlow(readBytes);
  record[f.buffer] = buffer;
  record[f.generator] = () => buffer;
  record[f.callback] = (n: number, buf: Buffer) => {
    onChunk(buf.subarray(0, n));
    if (!reusable()) buffer = Buffer.allocUnsafeSlow(readBytes);
    return true; // backpressure pauses the socket itself (pause() stops reads on this path too)
  };
  (socket as unknown as { _handle: Required<Handle> })._handle.useUserBuffer(buffer);
  // Paused for backpressure: on the 'data' path the handle may still be reading into the stream's buffer, and
  // pause() stops the handle only on this path. Not paused: reading may have stopped when that buffer filled.
  if (socket.isPaused()) socket.pause(); else socket.resume();
}

/**
 * Delivers every read of `socket` to `onChunk`, in order: as 'data' events first, then (once the socket has
 * carried SWITCH_AFTER_BYTES and the budget allows) from a reused buffer of `readBytes`. `onChunk` must handle each
 * chunk synchronously; `reusable()`, asked right after, says whether nothing refers to its bytes any more.
 * Call `release()` when the socket is done.
 */
export function deliverReads(socket: Socket, onChunk: (chunk: Buffer) => void, reusable: () => boolean, readBytes = READ_BYTES): { release(): void } {
  if (!switchable(socket)) {
    socket.on('data', onChunk);
    return { release() {} };
  }
  let holding = false;
  let released = false;
  let seen = 0;
  let reads = 0;
  let windowStart = 0;
  let pending = false;
  let size = readBytes;
  const full = () => heldBytes + size > MAX_REUSED_BYTES;
  const onData = (chunk: Buffer) => {
    onChunk(chunk);
    seen += chunk.length;
    if (pending) return;
    if (seen < SWITCH_AFTER_BYTES) {
      if (reads++ === 0) windowStart = performance.now();
      if (reads < SWITCH_AFTER_READS) return;
      const busy = performance.now() - windowStart <= SWITCH_WINDOW_MS;
      reads = 0;
      if (!busy) return;
      size = Math.min(readBytes, READ_BYTES); // many small reads: a 256 KiB buffer would sit mostly empty
    }
    if (full()) return;
    // Switch outside Node's read callback, which is still running here.
    pending = true;
    setImmediate(() => {
      pending = false;
      if (released || socket.destroyed || full() || !switchable(socket)) { seen = 0; size = readBytes; return; }
      socket.removeListener('data', onData);
      held++;
      heldBytes += size;
      holding = true;
      switchToReusedBuffer(socket, onChunk, reusable, size);
    });
  };
  socket.on('data', onData);
  return {
    release() {
      released = true;
      if (holding) { holding = false; held--; heldBytes -= size; }
    },
  };
}

/**
 * Runs fuzz loops in worker threads under a watchdog: a worker that stops beating for `stallMs` (a decoder
 * that hangs) is terminated, and one that runs out of its heap limit (a decoder that allocates a giant array
 * for a huge count) dies alone; either way the test fails naming the input that did it, instead of the test
 * process freezing or being killed.
 *
 * Shared memory layout: Int32 [beats, labelLength, inputLength, inputTotal], then LABEL_BYTES of label, then
 * INPUT_BYTES of the current input (truncated if longer; inputTotal keeps the real length).
 */
import { Worker } from 'node:worker_threads';

const HEADER = 16;
const LABEL_BYTES = 256;
const INPUT_BYTES = 64 * 1024;
export const SHARED_BYTES = HEADER + LABEL_BYTES + INPUT_BYTES;

export class Beacon {
  private readonly ints: Int32Array;
  private readonly label: Uint8Array;
  private readonly input: Uint8Array;
  constructor(shared: SharedArrayBuffer) {
    this.ints = new Int32Array(shared, 0, 4);
    this.label = new Uint8Array(shared, HEADER, LABEL_BYTES);
    this.input = new Uint8Array(shared, HEADER + LABEL_BYTES, INPUT_BYTES);
  }
  setLabel(s: string): void {
    const b = Buffer.from(s, 'utf8').subarray(0, LABEL_BYTES);
    this.label.set(b);
    Atomics.store(this.ints, 1, b.length);
  }
  /** Records the input about to be tried and counts a beat. */
  beat(bytes: Uint8Array): void {
    const n = Math.min(bytes.length, INPUT_BYTES);
    this.input.set(n === bytes.length ? bytes : bytes.subarray(0, n));
    Atomics.store(this.ints, 2, n);
    Atomics.store(this.ints, 3, bytes.length);
    Atomics.add(this.ints, 0, 1);
  }
  beats(): number { return Atomics.load(this.ints, 0); }
  /** What the worker was doing at its last beat. */
  describe(): string {
    const label = Buffer.from(this.label.subarray(0, Atomics.load(this.ints, 1))).toString('utf8');
    const n = Atomics.load(this.ints, 2);
    const total = Atomics.load(this.ints, 3);
    const hex = Buffer.from(this.input.subarray(0, Math.min(n, 4096))).toString('hex');
    return `${label}, input of ${total} bytes${total > 4096 ? ' (first 4096 shown)' : ''}: ${hex}`;
  }
}

export interface WatchdogOptions {
  /** Fail when no beat for this long. */
  stallMs: number;
  /** Heap limit of the worker (old generation), MB. */
  maxHeapMb: number;
}

// Workers start without the tsx loader the test process runs under: register it in the worker first.
const TSX_API = import.meta.resolve('tsx/esm/api');

/** Starts `file` (a .ts module) in a worker with workerData + `shared`, resolves with its first message. */
export function runWatched<T>(file: URL, data: Record<string, unknown>, opts: WatchdogOptions): Promise<T> {
  const shared = new SharedArrayBuffer(SHARED_BYTES);
  const beacon = new Beacon(shared);
  const boot = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(file.href)}); })`;
  const worker = new Worker(boot, {
    eval: true, workerData: { ...data, shared }, resourceLimits: { maxOldGenerationSizeMb: opts.maxHeapMb }, stdout: false, stderr: false,
  });
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let lastBeats = -1;
    let lastChange = Date.now();
    const finish = (err: Error | undefined, value?: T) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      void worker.terminate();
      if (err) reject(err); else resolve(value as T);
    };
    const timer = setInterval(() => {
      const b = beacon.beats();
      if (b !== lastBeats) { lastBeats = b; lastChange = Date.now(); return; }
      if (Date.now() - lastChange > opts.stallMs) {
        finish(new Error(`fuzz worker made no progress for ${opts.stallMs} ms (a decoder hangs?) at ${beacon.describe()}`));
      }
    }, 250);
    worker.on('message', (m: T) => finish(undefined, m));
    worker.on('error', (err: Error & { code?: string }) => {
      const what = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `ran out of its ${opts.maxHeapMb} MB heap (a decoder allocates without bound?)` : `failed: ${err.stack ?? err.message}`;
      finish(new Error(`fuzz worker ${what} at ${beacon.describe()}`));
    });
    worker.on('exit', (code) => finish(new Error(`fuzz worker exited with code ${code} before reporting, at ${beacon.describe()}`)));
  });
}

/** A test timeout that grows with FUZZ_FRAMES: 5 minutes, or 1 ms per frame on a slow, busy machine. */
export function timeoutFor(frames: number): number { return Math.max(300_000, frames); }

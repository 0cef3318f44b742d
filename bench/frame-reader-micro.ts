/**
 * CPU time of the frame reader alone (plus forwarding what it hands on unchanged), per MB, for the three shapes
 * of traffic the proxy can see: large buffered frames (how Fetch v16+ responses were handled before they streamed
 * with a leader-hint walk), large streamed requests (Produce), and small buffered frames. No sockets, no broker.
 *
 *   node --expose-gc --import tsx bench/frame-reader-micro.ts [path/to/other/frame-reader.ts]
 *
 * With a second frame-reader file (e.g. an older version: git show <commit>:src/proxy/frame-reader.ts > bench/out/fr-old.ts)
 * both are measured, each in its own process (sharing one process would make the JIT's inline caches polymorphic and
 * penalize whichever runs second), 5 processes each, alternating; the median is reported. A reader whose onFrame
 * takes only the frame (older versions) has the size prefix put back in front of the frame before forwarding, as
 * connection.ts did then.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Reader = { push(chunk: Buffer): void };
type Ctor = new (handler: unknown, maxFrameBytes: number, peekBytes: number) => Reader;

const CURRENT = fileURLToPath(new URL('../src/proxy/frame-reader.ts', import.meta.url));
const only = process.env.FRAME_READER_ONLY;
if (!only) {
  // Parent: one child process per measurement, alternating between the readers.
  const files: Array<[string, string]> = [['current', CURRENT], ...(process.argv[2] ? [['other', resolve(process.argv[2])] as [string, string]] : [])];
  const results = new Map<string, Record<string, number[]>>();
  for (let round = 0; round < 5; round++) {
    for (const [name, file] of round % 2 ? [...files].reverse() : files) {
      const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url)], { env: { ...process.env, FRAME_READER_ONLY: file }, encoding: 'utf8' });
      const r = results.get(name) ?? {};
      for (const [label, v] of Object.entries(JSON.parse(out) as Record<string, number>)) (r[label] ??= []).push(v);
      results.set(name, r);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  for (const label of Object.keys(results.get('current')!)) {
    process.stdout.write(`${label.padEnd(36)} ${[...results].map(([n, r]) => `${n} ${med(r[label]).toFixed(3)} ms/MB`).join('   ')}\n`);
  }
  process.exit(0);
}
const readers: Array<[string, Ctor]> = [['this', (await import(pathToFileURL(only).href) as { FrameReader: Ctor }).FrameReader]];

function withPrefix(frame: Buffer): Buffer {
  const out = Buffer.allocUnsafe(frame.length + 4);
  out.writeInt32BE(frame.length, 0);
  frame.copy(out, 4);
  return out;
}

/** `count` frames of `size` bytes, cut into chunks of 64 KiB as a socket delivers them. */
function traffic(size: number, count: number): Buffer[] {
  const one = Buffer.alloc(4 + size, 7);
  one.writeInt32BE(size, 0);
  const all = Buffer.concat(Array.from({ length: count }, () => one));
  const chunks: Buffer[] = [];
  for (let o = 0; o < all.length; o += 65536) chunks.push(Buffer.from(all.subarray(o, o + 65536)));
  return chunks;
}

let sink = 0;
const forward = (b: Buffer) => { sink += b[0] + b.length; };

function run(Ctor: Ctor, mode: 'buffer' | 'stream', chunks: Buffer[], peek: number): number {
  const reader = new Ctor({
    classify: () => mode,
    onFrame: (frame: Buffer, whole?: Buffer) => forward(whole ?? withPrefix(frame)),
    onPassthrough: (bytes: Buffer) => forward(bytes),
  }, 2 ** 30, peek);
  const t = process.cpuUsage();
  for (const c of chunks) reader.push(c);
  const u = process.cpuUsage(t);
  return (u.user + u.system) / 1000;
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const cases = [
  ['large buffered (3 MiB responses)', 3 << 20, 100, 'buffer', 64],
  ['large streamed (200 KiB requests)', 200 << 10, 1500, 'stream', 1024],
  ['small buffered (1 KiB frames)', 1024, 200_000, 'buffer', 64],
] as const;
const out: Record<string, number> = {};
for (const [label, size, count, mode, peek] of cases) {
  const chunks = traffic(size, count);
  const mb = (size * count) / 2 ** 20;
  const xs: number[] = [];
  for (let i = 0; i < 7; i++) { gc(); xs.push(run(readers[0][1], mode, chunks, peek) / mb); }
  out[label] = xs.slice(2).sort((a, b) => a - b)[2]; // median of the last 5 (the first 2 warm the JIT)
}
process.stdout.write(JSON.stringify(out) + (sink === 0 ? ' ' : ''));

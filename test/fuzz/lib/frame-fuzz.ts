/**
 * The frame reader fuzz loop: random byte streams (valid size-prefixed frames, garbage, negative and oversized
 * size prefixes) cut into random chunks and pushed through a FrameReader whose classify answers "buffer" or
 * "stream" at random. Checked against a reference parse of the whole stream:
 *  - classify sees every frame once, with its size and exactly its first min(size, peekBytes) bytes;
 *  - the concatenation of passthrough bytes and size-prefixed buffered frames is exactly the input stream up
 *    to the first bad size prefix (or up to where the stream ends, minus an unfinished buffered frame);
 *  - passthrough's frameDone is true exactly at frame ends;
 *  - a negative size throws FrameError 'negative_size', one above maxFrameBytes FrameError 'oversized', in the
 *    push that completes the prefix; nothing else is ever thrown;
 *  - midFrame tells whether the stream stopped inside a frame.
 */
import { FrameError, FrameReader, type FrameMode } from '../../../src/proxy/frame-reader.js';
import type { Prng } from './prng.js';

export interface FrameStats {
  streams: number;
  frames: number;
  buffered: number;
  streamed: number;
  negative: number;
  oversized: number;
  chunks: number;
  bytes: number;
  failures: { seedCase: number; problem: string; detail: string }[];
  failureCount: number;
}

export function newFrameStats(): FrameStats {
  return { streams: 0, frames: 0, buffered: 0, streamed: 0, negative: 0, oversized: 0, chunks: 0, bytes: 0, failures: [], failureCount: 0 };
}

interface Plan { stream: Buffer; maxFrameBytes: number; peekBytes: number }
interface RefFrame { start: number; size: number }
interface Ref { frames: RefFrame[]; error?: { at: number; reason: 'negative_size' | 'oversized' }; /** start of a trailing partial size prefix */ partialPrefixAt?: number }

function prefix(size: number): Buffer { const b = Buffer.alloc(4); b.writeInt32BE(size, 0); return b; }

/** A random stream plan. */
export function planStream(rng: Prng): Plan {
  const maxFrameBytes = rng.weighted<number>([[1, 0], [1, 7], [2, 100], [3, 1024], [4, 6000], [3, 100 * 1024 * 1024], [1, 0x7fffffff]]);
  const peekBytes = rng.weighted<number>([[1, 0], [1, 1], [1, 4], [2, 8], [3, 64], [4, 1024], [1, 5000]]);
  const garbage = rng.chance(0.3);
  const parts: Buffer[] = [];
  const n = rng.weighted<number>([[1, 1], [6, rng.range(2, 12)], [3, rng.range(13, 40)]]);
  for (let i = 0; i < n; i++) {
    const kind = garbage
      ? rng.weighted<string>([[12, 'frame'], [2, 'garbage'], [1, 'negative'], [1, 'oversized']])
      : 'frame';
    if (kind === 'frame') {
      const cap = Math.min(maxFrameBytes, 8000);
      let size = rng.weighted<number>([
        [2, 0], [4, rng.range(1, 12)], [4, rng.range(0, Math.min(peekBytes + 2, cap))], [3, rng.range(0, Math.min(300, cap))],
        [1, rng.range(0, cap)], [1, peekBytes], [1, maxFrameBytes],
      ]);
      size = Math.max(0, Math.min(size, cap));
      parts.push(prefix(size), rng.bytes(size));
    } else if (kind === 'garbage') {
      parts.push(rng.bytes(rng.range(1, 16)));
    } else if (kind === 'negative') {
      parts.push(prefix(rng.pick([-1, -2, -0x80000000, -(rng.range(1, 0x7fffffff))])));
    } else if (maxFrameBytes < 0x7fffffff) {
      parts.push(prefix(rng.pick([maxFrameBytes + 1, 0x7fffffff, rng.range(maxFrameBytes + 1, 0x7fffffff)])), rng.bytes(rng.int(8)));
    }
  }
  // Sometimes stop in the middle of the last frame or prefix.
  let stream = Buffer.concat(parts);
  if (rng.chance(0.25) && stream.length > 0) stream = stream.subarray(0, rng.int(stream.length));
  return { stream, maxFrameBytes, peekBytes };
}

/** Reference parse of the whole stream. */
export function referenceParse(stream: Buffer, maxFrameBytes: number): Ref {
  const frames: RefFrame[] = [];
  let pos = 0;
  while (pos + 4 <= stream.length) {
    const size = stream.readInt32BE(pos);
    if (size < 0) return { frames, error: { at: pos, reason: 'negative_size' } };
    if (size > maxFrameBytes) return { frames, error: { at: pos, reason: 'oversized' } };
    frames.push({ start: pos, size });
    pos += 4 + size;
  }
  return { frames, partialPrefixAt: pos < stream.length ? pos : undefined };
}

/** Random chunk boundaries. */
export function chunkStream(rng: Prng, stream: Buffer): Buffer[] {
  let style = rng.weighted<string>([[1, 'bytes'], [3, 'small'], [4, 'medium'], [3, 'large'], [1, 'whole']]);
  if (style === 'bytes' && stream.length > 2000) style = 'small'; // byte-sized chunks of long streams cost time, add little
  const chunks: Buffer[] = [];
  let pos = 0;
  while (pos < stream.length) {
    const n = style === 'bytes' ? rng.range(1, 3)
      : style === 'small' ? rng.range(1, 16)
      : style === 'medium' ? rng.range(1, 700)
      : style === 'large' ? rng.range(1, 9000)
      : stream.length;
    chunks.push(stream.subarray(pos, pos + n));
    pos += n;
  }
  return chunks;
}

/** Runs one plan through a FrameReader; returns a problem description, or undefined if all checks hold. */
export function runStream(rng: Prng, plan: Plan, stats: FrameStats, chunks = chunkStream(rng, plan.stream)): string | undefined {
  const { stream, maxFrameBytes, peekBytes } = plan;
  const ref = referenceParse(stream, maxFrameBytes);
  const out: Buffer[] = [];
  let outLen = 0;
  let k = 0; // index of the frame being read
  let mode: FrameMode | undefined;
  let problem: string | undefined;
  const bad = (p: string) => { problem ??= p; };
  const reader = new FrameReader({
    classify(size, head) {
      const f = ref.frames[k];
      if (!f) { bad(`classify called for frame #${k}, which the reference does not have`); return 'buffer'; }
      if (mode !== undefined) bad(`classify called twice for frame #${k}`);
      if (size !== f.size) bad(`classify got size ${size}, frame #${k} has ${f.size}`);
      const want = stream.subarray(f.start + 4, f.start + 4 + Math.min(f.size, peekBytes));
      if (!head.equals(want)) bad(`classify head of frame #${k}: ${head.length} bytes, want ${want.length} bytes starting at ${f.start + 4}`);
      if (outLen !== f.start) bad(`classify of frame #${k} at output offset ${outLen}, frame starts at ${f.start}`);
      mode = rng.chance(0.5) ? 'buffer' : 'stream';
      return mode;
    },
    onFrame(frame) {
      const f = ref.frames[k];
      if (!f || mode !== 'buffer') { bad(`onFrame for frame #${k} (mode ${mode})`); return; }
      if (frame.length !== f.size) bad(`onFrame length ${frame.length}, frame #${k} has ${f.size}`);
      const p = prefix(frame.length);
      out.push(p, Buffer.from(frame));
      outLen += 4 + frame.length;
      stats.buffered++;
      k++; mode = undefined;
    },
    onPassthrough(bytes, frameDone) {
      const f = ref.frames[k];
      if (!f || mode !== 'stream') { bad(`onPassthrough for frame #${k} (mode ${mode})`); return; }
      out.push(Buffer.from(bytes));
      outLen += bytes.length;
      const end = f.start + 4 + f.size;
      if (outLen > end) bad(`passthrough of frame #${k} ran ${outLen - end} bytes into the next frame`);
      if (frameDone !== (outLen === end)) bad(`frameDone=${frameDone} at output offset ${outLen}, frame #${k} ends at ${end}`);
      if (frameDone) { stats.streamed++; k++; mode = undefined; }
    },
  }, maxFrameBytes, peekBytes, 'fuzz frame');

  let thrown: unknown;
  let fed = 0;
  let thrownChunkStart = -1;
  for (const c of chunks) {
    stats.chunks++;
    try {
      reader.push(c);
    } catch (e) {
      thrown = e;
      thrownChunkStart = fed;
      fed += c.length;
      break;
    }
    fed += c.length;
  }
  stats.streams++;
  stats.bytes += fed;
  stats.frames += k;

  const got = Buffer.concat(out);
  if (!got.equals(stream.subarray(0, got.length))) {
    let i = 0;
    while (i < got.length && got[i] === stream[i]) i++;
    bad(`output differs from the input stream at byte ${i}`);
  }
  if (ref.error) {
    const { at, reason } = ref.error;
    if (!(thrown instanceof FrameError)) {
      bad(thrown === undefined ? `no FrameError for the ${reason} prefix at ${at}` : `threw ${(thrown as Error)?.name}: ${(thrown as Error)?.message}, expected FrameError ${reason}`);
    } else {
      if (thrown.reason !== reason) bad(`FrameError reason ${thrown.reason}, expected ${reason}`);
      if (reason === 'negative_size') stats.negative++; else stats.oversized++;
      stats.frames++; // the bad prefix counts as a frame
      // Thrown by the push that delivered the prefix's last byte.
      if (!(thrownChunkStart <= at + 3 && at + 3 < fed)) bad(`FrameError thrown by the push of bytes ${thrownChunkStart}..${fed}, the prefix ends at ${at + 4}`);
    }
    if (got.length !== at) bad(`emitted ${got.length} bytes before the bad prefix at ${at}`);
  } else {
    if (thrown !== undefined) bad(`threw ${(thrown as Error)?.name}: ${(thrown as Error)?.message} on a stream without bad sizes`);
    const last = ref.frames[ref.frames.length - 1];
    const complete = ref.frames.filter((f) => f.start + 4 + f.size <= stream.length);
    const completeEnd = complete.length ? complete[complete.length - 1].start + 4 + complete[complete.length - 1].size : 0;
    let want = completeEnd;
    if (last && last.start + 4 + last.size > stream.length) {
      // Unfinished last frame: streamed bytes went through once its head was there; buffered ones wait.
      const headThere = stream.length - last.start - 4 >= Math.min(last.size, peekBytes);
      if (headThere && mode === 'stream') want = stream.length;
      if (headThere && mode === undefined) bad('unfinished frame with its head available was not classified');
    }
    if (got.length !== want) bad(`emitted ${got.length} bytes, expected ${want} (stream ${stream.length})`);
    if (k !== complete.length) bad(`completed ${k} frames, expected ${complete.length}`);
    if (reader.midFrame !== (stream.length > completeEnd)) bad(`midFrame=${reader.midFrame}, stream ends ${stream.length - completeEnd} bytes into a frame`);
  }
  return problem;
}

/** Runs `frames` frames' worth of random streams. */
export function fuzzFrames(rng: Prng, frames: number, stats: FrameStats, beacon: (stream: Buffer) => void): void {
  const end = stats.frames + frames;
  let caseNo = 0;
  while (stats.frames < end) {
    const caseRng = rng.fork(caseNo);
    const plan = planStream(caseRng);
    beacon(plan.stream);
    const chunks = chunkStream(caseRng, plan.stream);
    let problem: string | undefined;
    try {
      problem = runStream(caseRng, plan, stats, chunks);
    } catch (e) {
      problem = `the check itself threw ${(e as Error)?.stack ?? String(e)}`;
    }
    if (problem) {
      stats.failureCount++;
      if (stats.failures.length < 20) {
        stats.failures.push({
          seedCase: caseNo, problem,
          detail: `maxFrameBytes=${plan.maxFrameBytes} peekBytes=${plan.peekBytes} chunks(${chunks.length})=[${chunks.slice(0, 30).map((c) => c.length).join(',')}${chunks.length > 30 ? ',…' : ''}] stream=${plan.stream.subarray(0, 200).toString('hex')}${plan.stream.length > 200 ? '…' : ''} (${plan.stream.length} bytes)`,
        });
      }
    }
    caseNo++;
  }
}

/**
 * Seeded PRNG and the fuzz run settings shared by the test/fuzz files.
 *
 *   FUZZ_SEED    seed of the run (decimal or 0x hex, 32 bits); default: a fresh random seed, printed
 *   FUZZ_FRAMES  total frames of the decoder + frame-reader fuzz files (default 1,000,000), split between them
 *
 * Every case is derived from the seed alone (never from timing), so a failure reproduces with the same
 * FUZZ_SEED and FUZZ_FRAMES.
 */
import { randomBytes } from 'node:crypto';

/** sfc32: small, fast, good enough statistical quality for fuzzing; state from the seed via splitmix32. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next(); this.b = next(); this.c = next(); this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** An integer in [0, n). */
  int(n: number): number { return n <= 0 ? 0 : Math.floor((this.u32() / 0x1_0000_0000) * n); }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
  /** True with probability p. */
  chance(p: number): boolean { return this.u32() / 0x1_0000_0000 < p; }
  pick<T>(items: readonly T[]): T { return items[this.int(items.length)]; }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  /** A weighted choice: [[weight, value], ...]. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of items) total += w;
    let r = this.u32() / 0x1_0000_0000 * total;
    for (const [w, v] of items) { if ((r -= w) < 0) return v; }
    return items[items.length - 1][1];
  }
  /** A child generator, deterministic in this one's seed and `label`. */
  fork(label: string | number): Prng { return new Prng(mix(this.u32(), label)); }
}

/** Hashes a seed and a label into a new 32-bit seed (FNV-1a over the label, then mixed). */
export function mix(seed: number, label: string | number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (const ch of String(label)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  return (h ^ (h >>> 12)) >>> 0;
}

function parseSeed(s: string): number {
  const n = s.startsWith('0x') ? parseInt(s.slice(2), 16) : Number(s);
  if (!Number.isFinite(n)) throw new Error(`FUZZ_SEED must be a number, got "${s}"`);
  return n >>> 0;
}

let chosen: number | undefined;

/** The run's seed: FUZZ_SEED if set, else random (the same for every call in this process). */
export function fuzzSeed(): number {
  if (chosen === undefined) chosen = process.env.FUZZ_SEED ? parseSeed(process.env.FUZZ_SEED) : randomBytes(4).readUInt32BE(0);
  return chosen;
}

export const DEFAULT_TOTAL_FRAMES = 1_000_000;
/** Share of FUZZ_FRAMES run by decoders.fuzz.test.ts; the frame reader fuzz runs the rest. */
export const DECODER_SHARE = 0.6;

/** Total frames the two fuzz files generate together (FUZZ_FRAMES). */
export function totalFrames(): number {
  const v = process.env.FUZZ_FRAMES;
  if (!v) return DEFAULT_TOTAL_FRAMES;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) throw new Error(`FUZZ_FRAMES must be a non-negative integer, got "${v}"`);
  return n;
}

export function describeSeed(seed: number): string {
  return `FUZZ_SEED=0x${seed.toString(16).padStart(8, '0')} FUZZ_FRAMES=${totalFrames()}`;
}

/**
 * Walks a message layout (skip.ts) over bytes that arrive in chunks, without buffering them: length-prefixed
 * runs such as record batches are skipped by count, and only the few bytes of a length or count that
 * straddle two chunks are copied. The walk tells its caller where the layout ends inside a chunk, so a
 * streamed response can be forwarded as it arrives up to its top-level tagged section.
 */
import { DecodeError } from './codec.js';
import type { Step } from './skip.js';

/** What the walk needs next: a signed big-endian int of 1, 2 or 4 bytes, an unsigned varint, or n bytes skipped. */
const INT1 = 1, INT2 = 2, INT4 = 4, UVARINT = 0, SKIP = -1;
type Need = number;

/** The walk as a generator: yields what it needs next, receives the value read (0 for a skip). */
type Walk = Generator<Need, void, number>;

/**
 * Shared between the walk and its driver: `n`, set before a SKIP yield, is how many bytes to skip (kept out
 * of the yielded value to avoid an object per step); `left` is how many bytes of the frame remain.
 */
interface Box { n: number; left: number }

function* length(flex: boolean, wide: boolean): Generator<Need, number, number> {
  if (flex) return (yield UVARINT) - 1;
  return yield wide ? INT4 : INT2;
}

/** Every element or tag takes at least one byte, so a count beyond the bytes left is corrupt, not a long loop. */
function checkCount(n: number, box: Box): number {
  if (n > box.left) throw new DecodeError(`a count of ${n} with ${box.left} bytes left in the frame`);
  return n;
}

function* walkSteps(steps: Step[], box: Box): Walk {
  for (const s of steps) {
    switch (s.k) {
      case 'fixed': box.n = s.n; yield SKIP; break;
      case 'sized': {
        const n = yield* length(s.flex, s.wide);
        if (n > 0) { box.n = n; yield SKIP; }
        break;
      }
      case 'array': {
        const n = yield* length(s.flex, true);
        if (n <= 0) break;
        if (s.fixed) { box.n = n * s.fixed; yield SKIP; break; }
        checkCount(n, box);
        for (let i = 0; i < n; i++) yield* walkSteps(s.elem, box);
        break;
      }
      case 'struct':
        if (s.nullable && (yield INT1) === -1) break;
        yield* walkSteps(s.body, box);
        break;
      case 'tags': {
        const count = checkCount(yield UVARINT, box);
        for (let i = 0; i < count; i++) {
          yield UVARINT;
          box.n = yield UVARINT;
          if (box.n > 0) yield SKIP;
        }
        break;
      }
    }
  }
}

/**
 * One walk over one frame's bytes. `feed` each chunk in order; it returns how many bytes of that chunk
 * belong to the layout. Once the layout has ended (`finished`), the rest of the frame follows it.
 */
export class StreamWalk {
  private readonly box: Box = { n: 0, left: 0 };
  private readonly walk: Walk;
  private need: Need = SKIP;
  /** Bytes still to skip for the current SKIP. */
  private skipLeft = 0;
  /** A value being assembled across chunks (int or varint), and how many of its bytes have been seen. */
  private acc = 0;
  private accBytes = 0;
  finished = false;

  /** `frameBytes`: how many bytes the walk may consume in all (the rest of the frame). */
  constructor(steps: Step[], frameBytes: number) {
    this.box.left = frameBytes;
    this.walk = walkSteps(steps, this.box);
    this.advance(0);
  }

  /** Resumes the walk with the value just read and takes its next need. */
  private advance(value: number): void {
    const r = this.walk.next(value);
    if (r.done) { this.finished = true; return; }
    this.need = r.value;
    if (this.need === SKIP) {
      const n = this.box.n;
      if (n > this.box.left) throw new DecodeError(`a length of ${n} runs past the end of the frame (${this.box.left} bytes left)`);
      this.skipLeft = n;
    }
    this.acc = 0;
    this.accBytes = 0;
  }

  /** Feeds the next chunk; returns how many of its bytes the layout covered (all of them until it ends). */
  feed(chunk: Buffer): number {
    let p = 0;
    const end = chunk.length;
    while (!this.finished && p < end) {
      if (this.need === SKIP) {
        const k = Math.min(this.skipLeft, end - p);
        p += k; this.skipLeft -= k; this.box.left -= k;
        if (this.skipLeft === 0) this.advance(0);
        continue;
      }
      const b = chunk[p++];
      this.box.left--;
      if (this.need === UVARINT) {
        this.acc += (b & 0x7f) * 2 ** (7 * this.accBytes);
        if (++this.accBytes > 5) throw new DecodeError('unsigned varint longer than 5 bytes');
        if ((b & 0x80) === 0) this.advance(this.acc);
        continue;
      }
      this.acc = (this.acc << 8) | b;
      if (++this.accBytes === this.need) {
        this.advance(this.need === INT1 ? (this.acc << 24) >> 24 : this.need === INT2 ? (this.acc << 16) >> 16 : this.acc | 0);
      }
    }
    return p;
  }
}

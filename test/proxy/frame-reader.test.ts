/**
 * FrameReader.retainsInput: whether bytes of the chunk given to the last push() may still be referenced, which
 * decides whether a reused socket buffer may be read into again (src/proxy/reused-reads.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader } from '../../src/proxy/frame-reader.js';

/** A frame of `size` body bytes whose first byte says how the test handler classifies it (1 = buffer). */
function frame(buffered: boolean, size = 32): Buffer {
  const f = Buffer.alloc(4 + size, 7);
  f.writeInt32BE(size, 0);
  f[4] = buffered ? 1 : 0;
  return f;
}

/** A copy of `b` in memory of its own (small Buffers share Node's 8 KiB pool, so their .buffer says nothing). */
function own(b: Buffer): Buffer {
  const c = Buffer.allocUnsafeSlow(b.length);
  b.copy(c);
  return c;
}

function reader() {
  const got = { frames: [] as Buffer[], streamed: 0 };
  const r = new FrameReader({
    classify: (_size, head) => (head[0] === 1 ? 'buffer' : 'stream'),
    onFrame: (f) => { got.frames.push(f); },
    onPassthrough: (b) => { got.streamed += b.length; },
  }, 1 << 20, 16);
  return { r, got };
}

describe('FrameReader.retainsInput', () => {
  test('a chunk that only streams through is not retained', () => {
    const { r, got } = reader();
    r.push(Buffer.concat([frame(false), frame(false, 100)]));
    assert.equal(got.streamed, 36 + 104);
    assert.equal(r.retainsInput, false);
  });

  test('a buffered frame handed on as a slice of the chunk retains it, until the next push', () => {
    const { r, got } = reader();
    const chunk = own(Buffer.concat([frame(false), frame(true)]));
    r.push(chunk);
    assert.equal(got.frames.length, 1);
    assert.equal(got.frames[0].buffer, chunk.buffer, 'the frame is a slice of the chunk');
    assert.equal(r.retainsInput, true);
    r.push(frame(false));
    assert.equal(r.retainsInput, false);
  });

  test('a frame head kept for the next chunk retains the chunk', () => {
    const { r } = reader();
    const next = frame(true);
    r.push(Buffer.concat([frame(false), next.subarray(0, 3)]));
    assert.equal(r.retainsInput, true);
  });

  test('a buffered frame completed from two chunks is a copy: the second chunk is not retained', () => {
    const { r, got } = reader();
    const f = frame(true, 200);
    r.push(f.subarray(0, 50));
    assert.equal(r.retainsInput, true);
    const second = own(f.subarray(50));
    r.push(second);
    assert.equal(got.frames.length, 1);
    assert.notEqual(got.frames[0].buffer, second.buffer);
    assert.ok(got.frames[0].equals(f.subarray(4)));
    assert.equal(r.retainsInput, false);
  });
});

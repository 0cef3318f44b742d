import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditChain, canonicalJson, eventHash, verifyChain } from '../../src/audit/chain.js';
import { buildLifecycleEvent, type AuditEvent } from '../../src/audit/event.js';

const ctx = { clusterId: 'lkc-test' };

function makeEvents(chain: AuditChain, n: number, stream = 'audit'): AuditEvent[] {
  return Array.from({ length: n }, (_, i) => chain.seal(buildLifecycleEvent('config-reloaded', ctx, { i }), stream));
}

/** What a consumer reads back: JSON round trip. */
const roundTrip = (events: AuditEvent[]): AuditEvent[] => events.map((e) => JSON.parse(JSON.stringify(e)) as AuditEvent);

test('canonical JSON sorts keys recursively and drops undefined', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined }, e: null }), '{"a":{"d":[3,{"y":2,"z":1}]},"b":1,"e":null}');
  assert.equal(canonicalJson('x"y'), '"x\\"y"');
});

test('seal sets the extension attributes and links the chain', () => {
  const chain = AuditChain.inMemory('inst-1');
  const [a, b] = makeEvents(chain, 2);
  assert.equal(a.auditinstance, 'inst-1');
  assert.equal(a.auditstream, 'audit');
  assert.equal(a.auditseq, 1);
  assert.equal(a.auditprevhash, '');
  assert.match(a.audithash!, /^[0-9a-f]{64}$/);
  assert.equal(a.audithash, eventHash(a));
  assert.equal(b.auditseq, 2);
  assert.equal(b.auditprevhash, a.audithash);
  // CloudEvents extension names: lower-case alphanumeric, <= 20 chars.
  for (const k of Object.keys(a)) assert.match(k, /^[a-z0-9]{1,20}$/);
});

test('an intact chain verifies, after a JSON round trip too', () => {
  const chain = AuditChain.inMemory();
  const evs = roundTrip(makeEvents(chain, 20));
  const r = verifyChain(evs, { complete: true });
  assert.equal(r.ok, true, JSON.stringify(r.problems));
  assert.deepEqual(r.problems, []);
  assert.equal(r.instances.length, 1);
  assert.equal(r.instances[0].firstSeq, 1);
  assert.equal(r.instances[0].lastSeq, 20);
  assert.equal(r.instances[0].lastHash, evs[19].audithash);
});

test('detects a removed event in the middle as a gap', () => {
  const evs = roundTrip(makeEvents(AuditChain.inMemory('i'), 10));
  evs.splice(4, 1); // remove seq 5
  const r = verifyChain(evs);
  assert.equal(r.ok, false);
  assert.deepEqual(r.problems.map((p) => [p.kind, p.seq]), [['gap', 5]]);
  assert.match(r.problems[0].detail, /sequence 5 missing/);
  assert.equal(r.instances[0].missing, 1);
});

test('detects removal at the head only when the history is complete', () => {
  const evs = roundTrip(makeEvents(AuditChain.inMemory('i'), 5)).slice(2);
  assert.equal(verifyChain(evs).ok, true); // retention may have removed the head
  const r = verifyChain(evs, { complete: true });
  assert.deepEqual(r.problems.map((p) => [p.kind, p.seq]), [['gap', 1]]);
});

test('detects an altered event (content changed, hash kept)', () => {
  const evs = roundTrip(makeEvents(AuditChain.inMemory('i'), 6));
  (evs[2].data.details as Record<string, unknown>).i = 999;
  const r = verifyChain(evs);
  assert.equal(r.ok, false);
  const kinds = r.problems.map((p) => [p.kind, p.seq]);
  assert.deepEqual(kinds, [['altered', 3], ['broken-link', 4]]);
});

test('detects an altered event whose hash was recomputed (broken link to the next)', () => {
  const evs = roundTrip(makeEvents(AuditChain.inMemory('i'), 6));
  evs[2].data.methodName = 'proxy.Nothing';
  evs[2].audithash = eventHash(evs[2]);
  const r = verifyChain(evs);
  assert.deepEqual(r.problems.map((p) => [p.kind, p.seq]), [['broken-link', 4]]);
});

test('detects a rewritten prev hash on the first event (links to it break)', () => {
  const evs = roundTrip(makeEvents(AuditChain.inMemory('i'), 4));
  evs[0].auditprevhash = 'ab'.repeat(32);
  evs[0].audithash = eventHash(evs[0]);
  const r = verifyChain(evs);
  assert.deepEqual(r.problems.map((p) => [p.kind, p.seq]), [['broken-link', 1], ['broken-link', 2]]);
});

test('detects reordering', () => {
  const evs = roundTrip(makeEvents(AuditChain.inMemory('i'), 6));
  [evs[2], evs[3]] = [evs[3], evs[2]]; // 1 2 4 3 5 6
  const r = verifyChain(evs);
  assert.equal(r.ok, false);
  assert.deepEqual(r.problems.map((p) => [p.kind, p.seq]), [['reorder', 3]]);
});

test('duplicates: identical redelivery is reported but ok; a different event with the same seq is not ok', () => {
  const evs = roundTrip(makeEvents(AuditChain.inMemory('i'), 4));
  const redelivered = [...evs.slice(0, 3), JSON.parse(JSON.stringify(evs[2])) as AuditEvent, evs[3]];
  const r1 = verifyChain(redelivered);
  assert.equal(r1.ok, true);
  assert.deepEqual(r1.problems.map((p) => [p.kind, p.seq, p.identical]), [['duplicate', 3, true]]);

  const forged = JSON.parse(JSON.stringify(evs[2])) as AuditEvent;
  forged.id = 'forged';
  forged.audithash = eventHash(forged);
  const r2 = verifyChain([...evs.slice(0, 3), forged, evs[3]]);
  assert.equal(r2.ok, false);
  assert.deepEqual(r2.problems.map((p) => [p.kind, p.seq, p.identical]), [['duplicate', 3, false]]);
});

test('events without chain attributes are reported', () => {
  const r = verifyChain([buildLifecycleEvent('started', ctx)]);
  assert.equal(r.ok, false);
  assert.equal(r.problems[0].kind, 'altered');
  assert.match(r.problems[0].detail, /no chain attributes/);
});

test('streams and instances are separate chains', () => {
  const c1 = AuditChain.inMemory('one');
  const c2 = AuditChain.inMemory('two');
  const mixed = [...makeEvents(c1, 3, 'a'), ...makeEvents(c2, 2, 'a'), ...makeEvents(c1, 2, 'b')];
  const r = verifyChain(roundTrip(mixed), { complete: true });
  assert.equal(r.ok, true, JSON.stringify(r.problems));
  assert.deepEqual(r.instances.map((s) => [s.instance, s.stream, s.lastSeq]), [['one', 'a', 3], ['two', 'a', 2], ['one', 'b', 2]]);
});

test('persistent chain: instance id and sequence survive a restart, chain stays linked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-chain-'));
  try {
    const c1 = AuditChain.open(dir);
    const first = makeEvents(c1, 3);
    const id = c1.instanceId;
    // The state is written once per tick (group commit), before any sealed event can leave the process.
    await new Promise((r) => setImmediate(r));
    const c2 = AuditChain.open(dir);
    assert.equal(c2.instanceId, id);
    assert.deepEqual(c2.position('audit'), { seq: 3, lastHash: first[2].audithash });
    const more = makeEvents(c2, 2);
    assert.equal(more[0].auditseq, 4);
    assert.equal(more[0].auditprevhash, first[2].audithash);
    assert.equal(verifyChain(roundTrip([...first, ...more]), { complete: true }).ok, true);
    assert.equal(readFileSync(join(dir, 'instance-id'), 'utf8').trim(), id);
    await new Promise((r) => setImmediate(r)); // let c2's state write finish before the directory goes
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('persistent chain refuses to restart the sequence when its state is lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-chain-'));
  try {
    makeEvents(AuditChain.open(dir), 2);
    await new Promise((r) => setImmediate(r)); // the state is written once per tick
    writeFileSync(join(dir, 'chain-state.json'), '{broken');
    assert.throws(() => AuditChain.open(dir), /refusing to restart the sequence/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('streamNames lists the chains an instance has sealed events in, also after a restart (the checkpoint signer signs each)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kap-chain-streams-'));
  try {
    const chain = AuditChain.open(dir);
    assert.deepEqual(chain.streamNames(), []);
    chain.seal(buildLifecycleEvent('started', { clusterId: 'c' }), 'topic-a');
    chain.seal(buildLifecycleEvent('stopped', { clusterId: 'c' }), 'topic-b');
    await new Promise((r) => setImmediate(r)); // the state is written on the next tick
    assert.deepEqual(AuditChain.open(dir).streamNames().sort(), ['topic-a', 'topic-b']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

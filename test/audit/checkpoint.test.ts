/**
 * Signed checkpoints without Kafka: when the signer signs (every N events, T after the first uncovered event,
 * an idle heartbeat, on stop; one timer), that its state links checkpoints across restarts and key rotation, and what
 * verifyCheckpoints reports for an intact trail, appended (forged) events, forged and unknown-key checkpoints, a
 * rewritten chain, removed checkpoints and truncation. Events are built and sealed as the pipeline seals them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditChain, eventHash, verifyChain } from '../../src/audit/chain.js';
import { buildLifecycleEvent, type AuditEvent } from '../../src/audit/event.js';
import { fingerprintOf, loadPublicKeys, loadSigningKey, readCheckpoint, type SigningKey } from '../../src/audit/checkpoint.js';
import { CheckpointSigner } from '../../src/audit/checkpoint-signer.js';
import { verifyCheckpoints } from '../../src/audit/checkpoint-verify.js';

const STREAM = 'audit-topic';
const ctx = { clusterId: 'cp-test-cluster' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function newKey(dir: string, name: string): { key: SigningKey; privateFile: string; publicFile: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const privateFile = join(dir, `${name}.pem`);
  writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const key = loadSigningKey({ file: privateFile });
  const publicFile = join(dir, `${name}.pub.pem`);
  writeFileSync(publicFile, key.publicKeyPem);
  return { key, privateFile, publicFile };
}

/** A proxy's audit path in miniature: chain + signer, events collected as the sink would write them. */
function harness(key: SigningKey, opts: { everyEvents?: number; intervalMs?: number; idleIntervalMs?: number; dir?: string; chain?: AuditChain } = {}) {
  const chain = opts.chain ?? (opts.dir ? AuditChain.open(opts.dir) : AuditChain.inMemory());
  const written: AuditEvent[] = [];
  const signer = new CheckpointSigner({
    key, chain, context: () => ctx, stateDir: opts.dir,
    submit: async (e) => { written.push(JSON.parse(JSON.stringify(e)) as AuditEvent); },
    everyEvents: opts.everyEvents ?? 1000, intervalMs: opts.intervalMs ?? 60_000, idleIntervalMs: opts.idleIntervalMs ?? 120_000,
  });
  const emit = (method: 'started' | 'stopped' | 'config-reloaded' = 'config-reloaded') => {
    const e = chain.seal(buildLifecycleEvent(method, ctx), STREAM);
    written.push(JSON.parse(JSON.stringify(e)) as AuditEvent);
    signer.noteSealed(STREAM);
  };
  const split = () => ({ chainEvents: written.filter((e) => e.type !== 'io.kafkaauditproxy/checkpoint'), cps: written.filter((e) => e.type === 'io.kafkaauditproxy/checkpoint') });
  return { chain, signer, written, emit, split };
}

describe('checkpoint signer', () => {
  test('signs after everyEvents events, at once and covering the last one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-cp-'));
    try {
      const { key } = newKey(dir, 'k');
      const h = harness(key, { everyEvents: 10 });
      for (let i = 0; i < 25; i++) h.emit();
      const cps = h.split().cps.map((e) => readCheckpoint(e)!.payload);
      assert.deepEqual(cps.map((c) => [c.seq, c.reason]), [[10, 'events'], [20, 'events']]);
      assert.equal(cps[0].keyId, key.fingerprint);
      assert.equal(cps[1].lastHash, h.split().chainEvents[19].audithash);
      void h.signer.close();
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  test('signs intervalMs after the first uncovered event, then only every idleIntervalMs while idle; close signs "stop"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-cp-'));
    try {
      const { key } = newKey(dir, 'k');
      const h = harness(key, { intervalMs: 150, idleIntervalMs: 600 });
      h.emit('started');
      h.emit();
      await sleep(100);
      assert.equal(h.split().cps.length, 0, 'nothing signed before intervalMs');
      await sleep(150);
      let cps = h.split().cps.map((e) => readCheckpoint(e)!.payload);
      assert.deepEqual(cps.map((c) => [c.seq, c.reason]), [[2, 'interval']]);
      await sleep(400);
      assert.equal(h.split().cps.length, 1, 'idle: no second signature before idleIntervalMs');
      await sleep(400);
      cps = h.split().cps.map((e) => readCheckpoint(e)!.payload);
      assert.deepEqual(cps.map((c) => [c.seq, c.reason]), [[2, 'interval'], [2, 'idle']], 'an idle heartbeat: same position, new time');
      h.emit('stopped');
      await h.signer.close();
      cps = h.split().cps.map((e) => readCheckpoint(e)!.payload);
      assert.deepEqual(cps.at(-1)!.seq, 3);
      assert.equal(cps.at(-1)!.reason, 'stop');
      const r = verifyCheckpoints(h.split().chainEvents, h.split().cps, { keys: loadPublicKeys([join(dir, 'k.pub.pem')]) });
      assert.deepEqual(r.problems, []);
      assert.equal(r.chains[0].stopped, true);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  test('the private key never appears in a checkpoint event; a key of another type is refused without echoing it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-cp-'));
    try {
      const { key, privateFile } = newKey(dir, 'k');
      const h = harness(key, { everyEvents: 1 });
      h.emit();
      const pem = readFileSync(privateFile, 'utf8');
      const body = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
      const text = JSON.stringify(h.written);
      assert.ok(!text.includes(body), 'the private key is not in any event');
      const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      assert.throws(() => loadSigningKey({ pem: rsa }), (e: Error) => /an rsa key; checkpoints are signed with Ed25519/.test(e.message) && !e.message.includes(rsa.slice(40, 80)));
      assert.throws(() => loadSigningKey({ file: join(dir, 'missing.pem') }), /privateKeyFile .*missing\.pem: cannot be read \(ENOENT\)/);
      assert.throws(() => loadSigningKey({ pem: 'not a key' }), /not a private key in PEM/);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  test('restarts and key rotation keep the checkpoints of a chain linked (state in the chain directory)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-cp-'));
    try {
      const k1 = newKey(dir, 'k1');
      const k2 = newKey(dir, 'k2');
      const chainDir = join(dir, 'chain');
      const run1 = harness(k1.key, { dir: chainDir, everyEvents: 3 });
      for (let i = 0; i < 4; i++) run1.emit();
      run1.emit('stopped');
      await run1.signer.close();
      await new Promise((r) => setImmediate(r)); // the chain writes its state on the next tick
      const run2 = harness(k2.key, { dir: chainDir, everyEvents: 3 });
      run2.emit('started');
      for (let i = 0; i < 3; i++) run2.emit();
      run2.emit('stopped');
      await run2.signer.close();
      await new Promise((r) => setImmediate(r));
      const all = [...run1.written, ...run2.written];
      const chainEvents = all.filter((e) => e.type !== 'io.kafkaauditproxy/checkpoint');
      const cps = all.filter((e) => e.type === 'io.kafkaauditproxy/checkpoint');
      const chainReport = verifyChain(chainEvents, { complete: true });
      assert.ok(chainReport.ok, JSON.stringify(chainReport.problems));
      const both = verifyCheckpoints(chainEvents, cps, { keys: loadPublicKeys([k1.publicFile, k2.publicFile]), complete: true });
      assert.deepEqual(both.problems, [], 'old and new checkpoints verify with both keys');
      assert.equal(both.validCheckpoints, cps.length);
      assert.equal(both.chains[0].coveredSeq, 10);
      const onlyNew = verifyCheckpoints(chainEvents, cps, { keys: loadPublicKeys([k2.publicFile]), complete: true });
      assert.ok(onlyNew.problems.some((p) => p.kind === 'unknown-key' && p.detail.includes(k1.key.fingerprint)), JSON.stringify(onlyNew.problems));
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

describe('verifyCheckpoints', () => {
  /** A finished run: 20 events, checkpoints every 5, stopped. */
  async function finishedRun(dir: string) {
    const k = newKey(dir, `k-${randomUUID()}`);
    const h = harness(k.key, { everyEvents: 5 });
    h.emit('started');
    for (let i = 0; i < 18; i++) h.emit();
    h.emit('stopped');
    await h.signer.close();
    return { ...h.split(), keys: loadPublicKeys([k.publicFile]), k, h };
  }

  /** What an attacker with write access appends: a well-formed continuation with recomputed hashes. */
  function continuation(last: AuditEvent, n: number): AuditEvent[] {
    const out: AuditEvent[] = [];
    let prev = last;
    for (let i = 1; i <= n; i++) {
      const e = JSON.parse(JSON.stringify(prev)) as AuditEvent;
      e.id = randomUUID();
      e.data = { ...e.data, methodName: 'kafka.DeleteTopics', resourceName: 'crn:///kafka=x/topic=evidence', lifecycle: undefined };
      e.auditseq = prev.auditseq! + 1;
      e.auditprevhash = prev.audithash;
      delete e.audithash;
      e.audithash = eventHash(e);
      out.push(e);
      prev = e;
    }
    return out;
  }

  test('an intact, finished trail: ok, every event covered, stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-cp-'));
    try {
      const r0 = await finishedRun(dir);
      const r = verifyCheckpoints(r0.chainEvents, r0.cps, { keys: r0.keys, complete: true, now: Date.now() + 3600_000 });
      assert.deepEqual(r.problems, []);
      assert.deepEqual([r.chains[0].coveredSeq, r.chains[0].lastSeq, r.chains[0].stopped], [20, 20, true]);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  test('a continuation appended after the final checkpoint, hashes recomputed: the chain check passes, the checkpoints name it forged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-cp-'));
    try {
      const r0 = await finishedRun(dir);
      const forged = continuation(r0.chainEvents.at(-1)!, 2);
      const events = [...r0.chainEvents, ...forged];
      assert.ok(verifyChain(events, { complete: true }).ok, 'hashes alone accept it');
      const r = verifyCheckpoints(events, r0.cps, { keys: r0.keys, complete: true });
      assert.equal(r.ok, false);
      const p = r.problems.find((x) => x.kind === 'forged');
      assert.ok(p && p.seq === 21 && p.detail.includes(forged[0].id) && p.detail.includes(forged[1].id), JSON.stringify(r.problems));
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  test('a rewritten chain (an event replaced, every later hash recomputed): the event at a checkpoint is not the one signed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-cp-'));
    try {
      const r0 = await finishedRun(dir);
      const kept = r0.chainEvents.slice(0, 7);
      const events = [...kept, ...continuation(kept.at(-1)!, 13)];
      assert.ok(verifyChain(events, { complete: true }).ok, 'hashes alone accept it');
      const r = verifyCheckpoints(events, r0.cps, { keys: r0.keys, complete: true });
      assert.ok(r.problems.some((x) => x.kind === 'forged' && x.seq === 10 && /not the event the proxy signed/.test(x.detail)), JSON.stringify(r.problems));
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  test('a checkpoint with a changed field fails its signature; one signed by another key is unknown-key; a removed one breaks the link', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-cp-'));
    try {
      const r0 = await finishedRun(dir);
      const cps = r0.cps.map((e) => JSON.parse(JSON.stringify(e)) as AuditEvent);
      (cps[1].data as unknown as { checkpoint: { seq: number } }).checkpoint.seq = 20;
      let r = verifyCheckpoints(r0.chainEvents, cps, { keys: r0.keys, complete: true });
      assert.ok(r.problems.some((p) => p.kind === 'bad-signature' && p.seq === 20), JSON.stringify(r.problems));
      const other = newKey(dir, 'other');
      const otherKeys = loadPublicKeys([other.publicFile]);
      assert.equal([...otherKeys.keys()][0], fingerprintOf(other.key.publicKey));
      r = verifyCheckpoints(r0.chainEvents, r0.cps, { keys: otherKeys, complete: true });
      assert.ok(r.problems.every((p) => p.kind === 'unknown-key' || p.kind === 'uncovered') && r.problems.some((p) => p.kind === 'unknown-key'));
      r = verifyCheckpoints(r0.chainEvents, [r0.cps[0], ...r0.cps.slice(2)], { keys: r0.keys, complete: true });
      assert.ok(r.problems.some((p) => p.kind === 'checkpoint-link'), JSON.stringify(r.problems));
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  test('a cut-off end: events after the newest checkpoint are pending while it is young, then uncovered and truncation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-cp-'));
    try {
      const k = newKey(dir, 'k');
      const h = harness(k.key, { everyEvents: 5, intervalMs: 1000, idleIntervalMs: 2000 });
      h.emit('started');
      for (let i = 0; i < 6; i++) h.emit(); // checkpoint at 5; 6 and 7 not yet covered, then the process "dies"
      const { chainEvents, cps } = h.split();
      const cpTime = Date.parse(readCheckpoint(cps[0])!.payload.time);
      const keys = loadPublicKeys([k.publicFile]);
      const young = verifyCheckpoints(chainEvents, cps, { keys, marginMs: 500, now: cpTime + 1000 });
      assert.deepEqual(young.problems, [], 'within intervalMs + idleIntervalMs + margin: pending, not a problem');
      assert.equal(young.chains[0].pending, 2);
      const old = verifyCheckpoints(chainEvents, cps, { keys, marginMs: 500, now: cpTime + 4000 });
      assert.deepEqual(old.problems.map((p) => [p.kind, p.seq]), [['uncovered', 6], ['truncation', 6]]);
      assert.match(old.problems[1].detail, /not known to have stopped/);
      // Its stop recorded but not covered: truncation, whatever the time.
      h.emit('stopped');
      const { chainEvents: withStop } = h.split();
      const stopped = verifyCheckpoints(withStop, cps, { keys, marginMs: 500, now: cpTime + 100 });
      assert.ok(stopped.problems.some((p) => p.kind === 'truncation' && /final checkpoint is missing/.test(p.detail)), JSON.stringify(stopped.problems));
      void h.signer.close();
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  test('an idle instance with heartbeats is not truncated; a checkpoint beyond the chain on the topic is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-cp-'));
    try {
      const k = newKey(dir, 'k');
      const h = harness(k.key, { everyEvents: 3 });
      h.emit('started');
      for (let i = 0; i < 5; i++) h.emit();
      const { chainEvents, cps } = h.split();
      const keys = loadPublicKeys([k.publicFile]);
      // The topic lost events 4..6 at its end, but the checkpoint at 6 survived (e.g. on the mirror topic).
      const r = verifyCheckpoints(chainEvents.slice(0, 3), cps, { keys, now: Date.now() });
      assert.ok(r.problems.some((p) => p.kind === 'truncation' && /events 4\.\.6 were removed/.test(p.detail)), JSON.stringify(r.problems));
      void h.signer.close();
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

/**
 * What signed checkpoints add per audit event: the pipeline's emit step (build an event, seal it into the chain,
 * hand it to a sink) with and without a CheckpointSigner, in-process with a sink that only counts, so the
 * difference is the signer's: a counter per event, and one Ed25519 signature plus one small event per checkpoint
 * (every `everyEvents` events). Also the cost of one signature and one verification on their own, and of
 * verifyCheckpoints over the events. `npx tsx bench/checkpoint-cost.ts [events] [everyEvents]`.
 */
import { generateKeyPairSync } from 'node:crypto';
import { AuditChain } from '../src/audit/chain.js';
import { buildLifecycleEvent, type AuditEvent } from '../src/audit/event.js';
import { checkSignature, loadSigningKey, readCheckpoint, signCheckpoint, type CheckpointPayload } from '../src/audit/checkpoint.js';
import { CheckpointSigner } from '../src/audit/checkpoint-signer.js';
import { verifyCheckpoints } from '../src/audit/checkpoint-verify.js';

const EVENTS = Number(process.argv[2] ?? 200_000);
const EVERY = Number(process.argv[3] ?? 1000);
const ROUNDS = 9;
const ctx = { clusterId: 'bench-cluster-id' };
const key = loadSigningKey({ pem: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * One run over EVENTS events: the time of the whole emit step (build + seal + submit [+ noteSealed]) per event, and
 * the time spent inside the signer's noteSealed alone (its counter, and every EVERY events a signature and a
 * checkpoint event), measured around each call and less the cost of the measuring itself (timed on an empty call).
 */
function run(withSigner: boolean, keep = false, events = EVENTS): { nsPerEvent: number; signerNsPerEvent: number; checkpoints: number; kept: AuditEvent[] } {
  const chain = AuditChain.inMemory();
  const kept: AuditEvent[] = [];
  // Timed runs keep nothing (a growing array would time the garbage collector, not the signer).
  const submit = async (e: AuditEvent) => { if (keep) kept.push(e); };
  const signer = withSigner
    ? new CheckpointSigner({ key, chain, submit, context: () => ctx, everyEvents: EVERY, intervalMs: 3_600_000, idleIntervalMs: 3_600_000 })
    : undefined;
  const note = signer ? (s: string) => signer.noteSealed(s) : (_s: string) => undefined;
  let inSigner = 0n;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < events; i++) {
    const e = chain.seal(buildLifecycleEvent('config-reloaded', ctx, { section: 'audit.rules', i }), 'audit-topic');
    void submit(e);
    const a = process.hrtime.bigint();
    note('audit-topic');
    inSigner += process.hrtime.bigint() - a;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const checkpoints = signer?.signed ?? 0;
  void signer?.close();
  return { nsPerEvent: ns / events, signerNsPerEvent: Number(inSigner) / events, checkpoints, kept };
}

run(true); run(false); // warm-up
const without: number[] = [];
const withCp: number[] = [];
const signerNs: number[] = [];
const emptyNs: number[] = [];
let checkpoints = 0;
// Interleaved, so that load from other processes falls on both sides alike.
for (let r = 0; r < ROUNDS; r++) {
  const w0 = run(false);
  without.push(w0.nsPerEvent);
  emptyNs.push(w0.signerNsPerEvent);
  const w = run(true);
  withCp.push(w.nsPerEvent);
  signerNs.push(w.signerNsPerEvent);
  checkpoints = w.checkpoints;
}
const kept = run(true, true, 50_000).kept;

const payload: CheckpointPayload = {
  v: 1, instance: 'i', stream: 's', seq: 1, lastHash: 'a'.repeat(64), time: new Date().toISOString(), prevSigHash: '',
  keyId: key.fingerprint, intervalMs: 5000, idleIntervalMs: 60000, reason: 'events',
};
const N = 5000;
let t = process.hrtime.bigint();
let sig = '';
for (let i = 0; i < N; i++) sig = signCheckpoint({ ...payload, seq: i }, key);
const signUs = Number(process.hrtime.bigint() - t) / N / 1000;
t = process.hrtime.bigint();
for (let i = 0; i < N; i++) checkSignature(payload, sig, key.publicKey);
const verifyUs = Number(process.hrtime.bigint() - t) / N / 1000;

const chainEvents = kept.filter((e) => !readCheckpoint(e));
const cpEvents = kept.filter((e) => readCheckpoint(e));
t = process.hrtime.bigint();
const report = verifyCheckpoints(chainEvents, cpEvents, { keys: new Map([[key.fingerprint, key.publicKey]]) });
const verifyAllMs = Number(process.hrtime.bigint() - t) / 1e6;

const a = median(without);
const b = median(withCp);
const signerOnly = median(signerNs) - median(emptyNs);
const out = {
  events: EVENTS, everyEvents: EVERY, rounds: ROUNDS,
  emitNsPerEventWithout: Math.round(a), emitNsPerEventWith: Math.round(b),
  signerNsPerEvent: Math.round(signerOnly), signerPercentOfEmit: +(signerOnly / a * 100).toFixed(2),
  signerNsPerEventRounds: signerNs.map(Math.round), measuringNsPerCall: Math.round(median(emptyNs)),
  checkpointsPerRun: checkpoints, signUs: +signUs.toFixed(1), verifySignatureUs: +verifyUs.toFixed(1),
  verifyCheckpointsMs: +verifyAllMs.toFixed(1), verifyCheckpointsEvents: kept.length, verifyCheckpointsOk: report.ok, node: process.version,
};
process.stdout.write(JSON.stringify(out, null, 2) + '\n');

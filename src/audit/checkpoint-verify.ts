/**
 * Checks the signed checkpoints of an audit topic against its hash chains (verify --public-key).
 *
 * Per instance and stream (chain):
 * - a checkpoint counts when its Ed25519 signature verifies with one of the given public keys (matched by the
 *   fingerprint it names). A checkpoint whose signature fails is `bad-signature` (forged); one signed by a key not
 *   given is `unknown-key` (give that key too, for rotation, or it is forged);
 * - each valid checkpoint must name the previous one (`prevSigHash`), else `checkpoint-link` (a checkpoint was
 *   removed, or the signer lost its state);
 * - the event at a checkpoint's `seq` must be the event that was signed (its audithash = `lastHash`), else
 *   `forged`: the chain up to there was rewritten. A checkpoint beyond the chain's last event is `truncation`;
 * - events after the newest checkpoint are not covered. While the signer can still cover them (the instance is not
 *   known to be stopped and its newest checkpoint is younger than its own intervalMs + idleIntervalMs + margin)
 *   they are only counted as `pending`; otherwise they are `uncovered`, or `forged` when they follow the
 *   instance's final checkpoint (its `proxy.Stopped` event was covered: the proxy writes nothing after that);
 * - `truncation`: the instance is not known to be stopped and its newest checkpoint is older than intervalMs +
 *   idleIntervalMs + margin (a running instance signs at least every idleIntervalMs, even idle), or its
 *   `proxy.Stopped` event is not covered by a checkpoint. Either way its newest events may have been removed, or it
 *   died without signing (a crash also looks like this: the report says so).
 *
 * Without public keys nothing here runs: verify checks the hashes only, and says so.
 */
import type { KeyObject } from 'node:crypto';
import type { AuditEvent } from './event.js';
import { checkSignature, readCheckpoint, signatureHash, type CheckpointPayload } from './checkpoint.js';

export type CheckpointProblemKind = 'bad-signature' | 'unknown-key' | 'malformed-checkpoint' | 'checkpoint-link' | 'forged' | 'uncovered' | 'truncation';

export interface CheckpointProblem {
  kind: CheckpointProblemKind;
  instance: string;
  stream?: string;
  /** The sequence (or first sequence of a range) the problem is about. */
  seq?: number;
  detail: string;
}

export interface CheckpointChainReport {
  instance: string;
  stream?: string;
  /** Valid checkpoints of this chain. */
  checkpoints: number;
  /** Highest sequence covered by a valid checkpoint (0: none). */
  coveredSeq: number;
  /** Highest sequence of the chain on the topic. */
  lastSeq: number;
  newestCheckpoint?: { seq: number; time: string; keyId: string; reason: string };
  /** The covered chain ends with the instance's proxy.Stopped event. */
  stopped: boolean;
  /** Events after the newest checkpoint that the running signer can still cover. */
  pending: number;
}

export interface CheckpointReport {
  ok: boolean;
  /** Fingerprints of the public keys given. */
  keys: string[];
  checkpointEvents: number;
  validCheckpoints: number;
  verifiedAt: string;
  marginMs: number;
  chains: CheckpointChainReport[];
  problems: CheckpointProblem[];
}

export interface CheckpointVerifyOptions {
  keys: Map<string, KeyObject>;
  /** Verify time (ms). Default now. */
  now?: number;
  /** Clock skew and delivery allowance for the truncation check. Default 30 s. */
  marginMs?: number;
  /** The topic still holds every record (low watermarks 0): the first checkpoint of a chain must name none before it. */
  complete?: boolean;
}

interface SignedCheckpoint { payload: CheckpointPayload; signature: string; timeMs: number }

interface Group {
  instance: string;
  stream: string;
  events: Map<number, AuditEvent>;
  maxSeq: number;
  checkpoints: SignedCheckpoint[];
}

const STOPPED_METHOD = 'proxy.Stopped';
const STARTED_METHOD = 'proxy.Started';

/**
 * `chainEvents`: the events of the hash chains (checkpoints left out), `checkpointEvents`: the checkpoint events,
 * both in the order read.
 */
export function verifyCheckpoints(chainEvents: AuditEvent[], checkpointEvents: AuditEvent[], o: CheckpointVerifyOptions): CheckpointReport {
  const now = o.now ?? Date.now();
  const marginMs = o.marginMs ?? 30_000;
  const problems: CheckpointProblem[] = [];
  const groups = new Map<string, Group>();
  const group = (instance: string, stream: string): Group => {
    const k = JSON.stringify([instance, stream]);
    let g = groups.get(k);
    if (!g) { g = { instance, stream, events: new Map(), maxSeq: 0, checkpoints: [] }; groups.set(k, g); }
    return g;
  };
  const problem = (g: { instance: string; stream: string }, kind: CheckpointProblemKind, detail: string, seq?: number) => {
    const p: CheckpointProblem = { kind, instance: g.instance, detail };
    if (g.stream !== '') p.stream = g.stream;
    if (seq !== undefined) p.seq = seq;
    problems.push(p);
  };

  for (const e of chainEvents) {
    if (typeof e.auditinstance !== 'string' || typeof e.auditseq !== 'number') continue; // the chain check reports these
    const g = group(e.auditinstance, typeof e.auditstream === 'string' ? e.auditstream : '');
    if (!g.events.has(e.auditseq)) g.events.set(e.auditseq, e);
    g.maxSeq = Math.max(g.maxSeq, e.auditseq);
  }

  let valid = 0;
  const seenSignatures = new Set<string>();
  for (const e of checkpointEvents) {
    const cp = readCheckpoint(e);
    if (!cp) {
      problem({ instance: String(e.auditinstance ?? ''), stream: String(e.auditstream ?? '') }, 'malformed-checkpoint', `checkpoint event ${String(e.id)} does not have a checkpoint's fields`);
      continue;
    }
    const { payload, signature } = cp;
    const g = group(payload.instance, payload.stream);
    const key = o.keys.get(payload.keyId);
    if (!key) {
      problem(g, 'unknown-key', `checkpoint at seq ${payload.seq} (${payload.time}) is signed with key ${payload.keyId}, which is not among the public keys given: add it with --public-key (key rotation), or the checkpoint is forged`, payload.seq);
      continue;
    }
    if (!checkSignature(payload, signature, key)) {
      problem(g, 'bad-signature', `checkpoint at seq ${payload.seq} (${payload.time}, event ${String(e.id)}): the signature does not verify with key ${payload.keyId}: forged or altered`, payload.seq);
      continue;
    }
    if (seenSignatures.has(signature)) continue; // the same checkpoint again (mirror topic, redelivery)
    seenSignatures.add(signature);
    valid++;
    g.checkpoints.push({ payload, signature, timeMs: Date.parse(payload.time) });
  }

  const chains: CheckpointChainReport[] = [];
  for (const g of groups.values()) {
    // Signing order: time, then sequence (a chain's position never goes back).
    const cps = g.checkpoints.sort((a, b) => a.timeMs - b.timeMs || a.payload.seq - b.payload.seq);
    for (let i = 0; i < cps.length; i++) {
      const cp = cps[i].payload;
      if (i > 0 && cp.prevSigHash !== signatureHash(cps[i - 1].signature)) {
        problem(g, 'checkpoint-link', `checkpoint at seq ${cp.seq} (${cp.time}) does not name the checkpoint before it (seq ${cps[i - 1].payload.seq}, ${cps[i - 1].payload.time}): a checkpoint between them is missing, or the signer lost its state`, cp.seq);
      } else if (i === 0 && o.complete && cp.prevSigHash !== '') {
        problem(g, 'checkpoint-link', `the first checkpoint (seq ${cp.seq}, ${cp.time}) names an earlier checkpoint that is not on the topic`, cp.seq);
      }
      if (i > 0 && cp.seq < cps[i - 1].payload.seq) {
        problem(g, 'forged', `checkpoint at ${cp.time} signs seq ${cp.seq}, below the earlier checkpoint's seq ${cps[i - 1].payload.seq}`, cp.seq);
      }
    }
    let covered = 0;
    for (const { payload: cp } of cps) {
      const ev = g.events.get(cp.seq);
      if (ev && ev.audithash !== cp.lastHash) {
        problem(g, 'forged', `event at seq ${cp.seq} (${String(ev.id)}) is not the event the proxy signed at ${cp.time} (hash ${String(ev.audithash)}, signed ${cp.lastHash}): the chain up to there was rewritten`, cp.seq);
        continue;
      }
      if (!ev && cp.seq > g.maxSeq) {
        problem(g, 'truncation', `a checkpoint signed at ${cp.time} covers seq ${cp.seq}, but the chain on the topic ends at seq ${g.maxSeq}: events ${g.maxSeq + 1}..${cp.seq} were removed`, g.maxSeq + 1);
      }
      covered = Math.max(covered, cp.seq);
    }
    const newest = cps.length > 0 ? cps.reduce((a, b) => (b.timeMs > a.timeMs ? b : a)) : undefined;
    const coveredEvent = g.events.get(covered);
    // Stopped: the newest checkpoint is the signed one of a stop (every stream gets one), or covers proxy.Stopped.
    const stopped = newest?.payload.reason === 'stop' || coveredEvent?.data?.methodName === STOPPED_METHOD;
    const allowanceMs = newest ? newest.payload.intervalMs + newest.payload.idleIntervalMs + marginMs : 0;
    const ageMs = newest ? now - newest.timeMs : Infinity;
    const windowOpen = !stopped && newest !== undefined && ageMs <= allowanceMs;

    const uncovered = [...g.events.keys()].filter((s) => s > covered).sort((a, b) => a - b);
    let pending = 0;
    if (uncovered.length > 0) {
      if (windowOpen) pending = uncovered.length;
      else {
        const first = uncovered[0];
        const last = uncovered[uncovered.length - 1];
        const ids = uncovered.slice(0, 5).map((s) => String(g.events.get(s)!.id)).join(', ') + (uncovered.length > 5 ? ', ...' : '');
        const one = first === last;
        const range = one ? `seq ${first}` : `seq ${first}..${last} (${uncovered.length} events)`;
        const restarted = g.events.get(first)?.data?.methodName === STARTED_METHOD;
        if (stopped && !restarted) {
          problem(g, 'forged', `${range} ${one ? 'follows' : 'follow'} the instance's final checkpoint (it stopped at seq ${covered}): the proxy wrote nothing after it; events ${ids}`, first);
        } else if (!newest) {
          problem(g, 'uncovered', `${range}: no valid checkpoint covers any event of this chain; events ${ids}`, first);
        } else {
          problem(g, 'uncovered', `${range} ${one ? 'is' : 'are'} not covered by a valid checkpoint (the newest, at ${newest.payload.time}, covers seq ${covered}): appended by someone else, or written just before the instance stopped without signing; events ${ids}`, first);
        }
      }
    }
    // The instance's own stop event, not covered: its final checkpoint (or the events up to it) is missing.
    const stopSeqs = [...g.events].filter(([s, e]) => s > covered && e.data?.methodName === STOPPED_METHOD).map(([s]) => s);
    if (stopSeqs.length > 0 && newest) {
      problem(g, 'truncation', `the instance recorded its stop at seq ${stopSeqs[0]}, but the newest checkpoint (${newest.payload.time}) covers only seq ${covered}: its final checkpoint is missing`, stopSeqs[0]);
    } else if (newest && !stopped && ageMs > allowanceMs) {
      problem(g, 'truncation', `the newest checkpoint (seq ${newest.payload.seq}, ${newest.payload.time}) is ${Math.round(ageMs / 1000)} s old, and the instance is not known to have stopped: a running instance signs at least every ${newest.payload.idleIntervalMs} ms. ` +
        `Events after ${newest.payload.time} may have been removed, or the instance died (crash, SIGKILL) without a final checkpoint`, newest.payload.seq + 1);
    }
    const r: CheckpointChainReport = { instance: g.instance, checkpoints: cps.length, coveredSeq: covered, lastSeq: g.maxSeq, stopped, pending };
    if (g.stream !== '') r.stream = g.stream;
    if (newest) r.newestCheckpoint = { seq: newest.payload.seq, time: newest.payload.time, keyId: newest.payload.keyId, reason: newest.payload.reason };
    chains.push(r);
  }
  return {
    ok: problems.length === 0, keys: [...o.keys.keys()], checkpointEvents: checkpointEvents.length, validCheckpoints: valid,
    verifiedAt: new Date(now).toISOString(), marginMs, chains, problems,
  };
}

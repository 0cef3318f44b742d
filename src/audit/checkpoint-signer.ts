/**
 * Signs checkpoints of this proxy instance's chains (see checkpoint.ts for what a checkpoint says).
 *
 * When: per chain (stream), after `everyEvents` new events, or `intervalMs` after the first event not yet covered,
 * whichever comes first, and on stop (covering the `proxy.Stopped` event). With no new events a chain is signed
 * again only every `idleIntervalMs` (a heartbeat: the same position, a new time), so that verify can tell an idle
 * instance from one whose newest events were cut off: a running instance's newest checkpoint is never older than
 * idleIntervalMs (plus delivery), whatever the traffic.
 *
 * Cost: one Ed25519 signature (about 50 µs) and one small event per checkpoint, not per event; per event only a
 * counter. One unref'd timer per process, armed for the earliest due checkpoint: at rest the process wakes once
 * per idleIntervalMs.
 *
 * The previous signature's hash of each chain is kept in `<chain dir>/checkpoint-state.json`, so the checkpoints
 * of a chain stay linked across restarts (and key rotations). Losing that file shows up in verify as a broken
 * checkpoint link, never as silence.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditChain } from './chain.js';
import type { AuditEvent, EventContext } from './event.js';
import { buildCheckpointEvent, loadSigningKey, signatureHash, signCheckpoint, type CheckpointPayload, type CheckpointReason, type SigningKey } from './checkpoint.js';
import { log } from '../log.js';

export const CHECKPOINT_STATE_FILE = 'checkpoint-state.json';

export interface CheckpointSignerOptions {
  key: SigningKey;
  chain: AuditChain;
  /** Hands a checkpoint event to the sink (resolves once durable). */
  submit(event: AuditEvent, topic: string): Promise<void>;
  /** The cluster the events name (for the event's CRN). */
  context: () => EventContext;
  everyEvents: number;
  intervalMs: number;
  idleIntervalMs: number;
  /** A second topic every checkpoint is also written to (a topic the audit topic's other writers cannot write). */
  mirrorTopic?: string;
  /** Where checkpoint-state.json lives (the chain's directory); none: in memory only (tests). */
  stateDir?: string;
  fsync?: boolean;
}

interface StreamState {
  /** Events sealed since the last checkpoint. */
  pending: number;
  /** When the first of them was sealed. */
  dirtySince: number;
  lastSignedAt: number;
  prevSigHash: string;
}

const slog = () => log.child({ component: 'audit-checkpoint' });

export class CheckpointSigner {
  private readonly streams = new Map<string, StreamState>();
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Infinity;
  private closed = false;
  /** Checkpoints signed (metrics, tests). */
  signed = 0;

  constructor(private readonly o: CheckpointSignerOptions) {
    const saved = this.loadState();
    const now = Date.now();
    for (const stream of new Set([...o.chain.streamNames(), ...Object.keys(saved)])) {
      this.streams.set(stream, { pending: 0, dirtySince: 0, lastSignedAt: now, prevSigHash: saved[stream] ?? '' });
    }
    // Chains of earlier runs get their first heartbeat one idle interval from now.
    if (this.streams.size > 0) this.schedule(now + o.idleIntervalMs);
  }

  get fingerprint(): string { return this.o.key.fingerprint; }

  /** What the proxy.Started event says about the signing key: enough to verify, nothing secret. */
  describe(): Record<string, unknown> {
    return {
      fingerprint: this.o.key.fingerprint, publicKey: this.o.key.publicKeyPem, everyEvents: this.o.everyEvents,
      intervalMs: this.o.intervalMs, idleIntervalMs: this.o.idleIntervalMs, ...(this.o.mirrorTopic ? { topic: this.o.mirrorTopic } : {}),
    };
  }

  /** Called for every sealed event, after it was handed to the sink. */
  noteSealed(stream: string): void {
    if (this.closed) return;
    let s = this.streams.get(stream);
    if (!s) { s = { pending: 0, dirtySince: 0, lastSignedAt: 0, prevSigHash: '' }; this.streams.set(stream, s); }
    if (s.pending === 0) s.dirtySince = Date.now();
    s.pending++;
    if (s.pending >= this.o.everyEvents) this.sign(stream, 'events');
    else if (s.pending === 1) this.schedule(s.dirtySince + this.o.intervalMs);
  }

  /** Signs every chain one last time (covering the stopped event) and stops the timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const all = [...this.streams.keys()].map((stream) => this.sign(stream, 'stop'));
    this.closed = true;
    await Promise.all(all);
  }

  private schedule(at: number): void {
    if (this.closed || (this.timer && at >= this.dueAt)) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private tick(): void {
    this.timer = undefined;
    this.dueAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const [stream, s] of this.streams) {
      // A few ms early is due: timers fire late rather than early, but a clock step must not skip a round.
      if (s.pending > 0 && now - s.dirtySince >= this.o.intervalMs - 5) this.sign(stream, 'interval');
      else if (s.pending === 0 && now - s.lastSignedAt >= this.o.idleIntervalMs - 5) this.sign(stream, 'idle');
      next = Math.min(next, s.pending > 0 ? s.dirtySince + this.o.intervalMs : s.lastSignedAt + this.o.idleIntervalMs);
    }
    if (next < Infinity) this.schedule(next);
  }

  /** Signs the chain's current position and hands the checkpoint to the sink; never throws. */
  private sign(stream: string, reason: CheckpointReason): Promise<void> {
    const s = this.streams.get(stream);
    const pos = this.o.chain.position(stream);
    if (!s || pos.seq === 0) return Promise.resolve();
    try {
      const now = Date.now();
      const payload: CheckpointPayload = {
        v: 1, instance: this.o.chain.instanceId, stream, seq: pos.seq, lastHash: pos.lastHash, time: new Date(now).toISOString(),
        prevSigHash: s.prevSigHash, keyId: this.o.key.fingerprint, intervalMs: this.o.intervalMs, idleIntervalMs: this.o.idleIntervalMs, reason,
      };
      const signature = signCheckpoint(payload, this.o.key);
      s.prevSigHash = signatureHash(signature);
      s.pending = 0;
      s.lastSignedAt = now;
      this.signed++;
      this.saveState();
      const ctx = this.o.context();
      const topics = [stream, ...(this.o.mirrorTopic && this.o.mirrorTopic !== stream ? [this.o.mirrorTopic] : [])];
      return Promise.all(topics.map((t) => this.o.submit(buildCheckpointEvent(payload, signature, ctx), t))).then(() => undefined, (e) => {
        slog().error({ err: e, stream, seq: pos.seq }, 'audit checkpoint not durable (the next checkpoint covers the same events)');
      });
    } catch (e) {
      slog().error({ reason: (e as Error).message, stream }, 'audit checkpoint could not be signed');
      return Promise.resolve();
    }
  }

  private loadState(): Record<string, string> {
    if (!this.o.stateDir) return {};
    const path = join(this.o.stateDir, CHECKPOINT_STATE_FILE);
    try {
      const st = JSON.parse(readFileSync(path, 'utf8')) as { instanceId?: string; prevSigHash?: Record<string, string> };
      if (st.instanceId === this.o.chain.instanceId && st.prevSigHash && typeof st.prevSigHash === 'object') return st.prevSigHash;
      slog().warn({ path }, 'checkpoint state belongs to another instance; the checkpoint links start again (verify reports it)');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') slog().warn({ path, reason: (e as Error).message }, 'checkpoint state unreadable; the checkpoint links start again (verify reports it)');
    }
    return {};
  }

  private saveState(): void {
    if (!this.o.stateDir) return;
    const path = join(this.o.stateDir, CHECKPOINT_STATE_FILE);
    const prevSigHash = Object.fromEntries([...this.streams].map(([k, s]) => [k, s.prevSigHash]));
    try {
      const tmp = path + '.tmp';
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, JSON.stringify({ version: 1, instanceId: this.o.chain.instanceId, prevSigHash }));
        if (this.o.fsync) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (e) {
      slog().error({ path, reason: (e as Error).message }, 'checkpoint state could not be written; after a restart verify reports a broken checkpoint link');
    }
  }
}

/**
 * The proxy's signer, when audit.checkpoint names a private key; undefined otherwise (checkpoints off). Throws,
 * naming the setting, when the key cannot be loaded.
 */
export function createCheckpointSigner(
  cfg: { privateKeyFile?: string; privateKey?: string; everyEvents: number; intervalMs: number; idleIntervalMs: number; topic?: string },
  o: Pick<CheckpointSignerOptions, 'chain' | 'submit' | 'context' | 'stateDir' | 'fsync'>,
): CheckpointSigner | undefined {
  if (!cfg.privateKeyFile && !cfg.privateKey) return undefined;
  const key = loadSigningKey({ pem: cfg.privateKey, file: cfg.privateKeyFile });
  const signer = new CheckpointSigner({ ...o, key, everyEvents: cfg.everyEvents, intervalMs: cfg.intervalMs, idleIntervalMs: cfg.idleIntervalMs, mirrorTopic: cfg.topic });
  slog().info({ fingerprint: key.fingerprint, everyEvents: cfg.everyEvents, intervalMs: cfg.intervalMs, idleIntervalMs: cfg.idleIntervalMs, mirrorTopic: cfg.topic }, 'audit checkpoints signed with Ed25519');
  return signer;
}

/**
 * Delivers audit events through a transport (src/audit/transport.ts: Kafka, or a local file) without ever losing
 * one silently. This is the durable queue in front of the transport:
 *
 * - Batching: events are collected for up to lingerMs or batchSize events, then sent in one batch.
 * - Outage: if a send fails (or the destination is unusable at start, or an idle sink's periodic check of it fails:
 *   healthCheckMs) the batch goes to the local spool, the sink
 *   is "degraded" (kafka_audit_sink_up 0, a 'degraded' event for the lifecycle audit event), and a background
 *   loop reconnects with exponential backoff. While anything is in the spool, new events are appended to the
 *   spool too, behind the older ones; once reconnected the spool is replayed in order, and only when it is
 *   empty do events go straight to the transport again. So the destination receives events in submission order.
 * - Delivery is at-least-once: a send that times out may still have been written (the Kafka transport replaces
 *   its producer after a failure, so such a batch can appear twice). The chain verifier reports those copies as
 *   identical duplicates.
 * - Fail-open (default): when the spool is full, the event is dropped, counted in
 *   kafka_audit_events_dropped_total{reason="spool_full"} and logged at error level; submit() resolves.
 *   Fail-closed: submit() rejects when the event was neither delivered nor spooled, so the proxy can fail the
 *   client's request. submit(..., strict = true) rejects in that case whatever the mode (write-ahead completion).
 * - One worker loop does all sends, spool appends and replays, one step at a time, which is what keeps the order
 *   without locks.
 *
 * Kafka records: value = the CloudEvent as JSON (structured mode), header content-type:
 * application/cloudevents+json; charset=UTF-8, plus ce_id/ce_type/ce_source mirrored for consumers that filter on
 * headers. The record timestamp is left to the producer (send time), not the event time: events replayed after a
 * long outage would otherwise be old enough for retention to delete them at once. The event keeps its own `time`.
 */
import { EventEmitter } from 'node:events';
import type { AuditEvent } from './event.js';
import { Spool, SpoolFullError, type SpoolConfig, type SpoolRecord } from './spool.js';
import { KafkaTransport, type KafkaTransportConfig } from './kafka-transport.js';
import type { AuditTransport } from './transport.js';
import { log } from '../log.js';
import type { ProxyMetrics } from '../metrics.js';

export type FailMode = 'open' | 'closed';

export interface AuditSinkConfig {
  /** Destinations to prepare at start (Kafka: topics to create; more are created on first use). */
  topics?: string[];
  /** Longest time an event waits for more to batch with. Default 20 ms. */
  lingerMs?: number;
  /** Most events per send. Default 500. */
  batchSize?: number;
  /** The spool, or its config (then the sink opens and closes it). */
  spool: Spool | SpoolConfig;
  failMode?: FailMode;
  /** Reconnect backoff. Default 500 ms doubling to 30 s, with ±20 % jitter. */
  reconnect?: { initialMs?: number; maxMs?: number };
  /**
   * How often an idle sink asks the transport whether the destination still takes writes (AuditTransport.check).
   * Without it kafka_audit_sink_up would stay 1 on a quiet proxy until the next event failed. Default 15 s; 0: never.
   */
  healthCheckMs?: number;
  metrics?: ProxyMetrics;
}

export type KafkaAuditSinkConfig = AuditSinkConfig & KafkaTransportConfig;
export type { AuditTopicSettings } from './kafka-transport.js';

/** Rejection reason of submit() when an event could not be made durable. */
export class AuditNotDurableError extends Error {
  constructor(message: string, readonly cause?: unknown) {
    super(message);
    this.name = 'AuditNotDurableError';
  }
}

interface Pending {
  record: SpoolRecord;
  /** Reject on failure even in fail-open mode (submit with strict). */
  strict: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

export type SinkState = 'stopped' | 'up' | 'degraded' | 'replaying' | 'closed';

export interface KafkaAuditSinkEvents {
  degraded: [details: { reason: string; spooledRecords: number }];
  recovered: [details: { degradedForMs: number; replayedRecords: number }];
}

const CONTENT_TYPE = 'application/cloudevents+json; charset=UTF-8';

/** Builds the Kafka record for an event (used for direct sends and for the spool). */
export function eventToRecord(event: AuditEvent, topic: string): SpoolRecord {
  const headers: Record<string, string> = { 'content-type': CONTENT_TYPE, ce_id: event.id, ce_type: event.type, ce_source: event.source };
  return { topic, key: event.auditinstance ?? null, value: JSON.stringify(event), headers };
}

export class AuditSink extends EventEmitter<KafkaAuditSinkEvents> {
  readonly failMode: FailMode;
  private readonly cfg: AuditSinkConfig;
  private readonly ownsSpool: boolean;
  private spool: Spool | undefined;
  private connected = false;

  private queue: Pending[] = [];
  /** Bytes of the values in `queue` (see canAccept). */
  private queuedBytes = 0;
  private firstQueuedAt = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;

  private state: SinkState = 'stopped';
  private degradedSince = 0;
  private announcedDegraded = false;
  private replayedSinceDegraded = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnecting = false;
  private reconnectAttempt: Promise<void> | undefined;
  private lastReconnectWarn = 0;
  private backoffMs: number;

  /** Last time the destination proved it takes writes: a delivered batch or a passed check. */
  private lastProvenAt = 0;
  private healthTimer: NodeJS.Timeout | undefined;
  private checkDue = false;

  private woken = false;
  private wakeResolve: (() => void) | undefined;
  private worker: Promise<void> | undefined;
  private closing = false;

  constructor(cfg: AuditSinkConfig, private readonly transport: AuditTransport) {
    super();
    this.cfg = cfg;
    this.failMode = cfg.failMode ?? 'open';
    this.ownsSpool = !(cfg.spool instanceof Spool);
    if (cfg.spool instanceof Spool) this.spool = cfg.spool;
    this.backoffMs = cfg.reconnect?.initialMs ?? 500;
    for (const t of cfg.topics ?? []) if (typeof t !== 'string' || t === '') throw new Error('audit sink: topics must be non-empty strings');
  }

  get sinkState(): SinkState { return this.state; }
  /** Events accepted but not yet acknowledged by Kafka (queued, in flight, or in the spool). */
  /**
   * Whether a new event can be made durable right now: the audit cluster takes writes, or the spool has room
   * for at least one more event of up to `eventBytes`. Fail-closed mode refuses operations when this is false.
   */
  canAccept(eventBytes = 64 * 1024): boolean {
    if (this.state === 'up') return true;
    if (this.state === 'closed' || !this.spool) return false;
    // Events accepted but not yet in the spool will take their room there first.
    return this.spool.diskBytes + this.queuedBytes + eventBytes <= this.spool.maxBytes;
  }

  get pending(): number { return this.queue.length + this.inFlight + (this.spool?.pendingRecords ?? 0); }

  /**
   * Opens the spool, connects, creates the topics and starts the worker. Resolves also when the cluster is
   * unreachable (the sink starts degraded and spools); rejects only when the spool cannot be opened.
   */
  async start(): Promise<void> {
    if (this.state !== 'stopped') throw new Error(`audit sink already started (state ${this.state})`);
    if (!this.spool) this.spool = await Spool.open(this.cfg.spool as SpoolConfig, this.cfg.metrics);
    const slog = log.child({ component: 'audit-sink' });
    slog.info({ ...this.transport.describe(), failMode: this.failMode, spooled: this.spool.pendingRecords }, 'audit sink starting');
    try {
      await this.connect();
      this.state = this.spool.isEmpty ? 'up' : 'replaying';
      this.cfg.metrics?.auditSinkUp.set(this.spool.isEmpty ? 1 : 0);
      this.lastProvenAt = Date.now();
    } catch (e) {
      this.state = 'degraded';
      this.degradedSince = Date.now();
      this.cfg.metrics?.auditSinkUp.set(0);
      slog.error({ err: e, ...this.transport.describe() }, 'audit destination not usable at start (connect or topic creation failed); audit events go to the local spool until it is');
      this.announcedDegraded = true;
      this.lastReconnectWarn = Date.now();
      this.emit('degraded', { reason: errText(e), spooledRecords: this.spool.pendingRecords });
      this.scheduleReconnect();
    }
    this.cfg.metrics?.auditSpoolMaxBytes.set(this.spool.maxBytes);
    this.worker = this.run();
    const every = this.cfg.healthCheckMs ?? 15_000;
    if (every > 0 && this.transport.check) {
      // One coarse, unref'd timer per sink (not per connection): it only wakes the worker, which runs the check
      // between sends, so a check never overlaps a send or a replay.
      this.healthTimer = setInterval(() => { this.checkDue = true; this.wake(); }, every);
      this.healthTimer.unref();
    }
  }

  /**
   * Queues an event for `topic`. Resolves when it is durable: delivered by the transport or written to the
   * spool. In fail-closed mode rejects (AuditNotDurableError) when it is neither; in fail-open mode such an
   * event is counted as dropped, logged, and the promise resolves.
   */
  submit(event: AuditEvent, topic: string, strict = this.failMode === 'closed'): Promise<void> {
    return this.enqueue(eventToRecord(event, topic), strict);
  }


  /** Sends or spools everything queued, stops reconnecting, disconnects. Spooled records stay for the next start. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.closing = true;
    if (this.healthTimer) clearInterval(this.healthTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    await this.reconnectAttempt;
    this.wake();
    if (this.worker) {
      await this.worker;
    } else {
      // Never started: nothing can make the queued events durable.
      const batch = this.take(this.queue.length);
      if (batch.length > 0) {
        this.cfg.metrics?.auditDropped.inc({ reason: 'sink_closed' }, batch.length);
        log.error({ component: 'audit-sink', events: batch.length }, 'audit sink closed before it was started; queued audit events not recorded');
        for (const p of batch) {
          if (p.strict) p.reject(new AuditNotDurableError('audit sink closed before it was started')); else p.resolve();
        }
      }
    }
    this.state = 'closed';
    await this.disconnect();
    if (this.ownsSpool) await this.spool?.close();
    this.updateLag();
  }

  // -------------------------------------------------------------------------------------------------------------

  private enqueue(record: SpoolRecord, strict: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // Accepted before start() too (queued until the worker runs); refused once closing.
      if (this.closing || this.state === 'closed') {
        const msg = `audit sink is ${this.closing ? 'closing' : this.state}; event not recorded`;
        this.cfg.metrics?.auditDropped.inc({ reason: 'sink_closed' });
        log.error({ component: 'audit-sink', topic: record.topic, ceId: record.headers?.ce_id }, msg);
        if (strict) reject(new AuditNotDurableError(msg)); else resolve();
        return;
      }
      if (this.queue.length === 0) this.firstQueuedAt = Date.now();
      this.queue.push({ record, strict, resolve, reject });
      this.queuedBytes += record.value.length;
      this.updateLag();
      const batchSize = this.cfg.batchSize ?? 500;
      if (this.queue.length >= batchSize) this.wake();
      else if (!this.lingerTimer) {
        this.lingerTimer = setTimeout(() => { this.lingerTimer = undefined; this.wake(); }, this.cfg.lingerMs ?? 20);
      }
    });
  }

  private wake(): void {
    this.woken = true;
    const r = this.wakeResolve;
    this.wakeResolve = undefined;
    r?.();
  }

  private async sleep(): Promise<void> {
    if (!this.woken) await new Promise<void>((r) => { this.wakeResolve = r; });
    this.woken = false;
  }

  private queueReady(): boolean {
    if (this.queue.length === 0) return false;
    if (this.closing || this.queue.length >= (this.cfg.batchSize ?? 500)) return true;
    return Date.now() - this.firstQueuedAt >= (this.cfg.lingerMs ?? 20);
  }

  private take(max: number): Pending[] {
    const batch = this.queue.splice(0, max);
    for (const p of batch) this.queuedBytes -= p.record.value.length;
    if (this.queue.length > 0) this.firstQueuedAt = Date.now();
    return batch;
  }

  private async run(): Promise<void> {
    const spool = this.spool!;
    const batchSize = this.cfg.batchSize ?? 500;
    for (;;) {
      try {
        if (this.checkDue) {
          this.checkDue = false;
          await this.healthCheck();
        }
        // 'replaying' with an empty spool (reconnected after an idle outage) still needs a replay step to come up.
        const replayDue = this.connected && !this.closing && (!spool.isEmpty || this.state === 'replaying');
        if (!replayDue && !this.queueReady()) {
          if (this.closing && this.queue.length === 0) return;
          if (this.queue.length > 0 && !this.lingerTimer) {
            const left = Math.max(0, (this.cfg.lingerMs ?? 20) - (Date.now() - this.firstQueuedAt));
            this.lingerTimer = setTimeout(() => { this.lingerTimer = undefined; this.wake(); }, left);
          }
          await this.sleep();
          continue;
        }
        if (!this.connected || !spool.isEmpty || this.state === 'replaying') {
          // Degraded, or older events are still in the spool: newer events go behind them.
          if (this.queue.length > 0) await this.spoolBatch(this.take(Math.max(batchSize, 1000)));
          if (replayDue) await this.replayStep();
          continue;
        }
        const batch = this.take(batchSize);
        this.inFlight = batch.length;
        try {
          await this.send(batch.map((p) => p.record));
          this.lastProvenAt = Date.now();
          this.inFlight = 0;
          for (const p of batch) p.resolve();
        } catch (e) {
          this.inFlight = 0;
          await this.degrade(e, batch.length);
          await this.spoolBatch(batch);
        }
      } catch (e) {
        // Must not happen; keep the loop alive and say so.
        log.error({ component: 'audit-sink', err: e }, 'audit sink worker error');
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        this.updateLag();
      }
    }
  }

  private async replayStep(): Promise<void> {
    const spool = this.spool!;
    try {
      const n = await spool.replayOnce((records) => this.send(records), this.cfg.batchSize ?? 500);
      if (n > 0) {
        this.cfg.metrics?.auditReplayed.inc(n);
        this.replayedSinceDegraded += n;
      }
    } catch (e) {
      await this.degrade(e, 0);
      return;
    }
    if (spool.isEmpty && this.connected) {
      this.lastProvenAt = Date.now();
      const wasDegraded = this.state === 'degraded' || this.state === 'replaying';
      this.state = 'up';
      this.cfg.metrics?.auditSinkUp.set(1);
      if (wasDegraded) {
        const details = { degradedForMs: this.degradedSince ? Date.now() - this.degradedSince : 0, replayedRecords: this.replayedSinceDegraded };
        log.info({ component: 'audit-sink', ...details }, 'audit spool replayed; audit events go to Kafka directly again');
        this.degradedSince = 0;
        this.replayedSinceDegraded = 0;
        this.announcedDegraded = false;
        this.emit('recovered', details);
      }
    }
  }

  private async spoolBatch(batch: Pending[]): Promise<void> {
    if (batch.length === 0) return;
    const spool = this.spool!;
    try {
      await spool.append(batch.map((p) => p.record));
      this.cfg.metrics?.auditSpooled.inc(batch.length);
      for (const p of batch) p.resolve();
      return;
    } catch (e) {
      if (!(e instanceof SpoolFullError) || batch.length === 1) {
        this.notDurable(batch, e);
        return;
      }
    }
    // Nearly full: keep as many as still fit, one by one, in order.
    for (const p of batch) {
      try {
        await spool.append([p.record]);
        this.cfg.metrics?.auditSpooled.inc();
        p.resolve();
      } catch (e) {
        this.notDurable([p], e);
      }
    }
  }

  private notDurable(batch: Pending[], e: unknown): void {
    const full = e instanceof SpoolFullError;
    const reason = full ? (this.failMode === 'closed' ? 'spool_full_fail_closed' : 'spool_full') : 'spool_error';
    this.cfg.metrics?.auditDropped.inc({ reason }, batch.length);
    log.error({
      component: 'audit-sink', err: e, failMode: this.failMode, events: batch.length,
      ceIds: batch.slice(0, 20).map((p) => p.record.headers?.ce_id),
    }, full
      ? `audit spool full: ${batch.length} audit event(s) could not be recorded` + (this.failMode === 'open' ? ' and are dropped (fail-open)' : ' (fail-closed: the requests fail)')
      : `audit spool write failed: ${batch.length} audit event(s) could not be recorded`);
    const err = new AuditNotDurableError(`audit event not durable: audit cluster unavailable and ${full ? 'spool full' : 'spool write failed'}: ${errText(e)}`, e);
    for (const p of batch) {
      if (p.strict) p.reject(err); else p.resolve();
    }
  }

  private async send(records: SpoolRecord[]): Promise<void> {
    if (!this.connected) throw new Error('audit sink not connected');
    await this.transport.send(records);
  }

  private async connect(): Promise<void> {
    await this.transport.connect(this.cfg.topics ?? []);
    // Only now may the worker send (send() checks this flag).
    this.connected = true;
  }

  private async disconnect(): Promise<void> {
    this.connected = false;
    await this.transport.disconnect();
  }

  /**
   * Asks the transport whether the destination still takes writes, when the sink is up and nothing proved it
   * during the last interval. A failed check is an outage like a failed send: degraded, kafka_audit_sink_up 0,
   * reconnecting; the reconnect loop brings it back up.
   */
  private async healthCheck(): Promise<void> {
    const every = this.cfg.healthCheckMs ?? 15_000;
    if (this.state !== 'up' || !this.connected || this.closing || !this.transport.check) return;
    if (Date.now() - this.lastProvenAt < every * 0.9) return; // a send just proved it; the timer's jitter aside
    try {
      await this.transport.check(Math.max(1000, Math.min(every, 10_000)));
      this.lastProvenAt = Date.now();
    } catch (e) {
      if (!this.closing) await this.degrade(e, 0, 'audit destination health check failed');
    }
  }

  private async degrade(e: unknown, events: number, what = 'audit cluster write failed'): Promise<void> {
    const wasUp = this.state === 'up';
    this.state = 'degraded';
    this.cfg.metrics?.auditSinkUp.set(0);
    await this.disconnect();
    if (!this.announcedDegraded) {
      // Announced once per outage; a failed replay attempt after a reconnect is part of the same outage.
      this.announcedDegraded = true;
      this.lastReconnectWarn = Date.now();
      if (!this.degradedSince) this.degradedSince = Date.now();
      log.error({ component: 'audit-sink', err: e, events, wasUp }, `${what}; audit events go to the local spool until it is back`);
      this.emit('degraded', { reason: errText(e), spooledRecords: this.spool?.pendingRecords ?? 0 });
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnecting || this.reconnectTimer) return;
    const max = this.cfg.reconnect?.maxMs ?? 30_000;
    const delay = Math.round(this.backoffMs * (0.8 + Math.random() * 0.4));
    this.backoffMs = Math.min(this.backoffMs * 2, max);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.reconnectAttempt = this.tryReconnect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private async tryReconnect(): Promise<void> {
    if (this.closing || this.connected) return;
    this.reconnecting = true;
    try {
      await this.connect();
      if (this.closing) {
        // close() ran meanwhile: do not leave a connection behind.
        await this.disconnect();
        return;
      }
      this.backoffMs = this.cfg.reconnect?.initialMs ?? 500;
      this.state = 'replaying';
      log.info({ component: 'audit-sink', spooled: this.spool?.pendingRecords ?? 0 }, 'audit cluster reachable again; replaying the spool');
      this.wake();
    } catch (e) {
      // Say it now and then, not on every attempt: a lasting misconfiguration (e.g. a replication factor the
      // cluster cannot meet) must stay visible, a long outage must not flood the log.
      const now = Date.now();
      if (now - this.lastReconnectWarn >= 60_000) {
        this.lastReconnectWarn = now;
        log.warn({ component: 'audit-sink', err: e, spooled: this.spool?.pendingRecords ?? 0 }, 'audit cluster still not usable; retrying in the background');
      }
    } finally {
      this.reconnecting = false;
    }
    if (!this.connected && !this.closing) this.scheduleReconnect();
  }

  private updateLag(): void {
    this.cfg.metrics?.auditSinkLag.set(this.pending);
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** The sink with its Kafka transport (the default; `audit.sink: kafka`). */
export class KafkaAuditSink extends AuditSink {
  constructor(cfg: KafkaAuditSinkConfig) {
    super(cfg, new KafkaTransport(cfg));
  }
}

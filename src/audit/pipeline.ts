/**
 * The audit path for one proxy: operation → rules (keep? which topic?) → dedupe → CloudEvent → chain → sink.
 *
 * record() is called on the proxy's hot path and is synchronous up to the hand-over to the sink, so the chain
 * order is the order of record() calls. In fail-open mode it returns nothing and never throws; in fail-closed
 * mode it returns a promise that resolves once the event is durable (acknowledged by the audit cluster or in the
 * spool) and rejects otherwise, so the proxy can answer the client with an error.
 *
 * Notes:
 * - An operation folded by dedupe resolves at once: it is recorded by the summary event at the end of the
 *   window. In fail-closed mode this means a folded repeat is not yet durable when its promise resolves; turn
 *   dedupe off where that matters.
 * - close() flushes dedupe summaries, records a 'stopped' lifecycle event (unless one was recorded already) and
 *   closes the sink.
 */
import { buildAuditEvent, buildLifecycleEvent, lifecycleMethod, type AuditEvent, type EventContext, type LifecycleKind } from './event.js';
import type { AuditChain } from './chain.js';
import type { AuditOperation } from './operation.js';
import { AuditRules, Deduper, parseRulesConfig, type AuditRulesOptions, type DedupeFold, type RulesConfig } from './rules.js';
import type { FailMode } from './sink.js';
import { log } from '../log.js';
import type { ProxyMetrics } from '../metrics.js';

/** What the pipeline needs from a sink (KafkaAuditSink implements it; tests can use a fake). */
export interface AuditSinkLike {
  submit(event: AuditEvent, topic: string): Promise<void>;
  close(): Promise<void>;
  on?(event: 'degraded' | 'recovered', listener: (details: Record<string, unknown>) => void): unknown;
}

export interface AuditPipelineOptions {
  rules: AuditRules;
  sink: AuditSinkLike;
  /** The audited cluster's id, or a getter when it is learned later (the proxy reads it from Metadata). */
  clusterId: string | (() => string);
  crnAuthority?: string;
  chain: AuditChain;
  metrics?: ProxyMetrics;
  /** Default 'open'. */
  failMode?: FailMode;
  /**
   * Largest event (JSON bytes) sent as is. Larger events keep everything but `details`, which is replaced by
   * {truncated, originalBytes, keys}. Default 65536: CloudEvents intermediaries must forward events up to
   * 64 KiB, and the audit topic's max.message.bytes is never in danger (an event Kafka refuses would block
   * the spool replay behind it).
   */
  maxEventBytes?: number;
  /** Options for rules built by reloadRules. Default: the options the initial rules were built with. */
  rulesOptions?: AuditRulesOptions;
}

const plog = () => log.child({ component: 'audit-pipeline' });

export class AuditPipeline {
  private rules: AuditRules;
  private deduper: Deduper | undefined;
  private readonly sink: AuditSinkLike;
  private readonly chain: AuditChain;
  private readonly ctx: EventContext;
  private readonly metrics?: ProxyMetrics;
  private readonly rulesOptions: AuditRulesOptions;
  readonly failMode: FailMode;
  private readonly maxEventBytes: number;
  private stoppedRecorded = false;
  private closed = false;

  constructor(opts: AuditPipelineOptions) {
    this.rules = opts.rules;
    this.sink = opts.sink;
    this.chain = opts.chain;
    const id = opts.clusterId;
    this.ctx = typeof id === 'function'
      ? { get clusterId() { return id(); }, crnAuthority: opts.crnAuthority }
      : { clusterId: id, crnAuthority: opts.crnAuthority };
    this.metrics = opts.metrics;
    this.failMode = opts.failMode ?? 'open';
    this.rulesOptions = opts.rulesOptions ?? opts.rules.options;
    this.maxEventBytes = opts.maxEventBytes ?? 65536;
    this.deduper = this.makeDeduper(this.rules.config);
    this.sink.on?.('degraded', (d) => { void this.lifecycle('sink-degraded', d); });
    this.sink.on?.('recovered', (d) => { void this.lifecycle('sink-recovered', d); });
  }

  /** The rules in force. */
  get currentRules(): AuditRules { return this.rules; }

  /**
   * Whether operations of an API are wanted at all, so the proxy can skip decoding: Produce (0) and Fetch (1)
   * only when the produce/consume categories are not off; everything else always (denials are kept anyway).
   */
  /**
   * In fail-closed mode, why an audited operation must be refused now (its event could not be made durable:
   * the audit cluster is unreachable and the spool is full); undefined when operations may proceed.
   */
  refusal(): string | undefined {
    if (this.failMode !== 'closed' || this.closed) return this.closed && this.failMode === 'closed' ? 'the audit pipeline is closed' : undefined;
    const canAccept = (this.sink as { canAccept?: () => boolean }).canAccept;
    if (!canAccept || canAccept.call(this.sink)) return undefined;
    return 'kafka-audit-proxy (fail-closed): the audit log cannot record this operation now (audit cluster unreachable and local spool full)';
  }

  wants(apiKey: number): boolean {
    const c = this.rules.config.categories;
    if (apiKey === 0) return c.produce !== 'off';
    if (apiKey === 1) return c.consume !== 'off';
    return true;
  }

  /** Audits one operation (see the module comment for the return value). */
  record(op: AuditOperation): void | Promise<void> {
    try {
      if (this.closed) throw new Error('audit pipeline is closed');
      const decision = this.rules.decide(op);
      if (!decision.keep) {
        this.metrics?.auditFiltered.inc({ reason: decision.reason ?? 'rule' });
        return this.done();
      }
      if (this.deduper && op.category !== 'lifecycle' && !this.deduper.offer(op)) {
        this.metrics?.auditFiltered.inc({ reason: 'dedupe' });
        return this.done();
      }
      return this.emit(buildAuditEvent(op, this.ctx), decision.topic);
    } catch (e) {
      return this.internalError(e, op.method);
    }
  }

  /** Records a lifecycle event about the proxy (started, stopped, config-reloaded, ...). */
  lifecycle(kind: LifecycleKind, details?: Record<string, unknown>): void | Promise<void> {
    try {
      if (this.closed) throw new Error('audit pipeline is closed');
      const event = buildLifecycleEvent(kind, this.ctx, details);
      const method = lifecycleMethod(kind);
      const topic = this.rules.route({ method, category: 'lifecycle', resource: { type: 'Cluster', name: this.ctx.clusterId } });
      if (kind === 'stopped') this.stoppedRecorded = true;
      return this.emit(event, topic);
    } catch (e) {
      return this.internalError(e, `lifecycle:${kind}`);
    }
  }

  /**
   * Replaces the rules. `cfg` is the raw `audit.rules` object (validated here; throws with the offending key
   * and keeps the old rules on error) or an already parsed RulesConfig. Pending dedupe windows are closed
   * first (their summaries are emitted), and a config-reloaded lifecycle event is recorded.
   */
  reloadRules(cfg: unknown): void {
    const parsed: RulesConfig = isParsedRules(cfg) ? cfg : parseRulesConfig(cfg);
    const next = new AuditRules(parsed, this.rulesOptions);
    this.deduper?.flush();
    this.rules = next;
    this.deduper = this.makeDeduper(parsed);
    plog().info({ topics: next.topics(), categories: parsed.categories, dedupe: parsed.dedupe ?? null }, 'audit rules reloaded');
    const r = this.lifecycle('config-reloaded', { section: 'audit.rules', topics: next.topics() });
    if (r) r.catch(() => undefined);
  }

  /** Flushes dedupe summaries, records 'stopped' (once), and closes the sink (which flushes or spools). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.deduper?.flush();
    this.deduper = undefined;
    if (!this.stoppedRecorded) {
      const r = this.lifecycle('stopped');
      if (r) await r.catch(() => undefined);
    }
    this.closed = true;
    await this.sink.close();
  }

  // -------------------------------------------------------------------------------------------------------------

  private makeDeduper(cfg: RulesConfig): Deduper | undefined {
    if (!cfg.dedupe) return undefined;
    return new Deduper(cfg.dedupe, (op, fold) => this.summary(op, fold));
  }

  private summary(op: AuditOperation, fold: DedupeFold): void {
    try {
      if (this.closed) return;
      const event = buildAuditEvent(op, this.ctx);
      event.data.count = fold.count;
      event.data.firstTime = new Date(fold.firstTimeMs).toISOString();
      event.data.lastTime = new Date(fold.lastTimeMs).toISOString();
      const r = this.emit(event, this.rules.route(op));
      // No client waits for a summary; a failure is logged (and counted) by the sink.
      if (r) r.catch((e) => plog().error({ err: e, method: op.method }, 'audit dedupe summary not durable'));
    } catch (e) {
      const r = this.internalError(e, op.method);
      if (r) r.catch(() => undefined);
    }
  }

  private emit(event: AuditEvent, topic: string): void | Promise<void> {
    this.limitSize(event);
    this.chain.seal(event, topic);
    this.metrics?.auditEvents.inc({ type: event.type, method: event.data.methodName });
    const p = this.sink.submit(event, topic);
    if (this.failMode === 'closed') return p;
    p.catch((e) => plog().error({ err: e, ceId: event.id }, 'audit event not durable'));
  }

  private limitSize(event: AuditEvent): void {
    const bytes = Buffer.byteLength(JSON.stringify(event));
    if (bytes <= this.maxEventBytes) return;
    const d = event.data;
    if (d.details) d.details = { truncated: true, originalBytes: bytes, keys: Object.keys(d.details).slice(0, 100) };
    if (d.result && Buffer.byteLength(JSON.stringify(event)) > this.maxEventBytes) d.result.message = d.result.message.slice(0, 1024) + ' [truncated]';
    plog().warn({ method: d.methodName, ceId: event.id, originalBytes: bytes, maxEventBytes: this.maxEventBytes }, 'audit event too large; details truncated');
  }

  private done(): void | Promise<void> {
    return this.failMode === 'closed' ? Promise.resolve() : undefined;
  }

  private internalError(e: unknown, method: string): void | Promise<void> {
    this.metrics?.auditDropped.inc({ reason: 'internal_error' });
    plog().error({ err: e, method }, 'audit event could not be built or recorded');
    if (this.failMode === 'closed') return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

function isParsedRules(cfg: unknown): cfg is RulesConfig {
  if (cfg === null || typeof cfg !== 'object') return false;
  const c = cfg as Partial<RulesConfig>;
  return typeof c.categories === 'object' && c.categories !== null && 'authorizeDenied' in c.categories && Array.isArray(c.excludedPrincipals) && typeof c.defaultTopic === 'string' && Array.isArray(c.routes);
}

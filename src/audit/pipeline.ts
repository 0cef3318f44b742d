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
import type { AuditJournal, OpenIntent } from './journal.js';
import type { AuditOperation } from './operation.js';
import { categoryOf, DATA_API_KEYS } from './extract.js';
import { capStrings } from './cap-strings.js';
import { API_KEY } from '../../protocol/registry.js';
import { AuditRules, Deduper, parseRulesConfig, type AuditRulesOptions, type DedupeFold, type RulesConfig } from './rules.js';
import type { FailMode } from './sink.js';
import { log } from '../log.js';
import type { ProxyMetrics } from '../metrics.js';

/** What the pipeline needs from a sink (AuditSink implements it, with a Kafka or file transport; tests can use a fake). */
export interface AuditSinkLike {
  /** Resolves once the event is durable; rejects when it is not and `strict` (default: fail-closed mode) is set. */
  submit(event: AuditEvent, topic: string, strict?: boolean): Promise<void>;
  /** Whether events of `bytes` in all can be made durable now (fail-closed admission); absent = always. */
  canAccept?(bytes: number): boolean;
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
  /** The write-ahead journal; without it no operation is written ahead. */
  journal?: AuditJournal;
  /** Which audited APIs are written ahead: every one but Produce/Fetch (default), all, or none. */
  writeAhead?: WriteAheadMode;
  /** Signs checkpoints of the chains (checkpoint-signer.ts): told of every sealed event, closed after 'stopped'. */
  checkpoints?: { noteSealed(stream: string): void; close(): Promise<void> };
}

export type WriteAheadMode = 'management' | 'all' | 'off';

/** The message of an event recovered from the write-ahead journal after a crash. */
export const OUTCOME_UNKNOWN = 'outcome unknown: the proxy stopped after this request was written ahead and before the broker\'s answer was recorded';

const plog = () => log.child({ component: 'audit-pipeline' });

/** Produce and Fetch: the data path, written ahead only under audit.writeAhead: all. */
const DATA_PATH_KEYS: ReadonlySet<number> = new Set([API_KEY.Produce, API_KEY.Fetch]);

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
  private journal?: AuditJournal;
  private writeAhead: WriteAheadMode = 'off';
  private readonly checkpoints?: AuditPipelineOptions['checkpoints'];

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
    if (opts.journal) this.useJournal(opts.journal, opts.writeAhead ?? 'management');
    this.checkpoints = opts.checkpoints;
    // No client waits for these; a failure to make them durable is logged by the sink (in either mode).
    this.sink.on?.('degraded', (d) => { this.settle(this.lifecycle('sink-degraded', d)); });
    this.sink.on?.('recovered', (d) => { this.settle(this.lifecycle('sink-recovered', d)); });
  }

  /** Writes requests ahead from now on (the journal is opened once the sink holds the spool directory's lock). */
  useJournal(journal: AuditJournal, mode: WriteAheadMode): void {
    this.journal = journal;
    this.writeAhead = mode;
  }

  /** The rules in force. */
  get currentRules(): AuditRules { return this.rules; }

  /**
   * In fail-closed mode, why a request with these operations must be refused before it is forwarded: their
   * events, and those of every request still waiting for its outcome, could not all be made durable now (the
   * audit cluster is unreachable and the spool lacks the room). undefined when the request may proceed. A request
   * is admitted or refused whole, however many resources it names.
   */
  admission(ops: readonly AuditOperation[]): string | undefined {
    if (this.failMode !== 'closed') return undefined;
    if (this.closed) return 'kafka-audit-proxy (fail-closed): the audit pipeline is closed';
    const canAccept = this.sink.canAccept;
    if (!canAccept) return undefined;
    // An outcome event is its operation plus a result and the event envelope: twice the operation's JSON bounds it.
    let need = 0;
    for (const op of ops) need += 2 * jsonBytes(op) + 1024;
    need += 2 * (this.journal?.openBytes ?? 0);
    if (canAccept.call(this.sink, need)) return undefined;
    return 'kafka-audit-proxy (fail-closed): the audit log cannot record this operation now (audit cluster unreachable and local spool full)';
  }

  /** Whether requests of this API are written ahead (see WriteAheadMode) under the rules in force. */
  writeAheadFor(apiKey: number): boolean {
    if (this.writeAhead === 'off') return false;
    const c = this.rules.config.categories;
    switch (categoryOf(apiKey)) {
      // The data path (Produce, Fetch) is written ahead only under 'all'; the other audited APIs of these categories
      // (OffsetCommit, TxnOffsetCommit: offset resets) under 'management' too, as every audited API but Produce and Fetch.
      case 'produce': return (this.writeAhead === 'all' || !DATA_PATH_KEYS.has(apiKey)) && c.produce !== 'off';
      case 'consume': return (this.writeAhead === 'all' || !DATA_PATH_KEYS.has(apiKey)) && c.consume !== 'off';
      case 'describe': return c.describe;
      case 'management': return c.management;
      default: return false;
    }
  }

  /** Writes a request's operations ahead; resolves with the id to complete() once they are durable. */
  intend(ops: AuditOperation[]): Promise<string> {
    const journal = this.journal;
    if (!journal) return Promise.reject(new Error('no write-ahead journal'));
    // Recovery only needs to name what was asked; client-controlled strings are cut so one request's record
    // always fits in a string V8 can build.
    return journal.begin(capStrings(ops, 4096)).then((id) => { this.metrics?.writeAheadOpen.set(journal.openCount); return id; });
  }

  /**
   * Records the outcome of a request's operations; once every event is durable, strikes the request off the
   * journal. An event that is not durable leaves it open: the next start records it with outcome unknown.
   */
  complete(intent: string | undefined, ops: AuditOperation[]): void {
    if (intent === undefined) { for (const op of ops) this.settle(this.record(op)); return; }
    const journal = this.journal!;
    const all: Promise<void>[] = [];
    for (const op of ops) {
      const r = this.record(op, true);
      if (r) all.push(r);
    }
    Promise.all(all).then(() => { journal.finish(intent); this.metrics?.writeAheadOpen.set(journal.openCount); }, (e) => {
      plog().error({ err: e, intent, method: ops[0]?.method }, 'audit outcome event not durable; the operation stays in the write-ahead journal and is recorded (outcome unknown) at the next start');
    });
  }

  /** Strikes off a request that was written ahead but never forwarded (its connection closed meanwhile). */
  abandon(intent: string): void { this.journal?.finish(intent); }

  /**
   * Records the operations a previous run left open in the journal, with outcome unknown, and strikes each off
   * once its events are durable. Resolves when all were tried.
   */
  async recoverOpen(open: OpenIntent[]): Promise<number> {
    let n = 0;
    for (const intent of open) {
      const ops = intent.ops.map((op) => ({ ...op, result: { message: OUTCOME_UNKNOWN } }));
      const all = ops.map((op) => this.record(op, true)).filter((p): p is Promise<void> => p !== undefined);
      try {
        await Promise.all(all);
        this.journal?.finish(intent.id);
        n += ops.length;
      } catch (e) {
        plog().error({ err: e, intent: intent.id }, 'recovered audit operation not durable; it stays in the write-ahead journal');
      }
    }
    return n;
  }

  auditsDenials(): boolean { return this.rules.config.categories.authorizeDenied; }

  /** The data APIs (Produce, Fetch, OffsetCommit, TxnOffsetCommit) are decoded only when their category is on. */
  wants(apiKey: number): boolean {
    const c = this.rules.config.categories;
    if (!DATA_API_KEYS.has(apiKey)) return true;
    return c[categoryOf(apiKey) === 'produce' ? 'produce' : 'consume'] !== 'off';
  }

  /**
   * Audits one operation (see the module comment for the return value). `strict`: return a promise that rejects
   * when the event is not durable, whatever the fail mode (write-ahead completion needs to know).
   */
  record(op: AuditOperation, strict = false): void | Promise<void> {
    try {
      if (this.closed) throw new Error('audit pipeline is closed');
      const decision = this.rules.decide(op);
      if (!decision.keep) {
        this.metrics?.auditFiltered.inc({ reason: decision.reason ?? 'rule' });
        return this.done(strict);
      }
      if (this.deduper && op.category !== 'lifecycle' && !this.deduper.offer(op)) {
        this.metrics?.auditFiltered.inc({ reason: 'dedupe' });
        return this.done(strict);
      }
      return this.emit(buildAuditEvent(op, this.ctx), decision.topic, strict);
    } catch (e) {
      return this.internalError(e, op.method, strict);
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
    // The final checkpoint covers the stopped event; the sink then flushes both.
    await this.checkpoints?.close();
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

  private emit(event: AuditEvent, topic: string, strict = false): void | Promise<void> {
    this.limitSize(event);
    this.chain.seal(event, topic);
    this.metrics?.auditEvents.inc({ type: event.type, method: event.data.methodName });
    const p = this.sink.submit(event, topic, strict || this.failMode === 'closed');
    this.checkpoints?.noteSealed(topic);
    if (strict || this.failMode === 'closed') return p;
    p.catch((e) => plog().error({ err: e, ceId: event.id }, 'audit event not durable'));
  }

  /** Takes a result no client waits for: a failure was logged and counted by the sink already. */
  private settle(r: void | Promise<void>): void {
    if (r) r.catch(() => undefined);
  }

  /**
   * Keeps an event under maxEventBytes: first `details` give way, then the result message, then every string in
   * the event is cut (client ids, principals from failed logins, resource names: all client-controlled), shorter
   * each round. An event the audit topic refused for its size would stop the spool's replay behind it.
   */
  private limitSize(event: AuditEvent): void {
    const size = () => Buffer.byteLength(JSON.stringify(event));
    const bytes = size();
    if (bytes <= this.maxEventBytes) return;
    const d = event.data;
    if (d.details) d.details = { truncated: true, originalBytes: bytes, keys: Object.keys(d.details).slice(0, 100).map((k) => k.slice(0, 100)) };
    if (d.result && size() > this.maxEventBytes) d.result.message = d.result.message.slice(0, 1024) + ' [truncated]';
    for (let max = 4096; max >= 16 && size() > this.maxEventBytes; max = Math.floor(max / 4)) {
      event.data = capStrings(event.data, max);
      event.subject = capStrings(event.subject, max);
    }
    plog().warn({ method: String(event.data.methodName).slice(0, 100), ceId: event.id, originalBytes: bytes, maxEventBytes: this.maxEventBytes }, 'audit event too large; details truncated');
  }

  private done(strict = false): void | Promise<void> {
    return strict || this.failMode === 'closed' ? Promise.resolve() : undefined;
  }

  private internalError(e: unknown, method: string, strict = false): void | Promise<void> {
    this.metrics?.auditDropped.inc({ reason: 'internal_error' });
    plog().error({ err: e, method }, 'audit event could not be built or recorded');
    if (strict || this.failMode === 'closed') return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

function jsonBytes(op: AuditOperation): number {
  return JSON.stringify(op, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)).length;
}

function isParsedRules(cfg: unknown): cfg is RulesConfig {
  if (cfg === null || typeof cfg !== 'object') return false;
  const c = cfg as Partial<RulesConfig>;
  return typeof c.categories === 'object' && c.categories !== null && 'authorizeDenied' in c.categories && Array.isArray(c.excludedPrincipals) && typeof c.defaultTopic === 'string' && Array.isArray(c.routes);
}

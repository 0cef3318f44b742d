import client from 'prom-client';
import { reusedReadBufferBytes, reusedReadBuffers } from './proxy/reused-reads.js';
import { eventLoopLag } from './event-loop-lag.js';
import { apiName } from '../protocol/registry.js';
// A cycle (apis/cluster.ts uses responseErrorCode below) that is safe: REFUSABLE_API_KEYS is read in the constructor only.
import { REFUSABLE_API_KEYS } from './audit/apis/index.js';
import { PendingCount, PendingCounts, PlainHistogram, type HistogramSeries } from './plain-metrics.js';

/**
 * All Prometheus metrics of the proxy, in one registry so a test or a second proxy instance in the same
 * process can have its own. Names follow Prometheus conventions (base units, _total for counters).
 */
export class ProxyMetrics {
  readonly registry = new client.Registry();

  readonly connectionsActive = new client.Gauge({ name: 'kafka_proxy_connections_active', help: 'Client connections currently open', labelNames: ['listener'], registers: [this.registry] });
  readonly connectionsTotal = new client.Counter({ name: 'kafka_proxy_connections_total', help: 'Client connections accepted', labelNames: ['listener'], registers: [this.registry] });
  readonly reusedReadBuffers = new client.Gauge({
    name: 'kafka_proxy_reused_read_buffers', help: 'Sockets reading into a buffer of their own (bulk Produce/Fetch traffic; 256 KiB per broker socket, 64 KiB per client socket, at most 64 MiB per process)',
    registers: [this.registry], collect() { this.set(reusedReadBuffers()); },
  });
  readonly reusedReadBufferBytes = new client.Gauge({
    name: 'kafka_proxy_reused_read_buffer_bytes', help: 'Bytes of the buffers counted by kafka_proxy_reused_read_buffers',
    registers: [this.registry], collect() { this.set(reusedReadBufferBytes()); },
  });
  readonly idleCollections = new client.Counter({
    name: 'kafka_proxy_idle_gc_total', registers: [this.registry],
    help: 'Minor garbage collections run while idle, to give back young-generation memory a burst made V8 take (limits.idleMemoryReturnMs)',
  });
  readonly connectionsRejected = new client.Counter({ name: 'kafka_proxy_connections_rejected_total', help: 'Client connections refused by a limit', labelNames: ['reason'], registers: [this.registry] });
  readonly connectionErrors = new client.Counter({ name: 'kafka_proxy_connection_errors_total', help: 'Connections closed by the proxy because of an error', labelNames: ['reason'], registers: [this.registry] });
  readonly requests: client.Counter<string> = new client.Counter({
    name: 'kafka_proxy_requests_total', help: 'Requests forwarded, by API and version', labelNames: ['api', 'version'], registers: [this.registry],
    collect: () => this.requestCounts.flush(),
  });
  private readonly requestCounts = new PendingCounts(this.requests);
  readonly responses = new client.Counter({
    name: 'kafka_proxy_responses_total', labelNames: ['api', 'error_code'], registers: [this.registry],
    help: 'Responses of decoded APIs by API and Kafka error code (the top-level error, else the first per-resource error, e.g. 36 for a CreateTopics of an existing topic; 0 when none)',
  });
  /** Latencies per API, observed per request and response: plain bucket counts (src/plain-metrics.ts). */
  readonly requestLatency = new PlainHistogram('kafka_proxy_request_duration_seconds',
    'Time from request received from the client to response sent back', 'api', LATENCY_BUCKETS, this.registry);
  readonly upstreamLatency = new PlainHistogram('kafka_proxy_upstream_duration_seconds',
    'Time from request forwarded to the broker to its response arriving', 'api', LATENCY_BUCKETS, this.registry);
  /**
   * Bytes relayed, added up in plain numbers on every chunk and handed to kafka_proxy_bytes_total when it is
   * collected: prom-client's inc() (label lookup, value map) cost about 0.025 ms of CPU per MB relayed.
   */
  readonly bytesToBroker = new PendingCount();
  readonly bytesToClient = new PendingCount();
  readonly bytes = new client.Counter({
    name: 'kafka_proxy_bytes_total', help: 'Bytes relayed; direction is client_to_broker or broker_to_client', labelNames: ['direction'], registers: [this.registry],
    collect: () => {
      this.bytes.inc({ direction: 'client_to_broker' }, this.bytesToBroker.take());
      this.bytes.inc({ direction: 'broker_to_client' }, this.bytesToClient.take());
    },
  });
  readonly leaderHints = new client.Counter({ name: 'kafka_proxy_leader_hints_total', help: 'Produce/Fetch/ShareFetch responses carrying leader hints (NodeEndpoints): rewritten to proxy addresses, or dropped when the proxy addresses did not fit', labelNames: ['api', 'outcome'], registers: [this.registry] });
  readonly requestTrailingBytes = new client.Counter({ name: 'kafka_proxy_request_trailing_bytes_total', help: 'Requests with bytes after a completely decoded body (the broker ignores them; audited and forwarded)', labelNames: ['api', 'version'], registers: [this.registry] });
  readonly undecodable = new client.Counter({ name: 'kafka_proxy_undecodable_frames_total', help: 'Frames forwarded without being decoded (unknown API/version or parse failure)', labelNames: ['api', 'version', 'reason'], registers: [this.registry] });

  readonly auditEvents = new client.Counter({ name: 'kafka_audit_events_total', help: 'Audit events produced to the audit topic', labelNames: ['type', 'method'], registers: [this.registry] });
  readonly auditSpooled = new client.Counter({ name: 'kafka_audit_events_spooled_total', help: 'Audit events written to the local spool because the audit cluster was unavailable', registers: [this.registry] });
  readonly auditReplayed = new client.Counter({ name: 'kafka_audit_events_replayed_total', help: 'Spooled audit events delivered after the audit cluster came back', registers: [this.registry] });
  readonly auditDropped = new client.Counter({ name: 'kafka_audit_events_dropped_total', help: 'Audit events lost (should stay 0; non-zero only when the spool is full in fail-open mode)', labelNames: ['reason'], registers: [this.registry] });
  readonly auditFiltered = new client.Counter({ name: 'kafka_audit_events_filtered_total', help: 'Operations not audited because a rule excluded them or they were deduplicated', labelNames: ['reason'], registers: [this.registry] });
  readonly internalErrors = new client.Counter({ name: 'kafka_proxy_internal_errors_total', help: 'Errors the proxy caught at the process level (should stay 0: each is a bug, logged at error level)', labelNames: ['kind'], registers: [this.registry] });
  readonly unknownPrincipal = new client.Counter({ name: 'kafka_proxy_unknown_principal_total', help: 'SASL logins the broker accepted whose principal the proxy could not tell (audited as User:UNKNOWN)', labelNames: ['mechanism'], registers: [this.registry] });
  readonly writeAheadOpen = new client.Gauge({ name: 'kafka_audit_write_ahead_open', help: 'Audited requests written ahead whose outcome events are not yet durable', registers: [this.registry] });
  readonly auditRefused = new client.Counter({ name: 'kafka_audit_operations_refused_total', help: 'Audited operations refused in fail-closed mode because their events could not be made durable', labelNames: ['api'], registers: [this.registry] });
  readonly auditSpoolBytes = new client.Gauge({ name: 'kafka_audit_spool_bytes', help: 'Bytes in the local audit spool waiting for replay', registers: [this.registry] });
  readonly auditSinkLag = new client.Gauge({ name: 'kafka_audit_sink_pending_events', help: 'Audit events accepted but not yet acknowledged by the audit cluster', registers: [this.registry] });
  /**
   * States and limits of the audit sink: exported only once a sink sets them, so a proxy with audit.enabled: false
   * has no kafka_audit_sink_up series (a 0 there would read as an audit outage and fire KafkaAuditSinkDown).
   */
  readonly auditSinkUp = new LateGauge(this.registry, {
    name: 'kafka_audit_sink_up',
    help: '1 when the audit destination takes writes (checked every audit.healthCheckIntervalMs also when no event flows), 0 when events go to the spool; absent when audit.enabled is false',
  });
  readonly auditSpoolMaxBytes = new LateGauge(this.registry, { name: 'kafka_audit_spool_max_bytes', help: 'Size limit of the local audit spool (audit.spool.maxBytes)' });

  private readonly latencyChildren = new Map<string, [HistogramSeries, HistogramSeries]>();

  /**
   * The requests_total count of an (API key, version) pair: add to its `n`. `labels` is only called the first time
   * a pair is seen.
   */
  requestsFor(apiKey: number, version: number, labels: () => { api: string; version: string }): { n: number } {
    return this.requestCounts.cell(apiKey * 65536 + version, labels);
  }

  /** [request_duration, upstream_duration] series for an API, cached. */
  latencyFor(api: string): [HistogramSeries, HistogramSeries] {
    let h = this.latencyChildren.get(api);
    if (!h) { h = [this.requestLatency.series(api), this.upstreamLatency.series(api)]; this.latencyChildren.set(api, h); }
    return h;
  }

  constructor(opts: { collectDefault?: boolean } = {}) {
    if (opts.collectDefault !== false) {
      // prom-client's event-loop-lag monitor is a 10 ms timer for the life of the process (3-6 ms of CPU per second
      // at rest); its precision is set out of the way (a tick every 24 days) and its eight metrics are replaced by
      // the same names fed from src/event-loop-lag.ts, whose 10 ms monitor runs only while the loop has work.
      client.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 2 ** 31 - 1 });
      for (const name of Object.keys(EVENT_LOOP_LAG_HELP)) this.registry.removeSingleMetric(name);
      registerEventLoopLag(this.registry);
      // Gauges named like counters: `promtool check metrics` rejects them (exit 3), and each is only the sum of
      // the labelled gauge without the suffix (nodejs_active_handles etc.), which stays.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    }
    // Export every known label set at 0 from the start: increase() over a series' first sample is 0, so a counter
    // that first appears at 2 (two connections refused) would never fire its alert, and a dashboard panel of a
    // counter that never moved would have no series at all.
    for (const reason of AUDIT_DROP_REASONS) this.auditDropped.inc({ reason }, 0);
    for (const reason of CONNECTION_REJECT_REASONS) this.connectionsRejected.inc({ reason }, 0);
    for (const reason of CONNECTION_ERROR_REASONS) this.connectionErrors.inc({ reason }, 0);
    for (const listener of ['bootstrap', 'broker']) { this.connectionsTotal.inc({ listener }, 0); this.connectionsActive.inc({ listener }, 0); }
    for (const api of [...REFUSABLE_API_KEYS].map(apiName)) this.auditRefused.inc({ api }, 0);
    for (const reason of AUDIT_FILTER_REASONS) this.auditFiltered.inc({ reason }, 0);
    for (const mechanism of SASL_MECHANISM_LABELS) this.unknownPrincipal.inc({ mechanism }, 0);
    for (const kind of INTERNAL_ERROR_KINDS) this.internalErrors.inc({ kind }, 0);
    for (const api of LEADER_HINT_APIS) for (const outcome of ['rewritten', 'dropped']) this.leaderHints.inc({ api, outcome }, 0);
  }
}

/** The nodejs_eventloop_lag_* metrics prom-client's defaults have, with their help texts. */
const EVENT_LOOP_LAG_HELP = {
  nodejs_eventloop_lag_seconds: 'Lag of event loop in seconds.',
  nodejs_eventloop_lag_min_seconds: 'The minimum recorded event loop delay.',
  nodejs_eventloop_lag_max_seconds: 'The maximum recorded event loop delay.',
  nodejs_eventloop_lag_mean_seconds: 'The mean of the recorded event loop delays.',
  nodejs_eventloop_lag_stddev_seconds: 'The standard deviation of the recorded event loop delays.',
  nodejs_eventloop_lag_p50_seconds: 'The 50th percentile of the recorded event loop delays.',
  nodejs_eventloop_lag_p90_seconds: 'The 90th percentile of the recorded event loop delays.',
  nodejs_eventloop_lag_p99_seconds: 'The 99th percentile of the recorded event loop delays.',
} as const;

/**
 * The event-loop-lag gauges under prom-client's names: nodejs_eventloop_lag_seconds measured at the scrape (the
 * time a setImmediate takes to run, as prom-client does), the others from the process's sampler
 * (src/event-loop-lag.ts), read and reset at each scrape.
 */
function registerEventLoopLag(registry: client.Registry): void {
  const gauge = (name: keyof typeof EVENT_LOOP_LAG_HELP, collect?: () => Promise<void> | void) =>
    new client.Gauge({ name, help: EVENT_LOOP_LAG_HELP[name], registers: [registry], aggregator: 'average', ...(collect ? { collect } : {}) });
  const sampler = eventLoopLag();
  // Registered first, so that its collect sets the other seven before the registry reads them.
  const lag: client.Gauge = gauge('nodejs_eventloop_lag_seconds', () => {
    const s = sampler.read();
    min.set(s.min); max.set(s.max); mean.set(s.mean); stddev.set(s.stddev); p50.set(s.p50); p90.set(s.p90); p99.set(s.p99);
    const start = process.hrtime.bigint();
    return new Promise<void>((resolve) => setImmediate(() => { lag.set(Number(process.hrtime.bigint() - start) / 1e9); resolve(); }));
  });
  const min = gauge('nodejs_eventloop_lag_min_seconds');
  const max = gauge('nodejs_eventloop_lag_max_seconds');
  const mean = gauge('nodejs_eventloop_lag_mean_seconds');
  const stddev = gauge('nodejs_eventloop_lag_stddev_seconds');
  const p50 = gauge('nodejs_eventloop_lag_p50_seconds');
  const p90 = gauge('nodejs_eventloop_lag_p90_seconds');
  const p99 = gauge('nodejs_eventloop_lag_p99_seconds');
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Values of the reason label of kafka_audit_events_dropped_total. */
export const AUDIT_DROP_REASONS = ['internal_error', 'extract_error', 'too_large_to_audit', 'sink_closed', 'spool_full', 'spool_full_fail_closed', 'spool_error', 'spool_corrupt'] as const;
/** Values of the reason label of kafka_proxy_connections_rejected_total (src/proxy/server.ts; PROXY protocol: proxy-header-reader.ts). */
export const CONNECTION_REJECT_REASONS = ['max_connections', 'max_per_address', 'shutting_down', 'sni_unknown_host',
  'proxy_protocol_missing', 'proxy_protocol_malformed', 'proxy_protocol_timeout', 'proxy_protocol_closed'] as const;
/**
 * Values of the reason label of kafka_proxy_connection_errors_total: FrameErrorReason (src/proxy/frame-reader.ts)
 * and the socket-level reasons of src/proxy/connection.ts and server.ts. test/admin/metric-labels.test.ts checks
 * the sources against this list.
 */
export const CONNECTION_ERROR_REASONS = ['oversized', 'negative_size', 'malformed', 'unsupported_version', 'too_large_to_audit',
  'unmatched_response', 'unauthenticated_request', 'sasl_unsupported', 'unknown_principal', 'write_ahead_failed', 'unknown_api', 'audit_not_durable',
  'partial_frame_timeout', 'client_error', 'upstream_error', 'upstream_unreachable', 'internal_error', 'tls_handshake'] as const;
/** Values of the reason label of kafka_audit_events_filtered_total (FilterReason of src/audit/rules.ts, and dedupe). */
export const AUDIT_FILTER_REASONS = ['excluded_principal', 'category_off', 'sampled', 'dedupe'] as const;
/** Values of the kind label of kafka_proxy_internal_errors_total (src/process-guard.ts). */
export const INTERNAL_ERROR_KINDS = ['unhandled_rejection'] as const;
/** Values of the mechanism label of kafka_proxy_unknown_principal_total (mechanismLabel). */
export const SASL_MECHANISM_LABELS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER', 'GSSAPI', 'other'] as const;
/** Responses whose leader hints are counted (LEADER_HINTS_FROM of protocol/facts.ts). */
export const LEADER_HINT_APIS = ['Produce', 'Fetch', 'ShareFetch'] as const;

/**
 * A gauge registered on its first set(): the state of something that may not exist in this process (the audit
 * sink) is absent rather than 0.
 */
export class LateGauge {
  private readonly gauge: client.Gauge;
  private registered = false;

  constructor(private readonly registry: client.Registry, cfg: { name: string; help: string }) {
    this.gauge = new client.Gauge({ ...cfg, registers: [] });
  }

  set(value: number): void {
    if (!this.registered) { this.registry.registerMetric(this.gauge); this.registered = true; }
    this.gauge.set(value);
  }

  /** The value as prom-client reports it (values empty until the first set). */
  async get(): Promise<client.MetricObjectWithValues<client.MetricValue<string>>> {
    return this.registered ? this.gauge.get() : { ...(await this.gauge.get()), values: [] };
  }
}

/**
 * The error code a response is counted under in kafka_proxy_responses_total: the top-level ErrorCode when it is
 * set, otherwise the first non-zero ErrorCode of the per-resource entries (CreateTopics, DeleteTopics, CreateAcls,
 * Produce partitions, ... report failures only there), otherwise 0. One code per response, so the series of an
 * API still add up to its number of responses.
 */
/** SASL mechanism as a metric label: the known ones by name, anything a client made up as "other". */
export function mechanismLabel(mechanism: string): string {
  return /^(PLAIN|SCRAM-SHA-256|SCRAM-SHA-512|OAUTHBEARER|GSSAPI)$/.test(mechanism) ? mechanism : 'other';
}

export function responseErrorCode(body: Record<string, unknown>): number {
  const top = body.ErrorCode;
  if (typeof top === 'number' && top !== 0) return top;
  return nestedErrorCode(body, 0) ?? 0;
}

function nestedErrorCode(o: Record<string, unknown>, depth: number): number | undefined {
  for (const v of Object.values(o)) {
    if (!Array.isArray(v)) continue;
    for (const e of v) {
      if (e === null || typeof e !== 'object' || Buffer.isBuffer(e)) break; // arrays of scalars/records: not entries
      const code = (e as Record<string, unknown>).ErrorCode;
      if (typeof code === 'number' && code !== 0) return code;
      if (depth < 2) {
        const inner = nestedErrorCode(e as Record<string, unknown>, depth + 1);
        if (inner !== undefined) return inner;
      }
    }
  }
  return undefined;
}

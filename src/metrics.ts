import client from 'prom-client';
import { reusedReadBufferBytes, reusedReadBuffers } from './proxy/reused-reads.js';

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
  readonly requests = new client.Counter({ name: 'kafka_proxy_requests_total', help: 'Requests forwarded, by API and version', labelNames: ['api', 'version'], registers: [this.registry] });
  readonly responses = new client.Counter({
    name: 'kafka_proxy_responses_total', labelNames: ['api', 'error_code'], registers: [this.registry],
    help: 'Responses of decoded APIs by API and Kafka error code (the top-level error, else the first per-resource error, e.g. 36 for a CreateTopics of an existing topic; 0 when none)',
  });
  readonly requestLatency = new client.Histogram({
    name: 'kafka_proxy_request_duration_seconds', help: 'Time from request received from the client to response sent back', labelNames: ['api'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry],
  });
  readonly upstreamLatency = new client.Histogram({
    name: 'kafka_proxy_upstream_duration_seconds', help: 'Time from request forwarded to the broker to its response arriving', labelNames: ['api'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry],
  });
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
  readonly leaderHints = new client.Counter({ name: 'kafka_proxy_leader_hints_total', help: 'Produce/Fetch responses carrying leader hints (NodeEndpoints): rewritten to proxy addresses, or dropped when the proxy addresses did not fit', labelNames: ['api', 'outcome'], registers: [this.registry] });
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
  readonly auditSinkUp = new client.Gauge({ name: 'kafka_audit_sink_up', help: '1 when the audit cluster accepts writes, 0 when events go to the spool', registers: [this.registry] });

  private readonly requestChildren = new Map<number, ReturnType<client.Counter<string>["labels"]>>();
  private readonly latencyChildren = new Map<string, [client.Histogram.Internal<string>, client.Histogram.Internal<string>]>();

  /**
   * requests_total child for an (API key, version) pair, cached: per-frame updates skip building label objects
   * and prom-client's label hashing. `labels` is only called the first time a pair is seen.
   */
  requestsFor(apiKey: number, version: number, labels: () => { api: string; version: string }): ReturnType<client.Counter<string>["labels"]> {
    const key = apiKey * 65536 + version;
    let c = this.requestChildren.get(key);
    if (!c) { c = this.requests.labels(labels()); this.requestChildren.set(key, c); }
    return c;
  }

  /** [request_duration, upstream_duration] children for an API, cached like requestsFor. */
  latencyFor(api: string): [client.Histogram.Internal<string>, client.Histogram.Internal<string>] {
    let h = this.latencyChildren.get(api);
    if (!h) { h = [this.requestLatency.labels({ api }), this.upstreamLatency.labels({ api })]; this.latencyChildren.set(api, h); }
    return h;
  }

  constructor(opts: { collectDefault?: boolean } = {}) {
    if (opts.collectDefault !== false) client.collectDefaultMetrics({ register: this.registry });
    // Export the loss counter at 0 from the start: an alert on it, or a dashboard panel, then sees a series
    // (a labelled counter that never moved would be absent from /metrics altogether).
    for (const reason of AUDIT_DROP_REASONS) this.auditDropped.inc({ reason }, 0);
  }
}

/** A count kept as a plain number until a metric collects it. */
export class PendingCount {
  private n = 0;
  inc(by: number): void { this.n += by; }
  /** The count since the last take. */
  take(): number { const n = this.n; this.n = 0; return n; }
}

/** Values of the reason label of kafka_audit_events_dropped_total. */
export const AUDIT_DROP_REASONS = ['internal_error', 'extract_error', 'too_large_to_audit', 'sink_closed', 'spool_full', 'spool_full_fail_closed', 'spool_error', 'spool_corrupt'] as const;

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

/**
 * The audit: every decoded request of an audited API becomes one operation per resource, recorded with its
 * outcome once the response comes (or with "no response" when none will). Before the request goes on:
 *
 * - a connection whose principal is unknown has its audited requests refused when audit.unknownPrincipal says so;
 * - in fail-closed mode the request is refused whole unless the events of all its resources can be made durable;
 * - when the rules write it ahead, its operations are made durable in the journal first; the client's later bytes
 *   wait meanwhile (the connection holds them while the verdict is a promise).
 */
import type { Decoded } from '../../../protocol/codec.js';
import { API_KEY, apiSchema } from '../../../protocol/registry.js';
import { auditedApi, extractOperations, type ExtractContext } from '../../audit/extract.js';
import type { AuditOperation } from '../../audit/operation.js';
import { FrameError } from '../frame-reader.js';
import type { ConnectionControl, DecodeNeed, Exchange, Interceptor, RequestVerdict } from '../interceptor.js';
import type { SaslInterceptor } from './sasl.js';

/** Topics reported per connection for Metadata auto-creation requests, at most (clients ask again and again). */
const AUTO_CREATE_REPORTED_MAX = 1000;

/** What an extractor is told about the exchange: who, when, on which cluster, and the topic ids seen so far. */
export function extractContext(conn: ConnectionControl, ex: Exchange): ExtractContext {
  const { ctx, info } = conn;
  return {
    apiVersion: ex.header.apiVersion, correlationId: ex.header.correlationId, clientId: ex.header.clientId,
    connection: { ...info }, timeMs: Date.now() - Math.round(performance.now() - ex.receivedAt), clusterId: ctx.clusterId(),
    topicName: (id) => ctx.topicIds.get(id),
  };
}

export class AuditInterceptor implements Interceptor {
  /** Topics whose auto-creation request this connection already reported (see apis/cluster.ts metadataAutoCreate). */
  private autoCreateReported: Set<string> | undefined;

  constructor(private readonly conn: ConnectionControl, private readonly sasl: SaslInterceptor) {}

  /** APIs with a descriptor (src/audit/apis/); Produce/Fetch only when the rules ask for them (ctx.auditEnabled). */
  decodeRequest(apiKey: number): DecodeNeed {
    return auditedApi(apiKey) && this.conn.ctx.auditEnabled(apiKey) ? 'required' : undefined;
  }

  /**
   * An API key no schema knows cannot be decoded, so whatever it does could not be audited: not forwarded. (The
   * api-versions interceptor leaves such keys out of what clients are told the broker supports.)
   */
  onRequestHeader(apiKey: number): void {
    if (apiSchema(apiKey) || !this.conn.ctx.auditEnabled(apiKey)) return;
    throw new FrameError(`request with API key ${apiKey}, which the proxy does not know: it could not be audited, so it is not forwarded`, 'unknown_api');
  }

  onRequest(ex: Exchange): RequestVerdict | Promise<RequestVerdict> {
    const { apiKey } = ex.header;
    const api = auditedApi(apiKey);
    if (!api || !this.conn.ctx.auditEnabled(apiKey) || !api.performs(ex.request!)) return undefined;
    const { ctx } = this.conn;
    const refusable = api.refusal !== undefined;
    if (this.sasl.principalUnknown && ctx.config.audit.unknownPrincipal === 'refuse') {
      const message = 'kafka-audit-proxy: the audit log cannot tell who this connection authenticated as (audit.unknownPrincipal: refuse)';
      return refusable ? { refuse: message } : { close: `${ex.apiName} from a connection whose principal is unknown: ${message}`, kind: 'unknown_principal' };
    }
    const writeAhead = ctx.writeAheadFor(apiKey);
    const admission = ctx.config.audit.failMode === 'closed';
    if (!writeAhead && !admission) return undefined;
    const ops = this.operations(ex, undefined);
    const refusal = admission ? ctx.auditAdmission(ops) : undefined;
    // An API without a refusal response (OffsetCommit, Produce, Fetch when audited) cannot be answered "no": its
    // connection closes, so nothing reaches the broker whose events could not be made durable.
    if (refusal) return refusable ? { refuse: refusal } : { close: `${ex.apiName} not forwarded: ${refusal}`, kind: 'audit_not_durable' };
    if (!writeAhead || ops.length === 0) return undefined;
    return ctx.intend(ops).then((intent): RequestVerdict => {
      ex.audit = { intent, ops };
      return undefined;
    }, (err: Error): RequestVerdict => {
      ctx.metrics.auditDropped.inc({ reason: 'write_ahead_failed' });
      if (ctx.config.audit.failMode === 'closed') {
        const message = `kafka-audit-proxy (fail-closed): the audit log cannot record this operation now (${err.message})`;
        return refusable ? { refuse: message } : { close: `${ex.apiName} could not be written ahead (${err.message}); not forwarded`, kind: 'write_ahead_failed' };
      }
      this.conn.log.error({ err, api: ex.apiName }, 'write-ahead audit record failed; request forwarded (fail-open), its event follows the response');
      return undefined;
    });
  }

  /** A verdict that came too late: the connection closed while the request was being written ahead. */
  onAbandoned(ex: Exchange): void {
    if (ex.audit) this.conn.ctx.abandonIntent(ex.audit.intent);
  }

  /** The responses of the requests this interceptor records (see record()). */
  decodeResponse(ex: Exchange): boolean { return this.records(ex); }

  onResponse(ex: Exchange, body: Decoded | undefined): boolean {
    this.record(ex, body, body === undefined ? 'response could not be decoded' : undefined);
    return false;
  }

  /**
   * Audited when the rules want this API, or when it was written ahead (a rule change since does not drop it). A
   * request decoded for another interceptor only (the denials' walk) is not this one's to record.
   */
  private records(ex: Exchange): boolean {
    if (!ex.request || !auditedApi(ex.header.apiKey)) return false;
    return ex.audit !== undefined || this.conn.ctx.auditEnabled(ex.header.apiKey);
  }

  onUnanswered(ex: Exchange, reason: string): void {
    this.record(ex, undefined, reason, true);
  }

  /** The audit operations of a request and its response (undefined: none came). */
  private operations(ex: Exchange, response: Decoded | undefined): AuditOperation[] {
    return extractOperations(ex.header.apiKey, ex.request!, response, extractContext(this.conn, ex));
  }

  private record(ex: Exchange, response: Decoded | undefined, message: string | undefined, replace = false): void {
    if (!this.records(ex)) return;
    let ops: AuditOperation[];
    try {
      ops = this.operations(ex, response);
    } catch (err) {
      this.conn.log.error({ err, api: ex.apiName }, 'audit extraction failed');
      this.conn.ctx.metrics.auditDropped.inc({ reason: 'extract_error' });
      if (!ex.audit) return;
      // Written ahead: the operations are recorded as written, with an outcome the proxy could not read.
      ops = ex.audit.ops.map((op) => ({ ...op, result: { message: `outcome unknown: the response could not be audited (${(err as Error).message})` } }));
    }
    if (message !== undefined) for (const op of ops) op.result.message = replace ? message : op.result.message || message;
    if (ex.header.apiKey === API_KEY.Metadata) ops = ops.filter((op) => this.firstAutoCreate(op.resource.name));
    this.conn.ctx.auditOutcome(ex.audit?.intent, ops);
  }

  private firstAutoCreate(topic: string): boolean {
    const seen = this.autoCreateReported ??= new Set();
    if (seen.has(topic)) return false;
    if (seen.size >= AUTO_CREATE_REPORTED_MAX) seen.clear(); // bounded: past it, topics may be reported again
    seen.add(topic);
    return true;
  }
}

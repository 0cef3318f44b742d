/**
 * Broker addresses, rewritten to the proxy's so clients stay on the proxy: Metadata, FindCoordinator (v0-3 and
 * v4+), DescribeCluster, the leader hints (KIP-951 NodeEndpoints) of Produce v10+ / Fetch v16+ responses and the
 * NodeEndpoints of ShareFetch responses (KIP-932: a regular field after the records), which stream through (see
 * leader-hints.ts) unless another interceptor decodes them, and the NodeEndpoints of ShareAcknowledge responses,
 * which are decoded: they carry no records (a few hundred bytes), and decoded whole they keep endpoints a longer
 * proxy address does not fit in place (streamed, those would be dropped). Which responses carry NodeEndpoints is
 * protocol/facts.ts's. The cluster id is learned on the way. A response naming a broker the proxy had not seen is
 * held until that broker's new listener is bound.
 */
import type { Decoded } from '../../../protocol/codec.js';
import { carriesNodeEndpoints, LEADER_HINTS_FROM } from '../../../protocol/facts.js';
import { API_KEY, apiSchema, type ApiKeyWithSchema, type ResponseOf } from '../../../protocol/registry.js';
import { inRange } from '../../../protocol/schema.js';
import type { ConnectionControl, Exchange, Interceptor, ResponseStream } from '../interceptor.js';
import { LeaderHintScan } from '../leader-hints.js';
import { rewriteDescribeCluster, rewriteFindCoordinator, rewriteMetadata, rewriteNodeEndpoints } from '../rewrite.js';

/** A response body as its generated type: the codec decoded it with that API's schema. */
const typed = <K extends ApiKeyWithSchema>(_apiKey: K, body: Decoded) => body as unknown as ResponseOf<K>;

const ADDRESSES = new Set<number>([API_KEY.Metadata, API_KEY.FindCoordinator, API_KEY.DescribeCluster]);
/** Share-group data APIs whose responses name brokers in a (non-tagged) NodeEndpoints field. */
const SHARE_ENDPOINTS = new Set<number>([API_KEY.ShareFetch, API_KEY.ShareAcknowledge]);
const SHARE_FETCH_VERSIONS = apiSchema(API_KEY.ShareFetch)!.response.validVersions;

/**
 * Whether a response with a (non-tagged) NodeEndpoints field streams: ShareFetch, whose records can run to
 * fetch.max.bytes, in the versions whose layout the schema knows (another version is decoded, as before: it does
 * not decode, so it is reported and passes as it came).
 */
function streamsEndpoints(apiKey: number, apiVersion: number): boolean {
  return apiKey === API_KEY.ShareFetch && inRange(apiVersion, SHARE_FETCH_VERSIONS) && carriesNodeEndpoints(apiKey, apiVersion);
}

export class AddressRewriter implements Interceptor {
  constructor(readonly conn: ConnectionControl) {}

  decodeResponse(ex: Exchange): boolean {
    const { apiKey, apiVersion } = ex.header;
    return ADDRESSES.has(apiKey)
      || (SHARE_ENDPOINTS.has(apiKey) && carriesNodeEndpoints(apiKey, apiVersion) && !streamsEndpoints(apiKey, apiVersion));
  }

  onResponse(ex: Exchange, body: Decoded | undefined): boolean {
    if (!body) return false;
    const { ctx } = this.conn;
    let rewritten: boolean;
    switch (ex.header.apiKey) {
      case API_KEY.Metadata: {
        const m = typed(API_KEY.Metadata, body);
        ctx.setClusterId(m.ClusterId);
        rewritten = rewriteMetadata(m, ctx.brokers);
        break;
      }
      case API_KEY.FindCoordinator: rewritten = rewriteFindCoordinator(typed(API_KEY.FindCoordinator, body), ctx.brokers); break;
      case API_KEY.DescribeCluster: {
        const d = typed(API_KEY.DescribeCluster, body);
        ctx.setClusterId(d.ClusterId);
        rewritten = rewriteDescribeCluster(d, ctx.brokers);
        break;
      }
      case API_KEY.Produce: rewritten = rewriteNodeEndpoints(typed(API_KEY.Produce, body), ctx.brokers); break;
      case API_KEY.Fetch: rewritten = rewriteNodeEndpoints(typed(API_KEY.Fetch, body), ctx.brokers); break;
      case API_KEY.ShareFetch: rewritten = rewriteNodeEndpoints(typed(API_KEY.ShareFetch, body), ctx.brokers); break;
      case API_KEY.ShareAcknowledge: rewritten = rewriteNodeEndpoints(typed(API_KEY.ShareAcknowledge, body), ctx.brokers); break;
      default: return false;
    }
    if (rewritten) this.holdForNewListeners();
    return rewritten;
  }

  streamResponse(ex: Exchange, size: number): ResponseStream | undefined {
    const { apiKey, apiVersion } = ex.header;
    const from = LEADER_HINTS_FROM[apiKey];
    const streamed = from !== undefined ? apiVersion >= from : streamsEndpoints(apiKey, apiVersion);
    if (!streamed) return undefined;
    return new HintStream(this, ex, size);
  }

  /** A rewritten response may name a broker the proxy had not seen: its listener must be bound before the client acts. */
  holdForNewListeners(): void {
    const ready = this.conn.ctx.listenersReady();
    if (ready) this.conn.holdResponsesUntil(ready);
  }
}

/** A streamed response's bytes through a LeaderHintScan (a class, not closures: one is made per Produce response). */
class HintStream implements ResponseStream {
  private readonly scan: LeaderHintScan;

  constructor(private readonly rewriter: AddressRewriter, private readonly ex: Exchange, size: number) {
    const { apiKey, apiVersion } = ex.header;
    this.scan = new LeaderHintScan(apiSchema(apiKey)!.response, apiVersion, size, rewriter.conn.ctx.brokers, (err) => this.report(err));
  }

  private report(err: Error): void { this.rewriter.conn.reportUndecodable(this.ex.header.apiKey, this.ex.header.apiVersion, 'response', err); }

  push(chunk: Buffer): Buffer { return this.scan.push(chunk); }

  get holding(): boolean { return this.scan.holding; }

  finish(): Buffer {
    const { bytes, outcome, error } = this.scan.finish();
    if (error) this.report(error);
    if (outcome !== 'none') {
      this.rewriter.conn.ctx.metrics.leaderHints.inc({ api: this.ex.apiName, outcome });
      this.rewriter.holdForNewListeners();
    }
    return bytes;
  }
}

/**
 * One client connection and its upstream broker connection.
 *
 * Requests flow client → broker and responses broker → client, in order (Kafka answers in request order on
 * a connection, so a FIFO of in-flight requests pairs them; a response that does not answer the oldest request
 * closes the connection). Frames of APIs the proxy audits or rewrites are buffered and decoded; everything else,
 * including Produce and Fetch payloads, streams through chunk by chunk after its header (and Produce's acks) has
 * been read in full. An audited request that does not decode is not forwarded: the connection is closed.
 *
 * The proxy never guesses how the next client bytes are framed: after a SASL request (or a raw v0 token) it reads
 * nothing more from the client until the broker has answered, since that answer decides whether raw tokens or
 * Kafka requests follow, and under which principal. An audited request that is written ahead (see
 * src/audit/journal.ts) holds the client's later bytes the same way until its operations are durable.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { decodeMessage, encodeMessage, DecodeError, type Decoded } from '../../protocol/codec.js';
import { readRequestHeader, responseBodyOffset, reframe, type RequestHeader } from '../../protocol/header.js';
import { API_KEY, apiName, apiSchema } from '../../protocol/registry.js';
import { inRange } from '../../protocol/schema.js';
import { skipperTo } from '../../protocol/skip.js';
import { kafkaError } from '../../protocol/errors.js';
import type { AuditOperation, ConnectionInfo } from '../audit/operation.js';
import { AUDITED_API_KEYS, DATA_API_KEYS, extractOperations } from '../audit/extract.js';
import { FrameError, FrameReader, type FrameMode } from './frame-reader.js';
import { LeaderHintScan } from './leader-hints.js';
import { deliverReads, RESPONSE_READ_BYTES } from './reused-reads.js';
import type { AuthOutcome } from './sasl-observer.js';
import { SaslObserver } from './sasl-observer.js';
import {
  capApiVersions, learnTopicIds, rewriteDescribeCluster, rewriteFindCoordinator, rewriteMetadata, rewriteNodeEndpoints,
} from './rewrite.js';
import type { ProxyContext } from './context.js';
import { REFUSABLE_API_KEYS, REFUSAL_CODE, refusalBody } from './reject.js';
import { mechanismLabel, responseErrorCode } from '../metrics.js';

interface InFlight {
  header: RequestHeader;
  apiName: string;
  /** Decoded request body, for APIs the proxy audits or observes. */
  request?: Decoded;
  receivedAt: number;
  forwardedAt: number;
  /** A response the proxy answers itself (fail-closed refusal), sent when this entry reaches the head. */
  synthetic?: Buffer;
  /** The write-ahead record of this request's operations, struck off once their outcome events are durable. */
  intent?: string;
  /** The operations as written ahead (from the request alone). */
  intentOps?: AuditOperation[];
}

/** SASL mechanisms whose v0 (raw token) exchange the proxy can follow to its end; others are refused on v0. */
const V0_FOLLOWABLE = /^(PLAIN|SCRAM-SHA-(256|512)|OAUTHBEARER)$/;

const NO_RESPONSE = 'no response: the connection closed before the broker answered';

/** Which responses must be decoded: rewritten, observed, or paired with a decoded request for the audit. */
const REWRITTEN = new Set<number>([API_KEY.ApiVersions, API_KEY.Metadata, API_KEY.FindCoordinator, API_KEY.DescribeCluster]);
const SASL = new Set<number>([API_KEY.SaslHandshake, API_KEY.SaslAuthenticate]);
/** First version of Produce / Fetch whose responses may carry leader hints (NodeEndpoints). */
const HINT_FROM: Record<number, number> = { [API_KEY.Produce]: 10, [API_KEY.Fetch]: 16 };

let nextConnectionId = 1;

/**
 * Metric labels for an API and version. Both come from the client, so values outside what Kafka defines are
 * folded into "unknown" / "unsupported": a hostile client must not be able to create unbounded series.
 */
function apiLabels(apiKey: number, version: number): { api: string; version: string } {
  const name = apiName(apiKey);
  if (name === `Api${apiKey}`) return { api: 'unknown', version: 'unknown' };
  return { api: name, version: version >= 0 && version <= 30 ? String(version) : 'unsupported' };
}

/** APIs that yield audit operations; Produce/Fetch only when the rules ask for them (see auditEnabled). */
const auditable = (apiKey: number) => AUDITED_API_KEYS.has(apiKey) || DATA_API_KEYS.has(apiKey);

export class ProxyConnection {
  readonly id = `c${nextConnectionId++}`;
  readonly info: ConnectionInfo;
  /** This connection's logger, made on first use: most connections never log, and each pino child holds about 450 bytes. */
  private logger: Logger | undefined;
  private readonly inflight: InFlight[] = [];
  private readonly sasl = new SaslObserver();
  private readonly requests: FrameReader;
  private readonly responses: FrameReader;
  private upstream: Socket | undefined;
  /** The response currently streaming through, so its metrics can be taken when it ends. */
  private streaming: InFlight | undefined;
  /** Follows a streaming Produce/Fetch response that may end in leader hints (see leader-hints.ts). */
  private hintScan: LeaderHintScan | undefined;
  private closed = false;
  private readonly reads: Array<{ release(): void }> = [];
  /** API/version/side keys already reported as undecodable on this connection (made on the first report). */
  private reportedUndecodable: Set<string> | undefined;
  /** Responses waiting for new broker listeners to be bound (see holdUntil). */
  private heldOutput: Buffer[] | undefined;
  /** Client reads are held until the broker answers the SASL request (or raw token) just forwarded. */
  private awaitingSasl = false;
  /** A SASL exchange succeeded on this connection. */
  private authenticated = false;
  /** Authenticated, but the proxy cannot tell as whom (see audit.unknownPrincipal). */
  private principalUnknown = false;
  readonly remoteAddress: string;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly client: Socket,
    readonly target: { kind: 'bootstrap' } | { kind: 'broker'; nodeId: number },
    private readonly listenerName: string,
  ) {
    this.remoteAddress = client.remoteAddress ?? 'unknown';
    const clientAddress = `${client.remoteAddress}:${client.remotePort}`;
    this.info = {
      connectionId: this.id, clientAddress, principal: 'User:ANONYMOUS', securityProtocol: ctx.clientSecurityProtocol,
    };
    const limits = ctx.config.limits;
    this.requests = new FrameReader({
      classify: (size, head) => this.classifyRequest(size, head),
      onFrame: (frame, whole) => this.onRequestFrame(frame, whole),
      onPassthrough: (bytes) => this.toUpstream(bytes),
    }, limits.maxFrameBytes, 1024, 'request frame');
    this.responses = new FrameReader({
      classify: (size, head) => this.classifyResponse(size, head),
      onFrame: (frame, whole) => this.onResponseFrame(frame, whole),
      onPassthrough: (bytes, done) => this.onResponsePassthrough(bytes, done),
    }, limits.maxResponseFrameBytes, 64, 'response frame');
  }

  private get log(): Logger {
    return this.logger ??= this.ctx.log.child({ conn: this.id, client: this.info.clientAddress, listener: this.listenerName });
  }

  /** Connects upstream, then starts relaying. Client bytes wait in the kernel until then (socket paused). */
  async start(): Promise<void> {
    const { client, ctx } = this;
    client.setNoDelay(true);
    client.on('error', (err) => this.close(`client socket error: ${err.message}`, 'client_error'));
    client.on('close', () => this.close('client closed the connection'));
    client.setTimeout(ctx.config.limits.idleTimeoutMs, () => {
      const reason = this.requests.midFrame ? 'client sent part of a frame and stopped (idle timeout)' : 'connection idle';
      this.close(`${reason} for ${ctx.config.limits.idleTimeoutMs} ms`, this.requests.midFrame ? 'partial_frame_timeout' : 'idle_timeout');
    });
    try {
      this.upstream = await ctx.connectUpstream(this.target);
    } catch (err) {
      this.close(`cannot reach upstream ${this.describeTarget()}: ${(err as Error).message}`, 'upstream_unreachable');
      return;
    }
    if (this.closed) { this.upstream.destroy(); return; }
    const up = this.upstream;
    up.setNoDelay(true);
    up.on('error', (err) => this.close(`upstream socket error: ${err.message}`, 'upstream_error'));
    up.on('close', () => this.close('broker closed the connection'));
    up.on('drain', () => { if (!this.requests.isHeld) client.resume(); });
    client.on('drain', () => up.resume());
    // Everything one read yields leaves in one write (cork/uncork: a writev): a read holding many small frames
    // would otherwise go out as one tiny TCP segment per frame, which costs a syscall each and, pipelined by the
    // thousand, filled the broker's receive buffer with per-segment overhead until loopback TCP stalled.
    const relay = (out: Socket, reader: FrameReader, counted: { inc(n: number): void }) => (chunk: Buffer) => {
      out.cork();
      this.guard(() => {
        counted.inc(chunk.length);
        reader.push(chunk);
      });
      out.uncork();
    };
    const fromBroker = relay(client, this.responses, this.ctx.metrics.bytesToClient);
    const fromClient = relay(up, this.requests, this.ctx.metrics.bytesToBroker);
    this.reads.push(deliverReads(up, fromBroker, () => this.responseChunkFree(), RESPONSE_READ_BYTES));
    this.reads.push(deliverReads(client, fromClient, () => this.requestChunkFree()));
  }

  /** Whether nothing refers to the last chunk read from the client any more (see reused-reads.ts). */
  private requestChunkFree(): boolean {
    return !this.closed && !this.requests.retainsInput && this.upstream!.writableLength === 0;
  }

  /** Whether nothing refers to the last chunk read from the broker any more. */
  private responseChunkFree(): boolean {
    return !this.closed && !this.responses.retainsInput && !this.hintScan?.holding && !this.heldOutput && this.client.writableLength === 0;
  }

  private describeTarget(): string {
    return this.target.kind === 'bootstrap' ? 'bootstrap servers' : `broker ${this.target.nodeId}`;
  }

  /** Runs a frame-processing step; a malformed stream closes this connection only. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      const reason = err instanceof FrameError ? err.reason : err instanceof DecodeError ? 'malformed' : 'internal_error';
      this.close(`${(err as Error).message}`, reason);
      if (reason === 'internal_error') this.log.error({ err }, 'unexpected error while relaying; connection closed');
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // client → broker

  private headerVersion(apiKey: number, version: number): 1 | 2 {
    const schema = apiSchema(apiKey);
    return schema && inRange(version, schema.request.flexibleVersions) ? 2 : 1;
  }

  private classifyRequest(size: number, head: Buffer): FrameMode {
    if (this.sasl.rawMode) return 'buffer';
    if (size < 8) throw new FrameError(`request frame of ${size} bytes is too short for a request header`, 'malformed');
    const apiKey = head.readInt16BE(0);
    const version = head.readInt16BE(2);
    this.checkAuthState(apiKey);
    const decode = this.mustDecodeRequest(apiKey);
    if (decode) {
      const cap = this.ctx.config.limits.maxAuditedRequestBytes;
      if (size <= cap) return 'buffer';
      if (!DATA_API_KEYS.has(apiKey)) {
        throw new FrameError(`${apiName(apiKey)} request of ${size} bytes exceeds limits.maxAuditedRequestBytes (${cap}); ` +
          'it could not be audited, so it is not forwarded', 'too_large_to_audit');
      }
    }
    // Streamed: only the header is read (and for Produce, the acks field), each in full: the in-flight queue, and
    // with it the pairing of every later response, depends on knowing whether a response will come.
    let header: RequestHeader;
    try {
      header = readRequestHeader(head, this.headerVersion(apiKey, version), false);
    } catch (err) {
      if (head.length < size) return 'more';
      throw new FrameError(`request header does not decode (${(err as Error).message}); the stream cannot be followed`, 'malformed');
    }
    let expectResponse = true;
    if (apiKey === API_KEY.Produce) {
      const acks = this.produceAcks(size, head, header);
      if (acks === undefined) return 'more';
      expectResponse = acks !== 0;
    }
    if (decode) this.ctx.metrics.auditDropped.inc({ reason: 'too_large_to_audit' });
    // An API Kafka does not have, or a version our schema does not know: relayed as is, but counted and logged.
    const schema = apiSchema(apiKey);
    if (schema ? !inRange(version, schema.request.validVersions) : apiName(apiKey) === `Api${apiKey}`) {
      this.reportUndecodable(apiKey, version, 'request',
        new Error(schema ? `version ${version} is not in the schema (valid ${schema.request.validVersions})` : 'unknown API key'));
    }
    const now = performance.now();
    this.countRequest(apiKey, version);
    if (expectResponse) this.inflight.push({ header, apiName: apiName(apiKey), receivedAt: now, forwardedAt: now });
    return 'stream';
  }

  /**
   * On a SASL listener the broker takes nothing but ApiVersions and the SASL requests before a login succeeds
   * (anything else closes the connection), with one exception the proxy cannot follow: a first frame that is not a
   * Kafka request starts a raw GSSAPI exchange (Kafka 0.9 clients). Closing on both keeps the proxy's framing,
   * and the principal it records, the broker's.
   */
  private checkAuthState(apiKey: number): void {
    if (this.authenticated || !this.ctx.clientSecurityProtocol.startsWith('SASL')) return;
    if (apiKey === API_KEY.ApiVersions || SASL.has(apiKey)) return;
    throw new FrameError(`${apiName(apiKey)} request before SASL authentication succeeded: a SASL listener takes only ApiVersions, `
      + 'SaslHandshake and SaslAuthenticate then; not forwarded', 'unauthenticated_request');
  }

  private mustDecodeRequest(apiKey: number): boolean {
    return SASL.has(apiKey) || apiKey === API_KEY.ApiVersions || (auditable(apiKey) && this.ctx.auditEnabled(apiKey));
  }

  /**
   * Reads Produce's acks from the frame head; undefined when the head is too short to tell (the frame reader then
   * offers a longer one). A version the proxy's schema does not know cannot be followed: the connection is closed
   * (ApiVersions answers through the proxy keep clients within the known versions).
   */
  private produceAcks(size: number, head: Buffer, header: RequestHeader): number | undefined {
    const schema = apiSchema(API_KEY.Produce)!.request;
    if (!inRange(header.apiVersion, schema.validVersions)) {
      throw new FrameError(`Produce v${header.apiVersion} is outside the versions the proxy knows (${schema.validVersions}): `
        + 'whether the broker answers it cannot be read; not forwarded', 'unsupported_version');
    }
    try {
      const off = skipperTo(schema, header.apiVersion, 'Acks')(head, header.bodyOffset);
      if (off + 2 <= head.length) return head.readInt16BE(off);
    } catch { /* truncated: decided below */ }
    if (head.length < size) return undefined;
    throw new FrameError('Produce request ends before its acks field', 'malformed');
  }

  private countRequest(apiKey: number, version: number): void {
    this.ctx.metrics.requestsFor(apiKey, version, () => apiLabels(apiKey, version)).inc();
  }

  /** `whole`: the frame with its size prefix, as received (forwarded as is). */
  private onRequestFrame(frame: Buffer, whole: Buffer): void {
    const receivedAt = performance.now();
    if (this.sasl.rawMode) {
      this.sasl.onClientToken(frame);
      this.toUpstream(whole);
      this.awaitSaslAnswer();
      return;
    }
    const apiKey = frame.readInt16BE(0);
    const version = frame.readInt16BE(2);
    const header = readRequestHeader(frame, this.headerVersion(apiKey, version));
    let request: Decoded | undefined;
    const schema = apiSchema(apiKey);
    if (schema) {
      try {
        request = decodeMessage(schema.request, version, frame.subarray(header.bodyOffset));
      } catch (err) {
        // A request of an audited (or SASL) API that cannot be audited must not reach the broker: Kafka's own parser
        // is laxer (it ignores trailing bytes, for one), so forwarding would let such a request through unaudited.
        if (SASL.has(apiKey) || auditable(apiKey)) {
          const supported = inRange(version, schema.request.validVersions);
          throw new FrameError(`${apiName(apiKey)} v${version} request from ${this.info.principal} could not be decoded `
            + `(${(err as Error).message}); not forwarded, as it could not be audited`, supported ? 'malformed' : 'unsupported_version');
        }
        this.reportUndecodable(apiKey, version, 'request', err as Error);
      }
    } else {
      this.reportUndecodable(apiKey, version, 'request', new Error('no schema for this API'));
    }
    const entry: InFlight = { header, apiName: apiName(apiKey), request, receivedAt, forwardedAt: receivedAt };
    if (request) this.observeRequest(apiKey, version, request);
    if (SASL.has(apiKey)) {
      this.forward(entry, whole, true);
      this.awaitSaslAnswer();
      return;
    }
    if (request && auditable(apiKey) && this.ctx.auditEnabled(apiKey)) {
      this.forwardAudited(entry, request, whole);
      return;
    }
    this.forward(entry, whole, apiKey !== API_KEY.Produce || request?.Acks !== 0);
  }

  /**
   * An audited request: refused when its events cannot be made durable (fail-closed) or its principal is unknown
   * (audit.unknownPrincipal: refuse); written ahead when the rules say so (nothing later on this connection is read
   * until its operations are durable); then forwarded.
   */
  private forwardAudited(entry: InFlight, request: Decoded, whole: Buffer): void {
    const { apiKey } = entry.header;
    const expectResponse = apiKey !== API_KEY.Produce || request.Acks !== 0;
    const writeAhead = this.ctx.writeAheadFor(apiKey);
    const refusable = REFUSABLE_API_KEYS.has(apiKey);
    if (this.principalUnknown && this.ctx.config.audit.unknownPrincipal === 'refuse') {
      const message = 'kafka-audit-proxy: the audit log cannot tell who this connection authenticated as (audit.unknownPrincipal: refuse)';
      if (refusable && this.refuse(entry, message)) return;
      throw new FrameError(`${entry.apiName} from a connection whose principal is unknown: ${message}`, 'unknown_principal');
    }
    const admission = refusable && this.ctx.config.audit.failMode === 'closed';
    const ops = writeAhead || admission ? this.operations(entry, undefined) : undefined;
    const refusal = ops && admission ? this.ctx.auditAdmission(ops) : undefined;
    if (refusal && this.refuse(entry, refusal)) return;
    if (!writeAhead || !ops || ops.length === 0) { this.forward(entry, whole, expectResponse); return; }
    const frame = Buffer.from(whole); // the read buffer is reused once this returns
    this.holdRequests();
    this.ctx.intend(ops).then((intent) => {
      if (this.closed) { this.ctx.abandonIntent(intent); return; }
      entry.intent = intent;
      entry.intentOps = ops;
      this.forward(entry, frame, expectResponse);
      this.releaseRequests();
    }, (err: Error) => {
      if (this.closed) return;
      this.ctx.metrics.auditDropped.inc({ reason: 'write_ahead_failed' });
      if (this.ctx.config.audit.failMode === 'closed') {
        if (!this.refuse(entry, `kafka-audit-proxy (fail-closed): the audit log cannot record this operation now (${err.message})`)) {
          this.close(`${entry.apiName} could not be written ahead (${err.message}); not forwarded`, 'write_ahead_failed');
          return;
        }
      } else {
        this.log.error({ err, api: entry.apiName }, 'write-ahead audit record failed; request forwarded (fail-open), its event follows the response');
        this.forward(entry, frame, expectResponse);
      }
      this.releaseRequests();
    });
  }

  /** Sends a request on; queues it for its response, or (acks=0 Produce) audits it at once. */
  private forward(entry: InFlight, whole: Buffer, expectResponse: boolean): void {
    entry.forwardedAt = performance.now();
    this.countRequest(entry.header.apiKey, entry.header.apiVersion);
    if (expectResponse) this.inflight.push(entry);
    this.toUpstream(whole);
    if (!expectResponse) this.auditPair(entry, undefined, false, 'acks=0: the broker sends no response');
  }

  /** Reads nothing more from the client until releaseRequests() (see the module comment). */
  private holdRequests(): void {
    this.requests.hold();
    this.client.pause();
  }

  private releaseRequests(): void {
    if (this.closed) return;
    this.guard(() => this.requests.release());
    if (!this.closed && !this.requests.isHeld && !this.upstream!.writableNeedDrain) this.client.resume();
  }

  private awaitSaslAnswer(): void {
    this.awaitingSasl = true;
    this.holdRequests();
  }

  /** The broker answered the SASL request or token the client reads were held for. */
  private saslAnswered(): void {
    if (!this.awaitingSasl) return;
    this.awaitingSasl = false;
    this.releaseRequests();
  }

  /** Answers an audited request with a POLICY_VIOLATION response instead of forwarding it. */
  private refuse(entry: InFlight, message: string): boolean {
    const { header, request, receivedAt } = entry;
    const schema = apiSchema(header.apiKey)!;
    const body = refusalBody(header.apiKey, header.apiVersion, request!, { code: REFUSAL_CODE, message });
    if (!body) return false;
    const flexible = inRange(header.apiVersion, schema.response.flexibleVersions);
    const head = Buffer.alloc(flexible ? 5 : 4);
    head.writeInt32BE(header.correlationId, 0);
    this.countRequest(header.apiKey, header.apiVersion);
    this.ctx.metrics.auditRefused.inc({ api: apiName(header.apiKey) });
    this.log.warn({ api: apiName(header.apiKey), principal: this.info.principal, correlationId: header.correlationId }, message);
    this.inflight.push({ header, apiName: apiName(header.apiKey), receivedAt, forwardedAt: receivedAt, synthetic: reframe(head, body) });
    this.flushSynthetic();
    return true;
  }

  /** Sends refusals that have reached the head of the queue, keeping responses in request order. */
  private flushSynthetic(): void {
    while (this.inflight.length > 0 && this.inflight[0].synthetic && !this.streaming) {
      const e = this.inflight.shift()!;
      this.toClient(e.synthetic!);
      this.observeLatency(e);
    }
  }

  private observeRequest(apiKey: number, version: number, request: Decoded): void {
    if (apiKey === API_KEY.ApiVersions && request.ClientSoftwareName) {
      this.info.clientSoftwareName = request.ClientSoftwareName;
      this.info.clientSoftwareVersion = request.ClientSoftwareVersion;
    } else if (apiKey === API_KEY.SaslHandshake) {
      if (version === 0 && !V0_FOLLOWABLE.test(request.Mechanism ?? '')) {
        throw new FrameError(`SaslHandshake v0 for mechanism ${JSON.stringify(String(request.Mechanism).slice(0, 64))}: the raw token exchange that follows `
          + 'cannot be followed to its end by the proxy (use a client that sends SaslAuthenticate); not forwarded', 'sasl_unsupported');
      }
      this.sasl.onHandshakeRequest(request.Mechanism, version);
      this.info.saslMechanism = request.Mechanism;
    } else if (apiKey === API_KEY.SaslAuthenticate) {
      this.sasl.onClientToken(request.AuthBytes);
      request.AuthBytes = undefined; // drop the token (it may hold a password) as soon as it is read
    }
  }

  private reportUndecodable(apiKey: number, version: number, side: string, err: Error): void {
    const key = `${apiKey}:${version}:${side}`;
    this.ctx.metrics.undecodable.inc({ ...apiLabels(apiKey, version), reason: side });
    if (this.reportedUndecodable?.has(key) || !this.ctx.reportUndecodableOnce(`${key}:${this.info.principal}`)) return;
    (this.reportedUndecodable ??= new Set()).add(key);
    this.log.warn({ apiKey, api: apiName(apiKey), apiVersion: version, side, principal: this.info.principal, reason: err.message },
      'frame forwarded without decoding');
  }

  private toUpstream(bytes: Buffer): void {
    const up = this.upstream!;
    if (!up.write(bytes)) this.client.pause();
  }

  // ---------------------------------------------------------------------------------------------------
  // broker → client

  /**
   * Pops the oldest request in flight, which this response must answer: Kafka answers in order, so any other
   * correlation id means the proxy no longer knows which request a response belongs to, and the connection closes.
   */
  private pop(correlationId: number): InFlight {
    this.flushSynthetic();
    const next = this.inflight[0];
    if (next?.header.correlationId !== correlationId) {
      throw new FrameError(`response with correlation id ${correlationId} does not answer the oldest request in flight (`
        + (next ? `${next.apiName}, correlation id ${next.header.correlationId}` : 'none') + '); the connection cannot be followed', 'unmatched_response');
    }
    return this.inflight.shift()!;
  }

  private classifyResponse(size: number, head: Buffer): FrameMode {
    if (this.sasl.rawMode) return 'buffer';
    if (size < 4) throw new FrameError(`response frame of ${size} bytes is too short`, 'malformed');
    this.flushSynthetic();
    const entry = this.inflight[0];
    const correlationId = head.readInt32BE(0);
    if (entry && entry.header.correlationId === correlationId && this.mustDecodeResponse(entry)) return 'buffer';
    const streaming = this.pop(correlationId);
    this.streaming = streaming;
    const { apiKey, apiVersion } = streaming.header;
    const hintFrom = HINT_FROM[apiKey];
    if (hintFrom !== undefined && apiVersion >= hintFrom) {
      this.hintScan = new LeaderHintScan(apiSchema(apiKey)!.response, apiVersion, size, this.ctx.brokers,
        (err) => this.reportUndecodable(apiKey, apiVersion, 'response', err));
    }
    return 'stream';
  }

  private mustDecodeResponse(entry: InFlight): boolean {
    const key = entry.header.apiKey;
    return REWRITTEN.has(key) || SASL.has(key) || entry.request !== undefined;
  }

  private onResponsePassthrough(bytes: Buffer, done: boolean): void {
    const scan = this.hintScan;
    if (scan) {
      const now = scan.push(bytes);
      if (now.length > 0) this.toClient(now);
      if (!done) return;
      this.hintScan = undefined;
      const { bytes: tail, outcome, error } = scan.finish();
      if (error) this.reportUndecodable(this.streaming!.header.apiKey, this.streaming!.header.apiVersion, 'response', error);
      if (outcome !== 'none') {
        this.ctx.metrics.leaderHints.inc({ api: this.streaming!.apiName, outcome });
        // A hint may name a broker the proxy had not seen: its listener must be bound before the client acts.
        const ready = this.ctx.listenersReady();
        if (ready) this.holdUntil(ready);
      }
      if (tail.length > 0) this.toClient(tail);
    } else {
      this.toClient(bytes);
    }
    if (done && this.streaming) { this.observeLatency(this.streaming); this.streaming = undefined; this.flushSynthetic(); }
  }

  private onResponseFrame(frame: Buffer, whole: Buffer): void {
    if (this.sasl.rawMode) {
      // A raw v0 token from the broker: reaching us means the step succeeded (failure closes the socket).
      this.emitAuth(this.sasl.onServerToken(0, '', frame));
      this.toClient(whole);
      this.saslAnswered();
      return;
    }
    const entry = this.pop(frame.readInt32BE(0));
    const out = this.processResponse(entry, frame, whole);
    this.toClient(out);
    this.observeLatency(entry);
    if (SASL.has(entry.header.apiKey)) this.saslAnswered();
  }

  /** Decodes, observes, audits and (where needed) rewrites one response; returns the frame to send. */
  private processResponse(entry: InFlight, frame: Buffer, whole: Buffer): Buffer {
    const { apiKey, apiVersion } = entry.header;
    const schema = apiSchema(apiKey);
    const unchanged = whole;
    if (!schema) return unchanged;
    // ApiVersions answers with header v0 always (KIP-511); others use v1 in flexible versions.
    const headerVersion: 0 | 1 = apiKey !== API_KEY.ApiVersions && inRange(apiVersion, schema.response.flexibleVersions) ? 1 : 0;
    let bodyOffset: number;
    try {
      bodyOffset = responseBodyOffset(frame, headerVersion);
    } catch (err) {
      this.reportUndecodable(apiKey, apiVersion, 'response', err as Error);
      return unchanged;
    }
    const bodyBytes = frame.subarray(bodyOffset);
    let body: Decoded;
    let decodedVersion = apiVersion;
    try {
      body = decodeMessage(schema.response, apiVersion, bodyBytes);
    } catch (err) {
      // A broker that does not support the requested ApiVersions version answers in v0 (KIP-511).
      if (apiKey === API_KEY.ApiVersions && apiVersion > 0) {
        try { body = decodeMessage(schema.response, 0, bodyBytes); decodedVersion = 0; } catch { /* reported below */ }
      }
      if (decodedVersion === apiVersion) {
        this.reportUndecodable(apiKey, apiVersion, 'response', err as Error);
        this.auditPair(entry, undefined, true);
        return unchanged;
      }
    }
    body = body!;
    this.ctx.metrics.responses.inc({ api: entry.apiName, error_code: String(responseErrorCode(body)) });
    this.observeResponse(entry, body);
    this.auditPair(entry, body, false);
    const rewritten = this.rewrite(apiKey, body);
    const ready = rewritten ? this.ctx.listenersReady() : undefined;
    if (ready) this.holdUntil(ready);
    if (!rewritten) return unchanged;
    return reframe(frame.subarray(0, bodyOffset), encodeMessage(schema.response, decodedVersion, body));
  }

  private rewrite(apiKey: number, body: Decoded): boolean {
    const { brokers, topicIds } = this.ctx;
    switch (apiKey) {
      case API_KEY.ApiVersions: return capApiVersions(body);
      case API_KEY.Metadata: this.ctx.setClusterId(body.ClusterId); return rewriteMetadata(body, brokers, topicIds);
      case API_KEY.FindCoordinator: return rewriteFindCoordinator(body, brokers);
      case API_KEY.DescribeCluster: this.ctx.setClusterId(body.ClusterId); return rewriteDescribeCluster(body, brokers);
      case API_KEY.Produce: case API_KEY.Fetch: return rewriteNodeEndpoints(body, brokers);
      default: learnTopicIds(apiKey, body, topicIds); return false;
    }
  }

  private observeResponse(entry: InFlight, body: Decoded): void {
    const key = entry.header.apiKey;
    if (key === API_KEY.SaslHandshake) {
      this.emitAuth(this.sasl.onHandshakeResponse(body.ErrorCode, kafkaError(body.ErrorCode).message));
    } else if (key === API_KEY.SaslAuthenticate) {
      const message = body.ErrorMessage ?? (body.ErrorCode ? kafkaError(body.ErrorCode).message : '');
      this.emitAuth(this.sasl.onServerToken(body.ErrorCode, message, body.AuthBytes));
    } else if (key === API_KEY.CreateDelegationToken && body.ErrorCode === 0 && body.TokenId && body.PrincipalName) {
      this.ctx.tokenOwners.set(body.TokenId, `${body.PrincipalType}:${body.PrincipalName}`);
    }
  }

  private emitAuth(outcome: AuthOutcome | undefined): void {
    if (!outcome) return;
    // A delegation-token login (SCRAM with tokenauth=true) names the token; the broker authenticates its owner,
    // known here when this proxy saw the token created.
    const owner = outcome.tokenId !== undefined ? this.ctx.tokenOwners.get(outcome.tokenId) : undefined;
    const known = outcome.tokenId !== undefined ? owner !== undefined : outcome.username !== undefined;
    const principal = owner ?? (known ? outcome.principal : 'User:UNKNOWN');
    if (outcome.success) {
      this.authenticated = true;
      this.info.principal = principal;
      this.principalUnknown = !known;
      if (!known) {
        this.ctx.metrics.unknownPrincipal.inc({ mechanism: mechanismLabel(outcome.mechanism) });
        this.log.warn({ mechanism: outcome.mechanism, tokenAuth: outcome.tokenId !== undefined || undefined, policy: this.ctx.config.audit.unknownPrincipal },
          'SASL login accepted by the broker, but the proxy cannot tell the principal; this connection is audited as User:UNKNOWN');
      }
    }
    this.info.principalClaimed = outcome.claimed || undefined;
    const e = outcome.errorCode !== undefined ? kafkaError(outcome.errorCode) : undefined;
    this.ctx.audit({
      category: 'authentication', method: 'Authentication', connection: { ...this.info, principal },
      resource: { type: 'Cluster', name: this.ctx.clusterId() }, operation: 'Authenticate',
      result: { errorCode: outcome.errorCode ?? (outcome.success ? 0 : undefined), errorName: outcome.success ? 'NONE' : e?.name, message: outcome.message },
      details: {
        mechanism: outcome.mechanism,
        ...(outcome.tokenId !== undefined ? { delegationTokenId: outcome.tokenId } : { username: outcome.username }),
        ...(outcome.claimed ? { principalClaimed: true } : {}),
        ...(outcome.success && !known ? { principalUnknown: true } : {}),
      },
      timeMs: Date.now(),
    });
  }

  /** The audit operations of a request and its response (undefined: none came). */
  private operations(entry: InFlight, response: Decoded | undefined): AuditOperation[] {
    return extractOperations(entry.header.apiKey, entry.request!, response, {
      apiVersion: entry.header.apiVersion, correlationId: entry.header.correlationId, clientId: entry.header.clientId,
      connection: { ...this.info }, timeMs: Date.now() - Math.round(performance.now() - entry.receivedAt), clusterId: this.ctx.clusterId(),
      topicName: (id) => this.ctx.topicIds.get(id),
    });
  }

  /** Turns a decoded request (and its response, if any) into audit operations and records them. */
  private auditPair(entry: InFlight, response: Decoded | undefined, undecodable: boolean, noResponseReason?: string): void {
    if (!entry.request || !auditable(entry.header.apiKey)) return;
    let ops: AuditOperation[];
    try {
      ops = this.operations(entry, response);
    } catch (err) {
      this.log.error({ err, api: entry.apiName }, 'audit extraction failed');
      this.ctx.metrics.auditDropped.inc({ reason: 'extract_error' });
      if (!entry.intentOps) return;
      // Written ahead: the operations are recorded as written, with an outcome the proxy could not read.
      ops = entry.intentOps.map((op) => ({ ...op, result: { message: `outcome unknown: the response could not be audited (${(err as Error).message})` } }));
    }
    if (undecodable) for (const op of ops) op.result.message ||= 'response could not be decoded';
    if (noResponseReason) for (const op of ops) op.result.message = noResponseReason;
    this.ctx.auditOutcome(entry.intent, ops);
  }

  private observeLatency(entry: InFlight): void {
    const now = performance.now();
    const [request, upstream] = this.ctx.metrics.latencyFor(entry.apiName);
    request.observe((now - entry.receivedAt) / 1000);
    upstream.observe((now - entry.forwardedAt) / 1000);
  }

  private toClient(bytes: Buffer): void {
    if (this.heldOutput) { this.heldOutput.push(bytes); return; }
    if (!this.client.write(bytes)) this.upstream?.pause();
  }

  /**
   * Holds this and every later response until new broker listeners are bound, so a client never learns a
   * proxy port before it accepts connections. Order is kept; the broker socket is paused meanwhile.
   */
  private holdUntil(ready: Promise<void>): void {
    if (this.heldOutput) return;
    this.heldOutput = [];
    this.upstream?.pause();
    void ready.then(() => {
      const held = this.heldOutput ?? [];
      this.heldOutput = undefined;
      if (this.closed) return;
      for (const b of held) this.toClient(b);
      this.upstream?.resume();
    });
  }

  // ---------------------------------------------------------------------------------------------------

  /** Number of requests waiting for a response; the server drains these on shutdown. */
  get pending(): number { return this.inflight.length + (this.streaming ? 1 : 0); }

  close(reason: string, errorReason?: string): void {
    if (this.closed) return;
    this.closed = true;
    if (errorReason && errorReason !== 'idle_timeout') {
      this.ctx.metrics.connectionErrors.inc({ reason: errorReason });
      this.log.warn({ reason, kind: errorReason }, 'connection closed by the proxy');
    } else if (this.ctx.log.isLevelEnabled('debug')) {
      this.log.debug({ reason }, 'connection closed'); // checked first: logging through this.log would make the child logger
    }
    for (const r of this.reads) r.release();
    this.emitAuth(this.sasl.onConnectionClosed());
    for (const entry of this.inflight.splice(0)) this.auditPair(entry, undefined, false, NO_RESPONSE);
    this.client.end();
    this.client.destroySoon?.();
    this.upstream?.end();
    setTimeout(() => { this.client.destroy(); this.upstream?.destroy(); }, 1000).unref();
    this.ctx.onConnectionClosed(this);
  }
}

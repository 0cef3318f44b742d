/**
 * One client connection and its upstream broker connection: sockets, backpressure, framing, close.
 *
 * Requests flow client → broker and responses broker → client. The exchange queue (exchange-queue.ts) pairs
 * them; the decode policy (decode-policy.ts) decides what is decoded, which is what the interceptors ask for
 * (interceptor.ts: SASL, client info, version capping, address rewriting, topic ids, audit); everything else,
 * Produce and Fetch payloads included, streams through chunk by chunk after its header (and Produce's acks) has
 * been read in full. A request an interceptor requires decoded that does not decode is not forwarded: the
 * connection closes, with a logged reason and a metric.
 *
 * The connection never guesses how the client's next bytes are framed: an interceptor can hold reading (SASL until
 * the broker answered a login step; audit while a request is written ahead), and bytes that arrive meanwhile wait,
 * unread, in the frame reader, in order.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { decodeMessage, decodeMessagePrefix, encodeMessage, DecodeError, type Decoded } from '../../protocol/codec.js';
import { readRequestHeader, responseBodyOffset, reframe, type RequestHeader } from '../../protocol/header.js';
import { API_KEY, apiName, apiSchema } from '../../protocol/registry.js';
import { inRange, parseRange } from '../../protocol/schema.js';
import type { ConnectionInfo } from '../audit/operation.js';
import { responseErrorCode } from '../metrics.js';
import { knownRequestVersion } from '../../protocol/facts.js';
import type { ProxyContext } from './context.js';
import { DecodePolicy, requestHeaderVersion, responseHeaderVersion } from './decode-policy.js';
import { ExchangeQueue } from './exchange-queue.js';
import { FrameError, FrameReader, type FrameMode } from './frame-reader.js';
import type { CloseSide, ConnectionControl, Exchange, Interceptor, RequestVerdict, ResponseStream } from './interceptor.js';
import { AddressRewriter } from './interceptors/address-rewriter.js';
import { ApiVersionsCapInterceptor } from './interceptors/api-versions.js';
import { AuditInterceptor } from './interceptors/audit.js';
import { ClientInfoInterceptor } from './interceptors/client-info.js';
import { DenialsInterceptor } from './interceptors/denials.js';
import { SaslInterceptor } from './interceptors/sasl.js';
import { TopicIdsInterceptor } from './interceptors/topic-ids.js';
import { REFUSAL_CODE, refusalBody } from './reject.js';
import { deliverReads, RESPONSE_READ_BYTES } from './reused-reads.js';
import { WriteBatch } from './write-batch.js';

const NO_RESPONSE = 'no response: the connection closed before the broker answered';
const ACKS_0 = 'acks=0: the broker sends no response';
const UNSUPPORTED_VERSION = 35;
/** How long a client's departure waits for the broker's verdict on a SASL step already sent. */
const SASL_VERDICT_WAIT_MS = 2000;
const API_VERSIONS_MAX = parseRange(apiSchema(API_KEY.ApiVersions)!.request.validVersions)!.max;

let nextConnectionId = 1;

/**
 * A new exchange, every field set in one order: exchanges made in different places then share one object shape,
 * so the code that handles each response stays monomorphic in V8 (a "wrong map" there cost re-optimizations).
 */
function exchange(header: RequestHeader, request: Decoded | undefined, receivedAt: number, expectResponse: boolean): Exchange {
  return { header, apiName: apiName(header.apiKey), request, receivedAt, forwardedAt: receivedAt, expectResponse, synthetic: undefined, audit: undefined };
}

/**
 * Metric labels for an API and version. Both come from the client, so values outside what Kafka defines are
 * folded into "unknown" / "unsupported": a hostile client must not be able to create unbounded series.
 */
function apiLabels(apiKey: number, version: number): { api: string; version: string } {
  const name = apiName(apiKey);
  if (name === `Api${apiKey}`) return { api: 'unknown', version: 'unknown' };
  return { api: name, version: version >= 0 && version <= 30 ? String(version) : 'unsupported' };
}

export class ProxyConnection implements ConnectionControl {
  readonly id = `c${nextConnectionId++}`;
  readonly info: ConnectionInfo;
  /** This connection's logger, made on first use: most connections never log, and each pino child holds about 450 bytes. */
  private logger: Logger | undefined;
  private readonly sasl: SaslInterceptor;
  private readonly interceptors: Interceptor[];
  /** The interceptors that may transform a streamed response (asked per streamed response). */
  private readonly streamers: Interceptor[];
  private readonly policy: DecodePolicy;
  private readonly exchanges: ExchangeQueue;
  private readonly requests: FrameReader;
  private readonly responses: FrameReader;
  private upstream: Socket | undefined;
  /** What goes to the broker and to the client (write-batch.ts); the broker's exists once it is connected. */
  private brokerOut: WriteBatch | undefined;
  private readonly clientOut: WriteBatch;
  /** The transform of the response streaming through, if an interceptor gave one (leader hints). */
  private stream: ResponseStream | undefined;
  private closed = false;
  /** The client left while a SASL step was in flight: the broker's verdict is awaited, nothing more is sent to the client. */
  private clientGone = false;
  private readonly reads: Array<{ release(): void }> = [];
  /** API/version/side keys already reported as undecodable on this connection (made on the first report). */
  private reportedUndecodable: Set<string> | undefined;
  /** Responses waiting for new broker listeners to be bound (see holdResponsesUntil). */
  private heldOutput: Buffer[] | undefined;
  readonly remoteAddress: string;

  constructor(
    readonly ctx: ProxyContext,
    private readonly client: Socket,
    readonly target: { kind: 'bootstrap' } | { kind: 'broker'; nodeId: number },
    private readonly listenerName: string,
    /** The client's address from a PROXY protocol header (server.ts), when a balancer stands between. */
    peer?: { address: string; port: number },
  ) {
    this.remoteAddress = peer?.address ?? client.remoteAddress ?? 'unknown';
    const clientAddress = peer ? `${peer.address}:${peer.port}` : `${client.remoteAddress}:${client.remotePort}`;
    this.info = {
      connectionId: this.id, clientAddress, principal: 'User:ANONYMOUS', securityProtocol: ctx.clientSecurityProtocol,
    };
    this.sasl = new SaslInterceptor(this);
    // Order matters where concerns meet: SASL first (it may close before anything else looks at a request), the
    // audit last (its verdict may wait for the journal; its events use what the others learned).
    this.interceptors = [
      this.sasl, new ClientInfoInterceptor(this), new ApiVersionsCapInterceptor(), new AddressRewriter(this),
      new TopicIdsInterceptor(this), new AuditInterceptor(this, this.sasl), new DenialsInterceptor(this),
    ];
    this.streamers = this.interceptors.filter((i) => i.streamResponse);
    // Behind towards the client: stop reading the broker, and the client too. The proxy answers some requests itself
    // (ApiVersions above the known versions, refusals): a client that sends those and never reads its answers
    // would otherwise have them queued here without bound. Kafka's broker mutes such a client the same way.
    this.clientOut = new WriteBatch(client, () => { this.upstream?.pause(); this.client.pause(); });
    const limits = ctx.config.limits;
    this.policy = new DecodePolicy(this.interceptors, limits.maxAuditedRequestBytes, ctx.config.audit.failMode === 'closed');
    this.exchanges = new ExchangeQueue((bytes) => this.toClient(bytes), (ex) => this.observeLatency(ex));
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

  get log(): Logger {
    return this.logger ??= this.ctx.log.child({ conn: this.id, client: this.info.clientAddress, listener: this.listenerName });
  }

  /** Connects upstream, then starts relaying. Client bytes wait in the kernel until then (socket paused). */
  async start(): Promise<void> {
    const { client, ctx } = this;
    client.setNoDelay(true);
    // However the client leaves (FIN, RST, close), a SASL step it had in flight still gets the broker's verdict.
    client.on('error', (err) => {
      if (this.clientGone) return;
      if (this.upstream && this.sasl.verdictPending) { this.onClientClosed(); return; }
      this.close(`client socket error: ${err.message}`, 'client_error', 'client');
    });
    client.on('end', () => { if (this.sasl.verdictPending) this.onClientClosed(); });
    client.on('close', () => this.onClientClosed());
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
    up.on('error', (err) => this.close(`upstream socket error: ${err.message}`, 'upstream_error', 'broker'));
    up.on('close', () => this.close('broker closed the connection', undefined, 'broker'));
    // The client is read only while neither socket is behind and no interceptor holds its requests.
    up.on('drain', () => { if (!this.requests.isHeld && !client.writableNeedDrain) client.resume(); });
    client.on('drain', () => {
      if (!this.heldOutput) up.resume(); // answers held for new listeners resume the broker when they are sent
      if (!this.closed && !this.requests.isHeld && !up.writableNeedDrain) client.resume();
    });
    // Everything one read yields leaves in one write (write-batch.ts).
    this.brokerOut = new WriteBatch(up, () => client.pause());
    const relay = (out: WriteBatch, reader: FrameReader, counted: { inc(n: number): void }) => (chunk: Buffer) => {
      out.begin();
      try { // guard() inlined: this runs per read
        counted.inc(chunk.length);
        reader.push(chunk);
      } catch (err) {
        this.failed(err);
      }
      out.end();
    };
    const fromBroker = relay(this.clientOut, this.responses, this.ctx.metrics.bytesToClient);
    const fromClient = relay(this.brokerOut, this.requests, this.ctx.metrics.bytesToBroker);
    this.reads.push(deliverReads(up, fromBroker, () => this.responseChunkFree(), RESPONSE_READ_BYTES));
    this.reads.push(deliverReads(client, fromClient, () => this.requestChunkFree()));
  }

  /** Whether nothing refers to the last chunk read from the client any more (see reused-reads.ts). */
  private requestChunkFree(): boolean {
    return !this.closed && !this.requests.retainsInput && this.upstream!.writableLength === 0;
  }

  /** Whether nothing refers to the last chunk read from the broker any more. */
  private responseChunkFree(): boolean {
    return !this.closed && !this.responses.retainsInput && !this.stream?.holding && !this.heldOutput && this.client.writableLength === 0;
  }

  private describeTarget(): string {
    return this.target.kind === 'bootstrap' ? 'bootstrap servers' : `broker ${this.target.nodeId}`;
  }

  /** Runs a frame-processing step; a malformed stream closes this connection only. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    const reason = err instanceof FrameError ? err.reason : err instanceof DecodeError ? 'malformed' : 'internal_error';
    this.close(`${(err as Error).message}`, reason);
    if (reason === 'internal_error') this.log.error({ err }, 'unexpected error while relaying; connection closed');
  }

  // ---------------------------------------------------------------------------------------------------
  // ConnectionControl: what interceptors may do

  holdRequests(): void {
    this.requests.hold();
    this.client.pause();
  }

  releaseRequests(): void {
    if (this.closed) return;
    this.guard(() => this.requests.release());
    if (!this.closed && !this.requests.isHeld && !this.upstream!.writableNeedDrain && !this.client.writableNeedDrain) this.client.resume();
  }

  /**
   * Holds this and every later response until new broker listeners are bound, so a client never learns a
   * proxy port before it accepts connections. Order is kept; the broker socket is paused meanwhile.
   */
  holdResponsesUntil(ready: Promise<void>): void {
    if (this.heldOutput) return;
    this.heldOutput = [];
    this.upstream?.pause();
    void ready.then(() => {
      const held = this.heldOutput ?? [];
      this.heldOutput = undefined;
      if (this.closed) return;
      for (const b of held) this.toClient(b);
      if (!this.client.writableNeedDrain) this.upstream?.resume(); // else the client's 'drain' resumes it
    });
  }

  reportUndecodable(apiKey: number, version: number, side: 'request' | 'response', err: Error): void {
    const key = `${apiKey}:${version}:${side}`;
    this.ctx.metrics.undecodable.inc({ ...apiLabels(apiKey, version), reason: side });
    // Logged once per (API, version, side) and connection, for at most 64 of them: the versions come from the
    // client, and a connection sending thousands of made-up ones must not grow this set or flood the log.
    if (this.reportedUndecodable?.has(key) || (this.reportedUndecodable?.size ?? 0) >= 64) return;
    if (!this.ctx.reportUndecodableOnce(`${key}:${this.info.principal}`)) return;
    (this.reportedUndecodable ??= new Set()).add(key);
    this.log.warn({ apiKey, api: apiName(apiKey), apiVersion: version, side, principal: this.info.principal, reason: err.message },
      'frame forwarded without decoding');
  }

  /**
   * A request whose body decoded completely with bytes after it: the broker reads the same body and ignores what
   * follows (librdkafka writes the last tagged-fields byte of some requests twice), so it is audited as decoded and
   * forwarded whole; counted, and logged once per API version.
   */
  private reportTrailingBytes(apiKey: number, version: number, trailing: number): void {
    this.ctx.metrics.requestTrailingBytes.inc(apiLabels(apiKey, version));
    if (!this.ctx.reportUndecodableOnce(`trailing:${apiKey}:${version}`)) return;
    this.log.info({ api: apiName(apiKey), apiVersion: version, trailing, principal: this.info.principal },
      'request has bytes after its body; the broker ignores them, so it is audited as decoded and forwarded');
  }

  /**
   * ApiVersions above the versions the proxy knows (franz-go opens with v5): answered here as a broker answers a
   * version it does not support (KIP-511: UNSUPPORTED_VERSION in a v0 body carrying ApiVersions' own range), so the
   * client retries at a version whose response the proxy can decode and cap. Forwarded, a newer broker's answer
   * would pass uncapped and could offer versions the proxy cannot follow.
   */
  private answerUnsupportedApiVersions(header: RequestHeader): void {
    const schema = apiSchema(API_KEY.ApiVersions)!;
    const range = parseRange(schema.request.validVersions)!;
    const body = encodeMessage(schema.response, 0, {
      ErrorCode: UNSUPPORTED_VERSION,
      ApiKeys: [{ ApiKey: API_KEY.ApiVersions, MinVersion: range.min, MaxVersion: range.max }],
    });
    const head = Buffer.alloc(4); // ApiVersions responses always have header v0
    head.writeInt32BE(header.correlationId, 0);
    this.countRequest(API_KEY.ApiVersions, header.apiVersion);
    this.log.debug({ apiVersion: header.apiVersion, max: range.max }, 'ApiVersions above the known versions answered with UNSUPPORTED_VERSION');
    const ex = exchange(header, undefined, performance.now(), true);
    ex.synthetic = reframe(head, body);
    this.exchanges.pushSynthetic(ex);
  }

  // ---------------------------------------------------------------------------------------------------
  // client → broker

  private classifyRequest(size: number, head: Buffer): FrameMode {
    if (this.sasl.rawMode) return 'buffer'; // a raw SASL token, which the SASL interceptor expects now
    const plan = this.policy.planRequest(size, head);
    if (plan.mode !== 'stream') return plan.mode;
    const { header } = plan;
    if (plan.oversizedAudit) this.ctx.metrics.auditDropped.inc({ reason: 'too_large_to_audit' });
    // An API Kafka does not have, or a version our schema does not know: relayed as is, but counted and logged.
    if (!knownRequestVersion(header.apiKey, header.apiVersion)) {
      const schema = apiSchema(header.apiKey);
      if (schema || apiName(header.apiKey) === `Api${header.apiKey}`) {
        this.reportUndecodable(header.apiKey, header.apiVersion, 'request',
          new Error(schema ? `version ${header.apiVersion} is not in the schema (valid ${schema.request.validVersions})` : 'unknown API key'));
      }
    }
    const now = performance.now();
    this.countRequest(header.apiKey, header.apiVersion);
    if (plan.expectResponse) {
      this.exchanges.push(exchange(header, undefined, now, true));
    }
    return 'stream';
  }

  /** `whole`: the frame with its size prefix, as received (forwarded as is). */
  private onRequestFrame(frame: Buffer, whole: Buffer): void {
    const receivedAt = performance.now();
    if (this.sasl.rawMode) {
      this.sasl.onRawClientToken(frame);
      this.toUpstream(whole);
      this.sasl.onRawClientTokenForwarded();
      return;
    }
    const apiKey = frame.readInt16BE(0);
    const version = frame.readInt16BE(2);
    const header = readRequestHeader(frame, requestHeaderVersion(apiKey, version));
    const need = this.policy.requestNeed(apiKey);
    let request: Decoded | undefined;
    const schema = apiSchema(apiKey);
    if (apiKey === API_KEY.ApiVersions && version > API_VERSIONS_MAX) { this.answerUnsupportedApiVersions(header); return; }
    if (schema) {
      try {
        const { value, trailing } = decodeMessagePrefix(schema.request, version, frame.subarray(header.bodyOffset));
        request = value;
        if (trailing > 0) this.reportTrailingBytes(apiKey, version, trailing);
      } catch (err) {
        // A request an interceptor requires (audited, SASL) that does not decode must not reach the broker: Kafka's
        // own parser is laxer (it ignores trailing bytes, for one), so forwarding would let it through unaudited.
        if (need === 'required') {
          const supported = inRange(version, schema.request.validVersions);
          throw new FrameError(`${apiName(apiKey)} v${version} request from ${this.info.principal} could not be decoded `
            + `(${(err as Error).message}); not forwarded, as it could not be audited`, supported ? 'malformed' : 'unsupported_version');
        }
        this.reportUndecodable(apiKey, version, 'request', err as Error);
      }
    } else {
      this.reportUndecodable(apiKey, version, 'request', new Error('no schema for this API'));
    }
    const ex = exchange(header, request, receivedAt, apiKey !== API_KEY.Produce || request?.Acks !== 0);
    if (!request) { this.forward(ex, whole); return; }
    this.decide(ex, whole, 0);
  }

  /**
   * Asks the interceptors, from the `from`-th on, what to do with a decoded request. A verdict that is a promise
   * holds the client's later bytes until it settles; the frame is copied, as the read buffer is reused meanwhile.
   */
  private decide(ex: Exchange, whole: Buffer, from: number): void {
    for (let i = from; i < this.interceptors.length; i++) {
      const verdict = this.interceptors[i].onRequest?.(ex);
      if (verdict === undefined) continue;
      if (verdict instanceof Promise) {
        const frame = Buffer.from(whole);
        this.holdRequests();
        verdict.then((v) => {
          if (this.closed) { for (const x of this.interceptors) x.onAbandoned?.(ex); return; }
          this.guard(() => { if (!this.apply(ex, v)) this.decide(ex, frame, i + 1); });
          this.releaseRequests();
        }, (err: Error) => {
          this.close(`${ex.apiName}: ${err.message}`, 'internal_error');
          this.log.error({ err }, 'an interceptor failed; connection closed');
        });
        return;
      }
      if (this.apply(ex, verdict)) return;
    }
    this.forward(ex, whole);
  }

  /** Carries out a refusal or a close; false when the verdict is to go on. */
  private apply(ex: Exchange, verdict: RequestVerdict): boolean {
    if (verdict === undefined) return false;
    if ('close' in verdict) throw new FrameError(verdict.close, verdict.kind);
    if (this.refuse(ex, verdict.refuse)) return true;
    throw new FrameError(`${ex.apiName} refused (${verdict.refuse}), and the API has no refusal response; connection closed`, 'malformed');
  }

  /** Sends a request on; queues it for its response, or (acks=0 Produce) tells the interceptors none will come. */
  private forward(ex: Exchange, whole: Buffer): void {
    ex.forwardedAt = performance.now();
    this.countRequest(ex.header.apiKey, ex.header.apiVersion);
    if (ex.expectResponse) this.exchanges.push(ex);
    this.toUpstream(whole);
    for (const i of this.interceptors) i.onForwarded?.(ex);
    if (!ex.expectResponse) for (const i of this.interceptors) i.onUnanswered?.(ex, ACKS_0);
  }

  /** Answers a request with a POLICY_VIOLATION response instead of forwarding it. */
  private refuse(ex: Exchange, message: string): boolean {
    const { header, request } = ex;
    const schema = apiSchema(header.apiKey)!;
    const body = refusalBody(header.apiKey, header.apiVersion, request!, { code: REFUSAL_CODE, message });
    if (!body) return false;
    const flexible = inRange(header.apiVersion, schema.response.flexibleVersions);
    const head = Buffer.alloc(flexible ? 5 : 4);
    head.writeInt32BE(header.correlationId, 0);
    this.countRequest(header.apiKey, header.apiVersion);
    this.ctx.metrics.auditRefused.inc({ api: apiName(header.apiKey) });
    this.log.warn({ api: apiName(header.apiKey), principal: this.info.principal, correlationId: header.correlationId }, message);
    const answered = exchange(header, undefined, ex.receivedAt, true);
    answered.synthetic = reframe(head, body);
    this.exchanges.pushSynthetic(answered);
    return true;
  }

  private countRequest(apiKey: number, version: number): void {
    // The cell's key folds what apiLabels folds (unknown keys, versions outside 0..30): both come from the client,
    // and one cell per made-up (key, version) pair would let it grow the process's memory without bound.
    const known = apiName(apiKey) !== `Api${apiKey}`;
    const key = known ? apiKey : -1;
    const v = known && version >= 0 && version <= 30 ? version : -1;
    this.ctx.metrics.requestsFor(key, v, () => apiLabels(apiKey, version)).n++;
  }

  private toUpstream(bytes: Buffer): void {
    this.brokerOut!.write(bytes);
  }

  // ---------------------------------------------------------------------------------------------------
  // broker → client

  private classifyResponse(size: number, head: Buffer): FrameMode {
    if (this.sasl.rawMode) return 'buffer';
    if (size < 4) throw new FrameError(`response frame of ${size} bytes is too short`, 'malformed');
    const correlationId = head.readInt32BE(0);
    const next = this.exchanges.head();
    if (next && next.header.correlationId === correlationId && this.policy.responseWanted(next)) return 'buffer';
    const ex = this.exchanges.pop(correlationId);
    this.exchanges.startStreaming(ex);
    for (const i of this.streamers) {
      this.stream = i.streamResponse!(ex, size);
      if (this.stream) break;
    }
    return 'stream';
  }

  private onResponsePassthrough(bytes: Buffer, done: boolean): void {
    const stream = this.stream;
    if (stream) {
      const now = stream.push(bytes);
      if (now.length > 0) this.toClient(now);
      if (!done) return;
      this.stream = undefined;
      const tail = stream.finish();
      if (tail.length > 0) this.toClient(tail);
    } else {
      this.toClient(bytes);
    }
    if (done) {
      const ex = this.exchanges.endStreaming();
      if (ex) this.observeLatency(ex);
    }
  }

  private onResponseFrame(frame: Buffer, whole: Buffer): void {
    if (this.sasl.rawMode) {
      this.sasl.onRawServerToken(frame);
      this.toClient(whole);
      this.sasl.onRawServerTokenSent();
    } else {
      const ex = this.exchanges.pop(frame.readInt32BE(0));
      const out = this.processResponse(ex, frame, whole);
      this.toClient(out);
      this.observeLatency(ex);
      this.exchanges.flush(); // refusals queued behind this request go out now, not with the next response
      for (const i of this.interceptors) i.onResponseSent?.(ex);
    }
    if (this.clientGone && !this.sasl.verdictPending) this.close('client closed the connection during SASL authentication', undefined, 'client');
  }

  /**
   * The client went away. When it had a SASL step in flight, the broker's verdict is still awaited (briefly), so
   * the login is recorded as the broker decided: a client that sends a password guess and leaves at once is a
   * failed (or successful) login, not an unknown one.
   */
  private onClientClosed(): void {
    if (this.closed || this.clientGone) return;
    if (!this.upstream || !this.sasl.verdictPending) { this.close('client closed the connection', undefined, 'client'); return; }
    this.clientGone = true;
    this.upstream.resume();
    setTimeout(() => this.close(`client closed the connection during SASL authentication; the broker gave no verdict within ${SASL_VERDICT_WAIT_MS} ms`,
      undefined, 'client'), SASL_VERDICT_WAIT_MS).unref();
  }

  /** Decodes a response and hands it to the interceptors; returns the frame to send (re-encoded if one changed it). */
  private processResponse(ex: Exchange, frame: Buffer, whole: Buffer): Buffer {
    const { apiKey, apiVersion } = ex.header;
    const schema = apiSchema(apiKey);
    if (!schema) return whole;
    const wanted = this.policy.bodyWanted(ex, frame);
    if (wanted === 'no') {
      for (const i of this.interceptors) i.onResponse?.(ex, undefined);
      return whole;
    }
    let body: Decoded | undefined;
    let bodyOffset = 4;
    let decodedVersion = apiVersion;
    try {
      bodyOffset = responseBodyOffset(frame, responseHeaderVersion(apiKey, apiVersion));
      body = decodeMessage(schema.response, apiVersion, frame.subarray(bodyOffset));
    } catch (err) {
      // A broker that does not support the requested ApiVersions version answers in v0 (KIP-511).
      if (apiKey === API_KEY.ApiVersions && apiVersion > 0) {
        try { body = decodeMessage(schema.response, 0, frame.subarray(bodyOffset)); decodedVersion = 0; } catch { /* reported below */ }
      }
      if (!body) this.reportUndecodable(apiKey, apiVersion, 'response', err as Error);
    }
    // Counted only where every response of the API is decoded: the denials' scan decodes only answers that may
    // carry a denial, and counting those would skew the API's error codes.
    if (body && wanted === 'always') this.ctx.metrics.responses.inc({ api: ex.apiName, error_code: String(responseErrorCode(body)) });
    let rewritten = false;
    for (const i of this.interceptors) if (i.onResponse?.(ex, body)) rewritten = true;
    if (!rewritten || !body) return whole;
    return reframe(frame.subarray(0, bodyOffset), encodeMessage(schema.response, decodedVersion, body));
  }

  private observeLatency(ex: Exchange): void {
    const now = performance.now();
    const [request, upstream] = this.ctx.metrics.latencyFor(ex.apiName);
    request.observe((now - ex.receivedAt) / 1000);
    upstream.observe((now - ex.forwardedAt) / 1000);
  }

  private toClient(bytes: Buffer): void {
    if (this.clientGone || !this.client.writable) return;
    if (this.heldOutput) { this.heldOutput.push(bytes); return; }
    this.clientOut.write(bytes);
  }

  // ---------------------------------------------------------------------------------------------------

  /** Number of requests waiting for a response; the server drains these on shutdown. */
  get pending(): number { return this.exchanges.pending; }

  /** `by`: who ended it, for the interceptors (a login cut short names who cut it). */
  close(reason: string, errorReason?: string, by: CloseSide = 'proxy'): void {
    if (this.closed) return;
    this.closed = true;
    if (errorReason && errorReason !== 'idle_timeout') {
      this.ctx.metrics.connectionErrors.inc({ reason: errorReason });
      this.log.warn({ reason, kind: errorReason }, 'connection closed by the proxy');
    } else if (this.ctx.log.isLevelEnabled('debug')) {
      this.log.debug({ reason }, 'connection closed'); // checked first: logging through this.log would make the child logger
    }
    for (const r of this.reads) r.release();
    for (const i of this.interceptors) i.onClose?.(by);
    for (const ex of this.exchanges.drain()) for (const i of this.interceptors) i.onUnanswered?.(ex, NO_RESPONSE);
    // Frames of the read being handled that went through before the close leave before the FIN, as they did when
    // each was written at once.
    this.brokerOut?.end();
    this.clientOut.end();
    this.client.end();
    this.client.destroySoon?.();
    this.upstream?.end();
    setTimeout(() => { this.client.destroy(); this.upstream?.destroy(); }, 1000).unref();
    this.ctx.onConnectionClosed(this);
  }
}

/**
 * SASL, observed (never terminated): who the client logs in as, and whether the broker accepted it, so every
 * later event names the principal the broker authenticated. The framing rules that keep that true:
 *
 * - after a SaslHandshake or SaslAuthenticate request, or a raw v0 token, nothing more is read from the client
 *   until the broker answered: the answer decides whether raw tokens or Kafka requests follow, and as whom;
 * - on a SASL listener, before a login succeeded, only ApiVersions and the SASL requests pass (the broker takes
 *   nothing else then); this also shuts the 0.9-era raw GSSAPI path, which the proxy cannot follow;
 * - SaslHandshake v0 is followed only for mechanisms whose raw exchange has an end the proxy can see.
 *
 * A login the proxy cannot attribute (a delegation token it did not see created, a mechanism whose tokens name
 * nobody) is recorded as User:UNKNOWN, counted and logged; the audit interceptor may refuse its operations.
 */
import type { Decoded } from '../../../protocol/codec.js';
import { kafkaError } from '../../../protocol/errors.js';
import { API_KEY } from '../../../protocol/registry.js';
import { mechanismLabel } from '../../metrics.js';
import { FrameError } from '../frame-reader.js';
import type { CloseSide, ConnectionControl, DecodeNeed, Exchange, Interceptor, RequestVerdict } from '../interceptor.js';
import { SaslObserver, type AuthOutcome } from '../sasl-observer.js';

/** SASL mechanisms whose v0 (raw token) exchange the proxy can follow to its end; others are refused on v0. */
const V0_FOLLOWABLE = /^(PLAIN|SCRAM-SHA-(256|512)|OAUTHBEARER)$/;

const isSasl = (apiKey: number) => apiKey === API_KEY.SaslHandshake || apiKey === API_KEY.SaslAuthenticate;

export class SaslInterceptor implements Interceptor {
  private readonly observer = new SaslObserver();
  /** Client reads are held until the broker answers the SASL request (or raw token) just forwarded. */
  private awaitingAnswer = false;
  /** A SASL exchange succeeded on this connection. */
  private authenticated = false;
  /** Authenticated, but the proxy cannot tell as whom. */
  principalUnknown = false;
  /** The SASL request the login's event refers to (raw v0 tokens have no header: the handshake's). */
  private lastRequest: { clientId: string | null; correlationId: number; apiKey: number; apiVersion: number } | undefined;
  private readonly saslListener: boolean;

  constructor(private readonly conn: ConnectionControl) {
    this.saslListener = conn.ctx.clientSecurityProtocol.startsWith('SASL');
  }

  /** After a successful SaslHandshake v0, raw tokens (no Kafka header) flow until the exchange ends. */
  get rawMode(): boolean { return this.observer.rawMode; }

  decodeRequest(apiKey: number): DecodeNeed { return isSasl(apiKey) ? 'required' : undefined; }

  decodeResponse(ex: Exchange): boolean {
    // CreateDelegationToken responses name the owner of a token that may later be used to log in.
    return isSasl(ex.header.apiKey) || ex.header.apiKey === API_KEY.CreateDelegationToken;
  }

  onRequestHeader(apiKey: number): void {
    if (this.authenticated || !this.saslListener) return;
    if (apiKey === API_KEY.ApiVersions || isSasl(apiKey)) return;
    throw new FrameError(`request with API key ${apiKey} before SASL authentication succeeded: a SASL listener takes only ApiVersions, `
      + 'SaslHandshake and SaslAuthenticate then; not forwarded', 'unauthenticated_request');
  }

  onRequest(ex: Exchange): RequestVerdict {
    const request = ex.request!;
    const { apiKey, apiVersion } = ex.header;
    if (isSasl(apiKey)) this.lastRequest = { clientId: ex.header.clientId, correlationId: ex.header.correlationId, apiKey, apiVersion };
    if (apiKey === API_KEY.SaslHandshake) {
      if (apiVersion === 0 && !V0_FOLLOWABLE.test(request.Mechanism ?? '')) {
        return {
          close: `SaslHandshake v0 for mechanism ${JSON.stringify(String(request.Mechanism).slice(0, 64))}: the raw token exchange that follows `
            + 'cannot be followed to its end by the proxy (use a client that sends SaslAuthenticate); not forwarded',
          kind: 'sasl_unsupported',
        };
      }
      this.observer.onHandshakeRequest(request.Mechanism, apiVersion);
      this.conn.info.saslMechanism = request.Mechanism;
    } else if (apiKey === API_KEY.SaslAuthenticate) {
      this.observer.onClientToken(request.AuthBytes);
      request.AuthBytes = undefined; // drop the token (it may hold a password) as soon as it is read
    }
    return undefined;
  }

  onForwarded(ex: Exchange): void {
    if (isSasl(ex.header.apiKey)) this.awaitAnswer();
  }

  onResponse(ex: Exchange, body: Decoded | undefined): boolean {
    const key = ex.header.apiKey;
    if (body && key === API_KEY.SaslHandshake) {
      this.emit(this.observer.onHandshakeResponse(body.ErrorCode, kafkaError(body.ErrorCode).message));
    } else if (body && key === API_KEY.SaslAuthenticate) {
      const message = body.ErrorMessage ?? (body.ErrorCode ? kafkaError(body.ErrorCode).message : '');
      this.emit(this.observer.onServerToken(body.ErrorCode, message, body.AuthBytes));
    } else if (body && key === API_KEY.CreateDelegationToken && body.ErrorCode === 0 && body.TokenId && body.PrincipalName) {
      // A token login authenticates as User:<owner name>, whatever principal type the owner was given: the broker
      // takes only the owner's name as the SASL authorization id.
      this.conn.ctx.tokenOwners.set(body.TokenId, `User:${body.PrincipalName}`);
    }
    return false;
  }

  /** Client reads resume once the answer has gone out (processing them may close the connection). */
  onResponseSent(ex: Exchange): void {
    if (isSasl(ex.header.apiKey)) this.answered();
  }

  /** A raw v0 token from the client (the frame without its size prefix). */
  onRawClientToken(token: Buffer): void {
    this.observer.onClientToken(token);
  }

  /** The raw token has gone to the broker: wait for its answer. */
  onRawClientTokenForwarded(): void { this.awaitAnswer(); }

  /** A raw v0 token from the broker: reaching the proxy means the step succeeded (a failure closes the socket). */
  onRawServerToken(token: Buffer): void {
    this.emit(this.observer.onServerToken(0, '', token));
  }

  /** The raw token went on to the client: client reads resume. */
  onRawServerTokenSent(): void { this.answered(); }

  /** A SASL request (or raw token) went to the broker and its answer has not come back yet. */
  get verdictPending(): boolean { return this.awaitingAnswer; }

  onClose(by: CloseSide): void {
    this.emit(this.observer.onConnectionClosed(by));
  }

  private awaitAnswer(): void {
    this.awaitingAnswer = true;
    this.conn.holdRequests();
  }

  private answered(): void {
    if (!this.awaitingAnswer) return;
    this.awaitingAnswer = false;
    this.conn.releaseRequests();
  }

  private emit(outcome: AuthOutcome | undefined): void {
    if (!outcome) return;
    const { ctx, info } = this.conn;
    // A delegation-token login (SCRAM with tokenauth=true) names the token; the broker authenticates its owner,
    // known here when this proxy saw the token created.
    const owner = outcome.tokenId !== undefined ? ctx.tokenOwners.get(outcome.tokenId) : undefined;
    const known = outcome.tokenId !== undefined ? owner !== undefined : outcome.username !== undefined;
    const principal = owner ?? (known ? outcome.principal : 'User:UNKNOWN');
    if (outcome.success) {
      this.authenticated = true;
      info.principal = principal;
      this.principalUnknown = !known;
      if (!known) {
        ctx.metrics.unknownPrincipal.inc({ mechanism: mechanismLabel(outcome.mechanism) });
        this.conn.log.warn({ mechanism: outcome.mechanism, tokenAuth: outcome.tokenId !== undefined || undefined, policy: ctx.config.audit.unknownPrincipal },
          'SASL login accepted by the broker, but the proxy cannot tell the principal; this connection is audited as User:UNKNOWN');
      }
    }
    info.principalClaimed = outcome.claimed || undefined;
    const e = outcome.errorCode !== undefined ? kafkaError(outcome.errorCode) : undefined;
    ctx.audit({
      category: 'authentication', method: 'Authentication', connection: { ...info, principal }, ...this.lastRequest,
      resource: { type: 'Cluster', name: ctx.clusterId() }, operation: 'Authenticate',
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
}

/**
 * Follows a connection's SASL exchange without terminating it: the mechanism from SaslHandshake, the user
 * name from the client's first token, and success or failure from the broker's answers. Handles both the
 * SaslAuthenticate path (handshake v1) and the v0 path where raw tokens follow the handshake with no Kafka
 * header. Passwords are never kept: tokens are parsed in place and dropped.
 */
import { parsePlain, parseScramClientFirst, parseOAuthBearer, principalFor } from '../audit/sasl-tokens.js';

export interface AuthOutcome {
  success: boolean;
  mechanism: string;
  /** The user name the client presented, if it could be read. */
  username?: string;
  /** A delegation-token login (SCRAM, tokenauth=true): the token id the client presented (the broker authenticates its owner). */
  tokenId?: string;
  principal: string;
  claimed: boolean;
  errorCode?: number;
  message: string;
}

const SCRAM = /^SCRAM-SHA-(256|512)$/;

export class SaslObserver {
  mechanism: string | undefined;
  username: string | undefined;
  tokenId: string | undefined;
  claimed = false;
  /** The principal the broker accepted; ANONYMOUS until a SASL exchange succeeds. */
  principal = 'User:ANONYMOUS';
  /** After a successful SaslHandshake v0, raw tokens (no Kafka header) flow until the exchange ends. */
  rawMode = false;
  private pendingV0 = false;
  private clientTokens = 0;
  private serverTokens = 0;

  onHandshakeRequest(mechanism: string, version: number): void {
    this.mechanism = mechanism;
    this.pendingV0 = version === 0;
    this.clientTokens = 0;
    this.serverTokens = 0;
    this.username = undefined;
    this.tokenId = undefined;
    this.exchangeDone = false;
    this.pendingFailure = false;
  }

  /** Returns an outcome when the handshake itself fails (e.g. UNSUPPORTED_SASL_MECHANISM). */
  onHandshakeResponse(errorCode: number, message: string): AuthOutcome | undefined {
    if (errorCode !== 0) {
      this.pendingV0 = false;
      return this.outcome(false, errorCode, message || 'SASL handshake rejected');
    }
    if (this.pendingV0) this.rawMode = true;
    this.pendingV0 = false;
    return undefined;
  }

  /** A client token, from SaslAuthenticate.AuthBytes or a raw v0 frame. */
  onClientToken(token: Buffer): void {
    this.clientTokens++;
    if (this.clientTokens !== 1) return;
    const mech = this.mechanism ?? '';
    if (mech === 'PLAIN') this.username = parsePlain(token)?.username;
    else if (SCRAM.test(mech)) {
      const first = parseScramClientFirst(token);
      if (first?.tokenAuth) this.tokenId = first.username; else this.username = first?.username;
    }
    else if (mech === 'OAUTHBEARER') {
      const r = parseOAuthBearer(token);
      this.username = r?.subject;
      this.claimed = r !== undefined;
    }
  }

  /**
   * A broker answer to a token (SaslAuthenticate response, or a raw v0 frame with errorCode 0). `token`: the
   * broker's bytes, looked at only for OAUTHBEARER, whose failure is a non-empty error challenge (RFC 7628 §3.2.2)
   * that the client acknowledges before the broker reports the failure.
   */
  onServerToken(errorCode: number, message: string, token?: Buffer | null): AuthOutcome | undefined {
    this.serverTokens++;
    if (errorCode !== 0) {
      this.rawMode = false;
      return this.outcome(false, errorCode, message || 'authentication failed');
    }
    if (this.mechanism === 'OAUTHBEARER' && token && token.length > 0) {
      this.pendingFailure = true; // an error challenge: not authenticated, whatever comes next
      return undefined;
    }
    if (this.pendingFailure || !this.exchangeComplete()) return undefined;
    this.rawMode = false;
    return this.outcome(true, 0, '');
  }

  /**
   * The connection ended in the middle of an exchange. Closed by the broker: on the v0 path that is how it says
   * no. Closed by the client or the proxy: the broker gave no verdict, so the outcome is unknown (no error code).
   */
  onConnectionClosed(by: 'client' | 'broker' | 'proxy' = 'broker'): AuthOutcome | undefined {
    if (this.mechanism === undefined || this.clientTokens === 0 || this.exchangeDone) return undefined;
    const who = by === 'broker' ? 'the broker' : by === 'client' ? 'the client' : 'the proxy';
    return this.outcome(false, undefined, `connection closed by ${who} during SASL authentication`);
  }

  private exchangeDone = false;
  private pendingFailure = false;

  private exchangeComplete(): boolean {
    const mech = this.mechanism ?? '';
    if (SCRAM.test(mech)) return this.serverTokens >= 2;
    return true; // PLAIN and OAUTHBEARER finish with the first answer; other mechanisms are best effort
  }

  private outcome(success: boolean, errorCode: number | undefined, message: string): AuthOutcome {
    this.exchangeDone = true;
    const mechanism = this.mechanism ?? 'UNKNOWN';
    const principal = this.username !== undefined ? principalFor(mechanism, this.username) : 'User:UNKNOWN';
    if (success) { this.principal = principal; this.claimed = false; } // the broker accepted: no longer just claimed
    return { success, mechanism, username: this.username, tokenId: this.tokenId, principal, claimed: !success && this.claimed, errorCode, message };
  }
}

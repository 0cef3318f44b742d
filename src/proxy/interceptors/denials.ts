/**
 * Authorization denials of APIs the audit has no descriptor for (src/audit/denials.ts): with `authorize-denied: on`
 * their requests and answers are decoded (optionally: a frame that does not decode still goes on, it executes
 * nothing the audit records) and each denied resource becomes an authorization event. Denials are not written
 * ahead: the broker executed nothing.
 */
import type { Decoded } from '../../../protocol/codec.js';
import { denialsWalked, extractDenials, mayCarryDenial } from '../../audit/denials.js';
import type { ConnectionControl, DecodeNeed, Exchange, Interceptor } from '../interceptor.js';
import { extractContext } from './audit.js';

export class DenialsInterceptor implements Interceptor {
  /** Whether the audit's own descriptor covers an API (made once: wanted() is asked per request). */
  private readonly descriptorAudits: (apiKey: number) => boolean;

  constructor(private readonly conn: ConnectionControl) {
    this.descriptorAudits = (k) => conn.ctx.auditEnabled(k);
  }

  private wanted(apiKey: number): boolean {
    return this.conn.ctx.auditDenials() && denialsWalked(apiKey, this.descriptorAudits);
  }

  decodeRequest(apiKey: number): DecodeNeed { return this.wanted(apiKey) ? 'optional' : undefined; }

  decodeResponse(ex: Exchange): boolean { return this.wanted(ex.header.apiKey); }

  /** Only an answer that can hold a denial code is decoded and walked (most of the consumer groups' chatter is not). */
  needsBody(_ex: Exchange, frame: Buffer): boolean { return mayCarryDenial(frame); }

  onResponse(ex: Exchange, body: Decoded | undefined): boolean {
    if (body === undefined || !this.wanted(ex.header.apiKey)) return false;
    try {
      for (const op of extractDenials(ex.header.apiKey, ex.request, body, extractContext(this.conn, ex))) this.conn.ctx.audit(op);
    } catch (err) {
      this.conn.log.error({ err, api: ex.apiName }, 'authorization denials could not be extracted');
      this.conn.ctx.metrics.auditDropped.inc({ reason: 'extract_error' });
    }
    return false;
  }
}

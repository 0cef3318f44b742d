/**
 * SASL messages built by hand, for tests that must choose every byte and every write: PLAIN tokens and a SCRAM
 * client (RFC 5802) with control over the client-first message (extensions, authzid, escapes), plus the frames
 * of both SASL paths: SaslHandshake v0 followed by raw size-prefixed tokens, and SaslHandshake v1 followed by
 * SaslAuthenticate requests.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { encodeMessage } from '../../protocol/codec.js';
import { apiSchema } from '../../protocol/registry.js';
import { requestFrame, sizePrefixed } from './raw.js';

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

/** SaslHandshake request frame (v0: raw tokens follow; v1: SaslAuthenticate follows). */
export function handshakeFrame(version: 0 | 1, mechanism: string, correlationId: number): Buffer {
  return requestFrame(17, version, correlationId, encodeMessage(apiSchema(17)!.request, version, { Mechanism: mechanism }));
}

/** SaslAuthenticate v1 request frame carrying `token`. */
export function authenticateFrame(token: Buffer, correlationId: number): Buffer {
  return requestFrame(36, 1, correlationId, encodeMessage(apiSchema(36)!.request, 1, { AuthBytes: token }));
}

/** A token as the v0 path sends it: size-prefixed, no Kafka header. */
export function rawToken(token: Buffer): Buffer {
  return sizePrefixed(token);
}

/** PLAIN initial response `authzid NUL user NUL password`. */
export function plainToken(user: string, password: string, authzid = ''): Buffer {
  return Buffer.from(`${authzid}\u0000${user}\u0000${password}`, 'utf8');
}

/** RFC 5802 saslname escaping. */
export function saslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/**
 * One SCRAM exchange from the client side. `first()` gives the client-first message (the bare part can be
 * shaped by `bare`, e.g. to put an `m=` extension first); `final(serverFirst)` the client-final message, and
 * `verify(serverFinal)` checks the server signature.
 */
export class ScramClient {
  readonly nonce = randomBytes(18).toString('base64').replace(/[=,]/g, 'x');
  private clientFirstBare = '';
  private authMessage = '';
  private saltedPassword: Buffer | undefined;

  constructor(
    private readonly mechanism: ScramMechanism,
    private readonly user: string,
    private readonly password: string,
    /**
     * gs2: the GS2 header (default "n,,"); bare: shapes the client-first-message-bare as sent; signedBare: the bare
     * message the proof is computed over, when the server rebuilds it differently from what was sent (Kafka rebuilds
     * it from the attributes it parsed); extensions: appended as ",k=v,...".
     */
    private readonly opts: { gs2?: string; bare?: (n: string, r: string) => string; signedBare?: (n: string, r: string) => string; extensions?: string } = {},
  ) {}

  private get hash(): 'sha256' | 'sha512' { return this.mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512'; }

  first(): Buffer {
    const n = `n=${saslName(this.user)}`;
    const r = `r=${this.nonce}`;
    const standard = `${n},${r}${this.opts.extensions ? `,${this.opts.extensions}` : ''}`;
    const sent = this.opts.bare ? this.opts.bare(n, r) : standard;
    this.clientFirstBare = this.opts.signedBare ? this.opts.signedBare(n, r) : sent;
    return Buffer.from(`${this.opts.gs2 ?? 'n,,'}${sent}`, 'utf8');
  }

  final(serverFirst: Buffer): Buffer {
    const sf = serverFirst.toString('utf8');
    const attrs = Object.fromEntries(sf.split(',').map((kv) => [kv[0], kv.slice(2)]));
    if (!attrs.r?.startsWith(this.nonce)) throw new Error(`server-first does not extend our nonce: ${sf}`);
    const salt = Buffer.from(attrs.s, 'base64');
    const iterations = Number(attrs.i);
    const keyLen = this.hash === 'sha256' ? 32 : 64;
    this.saltedPassword = pbkdf2Sync(this.password, salt, iterations, keyLen, this.hash);
    const clientKey = createHmac(this.hash, this.saltedPassword).update('Client Key').digest();
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const gs2 = Buffer.from(this.opts.gs2 ?? 'n,,').toString('base64');
    const withoutProof = `c=${gs2},r=${attrs.r}`;
    this.authMessage = `${this.clientFirstBare},${sf},${withoutProof}`;
    const signature = createHmac(this.hash, storedKey).update(this.authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  verify(serverFinal: Buffer): boolean {
    const serverKey = createHmac(this.hash, this.saltedPassword!).update('Server Key').digest();
    const expected = createHmac(this.hash, serverKey).update(this.authMessage).digest('base64');
    return serverFinal.toString('utf8') === `v=${expected}`;
  }
}

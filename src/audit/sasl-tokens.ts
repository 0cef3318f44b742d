/**
 * Reads who a client claims to be from its first SASL token, for the audit log. Pure functions; nothing here
 * verifies a credential, and nothing secret is kept:
 *
 * - PLAIN (RFC 4616): the password bytes are never decoded, copied or sliced out; only the two identity fields
 *   in front of it are decoded (the rest of the buffer is scanned once for a stray NUL and otherwise untouched).
 * - SCRAM (RFC 5802): the client-first message holds no secret (the proof comes in client-final, which is not
 *   parsed here).
 * - OAUTHBEARER (RFC 7628): the bearer token is a secret. Only the JWT payload segment is decoded to read the
 *   subject claim; the token itself is never returned, logged or put in an error message.
 *
 * Every parser returns undefined for a malformed token instead of throwing, and never echoes the input.
 */

const NUL = 0x00;
const COMMA = 0x2c;
const KVSEP = 0x01;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 decoding of a view; undefined when the bytes are not valid UTF-8. */
function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------------------
// PLAIN

/**
 * PLAIN initial response: `[authzid] NUL authcid NUL passwd` (RFC 4616 §2), UTF-8.
 *
 * Returns the authentication identity as `username` (Kafka's principal) and the authorization identity when one
 * was sent. undefined when the message does not have exactly two NULs, the authcid is empty, or either identity
 * is not valid UTF-8. An empty password is accepted (the broker rejects it; the audit still wants the user name).
 */
export function parsePlain(authBytes: Buffer): { authzid?: string; username: string } | undefined {
  const first = authBytes.indexOf(NUL);
  if (first < 0) return undefined;
  const second = authBytes.indexOf(NUL, first + 1);
  if (second < 0) return undefined;
  // A third NUL makes four fields (Kafka: "expected 3 tokens"); the scan does not copy the password bytes.
  if (authBytes.indexOf(NUL, second + 1) >= 0) return undefined;
  if (second === first + 1) return undefined; // empty authcid
  // subarray() is a view: only the identity bytes are decoded, the password never becomes a string.
  const authzid = decodeUtf8(authBytes.subarray(0, first));
  const username = decodeUtf8(authBytes.subarray(first + 1, second));
  if (authzid === undefined || username === undefined) return undefined;
  return authzid === '' ? { username } : { authzid, username };
}

// ------------------------------------------------------------------------------------------------------------
// SCRAM

/** Decodes an RFC 5802 saslname (`=2C` → `,`, `=3D` → `=`); undefined for any other `=` escape or a bare `,`. */
function decodeSaslName(s: string): string | undefined {
  if (s === '' || s.includes(',') || s.includes('\u0000')) return undefined;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '=') { out += c; continue; }
    const esc = s.slice(i + 1, i + 3);
    if (esc === '2C') out += ',';
    else if (esc === '3D') out += '=';
    else return undefined;
    i += 2;
  }
  return out;
}

/**
 * Parses a GS2 header `cbind-flag "," [ "a=" saslname ] ","` at the start of `s`.
 * Only "n" and "y" are accepted: channel binding ("p=...") is not supported by Kafka.
 * Returns the authzid (decoded, undefined when absent) and the offset after the header.
 */
function parseGs2Header(s: string): { authzid: string | undefined; rest: number } | undefined {
  if (!(s.startsWith('n,') || s.startsWith('y,'))) return undefined;
  const end = s.indexOf(',', 2);
  if (end < 0) return undefined;
  const a = s.slice(2, end);
  if (a === '') return { authzid: undefined, rest: end + 1 };
  if (!a.startsWith('a=')) return undefined;
  const authzid = decodeSaslName(a.slice(2));
  if (authzid === undefined) return undefined;
  return { authzid, rest: end + 1 };
}

const SCRAM_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/; // printable ASCII except ","
const SCRAM_EXTENSION = /^([A-Za-z]+)=([^,]+)$/;

/**
 * SCRAM client-first message: gs2 header ("n,,", "y,," or "n,a=authzid,"), then `n=<saslname>,r=<nonce>` and
 * optional `,name=value` extensions (RFC 5802 §7). The user name is the saslname with `=2C` and `=3D` decoded.
 *
 * With Kafka's `tokenauth=true` extension the client authenticates with a delegation token and `n=` holds the
 * token id, not a user name: `tokenAuth: true` is then set (the broker maps the token to its owner).
 */
export function parseScramClientFirst(authBytes: Buffer): { username: string; tokenAuth?: true } | undefined {
  const s = decodeUtf8(authBytes);
  if (s === undefined || s.includes('\u0000')) return undefined;
  const gs2 = parseGs2Header(s);
  if (!gs2) return undefined;
  const attrs = s.slice(gs2.rest).split(',');
  if (attrs.length < 2 || !attrs[0].startsWith('n=') || !attrs[1].startsWith('r=')) return undefined;
  const username = decodeSaslName(attrs[0].slice(2));
  if (username === undefined) return undefined;
  if (!SCRAM_NONCE.test(attrs[1].slice(2))) return undefined;
  let tokenAuth = false;
  for (const ext of attrs.slice(2)) {
    const m = SCRAM_EXTENSION.exec(ext);
    if (!m) return undefined;
    if (m[1] === 'tokenauth' && m[2].toLowerCase() === 'true') tokenAuth = true;
  }
  return tokenAuth ? { username, tokenAuth: true } : { username };
}

// ------------------------------------------------------------------------------------------------------------
// OAUTHBEARER

const KV_KEY = /^[A-Za-z]+$/;
const B64URL_SEGMENT = /^[A-Za-z0-9_-]+={0,2}$/;

export interface OAuthBearerOptions {
  /** The JWT claim that names the principal; Kafka's `sasl.oauthbearer.sub.claim.name`, default "sub". */
  subjectClaim?: string;
}

/**
 * Reads the subject of the JWT payload (base64url middle segment), without verifying anything.
 * undefined when the token is not a three-segment JWT with a JSON object payload holding a non-empty string claim.
 */
function jwtSubject(token: Buffer, claim: string): string | undefined {
  const dot1 = token.indexOf(0x2e);
  if (dot1 < 0) return undefined;
  const dot2 = token.indexOf(0x2e, dot1 + 1);
  if (dot2 < 0 || token.indexOf(0x2e, dot2 + 1) >= 0) return undefined;
  const segment = token.subarray(dot1 + 1, dot2).toString('latin1');
  if (!B64URL_SEGMENT.test(segment)) return undefined;
  const json = decodeUtf8(Buffer.from(segment.replace(/=+$/, ''), 'base64url'));
  if (json === undefined) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const sub = (payload as Record<string, unknown>)[claim];
  return typeof sub === 'string' && sub !== '' ? sub : undefined;
}

/**
 * OAUTHBEARER client initial response (RFC 7628 §3.1):
 * `gs2-header %x01 *(key "=" value %x01) %x01`, which must contain `auth=Bearer <token>`.
 *
 * Returns `{ claimed: true }` for a well-formed response, with `subject` = the JWT's subject claim when the token
 * is a decodable JWT (an opaque token gives no subject). The signature is not checked: the subject is only a
 * claim until the broker accepts the token. undefined for anything malformed, including the single %x01 a client
 * sends to acknowledge a server error.
 */
export function parseOAuthBearer(authBytes: Buffer, options: OAuthBearerOptions = {}): { subject?: string; claimed: true } | undefined {
  // GS2 header: at most "y,a=<saslname>," in front of the first %x01; parsed as text (it holds no secret).
  const firstSep = authBytes.indexOf(KVSEP);
  if (firstSep < 0) return undefined;
  const header = decodeUtf8(authBytes.subarray(0, firstSep));
  if (header === undefined) return undefined;
  const gs2 = parseGs2Header(header);
  if (!gs2 || gs2.rest !== header.length) return undefined;

  // kvpairs: each ends with %x01; the message ends with one more %x01.
  if (authBytes.length < firstSep + 2 || authBytes[authBytes.length - 1] !== KVSEP) return undefined;
  let auth: Buffer | undefined;
  let pos = firstSep + 1;
  const last = authBytes.length - 1; // the closing %x01
  while (pos < last) {
    const end = authBytes.indexOf(KVSEP, pos);
    if (end < 0 || end === pos) return undefined; // an empty kvpair (%x01%x01 before the end) is malformed
    const pair = authBytes.subarray(pos, end);
    const eq = pair.indexOf(0x3d);
    if (eq <= 0) return undefined;
    const key = pair.subarray(0, eq).toString('latin1');
    if (!KV_KEY.test(key)) return undefined;
    const value = pair.subarray(eq + 1);
    // RFC 7628 value = *(VCHAR / SP / HTAB / CR / LF)
    for (const b of value) {
      if (!((b >= 0x21 && b <= 0x7e) || b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a)) return undefined;
    }
    if (key === 'auth') {
      if (auth) return undefined; // duplicate auth
      auth = value;
    }
    pos = end + 1;
  }
  if (pos !== last || !auth) return undefined;

  // auth = scheme 1*SP token; the scheme is compared case-insensitively, as Kafka does.
  const space = auth.indexOf(0x20);
  if (space <= 0) return undefined;
  if (auth.subarray(0, space).toString('latin1').toLowerCase() !== 'bearer') return undefined;
  let start = space;
  while (start < auth.length && auth[start] === 0x20) start++;
  const token = auth.subarray(start);
  if (token.length === 0) return undefined;
  // RFC 6750 b64token = 1*(ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/") *"=", the form Kafka accepts;
  // checked byte by byte, without building a string of the whole token.
  let seenPad = false;
  for (const b of token) {
    if (b === 0x3d) { seenPad = true; continue; }
    if (seenPad) return undefined;
    const ok = (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39)
      || b === 0x2d || b === 0x5f || b === 0x7e || b === 0x2b || b === 0x2f || b === 0x2e;
    if (!ok) return undefined;
  }

  const subject = jwtSubject(token, options.subjectClaim ?? 'sub');
  return subject !== undefined ? { subject, claimed: true } : { claimed: true };
}

// ------------------------------------------------------------------------------------------------------------

/**
 * The principal Kafka's DefaultKafkaPrincipalBuilder derives from a SASL authorization id: "User:<name>" for
 * PLAIN, SCRAM-SHA-* and OAUTHBEARER. (For GSSAPI the broker applies sasl.kerberos.principal.to.local.rules,
 * which the proxy cannot see; the name is used as given. With SCRAM delegation-token auth the broker uses the
 * token owner, which only the broker knows.) The mechanism is accepted for these future distinctions.
 */
export function principalFor(mechanism: string, username: string): string {
  return `User:${username}`;
}

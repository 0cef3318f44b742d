/**
 * Reads who a client is from its first SASL token, for the audit log. Pure functions; nothing here verifies a
 * credential, and nothing secret is kept:
 *
 * - PLAIN (RFC 4616): the password bytes are never decoded, copied or sliced out; only the two identity fields
 *   in front of it are decoded (the rest of the buffer is scanned once for a stray NUL and otherwise untouched).
 * - SCRAM (RFC 5802): the client-first message holds no secret (the proof comes in client-final, which is not
 *   parsed here).
 * - OAUTHBEARER (RFC 7628): the bearer token is a secret. It is checked byte by byte and only the JWT payload
 *   segment is decoded to read the subject claim; the token itself is never returned, logged or put in an error.
 *
 * Each parser mirrors the code of the Apache Kafka broker (kafka-clients 3.9.1 and 4.1.1, which agree on all of
 * it), not the RFCs: whenever the broker accepts a token, the name returned here is the one the broker derives
 * (its SaslServer.getAuthorizationID(), which DefaultKafkaPrincipalBuilder turns into "User:<name>"). Where
 * Kafka is looser than the RFC (PLAIN identities that are not valid UTF-8, an `m=` part before `n=` in SCRAM,
 * a repeated OAUTHBEARER `auth` pair) the parser is as loose; where it is stricter (only the `n` GS2 flag,
 * ASCII-only SCRAM names) so is the parser.
 *
 * Results:
 * - undefined: Kafka refuses the token's syntax (it throws before it looks up any credential).
 * - an object with `rejected`: the syntax is fine but the broker rejects the login whatever the credentials
 *   (empty PLAIN password, an authorization id other than the user); the name is still given for the audit.
 * - an object without `rejected`: the broker goes on to check the credential under exactly this name.
 *
 * Every parser returns instead of throwing, for any input, and never echoes a secret.
 */

import { javaUtf8 } from '../../protocol/java-utf8.js';

const NUL = 0x00;
const KVSEP = 0x01;
const COMMA = 0x2c;
const EQUALS = 0x3d;
const DOT = 0x2e;
const SPACE = 0x20;

/** Strict UTF-8 for JSON (Jackson fails on malformed UTF-8; it skips a leading BOM, as this decoder does). */
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

// ------------------------------------------------------------------------------------------------------------
// PLAIN

export interface PlainIdentity {
  /** The authentication identity (authcid): the name the broker authenticates and makes the principal. */
  username: string;
  /** The authorization identity, when the client sent a non-empty one. */
  authzid?: string;
  /** Set when PlainSaslServer rejects the login whatever the password: the reason, without any secret. */
  rejected?: 'password not specified' | 'authorization id differs from username';
}

/**
 * PLAIN initial response `[authzid] NUL authcid NUL passwd`, read as
 * org.apache.kafka.common.security.plain.internals.PlainSaslServer.evaluateResponse does:
 *
 * - the whole token is decoded as UTF-8 with replacement (`new String(response, UTF_8)`, so invalid bytes
 *   become U+FFFD instead of failing) and cut by extractTokens() at U+0000 into at most four parts; anything
 *   but exactly 3 tokens ("expected 3 tokens, got N") is refused, so a NUL inside the password is too;
 * - an empty authcid is refused ("username not specified");
 * - an empty password is refused ("password not specified") — returned here with `rejected`;
 * - a non-empty authzid must equal the authcid ("Client requested an authorization id that is different from
 *   username") — returned with `rejected`;
 * - the principal is the authcid, with no trimming or normalisation.
 *
 * A NUL byte is U+0000 after decoding and nothing else is (malformed sequences end at any ASCII byte), so
 * splitting the bytes first and decoding only the two identity fields gives Kafka's strings exactly, while the
 * password bytes are never decoded, copied or sliced: only their length is looked at.
 */
export function parsePlain(authBytes: Buffer): PlainIdentity | undefined {
  const first = authBytes.indexOf(NUL);
  if (first < 0) return undefined; // 1 token
  const second = authBytes.indexOf(NUL, first + 1);
  if (second < 0) return undefined; // 2 tokens
  if (authBytes.indexOf(NUL, second + 1) >= 0) return undefined; // 4 tokens (a NUL in the password)
  if (second === first + 1) return undefined; // "username not specified"
  // subarray() is a view: only the identity bytes are decoded, the password never becomes a string.
  const authzid = javaUtf8(authBytes.subarray(0, first));
  const username = javaUtf8(authBytes.subarray(first + 1, second));
  const result: PlainIdentity = authzid === '' ? { username } : { username, authzid };
  // Same order as PlainSaslServer: the password check comes before the authzid check.
  if (second === authBytes.length - 1) result.rejected = 'password not specified';
  else if (authzid !== '' && authzid !== username) result.rejected = 'authorization id differs from username';
  return result;
}

// ------------------------------------------------------------------------------------------------------------
// SCRAM

/*
 * org.apache.kafka.common.security.scram.internals.ScramMessages.AbstractScramMessage (Java regex syntax):
 *   SASLNAME  = "(?:[\\x01-\\x7F&&[^=,]]|=2C|=3D)+"
 *   VALUE     = "[\\x01-\\x7F&&[^,]]+"
 *   PRINTABLE = "[\\x21-\\x7E&&[^,]]+"
 *   ALPHA     = "[A-Za-z]+"
 *   RESERVED  = "(m=VALUE,)?"
 *   EXTENSIONS = "(,ALPHA=VALUE)*"
 * ScramMessages.ClientFirstMessage.PATTERN, used with Matcher.matches() (the whole message):
 *   "n,(a=(?<authzid>SASLNAME))?,RESERVEDn=(?<saslname>SASLNAME),r=(?<nonce>PRINTABLE)(?<extensions>EXTENSIONS)"
 * The same classes written out for JavaScript (`&&[^...]` removed by splitting the ranges). Every group stops
 * at a ',' its class excludes, so the match, if any, is unique and the groups are the ones Java captures.
 */
const SASLNAME = String.raw`(?:[\x01-\x2b\x2d-\x3c\x3e-\x7f]|=2C|=3D)+`;
const SCRAM_VALUE = String.raw`[\x01-\x2b\x2d-\x7f]+`;
const SCRAM_PRINTABLE = String.raw`[\x21-\x2b\x2d-\x7e]+`;
const SCRAM_CLIENT_FIRST = new RegExp(
  `^n,(?:a=(?<authzid>${SASLNAME}))?,(?:m=${SCRAM_VALUE},)?n=(?<saslname>${SASLNAME}),r=${SCRAM_PRINTABLE}`
  + `(?<extensions>(?:,[A-Za-z]+=${SCRAM_VALUE})*)$`,
);

export interface ScramClientFirst {
  /**
   * The user name as ScramFormatter.username() unescapes it. With `tokenAuth` it is the delegation token id:
   * the broker's principal is then the token's owner, which only the broker knows.
   */
  username: string;
  /** The authzid exactly as Kafka keeps it (ClientFirstMessage.authorizationId(): not unescaped). */
  authzid?: string;
  /** The `tokenauth` extension is "true" (any case): SCRAM with a delegation token. */
  tokenAuth?: true;
  /** Set when ScramSaslServer rejects the login whatever the proof. */
  rejected?: 'authorization id differs from username';
}

/**
 * SCRAM client-first message, read as ScramSaslServer.evaluateResponse (state RECEIVE_CLIENT_FIRST_MESSAGE)
 * reads it:
 *
 * - ClientFirstMessage(byte[]) decodes UTF-8 with replacement and matches PATTERN above. Every character class
 *   is ASCII, so any byte >= 0x80 (and NUL) means no match; the GS2 flag must be "n" ("y" and "p=" fail); an
 *   `m=...` reserved part may come before `n=`; extensions are `,name=value` with a letters-only name.
 * - ScramFormatter.username(saslname): "=2C" -> "," (all of them), then "=3D" -> "=". (Its "Invalid username"
 *   check, an '=' left over, cannot fire for a name PATTERN matched.)
 * - ScramExtensions(extensions.substring(1)) is Utils.parseMap(s, "=", ","): split at ',', each at the first
 *   '=', into a HashMap, so a repeated name keeps its last value; tokenAuthenticated() is
 *   Boolean.parseBoolean(map.get("tokenauth")): the name is case-sensitive, the value "true" in any case.
 *   Other extensions are ignored by the broker.
 * - A non-empty authzid must equal the unescaped user name, compared with the authzid as sent (so
 *   "a=x=2Cy" never equals the user "x,y"): otherwise `rejected`.
 *
 * undefined for anything ClientFirstMessage refuses.
 */
export function parseScramClientFirst(authBytes: Buffer): ScramClientFirst | undefined {
  // latin1 maps each byte to one char: bytes >= 0x80 become chars the ASCII-only pattern refuses, as the
  // U+FFFD (or non-ASCII char) Java's decoder makes of them does. The message holds no secret.
  const m = SCRAM_CLIENT_FIRST.exec(authBytes.toString('latin1'));
  if (!m?.groups) return undefined;
  const { authzid, saslname, extensions } = m.groups;
  const username = saslname.replaceAll('=2C', ',').replaceAll('=3D', '=');
  const ext = new Map<string, string>();
  if (extensions) {
    for (const kv of extensions.slice(1).split(',')) {
      const eq = kv.indexOf('=');
      ext.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
  }
  const result: ScramClientFirst = { username };
  if (authzid !== undefined) result.authzid = authzid;
  if (ext.get('tokenauth')?.toLowerCase() === 'true') result.tokenAuth = true;
  if (authzid !== undefined && authzid !== username) result.rejected = 'authorization id differs from username';
  return result;
}

// ------------------------------------------------------------------------------------------------------------
// OAUTHBEARER

export interface OAuthBearerOptions {
  /**
   * The JWT claim that names the principal, default "sub": the unsecured validator's
   * `unsecuredValidatorPrincipalClaimName` JAAS option, or `sasl.oauthbearer.sub.claim.name` for the JWT one.
   */
  subjectClaim?: string;
  /**
   * Which broker-side validator to mirror for the subject, default 'unsecured':
   * - 'unsecured': OAuthBearerUnsecuredValidatorCallbackHandler (Kafka's default when no
   *   sasl.server.callback.handler.class is set): the claim must be a string that is not blank
   *   (Utils.isBlank) and is used as is.
   * - 'secured': OAuthBearerValidatorCallbackHandler (BrokerJwtValidator in 4.x, ValidatorAccessTokenValidator
   *   in 3.9): ClaimValidationUtils.validateSubject trims the string (String.trim) and refuses it when empty.
   */
  validator?: 'unsecured' | 'secured';
}

export interface OAuthBearerClaim {
  /** The principal name the token claims (the JWT subject claim); absent for a token that is not a usable JWT. */
  subject?: string;
  /** Always true: nothing is verified, the subject is only a claim until the broker accepts the token. */
  claimed: true;
  /** The GS2 authzid exactly as Kafka keeps it (not unescaped), when one was sent. */
  authzid?: string;
  /** Set when OAuthBearerSaslServer rejects the login whatever the token's validity. */
  rejected?: 'authorization id differs from the token subject';
}

const isAlpha = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
/** KEY=VALUE value: "[\\x21-\\x7E \t\r\n]+". */
const isKvValue = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || b === SPACE || b === 0x09 || b === 0x0d || b === 0x0a;
/** Java's `\w` without UNICODE_CHARACTER_CLASS: [a-zA-Z_0-9]. */
const isWord = (b: number): boolean => isAlpha(b) || isDigit(b) || b === 0x5f;
/** AUTH_PATTERN token characters: "[-_~+/\\.a-zA-Z0-9]". */
const isTokenChar = (b: number): boolean => isAlpha(b) || isDigit(b) || b === 0x2d || b === 0x5f || b === 0x7e || b === 0x2b || b === 0x2f || b === DOT;
const SASLNAME_RE = new RegExp(`^${SASLNAME}$`);

/** Java's String.trim(): strips chars <= U+0020 at both ends. */
function javaTrim(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s.charCodeAt(start) <= 0x20) start++;
  while (end > start && s.charCodeAt(end - 1) <= 0x20) end--;
  return s.slice(start, end);
}

/**
 * Decodes the JWT payload segment. AUTH_PATTERN allows '=' only at the very end of the token, so this middle
 * segment never has padding; its characters are base64 ones plus '~'. The two validators differ: the unsecured
 * one decodes with java.util.Base64.getDecoder() (standard alphabet only, so a '-' or '_' fails the login), the
 * secured one with jose4j, which takes both alphabets and skips characters of neither ('~'). This reads the
 * union, so it never misses a subject either validator would accept.
 */
function decodeBase64Segment(seg: Buffer): Buffer | undefined {
  let tildes = 0;
  for (const b of seg) {
    if (b === 0x7e) tildes++;
    else if (!(isAlpha(b) || isDigit(b) || b === 0x2d || b === 0x5f || b === 0x2b || b === 0x2f)) return undefined;
  }
  if (seg.length === tildes) return undefined;
  const chars = tildes === 0 ? seg : seg.filter((b) => b !== 0x7e);
  // Node's base64 decoder reads both alphabets.
  return Buffer.from(chars.toString('latin1'), 'base64');
}

/**
 * The bytes of the first JSON value when it is an object, as Jackson's ObjectMapper.readTree (used by
 * OAuthBearerUnsecuredJws.toMap) reads it: leading whitespace and a UTF-8 BOM skipped, and whatever follows the
 * closing brace never read (FAIL_ON_TRAILING_TOKENS is off by default). undefined when there is no such object.
 */
function firstJsonObject(json: Buffer): Buffer | undefined {
  let i = 0;
  if (json.length >= 3 && json[0] === 0xef && json[1] === 0xbb && json[2] === 0xbf) i = 3;
  while (i < json.length && (json[i] === SPACE || json[i] === 0x09 || json[i] === 0x0a || json[i] === 0x0d)) i++;
  if (json[i] !== 0x7b) return undefined;
  const start = i;
  let depth = 0;
  let inString = false;
  for (; i < json.length; i++) {
    const b = json[i];
    if (inString) {
      if (b === 0x5c) i++; // backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) depth++;
    else if (b === 0x7d || b === 0x5d) {
      if (--depth === 0) return json.subarray(start, i + 1);
    }
  }
  return undefined;
}

/**
 * The subject of a JWT-shaped token (three '.'-separated segments, as OAuthBearerUnsecuredJws and SerializedJwt
 * require), from the JSON object in its payload segment. Nothing is verified. undefined when the token is not
 * such a JWT or the claim is not a usable string for the chosen validator.
 */
function jwtSubject(token: Buffer, claim: string, validator: 'unsecured' | 'secured'): string | undefined {
  const dot1 = token.indexOf(DOT);
  if (dot1 < 0) return undefined;
  const dot2 = token.indexOf(DOT, dot1 + 1);
  if (dot2 < 0 || token.indexOf(DOT, dot2 + 1) >= 0) return undefined;
  const payload = decodeBase64Segment(token.subarray(dot1 + 1, dot2));
  if (!payload) return undefined;
  const objectBytes = firstJsonObject(payload);
  if (!objectBytes) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8Strict.decode(objectBytes));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  if (!Object.prototype.hasOwnProperty.call(parsed, claim)) return undefined;
  const raw = (parsed as Record<string, unknown>)[claim];
  let value: string;
  if (typeof raw === 'string') value = raw;
  // OAuthBearerUnsecuredJws.convert() keeps numbers and arrays (not a String: refused) and turns every other
  // JSON value into JsonNode.asText(): true/false/null become "true"/"false"/"null", an object "" (blank).
  // jose4j (the secured validator) only takes a JSON string.
  else if (validator === 'unsecured' && (typeof raw === 'boolean' || raw === null)) value = String(raw);
  else return undefined;
  const trimmed = javaTrim(value);
  if (trimmed === '') return undefined; // Utils.isBlank / "value must not contain only whitespace"
  return validator === 'secured' ? trimmed : value;
}

/**
 * OAUTHBEARER client initial response, read as OAuthBearerSaslServer.evaluateResponse and
 * org.apache.kafka.common.security.oauthbearer.internals.OAuthBearerClientInitialResponse(byte[]) read it:
 *
 * - CLIENT_INITIAL_RESPONSE_PATTERN, matched on the whole message (UTF-8 decoded; every class is ASCII):
 *   "n,(a=(?<authzid>SASLNAME))?,\x01(?<kvpairs>KVPAIRS)\x01" with KVPAIRS = "([A-Za-z]+=[\\x21-\\x7E \t\r\n]+\x01)*"
 *   and SASLNAME as for SCRAM (so only the "n" GS2 flag, and the authzid may itself hold \x01 bytes);
 * - kvpairs go through Utils.parseMap(kvpairs, "=", "\x01") into a HashMap: a repeated key keeps its last value,
 *   including `auth`; `auth` is required ("'auth' not specified"), the rest are extensions (ignored unless a
 *   validator checks them);
 * - AUTH_PATTERN, matched on the whole `auth` value: "(?<scheme>[\\w]+)[ ]+(?<token>[-_~+/\\.a-zA-Z0-9]+([=]*))",
 *   and the scheme must equalsIgnoreCase "bearer";
 * - the principal is the validator's token.principalName() (see OAuthBearerOptions); a non-empty authzid, as
 *   sent, must equal it ("Client requested an authorization id (...) that is different from the token's
 *   principal name") — `rejected` when the subject could be read.
 *
 * Returns `{ claimed: true }` for a response Kafka accepts the syntax of, with `subject` when the token is a JWT
 * with a usable subject claim. undefined for anything malformed, including the single %x01 a client sends to
 * acknowledge a server error. The message is walked byte by byte: no string of the token is ever made.
 */
export function parseOAuthBearer(authBytes: Buffer, options: OAuthBearerOptions = {}): OAuthBearerClaim | undefined {
  const n = authBytes.length;
  // GS2 header "n," [ "a=" SASLNAME ] ","
  if (n < 5 || authBytes[0] !== 0x6e || authBytes[1] !== COMMA) return undefined;
  let pos = 2;
  let authzid: string | undefined;
  if (authBytes[pos] !== COMMA) {
    if (authBytes[pos] !== 0x61 || authBytes[pos + 1] !== EQUALS) return undefined;
    const end = authBytes.indexOf(COMMA, pos + 2); // SASLNAME holds no ',': the authzid ends at the first one
    if (end < 0) return undefined;
    authzid = authBytes.subarray(pos + 2, end).toString('latin1');
    if (!SASLNAME_RE.test(authzid)) return undefined;
    pos = end;
  }
  pos++; // the ',' closing the GS2 header
  if (authBytes[pos] !== KVSEP) return undefined;
  pos++;

  // kvpairs: each KEY=VALUE ends with %x01, then one more %x01 ends the message.
  const last = n - 1;
  if (pos > last || authBytes[last] !== KVSEP) return undefined;
  let authStart = -1;
  let authEnd = -1;
  while (pos < last) {
    let k = pos;
    while (k < last && isAlpha(authBytes[k])) k++;
    if (k === pos || authBytes[k] !== EQUALS) return undefined;
    let v = k + 1;
    while (v < n && isKvValue(authBytes[v])) v++;
    if (v === k + 1 || v >= n || authBytes[v] !== KVSEP) return undefined;
    // key "auth" (case-sensitive); a later auth pair replaces an earlier one, as in the HashMap.
    if (k - pos === 4 && authBytes[pos] === 0x61 && authBytes[pos + 1] === 0x75 && authBytes[pos + 2] === 0x74 && authBytes[pos + 3] === 0x68) {
      authStart = k + 1;
      authEnd = v;
    }
    pos = v + 1;
  }
  if (pos !== last || authStart < 0) return undefined;

  // auth = scheme 1*" " token *"="
  let i = authStart;
  while (i < authEnd && isWord(authBytes[i])) i++;
  if (i === authStart || i >= authEnd || authBytes[i] !== SPACE) return undefined;
  if (authBytes.subarray(authStart, i).toString('latin1').toLowerCase() !== 'bearer') return undefined;
  while (i < authEnd && authBytes[i] === SPACE) i++;
  const tokenStart = i;
  while (i < authEnd && isTokenChar(authBytes[i])) i++;
  if (i === tokenStart) return undefined;
  while (i < authEnd && authBytes[i] === EQUALS) i++;
  if (i !== authEnd) return undefined;

  const token = authBytes.subarray(tokenStart, authEnd); // the token group includes its trailing '='s
  const subject = jwtSubject(token, options.subjectClaim ?? 'sub', options.validator ?? 'unsecured');
  const result: OAuthBearerClaim = subject !== undefined ? { subject, claimed: true } : { claimed: true };
  if (authzid !== undefined) result.authzid = authzid;
  if (authzid !== undefined && subject !== undefined && authzid !== subject) result.rejected = 'authorization id differs from the token subject';
  return result;
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

/**
 * SASL initial-token parsers (src/audit/sasl-tokens.ts): byte-exact tokens built as RFC 4616 (PLAIN),
 * RFC 5802 (SCRAM) and RFC 7628 (OAUTHBEARER) lay them out, malformed tokens, and that no password or bearer
 * token ever shows up in what the parsers return. The parsers mirror Kafka's broker, not the RFCs: the
 * "as the Kafka broker reads it" blocks are table-driven from Kafka's own test suites (ScramMessagesTest,
 * PlainSaslServerTest, OAuthBearerClientInitialResponseTest) plus the cases where Kafka and the RFCs part ways;
 * every expected user name there was checked against kafka-clients 3.9.1 and 4.1.1 (see the differential test in
 * test/fuzz/sasl-tokens.fuzz.test.ts).
 *
 * Run: node --test --import tsx test/audit/sasl-tokens.test.ts
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOAuthBearer, parsePlain, parseScramClientFirst, principalFor } from '../../src/audit/sasl-tokens.js';
import { assertNoSecret as assertNoSecretIn } from '../harness/secrets.js';

const NUL = '\u0000';
const KVSEP = '\u0001';

/** Bytes of a string given as UTF-8 (the encoding all three mechanisms use). */
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** No secret in a parser result, in any encoding (plain, base64, hex, a Buffer's JSON, ...: test/harness/secrets.ts). */
function assertNoSecret(value: unknown, ...secrets: string[]): void {
  assertNoSecretIn(value ?? 'undefined', secrets, 'the parser result');
}

describe('parsePlain (RFC 4616)', () => {
  test('authcid and password, no authzid (RFC 4616 §4 example 1)', () => {
    // "\0tim\0tanstaaftanstaaf", written out byte for byte.
    const token = Buffer.from([
      0x00, 0x74, 0x69, 0x6d, 0x00,
      0x74, 0x61, 0x6e, 0x73, 0x74, 0x61, 0x61, 0x66, 0x74, 0x61, 0x6e, 0x73, 0x74, 0x61, 0x61, 0x66,
    ]);
    const r = parsePlain(token);
    assert.deepEqual(r, { username: 'tim' });
    assertNoSecret(r, 'tanstaaf');
  });

  test('authzid, authcid and password (RFC 4616 §4 example 2)', () => {
    // Kafka's PlainSaslServer refuses an authzid other than the authcid: the name is still given, flagged.
    const r = parsePlain(bytes(`Ursel${NUL}Kurt${NUL}xipj3plmq`));
    assert.deepEqual(r, { authzid: 'Ursel', username: 'Kurt', rejected: 'authorization id differs from username' });
    assertNoSecret(r, 'xipj3plmq');
  });

  test('the Java client form (authzid empty) and a UTF-8 user name', () => {
    assert.deepEqual(parsePlain(bytes(`${NUL}alice${NUL}alice-secret`)), { username: 'alice' });
    assert.deepEqual(parsePlain(bytes(`${NUL}jörg.müller${NUL}pässword`)), { username: 'jörg.müller' });
  });

  test('an empty password still yields the user name, flagged (the broker rejects the login)', () => {
    assert.deepEqual(parsePlain(bytes(`${NUL}alice${NUL}`)), { username: 'alice', rejected: 'password not specified' });
  });

  test('a password that is not valid UTF-8 is never decoded', () => {
    const token = Buffer.concat([bytes(`${NUL}bob${NUL}`), Buffer.from([0xff, 0xfe, 0x80])]);
    assert.deepEqual(parsePlain(token), { username: 'bob' });
  });

  test('malformed tokens', () => {
    const cases: [string, Buffer][] = [
      ['empty', Buffer.alloc(0)],
      ['no NUL', bytes('alice:secret')],
      ['one NUL', bytes(`alice${NUL}secret`)],
      ['three NULs', bytes(`${NUL}alice${NUL}sec${NUL}ret`)],
      ['empty authcid', bytes(`${NUL}${NUL}secret`)],
    ];
    for (const [what, token] of cases) assert.equal(parsePlain(token), undefined, what);
  });
});

describe('parseScramClientFirst (RFC 5802)', () => {
  test('RFC 5802 §5 example client-first message', () => {
    // "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
    const token = Buffer.from('6e2c2c6e3d757365722c723d66796b6f2b64326c626246674f4e527639716b786461774c', 'hex');
    assert.equal(token.toString('latin1'), 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
    assert.deepEqual(parseScramClientFirst(token), { username: 'user' });
  });

  test('RFC 7677 SCRAM-SHA-256 example; the y flag is refused (Kafka\'s pattern only has "n,")', () => {
    assert.deepEqual(parseScramClientFirst(bytes('n,,n=user,r=rOprNGfwEbeRWgbNEkqO')), { username: 'user' });
    assert.equal(parseScramClientFirst(bytes('y,,n=bob,r=3rfcNHYJY1ZVvWVs7j')), undefined);
  });

  test('gs2 header with an authzid other than the user: read, and flagged as the broker rejects it', () => {
    assert.deepEqual(
      parseScramClientFirst(bytes('n,a=admin,n=alice,r=abc123')),
      { username: 'alice', authzid: 'admin', rejected: 'authorization id differs from username' },
    );
  });

  test('saslname escapes =2C and =3D are decoded; a non-ASCII name is refused as Kafka refuses it', () => {
    assert.deepEqual(parseScramClientFirst(bytes('n,,n=a=2Cb=3Dc,r=xyz')), { username: 'a,b=c' });
    assert.equal(parseScramClientFirst(bytes('n,,n=jörg,r=xyz')), undefined);
  });

  test("Kafka's delegation-token form: tokenauth=true extension", () => {
    assert.deepEqual(
      parseScramClientFirst(bytes('n,,n=MGZhZGQzNWItYTYw,r=2j9ngcf1vv9x7ncqzsh,tokenauth=true')),
      { username: 'MGZhZGQzNWItYTYw', tokenAuth: true },
    );
    assert.deepEqual(parseScramClientFirst(bytes('n,,n=alice,r=abc,foo=bar')), { username: 'alice' });
  });

  test('malformed messages', () => {
    const cases: string[] = [
      '',
      'n,,',
      'p=tls-unique,,n=user,r=abc', // channel binding: not supported by Kafka
      'x,,n=user,r=abc',
      'n,n=user,r=abc', // gs2 header missing its second comma
      'n,b=admin,n=user,r=abc',
      'n,,r=abc,n=user', // wrong order
      'n,,n=user', // no nonce
      'n,,n=user,r=', // empty nonce
      'n,,n=,r=abc', // empty name
      'n,,n=us=2Xer,r=abc', // bad escape
      'n,,n=us=er,r=abc',
      'n,,n=user,r=abc,=x', // bad extension
      'n,,n=user,r=ab c',
      'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=', // client-final
    ];
    for (const c of cases) assert.equal(parseScramClientFirst(bytes(c)), undefined, JSON.stringify(c));
    assert.equal(parseScramClientFirst(Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c, 0x72, 0x3d, 0x61])), undefined, 'invalid UTF-8');
    assert.equal(parseScramClientFirst(bytes(`n,,n=us${NUL}er,r=abc`)), undefined, 'NUL');
  });
});

describe('parseOAuthBearer (RFC 7628)', () => {
  const b64url = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  // An unsecured JWT as Kafka's OAuthBearerUnsecuredLoginCallbackHandler builds it (empty signature) ...
  const unsecured = `${b64url({ alg: 'none' })}.${b64url({ sub: 'alice', iat: 1700000000, exp: 1700003600, scope: 'kafka' })}.`;
  // ... and one with a (fake) signature segment.
  const signature = 'c2lnbmF0dXJlLWJ5dGVzLXRoYXQtbXVzdC1uZXZlci1sZWFr';
  const signed = `${b64url({ alg: 'RS256', kid: 'k1' })}.${b64url({ sub: 'svc-orders', azp: 'orders' })}.${signature}`;
  const clientResponse = (gs2: string, token: string, ext = ''): Buffer =>
    bytes(`${gs2}${KVSEP}auth=Bearer ${token}${KVSEP}${ext}${KVSEP}`);

  test('Kafka client initial response with an unsecured JWT', () => {
    const token = clientResponse('n,,', unsecured);
    // byte layout: "n,," 0x01 "auth=Bearer " <jwt> 0x01 0x01
    assert.deepEqual([...token.subarray(0, 4)], [0x6e, 0x2c, 0x2c, 0x01]);
    assert.deepEqual([...token.subarray(token.length - 2)], [0x01, 0x01]);
    const r = parseOAuthBearer(token);
    assert.deepEqual(r, { subject: 'alice', claimed: true });
    assertNoSecret(r, unsecured, unsecured.split('.')[1]);
  });

  test('signed JWT, authzid and extensions', () => {
    const token = clientResponse('n,a=svc-orders,', signed, `traceId=abc-123${KVSEP}`);
    const r = parseOAuthBearer(token);
    assert.deepEqual(r, { subject: 'svc-orders', claimed: true, authzid: 'svc-orders' });
    assertNoSecret(r, signed, signature);
  });

  test('RFC 7628 §4.1 example: an opaque (non-JWT) bearer token gives no subject', () => {
    const token = bytes(
      `n,a=user@example.com,${KVSEP}host=server.example.com${KVSEP}port=143${KVSEP}`
      + `auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==${KVSEP}${KVSEP}`,
    );
    const r = parseOAuthBearer(token);
    assert.deepEqual(r, { claimed: true, authzid: 'user@example.com' });
    assertNoSecret(r, 'vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg');
  });

  test('the scheme is case-insensitive and the subject claim is configurable', () => {
    const token = bytes(`n,,${KVSEP}auth=bearer ${signed}${KVSEP}${KVSEP}`);
    assert.deepEqual(parseOAuthBearer(token), { subject: 'svc-orders', claimed: true });
    assert.deepEqual(parseOAuthBearer(token, { subjectClaim: 'azp' }), { subject: 'orders', claimed: true });
    assert.deepEqual(parseOAuthBearer(token, { subjectClaim: 'email' }), { claimed: true });
  });

  test('JWT-shaped tokens whose payload is unusable give no subject', () => {
    const cases = [
      `${b64url({ alg: 'none' })}.bm90LWpzb24.`, // "not-json"
      `${b64url({ alg: 'none' })}.${b64url([1, 2])}.`,
      `${b64url({ alg: 'none' })}.${b64url({ sub: 42 })}.`,
      `${b64url({ alg: 'none' })}.${b64url({ sub: '' })}.`,
      `${b64url({ alg: 'none' })}.${b64url({ sub: 'a' })}.x.y`, // four segments
      `${b64url({ alg: 'none' })}..`,
    ];
    for (const t of cases) assert.deepEqual(parseOAuthBearer(clientResponse('n,,', t)), { claimed: true }, t);
  });

  test('malformed client responses', () => {
    const cases: [string, Buffer][] = [
      ['empty', Buffer.alloc(0)],
      ['error acknowledgement (single 0x01)', Buffer.from([0x01])],
      ['no final separator', bytes(`n,,${KVSEP}auth=Bearer ${unsecured}${KVSEP}`)],
      ['no auth pair', bytes(`n,,${KVSEP}host=example.com${KVSEP}${KVSEP}`)],
      ['no kvpairs', bytes(`n,,${KVSEP}${KVSEP}`)],
      ['Basic scheme', bytes(`n,,${KVSEP}auth=Basic YWxpY2U6c2VjcmV0${KVSEP}${KVSEP}`)],
      ['no token', bytes(`n,,${KVSEP}auth=Bearer ${KVSEP}${KVSEP}`)],
      ['token with a space', bytes(`n,,${KVSEP}auth=Bearer abc def${KVSEP}${KVSEP}`)],
      ['token with padding inside', bytes(`n,,${KVSEP}auth=Bearer ab=cd${KVSEP}${KVSEP}`)],
      ['duplicate auth, the last one malformed', bytes(`n,,${KVSEP}auth=Bearer ${unsecured}${KVSEP}auth=Bearer x y${KVSEP}${KVSEP}`)],
      ['y flag', bytes(`y,,${KVSEP}auth=Bearer ${unsecured}${KVSEP}${KVSEP}`)],
      ['empty kvpair in the middle', bytes(`n,,${KVSEP}${KVSEP}auth=Bearer ${unsecured}${KVSEP}${KVSEP}`)],
      ['bad key', bytes(`n,,${KVSEP}auth=Bearer ${unsecured}${KVSEP}trace-id=1${KVSEP}${KVSEP}`)],
      ['control char in value', bytes(`n,,${KVSEP}auth=Bearer ${unsecured}${KVSEP}x=a\u0002b${KVSEP}${KVSEP}`)],
      ['channel binding flag', bytes(`p=tls-unique,,${KVSEP}auth=Bearer ${unsecured}${KVSEP}${KVSEP}`)],
      ['no gs2 header', bytes(`${KVSEP}auth=Bearer ${unsecured}${KVSEP}${KVSEP}`)],
      ['junk after gs2 header', bytes(`n,,x${KVSEP}auth=Bearer ${unsecured}${KVSEP}${KVSEP}`)],
      ['trailing bytes', bytes(`n,,${KVSEP}auth=Bearer ${unsecured}${KVSEP}${KVSEP}x`)],
    ];
    for (const [what, token] of cases) {
      const r = parseOAuthBearer(token);
      assert.equal(r, undefined, what);
    }
  });
});

// ------------------------------------------------------------------------------------------------------------
// As the Kafka broker reads them. Each row: the token, and what the broker makes of it: the user name it
// authenticates (a string), or null when it refuses the token before looking at any credential. `rejected`
// rows are syntactically fine but refused by the broker whatever the credentials.

describe('PLAIN as the Kafka broker reads it (PlainSaslServer)', () => {
  const msg = (authzid: string, user: string, password: string): Buffer => bytes(`${authzid}${NUL}${user}${NUL}${password}`);
  type Row = [what: string, token: Buffer, expected: ReturnType<typeof parsePlain>];
  const rows: Row[] = [
    // PlainSaslServerTest
    ['noAuthorizationIdSpecified', msg('', 'userA', 'passwordA'), { username: 'userA' }],
    ['authorizationIdEqualsAuthenticationId', msg('userA', 'userA', 'passwordA'), { username: 'userA', authzid: 'userA' }],
    ['authorizationIdNotEqualsAuthenticationId', msg('userB', 'userA', 'passwordA'),
      { username: 'userA', authzid: 'userB', rejected: 'authorization id differs from username' }],
    ['emptyTokens "", "", ""', msg('', '', ''), undefined],
    ['emptyTokens "", "", "p"', msg('', '', 'p'), undefined],
    ['emptyTokens "", "u", ""', msg('', 'u', ''), { username: 'u', rejected: 'password not specified' }],
    ['emptyTokens "a", "", ""', msg('a', '', ''), undefined],
    ['emptyTokens "a", "", "p"', msg('a', '', 'p'), undefined],
    // the password check comes first, as in PlainSaslServer
    ['emptyTokens "a", "u", ""', msg('a', 'u', ''), { username: 'u', authzid: 'a', rejected: 'password not specified' }],
    ['expected 3 tokens, got 4', bytes(`a${NUL}u${NUL}p${NUL}`), undefined],
    ['expected 3 tokens, got 2', bytes(`${NUL}u`), undefined],
    // Kafka decodes the token with `new String(bytes, UTF_8)`: malformed bytes become U+FFFD, they do not fail.
    ['authcid not UTF-8 (C3 28)', Buffer.concat([Buffer.from([0x00, 0xc3, 0x28, 0x00]), bytes('secret')]), { username: '\ufffd(' }],
    ['authzid not UTF-8, so not the authcid', Buffer.concat([Buffer.from([0xff, 0x00]), bytes(`alice${NUL}secret`)]),
      { username: 'alice', authzid: '\ufffd', rejected: 'authorization id differs from username' }],
    // the JDK makes ONE U+FFFD of an encoded surrogate (the WHATWG decoder makes three)
    ['authcid holding an encoded surrogate', Buffer.concat([bytes(NUL), Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62]), bytes(`${NUL}pw`)]),
      { username: 'a\ufffdb' }],
    // and one U+FFFD of a 4-byte sequence cut short, where the WHATWG decoder agrees
    ['authcid ending in a cut 4-byte sequence', Buffer.concat([bytes(`${NUL}x`), Buffer.from([0xf0, 0x9f, 0x98]), bytes(`${NUL}pw`)]),
      { username: 'x\ufffd' }],
    // two different malformed sequences both become U+FFFD: equal for the broker's authzid check
    ['authzid and authcid equal after decoding', Buffer.concat([Buffer.from([0xff, 0x00, 0xfe, 0x00]), bytes('pw')]),
      { username: '\ufffd', authzid: '\ufffd' }],
    ['a leading BOM is part of the name (Java keeps it)', Buffer.concat([bytes(NUL), Buffer.from([0xef, 0xbb, 0xbf]), bytes(`bob${NUL}pw`)]),
      { username: '\ufeffbob' }],
    ['no trimming: spaces and control characters are part of the name', msg('', ' bob\t', 'pw'), { username: ' bob\t' }],
  ];
  for (const [what, token, expected] of rows) {
    test(what, () => assert.deepEqual(parsePlain(token), expected));
  }
});

describe('SCRAM client-first as the Kafka broker reads it (ScramMessages.ClientFirstMessage, ScramSaslServer)', () => {
  const nonce = '2j9ngcf1vv9x7ncqzsh1ibuxbj'; // ScramFormatter.secureRandomString(): base-36
  type Row = [what: string, message: string, expected: ReturnType<typeof parseScramClientFirst>];
  const rows: Row[] = [
    // ScramMessagesTest.validClientFirstMessage
    ['default format used by Kafka client', `n,,n=testuser,r=${nonce}`, { username: 'testuser' }],
    ['username containing comma, encoded as =2C', `n,,n=test=2Cuser,r=${nonce}`, { username: 'test,user' }],
    ['username containing equals, encoded as =3D', `n,,n=test=3Duser,r=${nonce}`, { username: 'test=user' }],
    ['optional authorization id specified (ScramSaslServer then refuses it: not the user)', `n,a=testauthzid,n=testuser,r=${nonce}`,
      { username: 'testuser', authzid: 'testauthzid', rejected: 'authorization id differs from username' }],
    ['VALID_RESERVED m=reserved-value', `n,,m=reserved-value,n=testuser,r=${nonce}`, { username: 'testuser' }],
    ['VALID_RESERVED m=name1=value1 ...', `n,,m=name1=value1 name2=another test value "'!$[](),n=testuser,r=${nonce}`, { username: 'testuser' }],
    ['VALID_EXTENSIONS ext=val1', `n,,n=testuser,r=${nonce},ext=val1`, { username: 'testuser' }],
    ['VALID_EXTENSIONS anotherext=...', `n,,n=testuser,r=${nonce},anotherext=name1=value1 name2=another test value "'!$[]()`, { username: 'testuser' }],
    ['VALID_EXTENSIONS first,second,third', `n,,n=testuser,r=${nonce},first=val1,second=name1 = value ,third=123`, { username: 'testuser' }],
    ['tokenauth specified as extension', `n,,n=testuser,r=${nonce},tokenauth=true`, { username: 'testuser', tokenAuth: true }],
    // ScramMessagesTest.invalidClientFirstMessage
    ['invalid entry in gs2-header', `n,x=something,n=testuser,r=${nonce}`, undefined],
    ['INVALID_RESERVED m', `n,,m,n=testuser,r=${nonce}`, undefined],
    ['INVALID_RESERVED m=name,value', `n,,m=name,value,n=testuser,r=${nonce}`, undefined],
    ['INVALID_RESERVED m=,', `n,,m=,,n=testuser,r=${nonce}`, undefined],
    ['INVALID_EXTENSIONS ext1=value', `n,,n=testuser,r=${nonce},ext1=value`, undefined],
    ['INVALID_EXTENSIONS ext', `n,,n=testuser,r=${nonce},ext`, undefined],
    ['INVALID_EXTENSIONS ext=value1,value2', `n,,n=testuser,r=${nonce},ext=value1,value2`, undefined],
    ['INVALID_EXTENSIONS ext=,', `n,,n=testuser,r=${nonce},ext=,`, undefined],
    ['INVALID_EXTENSIONS ext =value', `n,,n=testuser,r=${nonce},ext =value`, undefined],
    // The security issue: a reserved-mandatory extension before n= authenticates the user, it must be named.
    ['m= before n= (the issue)', `n,,m=x,n=alice,r=${nonce}`, { username: 'alice' }],
    ['m= before n=, with an authzid equal to the user', `n,a=alice,m=reserved,n=alice,r=${nonce}`, { username: 'alice', authzid: 'alice' }],
    ['m= value holding = and control characters', `n,,m=a=b\u0001\u007f,n=alice,r=${nonce}`, { username: 'alice' }],
    // gs2 flags: Kafka's pattern starts with "n,"
    ['y flag', `y,,n=alice,r=${nonce}`, undefined],
    ['p= channel binding', `p=tls-unique,,n=alice,r=${nonce}`, undefined],
    ['upper-case N', `N,,n=alice,r=${nonce}`, undefined],
    ['empty authzid (a= with nothing)', `n,a=,n=alice,r=${nonce}`, undefined],
    // escapes: ScramFormatter.username() replaces "=2C" then "=3D"; the authzid is compared as sent
    ['several escapes', `n,,n==3D=2C=3D=2Cx,r=${nonce}`, { username: '=,=,x' }],
    ['=3D followed by 2C is "=" then "2C"', `n,,n=a=3D2C,r=${nonce}`, { username: 'a=2C' }],
    ['lower-case escape =2c', `n,,n=a=2cb,r=${nonce}`, undefined],
    ['bare = in the name', `n,,n=a=b,r=${nonce}`, undefined],
    ['escaped authzid equal to the escaped name is not equal to the user', `n,a=a=2Cb,n=a=2Cb,r=${nonce}`,
      { username: 'a,b', authzid: 'a=2Cb', rejected: 'authorization id differs from username' }],
    ['authzid with plain characters equal to the user', `n,a=svc.orders,n=svc.orders,r=${nonce}`, { username: 'svc.orders', authzid: 'svc.orders' }],
    // saslname is [\x01-\x7F] but = and ,: control characters and DEL are part of the name, spaces too
    ['control characters, DEL and spaces in the name', `n,,n= a\u0001\u007fb\t,r=${nonce}`, { username: ' a\u0001\u007fb\t' }],
    ['NUL in the name', `n,,n=a\u0000b,r=${nonce}`, undefined],
    ['non-ASCII name', `n,,n=jörg,r=${nonce}`, undefined],
    // nonce is printable ASCII but ","
    ['nonce with "="', `n,,n=alice,r=a=b`, { username: 'alice' }],
    ['nonce with a space', `n,,n=alice,r=a b`, undefined],
    ['empty nonce', `n,,n=alice,r=`, undefined],
    ['no nonce', `n,,n=alice`, undefined],
    ['r= before n=', `n,,r=${nonce},n=alice`, undefined],
    // tokenauth: ScramExtensions is a HashMap (last value wins), Boolean.parseBoolean (any case), key case-sensitive
    ['tokenauth=TRUE', `n,,n=tokenid,r=${nonce},tokenauth=TRUE`, { username: 'tokenid', tokenAuth: true }],
    ['tokenauth=tRuE', `n,,n=tokenid,r=${nonce},tokenauth=tRuE`, { username: 'tokenid', tokenAuth: true }],
    ['tokenauth=yes', `n,,n=tokenid,r=${nonce},tokenauth=yes`, { username: 'tokenid' }],
    ['TokenAuth=true (another extension)', `n,,n=tokenid,r=${nonce},TokenAuth=true`, { username: 'tokenid' }],
    ['tokenauth=true then tokenauth=false', `n,,n=tokenid,r=${nonce},tokenauth=true,tokenauth=false`, { username: 'tokenid' }],
    ['tokenauth=false then tokenauth=true', `n,,n=tokenid,r=${nonce},tokenauth=false,tokenauth=true`, { username: 'tokenid', tokenAuth: true }],
    ['tokenauth in the m= part is not an extension', `n,,m=tokenauth=true,n=tokenid,r=${nonce}`, { username: 'tokenid' }],
    ['extension value with "="', `n,,n=alice,r=${nonce},ext=a=b`, { username: 'alice' }],
    ['extension name with a digit', `n,,n=alice,r=${nonce},ext1=x`, undefined],
    ['trailing comma', `n,,n=alice,r=${nonce},`, undefined],
    ['trailing newline', `n,,n=alice,r=${nonce}\n`, undefined],
  ];
  for (const [what, message, expected] of rows) {
    test(what, () => assert.deepEqual(parseScramClientFirst(Buffer.from(message, 'utf8')), expected));
  }
});

describe('OAUTHBEARER as the Kafka broker reads it (OAuthBearerClientInitialResponse, unsecured validator)', () => {
  const b64 = (o: unknown): string => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
  const jwt = (payload: unknown): string => `${b64({ alg: 'none' })}.${b64(payload)}.`;
  /** The unsecured validator decodes with Base64.getDecoder(): the standard alphabet ('+', '/'), padding optional. */
  const b64std = (s: string): string => Buffer.from(s).toString('base64').replace(/=+$/, '');
  const exp = 4102444800;
  type Row = [what: string, message: string, expected: ReturnType<typeof parseOAuthBearer>];
  const rows: Row[] = [
    // OAuthBearerClientInitialResponseTest
    ['testToken', `n,,${KVSEP}auth=Bearer 123.345.567${KVSEP}${KVSEP}`, { claimed: true }],
    ['testBuildServerResponseToBytes', `n,,${KVSEP}auth=Bearer 123.345.567${KVSEP}nineteen=42${KVSEP}${KVSEP}`, { claimed: true }],
    ['testAuthorizationId', `n,a=myuser,${KVSEP}auth=Bearer 345${KVSEP}${KVSEP}`, { claimed: true, authzid: 'myuser' }],
    ['testExtensions', `n,,${KVSEP}propA=valueA1, valueA2${KVSEP}auth=Bearer 567${KVSEP}propB=valueB${KVSEP}${KVSEP}`, { claimed: true }],
    ['testRfc7688Example', `n,a=user@example.com,${KVSEP}host=server.example.com${KVSEP}port=143${KVSEP}`
      + `auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg${KVSEP}${KVSEP}`, { claimed: true, authzid: 'user@example.com' }],
    ['testNoExtensionsFromByteArray', `n,a=user@example.com,${KVSEP}auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg${KVSEP}${KVSEP}`,
      { claimed: true, authzid: 'user@example.com' }],
    // CLIENT_INITIAL_RESPONSE_PATTERN: "n,(a=(?<authzid>SASLNAME))?,\x01(?<kvpairs>([A-Za-z]+=[\x21-\x7E \t\r\n]+\x01)*)\x01"
    ['y flag', `y,,${KVSEP}auth=Bearer abc${KVSEP}${KVSEP}`, undefined],
    ['authzid holding \\x01 (SASLNAME allows it)', `n,a=a${KVSEP}b,${KVSEP}auth=Bearer abc${KVSEP}${KVSEP}`, { claimed: true, authzid: `a${KVSEP}b` }],
    ['authzid kept escaped', `n,a=a=2Cb,${KVSEP}auth=Bearer abc${KVSEP}${KVSEP}`, { claimed: true, authzid: 'a=2Cb' }],
    ['non-ASCII authzid', `n,a=jörg,${KVSEP}auth=Bearer abc${KVSEP}${KVSEP}`, undefined],
    ['value with tab, CR and LF', `n,,${KVSEP}x=a\tb\r\nc${KVSEP}auth=Bearer abc${KVSEP}${KVSEP}`, { claimed: true }],
    ['empty value', `n,,${KVSEP}x=${KVSEP}auth=Bearer abc${KVSEP}${KVSEP}`, undefined],
    ['non-ASCII value', `n,,${KVSEP}x=é${KVSEP}auth=Bearer abc${KVSEP}${KVSEP}`, undefined],
    // Utils.parseMap into a HashMap: the last auth wins; "Auth" is another key
    ['two auth pairs: the last one is the token', `n,,${KVSEP}auth=Bearer ${jwt({ sub: 'alice', exp })}${KVSEP}auth=Bearer ${jwt({ sub: 'mallory', exp })}${KVSEP}${KVSEP}`,
      { subject: 'mallory', claimed: true }],
    ['Auth is an extension, not auth', `n,,${KVSEP}Auth=Bearer abc${KVSEP}${KVSEP}`, undefined],
    // AUTH_PATTERN: "(?<scheme>[\w]+)[ ]+(?<token>[-_~+/\.a-zA-Z0-9]+([=]*))", scheme equalsIgnoreCase "bearer"
    ['BEARER', `n,,${KVSEP}auth=BEARER abc${KVSEP}${KVSEP}`, { claimed: true }],
    ['several spaces', `n,,${KVSEP}auth=Bearer   abc${KVSEP}${KVSEP}`, { claimed: true }],
    ['tab instead of a space', `n,,${KVSEP}auth=Bearer\tabc${KVSEP}${KVSEP}`, undefined],
    ['padding', `n,,${KVSEP}auth=Bearer abc==${KVSEP}${KVSEP}`, { claimed: true }],
    ['token of ~+/._- characters', `n,,${KVSEP}auth=Bearer a~+/._-9${KVSEP}${KVSEP}`, { claimed: true }],
    ['Basic', `n,,${KVSEP}auth=Basic abc${KVSEP}${KVSEP}`, undefined],
    ['Bearer_x', `n,,${KVSEP}auth=Bearer_x abc${KVSEP}${KVSEP}`, undefined],
    ['trailing space', `n,,${KVSEP}auth=Bearer abc ${KVSEP}${KVSEP}`, undefined],
    // the subject: OAuthBearerUnsecuredJws, principal claim "sub"; a non-empty authzid must equal it
    ['JWT subject', `n,,${KVSEP}auth=Bearer ${jwt({ sub: 'alice', exp })}${KVSEP}${KVSEP}`, { subject: 'alice', claimed: true }],
    ['authzid = subject', `n,a=alice,${KVSEP}auth=Bearer ${jwt({ sub: 'alice', exp })}${KVSEP}${KVSEP}`, { subject: 'alice', claimed: true, authzid: 'alice' }],
    ['authzid other than the subject', `n,a=bob,${KVSEP}auth=Bearer ${jwt({ sub: 'alice', exp })}${KVSEP}${KVSEP}`,
      { subject: 'alice', claimed: true, authzid: 'bob', rejected: 'authorization id differs from the token subject' }],
    ['subject with spaces around it is kept as is', `n,,${KVSEP}auth=Bearer ${jwt({ sub: ' alice ', exp })}${KVSEP}${KVSEP}`, { subject: ' alice ', claimed: true }],
    ['blank subject', `n,,${KVSEP}auth=Bearer ${jwt({ sub: ' \t', exp })}${KVSEP}${KVSEP}`, { claimed: true }],
    ['sub true becomes "true" (JsonNode.asText)', `n,,${KVSEP}auth=Bearer ${jwt({ sub: true, exp })}${KVSEP}${KVSEP}`, { subject: 'true', claimed: true }],
    ['sub null becomes "null"', `n,,${KVSEP}auth=Bearer ${jwt({ sub: null, exp })}${KVSEP}${KVSEP}`, { subject: 'null', claimed: true }],
    ['sub an object is blank', `n,,${KVSEP}auth=Bearer ${jwt({ sub: { a: 1 }, exp })}${KVSEP}${KVSEP}`, { claimed: true }],
    ['two sub members: the last one', `n,,${KVSEP}auth=Bearer ${b64({ alg: 'none' })}.${b64(`{"sub":"alice","exp":${exp},"sub":"mallory"}`)}.${KVSEP}${KVSEP}`,
      { subject: 'mallory', claimed: true }],
    ['bytes after the JSON object are never read (Jackson)', `n,,${KVSEP}auth=Bearer ${b64({ alg: 'none' })}.${b64(`{"sub":"mallory","exp":${exp}} trailing}`)}.${KVSEP}${KVSEP}`,
      { subject: 'mallory', claimed: true }],
    ['BOM and whitespace before the JSON object', `n,,${KVSEP}auth=Bearer ${b64({ alg: 'none' })}.${b64std(`\ufeff \n{"sub":"alice","exp":${exp}}`)}.${KVSEP}${KVSEP}`,
      { subject: 'alice', claimed: true }],
    ['escaped member name', `n,,${KVSEP}auth=Bearer ${b64({ alg: 'none' })}.${b64(`{"s\\u0075b":"alice","exp":${exp}}`)}.${KVSEP}${KVSEP}`,
      { subject: 'alice', claimed: true }],
    // "eyJzdWIiOiJhbGljZT8+IiwiZXhwIjo0MTAyNDQ0ODAwfQ": '+' is a token character, '=' only ends the token
    ['payload in the standard base64 alphabet', `n,,${KVSEP}auth=Bearer ${b64({ alg: 'none' })}.${Buffer.from(JSON.stringify({ sub: 'alice?>', exp })).toString('base64').replace(/=+$/, '')}.${KVSEP}${KVSEP}`,
      { subject: 'alice?>', claimed: true }],
    ['padded payload: "=" inside the token', `n,,${KVSEP}auth=Bearer ${b64({ alg: 'none' })}.${Buffer.from(JSON.stringify({ sub: 'alice?>', exp })).toString('base64')}.${KVSEP}${KVSEP}`,
      undefined],
  ];
  for (const [what, message, expected] of rows) {
    test(what, () => assert.deepEqual(parseOAuthBearer(Buffer.from(message, 'utf8')), expected));
  }

  test("the secured validator's subject is trimmed (ClaimValidationUtils.validateSubject) and must be a string", () => {
    const secured = { validator: 'secured' } as const;
    const resp = (payload: unknown) => bytes(`n,,${KVSEP}auth=Bearer ${jwt(payload)}${KVSEP}${KVSEP}`);
    assert.deepEqual(parseOAuthBearer(resp({ sub: ' alice\t', exp }), secured), { subject: 'alice', claimed: true });
    assert.deepEqual(parseOAuthBearer(resp({ sub: true, exp }), secured), { claimed: true });
    assert.deepEqual(parseOAuthBearer(resp({ sub: null, exp }), secured), { claimed: true });
    assert.deepEqual(parseOAuthBearer(resp({ sub: '   ', exp }), secured), { claimed: true });
    assert.deepEqual(parseOAuthBearer(resp({ sub: 'alice', azp: ' svc ', exp }), { ...secured, subjectClaim: 'azp' }), { subject: 'svc', claimed: true });
  });

  test("the payload is read as either validator's base64 decoder would read it (the union)", () => {
    const payload = b64({ sub: 'alice?>', exp }); // base64url: "...Pz4-..."; the unsecured validator needs "+"
    assert.ok(payload.includes('-'));
    const resp = (p: string) => bytes(`n,,${KVSEP}auth=Bearer ${b64({ alg: 'none' })}.${p}.${KVSEP}${KVSEP}`);
    assert.deepEqual(parseOAuthBearer(resp(payload), { validator: 'secured' }), { subject: 'alice?>', claimed: true });
    assert.deepEqual(parseOAuthBearer(resp(payload.replace(/-/g, '+'))), { subject: 'alice?>', claimed: true });
    // jose4j skips characters outside both alphabets ('~' is the only one AUTH_PATTERN lets into a segment)
    assert.deepEqual(parseOAuthBearer(resp(`${payload.slice(0, 5)}~${payload.slice(5)}~`), { validator: 'secured' }), { subject: 'alice?>', claimed: true });
    assert.deepEqual(parseOAuthBearer(resp('~~')), { claimed: true });
  });
});

test('principalFor', () => {
  assert.equal(principalFor('PLAIN', 'alice'), 'User:alice');
  assert.equal(principalFor('SCRAM-SHA-512', 'a,b=c'), 'User:a,b=c');
  assert.equal(principalFor('OAUTHBEARER', 'svc-orders'), 'User:svc-orders');
});

test('no password or token appears in any parser result', () => {
  const password = 'Tr0ub4dor&3-never-log-me';
  const jwt = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(`{"sub":"carol","pw":"${password}"}`).toString('base64url')}.`;
  const results = [
    parsePlain(bytes(`${NUL}carol${NUL}${password}`)),
    parsePlain(bytes(`carol${NUL}carol${NUL}${password}`)),
    parsePlain(bytes(`${NUL}carol${NUL}${password}${NUL}`)),
    parseScramClientFirst(bytes('n,,n=carol,r=nonce')),
    parseOAuthBearer(bytes(`n,,${KVSEP}auth=Bearer ${jwt}${KVSEP}${KVSEP}`)),
  ];
  assert.deepEqual(results, [{ username: 'carol' }, { authzid: 'carol', username: 'carol' }, undefined, { username: 'carol' }, { subject: 'carol', claimed: true }]);
  assertNoSecretIn(results, { password, 'the bearer token': jwt, "the bearer token's claims": jwt.split('.')[1] }, 'the parser results');
});

/**
 * SASL initial-token parsers (src/audit/sasl-tokens.ts): byte-exact tokens built as RFC 4616 (PLAIN),
 * RFC 5802 (SCRAM) and RFC 7628 (OAUTHBEARER) lay them out, malformed tokens, and that no password or bearer
 * token ever shows up in what the parsers return.
 *
 * Run: node --test --import tsx test/audit/sasl-tokens.test.ts
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOAuthBearer, parsePlain, parseScramClientFirst, principalFor } from '../../src/audit/sasl-tokens.js';

const NUL = '\u0000';
const KVSEP = '\u0001';

/** Bytes of a string given as UTF-8 (the encoding all three mechanisms use). */
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

function assertNoSecret(value: unknown, ...secrets: string[]): void {
  const json = JSON.stringify(value) ?? 'undefined';
  for (const s of secrets) assert.ok(!json.includes(s), `secret ${JSON.stringify(s.slice(0, 4))}... leaked into ${json}`);
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
    const r = parsePlain(bytes(`Ursel${NUL}Kurt${NUL}xipj3plmq`));
    assert.deepEqual(r, { authzid: 'Ursel', username: 'Kurt' });
    assertNoSecret(r, 'xipj3plmq');
  });

  test('the Java client form (authzid empty) and a UTF-8 user name', () => {
    assert.deepEqual(parsePlain(bytes(`${NUL}alice${NUL}alice-secret`)), { username: 'alice' });
    assert.deepEqual(parsePlain(bytes(`${NUL}jörg.müller${NUL}pässword`)), { username: 'jörg.müller' });
  });

  test('an empty password still yields the user name (the broker rejects the login)', () => {
    assert.deepEqual(parsePlain(bytes(`${NUL}alice${NUL}`)), { username: 'alice' });
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
      ['authcid not UTF-8', Buffer.concat([Buffer.from([0x00, 0xc3, 0x28, 0x00]), bytes('secret')])],
      ['authzid not UTF-8', Buffer.concat([Buffer.from([0xff, 0x00]), bytes(`alice${NUL}secret`)])],
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

  test('RFC 7677 SCRAM-SHA-256 example and the y flag', () => {
    assert.deepEqual(parseScramClientFirst(bytes('n,,n=user,r=rOprNGfwEbeRWgbNEkqO')), { username: 'user' });
    assert.deepEqual(parseScramClientFirst(bytes('y,,n=bob,r=3rfcNHYJY1ZVvWVs7j')), { username: 'bob' });
  });

  test('gs2 header with an authzid', () => {
    assert.deepEqual(parseScramClientFirst(bytes('n,a=admin,n=alice,r=abc123')), { username: 'alice' });
  });

  test('saslname escapes =2C and =3D are decoded', () => {
    assert.deepEqual(parseScramClientFirst(bytes('n,,n=a=2Cb=3Dc,r=xyz')), { username: 'a,b=c' });
    assert.deepEqual(parseScramClientFirst(bytes('n,,n=jörg,r=xyz')), { username: 'jörg' });
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
    assert.deepEqual(r, { subject: 'svc-orders', claimed: true });
    assertNoSecret(r, signed, signature);
  });

  test('RFC 7628 §4.1 example: an opaque (non-JWT) bearer token gives no subject', () => {
    const token = bytes(
      `n,a=user@example.com,${KVSEP}host=server.example.com${KVSEP}port=143${KVSEP}`
      + `auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==${KVSEP}${KVSEP}`,
    );
    const r = parseOAuthBearer(token);
    assert.deepEqual(r, { claimed: true });
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
      ['duplicate auth', bytes(`n,,${KVSEP}auth=Bearer ${unsecured}${KVSEP}auth=Bearer x${KVSEP}${KVSEP}`)],
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
  const json = JSON.stringify(results);
  assert.ok(!json.includes(password));
  assert.ok(!json.includes(jwt));
  assert.ok(!json.includes(jwt.split('.')[1]));
});

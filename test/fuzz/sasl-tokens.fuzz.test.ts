/**
 * Raw SASL token fuzz (src/audit/sasl-tokens.ts, which the proxy runs on every client's first token, including
 * the raw v0 tokens that follow a SaslHandshake v0 without any Kafka framing): PLAIN, SCRAM client-first and
 * OAUTHBEARER initial responses, valid and mutated, plus random bytes. The parsers must never throw (they return
 * undefined for anything malformed), must read valid tokens right, and must never echo the secret (the PLAIN
 * password, the bearer token) in what they return.
 *
 * Seeded like the other fuzz files (FUZZ_SEED); FUZZ_TOKENS sets the count (default 100,000).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOAuthBearer, parsePlain, parseScramClientFirst } from '../../src/audit/sasl-tokens.js';
import { randomString } from './lib/gen.js';
import { randomBody } from './lib/mutate.js';
import { describeSeed, fuzzSeed, mix, Prng } from './lib/prng.js';

const TOKENS = Number(process.env.FUZZ_TOKENS ?? 100_000);

function saslName(s: string): string { return s.replace(/=/g, '=3D').replace(/,/g, '=2C'); }

test('SASL token parsers: valid, mutated and random tokens', (t) => {
  const seed = fuzzSeed();
  const rng = new Prng(mix(seed, 'sasl-tokens'));
  const failures: string[] = [];
  let parsed = 0;
  const fail = (what: string, token: Buffer, problem: string) => { if (failures.length < 10) failures.push(`${what}: ${problem} [${token.toString('hex').slice(0, 160)}]`); };
  const check = (what: string, token: Buffer, secret: string | undefined, fn: (b: Buffer) => unknown): unknown => {
    let r: unknown;
    try { r = fn(token); } catch (e) { fail(what, token, `threw ${(e as Error)?.name}: ${(e as Error)?.message}`); return undefined; }
    if (r !== undefined) parsed++;
    if (secret && r !== undefined && JSON.stringify(r).includes(secret)) fail(what, token, 'the secret is in the result');
    return r;
  };
  const mutations = (b: Buffer): Buffer[] => {
    const out: Buffer[] = [b.subarray(0, rng.int(b.length + 1)), Buffer.concat([b, randomBody(rng, rng.range(1, 8))])];
    const f = Buffer.from(b);
    for (let k = rng.range(1, 3); k > 0 && f.length; k--) f[rng.int(f.length)] = rng.pick([0x00, 0x01, 0x2c, 0x3d, 0x2e, 0xff, 0xc3, rng.int(256)]);
    out.push(f);
    return out;
  };
  const t0 = performance.now();
  let n = 0;
  while (n < TOKENS) {
    const user = randomString(rng, 16) || 'u';
    const secret = `S3cr3t${rng.u32().toString(36)}Z`;
    // PLAIN: [authzid] NUL authcid NUL passwd
    const authzid = rng.chance(0.3) ? randomString(rng, 8) : '';
    const plain = Buffer.from(`${authzid}\0${user}\0${secret}`);
    const p = check('PLAIN', plain, secret, parsePlain) as { username?: string } | undefined;
    if (!user.includes('\0') && !authzid.includes('\0') && p?.username !== user) fail('PLAIN', plain, `valid token read as ${JSON.stringify(p)}`);
    for (const m of mutations(plain)) check('PLAIN mutated', m, secret, parsePlain);
    // SCRAM client-first
    const scram = Buffer.from(`${rng.pick(['n,,', 'y,,', `n,a=${saslName(user)},`])}n=${saslName(user)},r=${rng.bytes(12).toString('base64')}${rng.chance(0.2) ? ',tokenauth=true' : ''}`);
    check('SCRAM', scram, undefined, parseScramClientFirst);
    for (const m of mutations(scram)) check('SCRAM mutated', m, undefined, parseScramClientFirst);
    // OAUTHBEARER with a JWT (or an opaque token) as the secret
    const payload = Buffer.from(JSON.stringify(rng.chance(0.8) ? { sub: user, iat: 1 } : [user])).toString('base64url');
    const bearer = rng.chance(0.8) ? `eyJhbGciOiJub25lIn0.${payload}.${secret}` : secret;
    const oauth = Buffer.from(`n,,\x01host=h\x01auth=Bearer ${bearer}\x01\x01`);
    check('OAUTHBEARER', oauth, secret, (b) => parseOAuthBearer(b));
    for (const m of mutations(oauth)) check('OAUTHBEARER mutated', m, secret, (b) => parseOAuthBearer(b));
    // Random bytes to every parser.
    const junk = randomBody(rng, rng.int(200));
    check('random PLAIN', junk, undefined, parsePlain);
    check('random SCRAM', junk, undefined, parseScramClientFirst);
    check('random OAUTHBEARER', junk, undefined, (b) => parseOAuthBearer(b));
    n += 15;
  }
  const seconds = (performance.now() - t0) / 1000;
  const summary = `SASL token fuzz: ${n} tokens in ${seconds.toFixed(1)} s (${(n / seconds).toFixed(0)}/s), ${parsed} parsed, the rest refused without throwing`;
  t.diagnostic(summary);
  console.log(`[fuzz] ${summary}`);
  assert.deepEqual(failures, [], describeSeed(seed));
});

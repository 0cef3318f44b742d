/**
 * Raw SASL token fuzz (src/audit/sasl-tokens.ts, which the proxy runs on every client's first token, including
 * the raw v0 tokens that follow a SaslHandshake v0 without any Kafka framing): PLAIN, SCRAM client-first and
 * OAUTHBEARER initial responses, valid and mutated, plus random bytes. The parsers must never throw (they return
 * undefined for anything malformed), must read valid tokens right, and must never echo the secret (the PLAIN
 * password, the bearer token) in what they return.
 *
 * Seeded like the other fuzz files (FUZZ_SEED); FUZZ_TOKENS sets the count (default 100,000).
 *
 * The second test is differential: the same kind of tokens, biased to the corners where Kafka and the RFCs
 * differ, go through Kafka's own SaslServer classes (PlainSaslServer, ScramSaslServer, OAuthBearerSaslServer with
 * the unsecured validator) from kafka-clients 3.9.1 and 4.1.1, run by a small Java program compiled here, and the
 * parsers must name exactly the user the broker authenticates whenever the broker accepts a token. It needs a
 * JDK (javac) and the jars scripts/setup.sh puts in .kafka-lib, and is skipped, saying why, without them.
 * FUZZ_KAFKA_ROUNDS sets its size (default 3,000 rounds of 7 tokens, for each Kafka version).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOAuthBearer, parsePlain, parseScramClientFirst } from '../../src/audit/sasl-tokens.js';
import { randomString } from './lib/gen.js';
import { randomBody } from './lib/mutate.js';
import { describeSeed, fuzzSeed, mix, Prng } from './lib/prng.js';
import { secretMatcher } from '../harness/secrets.js';

const TOKENS = Number(process.env.FUZZ_TOKENS ?? 100_000);

function saslName(s: string): string { return s.replace(/=/g, '=3D').replace(/,/g, '=2C'); }

test('SASL token parsers: valid, mutated and random tokens', (t) => {
  const seed = fuzzSeed();
  const rng = new Prng(mix(seed, 'sasl-tokens'));
  const failures: string[] = [];
  let parsed = 0;
  const fail = (what: string, token: Buffer, problem: string) => { if (failures.length < 10) failures.push(`${what}: ${problem} [${token.toString('hex').slice(0, 160)}]`); };
  // The secret in any encoding (plain, base64 at any alignment, hex, a Buffer's JSON, ...: test/harness/secrets.ts).
  let matcher: { secret: string; find: (haystack: unknown) => Array<{ encoding: string }> } | undefined;
  const leaks = (secret: string, r: unknown) => {
    if (matcher?.secret !== secret) matcher = { secret, find: secretMatcher({ 'the secret': secret }) };
    return matcher.find(r);
  };
  const check = (what: string, token: Buffer, secret: string | undefined, fn: (b: Buffer) => unknown): unknown => {
    let r: unknown;
    try { r = fn(token); } catch (e) { fail(what, token, `threw ${(e as Error)?.name}: ${(e as Error)?.message}`); return undefined; }
    if (r !== undefined) parsed++;
    const found = secret && r !== undefined ? leaks(secret, r) : [];
    if (found.length > 0) fail(what, token, `the secret is in the result (${found.map((f) => f.encoding).join(', ')})`);
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
    // SCRAM client-first; Kafka takes only the "n" flag and ASCII names (no NUL), with or without an m= part
    const flag = rng.pick(['n,,', 'y,,', `n,a=${saslName(user)},`, 'n,,m=reserved=x,']);
    const tokenAuth = rng.chance(0.2);
    const scram = Buffer.from(`${flag}n=${saslName(user)},r=${rng.bytes(12).toString('base64')}${tokenAuth ? ',tokenauth=true' : ''}`);
    const s = check('SCRAM', scram, undefined, parseScramClientFirst) as { username?: string; tokenAuth?: true; rejected?: string } | undefined;
    if (flag !== 'y,,' && /^[\x01-\x7f]+$/.test(user)) {
      // ScramSaslServer compares the authzid as sent with the unescaped name: an escaped one never matches
      const rejected = flag.startsWith('n,a=') && saslName(user) !== user;
      if (s?.username !== user || !!s.rejected !== rejected || (s.tokenAuth === true) !== tokenAuth) fail('SCRAM', scram, `valid message read as ${JSON.stringify(s)}`);
    } else if (s !== undefined) fail('SCRAM', scram, `message Kafka refuses read as ${JSON.stringify(s)}`);
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

// ------------------------------------------------------------------------------------------------------------
// Differential test against Kafka's own SaslServers.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KAFKA_LIB = join(ROOT, '.kafka-lib');
const KAFKA_ROUNDS = Number(process.env.FUZZ_KAFKA_ROUNDS ?? 3_000);

/**
 * Reads "KIND HEX" lines ("-" for no bytes) and answers each with "ACCEPT <hex of the name> [tokenauth]" when
 * Kafka's SaslServer accepts the token (PLAIN: the exchange completes; SCRAM: the client-first step succeeds;
 * OAUTH: the exchange completes with the unsecured validator; OAUTHENV: the same with a validator that takes any
 * token and names its principal "p", to test the envelope alone), or "REJECT".
 */
const ORACLE_JAVA = `
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
import javax.security.auth.callback.*;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.plain.PlainAuthenticateCallback;
import org.apache.kafka.common.security.plain.internals.PlainSaslServer;
import org.apache.kafka.common.security.scram.ScramCredential;
import org.apache.kafka.common.security.scram.ScramCredentialCallback;
import org.apache.kafka.common.security.scram.internals.ScramMechanism;
import org.apache.kafka.common.security.scram.internals.ScramSaslServer;
import org.apache.kafka.common.security.token.delegation.internals.DelegationTokenCredentialCallback;
import org.apache.kafka.common.security.oauthbearer.*;
import org.apache.kafka.common.security.oauthbearer.internals.OAuthBearerSaslServer;
import org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler;

public class KafkaSaslOracle {
  static String hex(String s) { StringBuilder b = new StringBuilder(); for (byte x : s.getBytes(StandardCharsets.UTF_8)) b.append(String.format("%02x", x)); return b.length() == 0 ? "-" : b.toString(); }
  static byte[] unhex(String h) { if (h.equals("-")) return new byte[0]; byte[] o = new byte[h.length() / 2]; for (int i = 0; i < o.length; i++) o[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16); return o; }
  static ScramCredential cred() { return new ScramCredential(new byte[16], new byte[32], new byte[32], 4096); }

  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(new BufferedOutputStream(System.out), false, "UTF-8");
    OAuthBearerUnsecuredValidatorCallbackHandler unsecured = new OAuthBearerUnsecuredValidatorCallbackHandler();
    unsecured.configure(Collections.emptyMap(), "OAUTHBEARER", Collections.singletonList(new AppConfigurationEntry(
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule", AppConfigurationEntry.LoginModuleControlFlag.REQUIRED, Collections.emptyMap())));
    AuthenticateCallbackHandler anyToken = new AuthenticateCallbackHandler() {
      public void configure(Map<String, ?> c, String m, List<AppConfigurationEntry> j) {}
      public void close() {}
      public void handle(Callback[] cbs) {
        for (Callback c : cbs) {
          if (!(c instanceof OAuthBearerValidatorCallback)) continue;
          OAuthBearerValidatorCallback v = (OAuthBearerValidatorCallback) c;
          v.token(new OAuthBearerToken() {
            public String value() { return v.tokenValue(); }
            public Set<String> scope() { return Collections.emptySet(); }
            public long lifetimeMs() { return Long.MAX_VALUE; }
            public String principalName() { return "p"; }
            public Long startTimeMs() { return null; }
          });
        }
      }
    };
    String line;
    while ((line = in.readLine()) != null) {
      String[] p = line.split(" ");
      String r;
      try { r = run(p[0], unhex(p[1]), unsecured, anyToken); } catch (Throwable t) { r = "REJECT"; }
      out.println(r);
    }
    out.flush();
  }

  static String run(String kind, byte[] token, CallbackHandler unsecured, CallbackHandler anyToken) throws Exception {
    final String[] name = new String[1];
    final boolean[] tokenAuth = new boolean[1];
    if (kind.equals("PLAIN")) {
      PlainSaslServer s = new PlainSaslServer(cbs -> {
        for (Callback c : cbs) {
          if (c instanceof NameCallback) name[0] = ((NameCallback) c).getDefaultName();
          else if (c instanceof PlainAuthenticateCallback) ((PlainAuthenticateCallback) c).authenticated(true);
        }
      });
      s.evaluateResponse(token);
      return s.isComplete() ? "ACCEPT " + hex(s.getAuthorizationID()) : "REJECT";
    }
    if (kind.equals("SCRAM")) {
      ScramSaslServer s = new ScramSaslServer(ScramMechanism.SCRAM_SHA_256, Collections.emptyMap(), cbs -> {
        for (Callback c : cbs) {
          if (c instanceof NameCallback) name[0] = ((NameCallback) c).getDefaultName();
          else if (c instanceof DelegationTokenCredentialCallback) {
            tokenAuth[0] = true;
            ((DelegationTokenCredentialCallback) c).tokenOwner("owner");
            ((DelegationTokenCredentialCallback) c).scramCredential(cred());
          } else if (c instanceof ScramCredentialCallback) ((ScramCredentialCallback) c).scramCredential(cred());
        }
      });
      s.evaluateResponse(token); // throws when the broker refuses the client-first message
      return "ACCEPT " + hex(name[0]) + (tokenAuth[0] ? " tokenauth" : "");
    }
    OAuthBearerSaslServer s = new OAuthBearerSaslServer(kind.equals("OAUTH") ? unsecured : anyToken);
    s.evaluateResponse(token);
    return s.isComplete() ? "ACCEPT " + hex(s.getAuthorizationID()) : "REJECT";
  }
}
`;

interface Oracle { dir: string; classpaths: { version: string; cp: string }[] }

/** Compiles the oracle; a string says why it cannot run here. */
function setUpOracle(): Oracle | string {
  const clients = [
    { version: '3.9.1', jar: join(KAFKA_LIB, 'spec-3.9.1/kafka-clients-3.9.1.jar') },
    { version: '4.1.1', jar: join(KAFKA_LIB, 'spec-4.1.1/kafka-clients-4.1.1.jar') },
  ];
  const missing = clients.filter((c) => !existsSync(c.jar)).map((c) => c.jar);
  if (missing.length) return `Kafka jars missing (${missing.join(', ')}): run scripts/setup.sh`;
  const libs = existsSync(KAFKA_LIB) ? readdirSync(KAFKA_LIB) : [];
  const deps: string[] = [];
  for (const prefix of ['slf4j-api-', 'jackson-databind-', 'jackson-core-', 'jackson-annotations-']) {
    const jar = libs.find((f) => f.startsWith(prefix) && f.endsWith('.jar'));
    if (!jar) return `${prefix}*.jar missing in .kafka-lib: run scripts/setup.sh`;
    deps.push(join(KAFKA_LIB, jar));
  }
  try {
    execFileSync('javac', ['-version'], { stdio: 'ignore' });
  } catch {
    return 'no javac on this machine (a JRE alone cannot compile the oracle)';
  }
  const dir = mkdtempSync(join(tmpdir(), 'kafka-sasl-oracle-'));
  writeFileSync(join(dir, 'KafkaSaslOracle.java'), ORACLE_JAVA);
  const classpaths = clients.map((c) => ({ version: c.version, cp: [c.jar, ...deps].join(':') }));
  execFileSync('javac', ['-nowarn', '-d', dir, '-cp', classpaths[0].cp, join(dir, 'KafkaSaslOracle.java')], { stdio: 'pipe' });
  return { dir, classpaths };
}

/** Tokens biased to the corners where Kafka and the RFCs part ways (each kind with its oracle mode). */
function kafkaCornerTokens(rng: Prng, rounds: number): { kind: string; token: Buffer }[] {
  const NAME_PARTS = ['alice', 'bob', ',', '=', '=2C', '=3D', '=2c', '=2', '=3DD', ' ', '\t', '\n', '\x01', '\x7f', '\x00', 'ö', '€', 'x', '@', 'a=', 'n=', 'm=', '\x02'];
  const name = () => { let s = ''; for (let k = rng.range(1, 4); k > 0; k--) s += rng.pick(NAME_PARTS); return s; };
  const BAD_UTF8 = [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98], [0xc0, 0x80], [0xef, 0xbb, 0xbf], [0xe0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc3, 0x00]];
  const identity = (): Buffer => {
    const parts: Buffer[] = [];
    for (let k = rng.int(5); k > 0; k--) parts.push(rng.chance(0.4) ? Buffer.from(rng.pick(BAD_UTF8)) : Buffer.from(rng.pick(['alice', 'ü', 'x', ' ', '😀']), 'utf8'));
    return Buffer.concat(parts);
  };
  const mutate = (b: Buffer): Buffer => {
    if (rng.chance(0.5)) return b;
    const f = Buffer.from(b);
    const r = rng.int(3);
    if (r === 0 && f.length) { f[rng.int(f.length)] = rng.pick([0x00, 0x01, 0x2c, 0x3d, 0x2e, 0xff, 0xc3, 0x20, 0x09, 0x61, 0x6e, 0x79, rng.int(256)]); return f; }
    if (r === 1) return f.subarray(0, rng.int(f.length + 1));
    const at = rng.int(f.length + 1);
    return Buffer.concat([f.subarray(0, at), Buffer.from(rng.pick([',', '=', '\x01', 'm=x,', 'a=b,', '=2C', ',x=y', '\x00', ' ', '\x01\x01', 'auth=Bearer x\x01'])), f.subarray(at)]);
  };
  const scram = (): Buffer => {
    const user = name();
    const az = rng.pick(['', '', `a=${user}`, `a=${name()}`, 'a=', `x=${name()}`]);
    const reserved = rng.pick(['', '', 'm=reserved-value,', 'm=name1=value1 name2=another test value "\'!$[](),', 'm=,', 'm,', `m=${name()},`]);
    let ext = '';
    for (let k = rng.int(4); k > 0; k--) ext += ',' + rng.pick(['tokenauth=true', 'tokenauth=TRUE', 'tokenauth=false', 'tokenauth=1', 'TokenAuth=true', 'tokenauth=', 'ext=val1', 'ext1=value', 'ext', 'ext =v', 'foo=bar=baz']);
    const nonce = rng.pick(['fyko+d2lbbFgONRv9qkxdawL', 'abc', '', 'a b', 'x=y', '\x7f', 'ö']);
    return mutate(Buffer.from(`${rng.pick(['n', 'n', 'n', 'y', 'p=tls-unique', '', 'N'])},${az},${reserved}n=${user},r=${nonce}${ext}`, 'utf8'));
  };
  const scramValid = (): Buffer => {
    let user = '';
    for (let k = rng.range(1, 4); k > 0; k--) user += rng.pick(['alice', ',', '=', ' ', '\t', '\x01', '\x7f', 'x', '@', 'a=2C', '3D', '=2C']);
    const sent = user.replace(/=/g, '=3D').replace(/,/g, '=2C');
    const az = rng.pick(['', '', `a=${sent}`, `a=${user.replace(/[,=]/g, '_')}`, 'a=x']);
    let ext = '';
    for (let k = rng.int(4); k > 0; k--) ext += ',' + rng.pick(['tokenauth=true', 'tokenauth=TRUE', 'tokenauth=false', 'tokenauth=yes', 'TOKENAUTH=true', 'ext=v=w', 'a=\x01']);
    return Buffer.from(`n,${az},${rng.pick(['', '', 'm=reserved-value,', 'm=a=b c\x01,'])}n=${sent},r=${rng.pick(['fyko+d2lbbFgONRv9qkxdawL', '!~', 'x=y'])}${ext}`, 'latin1');
  };
  const plain = (): Buffer => {
    const nuls = rng.pick([2, 2, 2, 2, 1, 3, 0]);
    const parts = [identity(), identity(), Buffer.from(rng.pick(['pw', '', 'p', 'sécret']), 'utf8')];
    if (rng.chance(0.3)) parts[0] = Buffer.from(parts[1]);
    const out: Buffer[] = [];
    parts.forEach((p, i) => { out.push(p); if (i < nuls) out.push(Buffer.from([0])); });
    if (nuls === 3) out.push(Buffer.from('tail'));
    return mutate(Buffer.concat(out));
  };
  const jwt = (): string => {
    const sub = rng.pick<unknown>(['alice', ' alice', 'alice ', ' ', '', 'a b', 42, null, true, {}, ['x'], 'ü', 'x\ty', '\u00a0bob', 'svc', '\x01x', 'a,b']);
    const claims: Record<string, unknown> = { exp: 4102444800 };
    if (rng.chance(0.95)) claims.sub = sub;
    let json = JSON.stringify(claims);
    const r = rng.int(10);
    if (r === 0) json += rng.pick(['garbage', ' ', '}', ']', '{"sub":"x"}']);
    else if (r === 1) json = '\ufeff' + json;
    else if (r === 2) json = json.replace('{', '{"sub":"first",');
    else if (r === 3) json = rng.pick([' ', '\n', '\r\n ']) + json;
    else if (r === 4) json = json.replace('"sub"', '"s\\u0075b"');
    else if (r === 5) json = json.replace('{', '{"a":{"b":["}"]},"q":"\\"}",');
    let payload = Buffer.from(json, 'utf8');
    if (rng.chance(0.05)) payload = Buffer.concat([payload, Buffer.from([0xff, 0xfe])]);
    let p64 = payload.toString(rng.chance(0.85) ? 'base64' : 'base64url');
    if (rng.chance(0.6)) p64 = p64.replace(/=+$/, '');
    return `${rng.pick(['eyJhbGciOiJub25lIn0', 'eyJhbGciOiJub25lIn0', 'eyJhbGciOiJSUzI1NiJ9'])}.${p64}.${rng.pick(['', '', '', 'c2ln'])}`;
  };
  const oauth = (): Buffer => {
    const tok = rng.chance(0.5) ? jwt() : rng.pick(['abc', '123.345.567', 'vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==', 'a=b', 'a b', 'a~+/._-9', '=', 'x\ty']);
    const pairs = [`auth=${rng.pick(['Bearer', 'bearer', 'BEARER', 'Basic', 'Bearer_x', ''])}${rng.pick([' ', ' ', '  ', '', '\t'])}${tok}`];
    for (let k = rng.int(3); k > 0; k--) pairs.splice(rng.int(pairs.length + 1), 0, rng.pick(['host=server.example.com', 'propA=valueA1, valueA2', 'Auth=Bearer z', 'auth=Bearer zz', 'x=', '1=2', 'x=a\tb', 'x=ö', `auth=Bearer ${jwt()}`]));
    const gs2 = rng.pick(['n,,', 'n,,', 'n,a=alice,', 'n,a=p,', 'y,,', 'n,a=,', 'n,a=a\x01b,', 'n,a=x=2Cy,', 'p=x,,', 'n,a=ö,']);
    return mutate(Buffer.from(`${gs2}\x01${pairs.map((p) => p + '\x01').join('')}${rng.pick(['\x01', '\x01', '', '\x01\x01'])}`, 'utf8'));
  };
  const oauthJwt = (): Buffer => Buffer.from(`${rng.pick(['n,,', 'n,,', 'n,a=alice,', 'n,a=svc,'])}\x01auth=Bearer ${jwt()}\x01\x01`, 'utf8');
  const cases: { kind: string; token: Buffer }[] = [];
  for (let i = 0; i < rounds; i++) {
    cases.push({ kind: 'SCRAM', token: scram() }, { kind: 'SCRAM', token: scramValid() }, { kind: 'PLAIN', token: plain() });
    const o = oauth();
    const j = oauthJwt();
    cases.push({ kind: 'OAUTHENV', token: o }, { kind: 'OAUTH', token: o }, { kind: 'OAUTHENV', token: j }, { kind: 'OAUTH', token: j });
  }
  return cases;
}

/** undefined when the parser agrees with Kafka's verdict ("ACCEPT <hex name> [tokenauth]" or "REJECT"). */
function disagreement(kind: string, token: Buffer, verdict: string): string | undefined {
  const [word, nameHex, flag] = verdict.split(' ');
  const kafka = word === 'ACCEPT' ? { name: nameHex === '-' ? '' : Buffer.from(nameHex, 'hex').toString('utf8'), tokenAuth: flag === 'tokenauth' } : undefined;
  const show = (r: unknown) => `Kafka ${kafka ? `accepts as ${JSON.stringify(kafka.name)}${kafka.tokenAuth ? ' (tokenauth)' : ''}` : 'refuses'}, parser: ${JSON.stringify(r)}`;
  if (kind === 'PLAIN') {
    const r = parsePlain(token);
    const ok = kafka ? !!r && !r.rejected && r.username === kafka.name : !r || !!r.rejected;
    return ok ? undefined : show(r);
  }
  if (kind === 'SCRAM') {
    const r = parseScramClientFirst(token);
    const ok = kafka ? !!r && !r.rejected && r.username === kafka.name && (r.tokenAuth === true) === kafka.tokenAuth : !r || !!r.rejected;
    return ok ? undefined : show(r);
  }
  const r = parseOAuthBearer(token);
  if (kind === 'OAUTHENV') { // the envelope alone: the principal is "p" whatever the token
    const ok = kafka ? !!r && (r.authzid === undefined || r.authzid === 'p') : !r || (r.authzid !== undefined && r.authzid !== 'p');
    return ok ? undefined : show(r);
  }
  // the unsecured validator refuses tokens for reasons the parser does not mirror (expiry, alg, signature)
  return !kafka || (r?.subject === kafka.name && !r.rejected) ? undefined : show(r);
}

test('differential: the parsers name the user Kafka 3.9.1 and 4.1.1 name (needs a JDK and the Kafka jars)', (t) => {
  const oracle = setUpOracle();
  if (typeof oracle === 'string') { t.skip(oracle); return; }
  try {
    const seed = fuzzSeed();
    const cases = kafkaCornerTokens(new Prng(mix(seed, 'sasl-tokens-kafka')), KAFKA_ROUNDS);
    const input = cases.map((c) => `${c.kind} ${c.token.length ? c.token.toString('hex') : '-'}`).join('\n') + '\n';
    const failures: string[] = [];
    for (const { version, cp } of oracle.classpaths) {
      const verdicts: string[] = execFileSync('java', ['-cp', `${oracle.dir}:${cp}`, 'KafkaSaslOracle'], {
        input, encoding: 'utf8', maxBuffer: 1 << 28, timeout: 300_000, stdio: ['pipe', 'pipe', 'ignore'],
      }).trimEnd().split('\n');
      assert.equal(verdicts.length, cases.length, `Kafka ${version}: one verdict per token`);
      const accepted: Record<string, number> = {};
      cases.forEach(({ kind, token }, i) => {
        if (verdicts[i].startsWith('ACCEPT')) accepted[kind] = (accepted[kind] ?? 0) + 1;
        const d = disagreement(kind, token, verdicts[i]);
        if (d && failures.length < 10) failures.push(`Kafka ${version} ${kind} ${JSON.stringify(token.toString('latin1'))}: ${d}`);
      });
      const summary = `Kafka ${version}: ${cases.length} tokens, accepted by Kafka: ${JSON.stringify(accepted)}`;
      t.diagnostic(summary);
      console.log(`[fuzz] ${summary}`);
    }
    assert.deepEqual(failures, [], describeSeed(seed));
  } finally {
    rmSync(oracle.dir, { recursive: true, force: true });
  }
});

/**
 * What one hostile connection does in the end-to-end fuzz (proxy.fuzz.test.ts): random bytes, bad size prefixes,
 * valid headers with random or mutated bodies for audited APIs, undecodable ApiVersions, SASL exchanges with raw
 * or random tokens, truncated frames then close, slow drips, pipelined mixes.
 *
 * Each script says which proxy close reasons (kafka_proxy_connection_errors_total{reason}) are certain for its
 * connection, if any: the test then checks the proxy closed that very connection with one of them.
 */
import { decodeMessage, decodeMessagePrefix, encodeMessage } from '../../../protocol/codec.js';
import { API_SCHEMAS } from '../../../protocol/registry.js';
import { inRange, parseRange, type MessageSchema } from '../../../protocol/schema.js';
import { randomMessage } from './gen.js';
import { layoutOf } from './layout.js';
import { mutate, randomBody } from './mutate.js';
import type { Prng } from './prng.js';
import { RawConnection, requestFrame as rawRequestFrame, sizePrefixed } from '../../harness/raw.js';

/** A request frame with client id "fuzz" and header v2 when `flexible` (any API key and version, even invalid ones). */
function requestFrame(apiKey: number, version: number, correlationId: number, flexible: boolean, body: Buffer): Buffer {
  return rawRequestFrame(apiKey, version, correlationId, body, { flexible, clientId: 'fuzz' });
}

export interface ScriptResult {
  kind: string;
  /** Frames (or raw tokens / garbage runs) written. */
  frames: number;
  /** The proxy must close this connection itself, with one of these reasons. */
  proxyCloses?: string[];
  /** ApiVersions requests sent whose body does not decode (forwarded, counted as undecodable). */
  undecodableApiVersions: number;
  /** Audited or SASL requests sent with a valid header and a body that does not decode. */
  undecodableAudited: number;
  /** The script closed its side itself (truncated frame then close). */
  clientClosed?: boolean;
}

const AUDITED = [19, 20, 30, 31, 33, 36, 37, 21, 38, 42, 43, 44, 45, 49, 51, 29, 32, 15, 16];
const MAX_FRAME_BYTES = 100 * 1024 * 1024; // DEFAULTS.limits.maxFrameBytes

function versions(schema: MessageSchema): [number, number] { const r = parseRange(schema.validVersions)!; return [r.min, r.max]; }

function flexibleHeader(apiKey: number, version: number): boolean {
  const s = API_SCHEMAS.get(apiKey);
  return s !== undefined && inRange(version, s.request.flexibleVersions);
}

/** A valid header and a body that decodeMessage rejects (a mutation of a valid random body). */
/** Whether the proxy fails to read this body as a request (it reads requests as the broker does: bytes after a complete body are ignored). */
function undecodableAsRequest(schema: MessageSchema, version: number, bytes: Buffer): boolean {
  try { decodeMessagePrefix(schema, version, bytes); return false; } catch { return true; }
}

export function undecodableRequest(rng: Prng, apiKey: number, correlationId: number): { frame: Buffer; version: number } {
  const schema = API_SCHEMAS.get(apiKey)!.request;
  const [lo, hi] = versions(schema);
  // Some versions have no body that fails (ApiVersions v0-2 is empty, and bytes after a body are ignored, as by the
  // broker): another version is tried then.
  for (let attempt = 0; ; attempt++) {
    const version = attempt < 10 ? rng.range(lo, hi) : hi;
    const valid = Buffer.from(encodeMessage(schema, version, randomMessage(rng, schema, version)));
    const sites = layoutOf(schema, version, valid);
    for (let i = 0; i < 50; i++) {
      const m = mutate(rng, valid, sites);
      if (undecodableAsRequest(schema, version, m.bytes)) return { frame: requestFrame(apiKey, version, correlationId, flexibleHeader(apiKey, version), m.bytes), version };
    }
    // A truncation, which fails wherever the body is not empty.
    const cut = valid.subarray(0, valid.length - 1);
    if (valid.length > 0 && undecodableAsRequest(schema, version, cut)) return { frame: requestFrame(apiKey, version, correlationId, flexibleHeader(apiKey, version), cut), version };
    if (attempt >= 10) throw new Error(`no undecodable ${schema.name} v${version} found`);
  }
}

function validRequest(rng: Prng, apiKey: number, correlationId: number): Buffer {
  const schema = API_SCHEMAS.get(apiKey)!.request;
  const [lo, hi] = versions(schema);
  const version = rng.range(lo, hi);
  return requestFrame(apiKey, version, correlationId, flexibleHeader(apiKey, version), Buffer.from(encodeMessage(schema, version, randomMessage(rng, schema, version))));
}

function int16String(s: string): Buffer { const b = Buffer.from(s); const h = Buffer.alloc(2); h.writeInt16BE(b.length, 0); return Buffer.concat([h, b]); }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `bytes` in random chunks, with short pauses now and then. */
async function writeChunked(rng: Prng, conn: RawConnection, bytes: Buffer, drip = false): Promise<void> {
  let pos = 0;
  while (pos < bytes.length && !conn.closed) {
    const n = drip ? 1 : rng.weighted<number>([[3, bytes.length], [2, rng.range(1, 64)], [1, rng.range(1, 4)]]);
    conn.write(bytes.subarray(pos, pos + n));
    pos += n;
    if (drip) await sleep(rng.range(1, 4)); else if (rng.chance(0.2)) await sleep(rng.range(0, 5));
  }
}

export type Script = (conn: RawConnection, rng: Prng) => Promise<ScriptResult>;

const base = (kind: string): ScriptResult => ({ kind, frames: 0, undecodableApiVersions: 0, undecodableAudited: 0 });

export const SCRIPTS: readonly (readonly [number, string, Script])[] = [
  [10, 'random-bytes', async (conn, rng) => {
    await writeChunked(rng, conn, randomBody(rng, rng.range(1, 3000)));
    return { ...base('random-bytes'), frames: 1 };
  }],
  [4, 'negative-size', async (conn, rng) => {
    const size = rng.pick([-1, -2, -0x80000000, -rng.range(1, 0x7fffffff)]);
    const p = Buffer.alloc(4); p.writeInt32BE(size, 0);
    await writeChunked(rng, conn, Buffer.concat([p, rng.bytes(rng.int(40))]));
    return { ...base('negative-size'), frames: 1, proxyCloses: ['negative_size'] };
  }],
  [4, 'oversized', async (conn, rng) => {
    const p = Buffer.alloc(4); p.writeInt32BE(rng.pick([MAX_FRAME_BYTES + 1, 0x7fffffff, rng.range(MAX_FRAME_BYTES + 1, 0x7fffffff)]), 0);
    await writeChunked(rng, conn, Buffer.concat([p, rng.bytes(rng.int(40))]));
    return { ...base('oversized'), frames: 1, proxyCloses: ['oversized'] };
  }],
  [4, 'too-short-for-a-header', async (conn, rng) => {
    // Frames of 0..7 bytes (zero-size ones repeated sometimes): no request header fits.
    const n = rng.chance(0.3) ? rng.range(2, 6) : 1;
    const size = rng.range(0, 7);
    const parts: Buffer[] = [];
    for (let i = 0; i < n; i++) parts.push(sizePrefixed(rng.bytes(size)));
    await writeChunked(rng, conn, Buffer.concat(parts));
    return { ...base('too-short-for-a-header'), frames: n, proxyCloses: ['malformed'] };
  }],
  [10, 'audited-random-body', async (conn, rng) => {
    const apiKey = rng.pick(AUDITED);
    const schema = API_SCHEMAS.get(apiKey)!.request;
    const [lo, hi] = versions(schema);
    const version = rng.chance(0.9) ? rng.range(lo, hi) : rng.pick([hi + 1, hi + 5, -1, 0x7fff]);
    const body = randomBody(rng, rng.range(0, 300));
    const undecodable = undecodableAsRequest(schema, version, body) ? 1 : 0;
    await writeChunked(rng, conn, requestFrame(apiKey, version, rng.int(1 << 30), flexibleHeader(apiKey, version), body));
    return { ...base(`audited-random-body ${apiKey}`), frames: 1, undecodableAudited: undecodable };
  }],
  [14, 'audited-mutated-body', async (conn, rng) => {
    const apiKey = rng.pick(AUDITED);
    const { frame } = undecodableRequest(rng, apiKey, rng.int(1 << 30));
    await writeChunked(rng, conn, frame);
    return { ...base(`audited-mutated-body ${apiKey}`), frames: 1, undecodableAudited: 1 };
  }],
  [6, 'apiversions-undecodable', async (conn, rng) => {
    // ApiVersions is decoded but not audited: an undecodable one is forwarded untouched and counted.
    const { frame } = undecodableRequest(rng, 18, rng.int(1 << 30));
    await writeChunked(rng, conn, frame);
    return { ...base('apiversions-undecodable'), frames: 1, undecodableApiVersions: 1 };
  }],
  [6, 'sasl-v0-raw-token', async (conn, rng) => {
    conn.write(requestFrame(17, 0, 1, false, int16String(rng.pick(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']))));
    await conn.tryNextFrame(5000);
    const token = rng.weighted<() => Buffer>([
      [3, () => sizePrefixed(Buffer.from(`\0${rng.pick(['alice', 'bob', 'admin', 'nobody'])}\0wrong-${rng.u32()}`))],
      [2, () => sizePrefixed(rng.bytes(rng.range(0, 200)))],
      [1, () => sizePrefixed(Buffer.from(`n,,n=alice,r=${rng.u32()}`))],
      [2, () => randomBody(rng, rng.range(1, 100))], // not even size-prefixed
      [1, () => Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3])], // negative size in raw mode
    ])();
    await writeChunked(rng, conn, token);
    return { ...base('sasl-v0-raw-token'), frames: 2 };
  }],
  [6, 'sasl-authenticate-garbage', async (conn, rng) => {
    const mech = rng.pick(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER', 'GSSAPI', 'x'.repeat(rng.range(0, 40))]);
    conn.write(requestFrame(17, 1, 1, false, int16String(mech)));
    await conn.tryNextFrame(5000);
    const schema = API_SCHEMAS.get(36)!.request;
    const version = rng.range(0, 2);
    const auth = rng.weighted<() => Buffer>([
      [2, () => rng.bytes(rng.range(0, 300))],
      [2, () => Buffer.from(`\0alice\0wrong-${rng.u32()}`)],
      [1, () => Buffer.from(`n,,n=${'a'.repeat(rng.range(0, 300))},r=${rng.u32()}`)],
      [1, () => Buffer.from(`n,,\x01auth=Bearer ${rng.bytes(30).toString('base64')}\x01\x01`)],
    ])();
    const frame = rng.chance(0.7)
      ? requestFrame(36, version, 2, version >= 2, Buffer.from(encodeMessage(schema, version, { AuthBytes: auth })))
      : undecodableRequest(rng, 36, 2).frame;
    await writeChunked(rng, conn, frame);
    return { ...base('sasl-authenticate-garbage'), frames: 2 };
  }],
  [4, 'raw-token-without-handshake', async (conn, rng) => {
    const token = Buffer.from(`\0alice\0alice-secret-${rng.u32()}`);
    await writeChunked(rng, conn, rng.chance(0.5) ? token : sizePrefixed(token));
    return { ...base('raw-token-without-handshake'), frames: 1 };
  }],
  [6, 'truncated-then-close', async (conn, rng) => {
    const frame = validRequest(rng, rng.pick([...AUDITED, 18, 3, 0, 1, 10]), rng.int(1 << 30));
    await writeChunked(rng, conn, frame.subarray(0, rng.range(1, frame.length - 1)));
    await sleep(rng.range(0, 50));
    conn.end();
    return { ...base('truncated-then-close'), frames: 1, clientClosed: true };
  }],
  [5, 'valid-then-garbage', async (conn, rng) => {
    conn.write(requestFrame(18, 3, 1, true, Buffer.from(encodeMessage(API_SCHEMAS.get(18)!.request, 3, { ClientSoftwareName: 'fuzz', ClientSoftwareVersion: '1' }))));
    await conn.tryNextFrame(5000);
    await writeChunked(rng, conn, randomBody(rng, rng.range(1, 500)));
    return { ...base('valid-then-garbage'), frames: 2 };
  }],
  [3, 'drip', async (conn, rng) => {
    const bytes = rng.chance(0.5) ? randomBody(rng, rng.range(5, 120)) : undecodableRequest(rng, rng.pick(AUDITED), 7).frame.subarray(0, 150);
    await writeChunked(rng, conn, bytes, true);
    return { ...base('drip'), frames: 1 };
  }],
  [4, 'unknown-api', async (conn, rng) => {
    const apiKey = rng.pick([rng.range(100, 0x7fff), -rng.range(1, 0x8000), 9999]);
    await writeChunked(rng, conn, requestFrame(apiKey, rng.range(-1, 20), 1, rng.chance(0.5), randomBody(rng, rng.range(0, 200))));
    return { ...base('unknown-api'), frames: 1 };
  }],
  [4, 'pipelined-mix', async (conn, rng) => {
    const parts: Buffer[] = [];
    let undecodableAudited = 0;
    const n = rng.range(2, 6);
    for (let i = 0; i < n; i++) {
      const pick = rng.int(4);
      if (pick === 0) parts.push(validRequest(rng, rng.pick([18, 3, 10, 60]), i));
      else if (pick === 1) { parts.push(undecodableRequest(rng, rng.pick(AUDITED), i).frame); undecodableAudited++; }
      else if (pick === 2) parts.push(sizePrefixed(randomBody(rng, rng.range(8, 100))));
      else parts.push(randomBody(rng, rng.range(1, 30)));
    }
    await writeChunked(rng, conn, Buffer.concat(parts));
    // Counted only if the proxy got that far: reported as a lower bound of 0.
    void undecodableAudited;
    return { ...base('pipelined-mix'), frames: n };
  }],
];

export function pickScript(rng: Prng): readonly [number, string, Script] {
  return rng.weighted(SCRIPTS.map((s) => [s[0], s] as const));
}

/**
 * Per-frame CPU cost of the protocol code, no sockets, no broker: for every frame captured from real clients
 * (test/protocol/fixtures/captured.json), the full decode (what audited APIs pay) and re-encode (what rewritten
 * responses pay); and for the data path, what a Produce/Fetch frame costs the proxy instead: the header read,
 * the acks lookup in Produce requests, and the leader-hint walk over a streamed response in 64 KiB chunks.
 *
 *   npx tsx bench/codec-micro.ts            # prints a markdown table (ns per frame, median of 5 rounds)
 */
import { readFileSync } from 'node:fs';
import { decodeMessage, encodeMessage } from '../protocol/codec.js';
import { readRequestHeader, responseBodyOffset } from '../protocol/header.js';
import { Fetch } from '../protocol/messages/fetch.js';
import { Produce } from '../protocol/messages/produce.js';
import { API_SCHEMAS } from '../protocol/registry.js';
import { inRange } from '../protocol/schema.js';
import { layoutTo, skipperTo } from '../protocol/skip.js';
import { StreamWalk } from '../protocol/stream-walk.js';

interface Captured { client: string; side: 'request' | 'response'; apiKey: number; apiVersion: number; hex: string }
const captured = JSON.parse(readFileSync(new URL('../test/protocol/fixtures/captured.json', import.meta.url), 'utf8')) as Captured[];

/** Median ns per call of `fn` over 5 rounds of enough calls to last ~50 ms each. */
function nsPerCall(fn: () => void): number {
  let n = 1;
  for (;;) { const t = process.hrtime.bigint(); for (let i = 0; i < n; i++) fn(); if (Number(process.hrtime.bigint() - t) > 5e6) break; n *= 2; }
  n *= 10;
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - t) / n);
  }
  return rounds.sort((a, b) => a - b)[2];
}

const rows: string[] = [];
const fmt = (ns: number) => ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(0)} ns`;

for (const c of captured) {
  const api = API_SCHEMAS.get(c.apiKey);
  if (!api) continue;
  const frame = Buffer.from(c.hex, 'hex');
  const schema = c.side === 'request' ? api.request : api.response;
  const flexible = inRange(c.apiVersion, schema.flexibleVersions);
  const offset = c.side === 'request' ? readRequestHeader(frame, flexible ? 2 : 1).bodyOffset : responseBodyOffset(frame, c.apiKey !== 18 && flexible ? 1 : 0);
  const body = frame.subarray(offset);
  const value = decodeMessage(schema, c.apiVersion, body);
  const decode = nsPerCall(() => decodeMessage(schema, c.apiVersion, body));
  const encode = nsPerCall(() => encodeMessage(schema, c.apiVersion, value));
  let hot = '';
  if (c.apiKey === 0 && c.side === 'request') {
    const skip = skipperTo(Produce.request, c.apiVersion, 'Acks');
    hot = `header + acks: ${fmt(nsPerCall(() => { const h = readRequestHeader(frame, flexible ? 2 : 1, false); skip(frame, h.bodyOffset); }))}`;
  } else if ((c.apiKey === 0 || c.apiKey === 1) && c.side === 'response' && c.apiVersion >= (c.apiKey === 0 ? 10 : 16)) {
    const steps = layoutTo(c.apiKey === 0 ? Produce.response : Fetch.response, c.apiVersion);
    hot = `leader-hint walk: ${fmt(nsPerCall(() => { const w = new StreamWalk(steps, body.length); w.feed(body); }))}`;
  } else if (c.side === 'request') {
    hot = `header: ${fmt(nsPerCall(() => readRequestHeader(frame, flexible ? 2 : 1, false)))}`;
  }
  rows.push(`| ${c.client} | ${api.name} v${c.apiVersion} ${c.side} | ${frame.length} | ${fmt(decode)} | ${fmt(encode)} | ${hot} |`);
}

// A Fetch v17 response with 1 MiB of records in 64 KiB chunks, as the proxy sees it on the wire.
const big = encodeMessage(Fetch.response, 17, {
  ThrottleTimeMs: 0, ErrorCode: 0, SessionId: 0,
  Responses: [{ TopicId: 'AAAAAAAAAAAAAAAAAAAAAQ', Partitions: [0, 1, 2].map((p) => ({
    PartitionIndex: p, ErrorCode: 0, HighWatermark: 1n, LastStableOffset: 1n, LogStartOffset: 0n, AbortedTransactions: null, PreferredReadReplica: -1, Records: Buffer.alloc(349_525, 1),
  })) }],
});
const chunks: Buffer[] = [];
for (let p = 0; p < big.length; p += 65536) chunks.push(big.subarray(p, p + 65536));
const steps = layoutTo(Fetch.response, 17);
const walkNs = nsPerCall(() => { const w = new StreamWalk(steps, big.length); for (const c of chunks) w.feed(c); });
rows.push(`| synthetic | Fetch v17 response, 3 partitions, 1 MiB in ${chunks.length} chunks | ${big.length} | ${fmt(nsPerCall(() => decodeMessage(Fetch.response, 17, big)))} | - | leader-hint walk: ${fmt(walkNs)} (${(walkNs / (big.length / 2 ** 20) / 1e6).toFixed(4)} ms per MB) |`);

process.stdout.write([
  `node ${process.version}, ${new Date().toISOString()}`, '',
  '| client | frame | bytes | full decode | re-encode | data-path cost instead |', '|---|---|---:|---:|---:|---|', ...rows, '',
].join('\n'));

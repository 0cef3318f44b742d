/**
 * CPU time of one connection's JavaScript per Produce request and response, with no sockets and no broker: what the
 * proxy adds on top of a byte relay's reads and writes. A ProxyConnection (the production pipeline, default rules:
 * produce not audited, denials audited, metrics on) is fed Produce requests the way ProducerPerformance sends them
 * (clientId "producer-1", acks=1, three partitions of BATCH bytes each, the stream cut into 64 KiB reads) and one
 * small response per request, five requests in flight; the fake sockets count what is written.
 *
 *   node --import tsx bench/connection-micro.ts
 *   npm run build && CODE=dist node --import tsx bench/connection-micro.ts   # the compiled code, as deployed
 *
 * Environment: VERSION (Produce version, default 9; 10 and up carry leader hints in responses), BATCH (bytes per
 * partition, default 21000), SECONDS per measurement (default 3), ROUNDS (default 5; median reported).
 * Figures are per request+response pair and per MB of requests. The same stream through a function that only
 * writes each chunk on ("relay") is the floor of this harness.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { ProxyContext } from '../src/proxy/context.js';

/**
 * CODE=dist measures the compiled JavaScript (npm run build), as deployed; by default the TypeScript sources run
 * through tsx, whose output differs (esbuild keeps function names with a helper call per closure made).
 */
const root = process.env.CODE ? pathToFileURL(resolve(process.env.CODE)).href + '/' : new URL('../', import.meta.url).href;
const ext = process.env.CODE ? '.js' : '.ts';
const load = (path: string) => import(root + path + ext);
const { encodeMessage } = await load('protocol/codec') as typeof import('../protocol/codec.js');
const { apiSchema } = await load('protocol/registry') as typeof import('../protocol/registry.js');
const { DEFAULTS } = await load('src/config') as typeof import('../src/config.js');
const { ProxyMetrics } = await load('src/metrics') as typeof import('../src/metrics.js');
const { BrokerMap } = await load('src/proxy/broker-map') as typeof import('../src/proxy/broker-map.js');
const { ProxyConnection } = await load('src/proxy/connection') as typeof import('../src/proxy/connection.js');
const { TopicIdMap } = await load('src/proxy/topic-ids') as typeof import('../src/proxy/topic-ids.js');

const VERSION = Number(process.env.VERSION ?? 9);
const BATCH = Number(process.env.BATCH ?? 21_000);
const SECONDS = Number(process.env.SECONDS ?? 3);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const IN_FLIGHT = 5;
const READ = 64 * 1024;

/** Just enough of a net.Socket for ProxyConnection: writes are counted, reads are emitted by the benchmark. */
class FakeSocket extends EventEmitter {
  written = 0;
  writable = true;
  writableLength = 0;
  writableNeedDrain = false;
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  private paused = false;
  write(b: Buffer): boolean { this.written += b.length; return true; }
  cork(): void {}
  uncork(): void {}
  pause(): this { this.paused = true; return this; }
  resume(): this { this.paused = false; return this; }
  isPaused(): boolean { return this.paused; }
  setNoDelay(): this { return this; }
  setTimeout(): this { return this; }
  end(): this { return this; }
  destroy(): this { return this; }
  destroySoon(): void {}
}

const produce = apiSchema(0)!;
function request(correlationId: number): Buffer {
  const records = Buffer.alloc(BATCH, 7);
  const body = encodeMessage(produce.request, VERSION, {
    TransactionalId: null, Acks: 1, TimeoutMs: 30000,
    TopicData: [{ Name: 'bench-topic', PartitionData: [0, 1, 2].map((Index) => ({ Index, Records: records })) }],
  });
  const clientId = Buffer.from('producer-1');
  const head = Buffer.alloc(10 + clientId.length + (VERSION >= 9 ? 1 : 0)); // request header v1 (v2: + empty tags)
  head.writeInt16BE(0, 0);
  head.writeInt16BE(VERSION, 2);
  head.writeInt32BE(correlationId, 4);
  head.writeInt16BE(clientId.length, 8);
  clientId.copy(head, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(head.length + body.length, 0);
  return Buffer.concat([size, head, body]);
}
function response(correlationId: number): Buffer {
  const body = encodeMessage(produce.response, VERSION, {
    Responses: [{ Name: 'bench-topic', PartitionResponses: [0, 1, 2].map((Index) => ({
      Index, ErrorCode: 0, BaseOffset: 1000n, LogAppendTimeMs: -1n, LogStartOffset: 0n, RecordErrors: [], ErrorMessage: null,
    })) }],
    ThrottleTimeMs: 0,
  });
  const head = Buffer.alloc(VERSION >= 9 ? 5 : 4);
  head.writeInt32BE(correlationId, 0);
  const frame = Buffer.alloc(4 + head.length + body.length);
  frame.writeInt32BE(head.length + body.length, 0);
  head.copy(frame, 4);
  body.copy(frame, 4 + head.length);
  return frame;
}

/** One round: requests (cut into reads) and their responses, for `seconds`; returns ns per pair and request bytes. */
async function round(seconds: number, mode: 'proxy' | 'relay'): Promise<{ nsPerPair: number; msPerMB: number }> {
  const config = structuredClone(DEFAULTS);
  const client = new FakeSocket();
  const upstream = new FakeSocket();
  const ctx: ProxyContext = {
    config, log: pino({ level: 'silent' }), metrics: new ProxyMetrics({ collectDefault: false }),
    brokers: new BrokerMap('127.0.0.1', 9200, { openBrokerListener: () => undefined }),
    topicIds: new TopicIdMap(), tokenOwners: new Map(), clientSecurityProtocol: 'PLAINTEXT',
    clusterId: () => 'bench', listenersReady: () => undefined, setClusterId: () => undefined,
    connectUpstream: async () => upstream as unknown as Socket,
    audit: () => undefined, auditEnabled: (apiKey) => apiKey !== 0 && apiKey !== 1, auditDenials: () => true,
    writeAheadFor: () => false, intend: async () => 'x', auditOutcome: () => undefined, abandonIntent: () => undefined,
    auditAdmission: () => undefined, reportUndecodableOnce: () => false, onConnectionClosed: () => undefined,
  };
  let toBroker: (b: Buffer) => void;
  let toClient: (b: Buffer) => void;
  if (mode === 'proxy') {
    const conn = new ProxyConnection(ctx, client as unknown as Socket, { kind: 'bootstrap' }, 'bench');
    await conn.start();
    toBroker = (b) => client.emit('data', b);
    toClient = (b) => upstream.emit('data', b);
  } else {
    toBroker = (b) => { upstream.write(b); };
    toClient = (b) => { client.write(b); };
  }
  // A stream of IN_FLIGHT requests, cut into reads; correlation ids repeat per group (the queue only pairs in order).
  const group = Buffer.concat(Array.from({ length: IN_FLIGHT }, (_, i) => request(i)));
  const reads: Buffer[] = [];
  for (let off = 0; off < group.length; off += READ) reads.push(group.subarray(off, off + READ));
  const responses = Array.from({ length: IN_FLIGHT }, (_, i) => response(i));
  let pairs = 0;
  let bytes = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < until) {
    for (let k = 0; k < 20; k++) {
      for (const r of reads) toBroker(r);
      for (const r of responses) toClient(r);
      pairs += IN_FLIGHT;
      bytes += group.length;
    }
  }
  const ns = Number(process.hrtime.bigint() - start);
  if (upstream.written !== bytes && mode === 'proxy') throw new Error(`forwarded ${upstream.written} of ${bytes} bytes`);
  return { nsPerPair: ns / pairs, msPerMB: (ns / 1e6) / (bytes / 2 ** 20) };
}

const results: Record<string, number[]> = {};
await round(1, 'proxy'); await round(1, 'relay'); // JIT warm-up
for (let i = 0; i < ROUNDS; i++) {
  for (const mode of ['proxy', 'relay'] as const) {
    const r = await round(SECONDS, mode);
    (results[`${mode} ns per request+response`] ??= []).push(r.nsPerPair);
    (results[`${mode} ms per MB`] ??= []).push(r.msPerMB);
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
process.stdout.write(`Produce v${VERSION}, 3 x ${BATCH} B per request, ${IN_FLIGHT} in flight, 64 KiB reads; median of ${ROUNDS}\n`);
for (const [k, xs] of Object.entries(results)) process.stdout.write(`${k.padEnd(34)} ${med(xs).toFixed(k.includes('ns') ? 0 : 4)}  [${xs.map((x) => x.toFixed(k.includes('ns') ? 0 : 4)).join(' ')}]\n`);

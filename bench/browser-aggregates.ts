/**
 * How long the audit browser's overview (GET /audit/api/aggregates) takes with a full index: N made-up events
 * (test/browser/synthetic.ts: 63 principals, 13 methods, ~2,500 resources, 160 client hosts, every outcome)
 * spread over 24 hours, and the aggregate of several searches, each asked `R` times:
 *
 *   - in process: aggregate() over the index (what the server computes), and the table's search for comparison;
 *   - over HTTP: the real endpoint on an AdminServer, JSON included, as the page asks it (buckets=100, top=8).
 *
 * Prints p50 / p99 / max per search and writes them to bench/out/browser-aggregates-<time>.json.
 * `npx tsx bench/browser-aggregates.ts [events=100000] [repeats=200]`
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AdminServer } from '../src/admin/server.js';
import { aggregate, DEFAULT_AGGREGATE_OPTIONS } from '../src/browser/aggregates.js';
import { AuditBrowser } from '../src/browser/index.js';
import { parseQuery } from '../src/browser/filter.js';
import { ProxyMetrics } from '../src/metrics.js';
import { syntheticEvents } from '../test/browser/synthetic.js';
import { fmt, percentile } from './lib/stats.js';

const N = Number(process.argv[2] ?? 100_000);
const R = Number(process.argv[3] ?? 200);
const now = Date.now();

const SEARCHES: Array<[name: string, query: string]> = [
  ['everything (the page as it opens)', ''],
  ['last hour', `from=${new Date(now - 3_600_000).toISOString()}`],
  ['one principal', 'principal=User:alice'],
  ['failures (outcome=failure)', 'outcome=failure'],
  ['method glob Delete*', 'method=Delete*'],
  ['resource glob topic-1* + outcome=denied', 'resource=topic-1*&outcome=denied'],
];

function stats(xs: number[]) {
  return { p50: percentile(xs, 50), p99: percentile(xs, 99), max: Math.max(...xs), mean: xs.reduce((a, b) => a + b, 0) / xs.length };
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t) : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
}

const silent = pino({ level: 'silent' });
const browser = new AuditBrowser({ connection: { brokers: ['127.0.0.1:1'] }, topics: ['audit'], maxEvents: N, maxBytes: Number.MAX_SAFE_INTEGER, log: silent });
const events = syntheticEvents({ count: N, end: now, spanMs: 24 * 3_600_000 });
const tAdd = performance.now();
for (const e of events) browser.index.add(e, 700);
const addMs = performance.now() - tAdd;
const admin = new AdminServer(new ProxyMetrics({ collectDefault: false }), { notReadyReasons: async () => [] }, silent);
admin.use(browser.route);
const port = await admin.start('127.0.0.1', 0);

const results: Array<Record<string, unknown>> = [];
process.stdout.write(`${N.toLocaleString('en-US')} events in the index (indexed in ${fmt(addMs)} ms, ${fmt((addMs * 1000) / N)} µs each); ${R} requests per search; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n`);
process.stdout.write('| search | matched events | aggregate() p50 / p99 / max (ms) | HTTP aggregates p50 / p99 / max (ms) | response KiB | table search (limit 200) p50 / p99 (ms) |\n|---|---:|---:|---:|---:|---:|\n');
for (const [name, query] of SEARCHES) {
  const q = parseQuery(new URLSearchParams(query), N);
  const opts = { ...DEFAULT_AGGREGATE_OPTIONS, now: Date.now(), buckets: 100, top: 8, attentionRows: 8 };
  for (let i = 0; i < 5; i++) aggregate(browser.index, q.filter, opts); // warm-up
  const inProcess: number[] = [];
  let matched = 0;
  for (let i = 0; i < R; i++) {
    const t = performance.now();
    matched = aggregate(browser.index, q.filter, opts).matched.events;
    inProcess.push(performance.now() - t);
  }
  const path = `/audit/api/aggregates?${query}${query ? '&' : ''}buckets=100&top=8&attentionRows=8`;
  const size = await new Promise<number>((resolve) => http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => { let n = 0; res.on('data', (c: Buffer) => { n += c.length; }); res.on('end', () => resolve(n)); }));
  for (let i = 0; i < 5; i++) await get(port, path);
  const overHttp: number[] = [];
  for (let i = 0; i < R; i++) overHttp.push(await get(port, path));
  const search: number[] = [];
  for (let i = 0; i < Math.min(R, 50); i++) search.push(await get(port, `/audit/api/events?${query}${query ? '&' : ''}limit=200`));
  const a = stats(inProcess), h = stats(overHttp), s = stats(search);
  results.push({ name, query, matched, aggregateMs: a, httpMs: h, responseBytes: size, searchMs: s });
  process.stdout.write(`| ${name} | ${matched.toLocaleString('en-US')} | ${fmt(a.p50)} / ${fmt(a.p99)} / ${fmt(a.max)} | ${fmt(h.p50)} / ${fmt(h.p99)} / ${fmt(h.max)} | ${fmt(size / 1024, 1)} | ${fmt(s.p50)} / ${fmt(s.p99)} |\n`);
}

await browser.stop();
await admin.stop();
const outDir = join(process.cwd(), 'bench', 'out');
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `browser-aggregates-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ events: N, repeats: R, indexMs: addMs, cpus: os.cpus().length, node: process.version, loadavg: os.loadavg(), results }, null, 2));
process.stdout.write(`\nwritten to ${file}\n`);

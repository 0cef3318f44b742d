/**
 * The audit browser: a web page on the admin HTTP server to browse, search and follow audit events.
 *
 *   GET  /audit                 the page (single page, plain HTML/CSS/JS from page.ts)
 *   GET  /audit/api/events      search: principal, method, resource, outcome, errorCode, from, to, limit, source
 *   GET  /audit/api/stream      Server-Sent Events: every new event that matches the same filters (live tail)
 *   GET  /audit/api/export      the matching events as JSON lines (application/x-ndjson), oldest first
 *   POST /audit/api/load        reads from..to (and the other filters) from the topic into the "loaded" result
 *   GET  /audit/api/status      consumer state, index fill, topics (no configuration secrets)
 *   GET  /audit/api/aggregates  the overview of the same filters: timeline per outcome, top principals, methods,
 *                               resources and client addresses, attention panel (aggregates.ts)
 *   GET  /audit/assets/...      the chart library (uPlot) the page loads (assets.ts)
 *
 * It reads the audit topic(s) with its own consumer (random group id, nothing committed) into a bounded
 * {@link EventIndex}: at start the last maxEvents records of each partition, then every new record. Older
 * events are read on demand: /audit/api/load looks up the offsets of the time range with
 * fetchTopicOffsetsByTimestamp and reads just that range into a second, equally bounded index.
 *
 * Access control is in auth.ts. The events are shown as the topic holds them, except that keys that look
 * secret are dropped from `data.details` (the proxy never writes them, but other producers might have).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { type AuditEvent, sanitizeDetails } from '../audit/event.js';
import type { AuditKafkaConnection } from '../audit/kafka-client.js';
import { createKafka } from '../audit/kafka-client.js';
import type { AdminRoute } from '../admin/server.js';
import { BrowserAuth, type BrowserAuthConfig } from './auth.js';
import { EventIndex, FilterError, parseQuery, parseTime, type BrowserFilter, type IndexedEvent } from './event-index.js';
import { compileFilter, intParam, type CompiledFilter } from './filter.js';
import { eventFacts } from './facts.js';
import { aggregate, DEFAULT_AGGREGATE_OPTIONS } from './aggregates.js';
import { AssetError, pageAssets, readAsset } from './assets.js';
import { renderLoginPage, renderPage } from './page.js';

export { EventIndex, matchesFilter, parseQuery, type BrowserFilter } from './event-index.js';
export { aggregate, DESTRUCTIVE_METHODS, type Aggregates } from './aggregates.js';
export { BrowserAuth, type BrowserAuthConfig, isLoopbackAddress, isLoopbackHost } from './auth.js';

export interface AuditBrowserOptions {
  /** The audit cluster (the same settings the audit sink uses). */
  connection: AuditKafkaConnection;
  /** Audit topics to read; those that do not exist are reported in the status and skipped. */
  topics: string[];
  /** Most events held in the recent-events index, and in a loaded range. */
  maxEvents: number;
  /** Most bytes (sum of record sizes) held in each index. Default 64 MiB. */
  maxBytes?: number;
  auth?: BrowserAuthConfig;
  log: Logger;
  /** Longest a load from the topic may take before it returns what it has. Default 60 s. */
  loadTimeoutMs?: number;
  /** Delay between attempts to (re)connect the consumer. Default 5 s. */
  retryMs?: number;
  /** Most concurrent live-tail (SSE) connections. Default 32. */
  maxStreams?: number;
}

export type ConsumerState = 'idle' | 'starting' | 'live' | 'retrying' | 'stopped';

export interface LoadSummary {
  from: string;
  to: string;
  /** Events kept (at most maxEvents). */
  count: number;
  /** Events in the range that matched the filter. */
  matched: number;
  truncated: boolean;
  /** True when the load stopped at loadTimeoutMs before reading the whole range. */
  timedOut: boolean;
  /** Records read from the topic. */
  records: number;
  tookMs: number;
}

interface LoadedRange { index: EventIndex; summary: LoadSummary }

interface StreamClient { res: http.ServerResponse; test: CompiledFilter }

/** Records written up to this long after `to` are still read by a load (the event time is the operation's start, the record time its send). */
const LOAD_SLACK_MS = 10 * 60_000;
const MAX_STREAM_BUFFER = 1024 * 1024;
const HEARTBEAT_MS = 15_000;

class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

/** Keeps, per topic-partition, the next offset wanted: earlier offsets (re-deliveries after a seek) are skipped. */
class OffsetTracker {
  private readonly next = new Map<string, bigint>();
  private static key(topic: string, partition: number) { return `${topic}\u0000${partition}`; }
  set(topic: string, partition: number, offset: bigint): void { this.next.set(OffsetTracker.key(topic, partition), offset); }
  get(topic: string, partition: number): bigint | undefined { return this.next.get(OffsetTracker.key(topic, partition)); }
  /** True when the message is new (and records it). */
  accept(topic: string, partition: number, offset: string): boolean {
    const k = OffsetTracker.key(topic, partition);
    const o = BigInt(offset);
    if (o < (this.next.get(k) ?? 0n)) return false;
    this.next.set(k, o + 1n);
    return true;
  }
}

/** Parses one record into an audit event; undefined for anything that is not one. */
export function parseAuditRecord(value: Buffer | null): AuditEvent | undefined {
  if (!value) return undefined;
  let e: unknown;
  try { e = JSON.parse(value.toString('utf8')); } catch { return undefined; }
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return undefined;
  const ev = e as AuditEvent;
  if (typeof ev.id !== 'string' || typeof ev.time !== 'string' || typeof ev.data !== 'object' || ev.data === null) return undefined;
  if (ev.data.details && typeof ev.data.details === 'object') {
    const { clean, removed } = sanitizeDetails(ev.data.details);
    if (removed.length > 0) ev.data.details = clean;
  }
  return ev;
}

export class AuditBrowser {
  readonly index: EventIndex;
  readonly auth: BrowserAuth;
  private readonly log: Logger;
  private readonly maxBytes: number;
  private state: ConsumerState = 'idle';
  private lastError: string | undefined;
  private readTopics: string[] = [];
  private missingTopics: string[] = [];
  private consumer: Consumer | undefined;
  private readonly offsets = new OffsetTracker();
  private unparseable = 0;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private stopped = false;
  private loaded: LoadedRange | undefined;
  private loading: Promise<LoadSummary> | undefined;
  private cancelLoad: (() => void) | undefined;
  private readonly streams = new Set<StreamClient>();
  private heartbeat: NodeJS.Timeout | undefined;
  private readyWaiters: Array<() => void> = [];

  /** The admin-server route (AdminServer.use(browser.route)). */
  readonly route: AdminRoute = (req, res) => this.handle(req, res);

  constructor(private readonly opts: AuditBrowserOptions) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.index = new EventIndex(opts.maxEvents, this.maxBytes);
    this.index.onAdd = (entry) => this.publish(entry);
    this.auth = new BrowserAuth(opts.auth);
    this.log = opts.log;
  }

  get consumerState(): ConsumerState { return this.state; }

  /** Starts reading the audit topics in the background (retrying until stop()); never throws. */
  start(): void {
    if (this.loop || this.stopped) return;
    this.heartbeat = setInterval(() => { for (const c of this.streams) this.write(c, ': keep-alive\n\n'); }, HEARTBEAT_MS);
    this.heartbeat.unref();
    this.loop = this.connectLoop();
  }

  /** Resolves once the consumer has joined its group and started fetching (or rejects after timeoutMs). */
  whenLive(timeoutMs = 60_000): Promise<void> {
    if (this.state === 'live') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`audit browser consumer not live after ${timeoutMs} ms (state ${this.state}${this.lastError ? `: ${this.lastError}` : ''})`)), timeoutMs);
      this.readyWaiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.state = 'stopped';
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const c of this.streams) c.res.end();
    this.streams.clear();
    this.wake?.();
    this.cancelLoad?.();
    await this.disconnectConsumer();
    await this.loop;
    await this.loading?.catch(() => undefined);
  }

  private kafka(component: string): Kafka {
    return createKafka({ ...this.opts.connection, kafkaLogLevel: this.opts.connection.kafkaLogLevel ?? 'error' }, component);
  }

  private async connectLoop(): Promise<void> {
    while (!this.stopped) {
      if (!this.consumer) {
        this.state = this.state === 'idle' ? 'starting' : this.state;
        try {
          await this.connectOnce();
        } catch (err) {
          await this.disconnectConsumer();
          if (this.stopped) break;
          this.state = 'retrying';
          this.lastError = (err as Error).message;
          this.log.warn({ reason: this.lastError, retryInMs: this.opts.retryMs ?? 5000 }, 'audit browser cannot read the audit topics yet; retrying');
        }
      }
      // Sleep until the retry delay passes, the consumer crashes for good, or stop().
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.consumer ? 3_600_000 : this.opts.retryMs ?? 5000);
        this.wake = () => { clearTimeout(t); resolve(); };
      });
    }
  }

  private async connectOnce(): Promise<void> {
    const kafka = this.kafka('audit-browser');
    const admin = kafka.admin();
    const starts: Array<{ topic: string; partition: number; offset: bigint }> = [];
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      this.readTopics = this.opts.topics.filter((t) => existing.has(t));
      this.missingTopics = this.opts.topics.filter((t) => !existing.has(t));
      if (this.readTopics.length === 0) throw new Error(`no audit topic exists yet (looked for ${this.opts.topics.join(', ')})`);
      for (const topic of this.readTopics) {
        for (const p of await admin.fetchTopicOffsets(topic)) {
          const low = BigInt(p.low), high = BigInt(p.high);
          let start = high - BigInt(this.opts.maxEvents);
          if (start < low) start = low;
          const seen = this.offsets.get(topic, p.partition);
          if (seen !== undefined && seen > start) start = seen; // after a reconnect: continue where we were
          starts.push({ topic, partition: p.partition, offset: start });
        }
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    for (const s of starts) this.offsets.set(s.topic, s.partition, s.offset);

    const consumer = kafka.consumer({ groupId: `kap-audit-browser-${randomUUID()}`, sessionTimeout: 30_000, heartbeatInterval: 3_000, maxWaitTimeInMs: 1_000 });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, (ev) => {
      this.lastError = ev.payload.error?.message;
      if (!ev.payload.restart && !this.stopped) {
        this.log.warn({ reason: this.lastError }, 'audit browser consumer stopped; reconnecting');
        this.state = 'retrying';
        void this.disconnectConsumer().then(() => this.wake?.());
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.readTopics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => this.ingest(topic, partition, message),
    });
    for (const s of starts) consumer.seek({ topic: s.topic, partition: s.partition, offset: s.offset.toString() });
    this.state = 'live';
    this.lastError = undefined;
    this.log.info({ topics: this.readTopics, missingTopics: this.missingTopics.length ? this.missingTopics : undefined, maxEvents: this.opts.maxEvents }, 'audit browser reading the audit topics');
    for (const w of this.readyWaiters.splice(0)) w();
  }

  private async disconnectConsumer(): Promise<void> {
    const c = this.consumer;
    this.consumer = undefined;
    if (c) await c.disconnect().catch(() => undefined);
  }

  private ingest(topic: string, partition: number, message: KafkaMessage): void {
    if (!this.offsets.accept(topic, partition, message.offset)) return;
    const e = parseAuditRecord(message.value);
    if (!e) { this.unparseable++; return; }
    this.index.add(e, message.value?.length ?? 0);
  }

  // ---- Loading a time range from the topic ---------------------------------------------------------------

  /**
   * Reads the records of [from, to] from the audit topics and keeps the events that match `filter` (newest
   * maxEvents of them) as the "loaded" result. One load at a time.
   */
  async load(filter: BrowserFilter, from: number, to: number): Promise<LoadSummary> {
    if (this.loading) throw new HttpError(409, 'a load is already running; try again when it has finished');
    const p = this.doLoad({ ...filter, since: from, until: to }, from, to);
    this.loading = p;
    try { return await p; } finally { this.loading = undefined; }
  }

  private async doLoad(filter: BrowserFilter, from: number, to: number): Promise<LoadSummary> {
    const t0 = Date.now();
    const index = new EventIndex(this.opts.maxEvents, this.maxBytes);
    const test = compileFilter(filter);
    let matched = 0;
    let records = 0;
    let timedOut = false;
    const kafka = this.kafka('audit-browser-load');
    const admin = kafka.admin();
    type Range = { topic: string; partition: number; start: bigint; end: bigint };
    const ranges: Range[] = [];
    const idle: Array<{ topic: string; partition: number; offset: string }> = [];
    await admin.connect();
    let topics: string[];
    try {
      const existing = new Set(await admin.listTopics());
      topics = this.opts.topics.filter((t) => existing.has(t));
      for (const topic of topics) {
        const starts = await admin.fetchTopicOffsetsByTimestamp(topic, from);
        const ends = await admin.fetchTopicOffsetsByTimestamp(topic, to + LOAD_SLACK_MS);
        const highs = await admin.fetchTopicOffsets(topic);
        for (const s of starts) {
          const end = BigInt(ends.find((e) => e.partition === s.partition)?.offset ?? s.offset);
          const start = BigInt(s.offset);
          if (start < end) ranges.push({ topic, partition: s.partition, start, end });
          else idle.push({ topic, partition: s.partition, offset: highs.find((h) => h.partition === s.partition)?.high ?? s.offset });
        }
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }

    if (ranges.length > 0) {
      const tracker = new OffsetTracker();
      const pending = new Map(ranges.map((r) => [`${r.topic}\u0000${r.partition}`, r]));
      for (const r of ranges) tracker.set(r.topic, r.partition, r.start);
      const consumer = kafka.consumer({ groupId: `kap-audit-browser-load-${randomUUID()}`, sessionTimeout: 30_000, heartbeatInterval: 3_000, maxWaitTimeInMs: 500 });
      let finish!: () => void;
      const done = new Promise<void>((resolve) => { finish = resolve; });
      const timer = setTimeout(() => { timedOut = true; finish(); }, this.opts.loadTimeoutMs ?? 60_000);
      this.cancelLoad = finish;
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [...new Set(ranges.map((r) => r.topic))], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ topic, partition, message }) => {
            const key = `${topic}\u0000${partition}`;
            const r = pending.get(key);
            if (!r || !tracker.accept(topic, partition, message.offset)) return;
            const off = BigInt(message.offset);
            if (off < r.end) {
              records++;
              const e = parseAuditRecord(message.value);
              if (e && test(eventFacts(e))) { matched++; index.add(e, message.value?.length ?? 0); }
            }
            if (off + 1n >= r.end) {
              pending.delete(key);
              if (pending.size === 0) finish();
            }
          },
        });
        for (const r of ranges) consumer.seek({ topic: r.topic, partition: r.partition, offset: r.start.toString() });
        for (const i of idle) if (ranges.some((r) => r.topic === i.topic)) consumer.seek({ topic: i.topic, partition: i.partition, offset: i.offset });
        if (this.stopped) finish();
        await done;
      } finally {
        clearTimeout(timer);
        this.cancelLoad = undefined;
        await consumer.disconnect().catch(() => undefined);
      }
    }

    const summary: LoadSummary = {
      from: new Date(from).toISOString(), to: new Date(to).toISOString(), count: index.size, matched,
      truncated: matched > index.size, timedOut, records, tookMs: Date.now() - t0,
    };
    this.loaded = { index, summary };
    this.log.info({ from: summary.from, to: summary.to, records, matched, kept: index.size, timedOut, tookMs: summary.tookMs }, 'audit browser loaded a time range from the topic');
    return summary;
  }

  // ---- Live tail ---------------------------------------------------------------------------------------

  private publish(entry: IndexedEvent): void {
    if (this.streams.size === 0) return;
    let line: string | undefined;
    for (const c of this.streams) {
      if (!c.test(entry.facts)) continue;
      line ??= `data: ${JSON.stringify(entry.event)}\n\n`;
      this.write(c, line);
    }
  }

  private write(c: StreamClient, chunk: string): void {
    // A client that does not read is dropped rather than buffered without limit.
    if (c.res.writableLength > MAX_STREAM_BUFFER) { this.streams.delete(c); c.res.destroy(); return; }
    c.res.write(chunk);
  }

  // ---- HTTP --------------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
    let url: URL;
    try { url = new URL(req.url ?? '/', 'http://localhost'); } catch { return false; }
    const path = url.pathname;
    if (path !== '/audit' && !path.startsWith('/audit/')) return false;
    try {
      await this.serve(req, res, url);
    } catch (err) {
      if (err instanceof HttpError || err instanceof FilterError) {
        sendJson(res, err instanceof HttpError ? err.status : 400, { error: err.message });
      } else if (err instanceof AssetError) {
        this.log.error({ reason: err.message, path }, 'audit browser cannot serve the chart library');
        if (!res.headersSent) sendJson(res, 503, { error: err.message });
      } else {
        // The path only: a query string may hold a token.
        this.log.error({ reason: (err as Error).message, path }, 'audit browser request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      }
    }
    return true;
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    const method = req.method ?? 'GET';

    if (path === '/audit/login') {
      if (method !== 'POST') throw new HttpError(405, 'use POST');
      const body = new URLSearchParams(await readBody(req, 4096));
      if (this.auth.tokenValid(body.get('token'))) return redirectWithSession(res, this.auth);
      return sendHtmlPage(res, 401, renderLoginPage, true, this.auth);
    }

    if (path === '/audit' || path === '/audit/') {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'use GET');
      if (url.searchParams.has('token')) {
        // Trade the token for a session cookie and drop it from the address bar and history.
        if (this.auth.tokenValid(url.searchParams.get('token'))) return redirectWithSession(res, this.auth);
        return sendHtmlPage(res, 401, renderLoginPage, true, this.auth);
      }
      const a = this.auth.check(req);
      if (!a.ok) {
        if (a.status === 403) return sendText(res, 403, `${a.reason}\n`);
        if (this.auth.usesToken) return sendHtmlPage(res, 401, renderLoginPage, false, this.auth);
        return sendText(res, 401, 'authentication required\n', { 'www-authenticate': this.auth.challenge() });
      }
      return sendHtmlPage(res, 200, (nonce) => renderPage(nonce, pageAssets()), false, this.auth);
    }

    if (path.startsWith('/audit/assets/')) {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'use GET');
      const a = this.auth.check(req);
      if (!a.ok) return sendText(res, a.status, `${a.reason}\n`);
      const asset = readAsset(path.slice('/audit/assets/'.length));
      if (!asset) throw new HttpError(404, 'no such asset');
      // Versioned addresses (pageAssets): the file never changes under one, so the browser may keep it.
      res.writeHead(200, { ...SECURITY_HEADERS, 'cache-control': 'private, max-age=604800, immutable', 'content-type': asset.contentType, 'content-length': String(asset.body.length) });
      res.end(method === 'HEAD' ? undefined : asset.body);
      return;
    }

    if (!path.startsWith('/audit/api/')) throw new HttpError(404, 'not found: the page is /audit, the API /audit/api/{events,stream,export,load,status,aggregates}');
    const a = this.auth.check(req);
    if (!a.ok) {
      const headers = a.status === 401 ? { 'www-authenticate': this.auth.challenge() } : undefined;
      return sendJson(res, a.status, { error: a.reason }, headers);
    }
    const endpoint = path.slice('/audit/api/'.length);
    if (endpoint === 'load') {
      if (method !== 'POST' && method !== 'GET') throw new HttpError(405, 'use POST');
      const q = parseQuery(url.searchParams, this.opts.maxEvents);
      const fromRaw = url.searchParams.get('from');
      if (!fromRaw) throw new FilterError('from: required (the start of the time range to load)');
      const from = parseTime('from', fromRaw);
      const to = q.filter.until ?? Date.now();
      if (from > to) throw new FilterError('from: must not be after to');
      const summary = await this.load(q.filter, from, to);
      return sendJson(res, 200, summary);
    }
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'use GET');
    switch (endpoint) {
      case 'events': {
        const q = parseQuery(url.searchParams, this.opts.maxEvents);
        const idx = this.source(q.source);
        const r = idx.query(q.filter, q.limit);
        return sendJson(res, 200, { source: q.source, matched: r.matched, events: r.events, index: { size: idx.size, capacity: idx.maxEvents } });
      }
      case 'export': {
        const q = parseQuery(url.searchParams, this.opts.maxEvents);
        const events = this.source(q.source).matching(q.filter);
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        res.writeHead(200, {
          ...SECURITY_HEADERS, 'content-type': 'application/x-ndjson; charset=utf-8',
          'content-disposition': `attachment; filename="audit-events-${stamp}.ndjson"`,
        });
        for (const e of events) res.write(JSON.stringify(e) + '\n');
        res.end();
        return;
      }
      case 'stream': {
        const q = parseQuery(url.searchParams, this.opts.maxEvents);
        if (this.streams.size >= (this.opts.maxStreams ?? 32)) throw new HttpError(503, 'too many live-tail connections');
        res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        res.write('retry: 3000\n\n');
        const client: StreamClient = { res, test: compileFilter(q.filter) };
        this.streams.add(client);
        const drop = () => { this.streams.delete(client); };
        req.on('close', drop);
        res.on('close', drop);
        return;
      }
      case 'status':
        return sendJson(res, 200, this.status());
      case 'aggregates': {
        const q = parseQuery(url.searchParams, this.opts.maxEvents);
        const idx = this.source(q.source);
        const t0 = performance.now();
        const body = aggregate(idx, q.filter, {
          ...DEFAULT_AGGREGATE_OPTIONS,
          now: Date.now(),
          buckets: intParam(url.searchParams, 'buckets', DEFAULT_AGGREGATE_OPTIONS.buckets, 500),
          top: intParam(url.searchParams, 'top', DEFAULT_AGGREGATE_OPTIONS.top, 100),
          attentionRows: intParam(url.searchParams, 'attentionRows', DEFAULT_AGGREGATE_OPTIONS.attentionRows, 100),
          live: q.source === 'live',
        });
        return sendJson(res, 200, { source: q.source, ...body, index: { size: idx.size, capacity: idx.maxEvents }, tookMs: Math.round((performance.now() - t0) * 10) / 10 });
      }
      default:
        throw new HttpError(404, `no such API endpoint: ${endpoint.slice(0, 64)}`);
    }
  }

  private source(src: 'live' | 'loaded'): EventIndex {
    if (src === 'live') return this.index;
    if (!this.loaded) throw new HttpError(404, 'nothing loaded yet: load a time range first');
    return this.loaded.index;
  }

  /** What the page shows about the browser itself. Nothing from the configuration but topic names. */
  status(): Record<string, unknown> {
    return {
      topics: this.readTopics.length ? this.readTopics : this.opts.topics,
      missingTopics: this.missingTopics,
      consumer: { state: this.state, lastError: this.lastError ?? null },
      index: { size: this.index.size, capacity: this.index.maxEvents, bytes: this.index.sizeBytes, maxBytes: this.maxBytes, evicted: this.index.evicted, unparseable: this.unparseable },
      loaded: this.loaded ? this.loaded.summary : null,
      loading: Boolean(this.loading),
      liveStreams: this.streams.size,
    };
  }
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra?: Record<string, string>): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', ...extra });
  res.end(JSON.stringify(body));
}

function sendText(res: http.ServerResponse, status: number, body: string, extra?: Record<string, string>): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', ...extra });
  res.end(body);
}

function sendHtmlPage(res: http.ServerResponse, status: number, render: (nonce: string, failed: boolean) => string, failed: boolean, auth: BrowserAuth): void {
  const nonce = randomBytes(16).toString('base64');
  const headers: Record<string, string> = {
    ...SECURITY_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  };
  if (status === 401 && auth.usesBasic) headers['www-authenticate'] = auth.challenge();
  res.writeHead(status, headers);
  res.end(render(nonce, failed));
}

function redirectWithSession(res: http.ServerResponse, auth: BrowserAuth): void {
  res.writeHead(303, { ...SECURITY_HEADERS, location: '/audit', 'set-cookie': auth.sessionCookie() });
  res.end();
}

function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) { reject(new HttpError(413, 'request body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

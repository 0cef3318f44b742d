/**
 * The audit browser without Kafka: the bounded index, the search filter, the config rules for exposing it,
 * and its HTTP side (authentication, search, export, live stream) on a real AdminServer with events put into
 * the index directly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { pino } from 'pino';
import { AuditBrowser, EventIndex, matchesFilter, parseAuditRecord, parseQuery } from '../../src/browser/index.js';
import { AdminServer } from '../../src/admin/server.js';
import { ProxyMetrics } from '../../src/metrics.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { AuditEvent } from '../../src/audit/event.js';
import type { Aggregates } from '../../src/browser/aggregates.js';
import { assertNoSecret } from '../harness/secrets.js';

const silent = pino({ level: 'silent' });

function ev(i: number, over: { principal?: string; method?: string; topic?: string; status?: string; errorCode?: number; errorName?: string; timeMs?: number } = {}): AuditEvent {
  const topic = over.topic ?? `t-${i}`;
  return {
    specversion: '1.0', id: `id-${i}`, source: 'crn:///kafka=c1', subject: `crn:///kafka=c1/topic=${topic}`,
    type: 'io.confluent.kafka.server/request', datacontenttype: 'application/json',
    time: new Date(over.timeMs ?? Date.UTC(2024, 0, 1, 0, 0, 0) + i * 1000).toISOString(),
    data: {
      serviceName: 'crn:///kafka=c1', methodName: `kafka.${over.method ?? 'CreateTopics'}`, resourceName: `crn:///kafka=c1/topic=${topic}`,
      authenticationInfo: { principal: over.principal ?? 'User:alice' },
      authorizationInfo: { granted: true, operation: 'Create', resourceType: 'Topic', resourceName: topic },
      result: { status: (over.status ?? 'SUCCESS') as 'SUCCESS', message: '', errorCode: over.errorCode ?? 0, errorName: over.errorName ?? 'NONE' },
    },
  };
}

describe('EventIndex', () => {
  test('stays bounded: 3 x maxEvents pushed, maxEvents kept, the oldest evicted', () => {
    const max = 1000;
    const idx = new EventIndex(max);
    for (let i = 0; i < 3 * max; i++) {
      idx.add(ev(i));
      assert.ok(idx.size <= max);
    }
    assert.equal(idx.size, max);
    assert.equal(idx.evicted, 2 * max);
    const ids = [...idx.entries()].map((e) => e.event.id);
    assert.equal(ids[0], `id-${2 * max}`);
    assert.equal(ids[ids.length - 1], `id-${3 * max - 1}`);
    assert.equal(idx.find('id-0'), undefined);
    const r = idx.query({}, 5);
    assert.deepEqual(r.events.map((e) => e.id), [2999, 2998, 2997, 2996, 2995].map((n) => `id-${n}`));
    assert.equal(r.matched, max);
  });

  test('stays bounded by bytes too', () => {
    const idx = new EventIndex(100, 10_000);
    for (let i = 0; i < 100; i++) idx.add(ev(i), 1000);
    assert.equal(idx.size, 10);
    assert.ok(idx.sizeBytes <= 10_000);
  });

  test('query sorts by event time, newest first, and export order is oldest first', () => {
    const idx = new EventIndex(10);
    idx.add(ev(1, { timeMs: 3000 }));
    idx.add(ev(2, { timeMs: 1000 }));
    idx.add(ev(3, { timeMs: 2000 }));
    assert.deepEqual(idx.query({}, 10).events.map((e) => e.id), ['id-1', 'id-3', 'id-2']);
    assert.deepEqual(idx.matching({}).map((e) => e.id), ['id-2', 'id-3', 'id-1']);
  });
});

describe('search filter', () => {
  const failed = ev(1, { method: 'CreateTopics', topic: 'orders', status: 'FAILURE', errorCode: 36, errorName: 'TOPIC_ALREADY_EXISTS', principal: 'User:bob' });
  const ok = ev(2, { method: 'DeleteTopics', topic: 'orders' });

  test('fields, wildcards, outcome and error code (number or name)', () => {
    assert.ok(matchesFilter(ok, { method: 'DeleteTopics', resource: 'orders' }));
    assert.ok(!matchesFilter(failed, { method: 'DeleteTopics' }));
    assert.ok(matchesFilter(failed, { principal: 'user:B*', outcome: 'failure' }));
    assert.ok(!matchesFilter(ok, { outcome: 'failure' }));
    assert.ok(matchesFilter(failed, { errorCode: '36' }));
    assert.ok(matchesFilter(failed, { errorCode: 'topic_already_exists' }));
    assert.ok(matchesFilter(failed, { errorCode: '*ALREADY*' }));
    assert.ok(!matchesFilter(ok, { errorCode: '36' }));
    assert.ok(matchesFilter(ok, { resource: 'ord*' }));
    assert.ok(!matchesFilter(ok, { resource: 'ord' }));
  });

  test('query parameters are validated with messages naming the parameter', () => {
    const q = parseQuery(new URLSearchParams('method=DeleteTopics&outcome=failure&from=2024-01-01T00:00:00Z&to=1704067300000&limit=5000'), 1000);
    assert.equal(q.limit, 1000);
    assert.equal(q.filter.since, Date.UTC(2024, 0, 1));
    assert.equal(q.filter.until, 1704067300000);
    assert.throws(() => parseQuery(new URLSearchParams('outcome=maybe'), 10), /^FilterError: outcome:/);
    assert.throws(() => parseQuery(new URLSearchParams('from=yesterday'), 10), /from: must be an ISO-8601 time/);
    assert.throws(() => parseQuery(new URLSearchParams('limit=-1'), 10), /limit:/);
    assert.throws(() => parseQuery(new URLSearchParams('from=2024-02-01T00:00:00Z&to=2024-01-01T00:00:00Z'), 10), /from: must not be after to/);
  });

  test('records that are not audit events are skipped; secret-looking detail keys are dropped', () => {
    assert.equal(parseAuditRecord(Buffer.from('not json')), undefined);
    assert.equal(parseAuditRecord(Buffer.from('[1,2]')), undefined);
    assert.equal(parseAuditRecord(null), undefined);
    const e = ev(1);
    e.data.details = { configs: [{ name: 'retention.ms', value: '1' }], saslPassword: 'hunter2' };
    const parsed = parseAuditRecord(Buffer.from(JSON.stringify(e)))!;
    assert.equal(parsed.id, 'id-1');
    assertNoSecret(parsed, { 'the password': 'hunter2' }, 'the parsed record');
    assert.deepEqual(parsed.data.details, { configs: [{ name: 'retention.ms', value: '1' }] });
  });
});

describe('browser configuration', () => {
  const TOKEN = 'tok-0123456789-abcdef';

  test('off by default', () => {
    assert.equal(loadConfig({ env: {} }).browser.enabled, false);
    assert.equal(loadConfig({ env: {} }).browser.maxEvents, 10_000);
  });

  test('exposed (admin.host not loopback) without auth: refused, naming browser.auth', () => {
    assert.throws(() => loadConfig({ env: {}, overrides: { admin: { host: '0.0.0.0' }, browser: { enabled: true } } }),
      (e: Error) => e instanceof ConfigError && /^browser\.auth: must set token or basicAuth/.test(e.message));
    // Loopback needs none; exposed with a token or basic auth is fine.
    assert.equal(loadConfig({ env: {}, overrides: { admin: { host: '127.0.0.1' }, browser: { enabled: true } } }).browser.enabled, true);
    assert.ok(loadConfig({ env: {}, overrides: { admin: { host: '0.0.0.0' }, browser: { enabled: true, auth: { token: TOKEN } } } }));
    assert.ok(loadConfig({ env: {}, overrides: { admin: { host: '0.0.0.0' }, browser: { enabled: true, auth: { basicAuth: { username: 'ops', password: 'long-enough' } } } } }));
    // Environment: KAP_BROWSER_AUTH__TOKEN.
    const c = loadConfig({ env: { KAP_BROWSER_ENABLED: 'true', KAP_ADMIN_HOST: '0.0.0.0', KAP_BROWSER_AUTH__TOKEN: TOKEN } });
    assert.equal(c.browser.auth?.token, TOKEN);
  });

  test('bad auth settings name the key and never echo the secret', () => {
    const bad = [
      { token: 'short-secret' },
      { basicAuth: { username: 'ops', password: 'pw-sec' } },
      { tokne: 'tok-0123456789-typo!' },
    ];
    for (const auth of bad) {
      assert.throws(() => loadConfig({ env: {}, overrides: { browser: { enabled: true, auth } } }), (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /^browser\.auth/);
        assertNoSecret(`${e.message}\n${e.stack}`, ['short-secret', 'pw-sec', 'tok-0123456789-typo!'], 'the error message');
        return true;
      });
    }
    assert.throws(() => loadConfig({ env: {}, overrides: { admin: { enabled: false }, browser: { enabled: true } } }), /^ConfigError: browser\.enabled: must be false unless admin\.enabled/);
  });
});

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function request(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('browser HTTP side', () => {
  const TOKEN = 'unit-test-token-0123456789';
  const SECRETS = { 'the token': TOKEN, 'the basic-auth password': 'ops-password' };
  let admin: AdminServer;
  let browser: AuditBrowser;
  let port: number;
  /** The browser's and the admin server's logs, at every level. */
  const logLines: string[] = [];
  const traceLog = pino({ level: 'trace' }, { write: (line: string) => { logLines.push(line); } });

  before(async () => {
    browser = new AuditBrowser({ connection: { brokers: ['127.0.0.1:1'] }, topics: ['audit'], maxEvents: 50, auth: { token: TOKEN, basicAuth: { username: 'ops', password: 'ops-password' } }, log: traceLog });
    admin = new AdminServer(new ProxyMetrics({ collectDefault: false }), { notReadyReasons: async () => [] }, traceLog);
    admin.use(browser.route);
    port = await admin.start('127.0.0.1', 0);
    for (let i = 0; i < 60; i++) browser.index.add(ev(i, { method: i % 2 ? 'DeleteTopics' : 'CreateTopics' }));
    browser.index.add(ev(100, { topic: 'x', principal: 'User:<img src=x onerror=alert(1)>' }));
  });
  after(async () => { await browser.stop(); await admin.stop(); });

  const bearer = { authorization: `Bearer ${TOKEN}` };

  test('without credentials: 401 for the page and the API; built-in admin routes are untouched', async () => {
    const page = await request(port, '/audit');
    assert.equal(page.status, 401);
    assert.match(page.body, /<form method="post" action="\/audit\/login">/);
    const api = await request(port, '/audit/api/events');
    assert.equal(api.status, 401);
    assert.match(String(api.headers['www-authenticate']), /^Basic /);
    assert.equal((await request(port, '/audit/api/events', { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    assert.equal((await request(port, '/audit?token=wrong')).status, 401);
    assert.equal((await request(port, '/healthz')).status, 200);
  });

  test('token in the address: traded for a session cookie (no token in the redirect); the cookie then works', async () => {
    const r = await request(port, `/audit?token=${encodeURIComponent(TOKEN)}`);
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/audit');
    const cookie = String(r.headers['set-cookie']?.[0]);
    assert.match(cookie, /^kap_audit_session=\d+\.[A-Za-z0-9_-]+; Path=\/audit; HttpOnly; SameSite=Strict/);
    assertNoSecret(cookie, SECRETS, 'the session cookie');
    const session = cookie.split(';')[0];
    const page = await request(port, '/audit', { headers: { cookie: session } });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /script-src 'nonce-/);
    assertNoSecret(page.body, SECRETS, 'the page');
    assert.equal((await request(port, '/audit/api/status', { headers: { cookie: session } })).status, 200);
    assert.equal((await request(port, '/audit/api/status', { headers: { cookie: session.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) } })).status, 401);
    const login = await request(port, '/audit/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(TOKEN)}` });
    assert.equal(login.status, 303);
  });

  test('basic auth works, a wrong password does not', async () => {
    const basic = (u: string, p: string) => ({ authorization: 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64') });
    assert.equal((await request(port, '/audit/api/status', { headers: basic('ops', 'ops-password') })).status, 200);
    assert.equal((await request(port, '/audit/api/status', { headers: basic('ops', 'nope') })).status, 401);
  });

  test('search, export and status; no secret in any answer', async () => {
    const r = await request(port, '/audit/api/events?method=DeleteTopics&limit=3', { headers: bearer });
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as { events: AuditEvent[]; matched: number; index: { size: number; capacity: number } };
    assert.deepEqual(body.events.map((e) => e.id), ['id-59', 'id-57', 'id-55']);
    assert.equal(body.matched, 25); // 50 held after eviction: ids 11..59 and 100; DeleteTopics are the odd ones of 11..59
    assert.deepEqual(body.index, { size: 50, capacity: 50 });
    const ex = await request(port, '/audit/api/export?method=DeleteTopics', { headers: bearer });
    assert.equal(ex.headers['content-type'], 'application/x-ndjson; charset=utf-8');
    const lines = ex.body.trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
    assert.equal(lines.length, 25);
    assert.ok(lines.every((e) => e.data.methodName === 'kafka.DeleteTopics'));
    assert.equal(lines[0].id, 'id-11');
    const bad = await request(port, '/audit/api/events?outcome=maybe', { headers: bearer });
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).error, /^outcome:/);
    const st = await request(port, '/audit/api/status', { headers: bearer });
    for (const [what, x] of [['/audit/api/status', st], ['/audit/api/events', r], ['/audit/api/export', ex], ['a 400 answer', bad]] as const) {
      assertNoSecret(`${JSON.stringify(x.headers)}\n${x.body}`, SECRETS, what);
    }
    assertNoSecret(logLines.join(''), SECRETS, 'the browser and admin server logs (trace level)');
    assert.equal((await request(port, '/audit/api/nothing', { headers: bearer })).status, 404);
    assert.equal((await request(port, '/audit/api/events', { method: 'DELETE', headers: bearer })).status, 405);
  });

  test('live stream: an event added after connecting arrives if it matches the filter', async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/audit/api/stream?method=AlterConfigs', headers: bearer }, (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          const m = /data: (.*)\n\n/.exec(buf);
          if (m) { req.destroy(); resolve(m[1]); }
        });
        setTimeout(() => {
          browser.index.add(ev(200, { method: 'CreateTopics' })); // filtered out
          browser.index.add(ev(201, { method: 'AlterConfigs' }));
        }, 100);
      });
      req.on('error', reject);
    });
    assert.equal((JSON.parse(got) as AuditEvent).id, 'id-201');
  });

  test('aggregates: the overview of the same filters as JSON; bad parameters named; credentials required', async () => {
    assert.equal((await request(port, '/audit/api/aggregates')).status, 401);
    const r = await request(port, '/audit/api/aggregates?method=DeleteTopics&buckets=10&top=2', { headers: bearer });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
    const a = JSON.parse(r.body) as Aggregates & { source: string; index: { size: number } };
    assert.equal(a.source, 'live');
    assert.equal(a.matched.events, browser.index.select({ method: 'DeleteTopics' }).length);
    assert.equal(a.outcomes.success, a.matched.operations);
    assert.ok(a.timeline.times.length <= 10);
    assert.deepEqual(a.top.method.rows.map((x) => [x.key, x.total, x.filter]), [['DeleteTopics', a.matched.events, { method: 'DeleteTopics' }]]);
    assert.equal(a.top.resource.rows.length, 2);
    assert.ok(a.top.resource.distinct > 2);
    // Test events are from 2024: nothing in the attention windows.
    assert.equal(a.attention.destructive.lastDay, 0);
    for (const bad of ['buckets=0', 'top=x', 'outcome=sometimes', 'from=yesterday']) {
      const b = await request(port, `/audit/api/aggregates?${bad}`, { headers: bearer });
      assert.equal(b.status, 400, bad);
      assert.match(JSON.parse(b.body).error, new RegExp(`^${bad.split('=')[0]}:`));
    }
    assertNoSecret(`${JSON.stringify(r.headers)}\n${r.body}`, SECRETS, 'the aggregates');
  });

  test('the chart library is served by the proxy, versioned, behind the same credentials; the page loads it under its CSP', async () => {
    const page = await request(port, '/audit', { headers: bearer });
    const csp = String(page.headers['content-security-policy']);
    const nonce = /'nonce-([^']+)'/.exec(csp)![1];
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    const script = new RegExp(`<script nonce="${nonce.replace(/[+/=]/g, '\\$&')}" src="(/audit/assets/uPlot\\.iife\\.min\\.js\\?v=[\\d.]+)"></script>`).exec(page.body);
    assert.ok(script, 'the page loads uPlot from the proxy with the nonce');
    assert.ok(!/<script(?![^>]*nonce=)/.test(page.body), 'every script carries the nonce');
    const js = await request(port, script[1], { headers: bearer });
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(String(js.headers['cache-control']), /max-age=\d+, immutable/);
    assert.match(js.body, /uPlot/);
    const css = await request(port, /href="(\/audit\/assets\/uPlot\.min\.css\?v=[\d.]+)"/.exec(page.body)![1], { headers: bearer });
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal((await request(port, '/audit/assets/uPlot.iife.min.js')).status, 401);
    assert.equal((await request(port, '/audit/assets/../../package.json', { headers: bearer })).status, 404);
    assert.equal((await request(port, '/audit/assets/constructor', { headers: bearer })).status, 404);
  });

  test('without configured credentials only requests addressed to localhost are answered', async () => {
    const open = new AuditBrowser({ connection: { brokers: ['127.0.0.1:1'] }, topics: ['audit'], maxEvents: 5, log: silent });
    const srv = new AdminServer(new ProxyMetrics({ collectDefault: false }), { notReadyReasons: async () => [] }, silent);
    srv.use(open.route);
    const p = await srv.start('127.0.0.1', 0);
    try {
      assert.equal((await request(p, '/audit/api/status')).status, 200);
      assert.equal((await request(p, '/audit', { headers: { host: `localhost:${p}` } })).status, 200);
      assert.equal((await request(p, '/audit/api/status', { headers: { host: 'attacker.example' } })).status, 403);
    } finally {
      await open.stop();
      await srv.stop();
    }
  });
});

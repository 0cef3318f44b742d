/**
 * The audit browser end to end: the proxy (startApp) in front of the shared real 3-node cluster, real client
 * operations through it, and the page driven in headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core): search, event JSON, live tail, load of a time range from the topic, export, access
 * control, and escaping of client-chosen names. A screenshot is kept in test-artifacts/audit-browser.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startApp, type App } from '../../src/app.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { useCluster } from '../harness/shared-cluster.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { assertNoSecret } from '../harness/secrets.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts');
const SCREENSHOT = join(ARTIFACTS, 'audit-browser.png');
const TOKEN = `e2e-${randomBytes(16).toString('hex')}`;
const GROUP_XSS = '<img src=x onerror="window.__xss=1">';
const CLIENT_XSS = 'ops-<script>window.__xss2=1</script>';

const n = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const ORDERS = `orders-${n}`;
const PAYMENTS = `payments-${n}`;
const LIVE = `live-${n}`;
const AUDIT_TOPIC = `audit-browser-${n}`;

/**
 * A port base whose bootstrap port (base) and broker ports (base+1..base+3) are free, picked below the kernel's
 * ephemeral range (32768+) so that no outgoing connection of the brokers or other tests can take one meanwhile.
 */
async function freeProxyPorts(): Promise<number> {
  const free = (port: number) => new Promise<boolean>((done) => {
    const s = net.createServer();
    s.once('error', () => done(false));
    s.listen({ host: '127.0.0.1', port }, () => s.close(() => done(true)));
  });
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    let ok = true;
    for (let i = 0; i <= 3 && ok; i++) ok = await free(base + i);
    if (ok) return base;
  }
  throw new Error('no free port range below 32768 for the proxy listeners');
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The table as the user sees it: one object per row, keyed by column. */
async function tableRows(page: Page): Promise<Array<Record<string, string>>> {
  return page.$$eval('#rows tr', (trs) => trs.map((tr) => {
    const o: Record<string, string> = { id: (tr as HTMLElement).dataset.id ?? '', cls: tr.className };
    for (const td of tr.querySelectorAll('td')) o[td.className.split(' ')[0]] = td.textContent ?? '';
    return o;
  }));
}

/** Waits until the table (after the last search settled) satisfies `ok`; returns its rows. */
async function rowsWhen(page: Page, what: string, ok: (rows: Array<Record<string, string>>) => boolean, timeoutMs = 30_000) {
  let last: Array<Record<string, string>> = [];
  try {
    return await waitFor(what, async () => {
      const count = await page.textContent('#count');
      if (!count || count.includes('…')) return undefined;
      last = await tableRows(page);
      return ok(last) ? last : undefined;
    }, timeoutMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}; table was ${JSON.stringify(last)}; error text ${JSON.stringify(await page.textContent('#error'))}`);
  }
}

async function searchFor(page: Page, f: { method?: string; resource?: string; outcome?: string; errorCode?: string; principal?: string }) {
  await page.fill('#f-method', f.method ?? '');
  await page.fill('#f-resource', f.resource ?? '');
  await page.fill('#f-principal', f.principal ?? '');
  await page.fill('#f-errorCode', f.errorCode ?? '');
  await page.selectOption('#f-outcome', f.outcome ?? '');
  await page.click('#search');
}

describe('audit browser in headless Chromium against a real cluster', { timeout: 600_000 }, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let app: App;
  /** The proxy's log, every level: the token, used in the address and in headers, must not be in it in any encoding. */
  const logLines: string[] = [];
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let work: string;
  let t0: number;
  /** Script errors, CSP violations and failed loads on the main page. */
  const pageProblems: string[] = [];
  const client = () => new Kafka({ clientId: CLIENT_XSS, brokers: [app.proxy.bootstrapAddress], logLevel: logLevel.NOTHING, retry: { retries: 5 } });
  const api = async (path: string, token: string | null = TOKEN) => fetch(base + path, { headers: token !== null ? { authorization: `Bearer ${token}` } : {} });
  const apiEvents = async (query: string) => ((await (await api(`/audit/api/events?${query}`)).json()) as { events: AuditEvent[] }).events;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh (apt-get install chromium)`);
    ({ cluster, release } = await useCluster(3));
    work = mkdtempSync(join(tmpdir(), 'kap-browser-e2e-'));
    const brokerPortBase = await freeProxyPorts();
    app = await startApp({
      env: {},
      log: pino({ level: 'trace' }, { write: (line: string) => { logLines.push(line); } }),
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: brokerPortBase, brokerPortBase, advertisedHost: '127.0.0.1', securityProtocol: 'PLAINTEXT' },
        upstream: { bootstrapServers: cluster.plainBootstrap.split(',') },
        admin: { enabled: true, host: '127.0.0.1', port: 0 },
        audit: {
          topic: AUDIT_TOPIC, clusterId: cluster.clusterId, partitions: 3, replicationFactor: 1,
          spool: { dir: join(work, 'audit'), fsync: 'never', maxBytes: 64 * 1024 * 1024 },
          batch: { maxEvents: 100, lingerMs: 5 },
          rules: { defaultTopic: AUDIT_TOPIC },
        },
        browser: { enabled: true, maxEvents: 1000, auth: { token: TOKEN } },
      },
    });
    base = `http://127.0.0.1:${app.adminPort}`;
    await app.browser!.whenLive(60_000);

    // Real operations through the proxy, as User:ANONYMOUS on the PLAINTEXT listener.
    t0 = Date.now();
    const admin = client().admin();
    await admin.connect();
    try {
      assert.equal(await admin.createTopics({ topics: [{ topic: ORDERS, numPartitions: 1, replicationFactor: 1 }, { topic: PAYMENTS, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false }), true);
      await admin.deleteTopics({ topics: [ORDERS] });
      // Fails with TOPIC_ALREADY_EXISTS (kafkajs resolves false rather than throwing).
      assert.equal(await admin.createTopics({ topics: [{ topic: PAYMENTS, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false }), false);
      await assert.rejects(admin.deleteGroups([GROUP_XSS]));
    } finally {
      await admin.disconnect();
    }
    await waitFor('the operations to be indexed by the browser', async () => {
      const events = await apiEvents(`resource=*-${n}`);
      const failed = await apiEvents('outcome=failure');
      return events.length >= 4 && failed.length >= 2 ? true : undefined;
    });

    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    context = await browser.newContext({ viewport: { width: 1600, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (e) => pageProblems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') pageProblems.push(`console ${m.type()}: ${m.text()}`); });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await app?.stop();
    if (cluster) {
      const a = new Kafka({ brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
      await a.connect().then(() => a.deleteTopics({ topics: [PAYMENTS, LIVE, AUDIT_TOPIC], timeout: 10_000 })).catch(() => undefined).finally(() => a.disconnect());
    }
    if (work) rmSync(work, { recursive: true, force: true });
    await release?.();
  });

  test('the page opens with the token, which is traded for a cookie and leaves the address bar', async () => {
    const res = await page.goto(`${base}/audit?token=${encodeURIComponent(TOKEN)}`);
    assert.equal(res?.status(), 200);
    assert.equal(page.url(), `${base}/audit`);
    await rowsWhen(page, 'the initial list', (rows) => rows.length >= 5);
    assertNoSecret(await page.content(), { 'the token': TOKEN }, 'the page');
    await waitFor('the status line', async () => ((await page.textContent('#status')) ?? '').includes('consumer live') || undefined);
    const status = (await page.textContent('#status'))!;
    assert.match(status, new RegExp(`topics: ${AUDIT_TOPIC}`));
    assertNoSecret(status, { 'the token': TOKEN }, 'the status line');
    assertNoSecret(await context.cookies(), { 'the token': TOKEN }, 'the cookies');
    assertNoSecret(logLines.join(''), { 'the token': TOKEN }, 'the proxy log (trace level)');
  });

  test('who deleted the topic: DeleteTopics + resource gives exactly one row, User:ANONYMOUS', async () => {
    await searchFor(page, { method: 'DeleteTopics', resource: ORDERS });
    const rows = await rowsWhen(page, 'one DeleteTopics row', (r) => r.length === 1 && r[0].resource === `Topic ${ORDERS}`);
    assert.equal(rows[0].principal, 'User:ANONYMOUS');
    assert.equal(rows[0].method, 'DeleteTopics');
    assert.equal(rows[0].status, 'SUCCESS');
    assert.match((await page.textContent('#count'))!, /^1 event /);
  });

  test('outcome failure shows the TOPIC_ALREADY_EXISTS row; clicking it shows the event JSON', async () => {
    await searchFor(page, { outcome: 'failure' });
    const rows = await rowsWhen(page, 'the failed operations', (r) => r.some((x) => x.error.startsWith('TOPIC_ALREADY_EXISTS')) && r.some((x) => x.method === 'DeleteGroups'));
    assert.ok(rows.every((r) => r.status !== 'SUCCESS'), JSON.stringify(rows));
    const dup = rows.filter((r) => r.error === 'TOPIC_ALREADY_EXISTS (36)');
    assert.equal(dup.length, 1, JSON.stringify(rows));
    assert.equal(dup[0].resource, `Topic ${PAYMENTS}`);
    assert.equal(dup[0].method, 'CreateTopics');
    assert.equal(dup[0].principal, 'User:ANONYMOUS');
    assert.equal(dup[0].status, 'FAILURE');

    const [expected] = await apiEvents(`errorCode=TOPIC_ALREADY_EXISTS&resource=${PAYMENTS}`);
    assert.equal(dup[0].id, expected.id);
    assert.equal(await page.isVisible('#detail'), false);
    await page.click(`#rows tr[data-id="${expected.id}"]`);
    await page.waitForSelector('#detail', { state: 'visible' });
    const json = (await page.textContent('#detail-json'))!;
    assert.ok(json.includes(`"id": "${expected.id}"`));
    assert.deepEqual(JSON.parse(json), expected);
    assert.match((await page.textContent('#detail-summary'))!, new RegExp(`Event id${expected.id}`));
  });

  test('names chosen by clients are shown as text, never interpreted (group id and client id with HTML)', async () => {
    await searchFor(page, { method: 'DeleteGroups' });
    const rows = await rowsWhen(page, 'the DeleteGroups row', (r) => r.length === 1);
    assert.equal(rows[0].resource, `Group ${GROUP_XSS}`);
    assert.match(rows[0].client, new RegExp(`^${CLIENT_XSS.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} @ 127\\.0\\.0\\.1:\\d+$`));
    assert.equal(rows[0].error, 'GROUP_ID_NOT_FOUND (69)');
    assert.equal(await page.$$eval('#results img, #results script', (els) => els.length), 0);
    await page.click(`#rows tr[data-id="${rows[0].id}"]`);
    assert.equal(await page.$$eval('#detail img, #detail script', (els) => els.length), 0);
    assert.deepEqual(await page.evaluate(() => [(window as unknown as Record<string, unknown>).__xss, (window as unknown as Record<string, unknown>).__xss2]), [undefined, undefined]);
  });

  test('live tail: an operation made after the page loaded appears without searching', async () => {
    await page.click('#clear');
    await rowsWhen(page, 'the unfiltered list', (r) => r.length >= 5);
    assert.ok(await page.isChecked('#live'));
    await waitFor('the live tail to connect', async () => (await page.textContent('#live-state')) === 'following new events' || undefined);
    const before = (await tableRows(page)).length;
    const admin = client().admin();
    await admin.connect();
    try { await admin.createTopics({ topics: [{ topic: LIVE, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false }); } finally { await admin.disconnect(); }
    const rows = await rowsWhen(page, `the live event for ${LIVE}`, (r) => r.some((x) => x.resource === `Topic ${LIVE}`), 30_000);
    const live = rows.find((x) => x.resource === `Topic ${LIVE}`)!;
    assert.equal(rows[0].id, live.id, 'the new event is on top');
    assert.match(live.cls, /\bnew\b/, 'it came through the live stream, not a search');
    assert.equal(live.method, 'CreateTopics');
    assert.equal(rows.length, before + 1);
  });

  test('a time range is loaded from the topic on demand', async () => {
    await page.fill('#f-from', new Date(t0 - 60_000).toISOString().slice(0, 19));
    await page.fill('#f-to', '');
    await page.fill('#f-method', 'DeleteTopics');
    await page.fill('#f-resource', ORDERS);
    await page.selectOption('#f-outcome', '');
    await page.click('#load');
    await waitFor('the load to finish', async () => ((await page.textContent('#loaded-info')) ?? '').startsWith('loaded') || undefined, 90_000);
    assert.match((await page.textContent('#loaded-info'))!, /^loaded 1 event from /);
    assert.ok(await page.isChecked('#src-loaded'));
    const rows = await rowsWhen(page, 'the loaded DeleteTopics row', (r) => r.length === 1);
    assert.equal(rows[0].resource, `Topic ${ORDERS}`);
    assert.equal(rows[0].principal, 'User:ANONYMOUS');
    assert.match((await page.textContent('#count'))!, /in the range loaded from the topic/);
    const status = await (await api('/audit/api/status')).json() as { loaded: { count: number; records: number } };
    assert.equal(status.loaded.count, 1);
    assert.ok(status.loaded.records >= 5, `records read: ${status.loaded.records}`);
  });

  test('export: the filtered events as JSON lines, the same as the table', async () => {
    await page.fill('#f-from', '');
    await page.check('#src-live');
    await searchFor(page, { method: 'CreateTopics', resource: `*-${n}` });
    const rows = await rowsWhen(page, 'the CreateTopics rows', (r) => r.length === 4);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    assert.match(download.suggestedFilename(), /^audit-events.*\.ndjson$/);
    const text = readFileSync((await download.path())!, 'utf8');
    const lines = text.trimEnd().split('\n');
    const events = lines.map((l) => JSON.parse(l) as AuditEvent);
    assert.equal(events.length, 4);
    assert.ok(events.every((e) => e.data.methodName === 'kafka.CreateTopics' && e.data.authorizationInfo!.resourceName.endsWith(`-${n}`)));
    assert.deepEqual(events.map((e) => e.id).sort(), rows.map((r) => r.id).sort());
    assert.deepEqual(events.map((e) => e.data.authorizationInfo!.resourceName).sort(), [LIVE, ORDERS, PAYMENTS, PAYMENTS].sort());
    assert.deepEqual(events.map((e) => e.time), events.map((e) => e.time).sort(), 'oldest first');
    const viaApi = await api(`/audit/api/export?method=CreateTopics&resource=*-${n}`);
    assert.equal(viaApi.headers.get('content-type'), 'application/x-ndjson; charset=utf-8');
    assert.equal(await viaApi.text(), text);
  });

  test('without the token: 401 (API and page), and a wrong token is no better', async () => {
    assert.equal((await api('/audit/api/events', null)).status, 401);
    assert.equal((await api('/audit/api/export', null)).status, 401);
    assert.equal((await api('/audit/api/stream', null)).status, 401);
    assert.equal((await api('/audit/api/events', 'not-the-token-0000000000000')).status, 401);
    const stranger = await browser!.newContext();
    try {
      const p = await stranger.newPage();
      const res = await p.goto(`${base}/audit`);
      assert.equal(res?.status(), 401);
      assert.ok(await p.isVisible('input[name=token]'));
      assert.equal(await p.$('#rows'), null);
      const wrong = await p.goto(`${base}/audit?token=wrong-token`);
      assert.equal(wrong?.status(), 401);
      assert.match((await p.textContent('body'))!, /That token is not valid/);
      // The login form works like the token in the address.
      await p.fill('input[name=token]', TOKEN);
      await Promise.all([p.waitForURL(`${base}/audit`), p.click('button[type=submit]')]);
      await p.waitForSelector('#rows tr');
    } finally {
      await stranger.close();
    }
  });

  test('screenshot for the record', async () => {
    await page.click('#clear');
    await rowsWhen(page, 'the unfiltered list', (r) => r.length >= 6);
    const [dup] = await apiEvents(`errorCode=36&resource=${PAYMENTS}`);
    await page.click(`#rows tr[data-id="${dup.id}"]`);
    await page.waitForSelector('#detail', { state: 'visible' });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(readFileSync(SCREENSHOT).length > 10_000);
    assert.deepEqual(pageProblems, [], 'no script error, CSP violation or failed request on the page');
  });
});

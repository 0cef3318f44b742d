/**
 * The audit browser's overview end to end: the proxy (SASL_PLAINTEXT) in front of the shared real 3-node
 * cluster's SASL listeners, a known set of real operations through it (topic creations, a duplicate, deletions,
 * an ACL created and deleted, records deleted, a group that does not exist, alice's denied attempts, refused
 * logins from two addresses), and the page in headless Chromium (Debian's /usr/bin/chromium via
 * playwright-core): the counts on the timeline, the lists and the attention panel equal what the test did (and
 * the brokers agree on the topics), a click on a chart bar, a list row or a count narrows the table to exactly
 * those events, and a refused login made while the page is open shows up without a reload. Screenshots of the
 * overview go to test-artifacts/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startApp, type App } from '../../src/app.js';
import type { AuditEvent } from '../../src/audit/event.js';
import type { Aggregates } from '../../src/browser/aggregates.js';
import { useCluster } from '../harness/shared-cluster.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { freePortBase } from '../harness/proxy.js';
import { RawConnection } from '../harness/raw.js';
import { authenticateFrame, handshakeFrame, plainToken } from '../harness/sasl-raw.js';
import { assertNoSecret } from '../harness/secrets.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts');
const TOKEN = `ov-${randomBytes(16).toString('hex')}`;
const n = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const T = { a: `ov-a-${n}`, b: `ov-b-${n}`, c: `ov-c-${n}`, denied: `ov-denied-${n}` };
const NO_GROUP = `ov-no-group-${n}`;
const AUDIT_TOPIC = `audit-overview-${n}`;
/** Refused logins, each from an address of its own (all of 127/8 is loopback). */
const BAD_LOGINS = [{ user: 'bob', host: '127.0.0.5', times: 3 }, { user: 'mallory', host: '127.0.0.6', times: 2 }];

type Rows = Array<Record<string, string>>;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A refused SASL/PLAIN login through the proxy: handshake, then SaslAuthenticate with a wrong password. */
async function badLogin(port: number, user: string, localAddress: string): Promise<void> {
  const c = await RawConnection.open(port, { localAddress });
  try {
    c.write(handshakeFrame(1, 'PLAIN', 1));
    await c.takeFrame();
    c.write(authenticateFrame(plainToken(user, `wrong-${randomBytes(4).toString('hex')}`), 2));
    const res = await c.takeFrame();
    assert.notEqual(res.readInt16BE(4), 0, `the login of ${user} was refused`);
  } finally {
    c.destroy();
  }
}

/** Rows of a table body: one object per row, its cells keyed by their first class. */
async function tbody(page: Page, selector: string): Promise<Rows> {
  return page.$$eval(`${selector} tr`, (trs) => trs.map((tr) => {
    const o: Record<string, string> = { key: (tr as HTMLElement).dataset.key ?? '', id: (tr as HTMLElement).dataset.id ?? '' };
    for (const td of tr.querySelectorAll('td')) o[td.className.split(' ')[0]] = td.textContent ?? '';
    return o;
  }));
}

describe('audit browser overview in headless Chromium against a real cluster', { timeout: 600_000 }, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let app: App;
  let browser: Browser | undefined;
  let page: Page;
  let base: string;
  let work: string;
  const logLines: string[] = [];
  const pageProblems: string[] = [];
  const sasl = (username: string): SASLOptions => ({ mechanism: 'plain', username, password: `${username}-secret` });
  const client = (user: string) => new Kafka({ clientId: `overview-${user}`, brokers: [app.proxy.bootstrapAddress], sasl: sasl(user), logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const api = async <R>(path: string): Promise<R> => (await fetch(base + path, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as Promise<R>;
  const apiEvents = async (query: string) => (await api<{ events: AuditEvent[] }>(`/audit/api/events?limit=1000&${query}`)).events;

  /** Waits until no overview request is pending and the lists satisfy `ok`. */
  async function overviewWhen(what: string, ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    await waitFor(what, async () => {
      const state = await page.getAttribute('#overview', 'data-state');
      const count = await page.textContent('#count');
      return state === 'ready' && count && !count.includes('…') && await ok() ? true : undefined;
    }, timeoutMs);
  }
  const row = async (list: string, key: string) => (await tbody(page, list)).find((r) => r.key === key);
  const legend = async () => Object.fromEntries(await page.$$eval('#ov-legend button', (bs) => bs.map((b) => [(b as HTMLElement).dataset.outcome, b.querySelector('b')!.textContent!.replace(/,/g, '')])));

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh (apt-get install chromium)`);
    ({ cluster, release } = await useCluster(3));
    work = mkdtempSync(join(tmpdir(), 'kap-overview-e2e-'));
    const portBase = await freePortBase(3);
    app = await startApp({
      env: {},
      log: pino({ level: 'debug' }, { write: (line: string) => { logLines.push(line); } }),
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase: portBase, advertisedHost: '127.0.0.1', securityProtocol: 'SASL_PLAINTEXT' },
        upstream: { bootstrapServers: cluster.saslBootstrap.split(',') },
        admin: { enabled: true, host: '127.0.0.1', port: 0 },
        audit: {
          brokers: cluster.plainBootstrap.split(','), topic: AUDIT_TOPIC, clusterId: cluster.clusterId, partitions: 1, replicationFactor: 1,
          spool: { dir: join(work, 'audit'), fsync: 'never', maxBytes: 64 * 1024 * 1024 }, batch: { maxEvents: 100, lingerMs: 5 },
        },
        browser: { enabled: true, maxEvents: 5000, auth: { token: TOKEN } },
      },
    });
    base = `http://127.0.0.1:${app.adminPort}`;
    await app.browser!.whenLive(60_000);

    // The operations, through the proxy. admin is a super user; alice has no ACLs.
    const admin = client('admin').admin();
    await admin.connect();
    try {
      assert.equal(await admin.createTopics({ topics: [T.a, T.b, T.c].map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })), waitForLeaders: false }), true);
      // Leaders, seen directly on the brokers (the proxied clients do not retry: a retry would be a second operation).
      const direct = new Kafka({ brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
      await direct.connect();
      try {
        await waitFor('leaders of the new topics', async () => {
          const md = await direct.fetchTopicMetadata({ topics: [T.a, T.b, T.c] }).catch(() => undefined);
          return md && md.topics.every((t) => t.partitions.every((p) => p.leader >= 0)) ? true : undefined;
        });
      } finally {
        await direct.disconnect();
      }
      assert.equal(await admin.createTopics({ topics: [{ topic: T.a, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false }), false); // TOPIC_ALREADY_EXISTS
      await admin.deleteTopics({ topics: [T.c] });
      await assert.rejects(admin.deleteGroups([NO_GROUP])); // GROUP_ID_NOT_FOUND
      await admin.createAcls({ acl: [{ resourceType: 2, resourceName: T.a, resourcePatternType: 3, principal: 'User:carol', host: '*', operation: 3, permissionType: 3 }] });
      await admin.deleteAcls({ filters: [{ resourceType: 2, resourceName: T.a, resourcePatternType: 3, principal: 'User:carol', host: '*', operation: 3, permissionType: 3 }] });
      await admin.deleteTopicRecords({ topic: T.b, partitions: [{ partition: 0, offset: '-1' }] });
    } finally {
      await admin.disconnect();
    }
    const alice = client('alice').admin();
    await alice.connect();
    try {
      await assert.rejects(alice.createTopics({ topics: [{ topic: T.denied, numPartitions: 1, replicationFactor: 1 }] })); // TOPIC_AUTHORIZATION_FAILED, checked on the events below
      await assert.rejects(alice.deleteTopics({ topics: [T.a] })); // TOPIC_AUTHORIZATION_FAILED, checked on the events below
    } finally {
      await alice.disconnect();
    }
    const port = Number(app.proxy.bootstrapAddress.split(':').pop());
    for (const b of BAD_LOGINS) for (let i = 0; i < b.times; i++) await badLogin(port, b.user, b.host);

    await waitFor('every operation in the browser index', async () => {
      const a = await api<Aggregates>('/audit/api/aggregates');
      return a.outcomes.unauthenticated === 5 && a.outcomes.denied === 2 && a.top.method.rows.some((r) => r.key === 'DeleteRecords') ? true : undefined;
    });

    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'] });
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    page = await context.newPage();
    page.on('pageerror', (e) => pageProblems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') pageProblems.push(`console ${m.type()}: ${m.text()}`); });
    // A live-tail stream the page closes (new search) is aborted: that is no failure.
    page.on('requestfailed', (r) => { if (r.failure()?.errorText !== 'net::ERR_ABORTED') pageProblems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`); });
    const res = await page.goto(`${base}/audit?token=${encodeURIComponent(TOKEN)}`);
    assert.equal(res?.status(), 200);
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await app?.stop();
    if (cluster) {
      const a = new Kafka({ brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
      await a.connect().then(() => a.deleteTopics({ topics: [T.a, T.b, AUDIT_TOPIC], timeout: 10_000 })).catch(() => undefined).finally(() => a.disconnect());
    }
    if (work) rmSync(work, { recursive: true, force: true });
    await release?.();
  });

  test('the brokers agree with what the test did: A and B exist, C was deleted, alice\'s topic was never made', async () => {
    const a = new Kafka({ brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
    await a.connect();
    try {
      const topics = new Set(await a.listTopics());
      assert.deepEqual([T.a, T.b, T.c, T.denied].map((t) => topics.has(t)), [true, true, false, false]);
    } finally {
      await a.disconnect();
    }
  });

  test('the counts on the page equal the operations performed', async () => {
    await overviewWhen('the overview', async () => (await tbody(page, '#top-method')).length > 0);
    // Outcomes: 5 refused logins, 2 denials (alice), 2 failures (the duplicate topic, the missing group).
    const l = await legend();
    assert.equal(l.unauthenticated, '5');
    assert.equal(l.denied, '2');
    assert.equal(l.error, '2');
    const methods = await tbody(page, '#top-method');
    const m = (k: string) => { const r = methods.find((x) => x.key === k); return r && [r.total, r.failed, r.denied]; };
    assert.deepEqual(m('CreateTopics'), ['5', '2', '1']); // A, B, C; A again; alice's (denied)
    assert.deepEqual(m('DeleteTopics'), ['2', '1', '1']); // C; alice's A (denied)
    assert.deepEqual(m('DeleteGroups'), ['1', '1', '0']);
    assert.deepEqual(m('CreateAcls'), ['1', '0', '0']);
    assert.deepEqual(m('DeleteAcls'), ['1', '0', '0']);
    assert.deepEqual(m('DeleteRecords'), ['1', '0', '0']);
    const auth = await apiEvents('method=Authentication');
    assert.deepEqual(m('Authentication'), [String(auth.length), '5', '0'], 'logins: the refused five and one per kafkajs connection');

    const principals = await tbody(page, '#top-principal');
    const p = (k: string) => { const r = principals.find((x) => x.key === k); return r && [r.total, r.failed, r.denied]; };
    assert.deepEqual(p('User:bob'), ['3', '3', '0']);
    assert.deepEqual(p('User:mallory'), ['2', '2', '0']);
    const aliceLogins = auth.filter((e) => e.data.authenticationInfo?.principal === 'User:alice').length;
    assert.ok(aliceLogins >= 1);
    assert.deepEqual(p('User:alice'), [String(aliceLogins + 2), '2', '2']);
    const clients = await tbody(page, '#top-client');
    assert.deepEqual(clients.filter((r) => r.key === '127.0.0.5' || r.key === '127.0.0.6').map((r) => [r.key, r.total, r.failed]).sort(), [['127.0.0.5', '3', '3'], ['127.0.0.6', '2', '2']]);
    const resources = await tbody(page, '#top-resource');
    const r = (k: string) => { const x = resources.find((y) => y.key === k); return x && [x.total, x.failed, x.denied]; };
    assert.deepEqual(r(`Topic ${T.c}`), ['2', '0', '0']);
    assert.deepEqual(r(`Topic ${T.denied}`), ['1', '1', '1']);
    assert.deepEqual(r(`Group ${NO_GROUP}`), ['1', '1', '0']);

    // Attention: refused logins per principal and address, denials, destructive operations (last hour = last day).
    const logins = await tbody(page, '#attn-failedLogins');
    assert.deepEqual(logins.map((x) => [x.principal, x.client, x.lastHour, x.lastDay]).sort(), [['User:bob', '127.0.0.5', '3', '3'], ['User:mallory', '127.0.0.6', '2', '2']]);
    const denials = await tbody(page, '#attn-denials');
    assert.deepEqual(denials.map((x) => [x.principal, x.method, x.resource, x.lastHour, x.lastDay]).sort(), [
      ['User:alice', 'CreateTopics', `Topic ${T.denied}`, '1', '1'], ['User:alice', 'DeleteTopics', `Topic ${T.a}`, '1', '1']].sort());
    const destructive = await tbody(page, '#attn-destructive');
    assert.deepEqual(destructive.map((x) => [x.principal, x.method, x.lastHour, x.lastDay, x.failed, x.denied]).sort(), [
      ['User:admin', 'DeleteAcls', '1', '1', '0', '0'], ['User:admin', 'DeleteGroups', '1', '1', '1', '0'], ['User:admin', 'DeleteRecords', '1', '1', '0', '0'],
      ['User:admin', 'DeleteTopics', '1', '1', '0', '0'], ['User:alice', 'DeleteTopics', '1', '1', '1', '1']].sort());
    assert.match((await page.textContent('#sum-failedLogins'))!, /^5 in the last hour · 5 in the last day$/);

    // The timeline's bars add up to the same outcomes.
    const tl = await page.$eval('#timeline', (el) => (el as unknown as { uplot: { data: number[][] } }).uplot.data.length);
    assert.equal(tl, 7, 'x and one series per outcome class');
    const summed = await page.evaluate(() => {
      const u = (document.getElementById('timeline') as unknown as { uplot: { data: number[][] } }).uplot;
      return u.data[1].reduce((s, v) => s + v, 0); // the top of the stack: every operation
    });
    const a = await api<Aggregates>('/audit/api/aggregates');
    assert.equal(summed, a.matched.operations);
    await page.screenshot({ path: join(ARTIFACTS, 'audit-overview.png') });
    assert.ok(readFileSync(join(ARTIFACTS, 'audit-overview.png')).length > 20_000);
  });

  test('a click on the denied part of a bar narrows the table to exactly those events', async () => {
    // The bucket holding alice's denials, and where its denied segment is on screen.
    // (A string, not a function: tsx would wrap the inner functions in a helper the page does not have.)
    const target = await page.evaluate(`(() => {
      const u = document.getElementById('timeline').uplot;
      const xs = u.data[0];
      const order = ['success', 'error', 'denied', 'unauthenticated', 'unknown', 'none'];
      // Series are drawn top of the stack first: data[1] = all classes, data[6] = success only.
      const cum = (cls, i) => u.data[order.length - order.indexOf(cls)][i];
      const below = (cls, i) => (order.indexOf(cls) === 0 ? 0 : cum(order[order.indexOf(cls) - 1], i));
      const i = xs.findIndex((_, k) => cum('denied', k) - below('denied', k) > 0);
      const step = xs.length > 1 ? xs[1] - xs[0] : u.scales.x.max - u.scales.x.min;
      const r = u.over.getBoundingClientRect();
      const mid = (below('denied', i) + cum('denied', i)) / 2;
      return { i, count: cum('denied', i) - below('denied', i), from: xs[i] * 1000, to: (xs[i] + step) * 1000 - 1, x: r.left + u.valToPos(xs[i] + step / 2, 'x'), y: r.top + u.valToPos(mid, 'y') };
    })()`) as { i: number; count: number; from: number; to: number; x: number; y: number };
    assert.ok(target.i >= 0 && target.count >= 1, JSON.stringify(target));
    await page.mouse.click(target.x, target.y);
    assert.equal(await page.inputValue('#f-outcome'), 'denied');
    const expected = await apiEvents(`outcome=denied&from=${target.from}&to=${target.to}`);
    assert.equal(expected.length, target.count);
    await overviewWhen('the narrowed table', async () => (await tbody(page, '#rows')).length === target.count);
    const rows = await tbody(page, '#rows');
    assert.deepEqual(rows.map((x) => x.id).sort(), expected.map((e) => e.id).sort());
    assert.ok(rows.every((x) => x.status === 'UNAUTHORIZED' && x.principal === 'User:alice'), JSON.stringify(rows));
    // The overview follows the narrowed search.
    assert.equal((await legend()).denied, String(target.count));
    await page.screenshot({ path: join(ARTIFACTS, 'audit-overview-bar-clicked.png') });
  });

  test('a drag across bars narrows the search to their time range, whole bars', async () => {
    await page.click('#clear');
    await overviewWhen('the whole overview again', async () => (await legend()).denied === '2');
    // From a third into the second bar with events to past the middle of the last one.
    const g = await page.evaluate(`(() => {
      const u = document.getElementById('timeline').uplot;
      const xs = u.data[0], all = u.data[1];
      const step = xs.length > 1 ? xs[1] - xs[0] : u.scales.x.max - u.scales.x.min;
      const used = xs.map((_, k) => k).filter((k) => all[k] > 0);
      const first = used[1], last = used[used.length - 1];
      const r = u.over.getBoundingClientRect();
      const inRange = used.filter((k) => k >= first && k <= last).reduce((s, k) => s + all[k], 0);
      return { x0: r.left + u.valToPos(xs[first] + step / 3, 'x'), x1: r.left + u.valToPos(xs[last] + step * 0.6, 'x'), y: r.top + r.height / 2,
               from: xs[first] * 1000, to: (xs[last] + step) * 1000 - 1, count: inRange };
    })()`) as { x0: number; x1: number; y: number; from: number; to: number; count: number };
    await page.mouse.move(g.x0, g.y);
    await page.mouse.down();
    await page.mouse.move(g.x1, g.y, { steps: 8 });
    await page.mouse.up();
    await overviewWhen('the brushed range', async () => (await page.inputValue('#f-to')) !== '');
    assert.deepEqual([Date.parse(`${await page.inputValue('#f-from')}Z`), Date.parse(`${await page.inputValue('#f-to')}Z`)], [g.from, g.to]);
    assert.equal(await page.inputValue('#f-outcome'), '', 'a drag narrows the time only');
    const expected = await apiEvents(`from=${g.from}&to=${g.to}`);
    assert.equal(expected.length, g.count);
    await overviewWhen('the brushed table', async () => (await tbody(page, '#rows')).length === g.count);
    assert.deepEqual((await tbody(page, '#rows')).map((x) => x.id).sort(), expected.map((e) => e.id).sort());
  });

  test('a click on a list row, or on its count, narrows the table to exactly those events', async () => {
    await page.click('#clear');
    await overviewWhen('the whole overview again', async () => Boolean(await row('#top-principal', 'User:bob')));
    await page.click('#top-principal tr[data-key="User:bob"]');
    assert.equal(await page.inputValue('#f-principal'), 'User:bob');
    await overviewWhen('bob\'s events', async () => (await tbody(page, '#rows')).length === 3);
    const bob = await tbody(page, '#rows');
    assert.deepEqual(bob.map((x) => x.id).sort(), (await apiEvents('principal=User:bob')).map((e) => e.id).sort());
    assert.ok(bob.every((x) => x.status === 'UNAUTHENTICATED' && x.method === 'Authentication' && /127\.0\.0\.5:\d+$/.test(x.client)), JSON.stringify(bob));

    // The denied count of CreateTopics: the one denied creation.
    await page.click('#clear');
    await overviewWhen('the whole overview again', async () => Boolean(await row('#top-method', 'CreateTopics')));
    await page.click('#top-method tr[data-key="CreateTopics"] td.denied');
    await overviewWhen('the denied creation', async () => (await tbody(page, '#rows')).length === 1);
    const [denied] = await tbody(page, '#rows');
    assert.deepEqual([denied.method, denied.resource, denied.status], ['CreateTopics', `Topic ${T.denied}`, 'UNAUTHORIZED']);

    // A resource row: both operations on topic C.
    await page.click('#clear');
    await overviewWhen('the whole overview again', async () => Boolean(await row('#top-resource', `Topic ${T.c}`)));
    await page.click(`#top-resource tr[data-key="Topic ${T.c}"]`);
    await overviewWhen('topic C\'s events', async () => (await tbody(page, '#rows')).length === 2);
    assert.deepEqual((await tbody(page, '#rows')).map((x) => x.method).sort(), ['CreateTopics', 'DeleteTopics']);

    // An attention row: mallory's refused logins (the last day's).
    await page.click('#clear');
    await overviewWhen('the whole overview again', async () => (await tbody(page, '#attn-failedLogins')).length === 2);
    await page.click('#attn-failedLogins tr[data-key="User:mallory 127.0.0.6"]');
    await overviewWhen('mallory\'s refused logins', async () => (await tbody(page, '#rows')).length === 2);
    assert.ok((await tbody(page, '#rows')).every((x) => x.principal === 'User:mallory' && x.status === 'UNAUTHENTICATED'));
    assert.equal(await page.inputValue('#f-outcome'), 'unauthenticated');
  });

  test('live tail: a refused login made while the page is open updates the overview without a reload', async () => {
    await page.click('#clear');
    await overviewWhen('the whole overview again', async () => (await tbody(page, '#attn-failedLogins')).length === 2);
    assert.ok(await page.isChecked('#live'));
    await waitFor('the live tail', async () => (await page.textContent('#live-state')) === 'following new events' || undefined);
    await page.evaluate(() => { (window as unknown as { __same: number }).__same = 1; });
    const port = Number(app.proxy.bootstrapAddress.split(':').pop());
    await badLogin(port, 'bob', '127.0.0.5');
    await overviewWhen('bob\'s fourth refused login on the page', async () => (await row('#attn-failedLogins', 'User:bob 127.0.0.5'))?.lastDay === '4');
    assert.equal((await legend()).unauthenticated, '6');
    assert.equal(await page.getAttribute('#overview', 'data-trigger'), 'live', 'refreshed by the live tail, not by the clock');
    assert.equal((await row('#top-principal', 'User:bob'))?.total, '4');
    assert.equal(await page.evaluate(() => (window as unknown as { __same?: number }).__same), 1, 'the page was not reloaded');
    await page.screenshot({ path: join(ARTIFACTS, 'audit-overview-live.png'), fullPage: true });
  });

  test('the aggregates API answers other tools; no secret in it, no problem on the page', async () => {
    const a = await api<Aggregates & { source: string; index: { size: number } }>('/audit/api/aggregates?principal=User:alice&buckets=10&top=3');
    assert.equal(a.source, 'live');
    assert.equal(a.outcomes.denied, 2);
    assert.ok(a.timeline.times.length <= 10);
    assert.deepEqual(a.top.method.rows.map((r) => r.key).sort(), ['Authentication', 'CreateTopics', 'DeleteTopics']);
    const bad = await fetch(`${base}/audit/api/aggregates?buckets=0`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(bad.status, 400);
    assert.equal((await fetch(`${base}/audit/api/aggregates`)).status, 401);
    assertNoSecret(JSON.stringify(a), { 'the token': TOKEN, 'alice\'s password': 'alice-secret', 'admin\'s password': 'admin-secret' }, 'the aggregates');
    assertNoSecret(await page.content(), { 'the token': TOKEN }, 'the page');
    assertNoSecret(logLines.join(''), { 'the token': TOKEN }, 'the proxy log');
    assert.deepEqual(pageProblems, [], 'no script error, CSP violation or failed request on the page');
  });
});

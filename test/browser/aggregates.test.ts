/**
 * The overview's aggregates without Kafka: aggregate() against a naive count over the raw event JSON (an
 * independent oracle, not the facts the index keeps), every row's filter selecting exactly the events it
 * counts, exact filters for names with glob characters, the timeline's buckets, and the search filter's new
 * fields against the CLI's own matcher for the old ones.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEvent } from '../../src/audit/event.js';
import { aggregate, DAY_MS, DEFAULT_AGGREGATE_OPTIONS, HOUR_MS, type AggregateOptions, type RowFilter } from '../../src/browser/aggregates.js';
import { EventIndex } from '../../src/browser/event-index.js';
import { DESTRUCTIVE_METHODS } from '../../src/browser/facts.js';
import { escapeGlob, matchesFilter, parseQuery, type BrowserFilter } from '../../src/browser/filter.js';
import { matches } from '../../src/tail.js';
import { prng, syntheticEvents } from './synthetic.js';

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);
const opts = (o: Partial<AggregateOptions> = {}): AggregateOptions => ({ ...DEFAULT_AGGREGATE_OPTIONS, now: NOW, top: 1000, attentionRows: 100_000, ...o });

/** The naive view of an event, read straight from its JSON. */
function raw(e: AuditEvent) {
  const d = e.data as unknown as Record<string, any>;
  const status: string | undefined = d.result?.status;
  const cls = status === undefined ? 'none' : status === 'SUCCESS' ? 'success' : status === 'UNAUTHORIZED' ? 'denied' : status === 'UNAUTHENTICATED' ? 'unauthenticated' : status === 'UNKNOWN' ? 'unknown' : 'error';
  const addr: string | undefined = d.requestMetadata?.client_address;
  return {
    t: Date.parse(e.time), cls, principal: d.authenticationInfo?.principal as string | undefined,
    method: String(d.methodName).replace(/^kafka\./, ''), type: d.authorizationInfo?.resourceType as string | undefined,
    name: (d.authorizationInfo?.resourceName ?? d.resourceName) as string, host: addr?.replace(/:\d+$/, ''),
    weight: typeof d.count === 'number' ? d.count : 1,
  };
}

/** Events of every kind, including dedupe summaries (data.count), lifecycle events and an event without a time. */
function corpus(): AuditEvent[] {
  const events = syntheticEvents({ count: 6000, end: NOW, spanMs: 2 * DAY_MS, seed: 5, principals: 12, topics: 200 });
  const rnd = prng(9);
  for (const e of events) if (rnd() < 0.05) (e.data as any).count = 1 + Math.floor(rnd() * 20);
  events.push({ ...events[0], id: 'lifecycle-1', type: 'io.kafkaauditproxy/lifecycle', time: new Date(NOW - 1000).toISOString(), data: { serviceName: 'x', methodName: 'proxy.Started', resourceName: 'crn:///kafka=bench' } });
  events.push({ ...events[1], id: 'no-time', time: 'not a time' });
  return events;
}

function indexOf(events: AuditEvent[]): EventIndex {
  const idx = new EventIndex(events.length + 10);
  for (const e of events) idx.add(e);
  return idx;
}

/** Operations (sum of weights) of the events a filter selects. */
function selected(idx: EventIndex, f: BrowserFilter): number {
  return idx.select(f).reduce((s, e) => s + e.facts.weight, 0);
}

const rowFilter = ({ from, ...f }: RowFilter): BrowserFilter => ({ ...f, ...(from !== undefined && { since: Date.parse(from) }) });

describe('aggregate()', () => {
  const events = corpus();
  const idx = indexOf(events);

  test('totals, outcomes, top lists and attention equal a naive count over the raw events', () => {
    for (const filter of [{}, { principal: 'User:svc-3' }, { method: 'Delete*' }, { outcome: 'failure' as const }, { since: NOW - 6 * HOUR_MS, until: NOW - HOUR_MS }]) {
      const a = aggregate(idx, filter, opts());
      const sel = events.filter((e) => matchesFilter(e, filter)).map(raw);
      const sum = (xs: Array<{ weight: number }>) => xs.reduce((s, x) => s + x.weight, 0);
      assert.equal(a.matched.events, sel.length, JSON.stringify(filter));
      assert.equal(a.matched.operations, sum(sel));
      for (const c of ['success', 'error', 'denied', 'unauthenticated', 'unknown', 'none'] as const) {
        assert.equal(a.outcomes[c], sum(sel.filter((x) => x.cls === c)), `${c} of ${JSON.stringify(filter)}`);
        // Every timed operation is in exactly one bucket.
        assert.equal(a.timeline.counts[c].reduce((s, n) => s + n, 0), sum(sel.filter((x) => x.cls === c && !Number.isNaN(x.t))), `timeline ${c}`);
      }
      const byPrincipal = new Map<string, number>();
      for (const x of sel) if (x.principal) byPrincipal.set(x.principal, (byPrincipal.get(x.principal) ?? 0) + x.weight);
      assert.equal(a.top.principal.distinct, byPrincipal.size);
      assert.deepEqual(a.top.principal.rows.map((r) => [r.key, r.total]), [...byPrincipal].sort((p, q) => q[1] - p[1] || (p[0] < q[0] ? -1 : 1)));
      const resources = new Set(sel.filter((x) => x.type).map((x) => `${x.type} ${x.name}`));
      assert.equal(a.top.resource.distinct, resources.size);
      for (const r of a.top.method.rows) {
        const mine = sel.filter((x) => x.method === r.key);
        assert.deepEqual([r.total, r.failed, r.denied], [sum(mine), sum(mine.filter((x) => x.cls !== 'success' && x.cls !== 'none')), sum(mine.filter((x) => x.cls === 'denied'))], r.key);
      }
      for (const r of a.top.client.rows) assert.equal(r.total, sum(sel.filter((x) => x.host === r.key)), r.key);

      // Attention: the filter without its time range, over the last hour and day before `now`.
      const { since, until, ...rest } = filter as BrowserFilter;
      void since; void until;
      const recent = events.filter((e) => matchesFilter(e, rest)).map(raw).filter((x) => x.t >= NOW - DAY_MS);
      const hour = (xs: typeof recent) => sum(xs.filter((x) => x.t >= NOW - HOUR_MS));
      const logins = recent.filter((x) => x.cls === 'unauthenticated');
      assert.deepEqual([a.attention.failedLogins.lastDay, a.attention.failedLogins.lastHour], [sum(logins), hour(logins)]);
      const denied = recent.filter((x) => x.cls === 'denied');
      assert.deepEqual([a.attention.denials.lastDay, a.attention.denials.lastHour], [sum(denied), hour(denied)]);
      const destructive = recent.filter((x) => DESTRUCTIVE_METHODS.includes(x.method));
      assert.ok(destructive.length > 0);
      assert.deepEqual([a.attention.destructive.lastDay, a.attention.destructive.lastHour], [sum(destructive), hour(destructive)]);
      for (const r of a.attention.destructive.rows) {
        const mine = destructive.filter((x) => x.principal === r.principal && x.method === r.method);
        assert.deepEqual([r.lastDay, r.lastHour, r.failed, r.denied], [sum(mine), hour(mine), sum(mine.filter((x) => x.cls !== 'success')), sum(mine.filter((x) => x.cls === 'denied'))]);
      }
    }
  });

  test('every row\'s filter selects exactly the events the row counts', () => {
    const a = aggregate(idx, {}, opts());
    let rows = 0;
    for (const list of Object.values(a.top)) {
      for (const r of list.rows) {
        rows++;
        assert.equal(selected(idx, rowFilter(r.filter)), r.total, `${r.key} ${JSON.stringify(r.filter)}`);
        assert.equal(selected(idx, { ...rowFilter(r.filter), outcome: 'failure' }), r.failed);
        assert.equal(selected(idx, { ...rowFilter(r.filter), outcome: 'denied' }), r.denied);
      }
    }
    for (const list of Object.values(a.attention)) {
      for (const r of list.rows) {
        rows++;
        assert.equal(r.filter.from, new Date(NOW - DAY_MS).toISOString());
        assert.equal(selected(idx, rowFilter(r.filter)), r.lastDay, JSON.stringify(r));
        assert.equal(selected(idx, { ...rowFilter(r.filter), since: NOW - HOUR_MS }), r.lastHour, JSON.stringify(r));
      }
    }
    assert.ok(rows > 500, `rows checked: ${rows}`);
  });

  test('names with glob characters: a row\'s filter selects that name only', () => {
    const base = events.slice(0, 3).map((e, i) => ({ ...e, id: `g-${i}`, time: new Date(NOW - 1000).toISOString(), data: { ...e.data, authenticationInfo: { principal: ['User:a*b', 'User:axxb', 'User:a\\*b'][i] } } }));
    const small = indexOf(base);
    const a = aggregate(small, {}, opts());
    assert.equal(a.top.principal.rows.length, 3);
    for (const r of a.top.principal.rows) {
      assert.equal(r.filter.principal, escapeGlob(r.key));
      assert.deepEqual(small.select(rowFilter(r.filter)).map((e) => e.event.data.authenticationInfo!.principal), [r.key]);
    }
    // The unescaped glob is wider: User:a*b is also User:axxb and User:a\*b.
    assert.equal(small.select({ principal: 'User:a*b' }).length, 3);
  });

  test('timeline: aligned buckets of a standard width, within the limit, from/to honoured, live runs to now', () => {
    const a = aggregate(idx, { since: NOW - 6 * HOUR_MS, until: NOW - HOUR_MS - 1 }, opts({ buckets: 60 }));
    assert.equal(a.timeline.bucketMs, 5 * 60_000);
    assert.equal(a.timeline.times.length, 60);
    assert.equal(a.timeline.times[0], NOW - 6 * HOUR_MS);
    assert.ok(a.timeline.times.every((t, i) => t % a.timeline.bucketMs === 0 && (i === 0 || t - a.timeline.times[i - 1] === a.timeline.bucketMs)));
    const all = aggregate(idx, {}, opts({ buckets: 100 }));
    assert.ok(all.timeline.times.length <= 100);
    assert.equal(all.timeline.bucketMs, 30 * 60_000); // 2 days in at most 100 buckets: 97 of 30 min
    assert.ok(all.timeline.to >= NOW, 'the live timeline runs to now');
    assert.equal(all.timeline.untimed, 1);
    const loaded = aggregate(idx, {}, opts({ live: false }));
    assert.equal(loaded.timeline.to, Math.max(...events.map((e) => Date.parse(e.time)).filter(Number.isFinite)));
    const longRange = aggregate(idx, { since: NOW - 400 * DAY_MS }, opts({ buckets: 50 }));
    assert.ok(longRange.timeline.times.length <= 50 && longRange.timeline.bucketMs % DAY_MS === 0);
    const empty = aggregate(new EventIndex(5), {}, opts());
    assert.equal(empty.matched.events, 0);
    assert.ok(empty.timeline.times.length >= 1);
  });
});

describe('search filter: new fields and outcomes', () => {
  const events = corpus();

  test('the fields the CLI also has match as its own matcher does', () => {
    const rnd = prng(3);
    const patterns: BrowserFilter[] = [{ principal: 'user:svc-1*' }, { method: 'DeleteTopics' }, { method: 'kafka.Create*' }, { resource: 'topic-1*' }, { resource: 'crn:///kafka=bench' }, { outcome: 'success' }, { since: NOW - DAY_MS, until: NOW - HOUR_MS }];
    for (const e of events.filter((x) => rnd() < 0.3 || x.id === 'no-time')) {
      // Unlike the CLI, an event without a time is in no time range.
      const timeless = (f: BrowserFilter) => f.since !== undefined && Number.isNaN(Date.parse(e.time));
      for (const f of patterns) assert.equal(matchesFilter(e, f), matches(e, f as Parameters<typeof matches>[1]) && (f.outcome !== 'success' || e.data.result !== undefined) && !timeless(f), `${e.id} ${JSON.stringify(f)}`);
    }
  });

  test('outcome classes, client address (with or without port) and resource type', () => {
    const e = events.find((x) => x.data.result?.status === 'UNAUTHORIZED' && x.data.authorizationInfo?.resourceType === 'Group')!;
    const addr = e.data.requestMetadata!.client_address;
    assert.ok(matchesFilter(e, { outcome: 'denied' }) && matchesFilter(e, { outcome: 'failure' }));
    assert.ok(!matchesFilter(e, { outcome: 'error' }) && !matchesFilter(e, { outcome: 'unauthenticated' }) && !matchesFilter(e, { outcome: 'success' }));
    assert.ok(matchesFilter(e, { client: addr }) && matchesFilter(e, { client: addr.replace(/:\d+$/, '') }) && matchesFilter(e, { client: '10.0.*' }));
    assert.ok(!matchesFilter(e, { client: '10.9.9.9' }));
    assert.ok(matchesFilter(e, { resourceType: 'group' }) && !matchesFilter(e, { resourceType: 'Topic' }));
    const lifecycle = events.find((x) => x.id === 'lifecycle-1')!;
    assert.ok(matchesFilter(lifecycle, { outcome: 'none' }) && !matchesFilter(lifecycle, { outcome: 'failure' }) && !matchesFilter(lifecycle, { outcome: 'success' }));
  });

  test('query parameters: the new ones are read, bad outcomes named', () => {
    const q = parseQuery(new URLSearchParams('client=10.0.0.1&resourceType=Topic&outcome=DENIED'), 10);
    assert.deepEqual(q.filter, { client: '10.0.0.1', resourceType: 'Topic', outcome: 'denied' });
    assert.throws(() => parseQuery(new URLSearchParams('outcome=maybe'), 10), /^FilterError: outcome: must be one of success, failure, error, denied, unauthenticated, unknown, none/);
  });
});

/**
 * The overview of the audit browser, computed from an event index in one pass: a timeline of operations per
 * outcome, the top principals, methods, resources and client addresses of the selection, and what deserves
 * attention now (failed logins, authorization denials, destructive operations in the last hour and day).
 *
 * Why one pass and no precomputed counters: every part follows the search filter, and filters are globs
 * over any field, so counters kept per field would not answer them; one pass over the index's precomputed
 * facts does, in milliseconds at 100,000 events (bench/browser-aggregates.ts).
 *
 * Counts are operations: an event stands for one, a deduplicated summary event for its data.count. Every row
 * carries `filter`, the search parameters that select exactly the events it counts (values escaped with
 * escapeGlob), so the page (or any other tool) narrows a search by adding them.
 */
import type { EventIndex } from './event-index.js';
import { DESTRUCTIVE_METHODS, OUTCOME_CLASSES, RESOURCE_KEY_SEP, type EventFacts, type OutcomeClass } from './facts.js';
import { compileFilter, escapeGlob, type BrowserFilter, type OutcomeFilter } from './filter.js';

export { DESTRUCTIVE_METHODS };

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Bucket widths the timeline picks from: the smallest that keeps the range within the bucket limit. */
const STEPS_MS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);

/**
 * Search parameters (as the query string names them) that select a row's events. Attention rows add `from`
 * (ISO time, a day before `now`): their events are the last day's, whatever range the search shows.
 */
export type RowFilter = Partial<Record<'principal' | 'method' | 'resource' | 'resourceType' | 'client' | 'from', string>> & { outcome?: OutcomeFilter };

export type OutcomeCounts = Record<OutcomeClass, number>;

export interface TopRow {
  /** The value as the page shows it ("User:alice", "DeleteTopics", "Topic orders", "10.0.0.7"). */
  key: string;
  /** Operations, and of them those that did not succeed (any outcome but success) and those denied. */
  total: number;
  failed: number;
  denied: number;
  filter: RowFilter;
}

export interface TopList {
  /** The first rows, most operations first. */
  rows: TopRow[];
  /** How many distinct values the selection has. */
  distinct: number;
}

export interface AttentionRow {
  principal: string | null;
  client?: string;
  method?: string;
  resourceType?: string;
  resourceName?: string;
  lastHour: number;
  lastDay: number;
  /** Destructive operations only: how many of the last day's did not succeed, and how many were denied. */
  failed?: number;
  denied?: number;
  filter: RowFilter;
}

export interface AttentionList {
  rows: AttentionRow[];
  /** Rows left out (beyond the row limit). */
  more: number;
  lastHour: number;
  lastDay: number;
}

export interface Timeline {
  /** The range shown (ms since the epoch, inclusive): the search's from/to, else the span of the matching events. */
  from: number;
  to: number;
  bucketMs: number;
  /** Start of each bucket (ms since the epoch, aligned to bucketMs). */
  times: number[];
  /** Operations per bucket, per outcome class. */
  counts: Record<OutcomeClass, number[]>;
  /** Matching operations whose event has no parseable time (not on the timeline; only without a time range). */
  untimed: number;
}

export interface Aggregates {
  /** The time the attention windows end at (ms since the epoch). */
  now: number;
  matched: { events: number; operations: number };
  outcomes: OutcomeCounts;
  timeline: Timeline;
  top: { principal: TopList; method: TopList; resource: TopList; client: TopList };
  attention: {
    /** Logins the broker refused (UNAUTHENTICATED), per principal and client address. */
    failedLogins: AttentionList;
    /** Authorization denials (UNAUTHORIZED), per principal, method and resource. */
    denials: AttentionList;
    /** DESTRUCTIVE_METHODS, per principal and method, whatever their outcome. */
    destructive: AttentionList;
  };
}

export interface AggregateOptions {
  /** End of the attention windows, and of the timeline when `live` and no `to` is given. */
  now: number;
  /** Most timeline buckets. */
  buckets: number;
  /** Rows per top list. */
  top: number;
  /** Rows per attention list. */
  attentionRows: number;
  /** The live index: the timeline runs up to now rather than to the newest event. */
  live: boolean;
}

export const DEFAULT_AGGREGATE_OPTIONS: Omit<AggregateOptions, 'now'> = { buckets: 60, top: 10, attentionRows: 20, live: true };

const zeroCounts = (): OutcomeCounts => ({ success: 0, error: 0, denied: 0, unauthenticated: 0, unknown: 0, none: 0 });

/** A row being counted; `sample` is its first event, which its label and filter are made from if it is listed. */
interface RowAcc { total: number; failed: number; denied: number; sample: EventFacts }
interface AttnAcc { lastHour: number; lastDay: number; failed: number; denied: number; sample: EventFacts }

const isFailed = (o: OutcomeClass) => o !== 'success' && o !== 'none';

/** Rows ordered by `better`, the first n of them, without sorting them all (a dimension can have 100,000 values). */
function firstN<T>(items: Iterable<T>, n: number, better: (a: T, b: T) => boolean): T[] {
  const out: T[] = [];
  if (n <= 0) return out;
  for (const x of items) {
    if (out.length === n && !better(x, out[n - 1])) continue;
    let i = out.length === n ? n - 1 : out.length;
    if (out.length < n) out.push(x);
    while (i > 0 && better(x, out[i - 1])) { out[i] = out[i - 1]; i--; }
    out[i] = x;
  }
  return out;
}

class TopCounter {
  private readonly rows = new Map<string, RowAcc>();
  /** `filter` makes the search parameters of a listed row from its first event. */
  constructor(private readonly filter: (f: EventFacts) => RowFilter) {}
  add(key: string | undefined, f: EventFacts): void {
    if (key === undefined) return;
    const r = this.rows.get(key);
    if (r === undefined) {
      this.rows.set(key, { total: f.weight, failed: isFailed(f.outcome) ? f.weight : 0, denied: f.outcome === 'denied' ? f.weight : 0, sample: f });
      return;
    }
    r.total += f.weight;
    if (isFailed(f.outcome)) r.failed += f.weight;
    if (f.outcome === 'denied') r.denied += f.weight;
  }
  list(n: number, label: (key: string) => string): TopList {
    const rows = firstN(this.rows.entries(), n, (a, b) => a[1].total > b[1].total || (a[1].total === b[1].total && a[0] < b[0]));
    return { rows: rows.map(([k, r]) => ({ key: label(k), total: r.total, failed: r.failed, denied: r.denied, filter: this.filter(r.sample) })), distinct: this.rows.size };
  }
}

class AttentionCounter {
  private readonly rows = new Map<string, AttnAcc>();
  private hour = 0;
  private day = 0;
  /** `row` makes a listed row's fields (and its filter) from its first event. */
  constructor(private readonly row: (f: EventFacts) => Omit<AttentionRow, 'lastHour' | 'lastDay'>, private readonly withOutcomes: boolean) {}
  add(key: string, f: EventFacts, inHour: boolean): void {
    let r = this.rows.get(key);
    if (r === undefined) { r = { lastHour: 0, lastDay: 0, failed: 0, denied: 0, sample: f }; this.rows.set(key, r); }
    r.lastDay += f.weight;
    this.day += f.weight;
    if (inHour) { r.lastHour += f.weight; this.hour += f.weight; }
    if (isFailed(f.outcome)) r.failed += f.weight;
    if (f.outcome === 'denied') r.denied += f.weight;
  }
  list(n: number, from: string): AttentionList {
    const rows = firstN(this.rows.values(), n, (a, b) => a.lastHour > b.lastHour || (a.lastHour === b.lastHour && a.lastDay > b.lastDay));
    return {
      rows: rows.map((r) => {
        const row = this.row(r.sample);
        return { ...row, filter: { ...row.filter, from }, lastHour: r.lastHour, lastDay: r.lastDay, ...(this.withOutcomes && { failed: r.failed, denied: r.denied }) };
      }),
      more: Math.max(0, this.rows.size - rows.length), lastHour: this.hour, lastDay: this.day,
    };
  }
}

/** Search parameters for the fields given, each matching exactly its value; absent fields are left out. */
function exact(fields: Partial<Record<'principal' | 'method' | 'resource' | 'resourceType' | 'client', string | undefined>>, outcome?: OutcomeFilter): RowFilter {
  const f: RowFilter = {};
  for (const [k, v] of Object.entries(fields) as Array<[keyof typeof fields, string | undefined]>) if (v !== undefined) f[k] = escapeGlob(v);
  if (outcome) f.outcome = outcome;
  return f;
}

/** The timeline's range and bucket width. */
function timelineFrame(filter: BrowserFilter, minT: number, maxT: number, o: AggregateOptions): { start: number; to: number; from: number; step: number; n: number } {
  const timed = minT <= maxT;
  const to = filter.until ?? (o.live ? Math.max(o.now, timed ? maxT : o.now) : (timed ? maxT : o.now));
  let from = filter.since ?? (timed ? minT : to - HOUR_MS);
  if (from > to) from = to;
  const most = Math.max(2, o.buckets);
  let step = STEPS_MS.find((s) => Math.floor(to / s) - Math.floor(from / s) + 1 <= most);
  // Longer than 7-day buckets can show: whole days, enough of them (aligning may add one bucket).
  if (step === undefined) step = Math.ceil((to - from) / (most - 1) / DAY_MS) * DAY_MS;
  const start = Math.floor(from / step) * step;
  return { start, from, to, step, n: Math.floor((to - start) / step) + 1 };
}

/** Computes the overview of the entries that match `filter` (attention: every filter but the time range). */
export function aggregate(index: Pick<EventIndex, 'forEachEntry' | 'size'>, filter: BrowserFilter, o: AggregateOptions): Aggregates {
  // The attention panel looks at the last hour and day, so the time range applies to the rest only.
  const inAttention = compileFilter(filter, { ignoreTime: true });
  const { since, until } = filter;
  const hourAgo = o.now - HOUR_MS, dayAgo = o.now - DAY_MS;

  const outcomes = zeroCounts();
  let events = 0, operations = 0, untimed = 0;
  const principals = new TopCounter((f) => exact({ principal: f.principal }));
  const methods = new TopCounter((f) => exact({ method: f.method }));
  const resources = new TopCounter((f) => exact({ resource: f.resourceName, resourceType: f.resourceType }));
  const clients = new TopCounter((f) => exact({ client: f.clientHost }));
  const failedLogins = new AttentionCounter((f) => ({
    principal: f.principal ?? null, client: f.clientHost,
    filter: exact({ principal: f.principal, client: f.clientHost }, 'unauthenticated'),
  }), false);
  const denials = new AttentionCounter((f) => ({
    principal: f.principal ?? null, method: f.method, resourceType: f.resourceType, resourceName: f.resourceName,
    filter: exact({ principal: f.principal, method: f.method, resource: f.resourceName, resourceType: f.resourceType }, 'denied'),
  }), false);
  const destructive = new AttentionCounter((f) => ({
    principal: f.principal ?? null, method: f.method,
    filter: exact({ principal: f.principal, method: f.method }),
  }), true);
  // The selection's times, outcomes and weights, for the timeline once its range is known.
  const cap = Math.max(1, index.size);
  const times = new Float64Array(cap), classes = new Uint8Array(cap), weights = new Float64Array(cap);
  let kept = 0, minT = Infinity, maxT = -Infinity;

  index.forEachEntry((entry) => {
    const f = entry.facts;
    if (!inAttention(f)) return;
    const t = f.timeMs;
    if (t >= dayAgo) {
      const inHour = t >= hourAgo;
      if (f.loginFailureKey !== undefined) failedLogins.add(f.loginFailureKey, f, inHour);
      if (f.denialKey !== undefined) denials.add(f.denialKey, f, inHour);
      if (f.destructiveKey !== undefined) destructive.add(f.destructiveKey, f, inHour);
    }
    // As in compileFilter: an event without a time is in no time range.
    if ((since !== undefined && !(t >= since)) || (until !== undefined && !(t <= until))) return;

    events++;
    operations += f.weight;
    outcomes[f.outcome] += f.weight;
    principals.add(f.principal, f);
    methods.add(f.method, f);
    // Logins and lifecycle events name the cluster's CRN, not a resource anyone acted on: left out.
    resources.add(f.resourceKey, f);
    clients.add(f.clientHost, f);

    if (Number.isNaN(t)) { untimed += f.weight; return; }
    times[kept] = t; classes[kept] = f.outcomeIndex; weights[kept] = f.weight; kept++;
    if (t < minT) minT = t;
    if (t > maxT) maxT = t;
  });

  const frame = timelineFrame(filter, minT, maxT, o);
  const dayAgoIso = new Date(dayAgo).toISOString();
  const counts = Object.fromEntries(OUTCOME_CLASSES.map((c) => [c, new Array<number>(frame.n).fill(0)])) as Record<OutcomeClass, number[]>;
  const byIndex = OUTCOME_CLASSES.map((c) => counts[c]);
  for (let i = 0; i < kept; i++) {
    const b = Math.floor((times[i] - frame.start) / frame.step);
    // Outside only when no range was asked for and the live timeline ends at `now` before a skewed event.
    if (b >= 0 && b < frame.n) byIndex[classes[i]][b] += weights[i];
  }

  return {
    now: o.now,
    matched: { events, operations },
    outcomes,
    timeline: {
      from: frame.from, to: frame.to, bucketMs: frame.step,
      times: Array.from({ length: frame.n }, (_, i) => frame.start + i * frame.step),
      counts, untimed,
    },
    top: {
      principal: principals.list(o.top, (k) => k),
      method: methods.list(o.top, (k) => k),
      resource: resources.list(o.top, (k) => k.replace(RESOURCE_KEY_SEP, ' ')),
      client: clients.list(o.top, (k) => k),
    },
    attention: {
      failedLogins: failedLogins.list(o.attentionRows, dayAgoIso),
      denials: denials.list(o.attentionRows, dayAgoIso),
      destructive: destructive.list(o.attentionRows, dayAgoIso),
    },
  };
}

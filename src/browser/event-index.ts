/**
 * The audit browser's in-memory index: a ring of the most recent audit events, bounded by count and by an
 * estimate of their size, and the search filter the page and the HTTP API use.
 *
 * Bounded on purpose: the audit topic holds months of events, the proxy must not grow with it. When the ring is
 * full the oldest event (in arrival order) is evicted. Older events are read from the topic on demand
 * (AuditBrowser.load), into a second ring of the same kind.
 */
import type { AuditEvent } from '../audit/event.js';
import { matches, type TailFilter } from '../tail.js';

/** What a search can ask for. principal, method, resource and errorName accept * wildcards (case-insensitive). */
export interface BrowserFilter extends TailFilter {
  /** A numeric Kafka error code ("36") or an error name ("TOPIC_ALREADY_EXISTS", "*AUTHORIZATION*"). */
  errorCode?: string;
}

export interface IndexedEvent {
  event: AuditEvent;
  /** Event time in ms since the epoch (NaN when the event has no parseable time). */
  timeMs: number;
  /** Arrival order, to keep the sort stable. */
  seq: number;
  /** Approximate size in bytes (length of the record value). */
  bytes: number;
}

export interface QueryResult {
  /** Newest first (event time, then arrival). */
  events: AuditEvent[];
  /** Number of indexed events that match (may exceed events.length when limited). */
  matched: number;
}

function globRegExp(pattern: string): RegExp {
  return new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i');
}

/** True when the event passes every filter given (see {@link BrowserFilter}). */
export function matchesFilter(e: AuditEvent, f: BrowserFilter): boolean {
  const { outcome, ...rest } = f;
  if (!matches(e, rest)) return false;
  if (outcome) {
    // Events without a result (the proxy's lifecycle events) are neither a success nor a failure.
    const status = e.data?.result?.status;
    if (status === undefined || (outcome === 'success') !== (status === 'SUCCESS')) return false;
  }
  if (f.errorCode !== undefined && f.errorCode !== '') {
    const r = e.data?.result;
    if (!r) return false;
    if (/^-?\d+$/.test(f.errorCode)) return r.errorCode === Number(f.errorCode);
    return r.errorName !== undefined && globRegExp(f.errorCode).test(r.errorName);
  }
  return true;
}

/** A ring of audit events, bounded by count (maxEvents) and by approximate bytes (maxBytes). */
export class EventIndex {
  private readonly ring: Array<IndexedEvent | undefined>;
  private head = 0; // slot of the oldest entry
  private count = 0;
  private bytes = 0;
  private nextSeq = 0;
  /** Events evicted since the index was created. */
  evicted = 0;
  /** Called for every event added (the live stream listens here). */
  onAdd: ((e: IndexedEvent) => void) | undefined;

  constructor(readonly maxEvents: number, readonly maxBytes = Number.POSITIVE_INFINITY) {
    if (!Number.isInteger(maxEvents) || maxEvents <= 0) throw new Error(`EventIndex: maxEvents must be a positive integer (got ${maxEvents})`);
    this.ring = new Array(maxEvents);
  }

  get size(): number { return this.count; }
  get sizeBytes(): number { return this.bytes; }

  add(event: AuditEvent, bytes = 0): IndexedEvent {
    if (this.count === this.maxEvents) this.evictOldest();
    const entry: IndexedEvent = { event, timeMs: Date.parse(event.time), seq: this.nextSeq++, bytes };
    this.ring[(this.head + this.count) % this.maxEvents] = entry;
    this.count++;
    this.bytes += bytes;
    // One event larger than maxBytes on its own is still kept (the ring would otherwise show nothing).
    while (this.bytes > this.maxBytes && this.count > 1) this.evictOldest();
    this.onAdd?.(entry);
    return entry;
  }

  private evictOldest(): void {
    const old = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.maxEvents;
    this.count--;
    this.bytes -= old?.bytes ?? 0;
    this.evicted++;
  }

  clear(): void {
    this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
  }

  /** Entries in arrival order, oldest first. */
  *entries(): IterableIterator<IndexedEvent> {
    for (let i = 0; i < this.count; i++) yield this.ring[(this.head + i) % this.maxEvents]!;
  }

  /** The matching events, newest first, at most `limit` of them. */
  query(filter: BrowserFilter, limit: number): QueryResult {
    const hits: IndexedEvent[] = [];
    for (const e of this.entries()) if (matchesFilter(e.event, filter)) hits.push(e);
    hits.sort(newestFirst);
    return { events: hits.slice(0, Math.max(0, limit)).map((h) => h.event), matched: hits.length };
  }

  /** Every matching event, oldest first (the order an export is written in). */
  matching(filter: BrowserFilter): AuditEvent[] {
    const hits: IndexedEvent[] = [];
    for (const e of this.entries()) if (matchesFilter(e.event, filter)) hits.push(e);
    return hits.sort(newestFirst).reverse().map((h) => h.event);
  }

  find(id: string): AuditEvent | undefined {
    for (const e of this.entries()) if (e.event.id === id) return e.event;
    return undefined;
  }
}

function newestFirst(a: IndexedEvent, b: IndexedEvent): number {
  const ta = Number.isNaN(a.timeMs) ? -Infinity : a.timeMs;
  const tb = Number.isNaN(b.timeMs) ? -Infinity : b.timeMs;
  return tb - ta || b.seq - a.seq;
}

export class FilterError extends Error {
  constructor(message: string) { super(message); this.name = 'FilterError'; }
}

/** Parses a time given as epoch milliseconds or an ISO-8601 string; throws FilterError naming the parameter. */
export function parseTime(name: string, raw: string): number {
  const v = raw.trim();
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new FilterError(`${name}: must be an ISO-8601 time (2024-05-01T12:00:00Z) or epoch milliseconds (got ${JSON.stringify(raw.slice(0, 64))})`);
  return t;
}

export interface ParsedQuery { filter: BrowserFilter; limit: number; source: 'live' | 'loaded' }

/**
 * Reads the search parameters of an API request: principal, method, resource, outcome (success | failure),
 * errorCode, from, to (ISO or epoch ms), limit, source (live | loaded). Empty parameters are ignored.
 */
export function parseQuery(params: URLSearchParams, maxLimit: number, defaultLimit = 500): ParsedQuery {
  const get = (k: string): string | undefined => {
    const v = params.get(k);
    if (v === null) return undefined;
    const t = v.trim();
    if (t.length > 512) throw new FilterError(`${k}: too long (at most 512 characters)`);
    return t === '' ? undefined : t;
  };
  const filter: BrowserFilter = {};
  const principal = get('principal'); if (principal) filter.principal = principal;
  const method = get('method'); if (method) filter.method = method;
  const resource = get('resource'); if (resource) filter.resource = resource;
  const errorCode = get('errorCode'); if (errorCode) filter.errorCode = errorCode;
  const outcome = get('outcome');
  if (outcome) {
    const o = outcome.toLowerCase();
    if (o !== 'success' && o !== 'failure') throw new FilterError(`outcome: must be success or failure (got ${JSON.stringify(outcome.slice(0, 64))})`);
    filter.outcome = o;
  }
  const from = get('from'); if (from) filter.since = parseTime('from', from);
  const to = get('to'); if (to) filter.until = parseTime('to', to);
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) throw new FilterError('from: must not be after to');
  let limit = defaultLimit;
  const l = get('limit');
  if (l) {
    if (!/^\d+$/.test(l) || Number(l) < 1) throw new FilterError(`limit: must be a positive integer (got ${JSON.stringify(l.slice(0, 64))})`);
    limit = Number(l);
  }
  const src = get('source') ?? 'live';
  if (src !== 'live' && src !== 'loaded') throw new FilterError(`source: must be live or loaded (got ${JSON.stringify(src.slice(0, 64))})`);
  return { filter, limit: Math.min(limit, maxLimit), source: src };
}

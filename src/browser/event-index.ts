/**
 * The audit browser's in-memory index: a ring of the most recent audit events, bounded by count and by an
 * estimate of their size, searched with the filter of filter.ts over facts taken once per event (facts.ts).
 *
 * Bounded on purpose: the audit topic holds months of events, the proxy must not grow with it. When the ring is
 * full the oldest event (in arrival order) is evicted. Older events are read from the topic on demand
 * (AuditBrowser.load), into a second ring of the same kind.
 */
import type { AuditEvent } from '../audit/event.js';
import { eventFacts, type EventFacts } from './facts.js';
import { compileFilter, type BrowserFilter } from './filter.js';

export { FilterError, matchesFilter, parseQuery, parseTime, type BrowserFilter, type ParsedQuery } from './filter.js';

export interface IndexedEvent {
  event: AuditEvent;
  /** Event time in ms since the epoch (NaN when the event has no parseable time). */
  timeMs: number;
  /** Arrival order, to keep the sort stable. */
  seq: number;
  /** Approximate size in bytes (length of the record value). */
  bytes: number;
  /** The fields search and aggregates read, taken once on the way in. */
  facts: EventFacts;
}

export interface QueryResult {
  /** Newest first (event time, then arrival). */
  events: AuditEvent[];
  /** Number of indexed events that match (may exceed events.length when limited). */
  matched: number;
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
    const facts = eventFacts(event);
    const entry: IndexedEvent = { event, timeMs: facts.timeMs, seq: this.nextSeq++, bytes, facts };
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

  /** Calls fn for every entry, oldest first (no iterator: the overview walks 100,000 entries per request). */
  forEachEntry(fn: (e: IndexedEvent) => void): void {
    const first = Math.min(this.count, this.maxEvents - this.head);
    for (let i = 0; i < first; i++) fn(this.ring[this.head + i]!);
    for (let i = 0; i < this.count - first; i++) fn(this.ring[i]!);
  }

  /** The matching entries, in arrival order. */
  select(filter: BrowserFilter): IndexedEvent[] {
    const test = compileFilter(filter);
    const hits: IndexedEvent[] = [];
    this.forEachEntry((e) => { if (test(e.facts)) hits.push(e); });
    return hits;
  }

  /** The matching events, newest first, at most `limit` of them. */
  query(filter: BrowserFilter, limit: number): QueryResult {
    const hits = this.select(filter);
    hits.sort(newestFirst);
    return { events: hits.slice(0, Math.max(0, limit)).map((h) => h.event), matched: hits.length };
  }

  /** Every matching event, oldest first (the order an export is written in). */
  matching(filter: BrowserFilter): AuditEvent[] {
    return this.select(filter).sort(newestFirst).reverse().map((h) => h.event);
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

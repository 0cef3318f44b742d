/**
 * The audit browser's search filter: what the page and the HTTP API can ask for, how query parameters are
 * read into it, and a matcher compiled once per query (patterns become regular expressions once, not once per
 * event: a search over 100,000 events must not build 100,000 of them).
 *
 * Patterns (principal, method, resource, resourceType, client, errorCode as a name) are case-insensitive
 * globs: `*` is any run of characters; `\*` is a literal star and `\\` a literal backslash, so a value taken
 * from an event (escapeGlob) matches exactly that value even when a client chose a name with a star in it.
 */
import type { AuditEvent } from '../audit/event.js';
import { eventFacts, type EventFacts } from './facts.js';

/**
 * success / failure as before (failure: any result that is not a success), and one value per outcome class:
 * error (Kafka's FAILURE), denied (UNAUTHORIZED), unauthenticated, unknown, none (no result: lifecycle events).
 */
export type OutcomeFilter = 'success' | 'failure' | 'error' | 'denied' | 'unauthenticated' | 'unknown' | 'none';
export const OUTCOME_FILTERS: readonly OutcomeFilter[] = ['success', 'failure', 'error', 'denied', 'unauthenticated', 'unknown', 'none'];

export interface BrowserFilter {
  principal?: string;
  /** The API, with or without its "kafka." prefix. */
  method?: string;
  /** The resource's name (authorizationInfo.resourceName) or its CRN (data.resourceName). */
  resource?: string;
  /** authorizationInfo.resourceType: Topic, Group, Cluster, TransactionalId, DelegationToken, User, ... */
  resourceType?: string;
  /** The client's address, with or without its port. */
  client?: string;
  outcome?: OutcomeFilter;
  /** A numeric Kafka error code ("36") or an error name ("TOPIC_ALREADY_EXISTS", "*AUTHORIZATION*"). */
  errorCode?: string;
  /** Event time bounds in ms since the epoch, both inclusive. */
  since?: number;
  until?: number;
}

export class FilterError extends Error {
  constructor(message: string) { super(message); this.name = 'FilterError'; }
}

/** The glob that matches exactly `value` (stars and backslashes escaped). */
export function escapeGlob(value: string): string {
  return value.replace(/[\\*]/g, '\\$&');
}

export function globRegExp(pattern: string): RegExp {
  let src = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    const next = pattern[i + 1];
    if (c === '\\' && (next === '*' || next === '\\')) { src += '\\' + next; i++; continue; }
    src += c === '*' ? '[\\s\\S]*' : c.replace(/[.+?^${}()|[\]\\*]/g, '\\$&');
  }
  return new RegExp(`^${src}$`, 'i');
}

type Test = (v: string | undefined) => boolean;

function glob(pattern: string): Test {
  // Most patterns taken from a click have no wildcard: compare strings, no regular expression.
  if (!/[*\\]/.test(pattern)) {
    const lower = pattern.toLowerCase();
    return (v) => v !== undefined && v.toLowerCase() === lower;
  }
  // Values repeat (a few methods, principals and hosts across 100,000 events): each is tested once per query.
  const re = globRegExp(pattern);
  const seen = new Map<string, boolean>();
  return (v) => {
    if (v === undefined) return false;
    let r = seen.get(v);
    if (r === undefined) {
      r = re.test(v);
      if (seen.size < 10_000) seen.set(v, r);
    }
    return r;
  };
}

function outcomeTest(o: OutcomeFilter): (f: EventFacts) => boolean {
  if (o === 'failure') return (f) => f.outcome !== 'success' && f.outcome !== 'none';
  return (f) => f.outcome === o;
}

export type CompiledFilter = (f: EventFacts) => boolean;

/**
 * Compiles a filter into one function over an event's facts. `ignoreTime` leaves since/until out (the
 * attention panel looks at the last hour and day whatever range the search shows).
 */
export function compileFilter(filter: BrowserFilter, opts: { ignoreTime?: boolean } = {}): CompiledFilter {
  const tests: CompiledFilter[] = [];
  const { since, until } = filter;
  // An event without a parseable time is in no time range (the timeline cannot place it either).
  if (!opts.ignoreTime && since !== undefined) tests.push((f) => f.timeMs >= since);
  if (!opts.ignoreTime && until !== undefined) tests.push((f) => f.timeMs <= until);
  if (filter.principal !== undefined) { const t = glob(filter.principal); tests.push((f) => t(f.principal)); }
  if (filter.method !== undefined) {
    const bare = glob(filter.method), prefixed = glob(`kafka.${filter.method}`);
    tests.push((f) => bare(f.methodName) || prefixed(f.methodName));
  }
  if (filter.resource !== undefined) { const t = glob(filter.resource); tests.push((f) => t(f.resourceName) || t(f.crn)); }
  if (filter.resourceType !== undefined) { const t = glob(filter.resourceType); tests.push((f) => t(f.resourceType)); }
  if (filter.client !== undefined) { const t = glob(filter.client); tests.push((f) => t(f.clientHost) || t(f.clientAddress)); }
  if (filter.outcome) tests.push(outcomeTest(filter.outcome));
  if (filter.errorCode !== undefined && filter.errorCode !== '') {
    const code = filter.errorCode;
    if (/^-?\d+$/.test(code)) {
      const n = Number(code);
      tests.push((f) => f.errorCode === n);
    } else {
      const t = glob(code);
      tests.push((f) => t(f.errorName));
    }
  }
  switch (tests.length) {
    case 0: return () => true;
    case 1: return tests[0];
    default: return (f) => { for (const t of tests) if (!t(f)) return false; return true; };
  }
}

/** True when the event passes every filter given (see {@link BrowserFilter}). Compiles the filter: for one-off checks. */
export function matchesFilter(e: AuditEvent, f: BrowserFilter): boolean {
  return compileFilter(f)(eventFacts(e));
}

/** Parses a time given as epoch milliseconds or an ISO-8601 string; throws FilterError naming the parameter. */
export function parseTime(name: string, raw: string): number {
  const v = raw.trim();
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new FilterError(`${name}: must be an ISO-8601 time (2024-05-01T12:00:00Z) or epoch milliseconds (got ${JSON.stringify(raw.slice(0, 64))})`);
  return t;
}

export interface ParsedQuery { filter: BrowserFilter; limit: number; source: 'live' | 'loaded' }

/** Reads a parameter: trimmed, undefined when absent or empty, at most 512 characters. */
export function queryParam(params: URLSearchParams, k: string): string | undefined {
  const v = params.get(k);
  if (v === null) return undefined;
  const t = v.trim();
  if (t.length > 512) throw new FilterError(`${k}: too long (at most 512 characters)`);
  return t === '' ? undefined : t;
}

/** A positive integer parameter, at most `max`; `def` when absent. */
export function intParam(params: URLSearchParams, k: string, def: number, max: number): number {
  const l = queryParam(params, k);
  if (l === undefined) return def;
  if (!/^\d+$/.test(l) || Number(l) < 1) throw new FilterError(`${k}: must be a positive integer (got ${JSON.stringify(l.slice(0, 64))})`);
  return Math.min(Number(l), max);
}

/**
 * Reads the search parameters of an API request: principal, method, resource, resourceType, client, outcome,
 * errorCode, from, to (ISO or epoch ms), limit, source (live | loaded). Empty parameters are ignored.
 */
export function parseQuery(params: URLSearchParams, maxLimit: number, defaultLimit = 500): ParsedQuery {
  const get = (k: string) => queryParam(params, k);
  const filter: BrowserFilter = {};
  for (const k of ['principal', 'method', 'resource', 'resourceType', 'client', 'errorCode'] as const) {
    const v = get(k);
    if (v) filter[k] = v;
  }
  const outcome = get('outcome');
  if (outcome) {
    const o = outcome.toLowerCase() as OutcomeFilter;
    if (!OUTCOME_FILTERS.includes(o)) throw new FilterError(`outcome: must be one of ${OUTCOME_FILTERS.join(', ')} (got ${JSON.stringify(outcome.slice(0, 64))})`);
    filter.outcome = o;
  }
  const from = get('from'); if (from) filter.since = parseTime('from', from);
  const to = get('to'); if (to) filter.until = parseTime('to', to);
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) throw new FilterError('from: must not be after to');
  const limit = intParam(params, 'limit', defaultLimit, Number.MAX_SAFE_INTEGER);
  const src = get('source') ?? 'live';
  if (src !== 'live' && src !== 'loaded') throw new FilterError(`source: must be live or loaded (got ${JSON.stringify(src.slice(0, 64))})`);
  return { filter, limit: Math.min(limit, maxLimit), source: src };
}

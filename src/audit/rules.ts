/**
 * Which operations become audit events, and where they go.
 *
 * Configuration (the `audit.rules` section of the YAML config, already parsed into a plain object):
 *
 *   categories:
 *     authentication: on            # SASL logins, successful and failed
 *     management: on                # create/delete/alter of topics, groups, ACLs, configs, ...
 *     authorize-denied: on          # authorization failures are kept even when their category is off
 *     describe: off                 # metadata/describe requests
 *     produce: off                  # off | on | first-per-connection
 *     consume: off                  # off | on | first-per-connection
 *   excludedPrincipals: [User:kafka]  # never audited; the proxy's own audit producer principal is always added
 *   defaultTopic: confluent-audit-log-events
 *   routes:                         # first match wins; unmatched events go to defaultTopic
 *     - match: { method: "Delete*", resource: "topic=payments-*", category: management }
 *       topic: audit-payments
 *   dedupe: { windowMs: 10000, maxEntries: 10000 }   # omit (or windowMs: 0) to disable
 *
 * Booleans accept true/false and the strings on/off (YAML 1.2 reads `on` as a string).
 *
 * Route matching: `method` is a glob over the Kafka API name ("CreateTopics", "Delete*"); `resource` is a glob
 * over the resource name ("payments-*"), or, when it contains "=", over "<crn-key>=<name>" ("topic=payments-*",
 * "group=billing-*", "kafka=*" for the cluster), so a pattern can be limited to one resource type; `category`
 * is compared exactly. Globs: `*` any run of characters, `?` one character, everything else literal.
 *
 * "first-per-connection" keeps the first produce (or consume) operation of each connection on each resource
 * and drops the repeats, which answers "who wrote/read which topic, from where" at a fraction of the volume.
 * (Per connection *and* resource rather than per connection only: one audit event per connection would hide
 * every topic but the first one the client touched.)
 *
 * Deduplication (see {@link Deduper}): identical operations (same principal, method, resource, result code
 * and client host) inside a window are folded. The first one is emitted at once, so nothing waits on the
 * window; if more arrived, one summary event is emitted when the window ends, carrying data.count (the number
 * of occurrences it stands for, i.e. the repeats after the first), data.firstTime and data.lastTime. So the sum
 * of count over events (1 for events without count) is the exact number of operations. The client *host* is
 * compared, not host:port: a client that reconnects in a loop gets a new source port every time.
 */
import { LRUCache } from 'lru-cache';
import type { AuditCategory, AuditOperation } from './operation.js';
import { crnKey, isAuthorizationFailure } from './event.js';

export type SampleMode = 'off' | 'on' | 'first-per-connection';
const SAMPLE_MODES: readonly SampleMode[] = ['off', 'on', 'first-per-connection'];

const CATEGORIES: readonly AuditCategory[] = ['authentication', 'management', 'describe', 'produce', 'consume', 'lifecycle'];

export interface RouteMatch { method?: string; resource?: string; category?: AuditCategory }
export interface Route { match: RouteMatch; topic: string }

export interface DedupeConfig { windowMs: number; maxEntries: number }

export interface RulesConfig {
  categories: {
    authentication: boolean;
    management: boolean;
    /** YAML key `authorize-denied`. */
    authorizeDenied: boolean;
    describe: boolean;
    produce: SampleMode;
    consume: SampleMode;
  };
  excludedPrincipals: string[];
  routes: Route[];
  defaultTopic: string;
  /** Absent when deduplication is off. */
  dedupe?: DedupeConfig;
}

export const DEFAULT_AUDIT_TOPIC = 'confluent-audit-log-events';

export function defaultRulesConfig(): RulesConfig {
  return {
    categories: { authentication: true, management: true, authorizeDenied: true, describe: false, produce: 'off', consume: 'off' },
    excludedPrincipals: [],
    routes: [],
    defaultTopic: DEFAULT_AUDIT_TOPIC,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}

function fail(path: string, msg: string, got?: unknown): never {
  throw new Error(`${path}: ${msg}` + (arguments.length > 2 ? ` (got ${describe(got)})` : ''));
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(`${path}.${k}`, `unknown key; expected one of ${allowed.join(', ')}`);
  }
}

function mapping(v: unknown, path: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(path, 'must be a mapping', v);
  return v as Record<string, unknown>;
}

function bool(v: unknown, path: string): boolean {
  if (v === true || v === 'on' || v === 'true') return true;
  if (v === false || v === 'off' || v === 'false') return false;
  return fail(path, 'must be on or off (true/false)', v);
}

function sampleMode(v: unknown, path: string): SampleMode {
  if (v === true) return 'on';
  if (v === false) return 'off';
  if (typeof v === 'string' && (SAMPLE_MODES as readonly string[]).includes(v)) return v as SampleMode;
  return fail(path, `must be one of ${SAMPLE_MODES.join(', ')}`, v);
}

function positiveInt(v: unknown, path: string, allowZero = false): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || (!allowZero && v === 0)) {
    fail(path, allowZero ? 'must be an integer >= 0' : 'must be an integer > 0', v);
  }
  return v;
}

/** Kafka's own topic name rule (Topic.validate): 1..249 chars of [a-zA-Z0-9._-], not "." or "..". */
export function validateTopicName(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') fail(path, 'must be a non-empty topic name', v);
  if (v.length > 249) fail(path, `topic name longer than 249 characters (${v.length})`);
  if (v === '.' || v === '..') fail(path, 'topic name cannot be "." or ".."', v);
  if (!/^[a-zA-Z0-9._-]+$/.test(v)) fail(path, 'topic name may only contain letters, digits, ".", "_" and "-"', v);
  return v;
}

function globString(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') fail(path, 'must be a non-empty string (glob: * and ? are wildcards)', v);
  return v;
}

/**
 * Validates and normalizes the `audit.rules` object; missing keys take their defaults. Throws an Error whose
 * message starts with the path of the offending key, e.g.
 * `audit.rules.categories.produce: must be one of off, on, first-per-connection (got "maybe")`.
 */
export function parseRulesConfig(obj: unknown, path = 'audit.rules'): RulesConfig {
  const cfg = defaultRulesConfig();
  if (obj === undefined || obj === null) return cfg;
  const root = mapping(obj, path);
  checkKeys(root, ['categories', 'excludedPrincipals', 'routes', 'defaultTopic', 'dedupe'], path);

  if (root.categories !== undefined && root.categories !== null) {
    const p = `${path}.categories`;
    const c = mapping(root.categories, p);
    checkKeys(c, ['authentication', 'management', 'authorize-denied', 'describe', 'produce', 'consume'], p);
    if (c.authentication !== undefined) cfg.categories.authentication = bool(c.authentication, `${p}.authentication`);
    if (c.management !== undefined) cfg.categories.management = bool(c.management, `${p}.management`);
    if (c['authorize-denied'] !== undefined) cfg.categories.authorizeDenied = bool(c['authorize-denied'], `${p}.authorize-denied`);
    if (c.describe !== undefined) cfg.categories.describe = bool(c.describe, `${p}.describe`);
    if (c.produce !== undefined) cfg.categories.produce = sampleMode(c.produce, `${p}.produce`);
    if (c.consume !== undefined) cfg.categories.consume = sampleMode(c.consume, `${p}.consume`);
  }

  if (root.excludedPrincipals !== undefined && root.excludedPrincipals !== null) {
    const p = `${path}.excludedPrincipals`;
    if (!Array.isArray(root.excludedPrincipals)) fail(p, 'must be a list of principals like "User:alice"', root.excludedPrincipals);
    cfg.excludedPrincipals = root.excludedPrincipals.map((v, i) => {
      if (typeof v !== 'string' || !/^[^:\s]+:.+$/.test(v)) fail(`${p}[${i}]`, 'must be a principal of the form "<Type>:<name>", e.g. "User:alice"', v);
      return v;
    });
  }

  if (root.defaultTopic !== undefined) cfg.defaultTopic = validateTopicName(root.defaultTopic, `${path}.defaultTopic`);

  if (root.routes !== undefined && root.routes !== null) {
    const p = `${path}.routes`;
    if (!Array.isArray(root.routes)) fail(p, 'must be a list of {match, topic}', root.routes);
    cfg.routes = root.routes.map((r, i) => {
      const rp = `${p}[${i}]`;
      const ro = mapping(r, rp);
      checkKeys(ro, ['match', 'topic'], rp);
      const topic = validateTopicName(ro.topic, `${rp}.topic`);
      const mo = mapping(ro.match ?? {}, `${rp}.match`);
      checkKeys(mo, ['method', 'resource', 'category'], `${rp}.match`);
      const match: RouteMatch = {};
      if (mo.method !== undefined) match.method = globString(mo.method, `${rp}.match.method`);
      if (mo.resource !== undefined) match.resource = globString(mo.resource, `${rp}.match.resource`);
      if (mo.category !== undefined) {
        if (typeof mo.category !== 'string' || !(CATEGORIES as readonly string[]).includes(mo.category)) {
          fail(`${rp}.match.category`, `must be one of ${CATEGORIES.join(', ')}`, mo.category);
        }
        match.category = mo.category as AuditCategory;
      }
      return { match, topic };
    });
  }

  if (root.dedupe !== undefined && root.dedupe !== null && root.dedupe !== false) {
    const p = `${path}.dedupe`;
    const d = mapping(root.dedupe, p);
    checkKeys(d, ['windowMs', 'maxEntries'], p);
    const windowMs = positiveInt(d.windowMs ?? 0, `${p}.windowMs`, true);
    const maxEntries = positiveInt(d.maxEntries ?? 10_000, `${p}.maxEntries`);
    if (windowMs > 0) cfg.dedupe = { windowMs, maxEntries };
  }
  return cfg;
}

// ---------------------------------------------------------------------------------------------------------------
// Decisions

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

interface CompiledRoute { method?: RegExp; resource?: RegExp; resourceTyped: boolean; category?: AuditCategory; topic: string }

export interface Decision { keep: boolean; topic: string; reason?: string }

export interface AuditRulesOptions {
  /** Principal of the proxy's own audit producer ("User:audit-proxy"); always excluded to avoid an audit loop. */
  selfPrincipal?: string;
  /** Bound on the connections remembered for first-per-connection sampling (LRU). Default 100000. */
  maxTrackedConnections?: number;
}

/** Reasons returned in Decision.reason when keep is false (also the label values of auditFiltered). */
export type FilterReason = 'excluded_principal' | 'category_off' | 'sampled';

/** Applies a RulesConfig to operations. Stateless except for the first-per-connection memory. */
export class AuditRules {
  readonly config: RulesConfig;
  private readonly excluded: Set<string>;
  private readonly routes: CompiledRoute[];
  /** connectionId -> "category|type|name" keys already seen on that connection. */
  private readonly seen: LRUCache<string, Set<string>>;

  constructor(cfg: RulesConfig, readonly options: AuditRulesOptions = {}) {
    this.config = cfg;
    const opts = options;
    this.excluded = new Set(cfg.excludedPrincipals);
    if (opts.selfPrincipal) this.excluded.add(opts.selfPrincipal);
    this.routes = cfg.routes.map((r) => ({
      method: r.match.method !== undefined ? globToRegExp(r.match.method) : undefined,
      resource: r.match.resource !== undefined ? globToRegExp(r.match.resource) : undefined,
      resourceTyped: r.match.resource?.includes('=') ?? false,
      category: r.match.category,
      topic: r.topic,
    }));
    this.seen = new LRUCache({ max: opts.maxTrackedConnections ?? 100_000 });
  }

  /** Principals that are never audited (configured ones plus the proxy's own). */
  get excludedPrincipals(): string[] { return [...this.excluded]; }

  /** All topics events can be written to: the default topic and every route's topic. */
  topics(): string[] {
    return [...new Set([this.config.defaultTopic, ...this.routes.map((r) => r.topic)])];
  }

  /** The destination topic of an operation (first matching route, else the default topic). */
  route(op: Pick<AuditOperation, 'method' | 'category' | 'resource'>): string {
    for (const r of this.routes) {
      if (r.category !== undefined && r.category !== op.category) continue;
      if (r.method && !r.method.test(op.method)) continue;
      if (r.resource) {
        const key = crnKey(op.resource.type) ?? 'kafka';
        const subject = r.resourceTyped ? `${key}=${op.resource.name}` : op.resource.name;
        if (!r.resource.test(subject)) continue;
      }
      return r.topic;
    }
    return this.config.defaultTopic;
  }

  /**
   * Whether to audit `op` and where. Order: lifecycle events are always kept; excluded principals are never
   * audited (also not their denials, as in Confluent's excluded_principals); authorization failures are kept
   * when authorize-denied is on; then the category switch decides.
   */
  decide(op: AuditOperation): Decision {
    const topic = this.route(op);
    if (op.category === 'lifecycle') return { keep: true, topic };
    const principal = op.connection?.principal;
    if (principal !== undefined && this.excluded.has(principal)) return { keep: false, topic, reason: 'excluded_principal' };
    if (this.config.categories.authorizeDenied && isAuthorizationFailure(op)) return { keep: true, topic };
    const c = this.config.categories;
    switch (op.category) {
      case 'authentication': return c.authentication ? { keep: true, topic } : { keep: false, topic, reason: 'category_off' };
      case 'management': return c.management ? { keep: true, topic } : { keep: false, topic, reason: 'category_off' };
      case 'describe': return c.describe ? { keep: true, topic } : { keep: false, topic, reason: 'category_off' };
      case 'produce':
      case 'consume': {
        const mode = c[op.category];
        if (mode === 'off') return { keep: false, topic, reason: 'category_off' };
        if (mode === 'on') return { keep: true, topic };
        // An offset reset (a commit from outside the group's membership) is never sampled away: a client can send
        // several on one connection, and each moves the group's position.
        if (op.details?.groupMember === false) return { keep: true, topic };
        const conn = op.connection?.connectionId;
        if (conn === undefined) return { keep: true, topic };
        const key = `${op.category}|${op.resource.type}|${op.resource.name}`;
        let set = this.seen.get(conn);
        if (!set) { set = new Set(); this.seen.set(conn, set); }
        if (set.has(key)) return { keep: false, topic, reason: 'sampled' };
        set.add(key);
        return { keep: true, topic };
      }
      default:
        // An unknown category (newer extractor): audit it rather than lose it silently.
        return { keep: true, topic };
    }
  }

  /** Forget a closed connection for first-per-connection sampling (optional; the LRU bounds memory anyway). */
  connectionClosed(connectionId: string): void {
    this.seen.delete(connectionId);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Deduplication

export interface DedupeFold {
  /** Occurrences folded into the summary (the repeats after the first, which was emitted on its own). */
  count: number;
  firstTimeMs: number;
  lastTimeMs: number;
}

interface DedupeEntry { count: number; firstTimeMs: number; lastTimeMs: number; last?: AuditOperation }

function clientHost(address: string | undefined): string {
  if (!address) return '';
  const m = /^\[?(.*?)\]?:\d+$/.exec(address);
  return m ? m[1] : address;
}

/** The identity of an operation for deduplication: principal, method, resource, result code, client host. */
export function dedupeKey(op: AuditOperation): string {
  return JSON.stringify([
    op.connection?.principal ?? null, op.method, op.resource.type, op.resource.name,
    op.result.errorCode ?? null, clientHost(op.connection?.clientAddress),
  ]);
}

/**
 * Folds identical operations inside a fixed window that starts at the first occurrence. `offer` returns true
 * when the operation must be emitted now (first of its window) and false when it was folded; at the end of
 * the window (or when the entry is evicted because maxEntries is reached, or on flush) `onSummary` is called
 * with the last folded operation and the fold, if anything was folded. Memory is bounded by maxEntries.
 */
export class Deduper {
  private readonly cache: LRUCache<string, DedupeEntry>;

  constructor(readonly cfg: DedupeConfig, private readonly onSummary: (op: AuditOperation, fold: DedupeFold) => void) {
    this.cache = new LRUCache<string, DedupeEntry>({
      max: cfg.maxEntries,
      ttl: cfg.windowMs,
      ttlAutopurge: true,
      noUpdateTTL: true,
      dispose: (entry) => {
        if (entry.count > 0 && entry.last) {
          this.onSummary(entry.last, { count: entry.count, firstTimeMs: entry.firstTimeMs, lastTimeMs: entry.lastTimeMs });
        }
      },
    });
  }

  offer(op: AuditOperation): boolean {
    const key = dedupeKey(op);
    const entry = this.cache.get(key);
    if (!entry) {
      this.cache.set(key, { count: 0, firstTimeMs: 0, lastTimeMs: 0 });
      return true;
    }
    if (entry.count === 0) entry.firstTimeMs = op.timeMs;
    entry.count += 1;
    entry.lastTimeMs = op.timeMs;
    entry.last = op;
    return false;
  }

  /** Number of open windows. */
  get size(): number { return this.cache.size; }

  /** Ends every open window now, emitting the pending summaries (on close or rules reload). */
  flush(): void { this.cache.clear(); }
}

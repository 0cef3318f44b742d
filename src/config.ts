/**
 * Proxy configuration: one YAML file, overridden by KAP_* environment variables and then by command-line
 * flags, validated at start with messages that name the bad key and say what is expected.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { isLoopbackAddress } from './browser/auth.js';
import { parseRulesConfig } from './audit/rules.js';
import { validBrokerHostPattern, validHostName } from './proxy/sni.js';

export interface TlsServerConfig { cert: string; key: string; ca?: string; requireClientCert?: boolean }
export interface TlsClientConfig { ca?: string; cert?: string; key?: string; servername?: string; rejectUnauthorized?: boolean }
export interface SaslClientConfig { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string }

export interface ProxyConfig {
  listen: {
    /** Interface the proxy binds: an IP address (0.0.0.0 for all). */
    host: string;
    bootstrapPort: number;
    /** Broker N is served on brokerPortBase + N. */
    brokerPortBase: number;
    /** Host name clients are told to connect to. */
    advertisedHost: string;
    /** What clients speak to the proxy: PLAINTEXT or SASL_PLAINTEXT, SSL or SASL_SSL with tls. Informational for events. */
    securityProtocol: 'PLAINTEXT' | 'SASL_PLAINTEXT' | 'SSL' | 'SASL_SSL';
    tls?: TlsServerConfig;
    /**
     * PROXY protocol (v1 and v2) on the client listeners, for a TCP load balancer in front (src/proxy/proxy-protocol.ts):
     * `required` refuses connections without a valid header, `allowed` takes a header when one comes, `off` (absent)
     * reads none. The address in the header is the client's for events, logs and per-address limits.
     */
    proxyProtocol?: 'required' | 'allowed' | 'off';
    /** How long a new connection may take to send its PROXY header (or, when allowed, its first bytes). */
    proxyProtocolTimeoutMs?: number;
    /**
     * SNI routing (src/proxy/sni.ts): with listen.tls, every client connection arrives on bootstrapPort and the TLS
     * server name picks the target: bootstrapHost, or brokerHostPattern with $(nodeId) for broker N. Absent: one
     * port per broker (brokerPortBase + N).
     */
    sni?: { bootstrapHost: string; brokerHostPattern: string };
  };
  upstream: {
    bootstrapServers: string[];
    tls?: TlsClientConfig;
    connectTimeoutMs: number;
    /** Local address upstream connections are made from (choose the egress interface); default: any. */
    localAddress?: string;
  };
  limits: {
    maxFrameBytes: number;
    maxResponseFrameBytes: number;
    /**
     * Largest request of an audited API the proxy decodes. Decoding costs many times the frame size in memory,
     * so larger audited requests are refused (the connection is closed: they could not be audited); larger
     * Produce/Fetch requests are relayed without an audit operation and counted as dropped.
     */
    maxAuditedRequestBytes: number;
    maxConnections: number;
    maxConnectionsPerAddress: number;
    idleTimeoutMs: number;
    /**
     * How often an idle process checks whether V8 still holds young-generation memory a burst made it take, and
     * gives it back with one minor GC (src/idle-memory.ts). 0 turns it off.
     */
    idleMemoryReturnMs: number;
  };
  admin: { enabled: boolean; host: string; port: number };
  shutdown: { drainTimeoutMs: number };
  audit: AuditConfig;
  /** The audit browser: a page on the admin server to search and follow audit events (src/browser/). */
  browser: BrowserConfig;
  log: { level: string };
  /**
   * Worker processes sharing the listeners (node:cluster, src/workers.ts). 1 = everything in one process.
   * Each worker keeps its own audit spool and chain in <audit.spool.dir>/worker-<n>; the primary serves the
   * admin endpoints with the workers' metrics summed.
   */
  workers: number;
}

export interface BrowserConfig {
  /** Off by default. Needs admin.enabled; needs auth when admin.host is not a loopback address. */
  enabled: boolean;
  /** Most events held in memory (the most recent ones; the oldest are evicted), also per loaded time range. */
  maxEvents: number;
  /** Most bytes of events held in memory, per index. */
  maxBytes: number;
  /** Required when the admin server is reachable from other hosts. Never logged or shown. */
  auth?: { token?: string; basicAuth?: { username: string; password: string } };
}

export interface AuditConfig {
  enabled: boolean;
  topic: string;
  partitions: number;
  replicationFactor: number;
  retentionMs: number;
  /** The audit cluster; defaults to the proxied cluster's bootstrap servers. */
  brokers?: string[];
  sasl?: SaslClientConfig;
  tls?: TlsClientConfig;
  clientId: string;
  /** Cluster id used in event CRNs; discovered from the audit cluster when not set. */
  clusterId?: string;
  failMode: 'open' | 'closed';
  /**
   * Which audited requests have their operations written to the local journal (fsync per the spool policy)
   * before they are forwarded: every audited API but Produce/Fetch ('management'), all of them, or none.
   */
  writeAhead: 'management' | 'all' | 'off';
  /** A connection whose principal the proxy cannot tell: audit it as User:UNKNOWN ('record') or refuse its audited requests. */
  unknownPrincipal: 'record' | 'refuse';
  /** Where events go: the audit topic(s) on Kafka, or JSON lines appended to `filePath`. */
  sink: 'kafka' | 'file';
  /** The file of `sink: file`. */
  filePath: string;
  spool: { dir: string; fsync: 'always' | 'never' | number; maxBytes: number };
  batch: { maxEvents: number; lingerMs: number };
  /** How often an idle audit sink checks that its destination still takes writes (kafka_audit_sink_up). */
  healthCheckIntervalMs: number;
  /** Raw rules section, validated by src/audit/rules.ts. */
  rules: unknown;
  /** Signed checkpoints of the hash chains (src/audit/checkpoint*.ts); on when a private key is given. */
  checkpoint: AuditCheckpointConfig;
}

export interface AuditCheckpointConfig {
  /** Ed25519 private key in PEM (PKCS#8), as a file path. */
  privateKeyFile?: string;
  /** The same key as PEM text (KAP_AUDIT_CHECKPOINT__PRIVATE_KEY). Never logged or shown. */
  privateKey?: string;
  /** Sign a chain after this many new events... */
  everyEvents: number;
  /** ...or this long after its first event not yet covered, whichever comes first. */
  intervalMs: number;
  /** With no new events, sign again (same position, new time) this often, so verify can tell idle from cut off. */
  idleIntervalMs: number;
  /** A second topic that gets a copy of every checkpoint. */
  topic?: string;
}

export const DEFAULTS: ProxyConfig = {
  listen: { host: '0.0.0.0', bootstrapPort: 9192, brokerPortBase: 9200, advertisedHost: '127.0.0.1', securityProtocol: 'PLAINTEXT' },
  upstream: { bootstrapServers: ['127.0.0.1:9092'], connectTimeoutMs: 10_000 },
  limits: {
    maxFrameBytes: 100 * 1024 * 1024, maxResponseFrameBytes: 100 * 1024 * 1024, maxAuditedRequestBytes: 1024 * 1024,
    maxConnections: 20_000, maxConnectionsPerAddress: 2_000, idleTimeoutMs: 10 * 60_000,
    idleMemoryReturnMs: 5_000,
  },
  admin: { enabled: true, host: '127.0.0.1', port: 9099 },
  shutdown: { drainTimeoutMs: 15_000 },
  audit: {
    enabled: true, topic: 'confluent-audit-log-events', partitions: 3, replicationFactor: -1, retentionMs: 90 * 24 * 3600_000,
    clientId: 'kafka-audit-proxy', failMode: 'open', writeAhead: 'management', unknownPrincipal: 'record',
    sink: 'kafka', filePath: './audit-events.jsonl',
    spool: { dir: './audit-spool', fsync: 'always', maxBytes: 1024 * 1024 * 1024 },
    batch: { maxEvents: 500, lingerMs: 20 },
    healthCheckIntervalMs: 15_000,
    rules: {},
    checkpoint: { everyEvents: 1000, intervalMs: 5_000, idleIntervalMs: 60_000 },
  },
  browser: { enabled: false, maxEvents: 10_000, maxBytes: 64 * 1024 * 1024 },
  log: { level: 'info' },
  workers: 1,
};

export class ConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'ConfigError'; }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Deep-merges `over` onto `base`, rejecting keys that `base` does not have (typos fail loudly). Inside open
 * sections any key is accepted, but mappings are still merged key by key, so KAP_AUDIT_SASL__PASSWORD from the
 * environment completes the audit.sasl of the file instead of replacing it.
 */
function merge(base: unknown, over: unknown, path: string, open: Set<string>): unknown {
  if (over === undefined) return base;
  if (!isObj(base) || !isObj(over)) return over;
  const inOpen = [...open].some((o) => path === o || path.startsWith(o + '.'));
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const p = path ? `${path}.${k}` : k;
    if (!(k in base) && !OPTIONAL_KEYS.has(p) && !inOpen) {
      throw new ConfigError(`${p}: unknown setting (known here: ${Object.keys(base).join(', ')})`);
    }
    out[k] = merge(base[k], v, p, open);
  }
  return out;
}

/** Keys that have no default but may be set. */
const OPTIONAL_KEYS = new Set(['listen.tls', 'listen.proxyProtocol', 'listen.proxyProtocolTimeoutMs', 'listen.sni', 'upstream.tls', 'upstream.localAddress', 'audit.brokers', 'audit.sasl', 'audit.tls', 'audit.clusterId', 'browser.auth',
  'audit.checkpoint.privateKeyFile', 'audit.checkpoint.privateKey', 'audit.checkpoint.topic']);
/** Sections whose content is validated elsewhere. */
const OPEN_SECTIONS = new Set(['audit.rules', 'listen.tls', 'listen.sni', 'upstream.tls', 'audit.sasl', 'audit.tls', 'browser.auth']);

function check(cond: boolean, key: string, expected: string, got: unknown): void {
  if (!cond) throw new ConfigError(`${key}: must be ${expected} (got ${JSON.stringify(got)})`);
}
const isPort = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535;
const isPosInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
const isHostPort = (v: unknown) => typeof v === 'string' && /^[^\s:]+:\d{1,5}$/.test(v);

export function validate(c: ProxyConfig): ProxyConfig {
  check(typeof c.listen.host === 'string' && /^[\d.]+$|:/.test(c.listen.host), 'listen.host', 'an IP address such as 0.0.0.0 or 127.0.0.1', c.listen.host);
  check(isPort(c.listen.bootstrapPort), 'listen.bootstrapPort', 'a port number 0-65535', c.listen.bootstrapPort);
  check(isPort(c.listen.brokerPortBase), 'listen.brokerPortBase', 'a port number 0-65535', c.listen.brokerPortBase);
  check(typeof c.listen.advertisedHost === 'string' && c.listen.advertisedHost.length > 0, 'listen.advertisedHost', 'a host name', c.listen.advertisedHost);
  check(['PLAINTEXT', 'SASL_PLAINTEXT', 'SSL', 'SASL_SSL'].includes(c.listen.securityProtocol), 'listen.securityProtocol', 'PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL', c.listen.securityProtocol);
  if (c.listen.proxyProtocol !== undefined) {
    check(['required', 'allowed', 'off'].includes(c.listen.proxyProtocol), 'listen.proxyProtocol', 'required, allowed or off', c.listen.proxyProtocol);
  }
  if (c.listen.proxyProtocolTimeoutMs !== undefined) {
    check(isPosInt(c.listen.proxyProtocolTimeoutMs), 'listen.proxyProtocolTimeoutMs', 'a positive integer (milliseconds)', c.listen.proxyProtocolTimeoutMs);
  }
  if (c.listen.sni !== undefined) validateSni(c);
  if (c.listen.tls) {
    check(typeof c.listen.tls.cert === 'string' && typeof c.listen.tls.key === 'string', 'listen.tls', 'an object with cert and key file paths', '(object)');
  }
  check(Array.isArray(c.upstream.bootstrapServers) && c.upstream.bootstrapServers.length > 0 && c.upstream.bootstrapServers.every(isHostPort),
    'upstream.bootstrapServers', 'a non-empty list of "host:port"', c.upstream.bootstrapServers);
  for (const k of ['maxFrameBytes', 'maxResponseFrameBytes', 'maxAuditedRequestBytes', 'maxConnections', 'maxConnectionsPerAddress', 'idleTimeoutMs'] as const) {
    check(isPosInt(c.limits[k]), `limits.${k}`, 'a positive integer', c.limits[k]);
  }
  check(isNonNegInt(c.limits.idleMemoryReturnMs), 'limits.idleMemoryReturnMs', 'an integer >= 0 (milliseconds; 0 turns it off)', c.limits.idleMemoryReturnMs);
  check(isPort(c.admin.port), 'admin.port', 'a port number 0-65535', c.admin.port);
  check(['open', 'closed'].includes(c.audit.failMode), 'audit.failMode', 'open or closed', c.audit.failMode);
  check(['management', 'all', 'off'].includes(c.audit.writeAhead), 'audit.writeAhead', 'management, all or off', c.audit.writeAhead);
  check(['record', 'refuse'].includes(c.audit.unknownPrincipal), 'audit.unknownPrincipal', 'record or refuse', c.audit.unknownPrincipal);
  check(['kafka', 'file'].includes(c.audit.sink), 'audit.sink', 'kafka or file', c.audit.sink);
  check(isNonEmptyString(c.audit.filePath), 'audit.filePath', 'a file path', c.audit.filePath);
  check(typeof c.audit.topic === 'string' && /^[a-zA-Z0-9._-]{1,249}$/.test(c.audit.topic), 'audit.topic', 'a valid Kafka topic name', c.audit.topic);
  check(isPosInt(c.audit.partitions), 'audit.partitions', 'a positive integer', c.audit.partitions);
  check(c.audit.spool.fsync === 'always' || c.audit.spool.fsync === 'never' || isPosInt(c.audit.spool.fsync),
    'audit.spool.fsync', '"always", "never" or an interval in milliseconds', c.audit.spool.fsync);
  check(isPosInt(c.audit.spool.maxBytes), 'audit.spool.maxBytes', 'a positive integer', c.audit.spool.maxBytes);
  if (c.audit.brokers) check(Array.isArray(c.audit.brokers) && c.audit.brokers.every(isHostPort), 'audit.brokers', 'a list of "host:port"', c.audit.brokers);
  if (c.audit.sasl) {
    check(['plain', 'scram-sha-256', 'scram-sha-512'].includes(c.audit.sasl.mechanism), 'audit.sasl.mechanism', 'plain, scram-sha-256 or scram-sha-512', c.audit.sasl.mechanism);
    check(typeof c.audit.sasl.username === 'string' && typeof c.audit.sasl.password === 'string', 'audit.sasl', 'an object with username and password', '(redacted)');
  }
  validateTypes(c);
  validateCheckpoint(c.audit.checkpoint);
  // The rules section is validated by its own parser; its messages name the key (audit.rules.categories.produce: ...).
  try { parseRulesConfig(c.audit.rules); } catch (e) { throw new ConfigError((e as Error).message); }
  validateBrowser(c);
  check(Number.isInteger(c.workers) && c.workers >= 1 && c.workers <= 256, 'workers', 'an integer from 1 to 256', c.workers);
  check(typeof c.log.level === 'string' && ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(c.log.level), 'log.level', 'one of fatal, error, warn, info, debug, trace, silent', c.log.level);
  return c;
}

const isNonNegInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;

/** audit.checkpoint; the key itself is checked when the proxy loads it (its content is never echoed). */
function validateCheckpoint(k: AuditCheckpointConfig): void {
  check(isPosInt(k.everyEvents), 'audit.checkpoint.everyEvents', 'a positive integer', k.everyEvents);
  check(isPosInt(k.intervalMs) && k.intervalMs >= 100, 'audit.checkpoint.intervalMs', 'an integer >= 100 (milliseconds)', k.intervalMs);
  check(isPosInt(k.idleIntervalMs) && k.idleIntervalMs >= k.intervalMs, 'audit.checkpoint.idleIntervalMs', 'an integer (milliseconds) >= audit.checkpoint.intervalMs', k.idleIntervalMs);
  if (k.privateKeyFile !== undefined) check(isNonEmptyString(k.privateKeyFile), 'audit.checkpoint.privateKeyFile', 'a file path', k.privateKeyFile);
  if (k.privateKey !== undefined) check(typeof k.privateKey === 'string' && k.privateKey.includes('PRIVATE KEY'), 'audit.checkpoint.privateKey', 'an Ed25519 private key in PEM', '(redacted)');
  if (k.topic !== undefined) check(typeof k.topic === 'string' && /^[a-zA-Z0-9._-]{1,249}$/.test(k.topic), 'audit.checkpoint.topic', 'a valid Kafka topic name', k.topic);
}
const isNonEmptyString = (v: unknown) => typeof v === 'string' && v.length > 0;

/** The settings the checks above leave out: every one gets its type checked, so a typo in a value fails at start. */
function validateTypes(c: ProxyConfig): void {
  check(isPosInt(c.upstream.connectTimeoutMs), 'upstream.connectTimeoutMs', 'a positive integer (milliseconds)', c.upstream.connectTimeoutMs);
  if (c.upstream.localAddress !== undefined) check(typeof c.upstream.localAddress === 'string' && /^[\d.]+$|:/.test(c.upstream.localAddress), 'upstream.localAddress', 'an IP address of this host', c.upstream.localAddress);
  check(typeof c.admin.enabled === 'boolean', 'admin.enabled', 'true or false', c.admin.enabled);
  check(isNonEmptyString(c.admin.host), 'admin.host', 'an IP address or host name to bind, such as 127.0.0.1', c.admin.host);
  check(isNonNegInt(c.shutdown.drainTimeoutMs), 'shutdown.drainTimeoutMs', 'an integer >= 0 (milliseconds)', c.shutdown.drainTimeoutMs);
  const a = c.audit;
  check(typeof a.enabled === 'boolean', 'audit.enabled', 'true or false', a.enabled);
  check(a.replicationFactor === -1 || isPosInt(a.replicationFactor), 'audit.replicationFactor', 'a positive integer, or -1 for the broker default', a.replicationFactor);
  check(a.retentionMs === -1 || isPosInt(a.retentionMs), 'audit.retentionMs', 'a positive integer (milliseconds), or -1 to keep events forever', a.retentionMs);
  check(isNonEmptyString(a.clientId), 'audit.clientId', 'a non-empty string', a.clientId);
  if (a.clusterId !== undefined) check(isNonEmptyString(a.clusterId), 'audit.clusterId', 'a non-empty string (the Kafka cluster id)', a.clusterId);
  check(isNonEmptyString(a.spool.dir), 'audit.spool.dir', 'a directory path', a.spool.dir);
  check(isPosInt(a.batch.maxEvents), 'audit.batch.maxEvents', 'a positive integer', a.batch.maxEvents);
  check(isNonNegInt(a.batch.lingerMs), 'audit.batch.lingerMs', 'an integer >= 0 (milliseconds)', a.batch.lingerMs);
  check(isPosInt(a.healthCheckIntervalMs) && a.healthCheckIntervalMs >= 100, 'audit.healthCheckIntervalMs', 'an integer >= 100 (milliseconds)', a.healthCheckIntervalMs);
  if (c.listen.tls !== undefined) checkTls(c.listen.tls, 'listen.tls', ['cert', 'key', 'ca'], ['requireClientCert']);
  if (c.upstream.tls !== undefined) checkTls(c.upstream.tls, 'upstream.tls', ['ca', 'cert', 'key', 'servername'], ['rejectUnauthorized']);
  if (a.tls !== undefined) checkTls(a.tls, 'audit.tls', ['ca', 'cert', 'key', 'servername'], ['rejectUnauthorized']);
}

/** listen.sni: both names, valid host names, the pattern with one $(nodeId), and TLS to carry the names. */
function validateSni(c: ProxyConfig): void {
  const sni = c.listen.sni as unknown;
  check(isObj(sni), 'listen.sni', 'a mapping with bootstrapHost and brokerHostPattern', sni);
  for (const k of Object.keys(sni as Obj)) {
    if (k !== 'bootstrapHost' && k !== 'brokerHostPattern') throw new ConfigError(`listen.sni.${k}: unknown setting (known here: bootstrapHost, brokerHostPattern)`);
  }
  const { bootstrapHost, brokerHostPattern } = sni as Obj;
  check(typeof bootstrapHost === 'string' && validHostName(bootstrapHost), 'listen.sni.bootstrapHost', 'a DNS name such as bootstrap.kafka.example.com', bootstrapHost);
  check(typeof brokerHostPattern === 'string' && validBrokerHostPattern(brokerHostPattern), 'listen.sni.brokerHostPattern',
    'a DNS name with $(nodeId) once, such as broker-$(nodeId).kafka.example.com', brokerHostPattern);
  if (!c.listen.tls) throw new ConfigError('listen.sni: needs listen.tls (the server name travels in the TLS handshake); set listen.tls.cert and listen.tls.key, with a certificate for the bootstrap name and every broker name (e.g. a wildcard)');
}

function checkTls(t: unknown, path: string, strings: string[], booleans: string[]): void {
  check(isObj(t), path, 'a mapping of TLS settings', t);
  for (const [k, v] of Object.entries(t as Obj)) {
    if (strings.includes(k)) check(isNonEmptyString(v), `${path}.${k}`, k === 'servername' ? 'a host name' : 'a file path (PEM)', v);
    else if (booleans.includes(k)) check(typeof v === 'boolean', `${path}.${k}`, 'true or false', v);
    else throw new ConfigError(`${path}.${k}: unknown setting (known here: ${[...strings, ...booleans].join(', ')})`);
  }
}

/** The browser section; secrets are never part of a message (shown as "(redacted)"). */
function validateBrowser(c: ProxyConfig): void {
  const b = c.browser as BrowserConfig | undefined;
  if (b === undefined) return; // a hand-built ProxyConfig without the section: the browser stays off
  check(typeof b.enabled === 'boolean', 'browser.enabled', 'true or false', b.enabled);
  check(isPosInt(b.maxEvents), 'browser.maxEvents', 'a positive integer', b.maxEvents);
  check(isPosInt(b.maxBytes), 'browser.maxBytes', 'a positive integer', b.maxBytes);
  const a = b.auth;
  if (a !== undefined && a !== null) {
    check(isObj(a), 'browser.auth', 'an object with token and/or basicAuth', '(redacted)');
    for (const k of Object.keys(a)) check(k === 'token' || k === 'basicAuth', `browser.auth.${k}`, 'a known setting (token, basicAuth)', '(redacted)');
    if (a.token !== undefined) check(typeof a.token === 'string' && a.token.length >= 16, 'browser.auth.token', 'a string of at least 16 characters', '(redacted)');
    if (a.basicAuth !== undefined) {
      const u = a.basicAuth as unknown;
      check(isObj(u) && typeof u.username === 'string' && u.username.length > 0 && !u.username.includes(':') && typeof u.password === 'string' && u.password.length >= 8,
        'browser.auth.basicAuth', 'an object with username (no ":") and password (at least 8 characters)', '(redacted)');
    }
  }
  if (!b.enabled) return;
  check(c.admin.enabled, 'browser.enabled', 'false unless admin.enabled is true (the browser is served by the admin HTTP server)', b.enabled);
  check(c.audit?.sink !== 'file', 'browser.enabled', 'false with audit.sink: file (the browser reads the audit topic on Kafka)', b.enabled);
  if (!isLoopbackAddress(c.admin.host) && !(a && (a.token || a.basicAuth))) {
    throw new ConfigError(`browser.auth: must set token or basicAuth when browser.enabled is true and admin.host (${JSON.stringify(c.admin.host)}) is not a loopback address`);
  }
}

/** Environment overrides: KAP_<SECTION>_<KEY> in upper snake case, e.g. KAP_LISTEN_BOOTSTRAP_PORT=9192. */
export function envOverrides(env: NodeJS.ProcessEnv): Obj {
  const out: Obj = {};
  const sections = DEFAULTS as unknown as Obj;
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('KAP_') || raw === undefined) continue;
    const rest = name.slice(4).toLowerCase();
    if (rest in sections && !isObj(sections[rest])) { out[rest] = coerce(raw); continue; } // top-level setting, e.g. KAP_WORKERS=4
    const section = Object.keys(sections).find((s) => rest.startsWith(s + '_'));
    if (!section) throw new ConfigError(`${name}: unknown environment override (expected KAP_<section>_<key>, sections: ${Object.keys(sections).join(', ')})`);
    const keyPath = rest.slice(section.length + 1).split('__').map((p) => p.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase()));
    setPath(out, [section, ...keyPath], coerceFor([section, ...keyPath], raw));
  }
  return out;
}

/** Settings that are lists of "host:port": one server or a comma-separated list. */
const LIST_KEYS = new Set(['upstream.bootstrapServers', 'audit.brokers']);
/** Settings without a default that are strings whatever they look like (a password may be all digits). */
const STRING_KEYS = new Set(['listen.proxyProtocol', 'listen.sni.bootstrapHost', 'listen.sni.brokerHostPattern', 'audit.sasl.username', 'audit.sasl.password', 'audit.sasl.mechanism', 'audit.clusterId', 'upstream.localAddress',
  'audit.checkpoint.privateKeyFile', 'audit.checkpoint.privateKey', 'audit.checkpoint.topic']);

/** Converts an environment value to the type of the setting it overrides (see coerce for the others). */
function coerceFor(path: string[], raw: string): unknown {
  const key = path.join('.');
  if (LIST_KEYS.has(key)) return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (STRING_KEYS.has(key) || /^(listen|upstream|audit)\.tls\.(ca|cert|key|servername)$/.test(key)) return raw;
  let def: unknown = DEFAULTS;
  for (const p of path) def = isObj(def) ? def[p] : undefined;
  // String settings stay strings ("2024" is a fine topic name), except fsync, which is "always", "never" or a number.
  if (typeof def === 'string' && key !== 'audit.spool.fsync') return raw;
  return coerce(raw);
}

function coerce(raw: string): unknown {
  if (/^-?\d+$/.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (raw.includes(',') && raw.split(',').every(isHostPort)) return raw.split(',');
  return raw;
}

export function setPath(obj: Obj, path: string[], value: unknown): void {
  let o = obj;
  for (const p of path.slice(0, -1)) { if (!isObj(o[p])) o[p] = {}; o = o[p] as Obj; }
  o[path[path.length - 1]] = value;
}

/** Loads and validates the configuration: defaults ← YAML file ← environment ← flag overrides. */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; overrides?: Obj } = {}): ProxyConfig {
  let fileObj: unknown = {};
  if (opts.file) {
    let text: string;
    try { text = readFileSync(opts.file, 'utf8'); } catch (e) {
      throw new ConfigError(`config file ${opts.file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    try { fileObj = parseYaml(text) ?? {}; } catch (e) {
      throw new ConfigError(`config file ${opts.file}: not valid YAML (${(e as Error).message.split('\n')[0]})`);
    }
    if (!isObj(fileObj)) throw new ConfigError(`config file ${opts.file}: must be a YAML mapping of sections (listen, upstream, audit, ...)`);
  }
  let c = merge(DEFAULTS, fileObj, '', OPEN_SECTIONS);
  c = merge(c, envOverrides(opts.env ?? {}), '', OPEN_SECTIONS);
  c = merge(c, opts.overrides ?? {}, '', OPEN_SECTIONS);
  return validate(structuredClone(c) as ProxyConfig);
}

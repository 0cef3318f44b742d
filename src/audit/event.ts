/**
 * Turns one AuditOperation into a CloudEvents 1.0 event in structured JSON mode, shaped like the Confluent
 * "Kafka-style" audit log payload so that tools written for Confluent audit logs can read it.
 *
 * Field choices (names follow the Confluent format; see docs in the repository for the reasoning):
 * - `source` is the CRN of the audited cluster, `subject` and `data.resourceName` the CRN of the resource.
 * - `type` is io.confluent.kafka.server/{authentication,authorization,request}; proxy lifecycle events use
 *   {@link LIFECYCLE_TYPE}.
 * - `authorizationInfo.granted` is inferred from the broker's response: the proxy does not see the broker's
 *   authorizer, only whether the broker answered with an authorization error.
 * - Nothing secret is ever copied: `details` goes through {@link sanitizeDetails}, which drops keys that look
 *   like credentials (password, secret, token, ...), wherever they are nested.
 */
import { randomUUID } from 'node:crypto';
import type { AuditCategory, AuditOperation, ResourceType } from './operation.js';
import { log } from '../log.js';

export const TYPE_AUTHENTICATION = 'io.confluent.kafka.server/authentication';
export const TYPE_AUTHORIZATION = 'io.confluent.kafka.server/authorization';
export const TYPE_REQUEST = 'io.confluent.kafka.server/request';
/**
 * Type of the proxy's own lifecycle events (started, stopped, config reloaded, upstream unreachable, audit sink
 * degraded/recovered).
 *
 * Why not io.confluent.kafka.server/request: that namespace belongs to Confluent and its types describe a client
 * acting on a Kafka resource. A proxy restart or a spool fallback is no client request; filing it under the
 * request type would make SIEM rules that count or alert on Kafka requests see events that are not requests,
 * and would claim a Confluent type for something Confluent never defined. CloudEvents asks for a reverse-DNS
 * prefixed type owned by the producer, so lifecycle events get a type of their own that such consumers ignore
 * unless they ask for it.
 */
export const LIFECYCLE_TYPE = 'io.kafkaauditproxy/lifecycle';

export type AuditEventType = typeof TYPE_AUTHENTICATION | typeof TYPE_AUTHORIZATION | typeof TYPE_REQUEST | typeof LIFECYCLE_TYPE;

export type ResultStatus = 'SUCCESS' | 'FAILURE' | 'UNAUTHENTICATED' | 'UNAUTHORIZED' | 'UNKNOWN';

export interface AuditEventData {
  serviceName: string;
  methodName: string;
  resourceName: string;
  authenticationInfo?: {
    principal: string;
    /** Present (true) only when the principal was read from an unverified credential (OAUTHBEARER claim). */
    principalClaimed?: boolean;
    metadata?: { mechanism: string; identifier?: string };
  };
  authorizationInfo?: {
    /** Absent when the operation got no response (status UNKNOWN): the proxy cannot tell. */
    granted?: boolean;
    operation: string;
    resourceType: string;
    resourceName: string;
    patternType?: string;
  };
  request?: { correlation_id: string; client_id: string | null };
  requestMetadata?: { client_address: string };
  result?: { status: ResultStatus; message: string; errorCode?: number; errorName?: string };
  clientInfo?: { softwareName?: string; softwareVersion?: string };
  details?: Record<string, unknown>;
  /** Lifecycle events only: which lifecycle step. */
  lifecycle?: LifecycleKind;
  /** Deduplicated summary events only: how many occurrences this event stands for, and their time span. */
  count?: number;
  firstTime?: string;
  lastTime?: string;
}

/** A CloudEvents 1.0 event in structured JSON mode, plus this project's chain extension attributes. */
export interface AuditEvent {
  specversion: '1.0';
  id: string;
  source: string;
  subject: string;
  type: AuditEventType | string;
  datacontenttype: 'application/json';
  time: string;
  data: AuditEventData;
  /** Chain extensions, set by AuditChain.seal (see chain.ts). */
  auditinstance?: string;
  auditstream?: string;
  auditseq?: number;
  auditprevhash?: string;
  audithash?: string;
}

export interface EventContext {
  clusterId: string;
  /** CRN authority, e.g. "confluent.cloud" or "mds.example.com"; empty by default ("crn:///kafka=<id>"). */
  crnAuthority?: string;
}

/** CRN of the audited cluster: crn://<authority>/kafka=<clusterId>. */
export function clusterCrn(ctx: EventContext): string {
  return `crn://${ctx.crnAuthority ?? ''}/kafka=${crnEscape(ctx.clusterId)}`;
}

const CRN_KEYS: Record<ResourceType, string | null> = {
  Cluster: null,
  Topic: 'topic',
  Group: 'group',
  TransactionalId: 'transactional-id',
  DelegationToken: 'delegation-token',
  User: 'user',
  Acl: 'acl',
  ClientQuota: 'client-quota',
  Broker: 'broker',
};

/** The CRN path element name for a resource type ("topic", "group", ...); null for the cluster itself. */
export function crnKey(type: ResourceType): string | null {
  const k = CRN_KEYS[type];
  return k === undefined ? type.toLowerCase() : k;
}

/**
 * Escapes the characters that would change a CRN's structure ("/" separates elements, "=" separates type and
 * name) and "%" itself, plus whitespace and control characters. Topic names cannot contain any of these, but
 * group ids, transactional ids and user names can.
 */
export function crnEscape(name: string): string {
  return name.replace(/[%/=\s\u0000-\u001f\u007f]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/** CRN of a resource; the cluster CRN for Cluster resources. */
export function resourceCrn(ctx: EventContext, resource: { type: ResourceType; name: string }): string {
  const key = crnKey(resource.type);
  const base = clusterCrn(ctx);
  return key === null ? base : `${base}/${key}=${crnEscape(resource.name)}`;
}

/**
 * Error names that mean "denied because of who you are or how you connected" besides the *_AUTHORIZATION_FAILED
 * family: SASL failures seen on a non-authentication request (for example after a failed re-authentication) and
 * the delegation-token denials that depend on the SASL channel or the token's owner.
 */
const SASL_DENIALS = new Set([
  'SASL_AUTHENTICATION_FAILED', 'ILLEGAL_SASL_STATE', 'UNSUPPORTED_SASL_MECHANISM',
  'DELEGATION_TOKEN_REQUEST_NOT_ALLOWED', 'DELEGATION_TOKEN_OWNER_MISMATCH',
]);

/** True when the operation's result is an authorization denial (see the `type` rule of {@link buildAuditEvent}). */
export function isAuthorizationFailure(op: Pick<AuditOperation, 'category' | 'result'>): boolean {
  if (op.category === 'authentication') return false;
  const name = op.result.errorName;
  if (!name || op.result.errorCode === 0) return false;
  return name.endsWith('_AUTHORIZATION_FAILED') || SASL_DENIALS.has(name);
}

export function eventTypeFor(op: Pick<AuditOperation, 'category' | 'result'>): AuditEventType {
  if (op.category === 'lifecycle') return LIFECYCLE_TYPE;
  if (op.category === 'authentication') return TYPE_AUTHENTICATION;
  if (isAuthorizationFailure(op)) return TYPE_AUTHORIZATION;
  return TYPE_REQUEST;
}

export function resultStatus(op: Pick<AuditOperation, 'category' | 'result'>): ResultStatus {
  const code = op.result.errorCode;
  if (code === undefined) return 'UNKNOWN';
  if (code === 0) return 'SUCCESS';
  if (op.category === 'authentication') return 'UNAUTHENTICATED';
  if (isAuthorizationFailure(op)) return 'UNAUTHORIZED';
  return 'FAILURE';
}

/**
 * Key names that must never reach an audit event, whatever the nesting. Matched case-insensitively against
 * the key with "_" and "-" removed, as a substring, so "saslPassword", "client_secret", "accessToken",
 * "sasl.jaas.config" and "authBytes" are all caught.
 */
const SECRET_KEY = /^pass$|passwd|password|passphrase|secret|token|credential|authbytes|saslauth|privatekey|jaas|hmac|^key$/i;

/** Delegation-token fields that are identifiers, not secrets; kept although they contain "token". */
const NON_SECRET_TOKEN_KEYS = new Set(['tokenid', 'delegationtokenid']);

export function isSecretKey(key: string): boolean {
  const k = key.replace(/[-_.]/g, '').toLowerCase();
  if (NON_SECRET_TOKEN_KEYS.has(k)) return false;
  return SECRET_KEY.test(k);
}

/**
 * Returns a deep copy of `details` without any key that looks secret ({@link isSecretKey}); the removed key
 * paths (never their values) are returned so the caller can log them. Non-JSON values (functions, symbols,
 * bigint, Buffers) are dropped or converted so the event stays plain JSON.
 */
export function sanitizeDetails(details: Record<string, unknown>): { clean: Record<string, unknown>; removed: string[] } {
  const removed: string[] = [];
  const seen = new WeakSet<object>();
  const walk = (v: unknown, path: string): unknown => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
    if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
    if (typeof v === 'bigint') return v.toString();
    if (typeof v !== 'object') return undefined;
    if (seen.has(v)) return '[circular]';
    seen.add(v);
    if (Buffer.isBuffer(v) || v instanceof Uint8Array) { removed.push(path + ' (binary)'); return undefined; }
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`) ?? null);
    const out: Record<string, unknown> = {};
    const obj = v as Record<string, unknown>;
    // A config entry {name: "ssl.keystore.password", value: "..."}: keep that the entry was there, drop its value.
    const secretEntry = typeof obj.name === 'string' && isSecretKey(obj.name);
    for (const [k, x] of Object.entries(obj)) {
      const p = path ? `${path}.${k}` : k;
      // A value the extractor already redacted keeps its key, so the event still says which setting changed.
      if (isSecretKey(k)) { if (x === '[REDACTED]') out[k] = x; else removed.push(p); continue; }
      if (secretEntry && k === 'value') { removed.push(p); out.valueRedacted = true; continue; }
      const w = walk(x, p);
      if (w !== undefined) out[k] = w;
    }
    return out;
  };
  return { clean: walk(details, '') as Record<string, unknown>, removed };
}

function cleanDetails(details: Record<string, unknown> | undefined, method: string): Record<string, unknown> | undefined {
  if (!details) return undefined;
  const { clean, removed } = sanitizeDetails(details);
  if (removed.length > 0) {
    // The extractor should never hand over secrets; if it does, this is a bug worth seeing (keys only, no values).
    log.warn({ component: 'audit-event', method, removedKeys: removed }, 'secret-looking keys removed from audit event details');
  }
  return Object.keys(clean).length > 0 ? clean : undefined;
}

/** User name for the `identifier` of an authentication event: details.username if given, else the principal's name. */
function authIdentifier(op: AuditOperation): string | undefined {
  const d = op.details;
  for (const k of ['username', 'identifier', 'user']) {
    const v = d?.[k];
    if (typeof v === 'string' && v !== '') return v;
  }
  const p = op.connection?.principal;
  if (!p) return undefined;
  const i = p.indexOf(':');
  return i >= 0 ? p.slice(i + 1) : p;
}

function methodNameFor(op: AuditOperation): string {
  if (op.category === 'authentication') return 'kafka.Authentication';
  if (op.category === 'lifecycle') return `proxy.${op.method}`;
  return `kafka.${op.method}`;
}

/** Builds the CloudEvent for one operation. Pure apart from the random id; `time` is the operation's start. */
export function buildAuditEvent(op: AuditOperation, ctx: EventContext): AuditEvent {
  const type = eventTypeFor(op);
  const service = clusterCrn(ctx);
  const authn = op.category === 'authentication';
  const resourceName = authn ? service : resourceCrn(ctx, op.resource);
  const status = resultStatus(op);

  const data: AuditEventData = { serviceName: service, methodName: methodNameFor(op), resourceName };

  const conn = op.connection;
  if (conn) {
    const mechanism = conn.saslMechanism ? `${conn.securityProtocol}/${conn.saslMechanism}` : conn.securityProtocol;
    const metadata: { mechanism: string; identifier?: string } = { mechanism };
    if (authn) {
      const id = authIdentifier(op);
      if (id !== undefined) metadata.identifier = id;
    }
    data.authenticationInfo = { principal: conn.principal, metadata };
    if (conn.principalClaimed) data.authenticationInfo.principalClaimed = true;
  }

  if (!authn && op.category !== 'lifecycle') {
    const authz: NonNullable<AuditEventData['authorizationInfo']> = {
      ...(status === 'UNKNOWN' ? {} : { granted: status !== 'UNAUTHORIZED' }),
      operation: op.operation,
      resourceType: op.resource.type,
      resourceName: op.resource.name,
    };
    // A request names one concrete resource, which the broker checks as a LITERAL resource pattern (as in
    // Confluent's events); ACL APIs pass the binding's own pattern type instead.
    authz.patternType = op.resource.patternType ?? 'LITERAL';
    data.authorizationInfo = authz;
  }

  if (op.correlationId !== undefined) {
    data.request = { correlation_id: String(op.correlationId), client_id: op.clientId ?? null };
  }
  if (conn) data.requestMetadata = { client_address: conn.clientAddress };

  const result: NonNullable<AuditEventData['result']> = { status, message: op.result.message ?? '' };
  if (op.result.errorCode !== undefined) result.errorCode = op.result.errorCode;
  if (op.result.errorName !== undefined) result.errorName = op.result.errorName;
  data.result = result;

  if (conn && (conn.clientSoftwareName !== undefined || conn.clientSoftwareVersion !== undefined)) {
    data.clientInfo = {};
    if (conn.clientSoftwareName !== undefined) data.clientInfo.softwareName = conn.clientSoftwareName;
    if (conn.clientSoftwareVersion !== undefined) data.clientInfo.softwareVersion = conn.clientSoftwareVersion;
  }

  const details = cleanDetails(op.details, op.method);
  if (details) data.details = details;

  return {
    specversion: '1.0',
    id: randomUUID(),
    source: service,
    subject: resourceName,
    type,
    datacontenttype: 'application/json',
    time: new Date(op.timeMs).toISOString(),
    data,
  };
}

export type LifecycleKind = 'started' | 'stopped' | 'config-reloaded' | 'upstream-unreachable' | 'sink-degraded' | 'sink-recovered';

export const LIFECYCLE_KINDS: readonly LifecycleKind[] = ['started', 'stopped', 'config-reloaded', 'upstream-unreachable', 'sink-degraded', 'sink-recovered'];

const LIFECYCLE_METHODS: Record<LifecycleKind, string> = {
  'started': 'Started',
  'stopped': 'Stopped',
  'config-reloaded': 'ConfigReloaded',
  'upstream-unreachable': 'UpstreamUnreachable',
  'sink-degraded': 'AuditSinkDegraded',
  'sink-recovered': 'AuditSinkRecovered',
};

/** The AuditCategory used for lifecycle events (for rules and routing). */
export const LIFECYCLE_CATEGORY: AuditCategory = 'lifecycle';

/** Method name ("Started", "AuditSinkDegraded", ...) of a lifecycle kind; methodName is "proxy.<method>". */
export function lifecycleMethod(kind: LifecycleKind): string {
  return LIFECYCLE_METHODS[kind];
}

/**
 * Builds a lifecycle event about the proxy itself. `subject`/`resourceName` are the cluster CRN (the proxy
 * fronts that cluster), `details` is sanitized like operation details.
 */
export function buildLifecycleEvent(kind: LifecycleKind, ctx: EventContext, details?: Record<string, unknown>, timeMs = Date.now()): AuditEvent {
  const service = clusterCrn(ctx);
  const method = LIFECYCLE_METHODS[kind];
  if (!method) throw new Error(`unknown lifecycle event kind "${String(kind)}" (expected one of ${LIFECYCLE_KINDS.join(', ')})`);
  const data: AuditEventData = { serviceName: service, methodName: `proxy.${method}`, resourceName: service, lifecycle: kind };
  const clean = cleanDetails(details, method);
  if (clean) data.details = clean;
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: service,
    subject: service,
    type: LIFECYCLE_TYPE,
    datacontenttype: 'application/json',
    time: new Date(timeMs).toISOString(),
    data,
  };
}

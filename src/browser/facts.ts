/**
 * The few fields of an audit event that the browser's search and aggregates look at, read once when the event
 * enters an index rather than on every query: with 100,000 events held, a search or an overview is one pass
 * over these small records, not 100,000 walks through nested event JSON.
 *
 * Events come from a topic other producers may write to, so every field is checked for its type and a missing
 * or odd one is `undefined`, never an exception.
 */
import type { AuditEvent } from '../audit/event.js';

/**
 * What happened to an operation, one class per result status: `error` is Kafka's FAILURE (an error other than
 * authentication or authorization), `none` an event without a result (the proxy's own lifecycle events).
 */
export type OutcomeClass = 'success' | 'error' | 'denied' | 'unauthenticated' | 'unknown' | 'none';

/** Every outcome class, in the order the overview stacks them (bottom first). */
export const OUTCOME_CLASSES: readonly OutcomeClass[] = ['success', 'error', 'denied', 'unauthenticated', 'unknown', 'none'];
const OUTCOME_INDEX = new Map(OUTCOME_CLASSES.map((c, i) => [c, i]));

/** Operations the attention panel lists whatever their outcome: they remove data, access or credentials. */
export const DESTRUCTIVE_METHODS: readonly string[] = ['DeleteTopics', 'DeleteRecords', 'DeleteAcls', 'DeleteGroups', 'AlterUserScramCredentials'];
const DESTRUCTIVE = new Set(DESTRUCTIVE_METHODS.map((m) => `kafka.${m}`));

/** Between the parts of the keys below (a character no principal, method or resource name holds). */
export const KEY_SEP = '\u0000';
/** Between the type and the name in {@link EventFacts.resourceKey}. */
export const RESOURCE_KEY_SEP = '\u0000';

export interface EventFacts {
  /** Event time in ms since the epoch; NaN when the event has no parseable time. */
  timeMs: number;
  principal: string | undefined;
  /** data.methodName as written ("kafka.DeleteTopics", "proxy.Started"). */
  methodName: string | undefined;
  /** The method as the page shows it: without the "kafka." prefix. */
  method: string | undefined;
  /** authorizationInfo.resourceType ("Topic", "Group", ...); undefined for logins and lifecycle events. */
  resourceType: string | undefined;
  /** authorizationInfo.resourceName, else data.resourceName (a CRN). */
  resourceName: string | undefined;
  /** data.resourceName: the CRN of the resource (or of the cluster, for logins). */
  crn: string | undefined;
  /** "host:port" of the client connection. */
  clientAddress: string | undefined;
  /** The client address without its port: what connections of one client machine share. */
  clientHost: string | undefined;
  /** "Topic\u0000orders": the resource acted on, when the event names one with its type (not logins or lifecycle events). */
  resourceKey: string | undefined;
  outcome: OutcomeClass;
  /** Position of `outcome` in OUTCOME_CLASSES. */
  outcomeIndex: number;
  errorCode: number | undefined;
  errorName: string | undefined;
  /**
   * How many operations the event stands for: a deduplicated summary event (audit.rules.dedupe) carries
   * data.count, every other event is one. Counts in the overview are sums of this, so they stay exact with
   * dedupe on.
   */
  weight: number;
  /**
   * Grouping keys of the attention panel, made once here (a key built per event and query would be a new string
   * to hash each time), only for the events each list counts: a refused login (principal and client host), an
   * authorization denial (principal, method, resource), a destructive operation (principal, method).
   */
  loginFailureKey: string | undefined;
  denialKey: string | undefined;
  destructiveKey: string | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined);

export function outcomeOf(status: unknown): OutcomeClass {
  switch (status) {
    case undefined: case null: case '': return 'none';
    case 'SUCCESS': return 'success';
    case 'UNAUTHORIZED': return 'denied';
    case 'UNAUTHENTICATED': return 'unauthenticated';
    case 'UNKNOWN': return 'unknown';
    // FAILURE, and any status another producer made up: a result that is not a success.
    default: return 'error';
  }
}

/** "10.0.0.1:5000" -> "10.0.0.1", "::ffff:10.0.0.1:5000" -> "::ffff:10.0.0.1" (the port is after the last colon). */
export function hostOf(address: string): string {
  const i = address.lastIndexOf(':');
  return i > 0 && /^\d+$/.test(address.slice(i + 1)) ? address.slice(0, i) : address;
}

export function eventFacts(e: AuditEvent): EventFacts {
  const d = obj(e.data) ?? {};
  const authn = obj(d.authenticationInfo);
  const authz = obj(d.authorizationInfo);
  const result = obj(d.result);
  const meta = obj(d.requestMetadata);
  const methodName = str(d.methodName);
  const crn = str(d.resourceName);
  const clientAddress = str(meta?.client_address);
  const count = d.count;
  const resourceType = str(authz?.resourceType);
  const resourceName = str(authz?.resourceName) ?? crn;
  const outcome = outcomeOf(result?.status);
  const principal = str(authn?.principal);
  const clientHost = clientAddress === undefined ? undefined : hostOf(clientAddress);
  const resourceKey = resourceType !== undefined && resourceName !== undefined ? `${resourceType}${RESOURCE_KEY_SEP}${resourceName}` : undefined;
  return {
    timeMs: typeof e.time === 'string' ? Date.parse(e.time) : NaN,
    principal,
    methodName,
    method: methodName?.startsWith('kafka.') ? methodName.slice('kafka.'.length) : methodName,
    resourceType,
    resourceName,
    resourceKey,
    crn,
    clientAddress,
    clientHost,
    outcome,
    outcomeIndex: OUTCOME_INDEX.get(outcome)!,
    errorCode: typeof result?.errorCode === 'number' ? result.errorCode : undefined,
    errorName: str(result?.errorName),
    weight: typeof count === 'number' && Number.isSafeInteger(count) && count > 0 ? count : 1,
    loginFailureKey: outcome === 'unauthenticated' ? `${principal}${KEY_SEP}${clientHost}` : undefined,
    denialKey: outcome === 'denied' ? `${principal}${KEY_SEP}${methodName}${KEY_SEP}${resourceKey ?? resourceName}` : undefined,
    destructiveKey: methodName !== undefined && DESTRUCTIVE.has(methodName) ? `${principal}${KEY_SEP}${methodName}` : undefined,
  };
}

/**
 * Audit events made up for the overview's scale test and benchmark: the shape the proxy writes
 * (src/audit/event.ts), a mix of principals, methods, resources, client addresses and outcomes, spread over a
 * time span, from a seeded generator so every run sees the same events.
 */
import type { AuditEvent, ResultStatus } from '../../src/audit/event.js';

/** Mulberry32: a small seeded PRNG, enough to spread made-up events. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS: Array<[method: string, type: string, op: string, weight: number]> = [
  ['Authentication', '', '', 30], ['CreateTopics', 'Topic', 'Create', 12], ['AlterConfigs', 'Topic', 'AlterConfigs', 10],
  ['IncrementalAlterConfigs', 'Topic', 'AlterConfigs', 8], ['CreateAcls', 'Topic', 'Alter', 6], ['DeleteAcls', 'Topic', 'Alter', 4],
  ['DeleteTopics', 'Topic', 'Delete', 6], ['DeleteRecords', 'Topic', 'Delete', 4], ['DeleteGroups', 'Group', 'Delete', 4],
  ['OffsetDelete', 'Group', 'Delete', 3], ['CreatePartitions', 'Topic', 'Alter', 5], ['AlterUserScramCredentials', 'Cluster', 'Alter', 2],
  ['DescribeAcls', 'Cluster', 'Describe', 6],
];
const TOTAL_WEIGHT = METHODS.reduce((s, m) => s + m[3], 0);

export interface SyntheticOptions {
  count: number;
  /** Events are spread over [end - spanMs, end]. */
  end: number;
  spanMs: number;
  seed?: number;
  principals?: number;
  topics?: number;
}

/** `count` events, oldest first. */
export function syntheticEvents(o: SyntheticOptions): AuditEvent[] {
  const rnd = prng(o.seed ?? 17);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const principals = Array.from({ length: o.principals ?? 60 }, (_, i) => `User:svc-${i}`).concat(['User:alice', 'User:bob', 'User:mallory']);
  const topics = o.topics ?? 2000;
  const out: AuditEvent[] = [];
  for (let i = 0; i < o.count; i++) {
    const time = o.end - o.spanMs + Math.floor((o.spanMs * i) / Math.max(1, o.count - 1));
    let w = rnd() * TOTAL_WEIGHT;
    const m = METHODS.find((x) => (w -= x[3]) < 0) ?? METHODS[0];
    const [method, type, op] = m;
    const principal = pick(principals);
    const r = rnd();
    let status: ResultStatus;
    let errorCode = 0, errorName = 'NONE';
    if (method === 'Authentication') {
      status = r < 0.1 ? 'UNAUTHENTICATED' : 'SUCCESS';
      if (status !== 'SUCCESS') { errorCode = 58; errorName = 'SASL_AUTHENTICATION_FAILED'; }
    } else if (r < 0.05) {
      status = 'UNAUTHORIZED'; errorCode = type === 'Group' ? 30 : type === 'Cluster' ? 31 : 29;
      errorName = type === 'Group' ? 'GROUP_AUTHORIZATION_FAILED' : type === 'Cluster' ? 'CLUSTER_AUTHORIZATION_FAILED' : 'TOPIC_AUTHORIZATION_FAILED';
    } else if (r < 0.1) {
      status = 'FAILURE'; errorCode = 36; errorName = 'TOPIC_ALREADY_EXISTS';
    } else if (r < 0.102) {
      status = 'UNKNOWN';
    } else {
      status = 'SUCCESS';
    }
    const name = type === 'Group' ? `group-${Math.floor(rnd() * 300)}` : type === 'Cluster' ? 'kafka-cluster' : `topic-${Math.floor(rnd() ** 2 * topics)}`;
    const crn = 'crn:///kafka=bench';
    const host = `10.0.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 40)}`;
    const data: AuditEvent['data'] = {
      serviceName: crn, methodName: `kafka.${method}`,
      resourceName: type ? `${crn}/${type.toLowerCase()}=${name}` : crn,
      authenticationInfo: { principal, metadata: { mechanism: 'SASL_PLAINTEXT/SCRAM-SHA-512' } },
      request: { correlation_id: String(i), client_id: `client-${i % 97}` },
      requestMetadata: { client_address: `${host}:${40000 + (i % 20000)}` },
      result: status === 'UNKNOWN' ? { status, message: 'no response' } : { status, message: '', errorCode, errorName },
    };
    if (type) data.authorizationInfo = { ...(status === 'UNKNOWN' ? {} : { granted: status !== 'UNAUTHORIZED' }), operation: op, resourceType: type, resourceName: name, patternType: 'LITERAL' };
    out.push({
      specversion: '1.0', id: `syn-${o.seed ?? 17}-${i}`, source: crn, subject: data.resourceName,
      type: method === 'Authentication' ? 'io.confluent.kafka.server/authentication' : status === 'UNAUTHORIZED' ? 'io.confluent.kafka.server/authorization' : 'io.confluent.kafka.server/request',
      datacontenttype: 'application/json', time: new Date(time).toISOString(), data,
    });
  }
  return out;
}

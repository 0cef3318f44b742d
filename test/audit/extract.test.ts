/**
 * Audit extraction (src/audit/extract.ts) and the Kafka error table (protocol/errors.ts).
 *
 * Every request and response is built as a plain object, encoded with the real schema (protocol/registry.ts,
 * protocol/codec.ts encodeMessage) and decoded back (decodeMessage), so the extractor sees exactly what the proxy
 * decodes off the wire. The AuditOperations are compared whole (deepStrictEqual).
 *
 * The error table is compared with org.apache.kafka.common.protocol.Errors of kafka-clients 4.1.1: a small Java
 * program is compiled and run against .kafka-lib/spec-4.1.1/kafka-clients-4.1.1.jar (scripts/kafka/fetch-specs.sh
 * puts it there); a missing jar or JDK fails the test.
 *
 * Run: node --test --import tsx test/audit/extract.test.ts
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMessage, encodeMessage, ZERO_UUID, type Decoded } from '../../protocol/codec.js';
import { API_SCHEMAS } from '../../protocol/registry.js';
import { KAFKA_ERRORS, kafkaError } from '../../protocol/errors.js';
import { AUDITED_API_KEYS, categoryOf, extractOperations, type ExtractContext } from '../../src/audit/extract.js';
import type { AuditOperation, ConnectionInfo } from '../../src/audit/operation.js';
import { assertNoSecret } from '../harness/secrets.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// ------------------------------------------------------------------------------------------------------------
// Fixtures

const CLUSTER_ID = 'Qe3x9TAbR1uF2wq0l7m3Zg';
const CONNECTION: ConnectionInfo = {
  connectionId: 'c-42',
  clientAddress: '10.0.0.5:53122',
  principal: 'User:admin',
  saslMechanism: 'SCRAM-SHA-512',
  securityProtocol: 'SASL_SSL',
  clientSoftwareName: 'apache-kafka-java',
  clientSoftwareVersion: '4.1.1',
};
const TIME_MS = 1_760_000_000_123;
const CORRELATION_ID = 17;
const CLIENT_ID = 'adminclient-1';

const uuid = (n: number): string => Buffer.alloc(16, n).toString('base64url');
const ORDERS_ID = uuid(1);
const PAYMENTS_ID = uuid(2);
const SECRET_ID = uuid(3);
const UNKNOWN_ID = uuid(4);
const KNOWN_TOPIC_IDS = new Map([[ORDERS_ID, 'orders'], [PAYMENTS_ID, 'payments']]);

/** Secrets planted in requests/responses below; none may appear in any extracted operation. */
const SECRETS = {
  keystorePassword: 'ks-p4ssw0rd-do-not-log',
  jaasPassword: 'jaas-pw-do-not-log',
  saslPassword: 'plain-pw-do-not-log',
  saltedPassword: Buffer.from('5c1a9e0d6b3f47a2b8e1c0d9f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8', 'hex'),
  salt: Buffer.from('salt-bytes-0123456789'),
  hmac: Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex'),
};

const allOutputs: AuditOperation[] = [];

function ctxFor(apiVersion: number): ExtractContext {
  return {
    apiVersion, correlationId: CORRELATION_ID, clientId: CLIENT_ID, connection: CONNECTION, timeMs: TIME_MS,
    clusterId: CLUSTER_ID, topicName: (id) => KNOWN_TOPIC_IDS.get(id),
  };
}

/** Encodes request and response with the real schema, decodes them back and runs the extractor. */
function run(apiKey: number, version: number, request: Decoded, response: Decoded | undefined): AuditOperation[] {
  const schema = API_SCHEMAS.get(apiKey);
  assert.ok(schema, `no schema for API key ${apiKey}`);
  const req = decodeMessage(schema.request, version, encodeMessage(schema.request, version, request));
  const res = response === undefined ? undefined : decodeMessage(schema.response, version, encodeMessage(schema.response, version, response));
  const ops = extractOperations(apiKey, req, res, ctxFor(version));
  allOutputs.push(...ops);
  assertNoSecrets(ops);
  return ops;
}

const bigintReplacer = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? `${v}n` : v);

/** No secret in any encoding (plain, base64 at any alignment, hex, a Buffer's JSON, ...: test/harness/secrets.ts), and no Buffer at all. */
function assertNoSecrets(ops: AuditOperation[]): void {
  const json = JSON.stringify(ops, bigintReplacer);
  assertNoSecret(json, SECRETS, 'extracted operations');
  assert.ok(!json.includes('"type":"Buffer"'), `a Buffer in the operations: ${json}`);
}

interface Expect {
  apiKey: number;
  method: string;
  category: AuditOperation['category'];
  version: number;
  resource: AuditOperation['resource'];
  operation: string;
  result: AuditOperation['result'];
  details?: Record<string, unknown>;
}

/** The full operation the extractor must produce (the context fields are the fixed fixtures above). */
function expected(e: Expect): AuditOperation {
  const op: AuditOperation = {
    category: e.category, method: e.method, apiKey: e.apiKey, apiVersion: e.version, correlationId: CORRELATION_ID,
    clientId: CLIENT_ID, connection: CONNECTION, resource: e.resource, operation: e.operation, result: e.result, timeMs: TIME_MS,
  };
  if (e.details) op.details = e.details;
  return op;
}

const OK = { errorCode: 0, errorName: 'NONE', message: '' };
const NO_RESPONSE = { message: 'no response: connection closed' };
const NOT_IN_RESPONSE = { message: 'no result for this resource in the response' };
function err(code: number, message?: string): AuditOperation['result'] {
  const e = kafkaError(code);
  return { errorCode: code, errorName: e.name, message: message ?? e.message };
}
const CLUSTER = { type: 'Cluster' as const, name: CLUSTER_ID };

after(() => {
  // Every operation any test produced, once more as a whole.
  assert.ok(allOutputs.length > 40, `only ${allOutputs.length} operations collected`);
  assertNoSecrets(allOutputs);
});

// ------------------------------------------------------------------------------------------------------------
// protocol/errors.ts

const ERRORS_DUMP_JAVA = `
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.protocol.Errors;

public class DumpErrors {
  private static String esc(String s) {
    return s == null ? "" : s.replace("\\\\", "\\\\\\\\").replace("\\t", "\\\\t").replace("\\n", "\\\\n");
  }
  public static void main(String[] args) {
    for (Errors e : Errors.values()) {
      boolean retriable = e.exception() instanceof RetriableException;
      System.out.println("ERR\\t" + e.code() + "\\t" + e.name() + "\\t" + retriable + "\\t" + esc(e.message()));
    }
  }
}
`;

describe('protocol/errors.ts', () => {
  test('kafkaError matches Errors.java of kafka-clients 4.1.1 (every code, name, retriable flag, message)', () => {
    const jar = join(ROOT, '.kafka-lib/spec-4.1.1/kafka-clients-4.1.1.jar');
    const slf4j = join(ROOT, '.kafka-lib/slf4j-api-1.7.36.jar');
    for (const f of [jar, slf4j]) assert.ok(existsSync(f), `${f} is missing: run scripts/kafka/fetch-specs.sh`);
    const dir = mkdtempSync(join(tmpdir(), 'kafka-errors-'));
    try {
      writeFileSync(join(dir, 'DumpErrors.java'), ERRORS_DUMP_JAVA);
      const cp = `${jar}:${slf4j}`;
      execFileSync('javac', ['-cp', cp, '-d', dir, join(dir, 'DumpErrors.java')], { stdio: ['ignore', 'pipe', 'pipe'] });
      const out = execFileSync('java', ['-cp', `${cp}:${dir}`, 'DumpErrors'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const unesc = (s: string): string => s.replace(/\\(\\|t|n)/g, (_m, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : '\\'));
      const fromJava = out.split('\n').filter((l) => l.startsWith('ERR\t')).map((l) => {
        const [, code, name, retriable, message] = l.split('\t');
        return [Number(code), name, retriable === 'true', unesc(message)] as const;
      });
      assert.ok(fromJava.length >= 135, `only ${fromJava.length} Errors values printed`);
      assert.deepEqual(KAFKA_ERRORS.map((r) => [...r]), fromJava.map((r) => [...r]));
      for (const [code, name, retriable, message] of fromJava) assert.deepEqual(kafkaError(code), { name, message, retriable });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('well-known codes and unknown codes', () => {
    assert.deepEqual(kafkaError(29), { name: 'TOPIC_AUTHORIZATION_FAILED', message: 'Topic authorization failed.', retriable: false });
    assert.equal(kafkaError(38).name, 'INVALID_REPLICATION_FACTOR');
    assert.equal(kafkaError(87).name, 'INVALID_RECORD');
    assert.equal(kafkaError(-1).name, 'UNKNOWN_SERVER_ERROR');
    assert.equal(kafkaError(133).name, 'SHARE_SESSION_LIMIT_REACHED');
    assert.equal(kafkaError(7).retriable, true); // REQUEST_TIMED_OUT
    assert.deepEqual(kafkaError(999), { name: 'UNKNOWN_CODE_999', message: 'Unknown Kafka error code 999.', retriable: false });
    assert.equal(kafkaError(-2).name, 'UNKNOWN_CODE_-2');
  });
});

// ------------------------------------------------------------------------------------------------------------
// Topics

describe('CreateTopics (19)', () => {
  const base = { apiKey: 19, method: 'CreateTopics', category: 'management' as const, operation: 'Create' };

  test('v7: three topics, one op each — success with redacted secret config, broker ErrorMessage, authorization failure', () => {
    const request = {
      Topics: [
        {
          Name: 'orders', NumPartitions: 6, ReplicationFactor: 3, Assignments: [],
          Configs: [
            { Name: 'cleanup.policy', Value: 'compact' },
            { Name: 'ssl.keystore.password', Value: SECRETS.keystorePassword },
            { Name: 'retention.ms', Value: null },
          ],
        },
        { Name: 'payments', NumPartitions: -1, ReplicationFactor: -1, Assignments: [], Configs: [] },
        { Name: 'secret-topic', NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] },
      ],
      timeoutMs: 30000,
      validateOnly: false,
    };
    const response = {
      ThrottleTimeMs: 0,
      Topics: [
        { Name: 'orders', TopicId: ORDERS_ID, ErrorCode: 0, ErrorMessage: null, NumPartitions: 6, ReplicationFactor: 3, Configs: [] },
        { Name: 'payments', TopicId: ZERO_UUID, ErrorCode: 36, ErrorMessage: "Topic 'payments' already exists.", NumPartitions: -1, ReplicationFactor: -1, Configs: null },
        { Name: 'secret-topic', TopicId: ZERO_UUID, ErrorCode: 29, ErrorMessage: null, NumPartitions: -1, ReplicationFactor: -1, Configs: null },
      ],
    };
    assert.deepEqual(run(19, 7, request, response), [
      expected({
        ...base, version: 7, resource: { type: 'Topic', name: 'orders' }, result: OK,
        details: {
          numPartitions: 6, replicationFactor: 3, topicId: ORDERS_ID,
          configs: { 'cleanup.policy': 'compact', 'ssl.keystore.password': '[REDACTED]', 'retention.ms': null },
        },
      }),
      expected({
        ...base, version: 7, resource: { type: 'Topic', name: 'payments' },
        result: { errorCode: 36, errorName: 'TOPIC_ALREADY_EXISTS', message: "Topic 'payments' already exists." },
        details: { numPartitions: -1, replicationFactor: -1, configs: {} },
      }),
      expected({
        ...base, version: 7, resource: { type: 'Topic', name: 'secret-topic' },
        result: { errorCode: 29, errorName: 'TOPIC_AUTHORIZATION_FAILED', message: 'Topic authorization failed.' },
        details: { numPartitions: 1, replicationFactor: 1, configs: {} },
      }),
    ]);
  });

  test('v2 (non-flexible): validateOnly, replica assignments, duplicate names collapse', () => {
    const request = {
      Topics: [
        { Name: 'audit', NumPartitions: -1, ReplicationFactor: -1, Assignments: [{ PartitionIndex: 0, BrokerIds: [1, 2] }, { PartitionIndex: 1, BrokerIds: [2, 3] }], Configs: [] },
        { Name: 'audit', NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] },
      ],
      timeoutMs: 5000,
      validateOnly: true,
    };
    const response = { ThrottleTimeMs: 0, Topics: [{ Name: 'audit', ErrorCode: 42, ErrorMessage: '' }] };
    assert.deepEqual(run(19, 2, request, response), [
      expected({
        ...base, version: 2, resource: { type: 'Topic', name: 'audit' }, result: err(42),
        details: {
          numPartitions: -1, replicationFactor: -1, configs: {}, validateOnly: true,
          assignments: [{ partition: 0, brokers: [1, 2] }, { partition: 1, brokers: [2, 3] }],
        },
      }),
    ]);
  });

  test('connection closed before the response; a topic missing from the response', () => {
    const request = {
      Topics: [
        { Name: 'a', NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] },
        { Name: 'b', NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] },
      ],
      timeoutMs: 5000, validateOnly: false,
    };
    const details = { numPartitions: 1, replicationFactor: 1, configs: {} };
    assert.deepEqual(run(19, 5, request, undefined), [
      expected({ ...base, version: 5, resource: { type: 'Topic', name: 'a' }, result: NO_RESPONSE, details }),
      expected({ ...base, version: 5, resource: { type: 'Topic', name: 'b' }, result: NO_RESPONSE, details }),
    ]);
    const response = { ThrottleTimeMs: 0, Topics: [{ Name: 'a', ErrorCode: 0, ErrorMessage: null, NumPartitions: 1, ReplicationFactor: 1, Configs: [] }] };
    assert.deepEqual(run(19, 5, request, response), [
      expected({ ...base, version: 5, resource: { type: 'Topic', name: 'a' }, result: OK, details }),
      expected({ ...base, version: 5, resource: { type: 'Topic', name: 'b' }, result: NOT_IN_RESPONSE, details }),
    ]);
  });
});

describe('DeleteTopics (20)', () => {
  const base = { apiKey: 20, method: 'DeleteTopics', category: 'management' as const, operation: 'Delete' };

  test('v6 by id (resolved through topicName), by id named by the broker, by name, unresolvable id; shuffled results', () => {
    const request = {
      Topics: [
        { Name: null, TopicId: ORDERS_ID },
        { Name: null, TopicId: SECRET_ID },
        { Name: 'payments', TopicId: ZERO_UUID },
        { Name: null, TopicId: UNKNOWN_ID },
      ],
      TimeoutMs: 30000,
    };
    const response = {
      ThrottleTimeMs: 0,
      Responses: [
        { Name: null, TopicId: UNKNOWN_ID, ErrorCode: 29, ErrorMessage: null },
        { Name: 'payments', TopicId: PAYMENTS_ID, ErrorCode: 0, ErrorMessage: null },
        { Name: null, TopicId: ORDERS_ID, ErrorCode: 0, ErrorMessage: null },
        { Name: 'top-secret', TopicId: SECRET_ID, ErrorCode: 73, ErrorMessage: 'Topic deletion is disabled.' },
      ],
    };
    assert.deepEqual(run(20, 6, request, response), [
      expected({ ...base, version: 6, resource: { type: 'Topic', name: 'orders' }, result: OK, details: { topicId: ORDERS_ID } }),
      expected({
        ...base, version: 6, resource: { type: 'Topic', name: 'top-secret' }, details: { topicId: SECRET_ID },
        result: { errorCode: 73, errorName: 'TOPIC_DELETION_DISABLED', message: 'Topic deletion is disabled.' },
      }),
      expected({ ...base, version: 6, resource: { type: 'Topic', name: 'payments' }, result: OK, details: { topicId: PAYMENTS_ID } }),
      expected({
        ...base, version: 6, resource: { type: 'Topic', name: `topicId:${UNKNOWN_ID}` }, details: { topicId: UNKNOWN_ID },
        result: { errorCode: 29, errorName: 'TOPIC_AUTHORIZATION_FAILED', message: 'Topic authorization failed.' },
      }),
    ]);
  });

  test('v6 without a response: names come from topicName', () => {
    const request = { Topics: [{ Name: null, TopicId: PAYMENTS_ID }], TimeoutMs: 1000 };
    assert.deepEqual(run(20, 6, request, undefined), [
      expected({ ...base, version: 6, resource: { type: 'Topic', name: 'payments' }, result: NO_RESPONSE, details: { topicId: PAYMENTS_ID } }),
    ]);
  });

  test('v4 by name (no ErrorMessage in v4) and v5 with one', () => {
    const request = { TopicNames: ['a', 'b'], TimeoutMs: 1000 };
    const v4 = { ThrottleTimeMs: 0, Responses: [{ Name: 'b', ErrorCode: 3 }, { Name: 'a', ErrorCode: 0 }] };
    assert.deepEqual(run(20, 4, request, v4), [
      expected({ ...base, version: 4, resource: { type: 'Topic', name: 'a' }, result: OK }),
      expected({ ...base, version: 4, resource: { type: 'Topic', name: 'b' }, result: err(3) }),
    ]);
    const v5 = { ThrottleTimeMs: 0, Responses: [{ Name: 'a', ErrorCode: 29, ErrorMessage: 'Not authorized to delete a.' }, { Name: 'b', ErrorCode: 0, ErrorMessage: null }] };
    assert.deepEqual(run(20, 5, request, v5), [
      expected({ ...base, version: 5, resource: { type: 'Topic', name: 'a' }, result: err(29, 'Not authorized to delete a.') }),
      expected({ ...base, version: 5, resource: { type: 'Topic', name: 'b' }, result: OK }),
    ]);
  });
});

test('CreatePartitions (37) v3: count, assignments, validateOnly, broker message', () => {
  const request = {
    Topics: [
      { Name: 'orders', Count: 12, Assignments: [{ BrokerIds: [1, 2] }, { BrokerIds: [2, 3] }] },
      { Name: 'payments', Count: 2, Assignments: null },
    ],
    TimeoutMs: 30000, ValidateOnly: true,
  };
  const response = {
    ThrottleTimeMs: 0,
    Results: [
      { Name: 'orders', ErrorCode: 0, ErrorMessage: null },
      { Name: 'payments', ErrorCode: 37, ErrorMessage: 'Topic currently has 4 partitions, which is higher than the requested 2.' },
    ],
  };
  const base = { apiKey: 37, method: 'CreatePartitions', category: 'management' as const, operation: 'Alter', version: 3 };
  assert.deepEqual(run(37, 3, request, response), [
    expected({ ...base, resource: { type: 'Topic', name: 'orders' }, result: OK, details: { count: 12, assignments: [[1, 2], [2, 3]], validateOnly: true } }),
    expected({
      ...base, resource: { type: 'Topic', name: 'payments' }, details: { count: 2, validateOnly: true },
      result: { errorCode: 37, errorName: 'INVALID_PARTITIONS', message: 'Topic currently has 4 partitions, which is higher than the requested 2.' },
    }),
  ]);
});

test('DeleteRecords (21) v2 and v0: one op per topic, first failing partition decides', () => {
  const request = {
    Topics: [
      { Name: 'orders', Partitions: [{ PartitionIndex: 0, Offset: 100n }, { PartitionIndex: 1, Offset: -1n }] },
      { Name: 'payments', Partitions: [{ PartitionIndex: 0, Offset: 9007199254740993n }, { PartitionIndex: 1, Offset: 5n }, { PartitionIndex: 2, Offset: 5n }] },
    ],
    TimeoutMs: 30000,
  };
  const response = {
    ThrottleTimeMs: 0,
    Topics: [
      { Name: 'orders', Partitions: [{ PartitionIndex: 0, LowWatermark: 100n, ErrorCode: 0 }, { PartitionIndex: 1, LowWatermark: 250n, ErrorCode: 0 }] },
      { Name: 'payments', Partitions: [{ PartitionIndex: 0, LowWatermark: -1n, ErrorCode: 0 }, { PartitionIndex: 1, LowWatermark: -1n, ErrorCode: 1 }, { PartitionIndex: 2, LowWatermark: -1n, ErrorCode: 29 }] },
    ],
  };
  const base = { apiKey: 21, method: 'DeleteRecords', category: 'management' as const, operation: 'Delete' };
  for (const version of [0, 2]) {
    assert.deepEqual(run(21, version, request, response), [
      expected({
        ...base, version, resource: { type: 'Topic', name: 'orders' }, result: OK,
        details: { partitions: [{ partition: 0, offset: 100 }, { partition: 1, offset: -1 }] },
      }),
      expected({
        ...base, version, resource: { type: 'Topic', name: 'payments' }, result: err(1),
        details: { partitions: [{ partition: 0, offset: '9007199254740993' }, { partition: 1, offset: 5 }, { partition: 2, offset: 5 }] },
      }),
    ]);
  }
});

test('AlterPartitionReassignments (45): v1 per-partition error with message, v0 top-level error applies to all', () => {
  const base = { apiKey: 45, method: 'AlterPartitionReassignments', category: 'management' as const, operation: 'Alter' };
  const v1Request = {
    TimeoutMs: 60000, AllowReplicationFactorChange: false,
    Topics: [
      { Name: 'orders', Partitions: [{ PartitionIndex: 0, Replicas: [1, 2, 3] }, { PartitionIndex: 1, Replicas: null }] },
      { Name: 'payments', Partitions: [{ PartitionIndex: 0, Replicas: [3, 4] }] },
    ],
  };
  const v1Response = {
    ThrottleTimeMs: 0, AllowReplicationFactorChange: false, ErrorCode: 0, ErrorMessage: null,
    Responses: [
      { Name: 'orders', Partitions: [{ PartitionIndex: 0, ErrorCode: 0, ErrorMessage: null }, { PartitionIndex: 1, ErrorCode: 85, ErrorMessage: 'No reassignment in progress for orders-1.' }] },
      { Name: 'payments', Partitions: [{ PartitionIndex: 0, ErrorCode: 0, ErrorMessage: null }] },
    ],
  };
  assert.deepEqual(run(45, 1, v1Request, v1Response), [
    expected({
      ...base, version: 1, resource: { type: 'Topic', name: 'orders' },
      result: { errorCode: 85, errorName: 'NO_REASSIGNMENT_IN_PROGRESS', message: 'No reassignment in progress for orders-1.' },
      details: { partitions: [{ partition: 0, replicas: [1, 2, 3] }, { partition: 1, replicas: null }], allowReplicationFactorChange: false },
    }),
    expected({
      ...base, version: 1, resource: { type: 'Topic', name: 'payments' }, result: OK,
      details: { partitions: [{ partition: 0, replicas: [3, 4] }], allowReplicationFactorChange: false },
    }),
  ]);
  const v0Request = { TimeoutMs: 60000, Topics: [{ Name: 'orders', Partitions: [{ PartitionIndex: 0, Replicas: [1] }] }] };
  const v0Response = { ThrottleTimeMs: 0, ErrorCode: 31, ErrorMessage: null, Responses: [] };
  assert.deepEqual(run(45, 0, v0Request, v0Response), [
    expected({
      ...base, version: 0, resource: { type: 'Topic', name: 'orders' }, result: err(31),
      details: { partitions: [{ partition: 0, replicas: [1] }] },
    }),
  ]);
});

describe('ElectLeaders (43)', () => {
  const base = { apiKey: 43, method: 'ElectLeaders', category: 'management' as const, operation: 'Alter' };

  test('v2: one op per topic with the election type', () => {
    const request = {
      ElectionType: 1,
      TopicPartitions: [{ Topic: 'orders', Partitions: [0, 1] }, { Topic: 'payments', Partitions: [3] }],
      TimeoutMs: 30000,
    };
    const response = {
      ThrottleTimeMs: 0, ErrorCode: 0,
      ReplicaElectionResults: [
        { Topic: 'payments', PartitionResult: [{ PartitionId: 3, ErrorCode: 83, ErrorMessage: 'No eligible leader for payments-3.' }] },
        { Topic: 'orders', PartitionResult: [{ PartitionId: 0, ErrorCode: 0, ErrorMessage: null }, { PartitionId: 1, ErrorCode: 0, ErrorMessage: null }] },
      ],
    };
    assert.deepEqual(run(43, 2, request, response), [
      expected({ ...base, version: 2, resource: { type: 'Topic', name: 'orders' }, result: OK, details: { electionType: 'UNCLEAN', partitions: [0, 1] } }),
      expected({
        ...base, version: 2, resource: { type: 'Topic', name: 'payments' }, details: { electionType: 'UNCLEAN', partitions: [3] },
        result: { errorCode: 83, errorName: 'ELIGIBLE_LEADERS_NOT_AVAILABLE', message: 'No eligible leader for payments-3.' },
      }),
    ]);
  });

  test('null TopicPartitions (all partitions): one op on the cluster; v0 is a preferred election', () => {
    const response = { ThrottleTimeMs: 0, ErrorCode: 31, ReplicaElectionResults: [] };
    assert.deepEqual(run(43, 1, { ElectionType: 0, TopicPartitions: null, TimeoutMs: 30000 }, response), [
      expected({ ...base, version: 1, resource: CLUSTER, result: err(31), details: { electionType: 'PREFERRED', allPartitions: true } }),
    ]);
    const v0Response = { ThrottleTimeMs: 0, ReplicaElectionResults: [{ Topic: 't', PartitionResult: [{ PartitionId: 0, ErrorCode: 0, ErrorMessage: null }] }] };
    assert.deepEqual(run(43, 0, { TopicPartitions: null, TimeoutMs: 30000 }, v0Response), [
      expected({ ...base, version: 0, resource: CLUSTER, result: OK, details: { electionType: 'PREFERRED', allPartitions: true } }),
    ]);
  });
});

// ------------------------------------------------------------------------------------------------------------
// Groups

test('DeleteGroups (42) v2: per group, Kafka messages (the response has no message field)', () => {
  const request = { GroupsNames: ['billing', 'busy', 'secret'] };
  const response = {
    ThrottleTimeMs: 0,
    Results: [{ GroupId: 'secret', ErrorCode: 30 }, { GroupId: 'billing', ErrorCode: 0 }, { GroupId: 'busy', ErrorCode: 68 }],
  };
  const base = { apiKey: 42, method: 'DeleteGroups', category: 'management' as const, operation: 'Delete', version: 2 };
  assert.deepEqual(run(42, 2, request, response), [
    expected({ ...base, resource: { type: 'Group', name: 'billing' }, result: OK }),
    expected({ ...base, resource: { type: 'Group', name: 'busy' }, result: { errorCode: 68, errorName: 'NON_EMPTY_GROUP', message: 'The group is not empty.' } }),
    expected({ ...base, resource: { type: 'Group', name: 'secret' }, result: { errorCode: 30, errorName: 'GROUP_AUTHORIZATION_FAILED', message: 'Group authorization failed.' } }),
  ]);
});

test('OffsetDelete (47) v0: first partition error, or the top-level error', () => {
  const request = { GroupId: 'billing', Topics: [{ Name: 'orders', Partitions: [{ PartitionIndex: 0 }, { PartitionIndex: 1 }] }] };
  const base = { apiKey: 47, method: 'OffsetDelete', category: 'management' as const, operation: 'Delete', version: 0, resource: { type: 'Group' as const, name: 'billing' } };
  const details = { topics: [{ topic: 'orders', partitions: [0, 1] }] };
  const partial = { ErrorCode: 0, ThrottleTimeMs: 0, Topics: [{ Name: 'orders', Partitions: [{ PartitionIndex: 0, ErrorCode: 0 }, { PartitionIndex: 1, ErrorCode: 86 }] }] };
  assert.deepEqual(run(47, 0, request, partial), [expected({ ...base, result: err(86), details })]);
  const denied = { ErrorCode: 30, ThrottleTimeMs: 0, Topics: [] };
  assert.deepEqual(run(47, 0, request, denied), [expected({ ...base, result: err(30), details })]);
  const ok = { ErrorCode: 0, ThrottleTimeMs: 0, Topics: [{ Name: 'orders', Partitions: [{ PartitionIndex: 0, ErrorCode: 0 }, { PartitionIndex: 1, ErrorCode: 0 }] }] };
  assert.deepEqual(run(47, 0, request, ok), [expected({ ...base, result: OK, details })]);
});

test('OffsetCommit (8) v8: one operation on the group, offsets in details; a reset from outside the group says so', () => {
  const base = { apiKey: 8, method: 'OffsetCommit', category: 'consume' as const, operation: 'Read', version: 8, resource: { type: 'Group' as const, name: 'billing' } };
  const topics = [{ Name: 'orders', Partitions: [{ PartitionIndex: 0, CommittedOffset: 5n, CommittedLeaderEpoch: -1, CommittedMetadata: null }, { PartitionIndex: 1, CommittedOffset: 7n, CommittedLeaderEpoch: -1, CommittedMetadata: null }] }];
  // Each partition's own code is in the details: a commit executed in part shows what was committed.
  const offsets = (code1: number) => [{ topic: 'orders', partitions: [{ partition: 0, offset: 5, errorCode: 0 }, { partition: 1, offset: 7, errorCode: code1 }] }];
  const answer = (code1: number) => ({ ThrottleTimeMs: 0, Topics: [{ Name: 'orders', Partitions: [{ PartitionIndex: 0, ErrorCode: 0 }, { PartitionIndex: 1, ErrorCode: code1 }] }] });
  const reset = { GroupId: 'billing', GenerationIdOrMemberEpoch: -1, MemberId: '', GroupInstanceId: null, Topics: topics };
  assert.deepEqual(run(8, 8, reset, answer(0)), [expected({ ...base, result: OK, details: { groupMember: false, topics: offsets(0) } })]);
  const member = { ...reset, GenerationIdOrMemberEpoch: 3, MemberId: 'consumer-1-abc' };
  assert.deepEqual(run(8, 8, member, answer(25)), [expected({ ...base, result: err(25), details: { groupMember: true, topics: offsets(25) } })]);
  assert.deepEqual(run(8, 8, reset, answer(29)), [expected({ ...base, result: err(29), details: { groupMember: false, topics: offsets(29) } })]);
});

test('DescribeGroups (15): v6 with a broker message, v5 without', () => {
  const base = { apiKey: 15, method: 'DescribeGroups', category: 'describe' as const, operation: 'Describe' };
  const group = (GroupId: string, ErrorCode: number, ErrorMessage?: string | null): Decoded => ({
    ErrorCode, ...(ErrorMessage !== undefined ? { ErrorMessage } : {}), GroupId, GroupState: ErrorCode === 0 ? 'Stable' : '',
    ProtocolType: 'consumer', ProtocolData: 'range', Members: [], AuthorizedOperations: -2147483648,
  });
  const request = { Groups: ['billing', 'secret'], IncludeAuthorizedOperations: false };
  assert.deepEqual(run(15, 6, request, { ThrottleTimeMs: 0, Groups: [group('billing', 0, null), group('secret', 30, 'Not authorized to describe group secret.')] }), [
    expected({ ...base, version: 6, resource: { type: 'Group', name: 'billing' }, result: OK }),
    expected({ ...base, version: 6, resource: { type: 'Group', name: 'secret' }, result: err(30, 'Not authorized to describe group secret.') }),
  ]);
  assert.deepEqual(run(15, 5, request, { ThrottleTimeMs: 0, Groups: [group('secret', 30), group('billing', 0)] }), [
    expected({ ...base, version: 5, resource: { type: 'Group', name: 'billing' }, result: OK }),
    expected({ ...base, version: 5, resource: { type: 'Group', name: 'secret' }, result: err(30) }),
  ]);
});

test('ListGroups (16) v5: one describe op on the cluster', () => {
  const request = { StatesFilter: ['Stable'], TypesFilter: [] };
  const response = {
    ThrottleTimeMs: 0, ErrorCode: 0,
    Groups: [{ GroupId: 'billing', ProtocolType: 'consumer', GroupState: 'Stable', GroupType: 'classic' }, { GroupId: 'x', ProtocolType: 'consumer', GroupState: 'Stable', GroupType: 'consumer' }],
  };
  assert.deepEqual(run(16, 5, request, response), [
    expected({
      apiKey: 16, method: 'ListGroups', category: 'describe', version: 5, resource: CLUSTER, operation: 'Describe', result: OK,
      details: { statesFilter: ['Stable'], groupCount: 2 },
    }),
  ]);
  assert.deepEqual(run(16, 0, {}, undefined), [
    expected({ apiKey: 16, method: 'ListGroups', category: 'describe', version: 0, resource: CLUSTER, operation: 'Describe', result: NO_RESPONSE }),
  ]);
});

test('AlterShareGroupOffsets (91) and DeleteShareGroupOffsets (92) v0', () => {
  const alterRequest = {
    GroupId: 'share-1',
    Topics: [{ TopicName: 'orders', Partitions: [{ PartitionIndex: 0, StartOffset: 42n }, { PartitionIndex: 1, StartOffset: -1n }] }],
  };
  const alterResponse = {
    ThrottleTimeMs: 0, ErrorCode: 0, ErrorMessage: null,
    Responses: [{
      TopicName: 'orders', TopicId: ORDERS_ID,
      Partitions: [{ PartitionIndex: 0, ErrorCode: 0, ErrorMessage: null }, { PartitionIndex: 1, ErrorCode: 3, ErrorMessage: 'Partition orders-1 does not exist.' }],
    }],
  };
  assert.deepEqual(run(91, 0, alterRequest, alterResponse), [
    expected({
      apiKey: 91, method: 'AlterShareGroupOffsets', category: 'management', version: 0, resource: { type: 'Group', name: 'share-1' }, operation: 'Alter',
      result: err(3, 'Partition orders-1 does not exist.'),
      details: { topics: [{ topic: 'orders', partitions: [{ partition: 0, startOffset: 42 }, { partition: 1, startOffset: -1 }] }] },
    }),
  ]);
  const deleteRequest = { GroupId: 'share-1', Topics: [{ TopicName: 'orders' }, { TopicName: 'payments' }] };
  const deleteResponse = {
    ThrottleTimeMs: 0, ErrorCode: 30, ErrorMessage: 'Not authorized to delete offsets of share-1.',
    Responses: [],
  };
  assert.deepEqual(run(92, 0, deleteRequest, deleteResponse), [
    expected({
      apiKey: 92, method: 'DeleteShareGroupOffsets', category: 'management', version: 0, resource: { type: 'Group', name: 'share-1' }, operation: 'Delete',
      result: err(30, 'Not authorized to delete offsets of share-1.'), details: { topics: ['orders', 'payments'] },
    }),
  ]);
  const deleteOk = {
    ThrottleTimeMs: 0, ErrorCode: 0, ErrorMessage: null,
    Responses: [{ TopicName: 'orders', TopicId: ORDERS_ID, ErrorCode: 0, ErrorMessage: null }, { TopicName: 'payments', TopicId: PAYMENTS_ID, ErrorCode: 0, ErrorMessage: null }],
  };
  assert.deepEqual(run(92, 0, deleteRequest, deleteOk)[0].result, OK);
});

// ------------------------------------------------------------------------------------------------------------
// ACLs

describe('ACLs', () => {
  const acl = (o: Partial<Decoded>): Decoded => ({
    ResourceType: 2, ResourceName: 'orders', ResourcePatternType: 3, Principal: 'User:alice', Host: '*', Operation: 3, PermissionType: 3, ...o,
  });

  test('CreateAcls (30) v3: binding resource, operation Alter, paired by index', () => {
    const request = {
      Creations: [
        acl({}),
        acl({ ResourceType: 3, ResourceName: 'billing-', ResourcePatternType: 4, Principal: 'User:bob', Host: '10.0.0.1', Operation: 2, PermissionType: 2 }),
        acl({ ResourceType: 4, ResourceName: 'kafka-cluster', Operation: 15 }),
        acl({ ResourceType: 1, ResourceName: 'x', ResourcePatternType: 1 }),
      ],
    };
    const response = {
      ThrottleTimeMs: 0,
      Results: [
        { ErrorCode: 0, ErrorMessage: null },
        { ErrorCode: 31, ErrorMessage: null },
        { ErrorCode: 0, ErrorMessage: null },
        { ErrorCode: 42, ErrorMessage: 'Invalid resource type ANY.' },
      ],
    };
    const base = { apiKey: 30, method: 'CreateAcls', category: 'management' as const, operation: 'Alter', version: 3 };
    assert.deepEqual(run(30, 3, request, response), [
      expected({
        ...base, resource: { type: 'Topic', name: 'orders', patternType: 'LITERAL' }, result: OK,
        details: { principal: 'User:alice', host: '*', operation: 'READ', permissionType: 'ALLOW' },
      }),
      expected({
        ...base, resource: { type: 'Group', name: 'billing-', patternType: 'PREFIXED' }, result: err(31),
        details: { principal: 'User:bob', host: '10.0.0.1', operation: 'ALL', permissionType: 'DENY' },
      }),
      expected({
        ...base, resource: { type: 'Cluster', name: 'kafka-cluster', patternType: 'LITERAL' }, result: OK,
        details: { principal: 'User:alice', host: '*', operation: 'TWO_PHASE_COMMIT', permissionType: 'ALLOW' },
      }),
      expected({
        ...base, resource: CLUSTER, result: err(42, 'Invalid resource type ANY.'),
        details: { principal: 'User:alice', host: '*', operation: 'READ', permissionType: 'ALLOW', resourceType: 'ANY', resourceName: 'x', patternType: 'ANY' },
      }),
    ]);
  });

  test('CreateAcls v1 without a response', () => {
    assert.deepEqual(run(30, 1, { Creations: [acl({ ResourceType: 5, ResourceName: 'txn-1', Operation: 4 })] }, undefined), [
      expected({
        apiKey: 30, method: 'CreateAcls', category: 'management', operation: 'Alter', version: 1,
        resource: { type: 'TransactionalId', name: 'txn-1', patternType: 'LITERAL' }, result: NO_RESPONSE,
        details: { principal: 'User:alice', host: '*', operation: 'WRITE', permissionType: 'ALLOW' },
      }),
    ]);
  });

  test('DeleteAcls (31) v3: per filter, with the filter, the matching count and bindings', () => {
    const request = {
      Filters: [
        { ResourceTypeFilter: 2, ResourceNameFilter: 'orders', PatternTypeFilter: 2, PrincipalFilter: null, HostFilter: null, Operation: 1, PermissionType: 1 },
        { ResourceTypeFilter: 1, ResourceNameFilter: null, PatternTypeFilter: 1, PrincipalFilter: 'User:mallory', HostFilter: null, Operation: 1, PermissionType: 1 },
        { ResourceTypeFilter: 3, ResourceNameFilter: 'billing', PatternTypeFilter: 3, PrincipalFilter: null, HostFilter: null, Operation: 1, PermissionType: 1 },
      ],
    };
    const matched = (o: Partial<Decoded>): Decoded => ({
      ErrorCode: 0, ErrorMessage: null, ResourceType: 2, ResourceName: 'orders', PatternType: 3, Principal: 'User:alice', Host: '*', Operation: 3, PermissionType: 3, ...o,
    });
    const response = {
      ThrottleTimeMs: 0,
      FilterResults: [
        { ErrorCode: 0, ErrorMessage: null, MatchingAcls: [matched({}), matched({ ResourceName: 'ord', PatternType: 4, Operation: 4 })] },
        { ErrorCode: 0, ErrorMessage: null, MatchingAcls: [matched({ ErrorCode: 31, ErrorMessage: 'Cannot delete.', ResourceType: 3, ResourceName: 'g', Principal: 'User:mallory' })] },
        { ErrorCode: 31, ErrorMessage: 'Cluster authorization failed.', MatchingAcls: [] },
      ],
    };
    const base = { apiKey: 31, method: 'DeleteAcls', category: 'management' as const, operation: 'Alter', version: 3 };
    const binding = (o: Record<string, unknown>): Record<string, unknown> => ({
      resourceType: 'TOPIC', resourceName: 'orders', patternType: 'LITERAL', principal: 'User:alice', host: '*', operation: 'READ', permissionType: 'ALLOW', ...o,
    });
    assert.deepEqual(run(31, 3, request, response), [
      expected({
        ...base, resource: { type: 'Topic', name: 'orders', patternType: 'MATCH' }, result: OK,
        details: {
          filter: { resourceType: 'TOPIC', resourceName: 'orders', patternType: 'MATCH', principal: null, host: null, operation: 'ANY', permissionType: 'ANY' },
          matchingAclCount: 2,
          matchingAcls: [binding({}), binding({ resourceName: 'ord', patternType: 'PREFIXED', operation: 'WRITE' })],
        },
      }),
      expected({
        ...base, resource: CLUSTER, result: err(31, 'Cannot delete.'),
        details: {
          filter: { resourceType: 'ANY', resourceName: null, patternType: 'ANY', principal: 'User:mallory', host: null, operation: 'ANY', permissionType: 'ANY' },
          matchingAclCount: 1,
          matchingAcls: [binding({ resourceType: 'GROUP', resourceName: 'g', principal: 'User:mallory', error: 'CLUSTER_AUTHORIZATION_FAILED' })],
        },
      }),
      expected({
        ...base, resource: { type: 'Group', name: 'billing', patternType: 'LITERAL' },
        result: { errorCode: 31, errorName: 'CLUSTER_AUTHORIZATION_FAILED', message: 'Cluster authorization failed.' },
        details: {
          filter: { resourceType: 'GROUP', resourceName: 'billing', patternType: 'LITERAL', principal: null, host: null, operation: 'ANY', permissionType: 'ANY' },
          matchingAclCount: 0, matchingAcls: [],
        },
      }),
    ]);
  });

  test('DescribeAcls (29) v3: one describe op on the cluster', () => {
    const request = { ResourceTypeFilter: 2, ResourceNameFilter: null, PatternTypeFilter: 1, PrincipalFilter: 'User:alice', HostFilter: null, Operation: 1, PermissionType: 1 };
    const response = {
      ThrottleTimeMs: 0, ErrorCode: 0, ErrorMessage: null,
      Resources: [
        { ResourceType: 2, ResourceName: 'orders', PatternType: 3, Acls: [{ Principal: 'User:alice', Host: '*', Operation: 3, PermissionType: 3 }, { Principal: 'User:alice', Host: '*', Operation: 8, PermissionType: 3 }] },
        { ResourceType: 2, ResourceName: 'pay', PatternType: 4, Acls: [{ Principal: 'User:alice', Host: '*', Operation: 4, PermissionType: 3 }] },
      ],
    };
    const base = { apiKey: 29, method: 'DescribeAcls', category: 'describe' as const, operation: 'Describe', resource: CLUSTER };
    const filter = { resourceType: 'TOPIC', resourceName: null, patternType: 'ANY', principal: 'User:alice', host: null, operation: 'ANY', permissionType: 'ANY' };
    assert.deepEqual(run(29, 3, request, response), [
      expected({ ...base, version: 3, result: OK, details: { filter, matchingResourceCount: 2, matchingAclCount: 3 } }),
    ]);
    const denied = { ThrottleTimeMs: 0, ErrorCode: 31, ErrorMessage: null, Resources: [] };
    assert.deepEqual(run(29, 2, request, denied), [
      expected({ ...base, version: 2, result: err(31), details: { filter, matchingResourceCount: 0, matchingAclCount: 0 } }),
    ]);
  });
});

// ------------------------------------------------------------------------------------------------------------
// Configs and quotas

describe('configs', () => {
  test('AlterConfigs (33) v2: per resource, secrets redacted, paired by (type, name)', () => {
    const request = {
      Resources: [
        {
          ResourceType: 4, ResourceName: '1',
          Configs: [
            { Name: 'ssl.keystore.password', Value: SECRETS.keystorePassword },
            { Name: 'listener.name.sasl_ssl.plain.sasl.jaas.config', Value: `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${SECRETS.jaasPassword}";` },
            { Name: 'log.cleaner.threads', Value: '2' },
          ],
        },
        { ResourceType: 2, ResourceName: 'orders', Configs: [{ Name: 'retention.ms', Value: '86400000' }] },
        { ResourceType: 32, ResourceName: 'billing', Configs: [{ Name: 'consumer.session.timeout.ms', Value: '45000' }] },
      ],
      ValidateOnly: false,
    };
    const response = {
      ThrottleTimeMs: 0,
      Responses: [
        { ErrorCode: 29, ErrorMessage: null, ResourceType: 2, ResourceName: 'orders' },
        { ErrorCode: 0, ErrorMessage: null, ResourceType: 32, ResourceName: 'billing' },
        { ErrorCode: 40, ErrorMessage: 'Invalid value for log.cleaner.threads.', ResourceType: 4, ResourceName: '1' },
      ],
    };
    const base = { apiKey: 33, method: 'AlterConfigs', category: 'management' as const, operation: 'AlterConfigs', version: 2 };
    assert.deepEqual(run(33, 2, request, response), [
      expected({
        ...base, resource: { type: 'Broker', name: '1' }, result: err(40, 'Invalid value for log.cleaner.threads.'),
        details: {
          configResourceType: 'BROKER',
          configs: { 'ssl.keystore.password': '[REDACTED]', 'listener.name.sasl_ssl.plain.sasl.jaas.config': '[REDACTED]', 'log.cleaner.threads': '2' },
        },
      }),
      expected({
        ...base, resource: { type: 'Topic', name: 'orders' }, result: err(29),
        details: { configResourceType: 'TOPIC', configs: { 'retention.ms': '86400000' } },
      }),
      expected({
        ...base, resource: { type: 'Group', name: 'billing' }, result: OK,
        details: { configResourceType: 'GROUP', configs: { 'consumer.session.timeout.ms': '45000' } },
      }),
    ]);
  });

  test('IncrementalAlterConfigs (44) v1: ops, BROKER_LOGGER, CLIENT_METRICS on the cluster, validateOnly', () => {
    const request = {
      Resources: [
        {
          ResourceType: 2, ResourceName: 'orders',
          Configs: [
            { Name: 'retention.ms', ConfigOperation: 0, Value: '3600000' },
            { Name: 'cleanup.policy', ConfigOperation: 2, Value: 'compact' },
            { Name: 'min.cleanable.dirty.ratio', ConfigOperation: 1, Value: null },
          ],
        },
        { ResourceType: 8, ResourceName: '1', Configs: [{ Name: 'kafka.server.KafkaApis', ConfigOperation: 0, Value: 'DEBUG' }] },
        { ResourceType: 16, ResourceName: 'sub-1', Configs: [{ Name: 'metrics', ConfigOperation: 3, Value: 'org.apache.kafka.producer.' }] },
        { ResourceType: 4, ResourceName: '', Configs: [{ Name: 'ssl.keystore.password', ConfigOperation: 0, Value: SECRETS.keystorePassword }] },
      ],
      ValidateOnly: true,
    };
    const response = {
      ThrottleTimeMs: 0,
      Responses: [
        { ErrorCode: 0, ErrorMessage: null, ResourceType: 2, ResourceName: 'orders' },
        { ErrorCode: 0, ErrorMessage: null, ResourceType: 8, ResourceName: '1' },
        { ErrorCode: 31, ErrorMessage: null, ResourceType: 16, ResourceName: 'sub-1' },
        { ErrorCode: 0, ErrorMessage: null, ResourceType: 4, ResourceName: '' },
      ],
    };
    const base = { apiKey: 44, method: 'IncrementalAlterConfigs', category: 'management' as const, operation: 'AlterConfigs', version: 1 };
    assert.deepEqual(run(44, 1, request, response), [
      expected({
        ...base, resource: { type: 'Topic', name: 'orders' }, result: OK,
        details: {
          configResourceType: 'TOPIC', validateOnly: true,
          configs: {
            'retention.ms': { op: 'SET', value: '3600000' },
            'cleanup.policy': { op: 'APPEND', value: 'compact' },
            'min.cleanable.dirty.ratio': { op: 'DELETE', value: null },
          },
        },
      }),
      expected({
        ...base, resource: { type: 'Broker', name: '1' }, result: OK,
        details: { configResourceType: 'BROKER_LOGGER', validateOnly: true, configs: { 'kafka.server.KafkaApis': { op: 'SET', value: 'DEBUG' } } },
      }),
      expected({
        ...base, resource: CLUSTER, result: err(31),
        details: {
          configResourceType: 'CLIENT_METRICS', configResourceName: 'sub-1', validateOnly: true,
          configs: { metrics: { op: 'SUBTRACT', value: 'org.apache.kafka.producer.' } },
        },
      }),
      expected({
        ...base, resource: { type: 'Broker', name: '' }, result: OK,
        details: { configResourceType: 'BROKER', validateOnly: true, configs: { 'ssl.keystore.password': { op: 'SET', value: '[REDACTED]' } } },
      }),
    ]);
  });

  test('DescribeConfigs (32) v4: a describe op per resource', () => {
    const request = {
      Resources: [
        { ResourceType: 2, ResourceName: 'orders', ConfigurationKeys: ['retention.ms'] },
        { ResourceType: 4, ResourceName: '1', ConfigurationKeys: null },
      ],
      IncludeSynonyms: false, IncludeDocumentation: false,
    };
    const response = {
      ThrottleTimeMs: 0,
      Results: [
        {
          ErrorCode: 0, ErrorMessage: null, ResourceType: 2, ResourceName: 'orders',
          Configs: [{ Name: 'retention.ms', Value: '604800000', ReadOnly: false, ConfigSource: 5, IsSensitive: false, Synonyms: [], ConfigType: 5, Documentation: null }],
        },
        { ErrorCode: 31, ErrorMessage: 'Cluster authorization failed.', ResourceType: 4, ResourceName: '1', Configs: [] },
      ],
    };
    const base = { apiKey: 32, method: 'DescribeConfigs', category: 'describe' as const, operation: 'DescribeConfigs', version: 4 };
    assert.deepEqual(run(32, 4, request, response), [
      expected({ ...base, resource: { type: 'Topic', name: 'orders' }, result: OK, details: { configResourceType: 'TOPIC', configurationKeys: ['retention.ms'] } }),
      expected({ ...base, resource: { type: 'Broker', name: '1' }, result: err(31, 'Cluster authorization failed.'), details: { configResourceType: 'BROKER' } }),
    ]);
  });

  test('AlterClientQuotas (49) v1: entity name, ops, pairing independent of entity order', () => {
    const request = {
      Entries: [
        {
          Entity: [{ EntityType: 'user', EntityName: 'alice' }, { EntityType: 'client-id', EntityName: 'x' }],
          Ops: [{ Key: 'producer_byte_rate', Value: 1048576, Remove: false }, { Key: 'consumer_byte_rate', Value: 0, Remove: true }],
        },
        { Entity: [{ EntityType: 'user', EntityName: null }], Ops: [{ Key: 'request_percentage', Value: 25.5, Remove: false }] },
      ],
      ValidateOnly: false,
    };
    const response = {
      ThrottleTimeMs: 0,
      Entries: [
        { ErrorCode: 31, ErrorMessage: null, Entity: [{ EntityType: 'user', EntityName: null }] },
        { ErrorCode: 0, ErrorMessage: null, Entity: [{ EntityType: 'client-id', EntityName: 'x' }, { EntityType: 'user', EntityName: 'alice' }] },
      ],
    };
    const base = { apiKey: 49, method: 'AlterClientQuotas', category: 'management' as const, operation: 'AlterConfigs', version: 1 };
    assert.deepEqual(run(49, 1, request, response), [
      expected({
        ...base, resource: { type: 'ClientQuota', name: 'user=alice,client-id=x' }, result: OK,
        details: { ops: [{ quota: 'producer_byte_rate', value: 1048576, remove: false }, { quota: 'consumer_byte_rate', value: 0, remove: true }] },
      }),
      expected({
        ...base, resource: { type: 'ClientQuota', name: 'user=<default>' }, result: err(31),
        details: { ops: [{ quota: 'request_percentage', value: 25.5, remove: false }] },
      }),
    ]);
  });
});

// ------------------------------------------------------------------------------------------------------------
// SCRAM credentials and delegation tokens

test('AlterUserScramCredentials (51) v0: per user, mechanism and iterations, never the salt or salted password', () => {
  const request = {
    Deletions: [{ Name: 'bob', Mechanism: 2 }],
    Upsertions: [
      { Name: 'alice', Mechanism: 1, Iterations: 8192, Salt: SECRETS.salt, SaltedPassword: SECRETS.saltedPassword },
      { Name: 'bob', Mechanism: 1, Iterations: 4096, Salt: SECRETS.salt, SaltedPassword: SECRETS.saltedPassword },
    ],
  };
  const response = {
    ThrottleTimeMs: 0,
    Results: [
      { User: 'alice', ErrorCode: 0, ErrorMessage: null },
      { User: 'bob', ErrorCode: 93, ErrorMessage: 'Iterations 4096 is less than the minimum 8192.' },
    ],
  };
  const base = { apiKey: 51, method: 'AlterUserScramCredentials', category: 'management' as const, operation: 'Alter', version: 0 };
  const ops = run(51, 0, request, response);
  assert.deepEqual(ops, [
    expected({
      ...base, resource: { type: 'User', name: 'bob' }, result: err(93, 'Iterations 4096 is less than the minimum 8192.'),
      details: { changes: [{ mechanism: 'SCRAM-SHA-512', deleted: true }, { mechanism: 'SCRAM-SHA-256', iterations: 4096 }] },
    }),
    expected({
      ...base, resource: { type: 'User', name: 'alice' }, result: OK,
      details: { changes: [{ mechanism: 'SCRAM-SHA-256', iterations: 8192 }] },
    }),
  ]);
});

describe('delegation tokens', () => {
  const fingerprint = `hmac-sha256:${createHash('sha256').update(SECRETS.hmac).digest('hex').slice(0, 16)}`;

  test('CreateDelegationToken (38) v3: named by TokenId, never the HMAC', () => {
    const request = {
      OwnerPrincipalType: 'User', OwnerPrincipalName: 'svc-etl',
      Renewers: [{ PrincipalType: 'User', PrincipalName: 'ops' }],
      MaxLifetimeMs: 604800000n,
    };
    const response = {
      ErrorCode: 0, PrincipalType: 'User', PrincipalName: 'svc-etl', TokenRequesterPrincipalType: 'User', TokenRequesterPrincipalName: 'admin',
      IssueTimestampMs: 1760000000000n, ExpiryTimestampMs: 1760086400000n, MaxTimestampMs: 1760604800000n,
      TokenId: 'MGZhZGQzNWItYTYw', Hmac: SECRETS.hmac, ThrottleTimeMs: 0,
    };
    const base = { apiKey: 38, method: 'CreateDelegationToken', category: 'management' as const, operation: 'Create' };
    assert.deepEqual(run(38, 3, request, response), [
      expected({
        ...base, version: 3, resource: { type: 'DelegationToken', name: 'MGZhZGQzNWItYTYw' }, result: OK,
        details: { owner: 'User:svc-etl', renewers: ['User:ops'], maxLifetimeMs: 604800000 },
      }),
    ]);
    const v2Request = { Renewers: [], MaxLifetimeMs: -1n };
    const v2Denied = {
      ErrorCode: 64, PrincipalType: '', PrincipalName: '', IssueTimestampMs: -1n, ExpiryTimestampMs: -1n, MaxTimestampMs: -1n,
      TokenId: '', Hmac: Buffer.alloc(0), ThrottleTimeMs: 0,
    };
    assert.deepEqual(run(38, 2, v2Request, v2Denied), [
      expected({ ...base, version: 2, resource: { type: 'DelegationToken', name: '(not issued)' }, result: err(64), details: { renewers: [], maxLifetimeMs: -1 } }),
    ]);
  });

  test('RenewDelegationToken (39) v2: Alter, named by the HMAC fingerprint', () => {
    const ops = run(39, 2, { Hmac: SECRETS.hmac, RenewPeriodMs: 86400000n }, { ErrorCode: 0, ExpiryTimestampMs: 1760086400000n, ThrottleTimeMs: 0 });
    assert.deepEqual(ops, [
      expected({
        apiKey: 39, method: 'RenewDelegationToken', category: 'management', version: 2, operation: 'Alter',
        resource: { type: 'DelegationToken', name: fingerprint }, result: OK, details: { renewPeriodMs: 86400000, expiryTimestampMs: 1760086400000 },
      }),
    ]);
    assert.match(ops[0].resource.name, /^hmac-sha256:[0-9a-f]{16}$/);
  });

  test('ExpireDelegationToken (40) v2: Delete, named by the HMAC fingerprint', () => {
    assert.deepEqual(run(40, 2, { Hmac: SECRETS.hmac, ExpiryTimePeriodMs: -1n }, { ErrorCode: 62, ExpiryTimestampMs: -1n, ThrottleTimeMs: 0 }), [
      expected({
        apiKey: 40, method: 'ExpireDelegationToken', category: 'management', version: 2, operation: 'Delete',
        resource: { type: 'DelegationToken', name: fingerprint }, result: err(62), details: { expiryTimePeriodMs: -1 },
      }),
    ]);
  });
});

// ------------------------------------------------------------------------------------------------------------
// Scope

describe('scope', () => {
  test('Metadata yields operations only for topics the broker created for it; DescribeCluster yields none', () => {
    assert.deepEqual(run(3, 12, { Topics: null, AllowAutoTopicCreation: true, IncludeTopicAuthorizedOperations: false }, undefined), []);
    const asks = { Topics: [{ TopicId: 'AAAAAAAAAAAAAAAAAAAAAA', Name: 'new-one' }, { TopicId: 'AAAAAAAAAAAAAAAAAAAAAA', Name: 'old-one' }], IncludeTopicAuthorizedOperations: false };
    const topic = (Name: string, ErrorCode: number) => ({ ErrorCode, Name, TopicId: 'AAAAAAAAAAAAAAAAAAAAAA', IsInternal: false, Partitions: [], TopicAuthorizedOperations: -2147483648 });
    const answer = { ThrottleTimeMs: 0, Brokers: [], ClusterId: 'c', ControllerId: 1, Topics: [topic('new-one', 3), topic('old-one', 0)] };
    assert.deepEqual(run(3, 12, { ...asks, AllowAutoTopicCreation: false }, answer), [], 'no auto-creation asked: nothing');
    const ops = run(3, 12, { ...asks, AllowAutoTopicCreation: true }, answer);
    assert.deepEqual(ops.map((o) => [o.method, o.category, o.resource.name, o.operation, o.result.errorCode, o.details?.autoTopicCreation]),
      [['Metadata', 'management', 'new-one', 'Create', 3, 'requested']], 'unknown to the broker: it may be creating it; 0: it existed');
    assert.deepEqual(run(3, 12, { ...asks, AllowAutoTopicCreation: true }, undefined).map((o) => [o.resource.name, o.result.message]),
      [['new-one', 'no response: connection closed'], ['old-one', 'no response: connection closed']], 'no answer: each may have been created');
    assert.deepEqual(run(60, 1, { IncludeClusterAuthorizedOperations: false, EndpointType: 1 }, undefined), []);
    assert.equal(AUDITED_API_KEYS.has(60), false);
  });

  test('a SaslAuthenticate request (carrying a PLAIN password) is not something the extractor turns into operations', () => {
    const authBytes = Buffer.from(`\u0000admin\u0000${SECRETS.saslPassword}`);
    assert.deepEqual(run(36, 2, { AuthBytes: authBytes }, { ErrorCode: 0, ErrorMessage: null, AuthBytes: Buffer.alloc(0), SessionLifetimeMs: 0n }), []);
  });

  test('AUDITED_API_KEYS and categoryOf', () => {
    const described = [3, 15, 16, 19, 20, 21, 29, 30, 31, 32, 33, 37, 38, 39, 40, 42, 43, 44, 45, 47, 49, 51, 77, 90, 91, 92];
    for (const k of described) assert.ok(AUDITED_API_KEYS.has(k), `key ${k} audited`);
    // Management APIs without a descriptor of their own are audited too (one operation on the cluster).
    for (const k of [27, 34, 57, 64, 80, 81]) assert.ok(AUDITED_API_KEYS.has(k), `generic management key ${k} audited`);
    // Reads, logins, data and client telemetry are not (Produce/Fetch are DATA_API_KEYS).
    for (const k of [0, 1, 2, 8, 9, 10, 17, 18, 36, 60, 71, 72]) assert.equal(AUDITED_API_KEYS.has(k), false, `key ${k} not audited`);
    for (const k of [15, 16, 29, 32, 60, 77, 90]) assert.equal(categoryOf(k), 'describe', `key ${k}`);
    for (const k of [3, 19, 20, 21, 30, 31, 33, 37, 38, 39, 40, 42, 43, 44, 45, 47, 49, 51, 57, 64, 91, 92]) assert.equal(categoryOf(k), 'management', `key ${k}`);
    assert.equal(categoryOf(36), 'authentication');
    assert.equal(categoryOf(0), 'produce');
    assert.equal(categoryOf(1), 'consume');
    assert.equal(categoryOf(999), 'management');
  });

  test('a management API without a descriptor: one operation on the cluster with the response\'s error', () => {
    const ops = run(64, 0, { BrokerId: 999 }, { ThrottleTimeMs: 0, ErrorCode: 102, ErrorMessage: 'Broker ID not registered' });
    assert.deepEqual(ops.map((o) => [o.method, o.category, o.resource.type, o.operation, o.result.errorCode, o.result.message]),
      [['UnregisterBroker', 'management', 'Cluster', 'UnregisterBroker', 102, 'Broker ID not registered']]);
  });

  test('every audited key has a schema', () => {
    for (const k of AUDITED_API_KEYS) assert.ok(API_SCHEMAS.has(k), `no schema for ${k}`);
  });
});

describe('Produce and Fetch (produce/consume categories)', () => {
  test('Produce v9 by name: one Write per topic, bytes counted, payload never copied', () => {
    const records = Buffer.from('record-batch-bytes-with-a-payload');
    const ops = run(0, 9, {
      TransactionalId: null, Acks: -1, TimeoutMs: 30000,
      TopicData: [{ Name: 'orders', PartitionData: [{ Index: 0, Records: records }, { Index: 2, Records: records }] }],
    }, {
      Responses: [{ Name: 'orders', PartitionResponses: [
        { Index: 0, ErrorCode: 0, BaseOffset: 5n, LogAppendTimeMs: -1n, LogStartOffset: 0n, RecordErrors: [], ErrorMessage: null },
        { Index: 2, ErrorCode: 0, BaseOffset: 9n, LogAppendTimeMs: -1n, LogStartOffset: 0n, RecordErrors: [], ErrorMessage: null },
      ] }], ThrottleTimeMs: 0,
    });
    assert.deepEqual(ops, [expected({
      apiKey: 0, method: 'Produce', category: 'produce', version: 9, resource: { type: 'Topic', name: 'orders' }, operation: 'Write',
      result: OK, details: { partitions: [0, 2], bytes: records.length * 2, acks: -1 },
    })]);
    assert.ok(!JSON.stringify(ops, bigintReplacer).includes('payload'));
  });

  test('Produce: TOPIC_AUTHORIZATION_FAILED on a partition is the topic\'s result', () => {
    const ops = run(0, 3, {
      TransactionalId: null, Acks: 1, TimeoutMs: 1000, TopicData: [{ Name: 'payments', PartitionData: [{ Index: 0, Records: null }] }],
    }, { Responses: [{ Name: 'payments', PartitionResponses: [{ Index: 0, ErrorCode: 29, BaseOffset: -1n, LogAppendTimeMs: -1n }] }], ThrottleTimeMs: 0 });
    assert.equal(ops.length, 1);
    assert.deepEqual(ops[0].result, { errorCode: 29, errorName: 'TOPIC_AUTHORIZATION_FAILED', message: kafkaError(29).message });
  });

  test('Fetch v13 by topic id resolves the name; one Read per topic', () => {
    const part = { Partition: 1, CurrentLeaderEpoch: -1, FetchOffset: 0n, LastFetchedEpoch: -1, LogStartOffset: -1n, PartitionMaxBytes: 1048576 };
    const ops = run(1, 13, {
      ReplicaId: -1, MaxWaitMs: 500, MinBytes: 1, MaxBytes: 52428800, IsolationLevel: 0, SessionId: 0, SessionEpoch: -1,
      Topics: [{ TopicId: ORDERS_ID, Partitions: [part] }], ForgottenTopicsData: [], RackId: '',
    }, {
      ThrottleTimeMs: 0, ErrorCode: 0, SessionId: 0,
      Responses: [{ TopicId: ORDERS_ID, Partitions: [{ PartitionIndex: 1, ErrorCode: 0, HighWatermark: 3n, LastStableOffset: 3n, LogStartOffset: 0n, AbortedTransactions: null, PreferredReadReplica: -1, Records: Buffer.from('abc') }] }],
    });
    assert.deepEqual(ops, [expected({
      apiKey: 1, method: 'Fetch', category: 'consume', version: 13, resource: { type: 'Topic', name: 'orders' }, operation: 'Read',
      result: OK, details: { partitions: [1], bytes: 3 },
    })]);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditOperation, ConnectionInfo } from '../../src/audit/operation.js';
import {
  buildAuditEvent, buildLifecycleEvent, isSecretKey, resourceCrn, sanitizeDetails, LIFECYCLE_TYPE, LIFECYCLE_KINDS,
} from '../../src/audit/event.js';
import { assertNoSecret } from '../harness/secrets.js';

const CLUSTER = 'Qe3x9TAbR1uF2wq0l7m3Zg';
const ctx = { clusterId: CLUSTER };
const T = Date.parse('2025-03-04T09:20:11.530Z');
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const bob: ConnectionInfo = {
  connectionId: 'c-17', clientAddress: '10.1.4.22:53122', principal: 'User:bob', saslMechanism: 'SCRAM-SHA-256',
  securityProtocol: 'SASL_SSL', clientSoftwareName: 'apache-kafka-java', clientSoftwareVersion: '3.9.1',
};

function withoutId<T extends { id: string }>(e: T): Omit<T, 'id'> {
  assert.match(e.id, UUID_RE);
  const { id: _id, ...rest } = e;
  return rest;
}

test('CreateTopics success: exact event', () => {
  const op: AuditOperation = {
    category: 'management', method: 'CreateTopics', apiKey: 19, apiVersion: 7, correlationId: 7, clientId: 'adminclient-3',
    connection: bob, resource: { type: 'Topic', name: 'orders', patternType: 'LITERAL' }, operation: 'Create',
    result: { errorCode: 0, errorName: 'NONE' }, details: { numPartitions: 6, replicationFactor: 3, configs: { 'cleanup.policy': 'compact' } }, timeMs: T,
  };
  const ev = buildAuditEvent(op, ctx);
  assert.deepEqual(withoutId(ev), {
    specversion: '1.0',
    source: `crn:///kafka=${CLUSTER}`,
    subject: `crn:///kafka=${CLUSTER}/topic=orders`,
    type: 'io.confluent.kafka.server/request',
    datacontenttype: 'application/json',
    time: '2025-03-04T09:20:11.530Z',
    data: {
      serviceName: `crn:///kafka=${CLUSTER}`,
      methodName: 'kafka.CreateTopics',
      resourceName: `crn:///kafka=${CLUSTER}/topic=orders`,
      authenticationInfo: { principal: 'User:bob', metadata: { mechanism: 'SASL_SSL/SCRAM-SHA-256' } },
      authorizationInfo: { granted: true, operation: 'Create', resourceType: 'Topic', resourceName: 'orders', patternType: 'LITERAL' },
      request: { correlation_id: '7', client_id: 'adminclient-3' },
      requestMetadata: { client_address: '10.1.4.22:53122' },
      result: { status: 'SUCCESS', message: '', errorCode: 0, errorName: 'NONE' },
      clientInfo: { softwareName: 'apache-kafka-java', softwareVersion: '3.9.1' },
      details: { numPartitions: 6, replicationFactor: 3, configs: { 'cleanup.policy': 'compact' } },
    },
  });
  // Structured-mode JSON round trip keeps it identical.
  assert.deepEqual(JSON.parse(JSON.stringify(ev)), ev);
});

test('CreateTopics TOPIC_ALREADY_EXISTS: request type, FAILURE, still granted', () => {
  const op: AuditOperation = {
    category: 'management', method: 'CreateTopics', correlationId: 8, clientId: null,
    connection: { ...bob, saslMechanism: undefined, securityProtocol: 'PLAINTEXT', principal: 'User:ANONYMOUS', clientSoftwareName: undefined, clientSoftwareVersion: undefined },
    resource: { type: 'Topic', name: 'orders' }, operation: 'Create',
    result: { errorCode: 36, errorName: 'TOPIC_ALREADY_EXISTS', message: "Topic 'orders' already exists." }, timeMs: T,
  };
  assert.deepEqual(withoutId(buildAuditEvent(op, { clusterId: CLUSTER, crnAuthority: 'mds.example.com' })), {
    specversion: '1.0',
    source: `crn://mds.example.com/kafka=${CLUSTER}`,
    subject: `crn://mds.example.com/kafka=${CLUSTER}/topic=orders`,
    type: 'io.confluent.kafka.server/request',
    datacontenttype: 'application/json',
    time: '2025-03-04T09:20:11.530Z',
    data: {
      serviceName: `crn://mds.example.com/kafka=${CLUSTER}`,
      methodName: 'kafka.CreateTopics',
      resourceName: `crn://mds.example.com/kafka=${CLUSTER}/topic=orders`,
      authenticationInfo: { principal: 'User:ANONYMOUS', metadata: { mechanism: 'PLAINTEXT' } },
      authorizationInfo: { granted: true, operation: 'Create', resourceType: 'Topic', resourceName: 'orders', patternType: 'LITERAL' },
      request: { correlation_id: '8', client_id: null },
      requestMetadata: { client_address: '10.1.4.22:53122' },
      result: { status: 'FAILURE', message: "Topic 'orders' already exists.", errorCode: 36, errorName: 'TOPIC_ALREADY_EXISTS' },
    },
  });
});

test('DeleteTopics TOPIC_AUTHORIZATION_FAILED: authorization type, UNAUTHORIZED, granted false', () => {
  const op: AuditOperation = {
    category: 'management', method: 'DeleteTopics', correlationId: 9, clientId: 'adminclient-3', connection: bob,
    resource: { type: 'Topic', name: 'orders', patternType: 'LITERAL' }, operation: 'Delete',
    result: { errorCode: 29, errorName: 'TOPIC_AUTHORIZATION_FAILED', message: 'Topic authorization failed.' }, timeMs: T,
  };
  const ev = buildAuditEvent(op, ctx);
  assert.deepEqual(withoutId(ev), {
    specversion: '1.0',
    source: `crn:///kafka=${CLUSTER}`,
    subject: `crn:///kafka=${CLUSTER}/topic=orders`,
    type: 'io.confluent.kafka.server/authorization',
    datacontenttype: 'application/json',
    time: '2025-03-04T09:20:11.530Z',
    data: {
      serviceName: `crn:///kafka=${CLUSTER}`,
      methodName: 'kafka.DeleteTopics',
      resourceName: `crn:///kafka=${CLUSTER}/topic=orders`,
      authenticationInfo: { principal: 'User:bob', metadata: { mechanism: 'SASL_SSL/SCRAM-SHA-256' } },
      authorizationInfo: { granted: false, operation: 'Delete', resourceType: 'Topic', resourceName: 'orders', patternType: 'LITERAL' },
      request: { correlation_id: '9', client_id: 'adminclient-3' },
      requestMetadata: { client_address: '10.1.4.22:53122' },
      result: { status: 'UNAUTHORIZED', message: 'Topic authorization failed.', errorCode: 29, errorName: 'TOPIC_AUTHORIZATION_FAILED' },
      clientInfo: { softwareName: 'apache-kafka-java', softwareVersion: '3.9.1' },
    },
  });
});

test('SASL PLAIN failure: authentication type, UNAUTHENTICATED, identifier, and no password anywhere', () => {
  const secret = 'hunter2-Sup3rS3cret';
  const op: AuditOperation = {
    category: 'authentication', method: 'Authentication', apiKey: 36, correlationId: 2, clientId: 'rdkafka',
    connection: { connectionId: 'c-9', clientAddress: '[2001:db8::7]:40001', principal: 'User:alice', saslMechanism: 'PLAIN', securityProtocol: 'SASL_PLAINTEXT' },
    resource: { type: 'Cluster', name: 'kafka-cluster' }, operation: 'Authenticate',
    result: { errorCode: 58, errorName: 'SASL_AUTHENTICATION_FAILED', message: 'Authentication failed: Invalid username or password' },
    details: {
      username: 'alice', password: secret, saslAuthBytes: `\u0000alice\u0000${secret}`,
      nested: { credentials: { pass: secret }, list: [{ token: secret, tokenId: 'tok-1' }], clientSecret: secret },
      configs: [{ name: 'sasl.jaas.config', value: `... password="${secret}";` }, { name: 'retention.ms', value: '1000' }],
      attempt: 1,
    },
    timeMs: T,
  };
  const ev = buildAuditEvent(op, ctx);
  assert.deepEqual(withoutId(ev), {
    specversion: '1.0',
    source: `crn:///kafka=${CLUSTER}`,
    subject: `crn:///kafka=${CLUSTER}`,
    type: 'io.confluent.kafka.server/authentication',
    datacontenttype: 'application/json',
    time: '2025-03-04T09:20:11.530Z',
    data: {
      serviceName: `crn:///kafka=${CLUSTER}`,
      methodName: 'kafka.Authentication',
      resourceName: `crn:///kafka=${CLUSTER}`,
      authenticationInfo: { principal: 'User:alice', metadata: { mechanism: 'SASL_PLAINTEXT/PLAIN', identifier: 'alice' } },
      request: { correlation_id: '2', client_id: 'rdkafka' },
      requestMetadata: { client_address: '[2001:db8::7]:40001' },
      result: { status: 'UNAUTHENTICATED', message: 'Authentication failed: Invalid username or password', errorCode: 58, errorName: 'SASL_AUTHENTICATION_FAILED' },
      details: {
        username: 'alice',
        nested: { list: [{ tokenId: 'tok-1' }] },
        configs: [{ name: 'sasl.jaas.config', valueRedacted: true }, { name: 'retention.ms', value: '1000' }],
        attempt: 1,
      },
    },
  });
  const json = JSON.stringify(ev);
  assertNoSecret(json, { 'the password': secret }, 'the event'); // in any encoding: base64, hex, a Buffer's JSON, ...
  assert.ok(!json.includes('hunter2'), 'part of the password leaked');
  assert.ok(!/"(password|pass|token|clientSecret|credentials|saslAuthBytes)"/.test(json), 'secret-looking key leaked');
});

test('no response: UNKNOWN status and no granted claim', () => {
  const ev = buildAuditEvent({
    category: 'management', method: 'DeleteGroups', correlationId: 3, clientId: 'x', connection: bob,
    resource: { type: 'Group', name: 'billing/eu=1' }, operation: 'Delete', result: {}, timeMs: T,
  }, ctx);
  assert.equal(ev.data.result?.status, 'UNKNOWN');
  assert.equal(ev.data.authorizationInfo?.granted, undefined);
  assert.equal(ev.type, 'io.confluent.kafka.server/request');
  assert.equal(ev.subject, `crn:///kafka=${CLUSTER}/group=billing%2Feu%3D1`);
});

test('resource CRNs per type', () => {
  const crn = (type: Parameters<typeof resourceCrn>[1]['type'], name: string) => resourceCrn(ctx, { type, name });
  assert.equal(crn('Topic', 'orders'), `crn:///kafka=${CLUSTER}/topic=orders`);
  assert.equal(crn('Group', 'g1'), `crn:///kafka=${CLUSTER}/group=g1`);
  assert.equal(crn('TransactionalId', 'tx-1'), `crn:///kafka=${CLUSTER}/transactional-id=tx-1`);
  assert.equal(crn('DelegationToken', 'tok'), `crn:///kafka=${CLUSTER}/delegation-token=tok`);
  assert.equal(crn('User', 'alice'), `crn:///kafka=${CLUSTER}/user=alice`);
  assert.equal(crn('Cluster', 'kafka-cluster'), `crn:///kafka=${CLUSTER}`);
});

test('other authorization denials map to authorization/UNAUTHORIZED; SASL denial on a request too', () => {
  for (const errorName of ['GROUP_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'DELEGATION_TOKEN_REQUEST_NOT_ALLOWED']) {
    const ev = buildAuditEvent({
      category: 'management', method: 'X', connection: bob, resource: { type: 'Cluster', name: 'kafka-cluster' }, operation: 'Alter',
      result: { errorCode: 1, errorName }, timeMs: T,
    }, ctx);
    assert.equal(ev.type, 'io.confluent.kafka.server/authorization', errorName);
    assert.equal(ev.data.result?.status, 'UNAUTHORIZED');
    assert.equal(ev.data.authorizationInfo?.granted, false);
  }
});

test('secret key detection', () => {
  for (const k of ['password', 'saslPassword', 'ssl.keystore.password', 'client_secret', 'accessToken', 'token', 'credentials', 'authBytes', 'sasl.jaas.config', 'hmac', 'key', 'privateKey', 'pass']) {
    assert.ok(isSecretKey(k), k);
  }
  for (const k of ['username', 'topic', 'tokenId', 'partitions', 'apiKey', 'keyCount', 'compass']) {
    assert.ok(!isSecretKey(k), k);
  }
  const { clean, removed } = sanitizeDetails({ a: { password: 'x' }, b: [1, { secret: 2 }] });
  assert.deepEqual(clean, { a: {}, b: [1, {}] });
  assert.deepEqual(removed, ['a.password', 'b[1].secret']);
});

test('lifecycle events: own type, proxy.* method, sanitized details', () => {
  for (const kind of LIFECYCLE_KINDS) {
    const ev = buildLifecycleEvent(kind, ctx, { version: '0.1.0', sasl: { username: 'audit', password: 'nope' } }, T);
    assert.equal(ev.type, LIFECYCLE_TYPE);
    assert.equal(ev.subject, `crn:///kafka=${CLUSTER}`);
    assert.match(ev.data.methodName, /^proxy\.[A-Z][A-Za-z]+$/);
    assert.equal(ev.data.lifecycle, kind);
    assert.deepEqual(ev.data.details, { version: '0.1.0', sasl: { username: 'audit' } });
    assert.equal(ev.time, '2025-03-04T09:20:11.530Z');
  }
  assert.throws(() => buildLifecycleEvent('exploded' as never, ctx), /unknown lifecycle event kind "exploded"/);
});

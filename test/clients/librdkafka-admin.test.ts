/**
 * librdkafka as a client: Python's confluent-kafka (pinned in scripts/setup.sh, installed in .venv-clients) drives
 * every operation its AdminClient has, through the proxy (SASL upstream) to a real 3-broker cluster with ACLs:
 * each once succeeding and once failing (a principal without ACLs, or a resource that does not exist). Each case is
 * checked on the broker's side (through the PLAINTEXT listener, whose ANONYMOUS principal is a super user), then
 * its audit events on the audit topic, field by field, exactly once. A produce and a consume with librdkafka show
 * the data path is transparent.
 *
 * The driver (test/clients/librdkafka_admin.py) runs one operation per process with a client id of its own
 * (`rdk-<n>-<op>`), which is how the events of each operation are found. Rules: the `describe` category is on
 * (DescribeConfigs, DescribeAcls, ListGroups and DescribeGroups are audited only then), produce and consume are
 * `first-per-connection`. What the proxy does not audit at all (Metadata, DescribeCluster, ListOffsets,
 * OffsetFetch, DescribeUserScramCredentials) must give no event for a success, and its denials the
 * generic denial event (src/audit/denials.ts) of the request the broker refused.
 *
 * librdkafka quirks seen directly against the broker too (so not the proxy's doing), and handled here:
 * - AlterUserScramCredentials v0 requests carry 1 byte after the body (the last tagged-fields byte written twice),
 *   and the all-topics Metadata (v12 on Kafka 3.9, v13 on 4.1) of `list_topics` 3: its body is 00 00 00 00 01 00 00,
 *   four zero bytes where the one-byte null topics count belongs, so the broker reads topics null,
 *   AllowAutoTopicCreation false, IncludeTopicAuthorizedOperations false, no tagged fields, and ignores 01 00 00. The
 *   proxy must read them as the broker does: audited as decoded and forwarded, counted in
 *   kafka_proxy_request_trailing_bytes_total.
 * - elect_leaders raises SystemError for any keyword argument (confluent-kafka 2.12-2.16): called without one.
 * - describe_acls reports success with no bindings when the broker answered CLUSTER_AUTHORIZATION_FAILED.
 * - describe_user_scram_credentials by a principal without ALTER on the cluster may abort the Python process
 *   ("munmap_chunk(): invalid pointer") after the broker's answer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { pbkdf2Sync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { pino } from 'pino';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { freePortBase, metricValue } from '../harness/proxy.js';
import { waitFor } from '../harness/clients.js';
import { assertNoSecret } from '../harness/secrets.js';
import { startApp, type App } from '../../src/app.js';
import { verifyTopic } from '../../src/audit/verify.js';
import type { AuditEvent } from '../../src/audit/event.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const PYTHON = join(REPO, '.venv-clients', 'bin', 'python');
const DRIVER = join(REPO, 'test', 'clients', 'librdkafka_admin.py');

type Mechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
interface Login { user: string; password: string; mechanism: Mechanism }
const ADMIN: Login = { user: 'admin', password: 'admin-secret', mechanism: 'SCRAM-SHA-512' };
const ALICE: Login = { user: 'alice', password: 'alice-secret', mechanism: 'PLAIN' }; // no ACLs at all
/** A SCRAM login the broker refuses (unknown user). */
const stranger = (name: string): Login => ({ user: name, password: 'wrong-password-123', mechanism: 'SCRAM-SHA-512' });
const CAROL_PASSWORD = 'carol-scram-password-42';
const CAROL_SALT = 'carol-salt-0123456789';
/** What AlterUserScramCredentials carries: the salt and SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, 8192) (RFC 5802 Hi). */
const CAROL_SALTED = pbkdf2Sync(CAROL_PASSWORD, CAROL_SALT, 8192, 32, 'sha256');
const SECRETS = ['admin-secret', 'alice-secret', 'wrong-password-123', CAROL_PASSWORD, CAROL_SALT, CAROL_SALTED];

interface RdkError { code: number | null; name: string; message: string }
interface RdkResult { key: string | null; ok: boolean; value?: any; error?: RdkError }
interface RdkRun { clientId: string; login: Login; results: RdkResult[]; stderr: string }

/** What one operation's events must be: each expectation matches `count` events (default 1), no other event has its client id. */
interface Expected {
  method: string;
  /** Resource type and name, as in the event's authorizationInfo; type Cluster takes the cluster id as name. */
  resource: [string, string];
  operation: string;
  status: 'SUCCESS' | 'FAILURE' | 'UNAUTHORIZED';
  errorName: string;
  errorCode: number;
  message?: string | RegExp;
  details?: Record<string, unknown>;
  /** How many events (default 1); 'some': one per request, and librdkafka retries this one (FindCoordinator). */
  count?: number | 'some';
}
interface Case { run: RdkRun; expected: Expected[]; optional?: (e: AuditEvent) => boolean }
/** A refused login: events kafka.Authentication UNAUTHENTICATED for `login` (librdkafka may try more than once). */
interface RefusedLogin { run: RdkRun; login: Login }

describe('librdkafka (confluent-kafka) through the proxy: every AdminClient operation, audited', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let app: App;
  let work: string;
  let broker: Admin;
  let events: AuditEvent[] = [];
  let software: { softwareName: string; softwareVersion: string };
  const logLines: string[] = [];
  const trailing = new Map<string, number>();
  const cases = new Map<string, Case[]>();
  const refusedLogins = new Map<string, RefusedLogin[]>();
  const auditTopic = `audit-rdk-${Date.now()}`;
  const n = Date.now();
  const T = `rdk-a-${n}`; // created, altered, kept
  const T2 = `rdk-b-${n}`; // records, groups; deleted at the end
  const G = `rdk-group-${n}`;
  const CAROL = `carol-${n}`;
  let seq = 0;

  /** Runs one driver command; rejects on a driver crash unless `crashOk` (see the header). */
  function rdk(login: Login, op: string, args: Record<string, unknown> = {}, opts: { crashOk?: boolean } = {}): Promise<RdkRun> {
    const clientId = `rdk-${++seq}-${op}`;
    const cmd = JSON.stringify({ bootstrap: app.proxy.bootstrapAddress, ...login, clientId, op, args });
    return new Promise((resolvePromise, reject) => {
      execFile(PYTHON, [DRIVER, cmd], { timeout: 90_000 }, (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').pop() ?? '';
        if (err && !(opts.crashOk && /munmap_chunk|double free|free\(\)/.test(stderr))) {
          reject(new Error(`${clientId} failed (${err.message}):\n${stdout}\n${stderr.slice(-3000)}`));
          return;
        }
        const results = line.startsWith('{') ? (JSON.parse(line) as { results: RdkResult[] }).results : [];
        resolvePromise({ clientId, login, results, stderr });
      });
    });
  }

  /** The only result of a run, which must have succeeded; its value. */
  function ok(run: RdkRun): any {
    assert.equal(run.results.length, 1, `${run.clientId}: ${JSON.stringify(run.results)}`);
    assert.equal(run.results[0].ok, true, `${run.clientId}: ${JSON.stringify(run.results[0])}`);
    return run.results[0].value;
  }
  /** The only result of a run, which must have failed with `name`; its error. */
  function failed(run: RdkRun, name: string): RdkError {
    assert.equal(run.results.length, 1, `${run.clientId}: ${JSON.stringify(run.results)}`);
    assert.equal(run.results[0].ok, false, `${run.clientId} should have failed: ${JSON.stringify(run.results[0])}`);
    assert.equal(run.results[0].error!.name, name, `${run.clientId}: ${JSON.stringify(run.results[0].error)}`);
    return run.results[0].error!;
  }
  /** A run whose login the broker refused: librdkafka logs it and retries until the call times out, with no result. */
  function refusedByBroker(run: RdkRun): void {
    assert.match(run.stderr, /SASL authentication error/, run.clientId);
    assert.equal(run.results.length, 1, run.clientId);
    const r = run.results[0];
    assert.ok(!r.ok || (r.value.groups.length === 0 && /_TIMED_OUT/.test(r.value.errors.join())), `${run.clientId}: ${JSON.stringify(r)}`);
  }
  const expect = (op: string, run: RdkRun, expected: Expected[], optional?: (e: AuditEvent) => boolean): void => {
    cases.set(op, [...(cases.get(op) ?? []), { run, expected, optional }]);
  };
  const expectRefusedLogin = (op: string, run: RdkRun): void => {
    refusedLogins.set(op, [...(refusedLogins.get(op) ?? []), { run, login: run.login }]);
  };
  const cid = () => cluster.clusterId;
  const ok0 = { status: 'SUCCESS', errorName: 'NONE', errorCode: 0 } as const;
  const denied = (errorName: string, errorCode: number) => ({ status: 'UNAUTHORIZED', errorName, errorCode }) as const;
  // CLUSTER_AUTHORIZATION_FAILED messages name the broker's request object: "... is not authorized." (3.9), "... needs ALTER permission." (4.1)
const NOT_AUTHORIZED = /(is not authorized|needs [A-Z_]+ permission)\.$/;

  before(async () => {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} missing: run scripts/setup.sh (it installs confluent-kafka in .venv-clients)`);
    ({ cluster, release } = await useCluster(3));
    work = mkdtempSync(join(tmpdir(), 'kap-rdk-'));
    app = await startApp({
      env: {},
      log: pino({ level: 'debug' }, { write: (s: string) => { logLines.push(s); } }),
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase: await freePortBase(3), advertisedHost: '127.0.0.1', securityProtocol: 'SASL_PLAINTEXT' },
        upstream: { bootstrapServers: cluster.saslBootstrap.split(',') },
        admin: { enabled: false, host: '127.0.0.1', port: 0 },
        audit: {
          brokers: cluster.plainBootstrap.split(','), clusterId: cluster.clusterId, topic: auditTopic, partitions: 1, replicationFactor: 3,
          spool: { dir: join(work, 'audit'), fsync: 'always', maxBytes: 64 * 1024 * 1024 }, batch: { maxEvents: 100, lingerMs: 5 },
          rules: { categories: { describe: true, produce: 'first-per-connection', consume: 'first-per-connection' } },
        },
      },
    });
    broker = new Kafka({ clientId: 'rdk-broker-check', brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
    await broker.connect();
    const versions = await new Promise<string>((res, rej) => execFile(PYTHON, ['-c',
      "import confluent_kafka as c, importlib.metadata as m; print(m.version('confluent-kafka'), c.libversion()[0])"],
    (err, out) => (err ? rej(err) : res(out.trim()))));
    const [py, lib] = versions.split(' ');
    software = { softwareName: 'confluent-kafka-python', softwareVersion: `${py}-rdkafka-${lib}` };
  });

  after(async () => {
    await broker?.disconnect();
    await app?.stop();
    await release?.();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const topicConfig = async (topic: string, name: string): Promise<string | undefined> => {
    const { resources } = await broker.describeConfigs({ resources: [{ type: 2, name: topic, configNames: [name] }], includeSynonyms: false });
    return resources[0].configEntries.find((c) => c.configName === name)?.configValue;
  };
  const topicAcls = async (topic: string) =>
    (await broker.describeAcls({ resourceType: 2, resourceName: topic, resourcePatternType: 3, operation: 1, permissionType: 1 } as never)).resources
      .flatMap((r) => r.acls.map((a) => `${a.principal}:${a.operation}:${a.permissionType}`));
  /** On how many brokers the topic's ACL bindings are `expected`, asked of each broker directly. */
  const brokersWithAcls = async (topic: string, expected: string[]): Promise<number> => {
    let n = 0;
    for (const b of cluster.brokers) {
      const a = new Kafka({ clientId: 'rdk-acl-check', brokers: [`127.0.0.1:${b.plainPort}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
      try {
        const { resources } = await a.describeAcls({ resourceType: 2, resourceName: topic, resourcePatternType: 3, operation: 1, permissionType: 1 } as never);
        const got = resources.flatMap((r) => r.acls.map((x) => `${x.principal}:${x.operation}:${x.permissionType}`)).sort();
        if (JSON.stringify(got) === JSON.stringify([...expected].sort())) n++;
      } catch { /* not yet */ } finally { await a.disconnect().catch(() => undefined); }
    }
    return n;
  };
  /** On how many brokers `user` logs in with SCRAM-SHA-256, directly on their SASL listeners. */
  const scramLogins = async (user: string, password: string): Promise<number> => {
    const one = async (b: string): Promise<boolean> => {
      const a = new Kafka({ clientId: 'rdk-scram-check', brokers: [b], logLevel: logLevel.NOTHING, retry: { retries: 0 },
        sasl: { mechanism: 'scram-sha-256', username: user, password } }).admin();
      try { await a.connect(); return true; } catch { return false; } finally { await a.disconnect().catch(() => undefined); }
    };
    return (await Promise.all(cluster.saslBootstrap.split(',').map(one))).filter(Boolean).length;
  };

  describe('operations: what the client gets and what the brokers did', () => {
    test('create_topics: created; TOPIC_ALREADY_EXISTS; TOPIC_AUTHORIZATION_FAILED for alice', async () => {
      const created = await rdk(ADMIN, 'create_topics', { topics: [{ name: T, partitions: 1, replicationFactor: 3 }, { name: T2, partitions: 1 }] });
      assert.deepEqual(created.results.map((r) => [r.key, r.ok]).sort(), [[T, true], [T2, true]]);
      const exists = await rdk(ADMIN, 'create_topics', { topics: [{ name: T }] });
      failed(exists, 'TOPIC_ALREADY_EXISTS');
      const byAlice = await rdk(ALICE, 'create_topics', { topics: [{ name: `alice-${n}` }] });
      failed(byAlice, 'TOPIC_AUTHORIZATION_FAILED');
      await waitFor(async () => { const l = await broker.listTopics(); return l.includes(T) && l.includes(T2); }, 30_000, 'topics created');
      assert.ok(!(await broker.listTopics()).includes(`alice-${n}`), "alice's topic must not exist");

      const base = { method: 'CreateTopics', operation: 'Create' };
      expect('create_topics', created, [
        { ...base, resource: ['Topic', T], ...ok0, details: { numPartitions: 1, replicationFactor: 3, configs: {} } },
        { ...base, resource: ['Topic', T2], ...ok0, details: { numPartitions: 1, replicationFactor: -1, configs: {} } },
      ]);
      expect('create_topics', exists, [{ ...base, resource: ['Topic', T], status: 'FAILURE', errorName: 'TOPIC_ALREADY_EXISTS', errorCode: 36,
        message: `Topic '${T}' already exists.`, details: { numPartitions: 1, replicationFactor: -1 } }]);
      expect('create_topics', byAlice, [{ ...base, resource: ['Topic', `alice-${n}`], ...denied('TOPIC_AUTHORIZATION_FAILED', 29),
        message: 'Authorization failed.' }]);
    });

    test('create_partitions: 1 -> 2; TOPIC_AUTHORIZATION_FAILED for alice, still 2', async () => {
      const grown = await rdk(ADMIN, 'create_partitions', { topic: T, count: 2 });
      ok(grown);
      const byAlice = await rdk(ALICE, 'create_partitions', { topic: T, count: 3 });
      failed(byAlice, 'TOPIC_AUTHORIZATION_FAILED');
      await waitFor(async () => (await broker.fetchTopicMetadata({ topics: [T] })).topics[0].partitions.length === 2, 30_000, '2 partitions');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await broker.fetchTopicMetadata({ topics: [T] })).topics[0].partitions.length, 2);
      const base = { method: 'CreatePartitions', operation: 'Alter', resource: ['Topic', T] as [string, string] };
      expect('create_partitions', grown, [{ ...base, ...ok0, details: { count: 2 } }]);
      expect('create_partitions', byAlice, [{ ...base, ...denied('TOPIC_AUTHORIZATION_FAILED', 29), message: 'Topic authorization failed.', details: { count: 3 } }]);
    });

    test('alter_configs: retention.ms set; TOPIC_AUTHORIZATION_FAILED for alice, unchanged', async () => {
      const altered = await rdk(ADMIN, 'alter_configs', { name: T, configs: { 'retention.ms': '3600000' } });
      ok(altered);
      const byAlice = await rdk(ALICE, 'alter_configs', { name: T, configs: { 'retention.ms': '60000' } });
      failed(byAlice, 'TOPIC_AUTHORIZATION_FAILED');
      await waitFor(async () => (await topicConfig(T, 'retention.ms')) === '3600000', 30_000, 'retention.ms on every broker');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await topicConfig(T, 'retention.ms'), '3600000');
      const base = { method: 'AlterConfigs', operation: 'AlterConfigs', resource: ['Topic', T] as [string, string] };
      expect('alter_configs', altered, [{ ...base, ...ok0, details: { configResourceType: 'TOPIC', configs: { 'retention.ms': '3600000' } } }]);
      expect('alter_configs', byAlice, [{ ...base, ...denied('TOPIC_AUTHORIZATION_FAILED', 29), message: 'Topic authorization failed.',
        details: { configResourceType: 'TOPIC', configs: { 'retention.ms': '60000' } } }]);
    });

    test('incremental_alter_configs: cleanup.policy set; UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist', async () => {
      const altered = await rdk(ADMIN, 'incremental_alter_configs', { name: T, ops: [{ name: 'cleanup.policy', value: 'compact', op: 'SET' }] });
      ok(altered);
      const missing = await rdk(ADMIN, 'incremental_alter_configs', { name: `missing-${n}`, ops: [{ name: 'cleanup.policy', value: 'compact', op: 'SET' }] });
      failed(missing, 'UNKNOWN_TOPIC_OR_PART');
      await waitFor(async () => (await topicConfig(T, 'cleanup.policy')) === 'compact', 30_000, 'cleanup.policy on every broker');
      assert.equal(await topicConfig(T, 'retention.ms'), '3600000', 'incremental: the other config stays');
      assert.ok(!(await broker.listTopics()).includes(`missing-${n}`));
      const base = { method: 'IncrementalAlterConfigs', operation: 'AlterConfigs' };
      const details = { configResourceType: 'TOPIC', configs: { 'cleanup.policy': { op: 'SET', value: 'compact' } } };
      expect('incremental_alter_configs', altered, [{ ...base, resource: ['Topic', T], ...ok0, details }]);
      expect('incremental_alter_configs', missing, [{ ...base, resource: ['Topic', `missing-${n}`], status: 'FAILURE', errorName: 'UNKNOWN_TOPIC_OR_PARTITION',
        errorCode: 3, message: `The topic 'missing-${n}' does not exist.`, details }]);
    });

    test('describe_configs (describe category): the broker\'s values; TOPIC_AUTHORIZATION_FAILED for alice', async () => {
      const described = await rdk(ADMIN, 'describe_configs', { name: T, show: ['retention.ms', 'cleanup.policy'] });
      assert.deepEqual(ok(described), { 'retention.ms': '3600000', 'cleanup.policy': 'compact' });
      const byAlice = await rdk(ALICE, 'describe_configs', { name: T });
      failed(byAlice, 'TOPIC_AUTHORIZATION_FAILED');
      const base = { method: 'DescribeConfigs', operation: 'DescribeConfigs', resource: ['Topic', T] as [string, string], details: { configResourceType: 'TOPIC' } };
      expect('describe_configs', described, [{ ...base, ...ok0 }]);
      expect('describe_configs', byAlice, [{ ...base, ...denied('TOPIC_AUTHORIZATION_FAILED', 29), message: 'Topic authorization failed.' }]);
    });

    const bobDescribe = { resourceType: 'TOPIC', name: T, pattern: 'LITERAL', principal: 'User:bob', host: '*', operation: 'DESCRIBE', permission: 'ALLOW' };
    const anyAcl = { resourceType: 'ANY', pattern: 'ANY', operation: 'ANY', permission: 'ANY' };
    test('create_acls / describe_acls / delete_acls: bound, listed, removed; CLUSTER_AUTHORIZATION_FAILED for alice each time', async () => {
      const created = await rdk(ADMIN, 'create_acls', { acls: [bobDescribe] });
      ok(created);
      const createByAlice = await rdk(ALICE, 'create_acls', { acls: [{ ...bobDescribe, principal: 'User:alice', operation: 'ALL' }] });
      failed(createByAlice, 'CLUSTER_AUTHORIZATION_FAILED');
      // A binding reaches each broker a moment after the controller: librdkafka's describe_acls may ask any of them.
      await waitFor(async () => (await brokersWithAcls(T, ['User:bob:8:3'])) === cluster.brokers.length, 30_000, 'the ACL bound on every broker');
      assert.deepEqual(await topicAcls(T), ['User:bob:8:3'], "bob's DESCRIBE ALLOW only; alice's ALL was not bound");

      const described = await rdk(ADMIN, 'describe_acls', { filter: anyAcl });
      assert.ok(ok(described).some((b: Record<string, string>) => b.name === T && b.principal === 'User:bob' && b.operation === 'DESCRIBE'));
      const describeByAlice = await rdk(ALICE, 'describe_acls', { filter: anyAcl });
      // librdkafka reports the broker's CLUSTER_AUTHORIZATION_FAILED as an empty success (directly against the broker too).
      assert.deepEqual(ok(describeByAlice), []);

      const deleteByAlice = await rdk(ALICE, 'delete_acls', { filters: [{ ...bobDescribe, operation: 'ANY', permission: 'ANY' }] });
      failed(deleteByAlice, 'CLUSTER_AUTHORIZATION_FAILED');
      assert.deepEqual(await topicAcls(T), ['User:bob:8:3'], 'still bound after alice tried to delete it');
      const deleted = await rdk(ADMIN, 'delete_acls', { filters: [bobDescribe] });
      assert.deepEqual(ok(deleted), [bobDescribe]);
      await waitFor(async () => (await topicAcls(T)).length === 0, 30_000, 'ACL removed');

      const topic = ['Topic', T] as [string, string];
      const binding = { principal: 'User:bob', host: '*', operation: 'DESCRIBE', permissionType: 'ALLOW' };
      expect('create_acls', created, [{ method: 'CreateAcls', operation: 'Alter', resource: topic, ...ok0, details: binding }]);
      expect('create_acls', createByAlice, [{ method: 'CreateAcls', operation: 'Alter', resource: topic, ...denied('CLUSTER_AUTHORIZATION_FAILED', 31),
        message: NOT_AUTHORIZED, details: { ...binding, principal: 'User:alice', operation: 'ALL' } }]);
      const filter = { resourceType: 'ANY', resourceName: null, patternType: 'ANY', principal: null, host: null, operation: 'ANY', permissionType: 'ANY' };
      expect('describe_acls', described, [{ method: 'DescribeAcls', operation: 'Describe', resource: ['Cluster', cid()], ...ok0, details: { filter } }]);
      expect('describe_acls', describeByAlice, [{ method: 'DescribeAcls', operation: 'Describe', resource: ['Cluster', cid()],
        ...denied('CLUSTER_AUTHORIZATION_FAILED', 31), message: NOT_AUTHORIZED, details: { filter, matchingResourceCount: 0, matchingAclCount: 0 } }]);
      const matched = { resourceType: 'TOPIC', resourceName: T, patternType: 'LITERAL', ...binding };
      expect('delete_acls', deleted, [{ method: 'DeleteAcls', operation: 'Alter', resource: topic, ...ok0,
        details: { filter: matched, matchingAclCount: 1, matchingAcls: [matched] } }]);
      expect('delete_acls', deleteByAlice, [{ method: 'DeleteAcls', operation: 'Alter', resource: topic, ...denied('CLUSTER_AUTHORIZATION_FAILED', 31),
        message: NOT_AUTHORIZED, details: { matchingAclCount: 0 } }]);
    });

    test('produce and consume with librdkafka: every record comes back as written (transparency)', async () => {
      const values = ['v0', 'v1', 'v2', 'v3', 'v4'];
      const produced = await rdk(ADMIN, 'produce', { topic: T2, values });
      assert.deepEqual(ok(produced), { delivered: 5 });
      const consumed = await rdk(ADMIN, 'consume', { topic: T2, group: G, count: 5 });
      assert.deepEqual(ok(consumed), values.map((value, i) => ({ key: `k${i}`, value, partition: 0, offset: i })));
      const [p0] = await broker.fetchTopicOffsets(T2);
      assert.deepEqual([p0.low, p0.high], ['0', '5']);
      const [g] = await broker.fetchOffsets({ groupId: G, topics: [T2] });
      assert.equal(g.partitions[0].offset, '5', 'the consumer committed through the proxy');
      const topic = ['Topic', T2] as [string, string];
      // The producer leaves with a Metadata request (AllowAutoTopicCreation) unanswered now and then: that topic
      // auto-creation request gets its event, outcome UNKNOWN.
      expect('produce', produced, [{ method: 'Produce', operation: 'Write', resource: topic, ...ok0, details: { partitions: [0], acks: -1 } }],
        (e) => e.data.methodName === 'kafka.Metadata' && e.data.result?.status === 'UNKNOWN');
      expect('consume', consumed, [
        { method: 'Fetch', operation: 'Read', resource: topic, ...ok0, details: { partitions: [0] } },
        // consume: first-per-connection keeps the group's first commit on the coordinator connection
        { method: 'OffsetCommit', operation: 'Read', resource: ['Group', G], ...ok0, details: { groupMember: true } },
      ]);
    });

    test('list_consumer_groups and list_groups (describe category): one ListGroups per broker; alice sees none; a refused login', async () => {
      const listed = await rdk(ADMIN, 'list_consumer_groups');
      assert.ok(ok(listed).groups.includes(G));
      const byAlice = await rdk(ALICE, 'list_consumer_groups');
      // Of this suite's groups (the cluster is shared: another suite may let alice read a group of its own).
      const mine = (r: { groups: string[]; errors: unknown[] }) => ({ groups: r.groups.filter((g) => g.startsWith('rdk-')), errors: r.errors });
      assert.deepEqual(mine(ok(byAlice)), { groups: [], errors: [] }, 'the broker leaves out the groups alice may not describe');
      const refused = await rdk(stranger(`nobody-lcg-${n}`), 'list_consumer_groups', { timeout: 4 });
      refusedByBroker(refused);
      const legacy = await rdk(ADMIN, 'list_groups');
      assert.ok(ok(legacy).some((g: { id: string }) => g.id === G));
      const cl = ['Cluster', cid()] as [string, string];
      const listGroups = { method: 'ListGroups', operation: 'Describe', resource: cl, ...ok0, count: cluster.brokers.length };
      expect('list_consumer_groups', listed, [listGroups]);
      expect('list_consumer_groups', byAlice, [{ ...listGroups, details: { groupCount: 0 } }]);
      expectRefusedLogin('list_consumer_groups', refused);
      expect('list_groups', legacy, [listGroups, { method: 'DescribeGroups', operation: 'Describe', resource: ['Group', G], ...ok0 }],
        (e) => e.data.methodName === 'kafka.DescribeGroups' && e.data.result?.status === 'SUCCESS' && e.data.resourceName !== `crn:///kafka=${cid()}/group=${G}`);
    });

    test('describe_consumer_groups (describe category): EMPTY classic group; GROUP_AUTHORIZATION_FAILED for alice (at FindCoordinator)', async () => {
      const described = await rdk(ADMIN, 'describe_consumer_groups', { groups: [G] });
      assert.deepEqual(ok(described), { state: 'EMPTY', members: 0, type: 'CLASSIC' });
      const byAlice = await rdk(ALICE, 'describe_consumer_groups', { groups: [G] });
      failed(byAlice, 'GROUP_AUTHORIZATION_FAILED');
      expect('describe_consumer_groups', described, [{ method: 'DescribeGroups', operation: 'Describe', resource: ['Group', G], ...ok0 }]);
      expect('describe_consumer_groups', byAlice, [{ method: 'FindCoordinator', operation: 'Describe', resource: ['Group', G],
        ...denied('GROUP_AUTHORIZATION_FAILED', 30), message: 'Group authorization failed.', count: 'some' }]);
    });

    test('list_consumer_group_offsets (not audited) / alter_consumer_group_offsets (consume category): 5, then 1; GROUP_AUTHORIZATION_FAILED for alice', async () => {
      const listed = await rdk(ADMIN, 'list_consumer_group_offsets', { group: G });
      assert.deepEqual(ok(listed), [{ topic: T2, partition: 0, offset: 5, error: null }]);
      const listByAlice = await rdk(ALICE, 'list_consumer_group_offsets', { group: G });
      failed(listByAlice, 'GROUP_AUTHORIZATION_FAILED');
      const altered = await rdk(ADMIN, 'alter_consumer_group_offsets', { group: G, partitions: [{ topic: T2, partition: 0, offset: 1 }] });
      assert.deepEqual(ok(altered), [{ topic: T2, partition: 0, offset: 1, error: null }]);
      const alterByAlice = await rdk(ALICE, 'alter_consumer_group_offsets', { group: G, partitions: [{ topic: T2, partition: 0, offset: 4 }] });
      failed(alterByAlice, 'GROUP_AUTHORIZATION_FAILED');
      assert.equal((await broker.fetchOffsets({ groupId: G, topics: [T2] }))[0].partitions[0].offset, '1');
      const findDenied: Expected = { method: 'FindCoordinator', operation: 'Describe', resource: ['Group', G],
        ...denied('GROUP_AUTHORIZATION_FAILED', 30), message: 'Group authorization failed.', count: 'some' };
      // OffsetFetch has no audit descriptor: no event, but its denials. An offset change from outside the group
      // (AdminClient) is an OffsetCommit event of the consume category, saying it came from no group member.
      expect('list_consumer_group_offsets', listed, []);
      expect('list_consumer_group_offsets', listByAlice, [findDenied]);
      expect('alter_consumer_group_offsets', altered, [{ method: 'OffsetCommit', operation: 'Read', resource: ['Group', G], ...ok0,
        details: { groupMember: false, topics: [{ topic: T2, partitions: [{ partition: 0, offset: 1, errorCode: 0 }] }] } }]);
      expect('alter_consumer_group_offsets', alterByAlice, [findDenied]);
    });

    test('list_offsets (not audited): latest 5; alice is refused the topic at Metadata', async () => {
      const listed = await rdk(ADMIN, 'list_offsets', { topic: T2, partition: 0, spec: 'latest' });
      assert.deepEqual(ok(listed), { offset: 5 });
      const byAlice = await rdk(ALICE, 'list_offsets', { topic: T2, partition: 0, spec: 'earliest' });
      failed(byAlice, '_NOENT'); // "Failed to query partition leaders": librdkafka never sends ListOffsets
      expect('list_offsets', listed, []);
      expect('list_offsets', byAlice, [{ method: 'Metadata', operation: 'Describe', resource: ['Topic', T2], ...denied('TOPIC_AUTHORIZATION_FAILED', 29),
        message: 'Topic authorization failed.' }]);
    });

    test('delete_records: low watermark 2; OFFSET_OUT_OF_RANGE beyond the end, low watermark still 2', async () => {
      const deleted = await rdk(ADMIN, 'delete_records', { topic: T2, partition: 0, offset: 2 });
      assert.deepEqual(ok(deleted), { lowWatermark: 2 });
      const beyond = await rdk(ADMIN, 'delete_records', { topic: T2, partition: 0, offset: 99 });
      failed(beyond, 'OFFSET_OUT_OF_RANGE');
      const [p0] = await broker.fetchTopicOffsets(T2);
      assert.deepEqual([p0.low, p0.high], ['2', '5']);
      const base = { method: 'DeleteRecords', operation: 'Delete', resource: ['Topic', T2] as [string, string] };
      expect('delete_records', deleted, [{ ...base, ...ok0, details: { partitions: [{ partition: 0, offset: 2 }] } }]);
      expect('delete_records', beyond, [{ ...base, status: 'FAILURE', errorName: 'OFFSET_OUT_OF_RANGE', errorCode: 1,
        message: 'The requested offset is not within the range of offsets maintained by the server.', details: { partitions: [{ partition: 0, offset: 99 }] } }]);
    });

    test('elect_leaders: preferred election over the cluster; ELECTION_NOT_NEEDED; CLUSTER_AUTHORIZATION_FAILED for alice', async () => {
      const all = await rdk(ADMIN, 'elect_leaders', { type: 'PREFERRED' });
      // Partitions whose leader is already the preferred replica are left out of the answer: on a quiet cluster, all.
      assert.deepEqual(Object.values(ok(all)).filter((e) => e !== null), []);
      const notNeeded = await rdk(ADMIN, 'elect_leaders', { type: 'PREFERRED', partitions: [{ topic: T, partition: 0 }] });
      assert.deepEqual(ok(notNeeded), { [`${T}-0`]: 'ELECTION_NOT_NEEDED' });
      const byAlice = await rdk(ALICE, 'elect_leaders', { type: 'PREFERRED' });
      failed(byAlice, 'CLUSTER_AUTHORIZATION_FAILED');
      for (const p of (await broker.fetchTopicMetadata({ topics: [T] })).topics[0].partitions) {
        assert.equal(p.leader, p.replicas[0], `partition ${p.partitionId} led by its preferred replica`);
      }
      const base = { method: 'ElectLeaders', operation: 'Alter' };
      expect('elect_leaders', all, [{ ...base, resource: ['Cluster', cid()], ...ok0, details: { electionType: 'PREFERRED', allPartitions: true } }]);
      expect('elect_leaders', notNeeded, [{ ...base, resource: ['Topic', T], status: 'FAILURE', errorName: 'ELECTION_NOT_NEEDED', errorCode: 84,
        message: 'Leader election not needed for topic partition.', details: { electionType: 'PREFERRED', partitions: [0] } }]);
      expect('elect_leaders', byAlice, [{ ...base, resource: ['Cluster', cid()], ...denied('CLUSTER_AUTHORIZATION_FAILED', 31),
        message: 'Cluster authorization failed.', details: { electionType: 'PREFERRED', allPartitions: true } }]);
    });

    test('describe_cluster (not audited): the cluster; a refused login', async () => {
      const described = await rdk(ADMIN, 'describe_cluster');
      assert.deepEqual(ok(described), { clusterId: cluster.clusterId, nodes: cluster.brokers.map((b) => b.nodeId) });
      const refused = await rdk(stranger(`nobody-dc-${n}`), 'describe_cluster', { timeout: 4 });
      refusedByBroker(refused);
      expect('describe_cluster', described, []);
      expectRefusedLogin('describe_cluster', refused);
    });

    test('describe_topics and list_topics (Metadata, not audited): 2 partitions; TOPIC_AUTHORIZATION_FAILED for alice', async () => {
      const described = await rdk(ADMIN, 'describe_topics', { topics: [T] });
      const meta = (await broker.fetchTopicMetadata({ topics: [T] })).topics[0];
      assert.equal(ok(described).partitions, meta.partitions.length);
      const byAlice = await rdk(ALICE, 'describe_topics', { topics: [T] });
      failed(byAlice, 'TOPIC_AUTHORIZATION_FAILED');
      const listed = await rdk(ADMIN, 'list_topics');
      assert.ok(ok(listed).includes(T) && ok(listed).includes(T2));
      expect('describe_topics', described, []);
      expect('describe_topics', byAlice, [{ method: 'Metadata', operation: 'Describe', resource: ['Topic', T], ...denied('TOPIC_AUTHORIZATION_FAILED', 29),
        message: 'Topic authorization failed.' }]);
      expect('list_topics', listed, []);
    });

    test('alter_user_scram_credentials: upsert and delete (carol can log in, then not); CLUSTER_AUTHORIZATION_FAILED; RESOURCE_NOT_FOUND', async () => {
      const upserted = await rdk(ADMIN, 'alter_user_scram_credentials', { upsert: [{ user: CAROL, mechanism: 'SCRAM_SHA_256', iterations: 8192, password: CAROL_PASSWORD, salt: CAROL_SALT }] });
      assert.deepEqual(upserted.results, [{ key: CAROL, ok: true, value: null }]);
      await waitFor(async () => (await scramLogins(CAROL, CAROL_PASSWORD)) === cluster.brokers.length, 30_000, 'carol logs in on every broker with the new credential');
      const byAlice = await rdk(ALICE, 'alter_user_scram_credentials', { upsert: [{ user: `dave-${n}`, mechanism: 'SCRAM_SHA_256', password: CAROL_PASSWORD }] });
      failed(byAlice, 'CLUSTER_AUTHORIZATION_FAILED');
      assert.equal(await scramLogins(`dave-${n}`, CAROL_PASSWORD), 0, 'dave was not created');

      const described = await rdk(ADMIN, 'describe_user_scram_credentials', { users: [CAROL] });
      assert.deepEqual(ok(described), [{ mechanism: 'SCRAM_SHA_256', iterations: 8192 }]);
      const describedMissing = await rdk(ADMIN, 'describe_user_scram_credentials', { users: [`nobody-${n}`] });
      failed(describedMissing, 'RESOURCE_NOT_FOUND');
      const describeByAlice = await rdk(ALICE, 'describe_user_scram_credentials', { users: [CAROL] }, { crashOk: true });
      if (describeByAlice.results.length) failed(describeByAlice, 'CLUSTER_AUTHORIZATION_FAILED');

      const removed = await rdk(ADMIN, 'alter_user_scram_credentials', { delete: [{ user: CAROL, mechanism: 'SCRAM_SHA_256' }] });
      assert.deepEqual(removed.results, [{ key: CAROL, ok: true, value: null }]);
      await waitFor(async () => (await scramLogins(CAROL, CAROL_PASSWORD)) === 0, 30_000, 'carol can no longer log in on any broker');
      const removeMissing = await rdk(ADMIN, 'alter_user_scram_credentials', { delete: [{ user: `nobody-${n}`, mechanism: 'SCRAM_SHA_512' }] });
      failed(removeMissing, 'RESOURCE_NOT_FOUND');

      const base = { method: 'AlterUserScramCredentials', operation: 'Alter' };
      expect('alter_user_scram_credentials', upserted, [{ ...base, resource: ['User', CAROL], ...ok0, details: { changes: [{ mechanism: 'SCRAM-SHA-256', iterations: 8192 }] } }]);
      expect('alter_user_scram_credentials', byAlice, [{ ...base, resource: ['User', `dave-${n}`], ...denied('CLUSTER_AUTHORIZATION_FAILED', 31),
        message: NOT_AUTHORIZED, details: { changes: [{ mechanism: 'SCRAM-SHA-256', iterations: 4096 }] } }]);
      expect('alter_user_scram_credentials', removed, [{ ...base, resource: ['User', CAROL], ...ok0, details: { changes: [{ mechanism: 'SCRAM-SHA-256', deleted: true }] } }]);
      expect('alter_user_scram_credentials', removeMissing, [{ ...base, resource: ['User', `nobody-${n}`], status: 'FAILURE', errorName: 'RESOURCE_NOT_FOUND',
        errorCode: 91, message: 'Attempt to delete a user credential that does not exist', details: { changes: [{ mechanism: 'SCRAM-SHA-512', deleted: true }] } }]);
      // DescribeUserScramCredentials has no audit descriptor: only its denial is audited.
      expect('describe_user_scram_credentials', described, []);
      expect('describe_user_scram_credentials', describedMissing, []);
      expect('describe_user_scram_credentials', describeByAlice, [{ method: 'DescribeUserScramCredentials', operation: 'Describe', resource: ['Cluster', cid()],
        ...denied('CLUSTER_AUTHORIZATION_FAILED', 31), message: 'Cluster authorization failed.' }]);
    });

    test('delete_consumer_groups: GROUP_AUTHORIZATION_FAILED for alice; deleted; GROUP_ID_NOT_FOUND', async () => {
      const byAlice = await rdk(ALICE, 'delete_consumer_groups', { groups: [G] });
      failed(byAlice, 'GROUP_AUTHORIZATION_FAILED');
      assert.ok((await broker.listGroups()).groups.some((g) => g.groupId === G), 'the group survived alice');
      const deleted = await rdk(ADMIN, 'delete_consumer_groups', { groups: [G] });
      ok(deleted);
      const missing = await rdk(ADMIN, 'delete_consumer_groups', { groups: [`no-group-${n}`] });
      failed(missing, 'GROUP_ID_NOT_FOUND');
      assert.ok(!(await broker.listGroups()).groups.some((g) => g.groupId === G), 'the group is gone');
      const base = { method: 'DeleteGroups', operation: 'Delete' };
      expect('delete_consumer_groups', byAlice, [{ method: 'FindCoordinator', operation: 'Describe', resource: ['Group', G],
        ...denied('GROUP_AUTHORIZATION_FAILED', 30), message: 'Group authorization failed.', count: 'some' }]);
      expect('delete_consumer_groups', deleted, [{ ...base, resource: ['Group', G], ...ok0 }]);
      expect('delete_consumer_groups', missing, [{ ...base, resource: ['Group', `no-group-${n}`], status: 'FAILURE', errorName: 'GROUP_ID_NOT_FOUND',
        errorCode: 69, message: 'The group id does not exist.' }]);
    });

    test('delete_topics: deleted; UNKNOWN_TOPIC_OR_PARTITION; TOPIC_AUTHORIZATION_FAILED for alice, topic kept', async () => {
      const deleted = await rdk(ADMIN, 'delete_topics', { topics: [T2] });
      ok(deleted);
      const missing = await rdk(ADMIN, 'delete_topics', { topics: [`missing-${n}`] });
      failed(missing, 'UNKNOWN_TOPIC_OR_PART');
      const byAlice = await rdk(ALICE, 'delete_topics', { topics: [T] });
      failed(byAlice, 'TOPIC_AUTHORIZATION_FAILED');
      await waitFor(async () => !(await broker.listTopics()).includes(T2), 30_000, 'topic deleted');
      assert.ok((await broker.listTopics()).includes(T), 'alice could not delete it');
      const base = { method: 'DeleteTopics', operation: 'Delete' };
      expect('delete_topics', deleted, [{ ...base, resource: ['Topic', T2], ...ok0 }]);
      expect('delete_topics', missing, [{ ...base, resource: ['Topic', `missing-${n}`], status: 'FAILURE', errorName: 'UNKNOWN_TOPIC_OR_PARTITION', errorCode: 3,
        message: 'This server does not host this topic-partition.' }]);
      expect('delete_topics', byAlice, [{ ...base, resource: ['Topic', T], ...denied('TOPIC_AUTHORIZATION_FAILED', 29), message: 'Topic authorization failed.' }]);
    });

    test('every AdminClient method of the pinned confluent-kafka was driven', async () => {
      const methods = await new Promise<string>((res, rej) => execFile(PYTHON, ['-c',
        "from confluent_kafka.admin import AdminClient; print(' '.join(m for m in dir(AdminClient) if not m.startswith('_')))"],
      (err, out) => (err ? rej(err) : res(out.trim()))));
      // Not operations: poll (serves callbacks), cluster_id (no request of its own), set_sasl_credentials.
      const notOperations = new Set(['poll', 'cluster_id', 'set_sasl_credentials']);
      const driven = new Set([...cases.keys(), ...refusedLogins.keys()]);
      assert.deepEqual(methods.split(' ').filter((m) => !notOperations.has(m) && !driven.has(m)), [], 'AdminClient methods no test drove');
    });
  });

  describe('audit events', () => {
    before(async () => {
      for (const l of logLines) {
        const j = JSON.parse(l) as { msg: string; api?: string; apiVersion?: number; trailing?: number };
        if (j.trailing !== undefined) trailing.set(`${j.api} v${j.apiVersion}`, j.trailing);
      }
      await app.stop(); // flushes the audit sink
      const report = await verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic: auditTopic, timeoutMs: 30_000 });
      assert.equal(report.ok, true, JSON.stringify(report.chain.problems));
      events = report.eventsRead;
    });

    const crn = (type: string, name: string) => `crn:///kafka=${cluster.clusterId}${type === 'Cluster' ? '' : `/${type === 'Topic' ? 'topic' : type === 'Group' ? 'group' : 'user'}=${name}`}`;
    /** Client addresses of the logins the broker accepted, per principal. */
    const loginAddresses = (principal: string) => new Set(events
      .filter((e) => e.data.methodName === 'kafka.Authentication' && e.data.result?.status === 'SUCCESS' && e.data.authenticationInfo?.principal === principal)
      .map((e) => e.data.requestMetadata?.client_address));

    function checkCase(c: Case): void {
      const mine = events.filter((e) => e.data.request?.client_id === c.run.clientId && e.data.methodName !== 'kafka.Authentication');
      const principal = `User:${c.run.login.user}`;
      const addresses = loginAddresses(principal);
      const used = new Set<AuditEvent>();
      for (const x of c.expected) {
        const what = `${c.run.clientId}: ${x.method} ${x.resource.join(':')} ${x.status}`;
        const found = mine.filter((e) => e.data.methodName === `kafka.${x.method}` && e.data.resourceName === crn(...x.resource) && e.data.result?.status === x.status);
        if (x.count === 'some') assert.ok(found.length >= 1, `${what}: no event (of ${JSON.stringify(mine.map((e) => [e.data.methodName, e.data.resourceName, e.data.result]))})`);
        else assert.equal(found.length, x.count ?? 1, `${what}: ${found.length} events (of ${JSON.stringify(mine.map((e) => [e.data.methodName, e.data.resourceName, e.data.result]))})`);
        for (const e of found) {
          used.add(e);
          assert.equal(e.type, `io.confluent.kafka.server/${x.status === 'UNAUTHORIZED' ? 'authorization' : 'request'}`, what);
          assert.equal(e.subject, e.data.resourceName, what);
          assert.equal(e.source, `crn:///kafka=${cluster.clusterId}`, what);
          assert.deepEqual(e.data.authenticationInfo, { principal, metadata: { mechanism: `SASL_PLAINTEXT/${c.run.login.mechanism}` } }, what);
          assert.deepEqual(e.data.authorizationInfo, {
            granted: x.status !== 'UNAUTHORIZED', operation: x.operation, resourceType: x.resource[0], resourceName: x.resource[1], patternType: 'LITERAL',
          }, what);
          assert.equal(e.data.request?.client_id, c.run.clientId, what);
          assert.match(e.data.request!.correlation_id, /^\d+$/, what);
          assert.match(e.data.requestMetadata!.client_address, /^127\.0\.0\.1:\d+$/, what);
          assert.ok(addresses.has(e.data.requestMetadata!.client_address), `${what}: from a connection that logged in as ${principal}`);
          assert.equal(e.data.result?.errorName, x.errorName, what);
          assert.equal(e.data.result?.errorCode, x.errorCode, what);
          if (x.message instanceof RegExp) assert.match(e.data.result!.message, x.message, what);
          else assert.equal(e.data.result?.message, x.message ?? '', what);
          assert.deepEqual(e.data.clientInfo, software, `${what}: client software from librdkafka's ApiVersions`);
          for (const [k, v] of Object.entries(x.details ?? {})) assert.deepEqual(e.data.details?.[k], v, `${what}: details.${k}`);
        }
      }
      const others = mine.filter((e) => !used.has(e) && !c.optional?.(e));
      assert.deepEqual(others.map((e) => [e.data.methodName, e.data.resourceName, e.data.result]), [], `${c.run.clientId}: events no expectation names`);
    }

    function checkRefusedLogin(r: RefusedLogin): void {
      const refused = events.filter((e) => e.data.methodName === 'kafka.Authentication' && e.data.authenticationInfo?.metadata?.identifier === r.login.user);
      assert.ok(refused.length >= 1, `${r.run.clientId}: no refused login of ${r.login.user}`);
      // librdkafka tries again until the call times out; the process may end in the middle of a try, whose login
      // then has no answer (UNKNOWN).
      const answered = refused.filter((e) => e.data.result?.status !== 'UNKNOWN');
      assert.ok(answered.length >= 1 && refused.length - answered.length <= 1, `${r.run.clientId}: ${JSON.stringify(refused.map((e) => e.data.result))}`);
      for (const e of refused) {
        assert.equal(e.type, 'io.confluent.kafka.server/authentication');
        assert.deepEqual(e.data.authenticationInfo, { principal: `User:${r.login.user}`, metadata: { mechanism: `SASL_PLAINTEXT/${r.login.mechanism}`, identifier: r.login.user } });
        assert.match(e.data.requestMetadata!.client_address, /^127\.0\.0\.1:\d+$/);
        assert.deepEqual(e.data.clientInfo, software);
        // librdkafka retries a refused login until its timeout; the last attempt may be cut short by the client itself.
        if (e.data.result?.status === 'UNKNOWN') { assert.match(e.data.result.message, /^no response|^connection closed by the client during SASL/); continue; }
        assert.equal(e.data.result?.status, 'UNAUTHENTICATED');
        assert.equal(e.data.result?.errorName, 'SASL_AUTHENTICATION_FAILED');
        assert.equal(e.data.result?.errorCode, 58);
        assert.match(e.data.result!.message, /invalid credentials with SASL mechanism SCRAM-SHA-512/);
      }
    }

    const ops = [
      'create_topics', 'create_partitions', 'alter_configs', 'incremental_alter_configs', 'describe_configs', 'create_acls', 'describe_acls',
      'delete_acls', 'produce', 'consume', 'list_consumer_groups', 'list_groups', 'describe_consumer_groups', 'list_consumer_group_offsets',
      'alter_consumer_group_offsets', 'list_offsets', 'delete_records', 'elect_leaders', 'describe_cluster', 'describe_topics', 'list_topics',
      'alter_user_scram_credentials', 'describe_user_scram_credentials', 'delete_consumer_groups', 'delete_topics',
    ];
    for (const op of ops) {
      test(`${op}: its events, exactly once, field by field`, () => {
        const all = cases.get(op) ?? [];
        const logins = refusedLogins.get(op) ?? [];
        assert.ok(all.length + logins.length > 0, `the operations test of ${op} did not run`);
        for (const c of all) checkCase(c);
        for (const r of logins) checkRefusedLogin(r);
      });
    }

    test('no audit event, proxy log line or metric holds a password, nor the salt or salted password of a SCRAM upsert', async () => {
      assertNoSecret(events, SECRETS, 'audit events');
      assertNoSecret(logLines.join(''), SECRETS, 'proxy log lines');
      assertNoSecret(await app.metrics.registry.metrics(), SECRETS, 'proxy metrics');
    });

    test('trailing bytes: librdkafka\'s AlterUserScramCredentials v0 (1 byte) and all-topics Metadata v12/v13 (3), forwarded and audited; nothing closed', async (t) => {
      t.diagnostic(`requests with bytes after their body (api version: bytes): ${JSON.stringify(Object.fromEntries(trailing))}`);
      assert.equal(await metricValue(app.metrics, 'kafka_proxy_request_trailing_bytes_total', { api: 'AlterUserScramCredentials', version: '0' }), 4,
        'each of the 4 AlterUserScramCredentials requests');
      assert.equal(trailing.get('AlterUserScramCredentials v0'), 1);
      // No other API does it but the all-topics Metadata of list_topics, 3 bytes (body 00 00 00 00 01 00 00), at the
      // highest version the broker offers (v12 on Kafka 3.9, v13 on 4.1): a new entry here is another request
      // librdkafka writes with bytes after its body.
      const others = [...trailing.entries()].filter(([k]) => k !== 'AlterUserScramCredentials v0');
      assert.equal(others.length, 1, JSON.stringify(others));
      assert.match(others[0][0], /^Metadata v1[23]$/);
      assert.equal(others[0][1], 3);
      const { values } = await app.metrics.registry.getSingleMetric('kafka_proxy_request_trailing_bytes_total')!.get();
      assert.deepEqual(values.map((v) => `${v.labels.api} v${v.labels.version}`).sort(), [...trailing.keys()].sort());
      const problems = logLines.filter((l) => /could not be decoded|forwarded without decoding|unmatched_response|"level":50/.test(l));
      assert.deepEqual(problems, [], 'no request refused or relayed undecoded, no error logged');
    });
  });
});

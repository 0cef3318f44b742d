/**
 * The exact ACLs of the proxy's audit principal and of an audit reader, on a real SASL cluster with an authorizer
 * (StandardAuthorizer, nothing allowed without an ACL):
 * - the proxy's audit producer logs in as alice, whose only ACLs are Create and Write on the audit topic (no
 *   IdempotentWrite, no cluster ACL): it creates the topic, delivers its events idempotently, and the chain verifies;
 * - bob, with no ACL, runs `tail` and `verify`: exit 3, the message names READ on the topic (not "problems");
 * - bob with only Describe on the topic: the same (Fetch is what needs Read);
 * - bob with only Read on the topic and no group ACL at all: tail --from-beginning --no-follow prints every event,
 *   verify exits 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs, { type SASLOptions } from 'kafkajs';
import { useCluster } from '../harness/shared-cluster.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { startAuditedApp } from '../harness/audited-app.js';
import { verifyTopic } from '../../src/audit/verify.js';
import { tail } from '../../src/tail.js';
import type { AuditEvent } from '../../src/audit/event.js';

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface CliResult { code: number | null; stdout: string; stderr: string }

function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KAP_')) base[k] = v;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')}: no exit after 90 s\n${stdout}\n${stderr}`)); }, 90_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolvePromise({ code, stdout, stderr }); });
  });
}

/** ACL changes reach every broker through the metadata log, a moment after CreateAcls answers. */
async function eventually<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('ACLs: the proxy principal and a reader need exactly these', { timeout: 600_000 }, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let superAdmin: ReturnType<InstanceType<typeof Kafka>['admin']>;
  const topic = `acl-audit-${randomBytes(4).toString('hex')}`;
  let expected: AuditEvent[] = [];
  const bobEnv = { KAP_AUDIT_SASL__MECHANISM: 'plain', KAP_AUDIT_SASL__USERNAME: 'bob', KAP_AUDIT_SASL__PASSWORD: 'bob-secret' };
  const tailArgs = () => ['tail', '-b', cluster.saslBootstrap, '-t', topic, '--from-beginning', '--no-follow', '--json'];
  const verifyArgs = () => ['verify', '-b', cluster.saslBootstrap, '-t', topic];
  const acl = (principal: string, operation: number) => ({
    resourceType: AclResourceTypes.TOPIC, resourceName: topic, resourcePatternType: ResourcePatternTypes.LITERAL,
    principal, host: '*', operation, permissionType: AclPermissionTypes.ALLOW,
  });

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    // The PLAINTEXT listener's User:ANONYMOUS is a super user: it manages the ACLs and reads as a reference.
    superAdmin = new Kafka({ clientId: 'acl-test', brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
    await superAdmin.connect();
  });

  after(async () => {
    await superAdmin?.deleteAcls({ filters: [{
      resourceType: AclResourceTypes.TOPIC, resourceName: topic, resourcePatternType: ResourcePatternTypes.LITERAL,
      principal: null, host: null, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY,
    } as never] }).catch(() => undefined);
    await superAdmin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await superAdmin?.disconnect();
    await release?.();
  });

  test('the proxy, logged in as a principal with only Create and Write on the audit topic, creates it and delivers its events', async () => {
    await superAdmin.createAcls({ acl: [acl('User:alice', AclOperationTypes.CREATE), acl('User:alice', AclOperationTypes.WRITE)] });
    await new Promise((r) => setTimeout(r, 1000)); // the ACLs reach the brokers
    const app = await startAuditedApp(cluster, {
      audit: { topic, brokers: cluster.saslBootstrap.split(','), sasl: { mechanism: 'plain', username: 'alice', password: 'alice-secret' } },
    });
    // bob, through the proxy, tries to create a topic: denied by the broker, audited.
    const bob = new Kafka({
      clientId: 'acl-test-bob', brokers: [app.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 },
      sasl: { mechanism: 'plain', username: 'bob', password: 'bob-secret' } as SASLOptions,
    }).admin();
    await bob.connect();
    await assert.rejects(bob.createTopics({ topics: [{ topic: `${topic}-denied` }] }));
    await bob.disconnect();
    await app.stop();
    const notDurable = app.logLines.filter((l) => /not durable|not allowed to create|AUTHORIZATION_FAILED/.test(l));
    assert.deepEqual(notDurable, [], 'the audit producer was never refused');
    const report = await verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic, timeoutMs: 30_000 });
    assert.ok(report.ok, JSON.stringify(report.chain.problems));
    expected = report.eventsRead;
    const methods = expected.map((e) => e.data.methodName);
    assert.ok(methods.includes('kafka.CreateTopics') && methods.includes('proxy.Started') && methods.includes('proxy.Stopped'), methods.join(', '));
  });

  test('a reader without any ACL: tail and verify exit 3 naming READ on the topic', async () => {
    assert.ok(expected.length >= 3, 'the audit topic has events');
    const [t, v] = await Promise.all([runCli(tailArgs(), bobEnv), runCli(verifyArgs(), bobEnv)]);
    for (const [name, r] of [['tail', t], ['verify', v]] as const) {
      assert.equal(r.code, 3, `${name}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`access denied .*User:bob needs the READ permission on Topic:${topic}`), `${name}: ${r.stderr}`);
      assert.doesNotMatch(r.stdout, /FAILED: the audit trail has problems/);
      assert.equal(r.stdout, '', `${name} printed nothing`);
    }
  });

  test('a reader with only Describe on the topic: still exit 3 naming READ (fetching is what needs Read)', async () => {
    await superAdmin.createAcls({ acl: [acl('User:bob', AclOperationTypes.DESCRIBE)] });
    // Describe in force: bob can list the offsets now, so tail gets as far as fetching.
    const bob = new Kafka({ clientId: 'acl-test-bob', brokers: cluster.saslBootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 0 },
      sasl: { mechanism: 'plain', username: 'bob', password: 'bob-secret' } as SASLOptions }).admin();
    await bob.connect();
    try {
      const offsets = await eventually('Describe in force', () => bob.fetchTopicOffsets(topic).catch(() => undefined), (x) => x !== undefined);
      assert.ok(offsets && offsets.some((p) => Number(p.high) > 0), 'bob may list the offsets');
    } finally {
      await bob.disconnect();
    }
    const r = await runCli(tailArgs(), bobEnv);
    assert.equal(r.code, 3, `tail: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`User:bob needs the READ permission on Topic:${topic}`));
  });

  test('a reader with only Read on the topic and no group ACL: tail prints every event, verify passes', async () => {
    await superAdmin.createAcls({ acl: [acl('User:bob', AclOperationTypes.READ)] });
    await superAdmin.deleteAcls({ filters: [{ ...acl('User:bob', AclOperationTypes.DESCRIBE) } as never] });
    const groupAcls = await superAdmin.describeAcls({
      resourceType: AclResourceTypes.GROUP, resourcePatternType: ResourcePatternTypes.ANY, principal: 'User:bob',
      operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY,
    } as never);
    assert.deepEqual(groupAcls.resources, [], 'bob has no group ACL');
    const t = await eventually('Read in force', () => runCli(tailArgs(), bobEnv), (x) => x.code === 0);
    assert.equal(t.code, 0, t.stderr);
    const ids = t.stdout.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as AuditEvent).id);
    assert.deepEqual(ids, expected.map((e) => e.id), 'tail printed every event, in order');
    const v = await runCli(verifyArgs(), bobEnv);
    assert.equal(v.code, 0, `verify: ${v.stdout}\n${v.stderr}`);
    assert.match(v.stdout, /OK: every chain is intact/);
  });

  test('a reader with only Read on the topic follows it (tail without --no-follow): a new record is printed', async () => {
    const lines: string[] = [];
    const signal = AbortSignal.timeout(30_000);
    const following = tail({
      brokers: cluster.saslBootstrap.split(','), sasl: { mechanism: 'plain', username: 'bob', password: 'bob-secret' }, kafkaLogLevel: 'nothing',
      topic, fromBeginning: false, follow: true, json: true, filter: {}, max: 1, signal, write: (l) => { lines.push(l); },
    });
    await new Promise((r) => setTimeout(r, 2000)); // tail has taken the end offsets and is fetching
    const late = { ...expected[0], id: `late-${randomBytes(4).toString('hex')}` };
    const producer = new Kafka({ clientId: 'acl-test', brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: JSON.stringify(late) }] });
    await producer.disconnect();
    assert.equal(await following, 1, `tail printed ${lines.length} lines before the timeout`);
    assert.ok(!signal.aborted);
    assert.equal((JSON.parse(lines[0]) as AuditEvent).id, late.id);
  });
});

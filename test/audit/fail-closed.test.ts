/**
 * Fail-closed mode: when the audit cluster is down and the local spool is full, audited operations are
 * refused with a Kafka error (POLICY_VIOLATION) and never reach the broker; when the audit cluster is back,
 * they go through again. Fail-open (the default) is covered by the outage test.
 *
 * "Never reach the broker" is decided after a barrier, not by one look right after the refusal (a proxy that
 * answered POLICY_VIOLATION but forwarded the request anyway would pass that: the topic appears seconds later).
 * A marker topic is created directly, after the refusal; once every broker knows it, every broker also knows any
 * topic whose creation reached the controller before it (KRaft applies the metadata log in order), so the refused
 * topic is looked for on every broker then, and again and again for QUIET_MS more, to catch a late forward too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { startKafkaCluster, type KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { freePortBase } from '../harness/proxy.js';
import { waitForTopics } from '../harness/metadata.js';
import { RawConnection } from '../harness/raw.js';
import { startApp, type App } from '../../src/app.js';

/** How long, after the barrier, the refused topic must stay unknown to every broker. */
const QUIET_MS = 8_000;

/** The topics among `names` that this broker knows, asked directly (Metadata v1 on its PLAINTEXT port). */
async function knownBy(port: number, names: string[]): Promise<string[]> {
  const conn = await RawConnection.open(port);
  try {
    const md = await conn.request(3, 1, { Topics: names.map((Name) => ({ Name })) });
    return (md.Topics as Array<{ Name: string; ErrorCode: number }>).filter((t) => t.ErrorCode === 0).map((t) => t.Name);
  } finally {
    conn.destroy();
  }
}

/** Every broker of the cluster, asked directly: which of `names` it knows (node id -> topics). */
async function knownOnBrokers(cluster: KafkaCluster, names: string[]): Promise<Map<number, string[]>> {
  const views = await Promise.all(cluster.brokers.map(async (b) => [b.nodeId, await knownBy(b.plainPort, names)] as const));
  return new Map(views.filter(([, known]) => known.length > 0));
}

describe('fail-closed mode', () => {
  let proxied: KafkaCluster;
  let releaseProxied: () => Promise<void>;
  let audit: KafkaCluster;
  let work: string;
  let app: App;

  before(async () => {
    ({ cluster: proxied, release: releaseProxied } = await useCluster(3));
    audit = await startKafkaCluster({ brokers: 1 });
    work = mkdtempSync(join(tmpdir(), 'kap-failclosed-'));
    app = await startApp({
      env: {}, log: pino({ level: 'silent' }),
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase: await freePortBase(3), advertisedHost: '127.0.0.1' },
        upstream: { bootstrapServers: proxied.plainBootstrap.split(',') },
        admin: { enabled: false, host: '127.0.0.1', port: 0 },
        audit: {
          brokers: audit.plainBootstrap.split(','), clusterId: proxied.clusterId, topic: 'audit-failclosed', partitions: 1, replicationFactor: 1,
          failMode: 'closed', spool: { dir: join(work, 'state'), fsync: 'always', maxBytes: 100_000 },
        },
      },
    });
  });
  after(async () => {
    // Every step, even when one fails (app.stop() rejects when events it holds cannot be made durable): a cluster
    // left running would keep this file's process alive after its failure is reported.
    const errors: unknown[] = [];
    for (const step of [() => app?.stop(), () => audit?.stop(), () => releaseProxied?.()]) {
      try { await step(); } catch (e) { errors.push(e); }
    }
    if (work) rmSync(work, { recursive: true, force: true });
    if (errors.length > 0) throw errors[0];
  });

  test('refuses audited operations with POLICY_VIOLATION once events cannot be made durable, and recovers', async () => {
    const kafka = new Kafka({ brokers: [app.proxy.bootstrapAddress], logLevel: logLevel.NOTHING, clientId: 'failclosed', retry: { retries: 0 } });
    const admin = kafka.admin();
    const direct = new Kafka({ brokers: proxied.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
    const n = Date.now();
    const marker = `fc-${n}-barrier`;
    // Whatever fails below, the clients are closed and the audit broker runs again: otherwise the open connections
    // and a sink waiting for a dead audit cluster keep this file's process alive after the failure is reported.
    let auditStopped = false;
    try {
      await admin.connect();
      await direct.connect();

      await audit.stopBroker(1);
      auditStopped = true;
      let refusedTopic: string | undefined;
      let refusal: Error | undefined;
      let accepted = 0;
      for (let i = 0; i < 300 && !refusedTopic; i++) {
        const topic = `fc-${n}-${i}`;
        try {
          await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false });
          accepted++;
        } catch (e) {
          refusedTopic = topic;
          refusal = e as Error;
        }
      }
      assert.ok(accepted > 0, 'operations are accepted while the spool has room');
      assert.ok(refusedTopic, `no refusal after ${accepted} operations`);
      const cause = (refusal as { errors?: { type?: string; message?: string }[] }).errors?.[0] ?? refusal;
      assert.match(JSON.stringify(cause) + String(refusal), /POLICY_VIOLATION|fail-closed/);

      // Barrier: a marker topic created directly, after the refusal. Once every broker knows the marker, a creation
      // of the refused topic that reached the controller before the marker's is known everywhere too.
      assert.equal(await direct.createTopics({ topics: [{ topic: marker, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false }), true);
      await waitForTopics(proxied, [marker]);
      const atBarrier = await knownOnBrokers(proxied, [refusedTopic]);
      assert.equal(atBarrier.size, 0, `the refused CreateTopics reached the broker: ${refusedTopic} is known to broker(s) `
        + `${[...atBarrier.keys()].join(', ')} once the marker topic created after the refusal is`);
      // A forward that comes later than the marker (delayed, or queued behind other work) lands within seconds: keep
      // looking, on every broker, for QUIET_MS.
      const barrierAt = Date.now();
      let looks = 0;
      while (Date.now() - barrierAt < QUIET_MS) {
        await new Promise((r) => setTimeout(r, 250));
        const known = await knownOnBrokers(proxied, [refusedTopic]);
        looks++;
        assert.equal(known.size, 0, `the refused CreateTopics reached the broker: ${refusedTopic} appeared on broker(s) `
          + `${[...known.keys()].join(', ')} ${Date.now() - barrierAt} ms after the barrier`);
      }
      assert.ok(looks >= 3, `looked only ${looks} times in ${QUIET_MS} ms`);
      // Only now: the refused operation never executed.
      assert.ok(!(await direct.listTopics()).includes(refusedTopic), 'the refused operation never reached the broker');
      const refused = (await app.metrics.registry.getSingleMetric('kafka_audit_operations_refused_total')!.get()).values;
      assert.ok(refused.some((v) => v.labels.api === 'CreateTopics' && v.value >= 1));

      await audit.startBroker(1);
      auditStopped = false;
      const deadline = Date.now() + 90_000;
      let recovered = false;
      while (!recovered && Date.now() < deadline) {
        try {
          await admin.createTopics({ topics: [{ topic: `fc-${n}-after`, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false });
          recovered = true;
        } catch { await new Promise((r) => setTimeout(r, 1000)); }
      }
      assert.ok(recovered, 'operations are accepted again once the audit cluster is back');
    } finally {
      if (auditStopped) await audit.startBroker(1).catch(() => undefined);
      await direct.deleteTopics({ topics: [marker] }).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      await direct.disconnect().catch(() => undefined);
    }
  });
});

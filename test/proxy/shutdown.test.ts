/**
 * Graceful shutdown under load: SIGTERM to a running `kafka-audit-proxy start` while a producer and an admin
 * client are busy. The process exits 0 within the drain timeout, every record the producer saw acknowledged is
 * in the topic, and every audited operation that succeeded has its event on the audit topic, followed by
 * proxy.Stopped, in an intact chain.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { freePortBase } from '../harness/proxy.js';
import { waitForTopics } from '../harness/metadata.js';
import { waitFor } from '../harness/clients.js';
import { verifyTopic } from '../../src/audit/verify.js';

describe('SIGTERM under load', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let work: string;
  let child: ChildProcess | undefined;

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    work = mkdtempSync(join(tmpdir(), 'kap-shutdown-'));
  });
  after(async () => {
    child?.kill('SIGKILL');
    await release?.();
    rmSync(work, { recursive: true, force: true });
  });

  test('drains, flushes the audit events and exits 0', async () => {
    const base = await freePortBase(3);
    const bootstrapPort = base; // base itself is free too: broker N listens on base + N, N >= 1
    const auditTopic = `audit-shutdown-${Date.now()}`;
    const config = join(work, 'config.yaml');
    writeFileSync(config, [
      'listen:', '  host: 127.0.0.1', `  bootstrapPort: ${bootstrapPort}`, `  brokerPortBase: ${base}`, '  advertisedHost: 127.0.0.1',
      'upstream:', `  bootstrapServers: [${cluster.plainBootstrap}]`,
      'admin:', '  enabled: false',
      'shutdown:', '  drainTimeoutMs: 10000',
      'audit:', `  topic: ${auditTopic}`, '  partitions: 1', '  replicationFactor: 3', `  clusterId: ${cluster.clusterId}`,
      '  spool:', `    dir: ${join(work, 'state')}`,
      'log:', '  level: warn', '',
    ].join('\n'));
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('KAP_')) delete env[k];
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--config', config], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
    await waitFor(() => new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: bootstrapPort }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    }), 60_000);

    const kafka = new Kafka({ brokers: [`127.0.0.1:${bootstrapPort}`], clientId: 'shutdown', logLevel: logLevel.NOTHING, retry: { retries: 2 } });
    const admin = kafka.admin();
    await admin.connect();
    const topic = `shutdown-${Date.now()}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }], waitForLeaders: false });
    await waitForTopics(cluster, [topic]);
    const producer = kafka.producer();
    await producer.connect();

    const acked: string[] = [];
    const created: string[] = [];
    let running = true;
    const produceLoop = (async () => {
      for (let i = 0; running; i++) {
        try {
          await producer.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, j) => ({ value: `r-${i}-${j}` })) });
          for (let j = 0; j < 10; j++) acked.push(`r-${i}-${j}`);
        } catch { running = false; }
      }
    })();
    const adminLoop = (async () => {
      for (let i = 0; running; i++) {
        const name = `${topic}-admin-${i}`;
        try {
          if (await admin.createTopics({ topics: [{ topic: name, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false })) created.push(name);
        } catch { running = false; }
      }
    })();
    await waitFor(async () => acked.length >= 500 && created.length >= 5, 60_000);

    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
    running = false;
    await Promise.all([produceLoop, adminLoop]);
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    assert.equal(code, 0, `exit code after SIGTERM: ${code}\n${stderr.slice(-2000)}`);

    // Every acknowledged record is in the topic (read directly from the cluster).
    const direct = new Kafka({ brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING });
    const consumer = direct.consumer({ groupId: `verify-${topic}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen = new Set<string>();
    void consumer.run({ eachMessage: async ({ message }) => { seen.add(message.value!.toString()); } });
    await waitFor(async () => acked.every((v) => seen.has(v)), 60_000);
    await consumer.disconnect();

    // Every successful CreateTopics has its event, and proxy.Stopped closes one intact chain.
    const report = await verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic: auditTopic, timeoutMs: 30_000 });
    assert.equal(report.ok, true, JSON.stringify(report.chain.problems));
    const events = report.eventsRead;
    for (const name of created) {
      assert.ok(events.some((e) => e.data.methodName === 'kafka.CreateTopics' && e.data.resourceName.endsWith(`/topic=${name}`) && e.data.result?.status === 'SUCCESS'),
        `no event for ${name}`);
    }
    assert.equal(events[events.length - 1].data.methodName, 'proxy.Stopped');
  });
});

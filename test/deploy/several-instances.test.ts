/**
 * Several proxy instances behind one balancer, the way users scale past one process or host: two proxies (the real
 * CLI, each its own process, spool and chain) in front of one 3-broker cluster, writing to one audit topic; HAProxy
 * balances the bootstrap port over both (round robin, health-checked), and each instance advertises its own broker
 * ports, so a client's broker connections stay on the instance that answered its metadata (on Kubernetes: the
 * client Service and each pod's headless name). Admin clients create topics in a loop through the balancer; one
 * instance is SIGKILLed mid-run and its clients reconnect through the other. Afterwards: the brokers are asked which
 * topics exist, and every one has its CreateTopics event; the killed instance, restarted on its spool, records what
 * it had written ahead; `verify` reads both instances' chains from the one topic.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { freePort } from '../harness/ports.js';
import { freePortBase } from '../harness/proxy.js';
import { RawConnection } from '../harness/raw.js';
import { startCliProxy } from '../harness/cli-proxy.js';
import { topicsKnown } from '../harness/metadata.js';
import { eventsFor } from '../harness/audited-app.js';
import { verifyTopic } from '../../src/audit/verify.js';
import { HAPROXY_DEFAULTS, startHaproxy, stopProcess } from './lb.js';

const LB = '127.0.0.2';
const CLIENTS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The test runner's KAP_TEST_* variables would be taken for settings (every KAP_ variable must name one). */

interface Instance { name: string; port: number; base: number; config: string; child?: ChildProcess; stderr: () => string }

describe('two proxy instances behind one balancer, one killed mid-run', { timeout: 600_000 }, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let work: string;
  let haproxy: ChildProcess | undefined;
  let lbPort: number;
  const instances: Instance[] = [];
  const auditTopic = `audit-multi-${Date.now()}`;

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    work = mkdtempSync(join(tmpdir(), 'kap-multi-'));
    const brokers = cluster.plainBootstrap.split(',').map((s) => `"${s}"`).join(', ');
    for (const name of ['a', 'b']) {
      const port = await freePort();
      const base = await freePortBase(Math.max(...cluster.brokers.map((b) => b.nodeId)) + 1);
      const config = join(work, `${name}.yaml`);
      writeFileSync(config, [
        'listen:', '  host: 127.0.0.1', `  bootstrapPort: ${port}`, `  brokerPortBase: ${base}`, '  advertisedHost: 127.0.0.1',
        'upstream:', `  bootstrapServers: [${brokers}]`,
        'admin:', '  enabled: false',
        'log:', '  level: warn',
        'shutdown:', '  drainTimeoutMs: 5000',
        'audit:', `  topic: ${auditTopic}`, `  clusterId: ${cluster.clusterId}`, '  partitions: 3', '  replicationFactor: 3', `  brokers: [${brokers}]`,
        '  spool:', `    dir: ${join(work, `spool-${name}`)}`, '  batch:', '    maxEvents: 100', '    lingerMs: 20',
        '',
      ].join('\n'));
      instances.push({ name, port, base, config, stderr: () => '' });
    }
    lbPort = await freePort();
  });

  after(async () => {
    await stopProcess(haproxy, 'SIGKILL');
    for (const i of instances) await stopProcess(i.child, 'SIGKILL');
    await release?.();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function start(i: Instance): Promise<void> {
    const started = await startCliProxy(i.config, i.port, `proxy ${i.name}`);
    i.child = started.child;
    i.stderr = started.stderr;
  }

  test('clients spread over both, reconnect through the survivor; every executed operation has its event; both chains verify', async (t) => {
    await Promise.all(instances.map(start));
    // Round robin over both bootstrap ports; a health check every 300 ms takes a dead instance out of rotation.
    const cfg = [...HAPROXY_DEFAULTS,
      'frontend bootstrap', `  bind ${LB}:${lbPort}`, '  default_backend proxies',
      'backend proxies', '  balance roundrobin', '  option redispatch', '  retries 3',
      ...instances.map((i) => `  server ${i.name} 127.0.0.1:${i.port} check inter 300 fall 1 rise 2`),
    ].join('\n') + '\n';
    haproxy = await startHaproxy(work, 'haproxy-multi', cfg, [{ host: LB, port: lbPort }]);

    const attempted: string[] = [];
    const okAt: number[] = [];
    let failures = 0;
    let stop = false;
    const client = async (c: number) => {
      const make = () => new Kafka({ clientId: `multi-${c}`, brokers: [`${LB}:${lbPort}`], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 }, connectionTimeout: 3_000 }).admin();
      let admin: Admin = make();
      let i = 0;
      let errorsInRow = 0;
      while (!stop) {
        const topic = `multi-${auditTopic.slice(12)}-${c}-${i++}`;
        attempted.push(topic);
        try {
          await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false });
          okAt.push(Date.now());
          errorsInRow = 0;
        } catch {
          failures++;
          // A client whose instance is gone reconnects: a fresh bootstrap through the balancer lands on the survivor.
          if (++errorsInRow >= 2) { await admin.disconnect().catch(() => {}); admin = make(); errorsInRow = 0; }
          await sleep(100);
        }
      }
      await admin.disconnect().catch(() => {});
    };
    const loops = Array.from({ length: CLIENTS }, (_, c) => client(c));
    await sleep(4_000);
    const [victim, survivor] = instances;
    const killedAt = Date.now();
    await stopProcess(victim.child, 'SIGKILL');
    await sleep(6_000);
    stop = true;
    await Promise.all(loops);
    const afterKill = okAt.filter((at) => at > killedAt + 500).length;

    // The killed instance restarts on its own spool: it records what it had written ahead, outcome unknown.
    const restartedAt = Date.now();
    await start(victim);
    for (const i of instances) {
      await stopProcess(i.child);
      assert.equal(i.child!.exitCode, 0, `proxy ${i.name} stops cleanly:\n${i.stderr().slice(-2000)}`);
    }

    await sleep(2_000);
    const executed = [...await topicsKnown(cluster, attempted)];
    const report = await verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic: auditTopic, timeoutMs: 60_000 });
    const events = report.eventsRead;
    const missing = executed.filter((topic) => eventsFor(events, 'CreateTopics', topic).length === 0);
    const creates = events.filter((e) => e.data.methodName === 'kafka.CreateTopics');
    const byInstance = new Map<string, number>();
    for (const e of creates) byInstance.set(String(e.auditinstance), (byInstance.get(String(e.auditinstance)) ?? 0) + 1);
    const recovered = creates.filter((e) => /^outcome unknown/.test(e.data.result?.message ?? '')).length;
    t.diagnostic(`${attempted.length} attempted, ${executed.length} executed, ${failures} client errors, ${afterKill} successes after the kill, `
      + `CreateTopics events per instance ${JSON.stringify([...byInstance.values()])}, ${recovered} recovered (outcome unknown), `
      + `chain problems ${JSON.stringify(report.chain.problems.map((p) => `${p.kind}@${p.instance.slice(0, 8)}:${p.seq}`))}`);

    assert.ok(executed.length >= 20, `only ${executed.length} operations executed: the workload did not run`);
    assert.deepEqual(missing, [], 'executed operations without an event');
    assert.equal(byInstance.size, 2, 'clients were spread over both instances');
    assert.ok(afterKill >= CLIENTS, `clients did not carry on through the surviving instance (${afterKill} successes after the kill)`);
    // Both instances' chains are on the one topic and verify reads each. The only thing a SIGKILL may leave is a gap
    // (events sealed in memory, not yet spooled: their operations are recorded again from the journal).
    assert.equal(report.chain.instances.length, 2, `chains on the topic: ${JSON.stringify(report.chain.instances)}`);
    assert.ok(report.complete && !report.timedOut);
    const survivorId = creates.find((e) => Date.parse(e.time) > killedAt + 500 && Date.parse(e.time) < restartedAt
      && !/^outcome unknown/.test(e.data.result?.message ?? ''))?.auditinstance;
    assert.ok(survivorId, 'no event written after the kill');
    assert.deepEqual(report.chain.problems.filter((p) => p.instance === survivorId), [], `the surviving instance (${survivor.name}) has an intact chain`);
    assert.deepEqual(report.chain.problems.filter((p) => p.kind !== 'gap').map((p) => p.detail), [], 'chain problems other than a gap at the kill');
  });
});

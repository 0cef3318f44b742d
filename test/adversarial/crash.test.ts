/**
 * SIGKILL at random moments under a loop of audited operations: the proxy (the real CLI, its own process, default
 * write-ahead) is killed and restarted again and again while three raw connections create topics through it, one
 * request after another, reconnecting whenever it is gone. Afterwards the brokers are asked, directly, which of the
 * attempted topics exist: every one of them must have a CreateTopics event on the audit topic. An operation killed
 * between the broker's execution and its event is recorded at the next start from the write-ahead journal, with
 * outcome unknown.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Decoded } from '../../protocol/codec.js';
import { verifyTopic } from '../../src/audit/verify.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { freePort } from '../harness/ports.js';
import { freePortBase } from '../harness/proxy.js';
import { decodeResponse, kafkaRequest, RawConnection } from '../harness/raw.js';
import { topicsKnown } from '../harness/metadata.js';
import { eventsFor } from '../harness/audited-app.js';
import { startCliProxy } from '../harness/cli-proxy.js';

const KILLS = Number(process.env.KAP_CRASH_KILLS ?? 10);
const LOOPS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The test runner's KAP_TEST_* variables would be taken for settings (every KAP_ variable must name one). */

describe('SIGKILL at random moments: no executed operation without its event', { timeout: 600_000 }, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let work: string;
  let child: ChildProcess | undefined;
  let stderr = (): string => '';
  let port: number;
  const auditTopic = `audit-crash-${Date.now()}`;

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    work = mkdtempSync(join(tmpdir(), 'kap-crash-'));
    port = await freePort();
    const base = await freePortBase(3);
    writeFileSync(join(work, 'config.yaml'), [
      'listen:', '  host: 127.0.0.1', `  bootstrapPort: ${port}`, `  brokerPortBase: ${base}`, '  advertisedHost: 127.0.0.1',
      'upstream:', `  bootstrapServers: [${cluster.plainBootstrap.split(',').map((s) => `"${s}"`).join(', ')}]`,
      'admin:', '  enabled: false',
      'log:', '  level: warn',
      'audit:', `  topic: ${auditTopic}`, `  clusterId: ${cluster.clusterId}`, '  partitions: 1', '  replicationFactor: 3',
      `  brokers: [${cluster.plainBootstrap.split(',').map((s) => `"${s}"`).join(', ')}]`,
      `  writeAhead: ${process.env.KAP_CRASH_WRITE_AHEAD ?? 'management'}`,
      '  spool:', `    dir: ${join(work, 'spool')}`, '  batch:', '    maxEvents: 100', '    lingerMs: 20',
      '',
    ].join('\n'));
  });

  after(async () => {
    child?.kill('SIGKILL');
    await release?.();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function startProxy(): Promise<void> {
    const started = await startCliProxy(join(work, 'config.yaml'), port);
    child = started.child;
    stderr = started.stderr;
  }

  test(`${KILLS} SIGKILLs under load: every topic the brokers created has its CreateTopics event`, async (t) => {
    const attempted: string[] = [];
    let stop = false;
    let answered = 0;
    const loop = async (l: number) => {
      let i = 0;
      while (!stop) {
        let c: RawConnection;
        try { c = await RawConnection.open(port); } catch { await sleep(50); continue; }
        try {
          while (!stop && !c.closed) {
            const topic = `crash-${auditTopic.slice(12)}-${l}-${i++}`;
            attempted.push(topic);
            const body: Decoded = { Topics: [{ Name: topic, NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] }], timeoutMs: 30_000, validateOnly: false };
            const { response } = c.send(19, 5, body);
            const frame = await Promise.race([response, c.until(() => c.closed, 30_000).then(() => undefined)]);
            if (!frame) break;
            if ((decodeResponse(19, 5, frame).Topics as Decoded[])[0].ErrorCode === 0) answered++;
          }
        } finally {
          c.destroy();
        }
      }
    };
    await startProxy();
    const loops = Array.from({ length: LOOPS }, (_, l) => loop(l));
    for (let k = 0; k < KILLS; k++) {
      await sleep(200 + Math.floor(Math.random() * 1000));
      const dying = child!;
      const exited = new Promise((r) => dying.once('exit', r));
      dying.kill('SIGKILL');
      await exited;
      await startProxy();
    }
    await sleep(500);
    stop = true;
    await Promise.all(loops);
    const exited = new Promise((r) => child!.once('exit', r));
    child!.kill('SIGTERM');
    await exited;
    assert.equal(child!.exitCode, 0, `the last proxy stops cleanly:\n${stderr().slice(-2000)}`);

    // The brokers' side: which of the attempted creations ran (some were still on their way when the proxy died).
    await sleep(3000);
    const executed = [...await topicsKnown(cluster, attempted)];
    assert.ok(executed.length >= KILLS, `only ${executed.length} topics created: the loop did not run`);
    const report = await verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic: auditTopic, timeoutMs: 60_000 });
    const events = report.eventsRead;
    const missing = executed.filter((topic) => eventsFor(events, 'CreateTopics', topic).length === 0);
    const twice = executed.filter((topic) => eventsFor(events, 'CreateTopics', topic).length > 1);
    const recovered = events.filter((e) => e.data.methodName === 'kafka.CreateTopics' && /^outcome unknown/.test(e.data.result?.message ?? ''));
    t.diagnostic(`${attempted.length} attempted, ${answered} answered with success, ${executed.length} executed by the brokers, `
      + `${missing.length} without an event, ${twice.length} with two events, ${recovered.length} events recovered from the journal (outcome unknown)`);
    assert.deepEqual(missing, [], `executed operations without an event after ${KILLS} SIGKILLs`);
    // A second event for one operation can only be a recovered one: the outcome event and the journal's strike-off
    // were both in flight at the kill.
    for (const topic of twice) {
      const found = eventsFor(events, 'CreateTopics', topic);
      assert.equal(found.filter((e) => !/^outcome unknown/.test(e.data.result?.message ?? '')).length, 1, `${topic}: ${JSON.stringify(found.map((e) => e.data.result))}`);
    }
  });
});

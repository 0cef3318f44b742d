/**
 * `tail --no-follow` prints exactly the events on the audit topic: no more, no fewer, none twice.
 *
 * A 6-partition topic on the 3-broker cluster holds 3,000 audit-shaped events (2,880 after DeleteRecords) and two
 * records that are not events:
 * - partitions 0, 1, 2: 2,700 events, round robin, in time order (record timestamp = event time, like the sink);
 *   partition 2 also holds a null value (tombstone) and a record that is not JSON;
 * - partition 3 and 5: empty;
 * - partition 4: the 300 oldest events, the first 120 removed with DeleteRecords (low watermark 120 > 0).
 *
 * What tail prints is compared with what kcat (librdkafka, an independent client) reads from the topic: the same
 * event ids, each once. Checked with tail() (JSON and text), with --since (exactly the events at or after that
 * time, although partition 4 has none), with --no-follow alone (nothing, at once), with records produced while tail
 * runs (not printed: they are past the end tail saw at start), and with the real CLI in a child process whose
 * stdout reader stops reading for a while (the CLI exits only after every line went through the pipe).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { useCluster } from '../harness/shared-cluster.js';
import { waitForTopics } from '../harness/metadata.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { formatLine, tail, type TailOptions } from '../../src/tail.js';

const { Kafka, logLevel } = kafkajs;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const PARTITIONS = 6;
const BULK_PARTITIONS = [0, 1, 2];
const OLD_PARTITION = 4;
const OLD_EVENTS = 300;
const DELETED = 120;
const TOTAL = 3000;
const STEP_MS = 100;

interface TopicRecord { partition: number; offset: number; value: string | null }

/** An event shaped like the sink's (CloudEvent, Confluent payload, chain attributes), about 900 bytes of JSON. */
function auditEvent(k: number, time: number, partition: number): AuditEvent {
  const crn = 'crn:///kafka=TailTestClusterId00000000';
  const name = `tail-topic-${k}`;
  return {
    specversion: '1.0', id: randomUUID(), source: crn, subject: `${crn}/topic=${name}`,
    type: k % 7 === 0 ? 'io.confluent.kafka.server/authorization' : 'io.confluent.kafka.server/request',
    datacontenttype: 'application/json', time: new Date(time).toISOString(),
    data: {
      serviceName: crn, methodName: k % 3 === 0 ? 'kafka.DeleteTopics' : 'kafka.CreateTopics', resourceName: `${crn}/topic=${name}`,
      authenticationInfo: { principal: `User:user-${k % 5}` },
      authorizationInfo: { granted: k % 7 !== 0, operation: 'Create', resourceType: 'Topic', resourceName: name, patternType: 'LITERAL' },
      request: { correlation_id: String(k), client_id: 'tail-test' },
      requestMetadata: { client_address: `127.0.0.1:${40000 + (k % 1000)}` },
      result: k % 7 === 0
        ? { status: 'UNAUTHORIZED', errorCode: 29, errorName: 'TOPIC_AUTHORIZATION_FAILED', message: 'Authorization failed.' }
        : { status: 'SUCCESS', errorCode: 0, errorName: 'NONE', message: '' },
      details: { numPartitions: 3, replicationFactor: 3 },
    },
    auditinstance: `tail-test-instance-${partition}`, auditseq: k, auditprevhash: 'x'.repeat(64), audithash: 'y'.repeat(64),
  } as AuditEvent;
}

/** Every record of the topic, read by kcat from the beginning to the end (-e). */
async function readWithKcat(bootstrap: string, topic: string): Promise<{ events: Map<string, AuditEvent>; nonEvents: TopicRecord[]; records: number }> {
  // Not the harness' kcat(): its execFile buffer (1 MiB) is smaller than this topic (about 3 MB of JSON).
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolvePromise, reject) => {
    const child = spawn('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-J'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolvePromise({ code, stdout: Buffer.concat(out).toString('utf8'), stderr }); });
  });
  assert.equal(r.code, 0, `kcat: ${r.stderr}`);
  const events = new Map<string, AuditEvent>();
  const nonEvents: TopicRecord[] = [];
  let records = 0;
  for (const line of r.stdout.split('\n')) {
    if (line.trim() === '') continue;
    const rec = JSON.parse(line) as { partition: number; offset: number; payload: string | null };
    records++;
    let e: AuditEvent | undefined;
    try { e = rec.payload === null ? undefined : JSON.parse(rec.payload) as AuditEvent; } catch { e = undefined; }
    if (e && typeof e === 'object' && typeof e.id === 'string') {
      assert.ok(!events.has(e.id), `kcat read event ${e.id} twice`);
      events.set(e.id, e);
    } else nonEvents.push({ partition: rec.partition, offset: rec.offset, value: rec.payload });
  }
  return { events, nonEvents, records };
}

/** Runs tail() to the end; fails (instead of hanging) when it does not stop by itself within the limit. */
async function tailAll(base: Omit<TailOptions, 'write' | 'signal'>, onLine?: (line: string, n: number) => void | Promise<void>, limitMs = 45_000) {
  const lines: string[] = [];
  const signal = AbortSignal.timeout(limitMs);
  const t0 = Date.now();
  const printed = await tail({ ...base, signal, write: (line) => { lines.push(line); return onLine?.(line, lines.length); } });
  assert.ok(!signal.aborted, `tail did not stop by itself within ${limitMs} ms (${lines.length} lines so far)`);
  return { lines, printed, ms: Date.now() - t0 };
}

/** Asserts that JSON lines hold exactly the expected events: the same ids, each once. */
function assertSameEvents(lines: string[], expected: Map<string, AuditEvent>, what: string): void {
  const seen = new Map<string, number>();
  for (const l of lines) {
    const id = (JSON.parse(l) as AuditEvent).id;
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  const duplicates = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  const missing = [...expected.keys()].filter((id) => !seen.has(id));
  const extra = [...seen.keys()].filter((id) => !expected.has(id));
  assert.deepEqual(
    { lines: lines.length, duplicates: duplicates.length, missing: missing.length, extra: extra.length },
    { lines: expected.size, duplicates: 0, missing: 0, extra: 0 },
    `${what}: printed ${lines.length} lines for ${expected.size} events (first missing: ${missing.slice(0, 3).join(', ')}; first extra: ${extra.slice(0, 3).join(', ')})`,
  );
  for (const l of lines) {
    const e = JSON.parse(l) as AuditEvent;
    assert.deepEqual(e, expected.get(e.id), `${what}: event ${e.id} printed as it is on the topic`);
  }
}

describe('tail --no-follow prints exactly the events on the topic', { timeout: 600_000 }, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let kafka: InstanceType<typeof Kafka>;
  let bootstrap: string;
  const topic = `tail-exact-${randomBytes(4).toString('hex')}`;
  const base = Date.now() - 10 * 60_000;
  const timeOf = (k: number) => base + k * STEP_MS;
  const lateIds = new Set<string>();
  let opts: Omit<TailOptions, 'write' | 'signal'>;

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    bootstrap = cluster.plainBootstrap;
    opts = { brokers: bootstrap.split(','), topic, fromBeginning: true, follow: false, json: true, filter: {}, kafkaLogLevel: 'nothing' };
    kafka = new Kafka({ clientId: 'tail-test', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING, connectionTimeout: 10_000, requestTimeout: 30_000 });
    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.ok(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: false }));
      await waitForTopics(cluster, [topic]);
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        const messages: Array<{ partition: number; value: string | null; timestamp: string }> = [];
        for (let k = 0; k < TOTAL; k++) {
          const partition = k < OLD_EVENTS ? OLD_PARTITION : BULK_PARTITIONS[k % BULK_PARTITIONS.length];
          messages.push({ partition, value: JSON.stringify(auditEvent(k, timeOf(k), partition)), timestamp: String(timeOf(k)) });
          if (k === 1000) {
            messages.push({ partition: 2, value: null, timestamp: String(timeOf(k)) });
            messages.push({ partition: 2, value: 'this is not an audit event', timestamp: String(timeOf(k)) });
          }
        }
        for (let i = 0; i < messages.length; i += 500) {
          await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) });
        }
      } finally {
        await producer.disconnect();
      }
      await admin.fetchTopicMetadata({ topics: [topic] }); // deleteTopicRecords looks the leaders up in the admin's metadata
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: OLD_PARTITION, offset: String(DELETED) }] });
      const offsets = await admin.fetchTopicOffsets(topic);
      const p4 = offsets.find((p) => p.partition === OLD_PARTITION)!;
      assert.deepEqual([p4.low, p4.high], [String(DELETED), String(OLD_EVENTS)], 'partition 4 starts above offset 0');
      for (const p of [3, 5]) assert.equal(offsets.find((o) => o.partition === p)!.high, '0', `partition ${p} is empty`);
    } finally {
      await admin.disconnect();
    }
  });

  after(async () => {
    await release?.();
  });

  test('--from-beginning --no-follow --json: every event once, none missing, none produced after the start', async () => {
    const expected = await readWithKcat(bootstrap, topic);
    assert.equal(expected.events.size, TOTAL - DELETED, 'kcat reads every event that is on the topic');
    assert.equal(expected.nonEvents.length, 2);
    const producer = kafka.producer();
    await producer.connect();
    try {
      // While tail reads, more events keep arriving, as on a live audit topic (10 after every 250 lines, all after
      // tail took its end offsets): none of them may be printed.
      let sent = 0;
      const r = await tailAll(opts, async (_line, n) => {
        if (n % 250 !== 1) return;
        const late = Array.from({ length: 10 }, (_, i) => auditEvent(TOTAL + sent * 10 + i, Date.now(), BULK_PARTITIONS[i % 3]));
        sent++;
        for (const e of late) lateIds.add(e.id);
        await producer.send({ topic, acks: -1, messages: late.map((e, i) => ({ partition: BULK_PARTITIONS[i % 3], value: JSON.stringify(e) })) });
      });
      assert.ok(lateIds.size >= 10, 'events were produced while tail ran');
      assertSameEvents(r.lines, expected.events, 'tail()');
      assert.equal(r.printed, r.lines.length, 'the count tail returns is the number of lines written');
      process.stderr.write(`tail() printed ${r.lines.length} of ${expected.events.size} events in ${r.ms} ms\n`);
    } finally {
      await producer.disconnect();
    }
  });

  test('text lines: one per event in the usual format, and a marker for each record that is not an event', async () => {
    const expected = await readWithKcat(bootstrap, topic);
    assert.equal(expected.events.size, TOTAL - DELETED + lateIds.size);
    const r = await tailAll({ ...opts, json: false });
    const want = [
      ...[...expected.events.values()].map((e) => formatLine(e)),
      ...expected.nonEvents.map((n) => `(unparseable record at partition ${n.partition} offset ${n.offset})`),
    ].sort();
    assert.equal(r.lines.length, want.length, `text lines: ${r.lines.length}, expected ${want.length}`);
    assert.deepEqual([...r.lines].sort(), want);
    assert.equal(r.printed, expected.events.size, 'marker lines are not counted as events');
  });

  test('--since --no-follow: exactly the events at or after that time (partition 4 has none, 3 and 5 are empty)', async () => {
    const expected = await readWithKcat(bootstrap, topic);
    const since = timeOf(2000); // an event's exact time: that event is included
    const want = new Map([...expected.events].filter(([, e]) => Date.parse(e.time) >= since));
    assert.equal(want.size, TOTAL - 2000 + lateIds.size);
    const r = await tailAll({ ...opts, fromBeginning: false, filter: { since } });
    assertSameEvents(r.lines, want, 'tail --since');
  });

  test('--no-follow without --from-beginning or --since prints nothing and stops at once', async () => {
    const r = await tailAll({ ...opts, fromBeginning: false }, undefined, 20_000);
    assert.deepEqual(r.lines, []);
  });

  test('the CLI (tail --from-beginning --no-follow --json) with a slow reader on stdout: every event once', async () => {
    const expected = await readWithKcat(bootstrap, topic);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KAP_')) env[k] = v;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'tail', '-b', bootstrap, '-t', topic, '--from-beginning', '--no-follow', '--json'],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    // A reader that stops reading for a while (a pager, a slow link): after the first chunk, nothing is read until
    // the CLI exits or 10 s have passed. The pipe holds 64 KiB; the CLI must wait for the reader, not exit with
    // the rest of its output still queued in memory.
    let paused = false;
    child.stdout.on('data', (d: Buffer) => {
      chunks.push(d);
      if (paused) return;
      paused = true;
      child.stdout.pause();
      const timer = setTimeout(() => child.stdout.resume(), 10_000);
      child.once('exit', () => { clearTimeout(timer); child.stdout.resume(); });
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolvePromise) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('close', (code, signal) => { clearTimeout(timer); resolvePromise({ code, signal }); });
    });
    assert.deepEqual(result, { code: 0, signal: null }, `tail CLI exit (stderr: ${stderr})`);
    const text = Buffer.concat(chunks).toString('utf8');
    const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l !== '');
    assertSameEvents(lines, expected.events, 'tail CLI');
    assert.ok(text.endsWith('\n'), 'the output ends with a complete line');
    process.stderr.write(`tail CLI printed ${lines.length} of ${expected.events.size} events (${text.length} bytes)\n`);
  });
});

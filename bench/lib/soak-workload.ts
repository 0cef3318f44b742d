/**
 * The workloads of bench/soak.ts. Each runs until its `Stop` flag is set and counts what it did; every
 * unexpected failure is noted in `Errors` (the soak fails on any). Clients connect through the proxy unless
 * said otherwise.
 *
 *  - data:      kafkajs producers (acks=all) with per-lane sequence numbers, a short-lived kafkajs producer now
 *               and then (client churn), kcat producing a few records; one consumer group reading it all.
 *               Every value is derived from (lane, seq), so the consumer checks each record's content, and
 *               the run ends with: every acknowledged record consumed, nothing unknown, nothing corrupt.
 *  - admin:     a loop of audited operations on a fresh topic per cycle (create, alter configs, create
 *               partitions, create/delete an ACL, delete records, delete a group that does not exist, delete
 *               the topic); every operation is recorded so its audit event can be looked up at the end.
 *  - churn:     raw sockets: connect, ApiVersions, disconnect.
 *  - malformed: raw sockets that send one good ApiVersions and then a malformed frame; the proxy must close
 *               that connection (and count it), and a long-lived bystander connection must stay up.
 *  - tools:     kcat -L and a Kafka CLI tool (TopicCommand --describe), now and then.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import kafkajs, { type Admin, type Consumer, type Kafka as KafkaClient, type Producer } from 'kafkajs';
import { runKafkaTool } from '../../test/harness/kafka-cluster.js';
import { RawConnection, requestFrame } from '../../test/harness/raw.js';
import { sleep } from './env.js';
import { createTopics } from './topics.js';

const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes, ConfigResourceTypes } = kafkajs;

export interface Stop { stopped: boolean }

/** Sleeps up to `ms`, waking early once `stop` is set (checked every 100 ms). */
export async function pause(stop: Stop, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!stop.stopped && Date.now() < end) await sleep(Math.min(100, end - Date.now()));
}

export function kafka(bootstrap: string, clientId: string): KafkaClient {
  return new Kafka({ clientId, brokers: [bootstrap], logLevel: logLevel.NOTHING, connectionTimeout: 10_000, requestTimeout: 30_000, retry: { retries: 8 } });
}

/** Unexpected failures by workload: how many, and the first few messages. */
export class Errors {
  readonly byKind = new Map<string, { count: number; samples: string[] }>();
  note(kind: string, err: unknown): void {
    let e = this.byKind.get(kind);
    if (!e) { e = { count: 0, samples: [] }; this.byKind.set(kind, e); }
    e.count++;
    if (e.samples.length < 5) e.samples.push(`${new Date().toISOString()} ${(err as Error)?.message ?? String(err)}`.slice(0, 300));
  }
  get total(): number { let n = 0; for (const e of this.byKind.values()) n += e.count; return n; }
}

// ---------------------------------------------------------------------------------------------------------------
// Data: sequence-numbered records

export const DATA_TOPIC = 'soak-data';
export const DATA_PARTITIONS = 4;

/** A bit/byte array indexed by sequence number that grows as needed. */
class Counts {
  private a = new Uint8Array(1 << 14);
  /** Highest index set + 1. */
  length = 0;
  get(i: number): number { return i < this.a.length ? this.a[i] : 0; }
  /** Increments (saturating at 255); returns the value before. */
  inc(i: number): number {
    if (i >= this.a.length) {
      let n = this.a.length;
      while (n <= i) n *= 2;
      const b = new Uint8Array(n);
      b.set(this.a);
      this.a = b;
    }
    const before = this.a[i];
    if (before < 255) this.a[i] = before + 1;
    if (i >= this.length) this.length = i + 1;
    return before;
  }
}

function valueOf(lane: number, seq: number, size: number): Buffer {
  const head = `${lane}.${seq}.`;
  const fill = createHash('sha256').update(head).digest('hex');
  let s = head;
  while (s.length < size) s += fill;
  return Buffer.from(s.slice(0, Math.max(size, head.length)));
}

const hash32 = (b: Buffer): number => createHash('sha1').update(b).digest().readUInt32LE(0);

/**
 * What was produced (acknowledged) and consumed, per lane and sequence number. A lane is one producer
 * (steady kafkajs producers, the churning kafkajs producer, kcat); the record key is "lane.seq".
 */
export class DataLedger {
  private readonly lanes: Array<{ next: number; acked: Counts; failed: Counts; consumed: Counts }> = [];
  acked = 0;
  failedSends = 0;
  consumedRecords = 0;
  consumedUnique = 0;
  duplicates = 0;
  unknown = 0;
  corrupt = 0;
  /** Sum (mod 2^32) of a hash of every acknowledged value, and of every value consumed the first time. */
  ackedChecksum = 0;
  consumedChecksum = 0;
  readonly laneNames: string[] = [];

  constructor(readonly valueSize: number) {}

  addLane(name: string): number {
    this.lanes.push({ next: 0, acked: new Counts(), failed: new Counts(), consumed: new Counts() });
    this.laneNames.push(name);
    return this.lanes.length - 1;
  }

  /** The next `n` records of a lane: key "lane.seq" and its value. */
  next(lane: number, n: number): Array<{ seq: number; key: string; value: Buffer }> {
    const l = this.lanes[lane];
    const out = [];
    for (let i = 0; i < n; i++) {
      const seq = l.next++;
      out.push({ seq, key: `${lane}.${seq}`, value: valueOf(lane, seq, this.valueSize) });
    }
    return out;
  }

  ackedRecords(lane: number, recs: Array<{ seq: number; value: Buffer }>): void {
    for (const r of recs) {
      if (this.lanes[lane].acked.inc(r.seq) === 0) { this.acked++; this.ackedChecksum = (this.ackedChecksum + hash32(r.value)) >>> 0; }
    }
  }

  failed(lane: number, recs: Array<{ seq: number }>): void {
    for (const r of recs) this.lanes[lane].failed.inc(r.seq);
    this.failedSends += recs.length;
  }

  consumed(key: Buffer | null, value: Buffer | null): void {
    this.consumedRecords++;
    const m = key ? /^(\d+)\.(\d+)$/.exec(key.toString()) : null;
    const lane = m ? this.lanes[Number(m[1])] : undefined;
    if (!m || !lane || Number(m[2]) >= lane.next) { this.unknown++; return; }
    const seq = Number(m[2]);
    if (!value || !value.equals(valueOf(Number(m[1]), seq, this.valueSize))) { this.corrupt++; return; }
    if (lane.consumed.inc(seq) === 0) { this.consumedUnique++; this.consumedChecksum = (this.consumedChecksum + hash32(value)) >>> 0; } else this.duplicates++;
  }

  /** Acknowledged records not (yet) consumed. */
  missing(): number {
    let n = 0;
    for (const l of this.lanes) for (let s = 0; s < l.acked.length; s++) if (l.acked.get(s) && !l.consumed.get(s)) n++;
    return n;
  }

  /** Consumed records whose send failed on the client side (written anyway); not an error in itself. */
  consumedButFailed(): number {
    let n = 0;
    for (const l of this.lanes) for (let s = 0; s < l.consumed.length; s++) if (l.consumed.get(s) && !l.acked.get(s)) n++;
    return n;
  }
}

/** A kafkajs producer sending `rate` records/s in small batches (acks=all) until stopped. */
export async function steadyProducer(bootstrap: string, ledger: DataLedger, lane: number, rate: number, stop: Stop, errors: Errors, counters: { sends: number }): Promise<void> {
  const producer: Producer = kafka(bootstrap, `soak-producer-${lane}`).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const perSecond = 50;
    const batch = Math.max(1, Math.round(rate / perSecond));
    const intervalMs = (batch / rate) * 1000;
    let next = performance.now();
    while (!stop.stopped) {
      const recs = ledger.next(lane, batch);
      try {
        await producer.send({ topic: DATA_TOPIC, acks: -1, messages: recs.map((r) => ({ key: r.key, value: r.value })) });
        ledger.ackedRecords(lane, recs);
        counters.sends++;
      } catch (e) {
        ledger.failed(lane, recs);
        errors.note('produce', e);
      }
      next += intervalMs;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait); else if (wait < -1000) next = performance.now(); // behind: do not burst
    }
  } finally {
    await producer.disconnect().catch((e) => errors.note('produce', e));
  }
}

/** Every `everyMs`: a new kafkajs client connects, sends a few records, disconnects (client-level churn). */
export async function churningProducer(bootstrap: string, ledger: DataLedger, lane: number, everyMs: number, stop: Stop, errors: Errors, counters: { clients: number }): Promise<void> {
  while (!stop.stopped) {
    const recs = ledger.next(lane, 5);
    const producer = kafka(bootstrap, `soak-churn-producer-${counters.clients}`).producer({ allowAutoTopicCreation: false });
    try {
      await producer.connect();
      await producer.send({ topic: DATA_TOPIC, acks: -1, messages: recs.map((r) => ({ key: r.key, value: r.value })) });
      ledger.ackedRecords(lane, recs);
      counters.clients++;
    } catch (e) {
      ledger.failed(lane, recs);
      errors.note('churn-producer', e);
    } finally {
      await producer.disconnect().catch((e) => errors.note('churn-producer', e));
    }
    await pause(stop, everyMs);
  }
}

/** One consumer group reading DATA_TOPIC into the ledger; members can be replaced (rebalances). */
export class ConsumerGroup {
  private readonly members: Consumer[] = [];
  private made = 0;
  rebalances = 0;
  constructor(private readonly bootstrap: string, readonly groupId: string, private readonly ledger: DataLedger, private readonly errors: Errors) {}

  private async member(): Promise<Consumer> {
    const c = kafka(this.bootstrap, `soak-consumer-${this.made++}`).consumer({ groupId: this.groupId, maxWaitTimeInMs: 250, sessionTimeout: 30_000, rebalanceTimeout: 30_000 });
    c.on(c.events.CRASH, (e) => this.errors.note('consume', e.payload.error));
    c.on(c.events.GROUP_JOIN, () => { this.rebalances++; });
    await c.connect();
    await c.subscribe({ topic: DATA_TOPIC, fromBeginning: true });
    await c.run({
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        for (const m of batch.messages) { this.ledger.consumed(m.key, m.value); resolveOffset(m.offset); }
        await heartbeat();
      },
    });
    return c;
  }

  async start(n: number): Promise<void> { for (let i = 0; i < n; i++) this.members.push(await this.member()); }

  /** Replaces the oldest member: it leaves the group, a new one joins (two rebalances). */
  async replaceOne(): Promise<void> {
    const old = this.members.shift();
    if (old) await old.disconnect().catch((e) => this.errors.note('consume', e));
    this.members.push(await this.member());
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.splice(0).map((c) => c.disconnect().catch((e) => this.errors.note('consume', e))));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Admin: audited operations, each recorded

export interface AdminOp { key: string; doneAt: number }

export class AdminLedger {
  readonly ops: AdminOp[] = [];
  readonly byMethod = new Map<string, number>();
  cycles = 0;
  expectedFailures = 0;
  record(method: string, type: string, name: string): void {
    this.ops.push({ key: adminKey(`kafka.${method}`, type, name), doneAt: Date.now() });
    this.byMethod.set(method, (this.byMethod.get(method) ?? 0) + 1);
  }
}

/** How an operation is named on both sides: "<methodName> <resourceType>:<resourceName>". */
export const adminKey = (method: string, type: string, name: string): string => `${method} ${type}:${name}`;

export const ADMIN_CLIENT_PREFIX = 'soak-admin';

/**
 * Cycles of audited operations on a fresh topic until stopped; `pauseMs` between cycles. An operation whose
 * request went out and came back (success or a broker error) is recorded; one that failed on the client side
 * (timeout, connection loss) is an error and is not recorded (it may not have reached the broker).
 */
export async function adminLoop(bootstrap: string, tag: string, ledger: AdminLedger, pauseMs: number, stop: Stop, errors: Errors): Promise<void> {
  const admin: Admin = kafka(bootstrap, `${ADMIN_CLIENT_PREFIX}-${tag}`).admin();
  await admin.connect();
  const op = async (method: string, type: string, name: string, fn: () => Promise<unknown>, expectError?: string): Promise<boolean> => {
    try {
      await fn();
      if (expectError) { errors.note('admin', new Error(`${method} ${name}: expected ${expectError}, succeeded`)); }
      ledger.record(method, type, name);
      return true;
    } catch (e) {
      const err = e as Error & { type?: string; groups?: Array<{ error?: { type?: string } }> };
      const types = [err.type, ...(err.groups ?? []).map((g) => g.error?.type)].filter(Boolean);
      if (expectError && types.includes(expectError)) { ledger.record(method, type, name); ledger.expectedFailures++; return true; }
      errors.note('admin', new Error(`${method} ${name}: ${err.message} ${types.join(',')}`));
      return false;
    }
  };
  try {
    for (let cycle = 0; !stop.stopped; cycle++) {
      const topic = `soak-adm-${tag}-${cycle}`;
      const acl = {
        resourceType: AclResourceTypes.TOPIC, resourceName: topic, resourcePatternType: ResourcePatternTypes.LITERAL,
        principal: 'User:soak-reader', host: '*', operation: AclOperationTypes.READ, permissionType: AclPermissionTypes.ALLOW,
      };
      if (await op('CreateTopics', 'Topic', topic, () => createTopics(admin, [{ topic, numPartitions: 1 }]))) {
        await op('AlterConfigs', 'Topic', topic, () => admin.alterConfigs({
          validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: String(3_600_000 + cycle) }] }],
        }));
        await op('CreatePartitions', 'Topic', topic, () => admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] }));
        await op('CreateAcls', 'Topic', topic, () => admin.createAcls({ acl: [acl] }));
        await op('DeleteAcls', 'Topic', topic, () => admin.deleteAcls({ filters: [acl] }));
        await op('DeleteRecords', 'Topic', topic, () => admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '-1' }] }));
        await op('DeleteTopics', 'Topic', topic, () => admin.deleteTopics({ topics: [topic] }));
      }
      const group = `soak-nogroup-${tag}-${cycle}`;
      await op('DeleteGroups', 'Group', group, () => admin.deleteGroups([group]), 'GROUP_ID_NOT_FOUND');
      ledger.cycles++;
      await pause(stop, pauseMs);
    }
  } finally {
    await admin.disconnect().catch((e) => errors.note('admin', e));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Raw sockets: churn, malformed frames, the bystander

/** A request frame from the soak's raw sockets (client id "soak-raw"). */
const rawFrame = (apiKey: number, version: number, correlationId: number, body?: Buffer) => requestFrame(apiKey, version, correlationId, body, { clientId: 'soak-raw' });

/** A raw client socket with the soak's client id. */
export const openRaw = (port: number) => RawConnection.open(port, { clientId: 'soak-raw' });

/** Connect, ApiVersions, disconnect; `perSecond` times a second until stopped. */
export async function connectionChurn(port: number, perSecond: number, stop: Stop, errors: Errors, counters: { connections: number }): Promise<void> {
  const intervalMs = 1000 / perSecond;
  let next = performance.now();
  while (!stop.stopped) {
    try {
      const c = await openRaw(port);
      try {
        const code = await c.apiVersions();
        if (code !== 0) throw new Error(`ApiVersions error code ${code}`);
        counters.connections++;
      } finally { c.destroy(); }
    } catch (e) { errors.note('churn', e); }
    next += intervalMs;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait); else if (wait < -1000) next = performance.now();
  }
}

/** The malformed frames sent, each with the reason the proxy must count it under (kafka_proxy_connection_errors_total). */
export const MALFORMED_KINDS: ReadonlyArray<{ kind: string; reason: string; frame: () => Buffer }> = [
  { kind: 'negative size', reason: 'negative_size', frame: () => Buffer.from([0xff, 0xff, 0xff, 0xfe, 0, 1, 2, 3]) },
  // 2 GiB - 1: over limits.maxFrameBytes (100 MiB by default).
  { kind: 'oversized', reason: 'oversized', frame: () => Buffer.concat([Buffer.from([0x7f, 0xff, 0xff, 0xff]), rawFrame(0, 9, 7).subarray(4)]) },
  { kind: 'header too short', reason: 'malformed', frame: () => Buffer.from([0, 0, 0, 4, 0, 18, 0, 0]) },
  // CreateTopics v4 (audited) whose Topics array claims 2^31-1 entries: cannot be decoded, so cannot be audited.
  { kind: 'undecodable CreateTopics', reason: 'malformed', frame: () => rawFrame(19, 4, 7, Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8])) },
];

export interface MalformedCounts { sent: number; closed: number; notClosed: number; byKind: Record<string, number>; byReason: Record<string, number>; closeMs: number[] }

/**
 * Every `everyMs`: a connection that proves it works (ApiVersions), then sends one malformed frame; the proxy
 * must close it within 5 s.
 */
export async function malformedTrickle(port: number, everyMs: number, stop: Stop, errors: Errors, counts: MalformedCounts): Promise<void> {
  for (let i = 0; !stop.stopped; i++) {
    const k = MALFORMED_KINDS[i % MALFORMED_KINDS.length];
    try {
      const c = await openRaw(port);
      try {
        const code = await c.apiVersions();
        if (code !== 0) throw new Error(`ApiVersions error code ${code}`);
        const t = Date.now();
        c.write(k.frame());
        counts.sent++;
        counts.byKind[k.kind] = (counts.byKind[k.kind] ?? 0) + 1;
        counts.byReason[k.reason] = (counts.byReason[k.reason] ?? 0) + 1;
        if (await c.until(() => c.closed, 5000)) { counts.closed++; counts.closeMs.push(c.closedAt! - t); } else { counts.notClosed++; errors.note('malformed', new Error(`${k.kind}: connection still open 5 s after the frame`)); }
      } finally { c.destroy(); }
    } catch (e) { errors.note('malformed', e); }
    await pause(stop, everyMs);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tools: kcat (librdkafka) and a Kafka CLI tool

function run(cmd: string, args: string[], input: string | undefined, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

export async function kcatAvailable(): Promise<boolean> {
  return (await run('kcat', ['-V'], undefined, 10_000)).code === 0;
}

/** Every `everyMs`: kcat -L (metadata), and kcat -P producing 5 records of its own lane. */
export async function kcatLoop(bootstrap: string, ledger: DataLedger, lane: number, everyMs: number, stop: Stop, errors: Errors, counters: { runs: number }): Promise<void> {
  while (!stop.stopped) {
    const md = await run('kcat', ['-b', bootstrap, '-L', '-t', DATA_TOPIC, '-m', '30'], undefined, 60_000);
    if (md.code !== 0 || !md.stdout.includes(`topic "${DATA_TOPIC}"`)) errors.note('kcat', new Error(`kcat -L exit ${md.code}: ${md.stderr.slice(0, 200)}`));
    else counters.runs++;
    const recs = ledger.next(lane, 5);
    const p = await run('kcat', ['-b', bootstrap, '-P', '-t', DATA_TOPIC, '-K', '\t', '-X', 'acks=all', '-m', '30'],
      recs.map((r) => `${r.key}\t${r.value.toString()}\n`).join(''), 60_000);
    if (p.code !== 0 || /ERROR|failed/i.test(p.stderr)) { ledger.failed(lane, recs); errors.note('kcat', new Error(`kcat -P exit ${p.code}: ${p.stderr.slice(0, 200)}`)); } else { ledger.ackedRecords(lane, recs); counters.runs++; }
    await pause(stop, everyMs);
  }
}

/** Every `everyMs`: TopicCommand --describe of the data topic through the proxy (a JVM client). */
export async function cliLoop(bootstrap: string, everyMs: number, stop: Stop, errors: Errors, counters: { runs: number }): Promise<void> {
  while (!stop.stopped) {
    const r = await runKafkaTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--describe', '--topic', DATA_TOPIC], { timeoutMs: 90_000 });
    if (r.code !== 0 || !r.stdout.includes(`Topic: ${DATA_TOPIC}`)) errors.note('cli', new Error(`TopicCommand exit ${r.code}: ${r.stderr.slice(0, 200)}`));
    else counters.runs++;
    await pause(stop, everyMs);
  }
}

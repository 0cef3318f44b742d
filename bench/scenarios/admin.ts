/**
 * The admin (audit) path: audited operations per second through the proxy, against the same loop run
 * directly; every event is then looked up on the audit topic (none may be missing) and the delay from the
 * operation's response to the event's append on the audit topic is measured (the audit topic is created with
 * message.timestamp.type=LogAppendTime, so a record's timestamp is the broker's append time).
 *
 * Two loops:
 *  - create/delete: each client creates a topic and deletes it again, one request at a time (real metadata
 *    changes: the broker is the limit).
 *  - validate-only batches: CreateTopics with validateOnly and 100 topics per request: 100 audited operations
 *    per request that cost the broker little, so the proxy's audit path is the limit.
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { QUICK, say, sleep } from '../lib/env.js';
import { percentile } from '../lib/stats.js';
import { createTopics } from '../lib/topics.js';

export const AUDIT_TOPIC = 'confluent-audit-log-events';

export interface AdminLoopResult {
  loop: string;
  mode: 'direct' | 'proxy';
  seconds: number;
  operations: number;
  requests: number;
  opsPerSec: number;
  /** Time of one request, client side (ms). */
  requestMs: { p50: number; p99: number };
  /** proxy only */
  events?: number;
  missing?: number;
  delayMs?: { p50: number; p99: number; max: number };
}

const D = QUICK ? { seconds: 4, clients: 4, batch: 100 } : { seconds: 10, clients: 8, batch: 100 };

function client(bootstrap: string, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 }, requestTimeout: 60_000 });
}

/** Creates the audit topic the proxy will write to, with broker append times. */
export async function createAuditTopic(admin: Admin): Promise<void> {
  await createTopics(admin, [{ topic: AUDIT_TOPIC, numPartitions: 3, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] }]);
}

interface OpRecord { key: string; doneAt: number }

async function loop(kind: 'create-delete' | 'validate-only', bootstrap: string, tag: string): Promise<{ ops: OpRecord[]; requests: number; seconds: number; requestMs: number[] }> {
  const admins = await Promise.all(Array.from({ length: D.clients }, async (_, i) => {
    const a = client(bootstrap, `${tag}-c${i}`).admin();
    await a.connect();
    return a;
  }));
  const ops: OpRecord[] = [];
  const requestMs: number[] = [];
  let requests = 0;
  const timedRequest = async (p: () => Promise<unknown>) => { const t = performance.now(); await p(); requestMs.push(performance.now() - t); };
  const t0 = performance.now();
  const end = t0 + D.seconds * 1000;
  const wall = () => performance.timeOrigin + performance.now();
  await Promise.all(admins.map(async (a, c) => {
    for (let i = 0; performance.now() < end; i++) {
      if (kind === 'create-delete') {
        const topic = `${tag}-c${c}-${i}`;
        await timedRequest(() => a.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false }));
        ops.push({ key: `kafka.CreateTopics ${topic}`, doneAt: wall() });
        await timedRequest(() => a.deleteTopics({ topics: [topic] }));
        ops.push({ key: `kafka.DeleteTopics ${topic}`, doneAt: wall() });
        requests += 2;
      } else {
        const topics = Array.from({ length: D.batch }, (_, j) => ({ topic: `${tag}-c${c}-${i}-${j}`, numPartitions: 1, replicationFactor: 1 }));
        await timedRequest(() => a.createTopics({ topics, validateOnly: true, waitForLeaders: false }));
        const at = wall();
        for (const t of topics) ops.push({ key: `kafka.CreateTopics ${t.topic}`, doneAt: at });
        requests++;
      }
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(admins.map((a) => a.disconnect()));
  return { ops, requests, seconds, requestMs };
}

async function pendingEvents(adminUrl: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const m = /^kafka_audit_sink_pending_events (\d+)/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Reads the whole audit topic; returns, per "method resource-name", the append time of events from `clientPrefix`. */
async function auditEvents(bootstrap: string, clientPrefix: string): Promise<Map<string, number>> {
  const k = client(bootstrap, 'bench-audit-reader');
  const admin = k.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(AUDIT_TOPIC);
  await admin.disconnect();
  const remaining = new Map(ends.filter((e) => Number(e.high) > 0).map((e) => [e.partition, Number(e.high)]));
  const found = new Map<string, number>();
  if (remaining.size === 0) return found;
  const consumer = k.consumer({ groupId: `bench-audit-reader-${Date.now()}`, maxBytesPerPartition: 8 * 2 ** 20, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: AUDIT_TOPIC, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('audit topic not read to the end in 120 s')), 120_000);
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const e = JSON.parse(m.value!.toString()) as { data?: { methodName?: string; resourceName?: string; request?: { client_id?: string | null } } };
          const cid = e.data?.request?.client_id;
          if (cid && cid.startsWith(clientPrefix)) {
            const name = e.data!.resourceName!.split('/topic=')[1] ?? e.data!.resourceName!;
            const key = `${e.data!.methodName} ${name}`;
            if (!found.has(key)) found.set(key, Number(m.timestamp));
          }
        }
        const high = remaining.get(batch.partition);
        if (high !== undefined && Number(batch.lastOffset()) + 1 >= high) remaining.delete(batch.partition);
        if (remaining.size === 0) { clearTimeout(timer); resolve(); }
      },
    });
  });
  await consumer.disconnect();
  return found;
}

export async function runAdminLoops(direct: string, proxy: string, proxyAdminUrl: string, label = ''): Promise<AdminLoopResult[]> {
  const results: AdminLoopResult[] = [];
  for (const kind of ['create-delete', 'validate-only'] as const) {
    for (const mode of ['direct', 'proxy'] as const) {
      const tag = `adm${label}-${kind === 'create-delete' ? 'cd' : 'vo'}-${mode}-${Date.now() % 1e6}`;
      const { ops, requests, seconds, requestMs } = await loop(kind, mode === 'direct' ? direct : proxy, tag);
      const r: AdminLoopResult = {
        loop: kind, mode, seconds, operations: ops.length, requests, opsPerSec: ops.length / seconds,
        requestMs: { p50: percentile(requestMs, 50), p99: percentile(requestMs, 99) },
      };
      if (mode === 'proxy') {
        // Wait for the sink to have everything acknowledged, then look every operation up on the audit topic.
        for (let i = 0; i < 600 && (await pendingEvents(proxyAdminUrl)) !== 0; i++) await sleep(100);
        const events = await auditEvents(direct, tag);
        const delays: number[] = [];
        let missing = 0;
        for (const op of ops) {
          const at = events.get(op.key);
          if (at === undefined) missing++; else delays.push(at - op.doneAt);
        }
        r.events = events.size;
        r.missing = missing;
        r.delayMs = { p50: percentile(delays, 50), p99: percentile(delays, 99), max: delays.reduce((m, d) => Math.max(m, d), -Infinity) };
      }
      say(`  admin ${kind} ${mode}${label}: ${r.operations} ops in ${seconds.toFixed(1)} s = ${Math.round(r.opsPerSec)} ops/s, `
        + `request p50 ${r.requestMs.p50.toFixed(2)} ms p99 ${r.requestMs.p99.toFixed(2)} ms` +
        (r.events !== undefined ? `; events found ${r.events}, missing ${r.missing}, delay p50 ${r.delayMs!.p50.toFixed(1)} ms p99 ${r.delayMs!.p99.toFixed(1)} ms` : ''));
      results.push(r);
    }
  }
  return results;
}

/**
 * Reads a whole audit topic and checks its hash chains (see chain.ts).
 *
 * The end of the topic is fixed up front with admin.fetchTopicOffsets (high watermark per partition); reading
 * stops once every partition has reached it, so records produced while the verifier runs are not read. The
 * consumer uses a fresh random group id, starts from the beginning, never commits, and the group is deleted
 * afterwards. Events are checked per partition in offset order (one instance's chain lives in one partition,
 * because the sink keys records by instance id). When every partition still starts at offset 0 (nothing removed
 * by retention or DeleteRecords), chains must start at sequence 1, so removed head events are found too.
 */
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from './event.js';
import { verifyChain, type ChainReport } from './chain.js';
import { createKafka, type AuditKafkaConnection } from './kafka-client.js';
import { log } from '../log.js';

export interface VerifyTopicOptions extends AuditKafkaConnection {
  topic: string;
  /** Always read from the beginning (the only supported mode; kept for the call's readability). */
  fromBeginning?: true;
  /** Give up after this long (the report then has timedOut: true and ok: false). Default 60 s. */
  timeoutMs?: number;
}

export interface UnparseableRecord { partition: number; offset: string; error: string }

export interface VerifyReport {
  ok: boolean;
  topic: string;
  /** Records read. */
  records: number;
  /** Records that parsed as CloudEvents. */
  events: number;
  unparseable: UnparseableRecord[];
  partitions: Array<{ partition: number; low: string; high: string; read: number }>;
  /** True when every partition starts at offset 0, i.e. the chains were checked from sequence 1. */
  complete: boolean;
  timedOut: boolean;
  chain: ChainReport;
  /** The parsed events in partition/offset order (for callers that check more). */
  eventsRead: AuditEvent[];
}

function parseEvent(value: Buffer | null): AuditEvent {
  if (value === null) throw new Error('null value (tombstone)');
  const o = JSON.parse(value.toString('utf8')) as AuditEvent;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error('not a JSON object');
  if (o.specversion !== '1.0' || typeof o.id !== 'string' || typeof o.type !== 'string' || typeof o.source !== 'string') {
    throw new Error('not a CloudEvents 1.0 event (specversion/id/type/source missing)');
  }
  return o;
}

export async function verifyTopic(opts: VerifyTopicOptions): Promise<VerifyReport> {
  const kafka = createKafka({ ...opts, clientId: opts.clientId ?? 'kafka-audit-verify' }, 'audit-verify');
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `kafka-audit-verify-${randomUUID()}`;
  const perPartition = new Map<number, Array<{ offset: string; value: Buffer | null }>>();
  let partitions: Array<{ partition: number; low: string; high: string }> = [];
  let timedOut = false;
  let consumerUsed = false;
  try {
    partitions = (await admin.fetchTopicOffsets(opts.topic)).map((p) => ({ partition: p.partition, low: p.low, high: p.high }));
    const targets = new Map(partitions.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
    for (const p of partitions) perPartition.set(p.partition, []);
    if (targets.size > 0) {
      consumerUsed = true;
      const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
        const remaining = new Set(targets.keys());
        let finish!: () => void;
        const done = new Promise<void>((r) => { finish = r; });
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const target = targets.get(batch.partition);
            if (target === undefined) return;
            const list = perPartition.get(batch.partition)!;
            for (const m of batch.messages) {
              if (BigInt(m.offset) >= target) break;
              list.push({ offset: m.offset, value: m.value });
            }
            const last = list[list.length - 1];
            if (last && BigInt(last.offset) + 1n >= target) {
              remaining.delete(batch.partition);
              if (remaining.size === 0) finish();
            }
          },
        });
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([done, new Promise<void>((r) => { timer = setTimeout(() => { timedOut = true; r(); }, timeoutMs); })]);
        if (timer) clearTimeout(timer);
      } finally {
        await consumer.disconnect().catch(() => undefined);
      }
    }
  } finally {
    if (consumerUsed) {
      await admin.deleteGroups([groupId]).catch((e) => log.debug({ component: 'audit-verify', err: e, groupId }, 'could not delete the verifier consumer group'));
    }
    await admin.disconnect().catch(() => undefined);
  }

  const unparseable: UnparseableRecord[] = [];
  const events: AuditEvent[] = [];
  let records = 0;
  const partitionReport = partitions.map((p) => ({ ...p, read: perPartition.get(p.partition)?.length ?? 0 }));
  for (const p of [...partitions].sort((a, b) => a.partition - b.partition)) {
    // Compaction or transactions could leave holes in offsets; order is still the offset order.
    const list = (perPartition.get(p.partition) ?? []).sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
    for (const r of list) {
      records++;
      try {
        events.push(parseEvent(r.value));
      } catch (e) {
        unparseable.push({ partition: p.partition, offset: r.offset, error: (e as Error).message });
      }
    }
  }
  const complete = partitions.every((p) => p.low === '0');
  const chain = verifyChain(events, { complete });
  return {
    ok: chain.ok && unparseable.length === 0 && !timedOut,
    topic: opts.topic, records, events: events.length, unparseable, partitions: partitionReport,
    complete, timedOut, chain, eventsRead: events,
  };
}

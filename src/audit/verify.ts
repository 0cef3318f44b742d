/**
 * Reads a whole audit topic and checks its hash chains (see chain.ts).
 *
 * The end of the topic is fixed up front with admin.fetchTopicOffsets (high watermark per partition); reading
 * stops once every partition has reached it, so records produced while the verifier runs are not read. Partitions
 * are fetched by offset without a consumer group (topic-reader.ts), so Read on the topic is all a verifier needs;
 * without it verifyTopic rejects with an AccessDeniedError naming the permission (never a report of "problems"). Events are checked per partition in offset order (one instance's chain lives in one partition,
 * because the sink keys records by instance id). When every partition still starts at offset 0 (nothing removed
 * by retention or DeleteRecords), chains must start at sequence 1, so removed head events are found too.
 *
 * With public keys, the signed checkpoints are checked too (checkpoint-verify.ts): events appended by another
 * writer, forged checkpoints and a cut-off end are reported. Checkpoint events are never part of a hash chain.
 */
import type { KeyObject } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { AuditEvent } from './event.js';
import { isCheckpointEvent } from './checkpoint.js';
import { verifyCheckpoints, type CheckpointReport } from './checkpoint-verify.js';
import { verifyChain, type ChainReport } from './chain.js';
import { createKafka, type AuditKafkaConnection } from './kafka-client.js';
import { accessDenied, TopicReader } from './topic-reader.js';

export interface VerifyTopicOptions extends AuditKafkaConnection {
  topic: string;
  /** Always read from the beginning (the only supported mode; kept for the call's readability). */
  fromBeginning?: true;
  /** Give up after this long (the report then has timedOut: true and ok: false). Default 60 s. */
  timeoutMs?: number;
  /**
   * Public keys (by fingerprint, see checkpoint.ts loadPublicKeys) the checkpoints are checked with. Without them
   * only the hashes are checked (the report says hashesOnly).
   */
  publicKeys?: Map<string, KeyObject>;
  /** A second topic holding copies of the checkpoints (audit.checkpoint.topic); read too when keys are given. */
  checkpointTopic?: string;
  /** Clock and delivery allowance of the truncation check. Default 30 s. */
  marginMs?: number;
  /** The verify time (tests). Default now. */
  now?: number;
}

export interface UnparseableRecord { partition: number; offset: string; error: string; topic?: string }

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
  /** No public key was given: only the hashes were checked (appended events and a cut-off end go unnoticed). */
  hashesOnly: boolean;
  /** The signed checkpoints, checked when public keys were given. */
  checkpoints?: CheckpointReport;
  /** The parsed events in partition/offset order (for callers that check more); checkpoint events included. */
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

interface TopicContents {
  partitions: Array<{ partition: number; low: string; high: string; read: number }>;
  records: number;
  events: AuditEvent[];
  unparseable: UnparseableRecord[];
  timedOut: boolean;
}

/** Every record of `topic` up to the end fixed at the start, per partition in offset order, without a group. */
async function readTopic(kafka: Kafka, opts: VerifyTopicOptions, topic: string, deadline: number): Promise<TopicContents> {
  const principal = opts.sasl ? `User:${opts.sasl.username}` : undefined;
  const deniedOr = (e: unknown, what: string) => accessDenied(e, topic, principal, 'verify') ?? new Error(`verify: ${what}: ${(e as Error).message}`, { cause: e });
  const admin = kafka.admin();
  const perPartition = new Map<number, Array<{ offset: string; value: Buffer | null }>>();
  let partitions: Array<{ partition: number; low: string; high: string }> = [];
  let timedOut = false;
  try {
    try { await admin.connect(); } catch (e) { throw deniedOr(e, `cannot connect to the audit cluster ${opts.brokers.join(',')}`); }
    try {
      partitions = (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, low: p.low, high: p.high }));
    } catch (e) {
      throw deniedOr(e, `cannot read the offsets of topic "${topic}"`);
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  for (const p of partitions) perPartition.set(p.partition, []);
  // Where each partition is read from, and the end fixed up front.
  const next = new Map(partitions.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.low)]));
  const ends = new Map(partitions.map((p) => [p.partition, BigInt(p.high)]));
  if (next.size > 0) {
    const reader = new TopicReader(kafka, topic, { maxWaitMs: 500 });
    try {
      try { await reader.connect(); } catch (e) { throw deniedOr(e, `cannot read topic "${topic}"`); }
      while (next.size > 0) {
        if (Date.now() > deadline) { timedOut = true; break; }
        let round;
        try { round = await reader.fetch(next); } catch (e) { throw deniedOr(e, `reading topic "${topic}" failed`); }
        for (const f of round) {
          const from = next.get(f.partition);
          const end = ends.get(f.partition)!;
          if (from === undefined) continue;
          const list = perPartition.get(f.partition)!;
          for (const m of f.messages) {
            const o = BigInt(m.offset);
            if (o >= from && o < end) list.push({ offset: m.offset, value: m.value });
          }
          if (f.next >= end) next.delete(f.partition);
          else if (f.next > from) next.set(f.partition, f.next);
        }
      }
    } finally {
      await reader.disconnect();
    }
  }
  const unparseable: UnparseableRecord[] = [];
  const events: AuditEvent[] = [];
  let records = 0;
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
  return { partitions: partitions.map((p) => ({ ...p, read: perPartition.get(p.partition)?.length ?? 0 })), records, events, unparseable, timedOut };
}

export async function verifyTopic(opts: VerifyTopicOptions): Promise<VerifyReport> {
  const kafka = createKafka({ ...opts, clientId: opts.clientId ?? 'kafka-audit-verify' }, 'audit-verify');
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const main = await readTopic(kafka, opts, opts.topic, deadline);
  const complete = main.partitions.every((p) => p.low === '0');
  // Checkpoints are not links of the chains they sign.
  const chainEvents = main.events.filter((e) => !isCheckpointEvent(e));
  const checkpointEvents = main.events.filter(isCheckpointEvent);
  const chain = verifyChain(chainEvents, { complete });
  const hashesOnly = !opts.publicKeys || opts.publicKeys.size === 0;
  let checkpoints: CheckpointReport | undefined;
  let timedOut = main.timedOut;
  const unparseable = [...main.unparseable];
  if (!hashesOnly) {
    if (opts.checkpointTopic && opts.checkpointTopic !== opts.topic) {
      const mirror = await readTopic(kafka, opts, opts.checkpointTopic, deadline);
      timedOut ||= mirror.timedOut;
      unparseable.push(...mirror.unparseable.map((u) => ({ ...u, topic: opts.checkpointTopic })));
      // Only the checkpoints of chains on this topic: the mirror may serve several audit topics.
      const streams = new Set(chainEvents.map((e) => e.auditstream ?? ''));
      checkpointEvents.push(...mirror.events.filter((e) => isCheckpointEvent(e) && streams.has(e.auditstream ?? '')));
    }
    checkpoints = verifyCheckpoints(chainEvents, checkpointEvents, { keys: opts.publicKeys!, now: opts.now, marginMs: opts.marginMs, complete });
  }
  return {
    ok: chain.ok && unparseable.length === 0 && !timedOut && (checkpoints?.ok ?? true),
    topic: opts.topic, records: main.records, events: main.events.length, unparseable, partitions: main.partitions,
    complete, timedOut, chain, hashesOnly, checkpoints, eventsRead: main.events,
  };
}

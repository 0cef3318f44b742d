/**
 * `kafka-audit-proxy tail`: follows the audit topic and prints the events that match the filters, as
 * aligned human-readable lines or as JSON lines.
 *
 * How the topic is read. Without a consumer group (src/audit/topic-reader.ts: Fetch by partition and offset), so
 * a reader needs only Read on the audit topic; tail positions every partition itself:
 * - At start the admin client reads every partition's low and high watermark. The high watermarks are the end
 *   of the topic for --no-follow; the start is the low watermark with --from-beginning (which is above 0 once
 *   retention or DeleteRecords removed the head), the first record at or after --since otherwise (a minute
 *   earlier, see SINCE_CLOCK_MARGIN_MS; the filter drops what is older), and the end without either.
 * - tail keeps, per partition, the next offset it has not handled yet, and fetches from there; records below it
 *   are dropped, so nothing is printed twice. Partitions created while following are read from their beginning.
 * - With --no-follow, records at or past a partition's end offset are never printed (they were written after
 *   tail started), a partition is done when its next offset reaches its end (at once when it had nothing to
 *   read), and tail stops when every partition is done. Records the reader filters out (transaction markers,
 *   aborted records) move the position too, so a partition ending in such records is done.
 * - After the end (or --max, or an abort) nothing more is written.
 * - Access denied (no Read on the topic) rejects with an AccessDeniedError naming the permission to grant.
 * - A record that is not an audit event (not JSON, not an object, a null value) is reported in text mode as
 *   "(unparseable record at partition P offset O)" and skipped in JSON mode (counted in a warning log line).
 */
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { AuditEvent } from './audit/event.js';
import type { AuditKafkaConnection } from './audit/kafka-client.js';
import { createKafka } from './audit/kafka-client.js';
import { accessDenied, AccessDeniedError, TopicReader, type FetchedPartition } from './audit/topic-reader.js';
import { log } from './log.js';

export interface TailFilter {
  principal?: string;
  method?: string;
  resource?: string;
  outcome?: 'success' | 'failure';
  since?: number;
  until?: number;
}

function globMatch(pattern: string | undefined, value: string | undefined): boolean {
  if (pattern === undefined) return true;
  if (value === undefined) return false;
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i');
  return re.test(value);
}

/** True when an event passes every filter given. Principal, method and resource accept * wildcards. */
export function matches(e: AuditEvent, f: TailFilter): boolean {
  const d = e.data as unknown as Record<string, any>;
  const t = Date.parse(e.time);
  if (f.since !== undefined && t < f.since) return false;
  if (f.until !== undefined && t > f.until) return false;
  if (!globMatch(f.principal, d.authenticationInfo?.principal)) return false;
  if (f.method !== undefined && !globMatch(f.method, d.methodName) && !globMatch(`kafka.${f.method}`, d.methodName)) return false;
  const resourceName = d.authorizationInfo?.resourceName ?? d.resourceName;
  if (f.resource !== undefined && !globMatch(f.resource, resourceName) && !globMatch(f.resource, d.resourceName)) return false;
  if (f.outcome) {
    const ok = d.result?.status === 'SUCCESS';
    if ((f.outcome === 'success') !== ok) return false;
  }
  return true;
}

/** One aligned line: time, outcome, principal, method, resource, error, client. */
export function formatLine(e: AuditEvent): string {
  const d = e.data as unknown as Record<string, any>;
  // Lifecycle events (the proxy's own) have no result.
  const status = d.result?.status ?? (e.type.endsWith('/lifecycle') ? 'PROXY' : e.type.endsWith('/checkpoint') ? 'CHECKPOINT' : '?');
  const err = d.result?.errorName && d.result.errorName !== 'NONE' ? ` ${d.result.errorName}` : '';
  const msg = d.result?.message ? ` "${d.result.message}"` : '';
  const resource = d.authorizationInfo ? `${d.authorizationInfo.resourceType}:${d.authorizationInfo.resourceName}` : d.resourceName;
  const client = d.requestMetadata?.client_address ? ` from ${d.requestMetadata.client_address}`
    : d.checkpoint ? ` signs seq ${d.checkpoint.seq} of ${d.checkpoint.stream} (${d.checkpoint.reason}, key ${d.checkpoint.keyId})` : '';
  return `${e.time}  ${status.padEnd(15)} ${String(d.authenticationInfo?.principal ?? '-').padEnd(20)} ${String(d.methodName).padEnd(28)} ${resource}${err}${msg}${client}`;
}

export interface TailOptions extends AuditKafkaConnection {
  topic: string;
  fromBeginning: boolean;
  follow: boolean;
  json: boolean;
  filter: TailFilter;
  /**
   * Where lines go (stdout in the CLI). When it returns a promise (the output is full), tail waits for it
   * before writing the next line.
   */
  write: (line: string) => void | Promise<void>;
  /** Stops after this many printed events (tests, scripts). */
  max?: number;
  signal?: AbortSignal;
}

/**
 * --since starts reading at the first record whose timestamp is at least this much before the given time. The
 * audit sink leaves the record timestamp to the producer (the send time, never before the event's time), so
 * the margin only matters for topics with LogAppendTime on brokers whose clock is behind the proxy's.
 */
export const SINCE_CLOCK_MARGIN_MS = 60_000;

interface PartitionPosition {
  /** The next offset not handled yet: where the partition is sought to when the consumer (re)joins. */
  next: bigint;
  /** The high watermark when tail started; undefined for partitions created since (followed only). */
  end?: bigint;
}

function describeError(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: unknown };
  const cause = err?.cause as { message?: string } | undefined;
  const msg = err?.message ?? String(e);
  return cause?.message && !msg.includes(cause.message) ? `${msg} (${cause.message})` : msg;
}

function failed(what: string, e: unknown): Error {
  return new Error(`tail: ${what}: ${describeError(e)}`, { cause: e });
}

/** Where each partition starts and (for --no-follow) ends, read once at start. */
async function positions(kafka: Kafka, o: TailOptions): Promise<Map<number, PartitionPosition>> {
  const admin = kafka.admin();
  try {
    try { await admin.connect(); } catch (e) { throw denied(e, o) ?? failed(`cannot connect to the audit cluster ${o.brokers.join(',')}`, e); }
    let offsets: Array<{ partition: number; low: string; high: string }>;
    try { offsets = await admin.fetchTopicOffsets(o.topic); } catch (e) { throw denied(e, o) ?? failed(`cannot read the offsets of topic "${o.topic}"`, e); }
    let byTime: Map<number, bigint> | undefined;
    if (o.filter.since !== undefined && !o.fromBeginning) {
      const ts = Math.max(0, o.filter.since - SINCE_CLOCK_MARGIN_MS);
      try {
        byTime = new Map((await admin.fetchTopicOffsetsByTimestamp(o.topic, ts)).map((p) => [p.partition, BigInt(p.offset)]));
      } catch (e) {
        throw denied(e, o) ?? failed(`cannot find the offsets of topic "${o.topic}" at ${new Date(ts).toISOString()} (--since)`, e);
      }
    }
    const out = new Map<number, PartitionPosition>();
    for (const p of offsets) {
      const low = BigInt(p.low);
      const high = BigInt(p.high);
      let start = o.fromBeginning ? low : byTime ? (byTime.get(p.partition) ?? low) : high;
      // fetchTopicOffsetsByTimestamp answers "no such record" with a high watermark of its own, later than ours.
      if (start > high) start = high;
      if (start < low) start = low;
      out.set(p.partition, { next: start, end: high });
    }
    return out;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Parses one record; undefined when it is not a JSON object. */
function parseRecord(value: Buffer | null): AuditEvent | undefined {
  if (value === null) return undefined;
  try {
    const v = JSON.parse(value.toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as AuditEvent) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the audit topic; resolves with the number of events printed when not following and the end is reached,
 * on max, or on abort. Rejects, naming what failed, when the cluster or topic cannot be read (an
 * AccessDeniedError naming the permission to grant when the principal may not read it).
 */
export async function tail(o: TailOptions): Promise<number> {
  if (o.signal?.aborted || (o.max !== undefined && o.max <= 0)) return 0;
  const kafka = createKafka(o, 'tail');
  const plan = await positions(kafka, o);
  const isDone = (s: PartitionPosition) => !o.follow && s.end !== undefined && s.next >= s.end;
  const allDone = () => !o.follow && [...plan.values()].every(isDone);
  // Nothing to read (an empty topic, or --no-follow without --from-beginning/--since).
  if (allDone()) return 0;

  const topic = o.topic;
  // Without following, a partition at its end must not hold each fetch for 5 s.
  const reader = new TopicReader(kafka, topic, { maxWaitMs: o.follow ? 5_000 : 500 });
  let printed = 0;
  let skipped = 0;
  let finished = false;
  const aborted = new Promise<'aborted'>((resolve) => {
    if (!o.signal) return;
    o.signal.addEventListener('abort', () => { finished = true; resolve('aborted'); }, { once: true });
  });

  /** Prints one record if it passes the filters (text mode: a marker line for a record that is no event). */
  const handle = async (partition: number, m: KafkaMessage): Promise<void> => {
    const e = parseRecord(m.value);
    let line: string | undefined;
    if (e) {
      try {
        if (!matches(e, o.filter)) return;
        line = o.json ? JSON.stringify(e) : formatLine(e);
      } catch {
        line = undefined; // an object without the event's shape
      }
    }
    if (line === undefined) {
      skipped++;
      if (!o.json) await o.write(`(unparseable record at partition ${partition} offset ${m.offset})`);
      return;
    }
    await o.write(line);
    printed++;
    if (o.max !== undefined && printed >= o.max) finished = true;
  };

  try {
    try {
      await reader.connect();
    } catch (e) {
      throw denied(e, o) ?? failed(`cannot read topic "${topic}"`, e);
    }
    while (!finished && !allDone()) {
      if (o.follow) {
        // Partitions added since the start are read from their beginning.
        for (const p of await reader.partitions().catch(() => [] as number[])) if (!plan.has(p)) plan.set(p, { next: 0n });
      }
      const want = new Map([...plan].filter(([, s]) => !isDone(s)).map(([p, s]) => [p, s.next]));
      const fetching = reader.fetch(want);
      fetching.catch(() => undefined); // an abort leaves it behind; its failure no longer matters
      let round: FetchedPartition[] | 'aborted';
      try {
        round = await Promise.race([fetching, aborted]);
      } catch (e) {
        throw denied(e, o) ?? failed(`reading topic "${topic}" failed`, e);
      }
      if (round === 'aborted') break;
      for (const f of round) {
        const s = plan.get(f.partition);
        if (!s) continue;
        let complete = true;
        for (const m of f.messages) {
          if (finished) { complete = false; break; }
          const offset = BigInt(m.offset);
          if (offset < s.next) continue;
          // Written after tail started: not printed with --no-follow.
          if (!o.follow && s.end !== undefined && offset >= s.end) break;
          try {
            await handle(f.partition, m);
          } catch (e) {
            throw failed('writing the output failed', e);
          }
          s.next = offset + 1n;
        }
        // Records after the last one printed that were filtered out (transaction markers, aborted records).
        if (complete && f.next > s.next) s.next = f.next;
      }
    }
  } finally {
    await reader.disconnect();
  }
  if (skipped > 0 && o.json) log.child({ component: 'tail' }).warn({ topic, skipped }, 'records that are not audit events were skipped');
  return printed;
}

/** An AccessDeniedError when `e` is an authorisation failure, naming the principal and the permission. */
function denied(e: unknown, o: TailOptions): AccessDeniedError | undefined {
  return accessDenied(e, o.topic, o.sasl ? `User:${o.sasl.username}` : undefined, 'tail');
}

/**
 * `kafka-audit-proxy tail`: follows the audit topic and prints the events that match the filters, as
 * aligned human-readable lines or as JSON lines.
 */
import type { AuditEvent } from './audit/event.js';
import type { AuditKafkaConnection } from './audit/kafka-client.js';
import { createKafka } from './audit/kafka-client.js';

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
  const status = d.result?.status ?? (e.type.endsWith('/lifecycle') ? 'PROXY' : '?');
  const err = d.result?.errorName && d.result.errorName !== 'NONE' ? ` ${d.result.errorName}` : '';
  const msg = d.result?.message ? ` "${d.result.message}"` : '';
  const resource = d.authorizationInfo ? `${d.authorizationInfo.resourceType}:${d.authorizationInfo.resourceName}` : d.resourceName;
  const client = d.requestMetadata?.client_address ? ` from ${d.requestMetadata.client_address}` : '';
  return `${e.time}  ${status.padEnd(15)} ${String(d.authenticationInfo?.principal ?? '-').padEnd(20)} ${String(d.methodName).padEnd(28)} ${resource}${err}${msg}${client}`;
}

export interface TailOptions extends AuditKafkaConnection {
  topic: string;
  fromBeginning: boolean;
  follow: boolean;
  json: boolean;
  filter: TailFilter;
  /** Where lines go (stdout in the CLI). */
  write: (line: string) => void;
  /** Stops after this many printed events (tests, scripts). */
  max?: number;
  signal?: AbortSignal;
}

/** Reads the audit topic; resolves when not following and the end is reached, on max, or on abort. */
export async function tail(o: TailOptions): Promise<number> {
  const kafka = createKafka(o, 'tail');
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(o.topic);
  const startOffsets = o.filter.since !== undefined && !o.fromBeginning
    ? await admin.fetchTopicOffsetsByTimestamp(o.topic, o.filter.since) : undefined;
  await admin.disconnect();
  const remaining = new Map(ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  const consumer = kafka.consumer({ groupId: `kap-tail-${process.pid}-${Date.now()}`, sessionTimeout: 10_000 });
  let printed = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => { finish = r; });
  o.signal?.addEventListener('abort', () => finish());
  await consumer.connect();
  await consumer.subscribe({ topic: o.topic, fromBeginning: o.fromBeginning || o.filter.since !== undefined });
  if (!o.follow && remaining.size === 0) finish();
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (message.value) {
        try {
          const e = JSON.parse(message.value.toString()) as AuditEvent;
          if (matches(e, o.filter)) {
            o.write(o.json ? JSON.stringify(e) : formatLine(e));
            printed++;
            if (o.max !== undefined && printed >= o.max) finish();
          }
        } catch {
          if (!o.json) o.write(`(unparseable record at partition ${partition} offset ${message.offset})`);
        }
      }
      const end = remaining.get(partition);
      if (!o.follow && end !== undefined && BigInt(message.offset) + 1n >= end) {
        remaining.delete(partition);
        if (remaining.size === 0) finish();
      }
    },
  });
  if (startOffsets) for (const p of startOffsets) consumer.seek({ topic: o.topic, partition: p.partition, offset: p.offset });
  await done;
  await consumer.disconnect();
  return printed;
}

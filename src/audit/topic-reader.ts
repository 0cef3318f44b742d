/**
 * Reads partitions of a topic from given offsets without a consumer group, for `tail` and `verify`.
 *
 * Why no group: a kafkajs consumer always joins a group, and joining needs Read on that group. A reader that
 * was granted only Read on the audit topic then got nothing (tail printed nothing and exited 0; verify reported
 * "problems"). Kafka itself needs no group to fetch: a Fetch request names topic, partition and offset, and is
 * authorised by Topic Read alone. So this module sends Fetch requests itself.
 *
 * How: through kafkajs' own cluster object (the one its consumer uses): its connections (SASL, TLS), metadata
 * and leader lookup, its Fetch encoding/decoding (every record-batch version and compression kafkajs knows) and
 * its Batch class, which drops aborted transactional records and control records as its consumer does. kafkajs
 * reaches this object only through a private symbol of its client class, so the module checks at first use that
 * the symbol is there (kafkajs 2.2.4, the last release; the project already patches that version's internals,
 * see kafkajs-idle-timer.ts) and fails with a clear message otherwise. Chosen over a fetch loop on the project's
 * own protocol codec because that would need a Kafka client of its own (SASL SCRAM/PLAIN login, TLS, metadata,
 * record-batch decoding with every compression codec), i.e. far more new code on the read path of the audit log.
 *
 * Positions are the caller's: fetch() takes the next offset per partition and returns, per partition, the records
 * at or after it and the offset to fetch next (past filtered-out records and transaction markers too).
 */
import { createRequire } from 'node:module';
import type { Kafka, KafkaMessage } from 'kafkajs';

const require = createRequire(import.meta.url);

/** kafkajs' private client hook that builds a Cluster (src/index.js, PRIVATE.CREATE_CLUSTER). */
const CREATE_CLUSTER = 'private:Kafka:createCluster';
/** READ_COMMITTED: what the kafkajs consumer uses; records of open transactions are not returned yet. */
const READ_COMMITTED = 1;

interface KafkaBroker {
  fetch(request: {
    isolationLevel: number; maxWaitTime: number; minBytes: number; maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: FetchPartitionData[] }> }>;
}

interface FetchPartitionData {
  partition: number;
  highWatermark: string;
  abortedTransactions?: unknown[];
  messages: Array<KafkaMessage & { isControlRecord?: boolean }>;
}

interface KafkaCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number; leader: number | null }>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(o: { nodeId: string }): Promise<KafkaBroker>;
  fetchTopicsOffset(topics: Array<{ topic: string; fromBeginning: boolean; partitions: Array<{ partition: number }> }>): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
}

type BatchClass = new (topic: string, fetchedOffset: string, data: FetchPartitionData) => { messages: KafkaMessage[] };

export interface FetchedPartition {
  partition: number;
  /** Records at or after the requested offset, without aborted transactional records and control records. */
  messages: KafkaMessage[];
  /** The offset to fetch next: past every record the broker returned, filtered ones included. */
  next: bigint;
  /** -1 when unknown (after an out-of-range restart). */
  highWatermark: bigint;
}

/** The topic (or its data) may not be read by this client's principal; names what to grant. */
export class AccessDeniedError extends Error {
  constructor(message: string, readonly missing: string) {
    super(message);
    this.name = 'AccessDeniedError';
  }
}

/** The Kafka error type of `e` or of an error it wraps (kafkajs wraps in retries and causes). */
export function kafkaErrorType(e: unknown): string | undefined {
  for (let x = e as { type?: unknown; originalError?: unknown; cause?: unknown } | undefined, i = 0; x && i < 8; i++) {
    if (typeof x.type === 'string' && x.type !== 'UNKNOWN') return x.type;
    x = (x.originalError ?? x.cause) as typeof x;
  }
  return undefined;
}

const AUTH_ERRORS = new Set(['TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED', 'SASL_AUTHENTICATION_FAILED']);

/**
 * When `e` says access was denied, an AccessDeniedError naming the principal, the permission to grant and how;
 * else undefined. `principal` is "User:name" when known (SASL), else undefined.
 */
export function accessDenied(e: unknown, topic: string, principal: string | undefined, command: string): AccessDeniedError | undefined {
  const type = kafkaErrorType(e);
  if (!type || !AUTH_ERRORS.has(type)) return undefined;
  const who = principal ?? 'the principal this client authenticates as';
  if (type === 'SASL_AUTHENTICATION_FAILED') {
    return new AccessDeniedError(`${command}: the audit cluster refused the login of ${who} (SASL_AUTHENTICATION_FAILED): check the user name, password and mechanism (audit.sasl)`, 'authentication');
  }
  // Kafka's Read on a topic implies Describe; Fetch needs Read, ListOffsets and Metadata need Describe. No group ACL
  // is needed: tail and verify fetch by partition and offset.
  return new AccessDeniedError(
    `${command}: access denied (${type}): ${who} needs the READ permission on Topic:${topic} (READ implies DESCRIBE; no group ACL is needed). ` +
    `Grant it, e.g. kafka-acls.sh --bootstrap-server HOST:PORT --add --allow-principal ${principal ?? 'User:NAME'} --operation Read --topic ${topic}`,
    `READ on Topic:${topic}`,
  );
}

const RETRY_BACKOFF_MS = [100, 250, 500, 1000, 2000];

export interface TopicReaderOptions {
  /** How long a fetch waits at the broker for new records when a partition is at its end. */
  maxWaitMs: number;
  /** Bytes per partition per fetch (a larger first record is still returned whole). Default 1 MiB. */
  partitionMaxBytes?: number;
}

/** One client's reads of one topic, without a consumer group. */
export class TopicReader {
  private readonly cluster: KafkaCluster;
  private readonly Batch: BatchClass;
  private failures = 0;

  constructor(kafka: Kafka, readonly topic: string, private readonly opts: TopicReaderOptions) {
    const sym = Object.getOwnPropertySymbols(kafka).find((s) => s.description === CREATE_CLUSTER);
    const create = sym ? (kafka as unknown as Record<symbol, unknown>)[sym] : undefined;
    if (typeof create !== 'function') {
      const version = (require('kafkajs/package.json') as { version: string }).version;
      throw new Error(`reading the audit topic without a consumer group needs kafkajs 2.2.x internals, and kafkajs ${version} does not have them: install kafkajs 2.2.4`);
    }
    this.cluster = create({ allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED, metadataMaxAge: 60_000 }) as KafkaCluster;
    this.Batch = require('kafkajs/src/consumer/batch.js') as BatchClass;
  }

  /** Connects and loads the topic's metadata (which needs Describe on it). */
  async connect(): Promise<void> {
    await this.cluster.connect();
    await this.cluster.addTargetTopic(this.topic);
  }

  async disconnect(): Promise<void> {
    await this.cluster.disconnect().catch(() => undefined);
  }

  /** Partition ids of the topic as the (periodically refreshed) metadata knows them. */
  async partitions(): Promise<number[]> {
    await this.cluster.refreshMetadataIfNecessary();
    return this.cluster.findTopicPartitionMetadata(this.topic).map((p) => p.partitionId).sort((a, b) => a - b);
  }

  /**
   * One fetch round: one Fetch request per leader broker (in parallel) for the given partitions at the given
   * offsets. Transient errors (leader moved, broker restarting, connection lost) refresh the metadata and yield an
   * empty result after a backoff, so the caller simply calls again; access errors and others are thrown.
   */
  async fetch(positions: Map<number, bigint>): Promise<FetchedPartition[]> {
    if (positions.size === 0) return [];
    let byLeader: Record<string, number[]>;
    try {
      byLeader = this.cluster.findLeaderForPartitions(this.topic, [...positions.keys()]);
    } catch (e) {
      return this.transient(e);
    }
    const rounds = Object.entries(byLeader).map(async ([nodeId, partitions]) => {
      const broker = await this.cluster.findBroker({ nodeId });
      const res = await broker.fetch({
        isolationLevel: READ_COMMITTED, maxWaitTime: this.opts.maxWaitMs, minBytes: 1, maxBytes: 10 * 1024 * 1024,
        topics: [{ topic: this.topic, partitions: partitions.map((partition) => ({ partition, fetchOffset: String(positions.get(partition)!), maxBytes: this.opts.partitionMaxBytes ?? 1024 * 1024 })) }],
      });
      const out: FetchedPartition[] = [];
      for (const t of res.responses) {
        if (t.topicName !== this.topic) continue;
        for (const data of t.partitions) {
          const from = positions.get(data.partition);
          if (from === undefined) continue;
          let next = from;
          // Past everything returned, control records and aborted records included, so a partition ending in a
          // transaction marker is not fetched forever.
          for (const m of data.messages) { const o = BigInt(m.offset) + 1n; if (o > next) next = o; }
          out.push({ partition: data.partition, messages: new this.Batch(this.topic, String(from), data).messages, next, highWatermark: BigInt(data.highWatermark) });
        }
      }
      return out;
    });
    const settled = await Promise.allSettled(rounds);
    const out: FetchedPartition[] = [];
    let transient: unknown;
    for (const s of settled) {
      if (s.status === 'fulfilled') out.push(...s.value);
      else if (kafkaErrorType(s.reason) === 'OFFSET_OUT_OF_RANGE' && typeof (s.reason as { partition?: unknown }).partition === 'number') {
        out.push(await this.restartAtLowWatermark((s.reason as { partition: number }).partition, positions));
      } else if (isTransient(s.reason)) transient ??= s.reason;
      else throw s.reason;
    }
    if (transient !== undefined && out.length === 0) return this.transient(transient);
    if (transient !== undefined) await this.cluster.refreshMetadata().catch(() => undefined);
    else this.failures = 0;
    return out;
  }

  /**
   * The partition's next offset is gone (retention or DeleteRecords removed it while reading): continue at its
   * first remaining record. The records in between no longer exist for anyone; verify sees the gap in the chain.
   */
  private async restartAtLowWatermark(partition: number, positions: Map<number, bigint>): Promise<FetchedPartition> {
    const [t] = await this.cluster.fetchTopicsOffset([{ topic: this.topic, fromBeginning: true, partitions: [{ partition }] }]);
    const low = BigInt(t?.partitions.find((p) => p.partition === partition)?.offset ?? String(positions.get(partition) ?? 0n));
    const from = positions.get(partition) ?? 0n;
    return { partition, messages: [], next: low > from ? low : from, highWatermark: -1n };
  }

  private async transient(e: unknown): Promise<FetchedPartition[]> {
    if (!isTransient(e)) throw e;
    const wait = RETRY_BACKOFF_MS[Math.min(this.failures, RETRY_BACKOFF_MS.length - 1)];
    this.failures++;
    if (this.failures > 30) throw new Error(`fetching from topic "${this.topic}" kept failing (${(e as Error).message})`, { cause: e });
    await new Promise((r) => setTimeout(r, wait));
    await this.cluster.refreshMetadata().catch(() => undefined);
    return [];
  }
}

/** Errors after which a metadata refresh and another fetch can succeed. */
function isTransient(e: unknown): boolean {
  const type = kafkaErrorType(e);
  if (type && AUTH_ERRORS.has(type)) return false;
  if (type === 'OFFSET_OUT_OF_RANGE') return false;
  const err = e as { retriable?: boolean; name?: string };
  return err?.retriable === true || ['KafkaJSConnectionError', 'KafkaJSBrokerNotFound', 'KafkaJSLockTimeout', 'KafkaJSRequestTimeoutError', 'KafkaJSError'].includes(err?.name ?? '')
    || type === 'NOT_LEADER_OR_FOLLOWER' || type === 'LEADER_NOT_AVAILABLE' || type === 'UNKNOWN_TOPIC_OR_PARTITION' || type === 'FENCED_LEADER_EPOCH';
}

/**
 * The audit sink's Kafka transport: an idempotent kafkajs producer, acks=-1 (all in-sync replicas),
 * maxInFlightRequests 1 (kafkajs needs that for idempotent ordering), the Java-compatible murmur2 partitioner.
 * Record key = the chain instance id, so one instance's chain stays in one partition and in order. Topics are
 * created on connect and on first use (partitions, replication factor, retention.ms as configured; an existing
 * topic is fine). A send that takes longer than sendTimeoutMs counts as failed.
 */
import kafkajs from 'kafkajs';
import type { Admin, Kafka as KafkaClient, Producer } from 'kafkajs';
import type { SpoolRecord } from './spool.js';
import { createKafka, describeConnection, type AuditKafkaConnection } from './kafka-client.js';
import type { AuditTransport } from './transport.js';
import { log } from '../log.js';

const { Partitioners, CompressionTypes } = kafkajs;

export interface AuditTopicSettings {
  /** Default 12. */
  partitions?: number;
  /** Default 3. Use 1 for a single-broker audit cluster. */
  replicationFactor?: number;
  /** retention.ms of created topics; default: broker default. */
  retentionMs?: number;
  /** Further topic configs for created topics (e.g. "min.insync.replicas": "2"). */
  configs?: Record<string, string>;
}

export interface KafkaTransportConfig extends AuditKafkaConnection {
  /** Create missing topics. Default true. */
  createTopics?: boolean;
  topic?: AuditTopicSettings;
  /** Upper bound of one send before it counts as failed. Default 30 s. */
  sendTimeoutMs?: number;
}

export class KafkaTransport implements AuditTransport {
  private readonly kafka: KafkaClient;
  private producer: Producer | undefined;
  private admin: Admin | undefined;
  private readonly ensured = new Set<string>();

  constructor(private readonly cfg: KafkaTransportConfig) {
    this.kafka = createKafka(cfg, 'audit-sink');
  }

  describe(): Record<string, unknown> { return { kafka: describeConnection(this.cfg) }; }

  async send(records: SpoolRecord[]): Promise<void> {
    const producer = this.producer;
    if (!producer) throw new Error('audit Kafka transport not connected');
    await this.ensureTopics(records.map((r) => r.topic));
    const byTopic = new Map<string, Array<{ key: string | null; value: string; headers?: Record<string, string> }>>();
    for (const r of records) {
      let list = byTopic.get(r.topic);
      if (!list) { list = []; byTopic.set(r.topic, list); }
      list.push({ key: r.key ?? null, value: r.value, headers: r.headers });
    }
    const timeoutMs = this.cfg.sendTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        producer.sendBatch({
          acks: -1,
          compression: CompressionTypes.None,
          timeout: this.cfg.requestTimeoutMs ?? 10_000,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        }),
        new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`audit send timed out after ${timeoutMs} ms`)), timeoutMs); }),
      ]);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /**
   * One Metadata request through the admin client (describeCluster): the audit cluster answers, or this rejects.
   * kafkajs notices a stopped broker only when a request fails, so without this a quiet proxy looked healthy.
   */
  async check(timeoutMs: number): Promise<void> {
    const admin = this.admin;
    if (!admin) throw new Error('audit Kafka transport not connected');
    let timer: NodeJS.Timeout | undefined;
    const answer = admin.describeCluster();
    answer.catch(() => undefined); // the timeout below may win; its late rejection is not news
    try {
      await Promise.race([
        answer,
        new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`audit cluster did not answer a Metadata request within ${timeoutMs} ms`)), timeoutMs); }),
      ]);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  private async ensureTopics(topics: string[]): Promise<void> {
    if (this.cfg.createTopics === false) return;
    const missing = [...new Set(topics)].filter((t) => !this.ensured.has(t));
    if (missing.length === 0) return;
    const admin = this.admin;
    if (!admin) throw new Error('audit Kafka transport not connected');
    const t = this.cfg.topic ?? {};
    const configEntries = Object.entries({
      ...(t.retentionMs !== undefined ? { 'retention.ms': String(t.retentionMs) } : {}),
      ...(t.configs ?? {}),
    }).map(([name, value]) => ({ name, value }));
    try {
      // Not waitForLeaders: kafkajs gives up on the UNKNOWN_TOPIC_OR_PARTITION a KRaft broker answers while the new
      // topic's metadata propagates, which made every fresh start look like an outage. The producer's own
      // retries cover the first sends instead.
      const created = await admin.createTopics({
        waitForLeaders: false,
        topics: missing.map((topic) => ({ topic, numPartitions: t.partitions ?? 12, replicationFactor: t.replicationFactor ?? 3, configEntries })),
      });
      if (created) log.info({ component: 'audit-sink', topics: missing, partitions: t.partitions ?? 12, replicationFactor: t.replicationFactor ?? 3, retentionMs: t.retentionMs }, 'created audit topic(s)');
    } catch (e) {
      const errors = (e as { errors?: Array<{ type?: string }> }).errors;
      const types = Array.isArray(errors) ? errors.map((x) => x?.type) : [(e as { type?: string }).type];
      if (types.every((x) => x === 'TOPIC_ALREADY_EXISTS')) {
        // kafkajs normally returns false for this; tolerate it in any form.
      } else if (types.every((x) => x === 'TOPIC_AUTHORIZATION_FAILED' || x === 'CLUSTER_AUTHORIZATION_FAILED')) {
        log.warn({ component: 'audit-sink', topics: missing }, 'not allowed to create audit topics; assuming they exist (sends will fail if they do not)');
      } else {
        throw e;
      }
    }
    for (const m of missing) this.ensured.add(m);
  }

  async connect(destinations: string[]): Promise<void> {
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const admin = this.kafka.admin({ retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } });
    try {
      await producer.connect();
      await admin.connect();
      this.producer = producer;
      this.admin = admin;
      await this.ensureTopics(destinations);
    } catch (e) {
      this.producer = undefined;
      this.admin = undefined;
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      throw e;
    }
  }

  async disconnect(): Promise<void> {
    const p = this.producer;
    const a = this.admin;
    this.producer = undefined;
    this.admin = undefined;
    await Promise.all([p?.disconnect().catch(() => undefined), a?.disconnect().catch(() => undefined)]);
  }
}

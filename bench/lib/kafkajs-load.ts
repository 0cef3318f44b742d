/** kafkajs as a load generator: throughput, and request / end-to-end latency at a fixed, moderate rate. */
import { Kafka, logLevel, CompressionTypes, type Producer } from 'kafkajs';
import { sleep } from './env.js';

export function kafka(bootstrap: string, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5 }, connectionTimeout: 10_000, requestTimeout: 60_000 });
}

export interface Throughput { records: number; bytes: number; seconds: number; recordsPerSec: number; mbPerSec: number }

const rate = (records: number, bytes: number, seconds: number): Throughput =>
  ({ records, bytes, seconds, recordsPerSec: records / seconds, mbPerSec: bytes / 2 ** 20 / seconds });

/** Produces `records` records of `size` bytes in sendBatch calls of `batch`, `concurrency` calls in flight, acks=1. */
export async function kafkajsProduce(bootstrap: string, topic: string, records: number, size = 1024, batch = 500, concurrency = 4): Promise<Throughput> {
  const producer = kafka(bootstrap, 'bench-kafkajs-producer').producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const value = Buffer.alloc(size, 'x');
    const messages = Array.from({ length: batch }, () => ({ value }));
    // Warm-up: metadata and connections.
    await producer.send({ topic, acks: 1, messages: messages.slice(0, 1) });
    let sent = 0;
    const t0 = performance.now();
    const lane = async () => {
      while (sent < records) {
        const n = Math.min(batch, records - sent);
        sent += n;
        await producer.send({ topic, acks: 1, compression: CompressionTypes.None, messages: n === batch ? messages : messages.slice(0, n) });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    const seconds = (performance.now() - t0) / 1000;
    return rate(records, records * size, seconds);
  } finally {
    await producer.disconnect();
  }
}

/** Consumes `records` records from the start of `topic` with a new group; timed from the first batch. */
export async function kafkajsConsume(bootstrap: string, topic: string, records: number, group: string): Promise<Throughput> {
  const consumer = kafka(bootstrap, 'bench-kafkajs-consumer').consumer({ groupId: group, maxBytesPerPartition: 4 * 2 ** 20, maxBytes: 16 * 2 ** 20, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let count = 0;
  let bytes = 0;
  let t0 = 0;
  let t1 = 0;
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (t0 === 0) t0 = performance.now();
        for (const m of batch.messages) { count++; bytes += m.value?.length ?? 0; }
        if (count >= records && t1 === 0) { t1 = performance.now(); resolve(); }
      },
    });
  });
  const timeout = sleep(120_000).then(() => { throw new Error(`kafkajs consumer read ${count} of ${records} records in 120 s`); });
  try {
    await Promise.race([done, timeout]);
  } finally {
    await consumer.disconnect();
  }
  return rate(count, bytes, (t1 - t0) / 1000);
}

export interface LatencySamples { produceMs: number[]; endToEndMs: number[] }

/**
 * One record at a time every `intervalMs` (acks=1): the produce request's round trip as the client sees it, and
 * the time from send to the record arriving at a consumer on the same path (same process, same clock).
 */
export async function kafkajsLatency(bootstrap: string, topic: string, seconds: number, intervalMs = 5, size = 1024): Promise<LatencySamples> {
  const k = kafka(bootstrap, 'bench-kafkajs-latency');
  const producer: Producer = k.producer({ allowAutoTopicCreation: false });
  const consumer = k.consumer({ groupId: `latency-${topic}-${Date.now()}`, maxWaitTimeInMs: 100, minBytes: 1 });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: false });
  const sentAt = new Map<string, number>();
  const endToEndMs: number[] = [];
  const produceMs: number[] = [];
  let joined = false;
  void consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      const key = message.key?.toString() ?? '';
      const t = sentAt.get(key);
      if (t !== undefined) { endToEndMs.push(performance.now() - t); sentAt.delete(key); }
    },
  });
  consumer.on(consumer.events.GROUP_JOIN, () => { joined = true; });
  const value = Buffer.alloc(size, 'y');
  try {
    for (let i = 0; !joined && i < 300; i++) await sleep(100);
    await sleep(500); // the consumer's first fetch is in flight
    await producer.send({ topic, acks: 1, messages: [{ value }] }); // warm-up
    const end = performance.now() + seconds * 1000;
    let i = 0;
    let next = performance.now();
    while (performance.now() < end) {
      const key = `k${i++}`;
      const t = performance.now();
      sentAt.set(key, t);
      await producer.send({ topic, acks: 1, messages: [{ key, value }] });
      produceMs.push(performance.now() - t);
      next += intervalMs;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
    await sleep(1000);
  } finally {
    await producer.disconnect();
    await consumer.disconnect();
  }
  return { produceMs, endToEndMs };
}

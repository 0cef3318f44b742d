/**
 * Memory stays bounded:
 *  - slow consumer: a client pipelines Fetch requests and never reads its socket while a producer pushes
 *    records through the proxy: two connections, one asking for 4 MiB and one for 32 MiB per response (both
 *    stream through; only their leader-hint sections are held);
 *  - 50 MB batches: ProducerPerformance sends 50 MB records (one record per batch and request) through the
 *    proxy, and ConsumerPerformance reads them back (50 MB fetch responses).
 * The proxy's RSS is sampled every 50 ms (and its kernel peak, VmHWM, read after a reset).
 */
import { RawConnection, topicMetadata, fetchBody } from '../lib/raw.js';
import { procMemory, resetPeak, sampleRss, type Child } from '../lib/procs.js';
import { producerPerf, consumerPerf } from '../lib/perf-tools.js';
import { MAX_MESSAGE_BYTES } from '../lib/cluster.js';
import { QUICK, say, sleep } from '../lib/env.js';
import { createTopics } from '../lib/topics.js';
import type { Admin } from 'kafkajs';

export interface MemoryResult { scenario: string; baselineRss: number; peakRss: number; endRss: number; detail: string }

const MiB = 2 ** 20;

export async function slowConsumer(proxy: Child, proxyBootstrapPort: number, adminDirect: Admin): Promise<MemoryResult> {
  const topic = 'slow-consumer';
  await createTopics(adminDirect, [{ topic, numPartitions: 1 }]);
  // Some data to fetch from the start.
  await producerPerf({ bootstrap: `127.0.0.1:${proxyBootstrapPort}`, topic, records: 20_000, recordSize: 10_240 });
  const boot = await RawConnection.connect(proxyBootstrapPort);
  const md = await topicMetadata(boot, topic);
  boot.close();
  const brokerPort = md.brokers[0].port;
  const baseline = procMemory(proxy.pid).rss;
  resetPeak(proxy.pid);
  const sampler = sampleRss(() => [proxy.pid]);
  const requests = QUICK ? 50 : 200;
  const stalled: RawConnection[] = [];
  for (const partitionMaxBytes of [4 * MiB, 32 * MiB]) {
    const c = await RawConnection.connect(brokerPort);
    c.socket.pause(); // never read
    for (let i = 0; i < requests; i++) c.send(1, 16, fetchBody(md.topicId, 0, partitionMaxBytes));
    stalled.push(c);
  }
  const pending = requests * (4 + 32);
  // Meanwhile a producer pushes through the proxy.
  const records = QUICK ? 20_000 : 60_000;
  const p = await producerPerf({ bootstrap: `127.0.0.1:${proxyBootstrapPort}`, topic, records, recordSize: 10_240 });
  await sleep(3000);
  const peakSampled = sampler.stop();
  const { rss: endRss, hwm } = procMemory(proxy.pid);
  for (const c of stalled) c.close();
  await adminDirect.deleteTopics({ topics: [topic] }).catch(() => undefined);
  const r: MemoryResult = {
    scenario: 'slow consumer', baselineRss: baseline, peakRss: Math.max(peakSampled, hwm), endRss,
    detail: `2 connections x ${requests} pipelined Fetch v16 requests never read (4 MiB and 32 MiB partition max: up to ${pending.toLocaleString('en-US')} MiB of responses owed) ` +
      `while ProducerPerformance pushed ${(records * 10_240 / MiB).toFixed(0)} MiB through the proxy at ${p.mbPerSec} MB/s`,
  };
  say(`  memory slow consumer: baseline ${(baseline / MiB).toFixed(0)} MiB, peak ${(r.peakRss / MiB).toFixed(0)} MiB, end ${(endRss / MiB).toFixed(0)} MiB`);
  return r;
}

export async function bigBatches(proxy: Child, proxyBootstrapPort: number, adminDirect: Admin): Promise<MemoryResult[]> {
  const topic = 'big-batches';
  const size = 50 * 1000 * 1000;
  const records = QUICK ? 2 : 6;
  await createTopics(adminDirect, [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(MAX_MESSAGE_BYTES) }] }]);
  const bootstrap = `127.0.0.1:${proxyBootstrapPort}`;
  const out: MemoryResult[] = [];
  {
    const baseline = procMemory(proxy.pid).rss;
    resetPeak(proxy.pid);
    const sampler = sampleRss(() => [proxy.pid]);
    const p = await producerPerf({
      bootstrap, topic, records, recordSize: size,
      props: { 'max.request.size': MAX_MESSAGE_BYTES, 'buffer.memory': 256 * MiB, 'batch.size': 1 * MiB, 'linger.ms': 0, acks: 1, 'request.timeout.ms': 120_000 },
    });
    await sleep(1000);
    const peak = Math.max(sampler.stop(), procMemory(proxy.pid).hwm);
    const r = { scenario: '50 MB produce batches', baselineRss: baseline, peakRss: peak, endRss: procMemory(proxy.pid).rss, detail: `${records} records of 50 MB (one per request), ${p.mbPerSec} MB/s` };
    say(`  memory 50 MB produce: baseline ${(baseline / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB`);
    out.push(r);
  }
  {
    const baseline = procMemory(proxy.pid).rss;
    resetPeak(proxy.pid);
    const sampler = sampleRss(() => [proxy.pid]);
    const c = await consumerPerf({
      bootstrap, topic, messages: records, group: `big-${Date.now()}`,
      props: { 'max.partition.fetch.bytes': MAX_MESSAGE_BYTES, 'fetch.max.bytes': MAX_MESSAGE_BYTES, 'receive.buffer.bytes': MiB },
    });
    await sleep(1000);
    const peak = Math.max(sampler.stop(), procMemory(proxy.pid).hwm);
    const r = { scenario: '50 MB fetch responses', baselineRss: baseline, peakRss: peak, endRss: procMemory(proxy.pid).rss, detail: `${c.records} records of 50 MB read back, ${c.mbPerSec.toFixed(1)} MB/s` };
    say(`  memory 50 MB fetch: baseline ${(baseline / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB`);
    out.push(r);
  }
  await adminDirect.deleteTopics({ topics: [topic] }).catch(() => undefined);
  return out;
}

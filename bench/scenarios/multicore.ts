/**
 * Multi-core: the proxy with 1 and with 2 worker processes (workers: N), under several clients at once (one
 * client connection is always served by one worker, so parallel clients are what workers can spread).
 * Aggregate throughput of 3 ProducerPerformance and 3 ConsumerPerformance processes running together, and the CPU
 * time each proxy process used.
 */
import type { Admin } from 'kafkajs';
import { producerPerf, consumerPerf } from '../lib/perf-tools.js';
import { childPids, cpuSeconds, type Child } from '../lib/procs.js';
import { QUICK, say } from '../lib/env.js';
import { createTopics } from '../lib/topics.js';

export interface MulticoreRun { target: string; produceMBs: number; fetchMBs: number; cpuSecondsPerProcess: number[] }

const CLIENTS = 3;
const RECORDS = QUICK ? 30_000 : 150_000;

export async function multicoreRun(target: string, bootstrap: string, proxy: Child | undefined, adminDirect: Admin, rep: number): Promise<MulticoreRun> {
  const slug = target.replace(/[^a-z0-9]+/gi, "-");
  const topics = Array.from({ length: CLIENTS }, (_, i) => `mc-${slug}-${rep}-${i}`);
  await createTopics(adminDirect, topics.map((topic) => ({ topic, numPartitions: 3 })));
  const pids = proxy ? [proxy.pid, ...childPids(proxy.pid)] : [];
  const cpu0 = pids.map(cpuSeconds);
  const produced = await Promise.all(topics.map((topic) => producerPerf({ bootstrap, topic, records: RECORDS, recordSize: 1024 })));
  const consumed = await Promise.all(topics.map((topic, i) => consumerPerf({ bootstrap, topic, messages: RECORDS, group: `mc-${slug}-${rep}-${i}-${Date.now()}` })));
  const cpu = pids.map((p, i) => cpuSeconds(p) - cpu0[i]);
  await adminDirect.deleteTopics({ topics }).catch(() => undefined);
  const r: MulticoreRun = {
    target,
    produceMBs: produced.reduce((s, p) => s + p.mbPerSec, 0),
    fetchMBs: consumed.reduce((s, c) => s + c.mbPerSec, 0),
    cpuSecondsPerProcess: cpu,
  };
  say(`  multi-core ${target} #${rep + 1}: produce ${r.produceMBs.toFixed(1)} MB/s, fetch ${r.fetchMBs.toFixed(1)} MB/s (${CLIENTS} clients each); proxy CPU s per process ${cpu.map((x) => x.toFixed(1)).join(' / ')}`);
  return r;
}

/** Kafka's own ProducerPerformance and ConsumerPerformance (kafka-tools 3.9.1), run from the jars. */
import { runKafkaTool } from '../../test/harness/kafka-cluster.js';

const PERF_JVM = ['-Xmx1g', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20'];

export interface ProducerPerfResult {
  records: number; recordsPerSec: number; mbPerSec: number;
  avgMs: number; maxMs: number; p50Ms: number; p95Ms: number; p99Ms: number; p999Ms: number;
}

export interface ProducerPerfOptions {
  bootstrap: string; topic: string; records: number; recordSize: number;
  /** records/s; -1 = as fast as possible */
  throughput?: number;
  props?: Record<string, string | number>;
  timeoutMs?: number;
}

/** `ProducerPerformance`; parses its final summary line (ProducerPerformance.java l.448). */
export async function producerPerf(o: ProducerPerfOptions): Promise<ProducerPerfResult> {
  const props = { 'bootstrap.servers': o.bootstrap, acks: '1', 'linger.ms': '5', 'batch.size': String(64 * 1024), ...o.props };
  const args = [
    '--topic', o.topic, '--num-records', String(o.records), '--record-size', String(o.recordSize),
    '--throughput', String(o.throughput ?? -1), '--producer-props', ...Object.entries(props).map(([k, v]) => `${k}=${v}`),
  ];
  const r = await runKafkaTool('org.apache.kafka.tools.ProducerPerformance', args, { jvmArgs: PERF_JVM, timeoutMs: o.timeoutMs ?? 300_000 });
  const m = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th/.exec(r.stdout);
  if (r.code !== 0 || !m) throw new Error(`ProducerPerformance failed (exit ${r.code}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  const n = m.slice(1).map(Number);
  return { records: n[0], recordsPerSec: n[1], mbPerSec: n[2], avgMs: n[3], maxMs: n[4], p50Ms: n[5], p95Ms: n[6], p99Ms: n[7], p999Ms: n[8] };
}

export interface ConsumerPerfResult { mb: number; records: number; mbPerSec: number; recordsPerSec: number; fetchMs: number; rebalanceMs: number }

/**
 * `ConsumerPerformance` reading `messages` records from the start of `topic` with a fresh group. The rates are
 * its fetch.MB.sec / fetch.nMsg.sec: time spent fetching, without the group join.
 */
export async function consumerPerf(o: { bootstrap: string; topic: string; messages: number; group: string; props?: Record<string, string | number>; timeoutMs?: number }): Promise<ConsumerPerfResult> {
  const { writeClientProps } = await import('../../test/harness/kafka-cluster.js');
  const { OUT_DIR } = await import('./env.js');
  const args = ['--bootstrap-server', o.bootstrap, '--topic', o.topic, '--messages', String(o.messages), '--group', o.group, '--timeout', '60000'];
  if (o.props && Object.keys(o.props).length > 0) {
    args.push('--consumer.config', writeClientProps(OUT_DIR, `consumer-${o.group}`, Object.fromEntries(Object.entries(o.props).map(([k, v]) => [k, String(v)]))));
  }
  const r = await runKafkaTool('org.apache.kafka.tools.ConsumerPerformance', args, { jvmArgs: PERF_JVM, timeoutMs: o.timeoutMs ?? 300_000 });
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const line = r.stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d{4}-\d\d-\d\d/.test(l)).pop();
  if (r.code !== 0 || !line) throw new Error(`ConsumerPerformance failed (exit ${r.code}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  const f = line.split(',').map((s) => s.trim());
  const num = (i: number) => Number(f[i]);
  return { mb: num(2), records: num(4), rebalanceMs: num(6), fetchMs: num(7), mbPerSec: num(8), recordsPerSec: num(9) };
}

/**
 * Produce and fetch through the three paths (direct, TCP relay, proxy with auditing on): Kafka's
 * ProducerPerformance / ConsumerPerformance and kafkajs for throughput; kafkajs for produce and end-to-end
 * latency at a moderate load (ProducerPerformance at a fixed rate in the background), which also yields the
 * Java producer's own latency figures at that load.
 */
import type { Admin } from 'kafkajs';
import { producerPerf, consumerPerf, type ProducerPerfResult } from '../lib/perf-tools.js';
import { kafka, kafkajsConsume, kafkajsLatency, kafkajsProduce, type Throughput } from '../lib/kafkajs-load.js';
import { QUICK, say } from '../lib/env.js';
import { createTopics } from '../lib/topics.js';
import { median, percentile } from '../lib/stats.js';
import { cpuSeconds } from '../lib/procs.js';

const cpuOf = (pid: number | undefined) => (pid ? cpuSeconds(pid) : 0);

export type Mode = 'direct' | 'relay' | 'proxy';
export const MODES: Mode[] = ['direct', 'relay', 'proxy'];

export interface Metric { name: string; unit: string; higherIsBetter: boolean; values: Record<Mode, number[]> }

export interface DataPathResults {
  metrics: Metric[];
  /** Raw latency samples pooled over repetitions, per mode. */
  latency: Record<Mode, { produceMs: number[]; endToEndMs: number[]; javaP50: number[]; javaP99: number[]; javaP999: number[] }>;
  sizes: Record<string, number>;
}

const SIZES = QUICK
  ? { reps: 1, ppRecords: 50_000, cpRecords: 50_000, kjRecords: 20_000, latencySeconds: 3, bgRate: 10_000 }
  : { reps: 3, ppRecords: 300_000, cpRecords: 300_000, kjRecords: 100_000, latencySeconds: 8, bgRate: 10_000 };

const RECORD = 1024;

function rotation(rep: number): Mode[] { return [...MODES.slice(rep % 3), ...MODES.slice(0, rep % 3)]; }

/**
 * `inPath`: pid of the process in the path for relay and proxy; its CPU time per MB moved is reported too (a
 * figure that other load on the machine disturbs much less than throughput).
 */
export async function runDataPath(bootstraps: Record<Mode, string>, adminDirect: Admin, inPath: Partial<Record<Mode, number>> = {},
  opts: { latency?: boolean; topicPrefix?: string } = {}): Promise<DataPathResults> {
  const pre = opts.topicPrefix ?? '';
  const metrics = new Map<string, Metric>();
  const add = (name: string, unit: string, higherIsBetter: boolean, mode: Mode, v: number) => {
    let m = metrics.get(name);
    if (!m) { m = { name, unit, higherIsBetter, values: { direct: [], relay: [], proxy: [] } }; metrics.set(name, m); }
    m.values[mode].push(v);
  };
  const latency = Object.fromEntries(MODES.map((m) => [m, { produceMs: [] as number[], endToEndMs: [] as number[], javaP50: [] as number[], javaP99: [] as number[], javaP999: [] as number[] }])) as unknown as DataPathResults['latency'];
  /** Creates `pre + name` and returns that full name. */
  const createTopic = async (name: string, partitions = 3): Promise<string> => {
    await createTopics(adminDirect, [{ topic: pre + name, numPartitions: partitions }]);
    return pre + name;
  };
  const dropTopics = (topics: string[]) => adminDirect.deleteTopics({ topics }).catch(() => undefined);

  // The fetch source: written once, directly.
  say(`  filling fetch-src with ${SIZES.cpRecords} x ${RECORD} B records`);
  const fetchSrc = await createTopic('fetch-src');
  await producerPerf({ bootstrap: bootstraps.direct, topic: fetchSrc, records: SIZES.cpRecords, recordSize: RECORD });

  // Warm-up, not measured: the JIT of this process (kafkajs) and of the relay and proxy processes.
  const warmUp = await createTopic('warm-up');
  for (const mode of MODES) {
    await kafkajsProduce(bootstraps[mode], warmUp, 10_000, RECORD);
    await kafkajsConsume(bootstraps[mode], warmUp, 10_000, `warm-up-${mode}-${Date.now()}`);
    await kafkajsLatency(bootstraps[mode], warmUp, 1);
  }
  await dropTopics([warmUp]);

  for (let rep = 0; rep < SIZES.reps; rep++) {
    for (const mode of rotation(rep)) {
      const topic = await createTopic(`pp-${mode}-${rep}`);
      const cpu0 = cpuOf(inPath[mode]);
      const r = await producerPerf({ bootstrap: bootstraps[mode], topic, records: SIZES.ppRecords, recordSize: RECORD });
      if (inPath[mode]) add('CPU ms per MB in the relay/proxy process (produce)', 'ms', false, mode, ((cpuOf(inPath[mode]) - cpu0) * 1000) / (SIZES.ppRecords * RECORD / 2 ** 20));
      add('produce MB/s (ProducerPerformance)', 'MB/s', true, mode, r.mbPerSec);
      add('produce records/s (ProducerPerformance)', 'rec/s', true, mode, r.recordsPerSec);
      say(`  produce ${mode} #${rep + 1}: ${r.mbPerSec} MB/s, ${Math.round(r.recordsPerSec)} rec/s`);
      await dropTopics([topic]);
    }
  }
  for (let rep = 0; rep < SIZES.reps; rep++) {
    for (const mode of rotation(rep)) {
      const cpu0 = cpuOf(inPath[mode]);
      const r = await consumerPerf({ bootstrap: bootstraps[mode], topic: fetchSrc, messages: SIZES.cpRecords, group: `cp-${mode}-${rep}-${Date.now()}` });
      if (inPath[mode]) add('CPU ms per MB in the relay/proxy process (fetch)', 'ms', false, mode, ((cpuOf(inPath[mode]) - cpu0) * 1000) / (SIZES.cpRecords * RECORD / 2 ** 20));
      add('fetch MB/s (ConsumerPerformance)', 'MB/s', true, mode, r.mbPerSec);
      add('fetch records/s (ConsumerPerformance)', 'rec/s', true, mode, r.recordsPerSec);
      say(`  fetch ${mode} #${rep + 1}: ${r.mbPerSec.toFixed(1)} MB/s, ${Math.round(r.recordsPerSec)} rec/s`);
    }
  }
  for (let rep = 0; rep < SIZES.reps; rep++) {
    for (const mode of rotation(rep)) {
      const topic = await createTopic(`kj-${mode}-${rep}`);
      let cpu0 = cpuOf(inPath[mode]);
      const p: Throughput = await kafkajsProduce(bootstraps[mode], topic, SIZES.kjRecords, RECORD);
      if (inPath[mode]) add('CPU ms per MB in the relay/proxy process (kafkajs produce)', 'ms', false, mode, ((cpuOf(inPath[mode]) - cpu0) * 1000) / (SIZES.kjRecords * RECORD / 2 ** 20));
      add('produce MB/s (kafkajs)', 'MB/s', true, mode, p.mbPerSec);
      add('produce records/s (kafkajs)', 'rec/s', true, mode, p.recordsPerSec);
      // The whole fetch source (300 MB): at 400+ MB/s a smaller read lasts a fraction of a second, too short to measure.
      cpu0 = cpuOf(inPath[mode]);
      const c: Throughput = await kafkajsConsume(bootstraps[mode], fetchSrc, SIZES.cpRecords, `kj-${mode}-${rep}-${Date.now()}`);
      if (inPath[mode]) add('CPU ms per MB in the relay/proxy process (kafkajs fetch)', 'ms', false, mode, ((cpuOf(inPath[mode]) - cpu0) * 1000) / (SIZES.cpRecords * RECORD / 2 ** 20));
      add('fetch MB/s (kafkajs)', 'MB/s', true, mode, c.mbPerSec);
      add('fetch records/s (kafkajs)', 'rec/s', true, mode, c.recordsPerSec);
      say(`  kafkajs ${mode} #${rep + 1}: produce ${p.mbPerSec.toFixed(1)} MB/s, fetch ${c.mbPerSec.toFixed(1)} MB/s`);
      await dropTopics([topic]);
    }
  }
  for (let rep = 0; rep < (opts.latency === false ? 0 : SIZES.reps); rep++) {
    for (const mode of rotation(rep)) {
      const topic = await createTopic(`lat-${mode}-${rep}`, 1);
      const bg = await createTopic(`bg-${mode}-${rep}`);
      // Background: the Java producer at a fixed rate for the whole probe (plus its start-up).
      const bgSeconds = SIZES.latencySeconds + 5;
      const background: Promise<ProducerPerfResult> = producerPerf({ bootstrap: bootstraps[mode], topic: bg, records: SIZES.bgRate * bgSeconds, recordSize: RECORD, throughput: SIZES.bgRate });
      await new Promise((r) => setTimeout(r, 2500)); // JVM start; the probe runs while the producer is steady
      const s = await kafkajsLatency(bootstraps[mode], topic, SIZES.latencySeconds);
      const b = await background;
      latency[mode].produceMs.push(...s.produceMs);
      latency[mode].endToEndMs.push(...s.endToEndMs);
      latency[mode].javaP50.push(b.p50Ms);
      latency[mode].javaP99.push(b.p99Ms);
      latency[mode].javaP999.push(b.p999Ms);
      say(`  latency ${mode} #${rep + 1}: produce p50 ${percentile(s.produceMs, 50).toFixed(2)} p99 ${percentile(s.produceMs, 99).toFixed(2)} ms; ` +
        `e2e p99 ${percentile(s.endToEndMs, 99).toFixed(2)} ms (${s.produceMs.length} samples); Java producer at ${SIZES.bgRate} rec/s p99 ${b.p99Ms} ms`);
      await dropTopics([topic, bg]);
    }
  }
  return { metrics: [...metrics.values()], latency, sizes: { ...SIZES, recordBytes: RECORD } };
}

export { median };
export const connectAdmin = async (bootstrap: string): Promise<Admin> => {
  const a = kafka(bootstrap, 'bench-admin-direct').admin();
  await a.connect();
  return a;
};

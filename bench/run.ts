/**
 * `npm run bench` (or ./dev bench): the proxy's cost, as ratios measured in one run on one machine.
 *
 * Starts one real Kafka 3.9.1 broker, a byte-only TCP relay and kafka-audit-proxy (auditing on, default rules,
 * each in its own process as in production), then runs every scenario against the three paths:
 *   direct  client -> broker
 *   relay   client -> bench/tcp-relay.ts -> broker       (bytes only: the least any proxy can cost)
 *   proxy   client -> kafka-audit-proxy -> broker        (decoding, rewriting, auditing)
 * and prints the tables that bench/RESULTS.md keeps (with the machine's details and the commands).
 *
 * Environment:
 *   BENCH_QUICK=1      a smoke run: small sizes, one repetition (about 3 minutes)
 *   BENCH_ONLY=a,b     only some sections: data, admin, pinned, idle, memory, multicore
 *   BENCH_PROFILE=1    run the main proxy with --cpu-prof (profiles in bench/out/prof/)
 *   BENCH_PRELOAD=f    load module f into every proxy process first (experiments; RESULTS.md is not rewritten)
 *   BENCH_NO_WRITE=1   do not rewrite bench/RESULTS.md
 * Noisy measurements are repeated (3 times, interleaving the paths) and the median is reported.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBenchCluster } from './lib/cluster.js';
import { startProxyProcess, startRelayProcess, procMemory, waitForPort, type Child } from './lib/procs.js';
import { RawConnection } from './lib/raw.js';
import { machine, OUT_DIR, QUICK, REPO, say } from './lib/env.js';
import { fmt, median, percentile, ratio } from './lib/stats.js';
import { freePortBase } from '../test/harness/proxy.js';
import { freePort } from '../test/harness/ports.js';
import { runDataPath, connectAdmin, MODES, type DataPathResults, type Mode } from './scenarios/data-path.js';
import { runAdminLoops, createAuditTopic, type AdminLoopResult } from './scenarios/admin.js';
import { idleConnections, connectionSteps, type IdleResult } from './scenarios/connections.js';
import { slowConsumer, bigBatches, type MemoryResult } from './scenarios/memory.js';
import { multicoreRun, type MulticoreRun } from './scenarios/multicore.js';
import { canPin, pin, splitCpus, unpin } from './lib/affinity.js';

const NOTES_MARKER = '<!-- Notes below this line are kept when bench/run.ts rewrites this file. -->';
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined;
const want = (s: string) => !only || only.has(s);
const t0 = Date.now();
const host = machine();
mkdirSync(OUT_DIR, { recursive: true });
const spoolRoot = join(OUT_DIR, 'spool');
rmSync(spoolRoot, { recursive: true, force: true });

interface ProxyHandle { child: Child; bootstrapPort: number; adminUrl: string }
async function proxyProcess(name: string, upstream: string, extra: { workers?: number; sets?: Record<string, string | number | boolean>; profile?: boolean } = {}): Promise<ProxyHandle> {
  const bootstrapPort = await freePort();
  const brokerPortBase = await freePortBase(1);
  const adminPort = await freePort();
  const profDir = join(OUT_DIR, 'prof');
  if (extra.profile) mkdirSync(profDir, { recursive: true });
  const child = await startProxyProcess({
    name, upstream, bootstrapPort, brokerPortBase, adminPort, spoolDir: join(spoolRoot, name), workers: extra.workers, sets: extra.sets,
    nodeFlags: [
      ...(extra.profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
      // An experiment loaded into every proxy process (e.g. bench/experiments/chain-group-commit.ts).
      ...(process.env.BENCH_PRELOAD ? ['--import', 'tsx', '--import', join(REPO, process.env.BENCH_PRELOAD)] : []),
    ],
  });
  // The proxy opens a broker's listener when it first sees the broker in a response, and binds it on the next
  // tick; a client told about the port can be quicker than that on a loaded machine (ECONNREFUSED). Open the
  // listeners before measuring: one Metadata round trip through the bootstrap port, then wait for the port.
  await warmUp(bootstrapPort, extra.workers ?? 1);
  return { child, bootstrapPort, adminUrl: `http://127.0.0.1:${adminPort}` };
}

async function warmUp(bootstrapPort: number, workers: number): Promise<void> {
  // With workers, each accepted connection may land on another worker: go round once per worker.
  for (let i = 0; i < workers * 2; i++) {
    const c = await RawConnection.connect(bootstrapPort);
    try {
      const md = await c.request(3, 1, { Topics: [] });
      for (const b of md.Brokers as Array<{ Port: number }>) await waitForPort(b.Port, 10_000);
    } finally { c.close(); }
  }
}

/** Runs `fn` with a TCP relay and a proxy process in front of the broker (stopped after), and the three paths' bootstraps. */
async function withPaths(suffix: string, opts: { profile?: boolean },
  fn: (p: { relay: Child; proxy: ProxyHandle; bootstraps: Record<Mode, string> }) => Promise<void>): Promise<void> {
  const relay = await startRelayProcess(`relay${suffix}`, [{ listenPort: bc.relayPort, target: bc.relayTarget }]);
  const proxy = await proxyProcess(`proxy-main${suffix}`, bc.direct, opts);
  try {
    await fn({ relay, proxy, bootstraps: { direct: bc.direct, relay: `127.0.0.1:${bc.relayPort}`, proxy: `127.0.0.1:${proxy.bootstrapPort}` } });
  } finally {
    await proxy.child.stop();
    await relay.stop();
  }
}

say(`kafka-audit-proxy benchmark${QUICK ? ' (quick)' : ''}: ${host.nproc} CPUs (${host.cpu}), ${host.ram}, node ${host.node}, load ${host.loadavg}`);
const bc = await startBenchCluster();
say(`Kafka broker ready (${((Date.now() - t0) / 1000).toFixed(1)} s): direct ${bc.direct}, relay port ${bc.relayPort}`);
const adminDirect = await connectAdmin(bc.direct);
await createAuditTopic(adminDirect);

let data: DataPathResults | undefined;
let pinned: { results: DataPathResults; cpus: { shared: string; own: string } } | undefined;
let admin: AdminLoopResult[] = [];
let idle: IdleResult[] = [];
let idleNote = '';
let memory: MemoryResult[] = [];
const multicore: MulticoreRun[] = [];
let mainProxyRss: { rss: number; hwm: number } | undefined;
const sectionTimes: Record<string, number> = {};
const timed = async (name: string, fn: () => Promise<void>) => {
  const t = Date.now();
  say(`\n== ${name}`);
  await fn();
  sectionTimes[name] = (Date.now() - t) / 1000;
};

try {
  if (want('data') || want('admin')) {
    await withPaths('', { profile: process.env.BENCH_PROFILE === '1' }, async ({ relay, proxy, bootstraps }) => {
      if (want('data')) await timed('data path', async () => { data = await runDataPath(bootstraps, adminDirect, { relay: relay.pid, proxy: proxy.child.pid }); });
      if (want('admin')) await timed('admin path', async () => { admin = await runAdminLoops(bc.direct, bootstraps.proxy, proxy.adminUrl); });
      mainProxyRss = procMemory(proxy.child.pid);
    });
  }
  // The same throughput runs with the relay or proxy on a CPU of its own and the broker and clients on the others, as
  // in a deployment: what the path costs in throughput, apart from the CPU it takes from the broker and clients here.
  if (want('pinned') && !canPin()) say('\n== data path, own CPU: skipped (needs taskset and at least 2 CPUs)');
  if (want('pinned') && canPin()) {
    await timed('data path, own CPU', () => withPaths('-pinned', {}, async ({ relay, proxy, bootstraps }) => {
      const cpus = splitCpus();
      const broker = bc.cluster.brokers[0].pid!;
      try {
        // This process runs the kafkajs clients and starts the Java ones, which inherit its CPUs.
        for (const pid of [broker, process.pid]) pin(pid, cpus.shared);
        for (const pid of [relay.pid, proxy.child.pid]) pin(pid, cpus.own);
        const results = await runDataPath(bootstraps, adminDirect, { relay: relay.pid, proxy: proxy.child.pid }, { latency: false, topicPrefix: 'pinned-' });
        pinned = { results, cpus };
      } finally {
        for (const pid of [broker, process.pid]) unpin(pid);
      }
    }));
  }
  if (want('idle')) {
    await timed('idle connections', async () => {
      const { steps, workers, note } = connectionSteps(Number(host.nofile));
      idleNote = note;
      const proxy = await proxyProcess('proxy-idle', bc.direct);
      try { idle.push(...await idleConnections('proxy', proxy.child, proxy.bootstrapPort, steps)); } finally { await proxy.child.stop(); }
      if (workers) {
        const multi = await proxyProcess('proxy-idle-workers', bc.direct, { workers });
        try { idle.push(...await idleConnections(`proxy, ${workers} workers`, multi.child, multi.bootstrapPort, [10_000])); } finally { await multi.child.stop(); }
      }
      const relayPort = await freePort();
      const relay = await startRelayProcess('relay-idle', [{ listenPort: relayPort, target: bc.relayTarget }]);
      try { idle.push(...await idleConnections('relay', relay, relayPort, steps)); } finally { await relay.stop(); }
    });
  }
  if (want('memory')) {
    await timed('memory', async () => {
      const proxy = await proxyProcess('proxy-mem', bc.direct);
      try {
        memory.push(await slowConsumer(proxy.child, proxy.bootstrapPort, adminDirect));
        memory.push(...await bigBatches(proxy.child, proxy.bootstrapPort, adminDirect));
      } finally { await proxy.child.stop(); }
    });
  }
  if (want('multicore')) {
    await timed('multi-core', async () => {
      const p1 = await proxyProcess('proxy-w1', bc.direct);
      const p2 = await proxyProcess('proxy-w2', bc.direct, { workers: 2 });
      try {
        const reps = QUICK ? 1 : 2;
        for (let rep = 0; rep < reps; rep++) {
          const order: Array<[string, string, Child | undefined]> = [
            ['direct', bc.direct, undefined],
            ['proxy, 1 worker', `127.0.0.1:${p1.bootstrapPort}`, p1.child],
            ['proxy, 2 workers', `127.0.0.1:${p2.bootstrapPort}`, p2.child],
          ];
          for (const [target, bootstrap, child] of rep % 2 ? order.reverse() : order) multicore.push(await multicoreRun(target, bootstrap, child, adminDirect, rep));
        }
      } finally {
        await p1.child.stop();
        await p2.child.stop();
      }
    });
  }
} finally {
  await adminDirect.disconnect().catch(() => undefined);
  await bc.stop();
}

const totalSeconds = (Date.now() - t0) / 1000;
const hostAfter = machine();

// ---------------------------------------------------------------------------------------------------------------
// Report

const MiB = 2 ** 20;
const lines: string[] = [];
const out = (s = '') => lines.push(s);
const table = (head: string[], rows: string[][]) => {
  out(`| ${head.join(' | ')} |`);
  out(`|${head.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const r of rows) out(`| ${r.join(' | ')} |`);
  out();
};
const targets: string[][] = [];

function throughputTable(d: DataPathResults): void {
  table(['scenario', 'direct', 'TCP relay', 'proxy (audit on)', 'relay / direct', 'proxy / direct', 'proxy / relay'],
    d.metrics.map((m) => {
      const v = Object.fromEntries(MODES.map((mode) => [mode, median(m.values[mode])])) as Record<Mode, number>;
      return [m.name, fmt(v.direct), fmt(v.relay), fmt(v.proxy), ratio(v.relay, v.direct), ratio(v.proxy, v.direct), ratio(v.proxy, v.relay)];
    }));
}
function throughputTargets(d: DataPathResults): void {
  for (const name of ['produce MB/s (ProducerPerformance)', 'fetch MB/s (ConsumerPerformance)', 'produce MB/s (kafkajs)', 'fetch MB/s (kafkajs)']) {
    const m = d.metrics.find((x) => x.name === name)!;
    const r = median(m.values.proxy) / median(m.values.direct);
    const rr = median(m.values.relay) / median(m.values.direct);
    targets.push([`throughput ${name.replace(' MB/s', '')} >= 0.95x direct`, `${r.toFixed(2)}x (relay ${rr.toFixed(2)}x)`, r >= 0.95 ? 'met' : 'missed']);
  }
}

if (data) {
  out('### Data path: throughput (median of ' + data.sizes.reps + ')');
  out();
  throughputTable(data);
  const l = data.latency;
  out(`### Data path: latency at moderate load (ms; ProducerPerformance at ${data.sizes.bgRate.toLocaleString('en-US')} records/s x 1 KiB in the background)`);
  out();
  const latRow = (name: string, get: (mode: Mode) => number[], p: number) => {
    const v = Object.fromEntries(MODES.map((mode) => [mode, percentile(get(mode), p)])) as Record<Mode, number>;
    return [name, fmt(v.direct, 2), fmt(v.relay, 2), fmt(v.proxy, 2), `${fmt(v.relay - v.direct, 2)}`, `${fmt(v.proxy - v.direct, 2)}`];
  };
  const medRow = (name: string, get: (mode: Mode) => number[]) => {
    const v = Object.fromEntries(MODES.map((mode) => [mode, median(get(mode))])) as Record<Mode, number>;
    return [name, fmt(v.direct, 0), fmt(v.relay, 0), fmt(v.proxy, 0), `${fmt(v.relay - v.direct, 0)}`, `${fmt(v.proxy - v.direct, 0)}`];
  };
  table(['latency', 'direct', 'TCP relay', 'proxy (audit on)', 'relay - direct', 'proxy - direct'], [
    latRow('kafkajs produce round trip p50', (m) => l[m].produceMs, 50),
    latRow('kafkajs produce round trip p99', (m) => l[m].produceMs, 99),
    latRow('kafkajs produce round trip p99.9', (m) => l[m].produceMs, 99.9),
    latRow('kafkajs produce -> consume p50', (m) => l[m].endToEndMs, 50),
    latRow('kafkajs produce -> consume p99', (m) => l[m].endToEndMs, 99),
    latRow('kafkajs produce -> consume p99.9', (m) => l[m].endToEndMs, 99.9),
    medRow('ProducerPerformance p50 (whole ms)', (m) => l[m].javaP50),
    medRow('ProducerPerformance p99 (whole ms)', (m) => l[m].javaP99),
    medRow('ProducerPerformance p99.9 (whole ms)', (m) => l[m].javaP999),
  ]);
  out(`kafkajs: one 1 KiB record every 5 ms, acks=1, ${l.direct.produceMs.length}/${l.relay.produceMs.length}/${l.proxy.produceMs.length} samples (direct/relay/proxy) pooled over the repetitions.`);
  out(`ProducerPerformance: the median of each run's own percentiles, which include the broker's appends and the producer's batching (linger.ms=5) ` +
    `and move by tens of ms from run to run here, direct included: p99 per run ${MODES.map((m) => `${m} ${l[m].javaP99.join(' / ')}`).join(', ')} ms. ` +
    'The latency targets are read from the kafkajs rows, which time each record.');
  out();
  throughputTargets(data);
  const added = percentile(l.proxy.produceMs, 99) - percentile(l.direct.produceMs, 99);
  targets.push(['added p99 latency <= 1 ms at moderate load (kafkajs produce)', `${added.toFixed(2)} ms`, added <= 1 ? 'met' : 'missed']);
  const addedE2e = percentile(l.proxy.endToEndMs, 99) - percentile(l.direct.endToEndMs, 99);
  targets.push(['added p99 latency <= 1 ms at moderate load (kafkajs produce -> consume)', `${addedE2e.toFixed(2)} ms`, addedE2e <= 1 ? 'met' : 'missed']);
}

if (pinned) {
  const { shared, own } = pinned.cpus;
  out(`### Data path with the relay or proxy on a CPU of its own (median of ${pinned.results.sizes.reps})`);
  out();
  out(`The same throughput runs with the relay and proxy pinned to CPU ${own} and the broker and every client to CPU${shared.includes('-') ? 's' : ''} ${shared} (taskset), as in a ` +
    'deployment where the proxy runs on its own host or cores. Proxy / relay is the like-for-like figure here: whether the proxy, given a CPU, ' +
    'slows the path more than a byte relay does. Against direct the comparison is uneven: the relayed paths bring one more CPU, whose process ' +
    'does part of the loopback TCP work (its CPU time per MB is higher than in the shared-CPU table) and buffers between client and broker, ' +
    'while direct runs broker and clients on the shared CPUs alone, and its figures swing most from run to run (ConsumerPerformance most of ' +
    'all); the relayed paths may come out ahead of it or behind. So these rows are not counted against the 0.95x targets below, which come ' +
    'from the shared-CPU table.');
  out();
  throughputTable(pinned.results);
}

if (admin.length > 0) {
  out('### Admin path: audited operations per second, every event checked on the audit topic');
  out();
  const loops = [...new Set(admin.map((a) => a.loop))];
  table(['loop', 'direct ops/s', 'proxy ops/s', 'proxy / direct', 'request p50 direct / proxy (ms)', 'request p99 direct / proxy (ms)', 'events found / operations', 'missing', 'op -> event p50 (ms)', 'p99 (ms)', 'max (ms)'],
    loops.map((loop) => {
      const d = admin.find((a) => a.loop === loop && a.mode === 'direct')!;
      const p = admin.find((a) => a.loop === loop && a.mode === 'proxy')!;
      return [loop, fmt(d.opsPerSec, 0), fmt(p.opsPerSec, 0), ratio(p.opsPerSec, d.opsPerSec),
        `${fmt(d.requestMs.p50, 2)} / ${fmt(p.requestMs.p50, 2)}`, `${fmt(d.requestMs.p99, 2)} / ${fmt(p.requestMs.p99, 2)}`,
        `${p.events} / ${p.operations}`, String(p.missing), fmt(p.delayMs!.p50, 1), fmt(p.delayMs!.p99, 1), fmt(p.delayMs!.max, 1)];
    }));
  out('create-delete: each client creates a topic then deletes it, one request at a time; validate-only: CreateTopics with validateOnly and 100 topics per request ' +
    '(100 audited operations per request); the proxy writes each audited request ahead (audit.writeAhead) unless the run says otherwise. Delay = broker append time of the event (LogAppendTime) - time the client had the response.');
  out();
  const best = Math.max(...admin.filter((a) => a.mode === 'proxy').map((a) => a.opsPerSec));
  const lost = admin.filter((a) => a.mode === 'proxy').reduce((s, a) => s + (a.missing ?? 0), 0);
  targets.push(['5,000 audited admin operations/s, no event lost', `${Math.round(best).toLocaleString('en-US')} ops/s, ${lost} lost`, best >= 5000 && lost === 0 ? 'met' : 'missed']);
}

if (idle.length > 0) {
  out('### Idle connections (each completed an ApiVersions round trip; RSS of the serving process)');
  out();
  table(['process', 'connections', 'RSS before (MiB)', 'RSS 2 s after opening (MiB)', `RSS after ${idle[0].settleSeconds} s idle (MiB)`, 'per connection, 2 s after (KiB)', `per connection, after ${idle[0].settleSeconds} s idle (KiB)`],
    idle.map((r) => [r.target, r.connections.toLocaleString('en-US'), fmt(r.baselineRss / MiB, 1), fmt(r.rssAtOnce / MiB, 1), fmt(r.rss / MiB, 1),
      fmt((r.rssAtOnce - r.baselineRss) / r.connections / 1024, 1), fmt(r.bytesPerConnection / 1024, 1)]));
  out(`RSS before = with 10 warm-up connections open, after ${idle[0].settleSeconds} s idle. During a burst of connections V8 grows its young ` +
    'generation; the proxy gives it back once idle (limits.idleMemoryReturnMs, a check every 5 s), so the "2 s after opening" figures carry ' +
    'that part and the "idle" ones should not. The lines below the table give the RSS per connection added between steps, where any such ' +
    'fixed part cancels out. Kernel socket buffers are not in RSS.');
  out();
  for (const t of [...new Set(idle.map((r) => r.target))]) {
    const r = idle.find((x) => x.target === t)!;
    out(`Idle CPU of the ${t} process (10 warm-up connections open, measured over ${r.settleSeconds} s after a quiet period, 30 s outside quick mode): ${r.idleCpuMsPerSec.toFixed(1)} ms per second.`);
  }
  out();
  // Between two steps, a fixed part (V8's young generation, if not yet given back) cancels out.
  for (const t of [...new Set(idle.map((r) => r.target))]) {
    const steps = idle.filter((x) => x.target === t).sort((a, b) => a.connections - b.connections);
    for (let i = 1; i < steps.length; i++) {
      const [a, b] = [steps[i - 1], steps[i]];
      out(`${t}: ${fmt((b.rss - a.rss) / (b.connections - a.connections) / 1024, 1)} KiB of RSS per connection added between ` +
        `${a.connections.toLocaleString('en-US')} and ${b.connections.toLocaleString('en-US')} connections (after ${b.settleSeconds} s idle).`);
    }
  }
  out();
  if (idleNote) { out(idleNote); out(); }
  for (const r of idle.filter((x) => x.target.startsWith('proxy'))) {
    targets.push([`idle connection <= 20 KiB RSS (${r.connections.toLocaleString('en-US')} connections${r.target === 'proxy' ? '' : r.target.slice('proxy'.length)})`,
      `${(r.bytesPerConnection / 1024).toFixed(1)} KiB after ${r.settleSeconds} s idle (${((r.rssAtOnce - r.baselineRss) / r.connections / 1024).toFixed(1)} KiB 2 s after opening)`,
      r.bytesPerConnection <= 20 * 1024 && r.rssAtOnce - r.baselineRss <= 20 * 1024 * r.connections ? 'met'
        : r.bytesPerConnection <= 20 * 1024 ? 'met once idle, not right after opening' : 'missed']);
  }
}

if (memory.length > 0) {
  out('### Memory under pressure (proxy RSS)');
  out();
  table(['scenario', 'RSS before (MiB)', 'peak RSS (MiB)', 'RSS after (MiB)', 'what ran'], [
    ...memory.map((m) => [m.scenario, fmt(m.baselineRss / MiB, 0), fmt(m.peakRss / MiB, 0), fmt(m.endRss / MiB, 0), m.detail]),
    ...(mainProxyRss ? [['data and admin path runs', '-', fmt(mainProxyRss.hwm / MiB, 0), fmt(mainProxyRss.rss / MiB, 0), 'the proxy of the sections above, over its whole life (VmHWM)']] : []),
  ]);
  const worst = Math.max(...memory.map((m) => m.peakRss - m.baselineRss));
  // Bounded = the proxy holds at most a few frames per connection, whatever is owed: well under 128 MiB here.
  targets.push(['memory bounded (slow consumer, 50 MB batches)', `peak ${fmt(worst / MiB, 0)} MiB above the RSS before (limit used: 128 MiB)`, worst < 128 * MiB ? 'met' : 'missed']);
}

if (multicore.length > 0) {
  out('### Multi-core: 3 ProducerPerformance + 3 ConsumerPerformance clients at once (sum of their rates, median)');
  out();
  const names = [...new Set(multicore.map((m) => m.target))];
  const med = (t: string, k: 'produceMBs' | 'fetchMBs') => median(multicore.filter((m) => m.target === t).map((m) => m[k]));
  table(['target', 'produce MB/s', 'fetch MB/s', 'produce vs direct', 'fetch vs direct', 'proxy CPU seconds per process (primary / workers)'],
    names.map((t) => [t, fmt(med(t, 'produceMBs')), fmt(med(t, 'fetchMBs')), ratio(med(t, 'produceMBs'), med('direct', 'produceMBs')), ratio(med(t, 'fetchMBs'), med('direct', 'fetchMBs')),
      multicore.filter((m) => m.target === t).map((m) => m.cpuSecondsPerProcess.map((x) => x.toFixed(1)).join(' / ') || '-').join('; ')]));
}

if (targets.length > 0) {
  out('### Targets');
  out();
  table(['target', 'measured', ''], targets);
}

const report = lines.join('\n');
process.stdout.write('\n' + report + '\n');
process.stdout.write(`bench finished in ${totalSeconds.toFixed(0)} s (${Object.entries(sectionTimes).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')})\n`);
writeFileSync(join(OUT_DIR, 'results.json'), JSON.stringify({ host, hostAfter, data, pinned, admin, idle, memory, multicore, mainProxyRss, sectionTimes, totalSeconds }, null, 1));

if (process.env.BENCH_NO_WRITE !== '1' && !process.env.BENCH_PRELOAD && !only) {
  const md = `# Benchmark results

Latest \`npm run bench\`${QUICK ? ' (BENCH_QUICK=1)' : ''}, written by bench/run.ts. Every figure below was measured in that one run on this
machine; ratios compare paths measured side by side, interleaved, so they matter more than absolute numbers.

## Machine

| | |
|---|---|
| date | ${host.date} |
| nproc | ${host.nproc} |
| CPU | ${host.cpu} |
| RAM | ${host.ram} |
| kernel | ${host.kernel} |
| node | ${host.node} |
| java | ${host.java} |
| Kafka | ${host.kafka}, 1 broker (KRaft, combined broker+controller, 384 MiB heap) |
| load average (1/5/15 min) at start / end | ${host.loadavg} / ${hostAfter.loadavg} |
| RLIMIT_NOFILE | ${host.nofile} |
| run time | ${totalSeconds.toFixed(0)} s (${Object.entries(sectionTimes).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}) |

The broker, the proxy or relay, and the load generators share these CPUs, so every byte the proxy or relay handles takes
CPU time from the broker and the clients: on a machine this small, any process in the data path lowers throughput.
The TCP relay column is that floor (bytes only, no Kafka logic), measured the same way.

## Results

${report}
## Setup

- Paths: **direct** = client to the broker's PLAINTEXT listener; **TCP relay** = \`bench/tcp-relay.ts\` (pipe both ways, own process)
  in front of an extra broker listener, RELAY, that advertises the relay's port (a byte relay cannot rewrite Metadata, so
  the broker itself tells clients to come back through the relay; see bench/lib/cluster.ts); **proxy** = \`dist/src/cli.js start\` (the compiled code, as the Docker image runs it; built first)
  in its own process, auditing on with the default rules (management, authentication and denied operations audited;
  produce/consume not), audit events written to the same broker, \`audit.spool.fsync: always\` (the default).
- Clients: Kafka's ProducerPerformance / ConsumerPerformance 3.9.1 (acks=1, linger.ms=5, batch.size=64 KiB, 1 KiB records,
  3 partitions; the consumer's fetch.MB.sec excludes its group join) and kafkajs 2.2.4 in the benchmark process
  (produce: ${data?.sizes.kjRecords ?? 'N'} records; fetch: all ${data?.sizes.cpRecords ?? 'N'} records of the fetch source, timed from the first batch).
- Each throughput figure is the median of ${data?.sizes.reps ?? (QUICK ? 1 : 3)} runs, the three paths interleaved in rotating order.
- RSS is read from /proc/<pid>/status of the proxy process (VmRSS; peaks also from VmHWM after resetting it).

## Commands

\`\`\`
npm run bench                 # this report (./dev bench does the same after installing what is missing)
BENCH_QUICK=1 npm run bench   # smoke run, small sizes, 1 repetition
BENCH_ONLY=data,admin npm run bench   # some sections only (data, admin, pinned, idle, memory, multicore); RESULTS.md untouched
BENCH_PROFILE=1 BENCH_ONLY=data npm run bench   # CPU profile of the proxy in bench/out/prof/
\`\`\`

Per scenario, what runs (ports chosen at run time):

\`\`\`
java -Xmx1g -XX:+UseG1GC -cp '.kafka-lib/*' org.apache.kafka.tools.ProducerPerformance --topic pp-<path>-<n> --num-records ${data?.sizes.ppRecords ?? 'N'} --record-size 1024 \\
     --throughput -1 --producer-props bootstrap.servers=<path> acks=1 linger.ms=5 batch.size=65536
java -Xmx1g -XX:+UseG1GC -cp '.kafka-lib/*' org.apache.kafka.tools.ConsumerPerformance --bootstrap-server <path> --topic fetch-src --messages ${data?.sizes.cpRecords ?? 'N'} --group <new> --timeout 60000
node dist/src/cli.js start --set listen.host=127.0.0.1 --set listen.bootstrapPort=<p> --set listen.brokerPortBase=<b> \\
     --set upstream.bootstrapServers=<broker> --set audit.spool.dir=bench/out/spool/<name> --set log.level=warn \\
     --set limits.maxConnectionsPerAddress=20000 --set limits.maxConnections=20000 [--workers 2]
node --import tsx bench/tcp-relay.ts <relayPort>=127.0.0.1:<RELAY listener>
\`\`\`
`;
  // The notes after the marker (findings and experiments measured separately, with their commands) are kept.
  const file = join(REPO, 'bench', 'RESULTS.md');
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const at = previous.indexOf(NOTES_MARKER);
  writeFileSync(file, md + '\n' + (at >= 0 ? previous.slice(at) : `${NOTES_MARKER}\n`));
  say('bench/RESULTS.md written');
}
process.exit(0);

/**
 * Before/after: CPU time of the proxy process per MB moved, for two (or more) versions of the code, run side by
 * side against one broker and interleaved (ProducerPerformance then ConsumerPerformance through each, in
 * rotating order, REPS times; then a kafkajs consumer reads the same records), with the TCP relay as the floor. CPU time is read from /proc/<pid>/stat
 * (user time also per thread: main thread vs the others, i.e. V8's GC helpers): other
 * load on the machine disturbs it much less than throughput.
 *
 *   mkdir -p bench/out/before && git archive <commit> src protocol package.json | tar -x -C bench/out/before
 *   npx tsx bench/compare.ts before=bench/out/before/src/cli.ts after=src/cli.ts
 *   npx tsx bench/compare.ts a=src/cli.ts b=src/cli.ts+bench/experiments/chain-group-commit.ts   # with a preload
 *
 *   RELAYS=node,haproxy-splice,haproxy-copy npx tsx bench/compare.ts proxy=src/cli.ts   # HAProxy's floors as well
 *
 * The old tree must sit inside the repository (bench/out/ is ignored by git) so that it finds node_modules, or have a
 * node_modules symlink.
 * Environment: N records per run (default 200000) of RECORD_SIZE bytes (default 1024), REPS (default 3), WARMUP
 * records produced through each process first, unmeasured (default 50000), ONLY=produce
 * (skip the fetch runs), PROF=1 (a CPU profile of each proxy in bench/out/prof-compare/), NODE_FLAGS (more flags for
 * the proxies' Node, e.g. --trace-gc; their output goes to bench/out/compare-<name>.log).
 */
import { startBenchCluster } from './lib/cluster.js';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProxyProcess, startRelayProcess, cpuSeconds, threadUserSeconds, waitForPort, type Child } from './lib/procs.js';
import { producerPerf, consumerPerf } from './lib/perf-tools.js';
import { kafkajsConsume } from './lib/kafkajs-load.js';
import { createTopics } from './lib/topics.js';
import { OUT_DIR, REPO, say } from './lib/env.js';
import { median } from './lib/stats.js';
import { connectAdmin } from './scenarios/data-path.js';
import { freePortBase } from '../test/harness/proxy.js';
import { freePort } from '../test/harness/ports.js';

const N = Number(process.env.N ?? 200_000);
const REPS = Number(process.env.REPS ?? 3);
const RECORD_SIZE = Number(process.env.RECORD_SIZE ?? 1024);
const PRODUCE_ONLY = process.env.ONLY === 'produce';
/** Records each process produces before the measured runs (its JIT warms up: V8 compiles on other threads). */
const WARMUP = Number(process.env.WARMUP ?? 50_000);
const variants = process.argv.slice(2).map((arg) => {
  const m = /^([\w-]+)=([^+]+)(?:\+(.+))?$/.exec(arg);
  if (!m) throw new Error(`expected NAME=CLI[+PRELOAD], got "${arg}"`);
  return { name: m[1], cli: m[2], preload: m[3] };
});
if (variants.length === 0) throw new Error('usage: tsx bench/compare.ts NAME=path/to/cli.ts[+preload.ts] ...');

const bc = await startBenchCluster();
const admin = await connectAdmin(bc.direct);
/**
 * RELAYS=node,haproxy-splice,haproxy-copy: the floors to measure (default node, bench/tcp-relay.ts). They share the
 * port the broker's RELAY listener advertises, so with more than one each is started for its own runs only (and
 * warmed up with 20,000 records first, unmeasured). haproxy: Debian's /usr/sbin/haproxy in TCP mode, one thread;
 * "splice" forces splice(2) both ways (option splice-request / splice-response), "copy" turns it off (nosplice).
 */
const RELAYS = (process.env.RELAYS ?? 'node').split(',').filter(Boolean);

function haproxyConfig(listenPort: number, target: string, splice: boolean): string {
  return [
    'global', '  maxconn 4000', '  nbthread 1', ...(splice ? [] : ['  nosplice']),
    'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 600s', '  timeout server 600s',
    ...(splice ? ['  option splice-request', '  option splice-response'] : []),
    'frontend f', `  bind 127.0.0.1:${listenPort}`, '  default_backend b',
    'backend b', `  server s1 ${target}`, '',
  ].join('\n');
}

async function startHaproxy(name: string, listenPort: number, target: string, splice: boolean): Promise<Child> {
  const cfg = join(OUT_DIR, `${name}.cfg`);
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(cfg, haproxyConfig(listenPort, target, splice));
  const proc = spawn('/usr/sbin/haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child: Child = {
    name, proc, pid: proc.pid!, exited,
    async stop() { if (proc.exitCode === null && proc.signalCode === null) { proc.kill('SIGTERM'); await exited; } },
  };
  await waitForPort(listenPort, 10_000, child);
  return child;
}

function startFloor(kind: string): Promise<Child> {
  if (kind === 'node') return startRelayProcess('compare-relay', [{ listenPort: bc.relayPort, target: bc.relayTarget }]);
  if (kind === 'haproxy-splice' || kind === 'haproxy-copy') return startHaproxy(`compare-${kind}`, bc.relayPort, bc.relayTarget, kind === 'haproxy-splice');
  throw new Error(`unknown relay "${kind}" (node, haproxy-splice, haproxy-copy)`);
}

const targets: Array<{ name: string; child: Child; bootstrap: string; onDemand?: string }> = [];
try {
  for (const v of variants) {
    const bootstrapPort = await freePort();
    const child = await startProxyProcess({
      name: `compare-${v.name}`, cli: v.cli, upstream: bc.direct, bootstrapPort, brokerPortBase: await freePortBase(1), adminPort: await freePort(),
      spoolDir: `bench/out/spool/compare-${v.name}`,
      nodeFlags: [...(v.preload ? ['--import', 'tsx', '--import', `${REPO}/${v.preload}`] : []),
        ...(process.env.PROF === '1' ? ['--cpu-prof', `--cpu-prof-dir=${REPO}/bench/out/prof-compare`] : []),
        ...(process.env.NODE_FLAGS ?? '').split(' ').filter(Boolean)],
    });
    targets.push({ name: v.name, child, bootstrap: `127.0.0.1:${bootstrapPort}` });
  }
  if (RELAYS.length === 1) {
    targets.push({ name: RELAYS[0] === 'node' ? 'relay' : RELAYS[0], child: await startFloor(RELAYS[0]), bootstrap: `127.0.0.1:${bc.relayPort}` });
  } else {
    for (const kind of RELAYS) targets.push({ name: kind === 'node' ? 'relay' : kind, child: undefined as unknown as Child, bootstrap: `127.0.0.1:${bc.relayPort}`, onDemand: kind });
  }
  /** Starts an on-demand relay (and warms it up) before its runs; stops it after. */
  const using = async (t: (typeof targets)[number], run: () => Promise<void>) => {
    if (!t.onDemand) return run();
    t.child = await startFloor(t.onDemand);
    try {
      await producerPerf({ bootstrap: t.bootstrap, topic: `compare-warm-${t.name}`, records: 20_000, recordSize: RECORD_SIZE });
      await run();
    } finally { await t.child.stop(); }
  };
  await createTopics(admin, [{ topic: 'compare-src', numPartitions: 3 }]);
  await producerPerf({ bootstrap: bc.direct, topic: 'compare-src', records: N, recordSize: RECORD_SIZE });
  const mb = (N * RECORD_SIZE) / 2 ** 20;
  const res = new Map<string, Record<string, number[]>>();
  const add = (v: string, k: string, x: number) => { const r = res.get(v) ?? {}; (r[k] ??= []).push(x); res.set(v, r); };
  // Warm-up of every process (JIT), not measured.
  for (const t of targets) {
    await createTopics(admin, [{ topic: `compare-warm-${t.name}`, numPartitions: 3 }]);
    if (t.onDemand) continue; // warmed up at each start
    await producerPerf({ bootstrap: t.bootstrap, topic: `compare-warm-${t.name}`, records: WARMUP, recordSize: RECORD_SIZE });
    if (!PRODUCE_ONLY) await consumerPerf({ bootstrap: t.bootstrap, topic: 'compare-src', messages: 50_000, group: `compare-warm-${t.name}` });
  }
  for (let rep = 0; rep < REPS; rep++) {
    const order = [...targets.slice(rep % targets.length), ...targets.slice(0, rep % targets.length)];
    for (const t of order) {
      await using(t, async () => {
        const topic = `compare-${t.name}-${rep}`;
        await createTopics(admin, [{ topic, numPartitions: 3 }]);
        // CPU per MB, and the user part split into the main thread and the others (GC): see threadUserSeconds.
        const measure = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
          const c0 = cpuSeconds(t.child.pid);
          const u0 = threadUserSeconds(t.child.pid);
          const r = await run();
          const u1 = threadUserSeconds(t.child.pid);
          add(t.name, `${what} CPU ms/MB`, ((cpuSeconds(t.child.pid) - c0) * 1000) / mb);
          add(t.name, `${what} main-thread user ms/MB`, ((u1.main - u0.main) * 1000) / mb);
          add(t.name, `${what} other-threads user ms/MB`, ((u1.others - u0.others) * 1000) / mb);
          return r;
        };
        const p = await measure('produce', () => producerPerf({ bootstrap: t.bootstrap, topic, records: N, recordSize: RECORD_SIZE }));
        add(t.name, 'produce MB/s', p.mbPerSec);
        if (PRODUCE_ONLY) { await admin.deleteTopics({ topics: [topic] }).catch(() => undefined); say(`  ${t.name} #${rep + 1}: ${Object.entries(res.get(t.name)!).map(([k, xs]) => `${k} ${xs[xs.length - 1].toFixed(2)}`).join(', ')}`); return; }
        const c = await measure('fetch', () => consumerPerf({ bootstrap: t.bootstrap, topic: 'compare-src', messages: N, group: `compare-${t.name}-${rep}-${Date.now()}` }));
        add(t.name, 'fetch MB/s', c.mbPerSec);
        // kafkajs (Fetch v11, in this process) reads the same records: a client whose responses carry no leader hints.
        const k = await measure('kafkajs fetch', () => kafkajsConsume(t.bootstrap, 'compare-src', N, `compare-kj-${t.name}-${rep}-${Date.now()}`));
        add(t.name, 'kafkajs fetch MB/s', k.mbPerSec);
        await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
        say(`  ${t.name} #${rep + 1}: ${Object.entries(res.get(t.name)!).map(([k, xs]) => `${k} ${xs[xs.length - 1].toFixed(2)}`).join(', ')}`);
      });
    }
  }
  process.stdout.write(`\nmedian of ${REPS} (each run: ${N.toLocaleString('en-US')} x ${RECORD_SIZE} B records)\n`);
  for (const [name, r] of res) {
    process.stdout.write(`${name.padEnd(10)} ${Object.entries(r).map(([k, xs]) => `${k} ${median(xs).toFixed(2)} [${xs.map((x) => x.toFixed(2)).join(' ')}]`).join('  |  ')}\n`);
  }
} finally {
  for (const t of targets) if (!t.onDemand) await t.child.stop();
  await admin.disconnect().catch(() => undefined);
  await bc.stop();
}
process.exit(0);

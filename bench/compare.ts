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
 * The old tree must sit inside the repository (bench/out/ is ignored by git) so that it finds node_modules.
 * Environment: N records of 1 KiB per run (default 200000), REPS (default 3).
 */
import { startBenchCluster } from './lib/cluster.js';
import { startProxyProcess, startRelayProcess, cpuSeconds, threadUserSeconds, type Child } from './lib/procs.js';
import { producerPerf, consumerPerf } from './lib/perf-tools.js';
import { kafkajsConsume } from './lib/kafkajs-load.js';
import { createTopics } from './lib/topics.js';
import { REPO, say } from './lib/env.js';
import { median } from './lib/stats.js';
import { connectAdmin } from './scenarios/data-path.js';
import { freePortBase } from '../test/harness/proxy.js';
import { freePort } from '../test/harness/ports.js';

const N = Number(process.env.N ?? 200_000);
const REPS = Number(process.env.REPS ?? 3);
const variants = process.argv.slice(2).map((arg) => {
  const m = /^([\w-]+)=([^+]+)(?:\+(.+))?$/.exec(arg);
  if (!m) throw new Error(`expected NAME=CLI[+PRELOAD], got "${arg}"`);
  return { name: m[1], cli: m[2], preload: m[3] };
});
if (variants.length === 0) throw new Error('usage: tsx bench/compare.ts NAME=path/to/cli.ts[+preload.ts] ...');

const bc = await startBenchCluster();
const admin = await connectAdmin(bc.direct);
const targets: Array<{ name: string; child: Child; bootstrap: string }> = [];
try {
  for (const v of variants) {
    const bootstrapPort = await freePort();
    const child = await startProxyProcess({
      name: `compare-${v.name}`, cli: v.cli, upstream: bc.direct, bootstrapPort, brokerPortBase: await freePortBase(1), adminPort: await freePort(),
      spoolDir: `bench/out/spool/compare-${v.name}`, nodeFlags: v.preload ? ['--import', 'tsx', '--import', `${REPO}/${v.preload}`] : [],
    });
    targets.push({ name: v.name, child, bootstrap: `127.0.0.1:${bootstrapPort}` });
  }
  const relay = await startRelayProcess('compare-relay', [{ listenPort: bc.relayPort, target: bc.relayTarget }]);
  targets.push({ name: 'relay', child: relay, bootstrap: `127.0.0.1:${bc.relayPort}` });
  await createTopics(admin, [{ topic: 'compare-src', numPartitions: 3 }]);
  await producerPerf({ bootstrap: bc.direct, topic: 'compare-src', records: N, recordSize: 1024 });
  const mb = (N * 1024) / 2 ** 20;
  const res = new Map<string, Record<string, number[]>>();
  const add = (v: string, k: string, x: number) => { const r = res.get(v) ?? {}; (r[k] ??= []).push(x); res.set(v, r); };
  // Warm-up of every process (JIT), not measured.
  for (const t of targets) {
    await createTopics(admin, [{ topic: `compare-warm-${t.name}`, numPartitions: 3 }]);
    await producerPerf({ bootstrap: t.bootstrap, topic: `compare-warm-${t.name}`, records: 50_000, recordSize: 1024 });
    await consumerPerf({ bootstrap: t.bootstrap, topic: 'compare-src', messages: 50_000, group: `compare-warm-${t.name}` });
  }
  for (let rep = 0; rep < REPS; rep++) {
    const order = [...targets.slice(rep % targets.length), ...targets.slice(0, rep % targets.length)];
    for (const t of order) {
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
      const p = await measure('produce', () => producerPerf({ bootstrap: t.bootstrap, topic, records: N, recordSize: 1024 }));
      add(t.name, 'produce MB/s', p.mbPerSec);
      const c = await measure('fetch', () => consumerPerf({ bootstrap: t.bootstrap, topic: 'compare-src', messages: N, group: `compare-${t.name}-${rep}-${Date.now()}` }));
      add(t.name, 'fetch MB/s', c.mbPerSec);
      // kafkajs (Fetch v11, in this process) reads the same records: a client whose responses carry no leader hints.
      const k = await measure('kafkajs fetch', () => kafkajsConsume(t.bootstrap, 'compare-src', N, `compare-kj-${t.name}-${rep}-${Date.now()}`));
      add(t.name, 'kafkajs fetch MB/s', k.mbPerSec);
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      say(`  ${t.name} #${rep + 1}: ${Object.entries(res.get(t.name)!).map(([k, xs]) => `${k} ${xs[xs.length - 1].toFixed(2)}`).join(', ')}`);
    }
  }
  process.stdout.write(`\nmedian of ${REPS} (each run: ${N.toLocaleString('en-US')} x 1 KiB records)\n`);
  for (const [name, r] of res) {
    process.stdout.write(`${name.padEnd(10)} ${Object.entries(r).map(([k, xs]) => `${k} ${median(xs).toFixed(2)} [${xs.map((x) => x.toFixed(2)).join(' ')}]`).join('  |  ')}\n`);
  }
} finally {
  for (const t of targets) await t.child.stop();
  await admin.disconnect().catch(() => undefined);
  await bc.stop();
}
process.exit(0);

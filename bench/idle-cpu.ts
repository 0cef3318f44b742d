/**
 * Idle CPU, side by side: CPU time per second of proxy processes (two or more versions of the code, or settings)
 * and of the TCP relay, all started against one broker, each with 10 client connections open that completed an
 * ApiVersions round trip and then send nothing. All processes idle at the same time, so whatever else the machine
 * runs weighs on all of them alike; the figure is read in WINDOWS windows of WINDOW_S seconds each from
 * /proc/<pid>/stat (10 ms ticks) and the median printed.
 *
 *   npx tsx bench/idle-cpu.ts before=/tmp/perf/src/cli.ts after=src/cli.ts
 *   npx tsx bench/idle-cpu.ts on=src/cli.ts off=src/cli.ts@limits.idleMemoryReturnMs=0   # with --set overrides
 *   PROF=1 npx tsx bench/idle-cpu.ts after=src/cli.ts       # also a CPU profile of each proxy (bench/out/prof-idle/)
 *
 * NAME=CLI[+PRELOAD][@KEY=VALUE,KEY=VALUE]. A tree outside the repository needs node_modules reachable from it
 * (a symlink). Environment: WINDOWS (default 3), WINDOW_S (default 30), CONNECTIONS (default 10),
 * SETTLE_S (default 30: seconds between the last connection and the first window; a freshly started process
 * still finishes start-up work, JIT and GC, in its first tens of seconds).
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBenchCluster } from './lib/cluster.js';
import { startProxyProcess, startRelayProcess, cpuSeconds, type Child } from './lib/procs.js';
import { RawConnection, apiVersions } from './lib/raw.js';
import { OUT_DIR, REPO, say, sleep } from './lib/env.js';
import { median } from './lib/stats.js';
import { freePortBase } from '../test/harness/proxy.js';
import { freePort } from '../test/harness/ports.js';

const WINDOWS = Number(process.env.WINDOWS ?? 3);
const WINDOW_S = Number(process.env.WINDOW_S ?? 30);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 10);
const SETTLE_S = Number(process.env.SETTLE_S ?? 30);
const PROF = process.env.PROF === '1';

const variants = process.argv.slice(2).map((arg) => {
  const m = /^([\w-]+)=([^+@]+)(?:\+([^@]+))?(?:@(.+))?$/.exec(arg);
  if (!m) throw new Error(`expected NAME=CLI[+PRELOAD][@K=V,...], got "${arg}"`);
  const sets = Object.fromEntries((m[4] ?? '').split(',').filter(Boolean).map((kv) => { const i = kv.indexOf('='); return [kv.slice(0, i), kv.slice(i + 1)]; }));
  return { name: m[1], cli: m[2], preload: m[3], sets };
});
if (variants.length === 0) throw new Error('usage: tsx bench/idle-cpu.ts NAME=path/to/cli.ts[+preload.ts][@key=value,...] ...');

/** CPU seconds (user+system) per thread name of a process (main thread, libuv pool, V8 workers, ...). */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      const name = Number(tid) === pid ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(name, (out.get(name) ?? 0) + (Number(rest[11]) + Number(rest[12])) / 100);
    } catch { /* thread gone */ }
  }
  return out;
}

const bc = await startBenchCluster();
const targets: Array<{ name: string; child: Child; port: number }> = [];
const conns: RawConnection[] = [];
try {
  const profDir = join(OUT_DIR, 'prof-idle');
  if (PROF) mkdirSync(profDir, { recursive: true });
  for (const v of variants) {
    const port = await freePort();
    const child = await startProxyProcess({
      name: `idle-cpu-${v.name}`, cli: v.cli, upstream: bc.direct, bootstrapPort: port, brokerPortBase: await freePortBase(1), adminPort: await freePort(),
      spoolDir: `bench/out/spool/idle-cpu-${v.name}`, sets: v.sets,
      nodeFlags: [...(v.preload ? ['--import', 'tsx', '--import', `${REPO}/${v.preload}`] : []), ...(PROF ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])],
    });
    targets.push({ name: v.name, child, port });
  }
  const relay = await startRelayProcess('idle-cpu-relay', [{ listenPort: bc.relayPort, target: bc.relayTarget }]);
  targets.push({ name: 'relay', child: relay, port: bc.relayPort });
  for (const t of targets) {
    for (let i = 0; i < CONNECTIONS; i++) { const c = await RawConnection.connect(t.port); conns.push(c); await apiVersions(c); }
  }
  say(`${targets.length} processes, ${CONNECTIONS} idle connections each; settling ${SETTLE_S} s, then ${WINDOWS} x ${WINDOW_S} s`);
  await sleep(SETTLE_S * 1000);
  const perSec = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const threads = new Map<string, Map<string, number>>(targets.map((t) => [t.name, new Map()]));
  let measured = 0;
  for (let w = 0; w < WINDOWS; w++) {
    const c0 = targets.map((t) => cpuSeconds(t.child.pid));
    const th0 = targets.map((t) => threadCpu(t.child.pid));
    const t0 = performance.now();
    await sleep(WINDOW_S * 1000);
    const secs = (performance.now() - t0) / 1000;
    targets.forEach((t, i) => {
      perSec.get(t.name)!.push(((cpuSeconds(t.child.pid) - c0[i]) * 1000) / secs);
      for (const [name, c] of threadCpu(t.child.pid)) threads.get(t.name)!.set(name, (threads.get(t.name)!.get(name) ?? 0) + c - (th0[i].get(name) ?? 0));
    });
    measured += secs;
    say(`  window ${w + 1}: ${targets.map((t) => `${t.name} ${perSec.get(t.name)!.at(-1)!.toFixed(2)}`).join(', ')} ms/s (load ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  }
  process.stdout.write(`\nidle CPU, ms per second (median of ${WINDOWS} x ${WINDOW_S} s; ${CONNECTIONS} idle connections each)\n`);
  for (const [name, xs] of perSec) {
    const th = [...threads.get(name)!].filter(([, c]) => c > 0).sort((a, b) => b[1] - a[1]).map(([n, c]) => `${n} ${((c * 1000) / measured).toFixed(2)}`).join(', ');
    process.stdout.write(`${name.padEnd(12)} ${median(xs).toFixed(2)}  [${xs.map((x) => x.toFixed(2)).join(' ')}]  by thread, mean: ${th || '-'}\n`);
  }
} finally {
  for (const c of conns) c.close();
  for (const t of targets) await t.child.stop();
  await bc.stop();
}
process.exit(0);

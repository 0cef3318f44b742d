/**
 * Idle connections: RSS of the proxy process per open client connection. Each connection completes an
 * ApiVersions round trip, so it is a real Kafka connection with its upstream connection open behind it, then
 * stays idle. Measured on a fresh proxy process; the TCP relay is measured the same way for comparison.
 */
import { RawConnection, apiVersions } from '../lib/raw.js';
import { childPids, cpuSeconds, procMemory, type Child } from '../lib/procs.js';
import { QUICK, say, sleep } from '../lib/env.js';

export interface IdleResult {
  target: string; connections: number; baselineRss: number;
  /** 2 s after the last connection opened */
  rssAtOnce: number;
  /** after SETTLE_MS idle */
  rss: number; bytesPerConnection: number; openSeconds: number; settleSeconds: number;
  /** CPU time the process used per second while idle with the 10 warm-up connections open */
  idleCpuMsPerSec: number;
}

async function openMany(port: number, count: number, into: RawConnection[], concurrency = 100): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next++;
      const c = await RawConnection.connect(port);
      into.push(c);
      await apiVersions(c);
    }
  }));
}

/** The median of 5 reads, 200 ms apart, of the summed RSS of `pids` (a multi-worker proxy: primary and workers). */
async function rssNow(pids: number[]): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) { xs.push(pids.reduce((sum, pid) => sum + procMemory(pid).rss, 0)); await sleep(200); }
  return xs.sort((a, b) => a - b)[2];
}

/**
 * RSS once the process has been idle for a while. During a burst of new connections V8 grows its young generation
 * (each connection's objects survive their first collections) and shrinks it only at a later collection, which an
 * idle process does not run by itself: RSS at 1,000 connections stayed 15-30 MiB up for 50 s
 * (bench/idle-young-gen.ts). The proxy runs one when idle (src/idle-memory.ts, a check every 5 s by default), so
 * 20 s of idling covers several checks after the burst. The relay does not, so its first step may carry that
 * part; the report adds the RSS per connection between steps, where it cancels out.
 */
const SETTLE_MS = QUICK ? 5_000 : 20_000;
/** Quiet time before idle CPU is measured. */
const IDLE_CPU_SETTLE_MS = 30_000;
async function settledRss(pids: number[]): Promise<number> {
  await sleep(SETTLE_MS);
  return rssNow(pids);
}

/**
 * Opens connections in steps (`steps`, cumulative) to `port` served by process `proc` (with its worker processes
 * when it has some), reporting RSS per connection against the RSS with 10 warm-up connections open.
 */
export async function idleConnections(target: string, proc: Child, port: number, steps: number[]): Promise<IdleResult[]> {
  const conns: RawConnection[] = [];
  const results: IdleResult[] = [];
  const pids = [proc.pid, ...childPids(proc.pid)];
  const cpu = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  try {
    await openMany(port, 10, conns, 10);
    const warm = conns.length;
    // Idle CPU is measured after the start-up work has settled (the audit producer's first metadata, the first
    // health check, the lag monitor switching itself off): right after start the proxy read 8.6 ms/s, 30 s later
    // 1.7 (bench/idle-cpu.ts).
    await sleep(QUICK ? 5_000 : IDLE_CPU_SETTLE_MS);
    const cpu0 = cpu();
    const t0idle = performance.now();
    const baseline = await settledRss(pids);
    const idleCpuMsPerSec = ((cpu() - cpu0) * 1000) / ((performance.now() - t0idle) / 1000);
    for (const step of steps) {
      const t0 = performance.now();
      await openMany(port, step - (conns.length - warm), conns);
      const openSeconds = (performance.now() - t0) / 1000;
      await sleep(2000);
      const rssAtOnce = await rssNow(pids);
      const rss = await settledRss(pids);
      const n = conns.length - warm;
      results.push({ target, connections: n, baselineRss: baseline, rssAtOnce, rss, bytesPerConnection: (rss - baseline) / n, openSeconds, settleSeconds: SETTLE_MS / 1000, idleCpuMsPerSec });
      say(`  idle ${target}: ${n} connections, RSS ${(rss / 2 ** 20).toFixed(1)} MiB after ${SETTLE_MS / 1000} s idle (${(rssAtOnce / 2 ** 20).toFixed(1)} MiB at once; ` +
        `baseline ${(baseline / 2 ** 20).toFixed(1)} MiB) = ${((rss - baseline) / n / 1024).toFixed(1)} KiB/connection (${((rssAtOnce - baseline) / n / 1024).toFixed(1)} at once)`);
    }
  } finally {
    for (const c of conns) c.close();
    await sleep(500);
  }
  return results;
}

/**
 * 10k connections need 2 file descriptors each in the proxy (client + upstream); stay under RLIMIT_NOFILE. When one
 * process cannot hold 10,000, `workers` says how many worker processes can (each holds its share).
 */
export function connectionSteps(nofile: number): { steps: number[]; workers?: number; note: string } {
  if (QUICK) return { steps: [1000], note: '' };
  const max = Math.floor((nofile - 200) / 2);
  if (max >= 10_000) return { steps: [1000, 10_000], note: '' };
  const top = Math.floor(max / 100) * 100;
  const workers = Math.ceil(10_000 / max);
  return {
    steps: [1000, top], workers,
    note: `10,000 connections need 20,000+ file descriptors in one proxy process (client + upstream socket each) and this machine's ` +
      `RLIMIT_NOFILE hard limit is ${nofile} (not raisable here), so one process is measured up to ${top.toLocaleString('en-US')} connections ` +
      `and 10,000 with ${workers} worker processes (RSS summed over the primary and its workers).`,
  };
}

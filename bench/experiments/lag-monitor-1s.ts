/**
 * Preload for bench/idle-cpu.ts and bench/compare.ts: prom-client's event-loop-lag monitor at a 1 s resolution
 * instead of its 10 ms, to measure what the 10 ms timer costs a process that is otherwise the same.
 *   npx tsx bench/idle-cpu.ts a=src/cli.ts b=src/cli.ts+bench/experiments/lag-monitor-1s.ts
 */
import perfHooks from 'node:perf_hooks';

const original = perfHooks.monitorEventLoopDelay;
(perfHooks as { monitorEventLoopDelay: typeof original }).monitorEventLoopDelay = (o) => original({ ...o, resolution: 1000 });

/**
 * The nodejs_eventloop_lag_* metrics, without waking an idle process 100 times a second.
 *
 * prom-client samples event-loop delay with Node's monitorEventLoopDelay at a 10 ms resolution: a timer that
 * fires every 10 ms for the life of the process. In the proxy at rest that was 3-6 ms of CPU per second, most of
 * what an idle proxy used (bench/RESULTS.md, 2026-12-06). Here the same 10 ms monitor runs only while the event
 * loop has work: one unref'd 1 s timer per process reads the share of the last second the loop was busy
 * (performance.eventLoopUtilization, a few clock reads) and turns the 10 ms monitor on when it was at least
 * BUSY_SHARE, off when it was less. The 1 s timer also records how late it fired: a stall that holds the loop when
 * it is due shows there, whether or not the 10 ms monitor was on.
 *
 * What the metrics catch, then: while the process works, every stall over about 10 ms, as before. After a second
 * at rest the 10 ms monitor is off; a stall that begins then is seen by the 1 s timer when it spans that timer's
 * tick (its lateness), and the 10 ms monitor is back on from the next tick; a shorter first stall that ends
 * before the tick is counted in the busy share only. The values keep prom-client's convention: a sample is the
 * time between two ticks of a 10 ms timer (10 ms plus the lag); a scrape with no 10 ms sample since the last one
 * (the process was at rest) reads 10 ms, with the 1 s timer's lateness added to max.
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';

/** The 10 ms monitor's resolution (prom-client's default eventLoopMonitoringPrecision). */
export const FINE_RESOLUTION_MS = 10;
/** How often the busy share is read and the 10 ms monitor turned on or off. */
export const SENTINEL_MS = 1000;
/** Busy share of the last second at or above which the 10 ms monitor runs (5 ms of work in a second). */
export const BUSY_SHARE = 0.005;

export interface LagStats { min: number; max: number; mean: number; stddev: number; p50: number; p90: number; p99: number }

/** Whether the 10 ms monitor should run for the next second, from the last second's busy share and the 1 s timer's lateness (ms). */
export function fineMonitorWanted(busyShare: number, lateMs: number): boolean {
  return busyShare >= BUSY_SHARE || lateMs >= FINE_RESOLUTION_MS;
}

/**
 * The statistics a scrape reports, in seconds: the 10 ms monitor's when it has samples, else those of an idle loop
 * as that monitor reads it (its resolution); the 1 s timer's largest lateness since the last read raises max.
 */
export function lagStats(fine: { count: number; min: number; max: number; mean: number; stddev: number; percentile(p: number): number }, sentinelLateMs: number): LagStats {
  const idle = FINE_RESOLUTION_MS / 1000;
  const s: LagStats = fine.count > 0
    ? { min: fine.min / 1e9, max: fine.max / 1e9, mean: fine.mean / 1e9, stddev: fine.stddev / 1e9, p50: fine.percentile(50) / 1e9, p90: fine.percentile(90) / 1e9, p99: fine.percentile(99) / 1e9 }
    : { min: idle, max: idle, mean: idle, stddev: 0, p50: idle, p90: idle, p99: idle };
  if (sentinelLateMs > 0) s.max = Math.max(s.max, (FINE_RESOLUTION_MS + sentinelLateMs) / 1000);
  return s;
}

class EventLoopLagSampler {
  private readonly fine: IntervalHistogram = monitorEventLoopDelay({ resolution: FINE_RESOLUTION_MS });
  private fineOn = false;
  private lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  private lastTick = performance.now();
  private lateMax = 0;

  constructor() {
    // Busy from the start (start-up work), so the first second is monitored.
    this.setFine(true);
    setInterval(() => this.tick(), SENTINEL_MS).unref();
  }

  private setFine(on: boolean): void {
    if (on === this.fineOn) return;
    this.fineOn = on;
    if (on) this.fine.enable(); else this.fine.disable();
  }

  private tick(): void {
    const now = performance.now();
    const late = Math.max(0, now - this.lastTick - SENTINEL_MS);
    this.lastTick = now;
    if (late > this.lateMax) this.lateMax = late;
    const elu = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(elu, this.lastElu).utilization;
    this.lastElu = elu;
    this.setFine(fineMonitorWanted(busy, late));
  }

  /** The statistics since the last read; starts the next period. */
  read(): LagStats {
    const s = lagStats(this.fine, this.lateMax);
    this.fine.reset();
    this.lateMax = 0;
    return s;
  }
}

let sampler: EventLoopLagSampler | undefined;

/** The process's sampler (one per process, whatever the number of metric registries), started on first use. */
export function eventLoopLag(): { read(): LagStats } {
  return sampler ??= new EventLoopLagSampler();
}

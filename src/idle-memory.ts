/**
 * Gives back the memory V8 keeps after a burst, once the process has gone idle.
 *
 * A burst of work (a thousand connections opening at once, a storm of admin requests) makes V8 grow its young
 * generation, up to 3 x 16 MiB. V8 shrinks it again at a later collection, and a proxy with nothing to do allocates
 * nothing, so no collection comes: the memory stays for as long as the process is idle. Measured with bench/idle-young-gen.ts, 1,000 connections opened at once left RSS 15 MiB
 * above what it fell to at the next scavenge, for 50 s and more.
 *
 * So every `intervalMs`, if the event loop was busy less than 1 % of the interval and the young generation has
 * grown (see IdleMemoryCheck), one minor GC runs (a scavenge, which visits only the live young objects) and
 * V8 shrinks the space. A busy process is left alone: it scavenges on its own. This is what the JVM's
 * G1PeriodicGCInterval does for the same reason (JEP 346). The gc function comes from V8's --expose-gc flag, set at
 * run time as jest does for its leak detector: it appears in a new context only, never among the proxy's globals.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** Below this share of the interval spent busy, the process counts as idle. */
export const IDLE_UTILIZATION = 0.01;

type MinorGc = () => void;

let minorGc: MinorGc | null | undefined;

/** V8's gc function, limited to minor collections; null where this V8 does not offer it. */
function exposedMinorGc(): MinorGc | null {
  if (minorGc !== undefined) return minorGc;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    minorGc = typeof gc === 'function' ? () => (gc as (o: { type: string }) => void)({ type: 'minor' }) : null;
  } catch {
    minorGc = null;
  }
  return minorGc;
}

/** Bytes the young generation (V8's new space) holds reserved now. */
export function youngGenerationBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

export interface IdleMemoryDeps {
  /** Share of the time since the last call the event loop was busy (0-1). */
  utilization(): number;
  youngBytes(): number;
  gc: MinorGc;
}

/** V8's young generation starts at 1 MiB and, shrunk, keeps about twice what is live in it: at or below this it is left alone. */
export const SMALL_YOUNG_BYTES = 2 * 1024 * 1024;

/**
 * The decision, apart from timers and V8: collect when idle and the young generation is larger than SMALL_YOUNG_BYTES
 * and than it was after the last collection that shrank it. V8 does not shrink the space at every such collection
 * (some 18-25 s after a burst did not), so one that did not is simply tried again at the next idle check: a
 * scavenge of an idle process's young generation, which holds next to nothing by then, costs little.
 */
export class IdleMemoryCheck {
  private mark = SMALL_YOUNG_BYTES;

  constructor(private readonly deps: IdleMemoryDeps) {}

  /** One check; returns the young generation's size before and after when it ran a collection. */
  check(): { before: number; after: number } | undefined {
    const busy = this.deps.utilization() >= IDLE_UTILIZATION;
    const before = this.deps.youngBytes();
    if (busy || before <= this.mark) return undefined;
    this.deps.gc();
    const after = this.deps.youngBytes();
    if (after < before) this.mark = Math.max(SMALL_YOUNG_BYTES, after);
    return { before, after };
  }
}

/**
 * Checks every `intervalMs` (0: never) and calls `onCollect` after each collection. Returns a stop function.
 * Does nothing where V8's gc function is not available.
 */
export function startIdleMemoryReturn(intervalMs: number, onCollect: (r: { before: number; after: number }) => void): () => void {
  const gc = intervalMs > 0 ? exposedMinorGc() : null;
  if (!gc) return () => {};
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const check = new IdleMemoryCheck({
    utilization: () => {
      const now = performance.eventLoopUtilization();
      const u = performance.eventLoopUtilization(now, last).utilization;
      last = now;
      return u;
    },
    youngBytes: youngGenerationBytes,
    gc,
  });
  const timer = setInterval(() => {
    const r = check.check();
    if (r) onCollect(r);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

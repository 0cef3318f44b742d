/**
 * EXPERIMENT, not product code: what the audit path gains if AuditChain wrote its state file once per tick
 * ("group commit") instead of once per event. Loaded into the proxy processes with
 *   BENCH_PRELOAD=bench/experiments/chain-group-commit.ts BENCH_ONLY=admin npm run bench
 *
 * Why it would keep the chain's guarantee (a restart never reuses a sequence number that left the process): the
 * write is scheduled with process.nextTick, which runs before any promise continuation, and the audit sink only
 * sends events (or spools them) from its async worker loop, i.e. in a promise continuation; so every event's
 * state is on disk before the event can leave the process, as now. Only the number of writes changes: a response
 * carrying 100 operations makes 100 events and now 1 state write (with fsync under spool.fsync=always).
 */
import { AuditChain } from '../../src/audit/chain.js';

const proto = AuditChain.prototype as unknown as { persist(): void };
const persistNow = proto.persist;
const scheduled = new WeakSet<object>();
proto.persist = function persistOncePerTick(this: object) {
  if (scheduled.has(this)) return;
  scheduled.add(this);
  process.nextTick(() => { scheduled.delete(this); persistNow.call(this); });
};
process.stderr.write('bench experiment: AuditChain state written once per tick (group commit)\n');

/**
 * EXPERIMENT, not product code: kafkajs 2.2.4's RequestQueue re-arms a setTimeout with a negative delay (so 1 ms)
 * after every check even when nothing is pending or throttled: each connection of the audit sink's producer and
 * admin spins a 1 ms timer loop for its whole life (tulios/kafkajs#1556, #1604, #1704; fix proposed in PR #1667,
 * unmerged). This applies the fix suggested there (no timer when nothing is pending and not throttled) so its
 * effect on the proxy can be measured:
 *   BENCH_PRELOAD=bench/experiments/kafkajs-idle-loop.ts npm run bench
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: Record<string, unknown> };
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: {
  throttledUntil: number; throttleCheckTimeoutId: NodeJS.Timeout | null; pending: unknown[]; checkPendingRequests(): void;
}) {
  let scheduleAt = this.throttledUntil - Date.now();
  if (this.throttleCheckTimeoutId) return;
  if (this.pending.length > 0) scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL;
  else if (scheduleAt <= 0) return; // nothing pending, not throttled: nothing to check later
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, scheduleAt);
};
process.stderr.write('bench experiment: kafkajs RequestQueue idle timer loop removed\n');

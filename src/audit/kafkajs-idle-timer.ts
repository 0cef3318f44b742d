/**
 * Stops kafkajs 2.2.4 from spinning a 1 ms timer on every idle connection.
 *
 * kafkajs' RequestQueue.scheduleCheckPendingRequests arms a setTimeout after every check, even when no request
 * is pending and the connection is not throttled: the delay is then negative, which Node runs as 1 ms, and the
 * check re-arms it. Every connection of the audit sink's producer and admin client wakes the proxy about 1,000
 * times a second for its whole life (tulios/kafkajs#1556, #1704; the fix below is the one proposed in PR #1667,
 * never released). In the proxy that cost 15-25 ms of CPU per second while idle, and the same wake-ups run
 * between the data path's reads under load.
 *
 * The replacement arms the timer only when there is something to check later: a pending request (when the
 * throttle ends, or after the usual 10 ms) or a throttle still in effect. Requests held back because too many are
 * in flight are checked when a response arrives, as before (fulfillRequest calls checkPendingRequests).
 *
 * It patches kafkajs' own module, so it applies to every kafkajs client in the process, and only to the version
 * it was written against: on any other, kafkajs is left as it is.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** kafkajs' value, for pending requests with no throttle to wait for. */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;
export const PATCHED_KAFKAJS_VERSION = '2.2.4';

interface RequestQueueState {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
}

function scheduleCheckPendingRequests(this: RequestQueueState): void {
  if (this.throttleCheckTimeoutId) return;
  let delay = this.throttledUntil - Date.now();
  if (this.pending.length > 0) delay = delay > 0 ? delay : CHECK_PENDING_REQUESTS_INTERVAL;
  else if (delay <= 0) return; // nothing pending and not throttled: nothing to check later
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
}

/** 'applied', or why not (another kafkajs version). Applied once, when this module is first imported. */
export const kafkajsIdleTimerFix: string = (() => {
  const version = (require('kafkajs/package.json') as { version: string }).version;
  if (version !== PATCHED_KAFKAJS_VERSION) return `not applied: kafkajs ${version} is not ${PATCHED_KAFKAJS_VERSION}`;
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: Record<string, unknown> };
  if (typeof RequestQueue.prototype.scheduleCheckPendingRequests !== 'function') return 'not applied: RequestQueue has no scheduleCheckPendingRequests';
  RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  return 'applied';
})();

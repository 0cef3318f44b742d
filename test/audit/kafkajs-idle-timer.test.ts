/**
 * The kafkajs idle-timer fix (src/audit/kafkajs-idle-timer.ts) on kafkajs' own RequestQueue: an idle queue arms no
 * timer, and requests held back by throttling or by the in-flight limit are still sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { kafkajsIdleTimerFix } from '../../src/audit/kafkajs-idle-timer.js';

const require = createRequire(import.meta.url);

interface Queue {
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  inflight: Map<number, unknown>;
  push(r: { entry: Record<string, unknown>; expectResponse: boolean; sendRequest(): void }): void;
  fulfillRequest(r: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
}
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (opts: Record<string, unknown>) => Queue;

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const queue = (maxInFlightRequests: number | null) =>
  new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 't', broker: 'b:1', logger: quiet });

/** Pushes a request; resolves with the time it was handed to the socket. */
function push(q: Queue, correlationId: number): { sent: Promise<number>; resolved: Promise<unknown> } {
  let onSent!: (t: number) => void;
  let onResolved!: (v: unknown) => void;
  const sent = new Promise<number>((r) => { onSent = r; });
  const resolved = new Promise((r) => { onResolved = r; });
  const entry = { correlationId, apiKey: 0, apiName: 'Produce', apiVersion: 7, resolve: onResolved, reject: (e: Error) => { throw e; } };
  q.push({ entry, expectResponse: true, sendRequest: () => onSent(Date.now()) });
  return { sent, resolved };
}

test('applied to the kafkajs version in package-lock (a kafkajs upgrade must re-check the fix)', () => {
  assert.equal(kafkajsIdleTimerFix, 'applied');
});

test('an idle queue arms no timer after a request completes', async () => {
  const q = queue(1);
  for (let id = 1; id <= 3; id++) {
    const r = push(q, id);
    await r.sent;
    q.fulfillRequest({ correlationId: id, payload: Buffer.alloc(0), size: 0 });
    await r.resolved;
    // Unpatched kafkajs re-arms a 1 ms timer here, and again on every check, for as long as the connection lives.
    assert.equal(q.throttleCheckTimeoutId, null, `timer armed after request ${id} completed with nothing pending`);
  }
  q.destroy();
});

test('a request held back by broker throttling is sent when the throttle ends', async () => {
  const q = queue(null);
  const before = Date.now();
  q.maybeThrottle(120);
  const r = push(q, 1);
  assert.equal(q.pending.length, 1, 'not sent while throttled');
  assert.notEqual(q.throttleCheckTimeoutId, null, 'a check is scheduled for the end of the throttle');
  const sentAt = await r.sent;
  assert.ok(sentAt - before >= 110, `sent ${sentAt - before} ms after a 120 ms throttle began`);
  q.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
  await r.resolved;
  assert.equal(q.throttleCheckTimeoutId, null);
  q.destroy();
});

test('several requests pushed during a throttle are all sent when it ends', async () => {
  const q = queue(null);
  q.maybeThrottle(60);
  const first = push(q, 1);
  const second = push(q, 2);
  assert.equal(q.pending.length, 2);
  await Promise.all([first.sent, second.sent]);
  assert.equal(q.pending.length, 0);
  q.destroy();
});

test('a request held back by the in-flight limit is sent when a response arrives', async () => {
  const q = queue(1);
  const first = push(q, 1);
  const second = push(q, 2);
  await first.sent;
  assert.equal(q.pending.length, 1, 'second request waits: one in flight allowed');
  q.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
  await second.sent;
  q.fulfillRequest({ correlationId: 2, payload: Buffer.alloc(0), size: 0 });
  await second.resolved;
  assert.equal(q.pending.length, 0);
  assert.equal(q.inflight.size, 0);
  // The 10 ms check armed when the request was held back runs once and does not arm another.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(q.throttleCheckTimeoutId, null);
  q.destroy();
});

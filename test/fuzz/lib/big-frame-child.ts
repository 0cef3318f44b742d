/**
 * Child process for the big-audited-frame regression (regressions.test.ts): a proxy in front of a fake broker
 * that accepts and swallows everything, and one client that sends a single DeleteGroups v2 request of
 * `argv[2]` MiB whose GroupsNames array holds one empty name per byte (a valid request). Prints one JSON line
 * {survived, closeMs, maxLoopStallMs} and exits 0 if the proxy survives; dies (V8 out of memory) if it does not.
 */
import net from 'node:net';
import { startTestProxy } from '../../harness/proxy.js';
import { sizePrefixed, requestHeader } from '../../harness/raw.js';

const mib = Number(process.argv[2] ?? 4);
const broker = net.createServer((s) => { s.resume(); s.on('error', () => undefined); });
await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
const proxy = await startTestProxy(`127.0.0.1:${(broker.address() as net.AddressInfo).port}`);

const n = mib * 1024 * 1024;
const count: number[] = [];
for (let v = n + 1; ; ) { let b = v % 128; v = Math.floor(v / 128); if (v) b |= 0x80; count.push(b); if (!v) break; }
const body = Buffer.concat([Buffer.from(count), Buffer.alloc(n, 0x01), Buffer.from([0])]); // n x compact "" , no tags
const frame = sizePrefixed(requestHeader(42, 2, 1, { flexible: true, clientId: 'fuzz' }), body);

let last = performance.now();
let maxLoopStallMs = 0;
const ticker = setInterval(() => { const now = performance.now(); maxLoopStallMs = Math.max(maxLoopStallMs, now - last); last = now; }, 20);
const t0 = performance.now();
const client = net.connect(proxy.server.bootstrapPort, '127.0.0.1', () => client.write(frame));
client.on('error', () => undefined);
// Give the proxy time to receive and process the frame, then close and report.
await new Promise((r) => setTimeout(r, 1500));
await new Promise<void>((r) => { client.once('close', () => r()); client.end(); setTimeout(r, 60_000).unref(); });
clearInterval(ticker);
console.log(JSON.stringify({ survived: true, closeMs: Math.round(performance.now() - t0), maxLoopStallMs: Math.round(maxLoopStallMs) }));
await proxy.stop();
broker.close();
process.exit(0);

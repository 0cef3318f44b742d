/**
 * RSS per idle connection for one version of the code: the bench's idle scenario (bench/scenarios/connections.ts)
 * with 1,000 then 9,900 connections against one proxy process and its own broker. Run two at once to compare two
 * versions side by side (RSS is not disturbed much by a neighbour; an old tree as in bench/compare.ts):
 *
 *   npx tsx bench/idle-steps.ts bench/out/before/src/cli.ts & npx tsx bench/idle-steps.ts src/cli.ts; wait
 */
import { startBenchCluster } from './lib/cluster.js';
import { startProxyProcess } from './lib/procs.js';
import { say } from './lib/env.js';
import { idleConnections } from './scenarios/connections.js';
import { freePortBase } from '../test/harness/proxy.js';
import { freePort } from '../test/harness/ports.js';

const cli = process.argv[2] ?? 'src/cli.ts';
const KiB = 1024;
const bc = await startBenchCluster();
const port = await freePort();
const proxy = await startProxyProcess({
  name: `idle-steps-${process.pid}`, cli, upstream: bc.direct, bootstrapPort: port, brokerPortBase: await freePortBase(1),
  adminPort: await freePort(), spoolDir: `bench/out/spool/idle-steps-${process.pid}`,
});
try {
  const [a, b] = await idleConnections('proxy', proxy, port, [1000, 9900]);
  const once = (r: typeof a) => (r.rssAtOnce - r.baselineRss) / r.connections / KiB;
  say(`${cli}: KiB per connection after ${b.settleSeconds} s idle (2 s after opening): 1,000 ${(a.bytesPerConnection / KiB).toFixed(1)} ` +
    `(${once(a).toFixed(1)}), 9,900 ${(b.bytesPerConnection / KiB).toFixed(1)} (${once(b).toFixed(1)}); ` +
    `added between the two ${((b.rss - a.rss) / (b.connections - a.connections) / KiB).toFixed(1)}; RSS before ${(a.baselineRss / 2 ** 20).toFixed(1)} MiB`);
} finally {
  await proxy.stop();
  await bc.stop();
}

/**
 * Does the proxy give back the memory a burst of connections made V8 take, while it stays idle? Opens 1,000
 * connections (ApiVersions each) to one proxy process, then reads its RSS 2, 22 and 52 s later, after 20 /metrics
 * scrapes, and 10 s after those. Run it against two versions of the code to compare them:
 *
 *   npx tsx bench/idle-young-gen.ts [path/to/cli.ts]     (default src/cli.ts; an old tree as in bench/compare.ts)
 *
 * or with the proxy's idle memory return off (KAP_LIMITS_IDLE_MEMORY_RETURN_MS=0 in the environment) or with Node
 * flags for the proxy (NODE_FLAGS='--max-semi-space-size=4'); runs side by side each start their own broker.
 */
import { startBenchCluster } from './lib/cluster.js';
import { startProxyProcess, procMemory } from './lib/procs.js';
import { RawConnection } from './lib/raw.js';
import { say } from './lib/env.js';
import { freePortBase } from '../test/harness/proxy.js';
import { freePort } from '../test/harness/ports.js';

const cli = process.argv[2] ?? 'src/cli.ts';
/** Node flags for the proxy process, e.g. NODE_FLAGS='--max-semi-space-size=4'. */
const nodeFlags = (process.env.NODE_FLAGS ?? '').split(' ').filter(Boolean);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bc = await startBenchCluster();
const adminPort = await freePort();
const port = await freePort();
const proxy = await startProxyProcess({
  name: 'idle-young-gen', cli, upstream: bc.direct, bootstrapPort: port, brokerPortBase: await freePortBase(1), adminPort, spoolDir: `bench/out/spool/idle-young-gen-${process.pid}`, nodeFlags,
});
const conns: RawConnection[] = [];
const open = async () => {
  const c = await RawConnection.connect(port);
  conns.push(c);
  await c.request(18, 3, { ClientSoftwareName: 'bench', ClientSoftwareVersion: '1' });
};
const rss = (when: string) => say(`${when}: RSS ${(procMemory(proxy.pid).rss / 2 ** 20).toFixed(1)} MiB`);
try {
  for (let i = 0; i < 10; i++) await open();
  await sleep(20_000);
  rss('10 connections, 20 s idle');
  for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 100 }, open));
  await sleep(2_000);
  rss('1,010 connections, 2 s later');
  await sleep(20_000);
  rss('22 s later');
  await sleep(30_000);
  rss('52 s later');
  for (let i = 0; i < 20; i++) { await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(); await sleep(500); }
  rss('after 20 /metrics scrapes');
  await sleep(10_000);
  rss('10 s after those');
} finally {
  for (const c of conns) c.close();
  await proxy.stop();
  await bc.stop();
}

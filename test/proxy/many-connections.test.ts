/**
 * 10,000 client connections open at once through the proxy, each with a real ApiVersions round trip to a broker.
 *
 * File descriptors decide the design: each proxied connection costs the proxy 2 (client + upstream socket) and
 * RLIMIT_NOFILE is 20,000 per process here (hard limit), so one proxy process cannot hold 10,000 connections
 * (20,000 sockets + its own files). The proxy runs as the real CLI with `--workers 2` (node:cluster, the primary
 * hands accepted connections to the workers in turn), with `limits.maxConnections: 5000` — per worker, so the
 * configured maximum is 10,000 — and each worker holds ~5,000 connections (~10,000 fds). The clients live in this
 * process (10,000 fds) and come from 10 loopback addresses (127.0.0.2-11, 1,000 each: under the default
 * limits.maxConnectionsPerAddress of 2,000). They connect to the proxy's three broker ports, so each broker of the
 * shared cluster (20,000 fds each too) gets ~3,333 upstream connections.
 *
 * The round-robin hand-off is not exactly even: when one worker is full first, the next connection it is handed
 * is refused (that is the configured limit at work) and the client tries again, until both workers hold 5,000.
 *
 * Asserted: 10,000 connections open at once, counted by the clients, by the proxy's own gauge
 * (kafka_proxy_connections_active summed over the workers by the primary's /metrics) and by the kernel (10,000
 * established sockets on the proxy's ports, 10,000 from the proxy to the brokers); one more connection is refused
 * cleanly (closed without a byte, counted under reason="max_connections") while the others keep working; then
 * every connection closes: the gauge and the kernel are back to zero and the workers' fds back to where they were,
 * and SIGTERM stops the proxy with exit code 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { RawConnection, requestFrame } from '../harness/raw.js';
import { proxyPorts, type ProxyPorts } from '../admin/ports.js';
import { parsePrometheusText } from '../admin/prom.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONNECTIONS = 10_000;
const WORKERS = 2;
const PER_WORKER_MAX = CONNECTIONS / WORKERS;
const CLIENT_ADDRESSES = Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 2}`);
/** Connections being opened at once. */
const CONCURRENCY = 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Established TCP sockets as [localPort, remotePort] (everything here is on 127.0.0.0/8). The JVM's sockets are
 * IPv6 sockets (IPv4-mapped addresses), listed in /proc/net/tcp6; Node's are in /proc/net/tcp.
 */
function established(): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const lines = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1));
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '01') continue;
    out.push([parseInt(f[1].split(':')[1], 16), parseInt(f[2].split(':')[1], 16)]);
  }
  return out;
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { return []; }
}

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

describe(`${CONNECTIONS.toLocaleString('en-US')} concurrent connections through a proxy with ${WORKERS} workers`, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let ports: ProxyPorts;
  let proxy: ChildProcess | undefined;
  let stderr = '';
  let spoolDir: string;
  const conns: RawConnection[] = [];

  const scrape = async () => parsePrometheusText(await (await fetch(`http://127.0.0.1:${ports.adminPort}/metrics`)).text());

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    ports = await proxyPorts();
    spoolDir = mkdtempSync(join(tmpdir(), 'kap-10k-'));
    const sets = {
      'listen.host': '127.0.0.1', 'listen.advertisedHost': '127.0.0.1',
      'listen.bootstrapPort': ports.bootstrapPort, 'listen.brokerPortBase': ports.brokerPortBase,
      'upstream.bootstrapServers': cluster.plainBootstrap,
      'admin.host': '127.0.0.1', 'admin.port': ports.adminPort,
      'limits.maxConnections': PER_WORKER_MAX,
      'audit.enabled': false, 'audit.spool.dir': spoolDir, 'log.level': 'warn',
    };
    // The CLI rejects KAP_* variables it does not know (npm test sets KAP_TEST_CLUSTER_3).
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KAP_')));
    proxy = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--workers', String(WORKERS),
      ...Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`])], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    proxy.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    await waitFor('the proxy to be ready', async () => {
      if (proxy!.exitCode !== null) throw new Error(`the proxy exited with ${proxy!.exitCode}: ${stderr}`);
      try { return (await fetch(`http://127.0.0.1:${ports.adminPort}/readyz`)).status === 200; } catch { return false; }
    }, 60_000);
  });

  after(async () => {
    for (const c of conns) c.destroy();
    if (proxy && proxy.exitCode === null) {
      proxy.kill('SIGKILL');
      await new Promise((r) => proxy!.once('exit', r));
    }
    rmSync(spoolDir, { recursive: true, force: true });
    await release?.();
  });

  test('every connection completes ApiVersions and stays open; one more is refused cleanly; all close cleanly', async () => {
    const t0 = Date.now();
    const workerPids = childPids(proxy!.pid!);
    assert.equal(workerPids.length, WORKERS, 'the primary runs the workers');
    const fdsIdle = workerPids.map(fdCount);

    // Each worker learns the brokers (a Metadata round trip through the bootstrap port, which the primary hands to
    // the workers in turn) and binds the broker listeners before answering.
    const brokerPorts = cluster.brokers.map((b) => ports.brokerPortBase + b.nodeId);
    for (let i = 0; i < 2 * WORKERS; i++) {
      const c = await RawConnection.open(ports.bootstrapPort);
      c.write(requestFrame(3, 1, 1, Buffer.from([0, 0, 0, 0]))); // Metadata v1, no topics
      await c.nextFrame();
      c.destroy();
    }
    await sleep(1000); // workers also share what they learn through the primary every 250 ms

    // Open the connections, CONCURRENCY at a time; each one counts once its ApiVersions response has arrived.
    let next = 0;
    let refusals = 0;
    const failures: string[] = [];
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < CONNECTIONS) {
        const i = next++;
        for (let attempt = 1; ; attempt++) {
          let c: RawConnection | undefined;
          try {
            c = await RawConnection.open(brokerPorts[i % brokerPorts.length], { localAddress: CLIENT_ADDRESSES[i % CLIENT_ADDRESSES.length] });
            const error = await c.apiVersions(i + 1, 30_000);
            assert.equal(error, 0, 'ApiVersions error code');
            conns.push(c);
            break;
          } catch (e) {
            c?.destroy();
            const closedByProxy = c !== undefined && c.closed && c.received === 0;
            if (closedByProxy) refusals++;
            else failures.push(`connection ${i}, attempt ${attempt}: ${(e as Error).message}`);
            if (attempt >= 20 || failures.length > 20) throw new Error(`connection ${i} failed ${attempt} times; failures: ${failures.join('; ')}`);
            await sleep(20);
          }
        }
      }
    }));
    const openMs = Date.now() - t0;
    assert.deepEqual(failures, [], 'no connection failed other than by the proxy\'s connection limit');
    assert.equal(conns.length, CONNECTIONS);
    assert.equal(conns.filter((c) => !c.closed).length, CONNECTIONS, 'the clients hold every connection open');

    // The proxy's view: its gauge summed over both workers, and its rejections so far (the uneven hand-off).
    const m = await scrape();
    assert.equal(m.sum('kafka_proxy_connections_active'), CONNECTIONS, 'kafka_proxy_connections_active, summed over the workers');
    const rejectedBefore = m.sum('kafka_proxy_connections_rejected_total', { reason: 'max_connections' });
    assert.equal(rejectedBefore, refusals, 'every refusal the clients saw was the connection limit');
    // The kernel's view: client sockets accepted on the proxy's ports, and the proxy's sockets to the brokers.
    const tcp = established();
    const accepted = tcp.filter(([local]) => brokerPorts.includes(local)).length;
    const plainPorts = new Set(cluster.brokers.map((b) => b.plainPort));
    const upstream = tcp.filter(([, remote]) => plainPorts.has(remote)).length;
    const perBroker = cluster.brokers.map((b) => tcp.filter(([local]) => local === b.plainPort).length);
    assert.ok(perBroker.every((n) => n >= Math.floor(CONNECTIONS / cluster.brokers.length)), `connections accepted by each broker: ${perBroker.join(', ')}`);
    assert.equal(accepted, CONNECTIONS, 'established sockets on the proxy\'s broker ports');
    assert.ok(upstream >= CONNECTIONS, `${upstream} established sockets to the brokers' client ports (the proxy's upstream connections)`);
    const fdsFull = workerPids.map(fdCount);
    for (const [w, n] of fdsFull.entries()) assert.ok(n > PER_WORKER_MAX * 2 && n < 20_000, `worker ${w + 1} holds ${n} fds`);

    // One more connection: refused at once, without a byte; the limit is counted; the others are unaffected.
    const extra = await RawConnection.open(brokerPorts[0], { localAddress: CLIENT_ADDRESSES[0] });
    extra.write(requestFrame(18, 0, 1));
    const refusedAfterMs = await extra.waitClosed(5000);
    assert.equal(extra.received, 0, 'the refused connection gets no answer');
    const m2 = await scrape();
    assert.equal(m2.sum('kafka_proxy_connections_rejected_total', { reason: 'max_connections' }), rejectedBefore + 1);
    assert.equal(m2.sum('kafka_proxy_connections_active'), CONNECTIONS);
    assert.equal(m2.sum('kafka_proxy_connection_errors_total'), 0, 'no connection closed by an error');
    // Every 10th connection answers a second ApiVersions (1,000 round trips on connections opened first to last).
    for (let i = 0; i < CONNECTIONS; i += 10) assert.equal(await conns[i].apiVersions(CONNECTIONS + i + 1, 10_000), 0);

    // Everything closes: the proxy closes each upstream connection as its client goes.
    const t1 = Date.now();
    for (const c of conns.splice(0)) c.destroy();
    await waitFor('the active-connection gauge to drop to 0', async () => (await scrape()).sum('kafka_proxy_connections_active') === 0, 30_000);
    await waitFor('no established socket left on the proxy\'s ports or to the brokers', () => {
      const left = established();
      return left.every(([local, remote]) => !brokerPorts.includes(local) && !plainPorts.has(remote));
    }, 30_000);
    const closeMs = Date.now() - t1;
    const fdsAfter = await waitFor('the workers\' fds back to idle', () => {
      const now = workerPids.map(fdCount);
      return now.every((n, w) => n <= fdsIdle[w] + 10) && now;
    }, 10_000);

    proxy!.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => proxy!.once('exit', (c) => r(c)));
    assert.equal(code, 0, `the proxy exits 0 on SIGTERM: ${stderr}`);

    process.stderr.write(`  ${CONNECTIONS} connections open in ${openMs} ms (${refusals} refused at a worker's limit and retried), ` +
      `extra connection refused in ${refusedAfterMs} ms; proxy-side established ${accepted}, to brokers ${upstream} (${perBroker.join('/')} per broker); ` +
      `worker fds idle ${fdsIdle.join('/')}, full ${fdsFull.join('/')}, after ${fdsAfter.join('/')}; all closed in ${closeMs} ms; test ${Date.now() - t0} ms\n`);
  });
});

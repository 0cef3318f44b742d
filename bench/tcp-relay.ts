/**
 * A byte-only TCP relay: the lower bound of what any proxy on the data path costs. No framing, no decoding,
 * no rewriting: `socket.pipe(upstream)` both ways, with backpressure, one upstream connection per client.
 *
 * A pure relay cannot rewrite the broker addresses in Metadata responses, so the benchmark runs it in front of
 * a broker listener whose *advertised* address is the relay's own port (see bench/lib/cluster.ts): clients
 * that bootstrap through the relay are told to connect to the relay again.
 *
 * Run as its own process (as the proxy is):  tsx bench/tcp-relay.ts LISTEN_PORT=HOST:PORT [LISTEN_PORT=HOST:PORT ...]
 * Prints "relay ready" on stdout once every listener is bound.
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export interface RelayRoute { listenPort: number; host: string; port: number }

export async function startRelay(routes: RelayRoute[], listenHost = '127.0.0.1'): Promise<{ close(): Promise<void> }> {
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  for (const r of routes) {
    const server = net.createServer((client) => {
      const upstream = net.connect({ host: r.host, port: r.port });
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      sockets.add(client);
      sockets.add(upstream);
      const done = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
      client.on('error', done);
      upstream.on('error', done);
      client.on('close', done);
      upstream.on('close', done);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: listenHost, port: r.listenPort, backlog: 4096 }, () => resolve());
    });
    servers.push(server);
  }
  return {
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const routes = process.argv.slice(2).map((arg) => {
    const m = /^(\d+)=(.+):(\d+)$/.exec(arg);
    if (!m) throw new Error(`expected LISTEN_PORT=HOST:PORT, got "${arg}"`);
    return { listenPort: Number(m[1]), host: m[2], port: Number(m[3]) };
  });
  const relay = await startRelay(routes);
  process.stdout.write('relay ready\n');
  const stop = () => { void relay.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

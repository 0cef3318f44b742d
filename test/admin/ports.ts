/**
 * Ports for proxies the admin and CLI tests start, taken below the kernel's ephemeral range.
 *
 * Why not freePort()/freePortBase(): a port found free in 32768-60999 can become, a moment later, the *source*
 * port of some outgoing connection (a test run opens hundreds: Kafka clients, brokers, JVM tools). The proxy
 * then fails to bind it (EADDRINUSE), and a client told to connect there gets ECONNREFUSED. That was seen under
 * load. Ports below the ephemeral range are only ever taken by an explicit bind.
 */
import net from 'node:net';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export interface ProxyPorts {
  /** Broker node id N listens on brokerPortBase + N (node ids 0..9 covered). */
  brokerPortBase: number;
  bootstrapPort: number;
  adminPort: number;
  /** A port nothing listens on (for an unreachable upstream). */
  deadPort: number;
}

/** A block of 14 free ports in 10000-19999: base+0..9 brokers, +10 bootstrap, +11 admin, +12 dead. */
export async function proxyPorts(): Promise<ProxyPorts> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * 9_980);
    let ok = true;
    for (let i = 0; i <= 13 && ok; i++) ok = await portFree(base + i);
    if (ok) return { brokerPortBase: base, bootstrapPort: base + 10, adminPort: base + 11, deadPort: base + 12 };
  }
  throw new Error('no free block of ports found in 10000-19999');
}

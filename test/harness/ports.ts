import { createServer, type AddressInfo } from 'node:net';

/**
 * Ask the kernel for a currently unused TCP port on 127.0.0.1.
 *
 * The port is released before this resolves, so another process may take it before the caller binds it.
 * Callers that start external servers (Kafka brokers) should detect "Address already in use" and retry
 * with fresh ports; `startKafkaCluster` does.
 */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const { port } = srv.address() as AddressInfo;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** `count` distinct free ports (distinct among themselves; see the race note on {@link freePort}). */
export async function freePorts(count: number): Promise<number[]> {
  const seen = new Set<number>();
  while (seen.size < count) seen.add(await freePort());
  return [...seen];
}

/**
 * The brokers' own record of who connected to them, for the Kafka 4.1 tests (the method of
 * test/proxy/no-direct-connections.test.ts): every broker logs each connection it accepts
 * (kafka.network.DataPlaneAcceptor at DEBUG, scripts/kafka/log4j2.properties), with the remote address:
 *   "Accepted connection from /127.0.0.2:40936 on /127.0.0.1:35449 and assigned it to processor 0, ..."
 * A proxy started with upstream.localAddress = PROXY_EGRESS dials brokers from 127.0.0.2, and every client runs on
 * 127.0.0.1, so a connection accepted on a client listener from anything but 127.0.0.2 is a client that left the proxy.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { KafkaCluster } from '../harness/kafka-cluster.js';

export const PROXY_EGRESS = '127.0.0.2';
const ACCEPTED = /Accepted connection from \/([\d.]+):(\d+) on \/([\d.]+):(\d+)/;

export interface Accepted { node: number; from: string; onPort: number; line: string }

export class BrokerWitness {
  private readonly clientPorts: Set<number>;
  constructor(private readonly cluster: KafkaCluster) {
    this.clientPorts = new Set(cluster.brokers.flatMap((b) => [b.plainPort, b.saslPort, ...(b.sslPort ? [b.sslPort] : [])]));
  }

  /** Current size of every broker log: the start of a window. */
  mark(): Map<number, number> {
    return new Map(this.cluster.brokers.map((b) => [b.nodeId, statSync(this.cluster.logOf(b.nodeId)).size]));
  }

  /** Connections accepted on the brokers' client listeners since `from`. */
  acceptedSince(from: Map<number, number>): Accepted[] {
    const out: Accepted[] = [];
    for (const b of this.cluster.brokers) {
      const file = this.cluster.logOf(b.nodeId);
      const start = from.get(b.nodeId) ?? 0;
      const buf = Buffer.alloc(statSync(file).size - start);
      const fd = openSync(file, 'r');
      try { readSync(fd, buf, 0, buf.length, start); } finally { closeSync(fd); }
      for (const line of buf.toString('utf8').split('\n')) {
        const m = ACCEPTED.exec(line);
        if (m && this.clientPorts.has(Number(m[4]))) out.push({ node: b.nodeId, from: m[1], onPort: Number(m[4]), line });
      }
    }
    return out;
  }

  /** Runs `fn`; then asserts that the brokers accepted client connections meanwhile, and every one from the proxy. */
  async window<T>(what: string, fn: () => Promise<T>): Promise<{ result: T; accepted: Accepted[] }> {
    const from = this.mark();
    const result = await fn();
    // The broker logs an accept before it reads a byte, so the lines exist by now; give the appender a moment anyway.
    await new Promise((r) => setTimeout(r, 500));
    const accepted = this.acceptedSince(from);
    assert.ok(accepted.length >= 1, `${what}: no connection reached a broker client listener in the window, so this check would prove nothing`);
    assert.deepEqual(accepted.filter((a) => a.from !== PROXY_EGRESS).map((a) => a.line), [],
      `${what}: connections to broker client listeners not made by the proxy`);
    return { result, accepted };
  }
}

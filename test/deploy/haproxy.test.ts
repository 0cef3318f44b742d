/**
 * Behind a real load balancer: Debian's HAProxy in TCP mode in front of the proxy, a real 3-broker cluster behind
 * it. HAProxy listens on 127.0.0.2 (the address the proxy advertises) and dials the proxy from 127.0.0.3, so
 * without the PROXY protocol every event would say 127.0.0.3; the clients connect from 127.0.0.1. With
 * `send-proxy-v2` and then `send-proxy` (v1), every audit event on the topic names the address and port of one of
 * the client's own sockets, and the proxy's connection logs name no HAProxy address. A client that skips the
 * balancer is refused (listen.proxyProtocol: required) and counted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { startAuditedApp, type AuditedApp } from '../harness/audited-app.js';
import { freePortBase } from '../harness/proxy.js';
import { HAPROXY_DEFAULTS, startHaproxy, stopProcess } from './lb.js';

const LB_LISTEN = '127.0.0.2';
const LB_SOURCE = '127.0.0.3';
/** HAProxy configuration: one TCP frontend per proxy port, each to the same port on 127.0.0.1. */
function haproxyConfig(ports: number[], send: 'send-proxy' | 'send-proxy-v2'): string {
  const lines = [...HAPROXY_DEFAULTS];
  for (const p of ports) {
    lines.push(`frontend fe_${p}`, `  bind ${LB_LISTEN}:${p}`, `  default_backend be_${p}`);
    lines.push(`backend be_${p}`, `  source ${LB_SOURCE}`, `  server proxy 127.0.0.1:${p} ${send}`);
  }
  return lines.join('\n') + '\n';
}

/** kafkajs whose sockets' local addresses are recorded: the addresses events must name. */
function recordingKafka(bootstrap: string, mine: Set<string>): Kafka {
  return new Kafka({
    clientId: 'haproxy-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 },
    socketFactory: ({ host, port, onConnect }) => {
      const s = net.connect({ host, port }, () => { mine.add(`${s.localAddress}:${s.localPort}`); onConnect(); });
      return s;
    },
  });
}

describe('behind HAProxy (PROXY protocol v2 and v1)', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: AuditedApp;
  let dir: string;
  let haproxy: ChildProcess | undefined;
  let ports: number[];
  let bootstrapPort: number;

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    dir = mkdtempSync(join(tmpdir(), 'kap-haproxy-'));
    const maxId = Math.max(...cluster.brokers.map((b) => b.nodeId));
    const base = await freePortBase(maxId + 2);
    bootstrapPort = base + maxId + 1;
    ports = [bootstrapPort, ...cluster.brokers.map((b) => base + b.nodeId)];
    proxy = await startAuditedApp(cluster, {
      sasl: false,
      overrides: {
        listen: {
          host: '127.0.0.1', bootstrapPort, brokerPortBase: base, advertisedHost: LB_LISTEN, securityProtocol: 'PLAINTEXT',
          proxyProtocol: 'required', proxyProtocolTimeoutMs: 2_000,
        },
      },
    });
  });
  after(async () => {
    await stopProcess(haproxy);
    await proxy?.stop();
    await release?.();
    rmSync(dir, { recursive: true, force: true });
  });

  test('events and logs carry the client\'s address, not HAProxy\'s; a client skipping the balancer is refused', async () => {
    const mine = new Set<string>();
    const topics: Record<string, string> = {};
    for (const send of ['send-proxy-v2', 'send-proxy'] as const) {
      haproxy = await startHaproxy(dir, `haproxy-${send}`, haproxyConfig(ports, send), ports.map((port) => ({ host: LB_LISTEN, port })));
      const admin = recordingKafka(`${LB_LISTEN}:${bootstrapPort}`, mine).admin();
      await admin.connect();
      const topic = `lb-${send}-${Date.now()}`;
      topics[send] = topic;
      assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }], waitForLeaders: false }), true);
      await admin.deleteTopics({ topics: [topic] });
      await admin.disconnect();
      await stopProcess(haproxy);
    }

    // Straight to the proxy, skipping HAProxy: refused before anything is forwarded.
    const direct = new Kafka({ clientId: 'direct', brokers: [`127.0.0.1:${bootstrapPort}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 3_000 }).admin();
    await assert.rejects(direct.connect().then(() => direct.listTopics()));
    await direct.disconnect().catch(() => {});
    const logs = proxy.logLines.map((l) => JSON.parse(l) as { msg: string; client?: string; via?: string; reason?: string });
    assert.ok(logs.some((l) => l.msg === 'connection refused: PROXY protocol header' && /no PROXY protocol header/.test(l.reason ?? '')),
      'the direct connection was not refused for its missing header');

    const report = await proxy.stopAndRead();
    assert.equal(report.ok, true, JSON.stringify(report.chain.problems));
    for (const [send, topic] of Object.entries(topics)) {
      for (const method of ['kafka.CreateTopics', 'kafka.DeleteTopics']) {
        const events = report.eventsRead.filter((e) => e.data.methodName === method && (e.data as { authorizationInfo?: { resourceName?: string } }).authorizationInfo?.resourceName === topic);
        assert.equal(events.length, 1, `${method} ${topic} (${send}): ${events.length} events`);
        const addr = events[0].data.requestMetadata?.client_address ?? '';
        assert.ok(mine.has(addr), `${method} through ${send}: client_address ${addr} is not one of the client's sockets (${[...mine].join(', ')})`);
        assert.ok(!addr.startsWith(LB_SOURCE), `${method}: HAProxy's address in the event`);
      }
    }
    // The proxy's own connection logs name clients, never the balancer's address (that is only in "via").
    const clients = logs.filter((l) => l.client !== undefined).map((l) => l.client!);
    assert.ok(clients.length > 0);
    assert.deepEqual(clients.filter((c) => c.startsWith(LB_SOURCE)), []);
    const viaLb = logs.filter((l) => l.msg === 'PROXY protocol header read');
    // (A socket the balancer resets at once, as kafkajs gives up a connection under load, may have no peer address
    // left to log as "via": such lines still must not name the balancer as the client.)
    const viaKnown = (l: { via?: string }) => l.via !== undefined && !l.via.startsWith('unknown');
    const odd = viaLb.filter((l) => !(l.client?.startsWith('127.0.0.1:') && (!viaKnown(l) || l.via!.startsWith(LB_SOURCE))));
    assert.deepEqual(odd.map((l) => `client ${l.client} via ${l.via}`), [], 'a header log line names HAProxy as the client');
    const headerClients = new Set(viaLb.map((l) => l.client));
    assert.deepEqual([...mine].filter((c) => !headerClients.has(c)), [], 'client sockets with no PROXY header read for them');
  });
});

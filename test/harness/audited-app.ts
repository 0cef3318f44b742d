/**
 * The whole proxy (src/app.ts: rules, write-ahead journal, chain, Kafka sink, spool) started in the test process in
 * front of a real cluster, writing its events to a fresh audit topic on that cluster; and a way to read every event
 * back from the topic, for tests that compare what the brokers executed with what the audit log says.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startApp, type App } from '../../src/app.js';
import { verifyTopic, type VerifyReport } from '../../src/audit/verify.js';
import type { AuditEvent } from '../../src/audit/event.js';
import type { KafkaCluster } from './kafka-cluster.js';
import { freePortBase } from './proxy.js';

export interface AuditedApp {
  app: App;
  /** host:port clients bootstrap from. */
  bootstrap: string;
  port: number;
  auditTopic: string;
  spoolDir: string;
  logLines: string[];
  /** Stops the proxy (flushing its events) and reads the whole audit topic. */
  stopAndRead(): Promise<VerifyReport>;
  stop(): Promise<void>;
}

export interface AuditedAppOptions {
  /** Clients log in with SASL (the proxy listens SASL_PLAINTEXT in front of the SASL listeners). Default true. */
  sasl?: boolean;
  /** Overrides of the `audit` section (`spool` is merged key by key). */
  audit?: Record<string, unknown>;
  /** Overrides of other sections. */
  overrides?: Record<string, unknown>;
}

export async function startAuditedApp(cluster: KafkaCluster, opts: AuditedAppOptions = {}): Promise<AuditedApp> {
  const sasl = opts.sasl ?? true;
  const work = mkdtempSync(join(tmpdir(), 'kap-audited-'));
  const spoolDir = join(work, 'audit');
  const auditTopic = `audit-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const base = await freePortBase(3);
  const logLines: string[] = [];
  const { spool, ...audit } = (opts.audit ?? {}) as { spool?: Record<string, unknown> } & Record<string, unknown>;
  const app = await startApp({
    env: {},
    log: pino({ level: 'debug' }, { write: (s: string) => { logLines.push(s); } }),
    overrides: {
      listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase: base, advertisedHost: '127.0.0.1', securityProtocol: sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT' },
      upstream: { bootstrapServers: (sasl ? cluster.saslBootstrap : cluster.plainBootstrap).split(',') },
      admin: { enabled: false, host: '127.0.0.1', port: 0 },
      ...opts.overrides,
      audit: {
        brokers: cluster.plainBootstrap.split(','), clusterId: cluster.clusterId, topic: auditTopic, partitions: 1, replicationFactor: 3,
        spool: { dir: spoolDir, fsync: 'always', maxBytes: 64 * 1024 * 1024, ...spool }, batch: { maxEvents: 200, lingerMs: 5 },
        ...audit,
      },
    },
  });
  const bootstrap = app.proxy.bootstrapAddress;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.stop();
    rmSync(work, { recursive: true, force: true });
  };
  return {
    app, bootstrap, port: Number(bootstrap.split(':').pop()), auditTopic, spoolDir, logLines, stop,
    async stopAndRead() {
      await stop();
      return verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic: auditTopic, timeoutMs: 30_000 });
    },
  };
}

/** Events of one API naming one resource (by its short name, e.g. the topic). */
export function eventsFor(events: AuditEvent[], method: string, resourceName: string): AuditEvent[] {
  return events.filter((e) => e.data.methodName === `kafka.${method}` && (e.data as any).authorizationInfo?.resourceName === resourceName);
}

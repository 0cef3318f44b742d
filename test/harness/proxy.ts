/** Starts a proxy in the test process in front of a real cluster, on free ports. */
import net from 'node:net';
import { pino } from 'pino';
import { DEFAULTS, validate, type ProxyConfig } from '../../src/config.js';
import { ProxyServer, type AuditRecorder } from '../../src/proxy/server.js';
import { ProxyMetrics } from '../../src/metrics.js';
import type { AuditOperation } from '../../src/audit/operation.js';

/** Finds a base port such that base+1..base+count are all free (broker N listens on base+N). */
export async function freePortBase(count = 3): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below the kernel's ephemeral range (32768+), so outgoing connections never take these ports meanwhile.
    const base = 10_000 + Math.floor(Math.random() * 22_000);
    let ok = true;
    for (let i = 1; i <= count && ok; i++) ok = await portFree(base + i);
    if (ok) return base;
  }
  throw new Error('no free port range found for broker listeners');
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port }, () => s.close(() => resolve(true)));
  });
}

/** An audit recorder that keeps operations in memory, for tests of the proxy itself. */
export class MemoryAuditor implements AuditRecorder {
  readonly ops: AuditOperation[] = [];
  record(op: AuditOperation): void { this.ops.push(op); }
}

export interface TestProxy {
  server: ProxyServer;
  bootstrap: string;
  brokerPortBase: number;
  metrics: ProxyMetrics;
  auditor: MemoryAuditor;
  logLines: string[];
  stop(): Promise<void>;
}

export async function startTestProxy(upstreamBootstrap: string, patch: (c: ProxyConfig) => void = () => {}): Promise<TestProxy> {
  const brokerPortBase = await freePortBase(3);
  const config = structuredClone(DEFAULTS);
  config.listen = { ...config.listen, host: '127.0.0.1', bootstrapPort: 0, brokerPortBase, advertisedHost: '127.0.0.1' };
  config.upstream.bootstrapServers = upstreamBootstrap.split(',');
  config.shutdown.drainTimeoutMs = 5_000;
  patch(config);
  validate(config);
  const logLines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => { logLines.push(s); } });
  const metrics = new ProxyMetrics({ collectDefault: false });
  const auditor = new MemoryAuditor();
  const server = new ProxyServer(config, { log, metrics, auditor });
  await server.start();
  return {
    server, bootstrap: server.bootstrapAddress, brokerPortBase, metrics, auditor, logLines,
    stop: () => server.stop(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics and logs of a test proxy

/** Sum of a proxy metric's values whose labels include `labels` (0 when none). */
export async function metricValue(metrics: ProxyMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = metrics.registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

export interface ProxyLogLine { level: number; msg: string; conn?: string; client?: string; reason?: string; kind?: string; [k: string]: unknown }

/** The proxy's pino lines, parsed. */
export function parsedLogs(proxy: TestProxy): ProxyLogLine[] {
  return proxy.logLines.map((l) => JSON.parse(l) as ProxyLogLine);
}

// Raw Kafka protocol over a socket: test/harness/raw.ts (re-exported here for tests that import it from this module).
export { RawConnection, requestFrame, sizePrefixed } from './raw.js';

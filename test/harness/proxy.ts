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

// ---------------------------------------------------------------------------------------------------------------
// Raw Kafka protocol over a socket, for tests that must send exactly the bytes they choose

/** A request frame, size prefix included: header v1 (v2 with `flexible`: adds an empty tagged-field section), then `body`. */
export function requestFrame(apiKey: number, apiVersion: number, correlationId: number, body: Buffer = Buffer.alloc(0),
  opts: { flexible?: boolean; clientId?: string } = {}): Buffer {
  const clientId = Buffer.from(opts.clientId ?? 'raw-test');
  const head = Buffer.alloc(10 + clientId.length + (opts.flexible ? 1 : 0));
  head.writeInt16BE(apiKey, 0);
  head.writeInt16BE(apiVersion, 2);
  head.writeInt32BE(correlationId, 4);
  head.writeInt16BE(clientId.length, 8);
  clientId.copy(head, 10);
  return sizePrefixed(head, body);
}

export function sizePrefixed(...parts: Buffer[]): Buffer {
  const payload = Buffer.concat(parts);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, payload]);
}

/** A client socket that collects size-prefixed response frames and notes when (and whether) the peer closed it. */
export class RawConnection {
  readonly frames: Buffer[] = [];
  received = 0;
  closedAt: number | undefined;
  readonly openedAt = Date.now();
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 4 && this.buffer.length >= 4 + this.buffer.readInt32BE(0)) {
        const n = this.buffer.readInt32BE(0);
        this.frames.push(this.buffer.subarray(4, 4 + n));
        this.buffer = this.buffer.subarray(4 + n);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => { this.closedAt = Date.now(); this.wake(); });
  }

  static open(port: number, opts: { host?: string; localAddress?: string } = {}): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: opts.host ?? '127.0.0.1', port, localAddress: opts.localAddress });
      socket.setNoDelay(true);
      const conn = new RawConnection(socket);
      socket.once('connect', () => { conn.localAddress = `${socket.localAddress}:${socket.localPort}`; resolve(conn); });
      socket.once('error', reject);
    });
  }

  /** "ip:port" of this end, as the proxy logs it in `client` (kept: a closed socket forgets it). */
  localAddress = '';
  get closed(): boolean { return this.closedAt !== undefined; }

  write(bytes: Buffer): void { this.socket.write(bytes); }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  private async until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  /** The next response frame (size prefix excluded); throws if the peer closes first. */
  async nextFrame(timeoutMs = 10_000): Promise<Buffer> {
    const index = this.frames.length;
    await this.until(() => this.frames.length > index || this.closed, timeoutMs, 'a response frame');
    if (this.frames.length > index) return this.frames[index];
    throw new Error('connection closed before a response frame arrived');
  }

  /** Waits for the peer to close; resolves with ms since the connection was opened. */
  async waitClosed(timeoutMs = 10_000): Promise<number> {
    await this.until(() => this.closed, timeoutMs, 'the connection to close');
    return this.closedAt! - this.openedAt;
  }

  /** An ApiVersions v0 round trip: proves the connection is alive and relayed. Returns the error code. */
  async apiVersions(correlationId = 1, timeoutMs = 10_000): Promise<number> {
    this.write(requestFrame(18, 0, correlationId));
    const frame = await this.nextFrame(timeoutMs);
    if (frame.readInt32BE(0) !== correlationId) throw new Error(`ApiVersions answered with correlation id ${frame.readInt32BE(0)}`);
    return frame.readInt16BE(4);
  }

  destroy(): void { this.socket.destroy(); }
}

/**
 * The admin HTTP server: Prometheus metrics, liveness and readiness. Binds to localhost unless configured
 * otherwise, because metrics name principals and topics.
 */
import http from 'node:http';
import client from 'prom-client';
import type { Logger } from 'pino';
import type { ProxyMetrics } from '../metrics.js';

export interface Readiness {
  /** Empty when ready; otherwise the reasons it is not. */
  notReadyReasons(): Promise<string[]>;
}

export interface AdminRoute {
  /** Handles the request and returns true, or returns false to fall through. */
  (req: http.IncomingMessage, res: http.ServerResponse): boolean | Promise<boolean>;
}

/** What /readyz says when no upstream bootstrap server answers (src/app.ts notReadyReasons). */
const UPSTREAM_UNREACHABLE = /no upstream bootstrap server reachable/;

/**
 * Readiness as metrics, computed on each scrape from the same check as /readyz (a TCP connect per upstream
 * bootstrap server: nothing runs between scrapes). Without them only /readyz knew that the upstream was gone.
 */
export class ReadinessMetrics {
  readonly registry = new client.Registry();
  readonly ready = new client.Gauge({ name: 'kafka_proxy_ready', help: '1 when /readyz answers 200 (upstream reachable, audit sink running, every worker running), else 0', registers: [this.registry] });
  readonly upstreamUp = new client.Gauge({ name: 'kafka_proxy_upstream_up', help: '1 when an upstream bootstrap server accepts a TCP connection, checked at each scrape', registers: [this.registry] });

  update(reasons: string[]): void {
    this.ready.set(reasons.length === 0 ? 1 : 0);
    this.upstreamUp.set(reasons.some((r) => UPSTREAM_UNREACHABLE.test(r)) ? 0 : 1);
  }
}

export class AdminServer {
  private server: http.Server | undefined;
  private readonly routes: AdminRoute[] = [];
  private readonly readinessMetrics = new ReadinessMetrics();

  constructor(
    private readonly metrics: ProxyMetrics,
    private readonly readiness: Readiness,
    private readonly log: Logger,
  ) {}

  /** Adds a route tried before the built-in ones (the audit browser registers itself this way). */
  use(route: AdminRoute): void { this.routes.push(route); }

  async start(host: string, port: number): Promise<number> {
    this.server = http.createServer((req, res) => { void this.handle(req, res); });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen({ host, port }, () => resolve());
    });
    const addr = this.server.address();
    const bound = typeof addr === 'object' && addr ? addr.port : port;
    this.log.info({ host, port: bound }, 'admin server listening (/metrics, /healthz, /readyz)');
    return bound;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      for (const r of this.routes) if (await r(req, res)) return;
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') return send(res, 405, 'text/plain', 'only GET is supported\n');
      if (path === '/metrics') {
        this.readinessMetrics.update(await this.readiness.notReadyReasons());
        const text = await this.metrics.registry.metrics() + await this.readinessMetrics.registry.metrics();
        return send(res, 200, this.metrics.registry.contentType, text);
      }
      if (path === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
      if (path === '/readyz') {
        const reasons = await this.readiness.notReadyReasons();
        return reasons.length === 0 ? send(res, 200, 'text/plain', 'ready\n') : send(res, 503, 'text/plain', `not ready: ${reasons.join('; ')}\n`);
      }
      send(res, 404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
    } catch (err) {
      this.log.error({ err: (err as Error).message, url: req.url }, 'admin request failed');
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
    }
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

export function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

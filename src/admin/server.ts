/**
 * The admin HTTP server: Prometheus metrics, liveness and readiness. Binds to localhost unless configured
 * otherwise, because metrics name principals and topics.
 */
import http from 'node:http';
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

export class AdminServer {
  private server: http.Server | undefined;
  private readonly routes: AdminRoute[] = [];

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
        return send(res, 200, this.metrics.registry.contentType, await this.metrics.registry.metrics());
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

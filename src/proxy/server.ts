/**
 * The proxy: a bootstrap listener plus one listener per upstream broker, each accepted client paired with
 * an upstream connection (src/proxy/connection.ts). Owns limits, upstream dialing (optionally TLS) and the
 * graceful shutdown: stop accepting, let in-flight requests finish, then close.
 */
import net, { type Server, type Socket } from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import type { ProxyConfig } from '../config.js';
import type { AuditOperation } from '../audit/operation.js';
import { ProxyMetrics } from '../metrics.js';
import { log as rootLog } from '../log.js';
import { BrokerMap } from './broker-map.js';
import { TopicIdMap } from './topic-ids.js';
import { ProxyConnection } from './connection.js';
import { DATA_API_KEYS } from '../audit/extract.js';
import type { ProxyContext } from './context.js';
import { readProxyHeader, ProxyHeaderError } from './proxy-header-reader.js';
import type { ProxiedAddress } from './proxy-protocol.js';
import { SniRouter } from './sni.js';

/** Where audit operations go; implemented by the audit pipeline. */
export interface AuditRecorder {
  record(op: AuditOperation): void | Promise<void>;
  /** Whether operations of this API are audited at all under the current rules. */
  wants?(apiKey: number): boolean;
  /** Whether authorization denials are audited under the current rules (authorize-denied). */
  auditsDenials?(): boolean;
  /** In fail-closed mode: why a request with these operations must be refused right now, else undefined. */
  admission?(ops: readonly AuditOperation[]): string | undefined;
  /** Write-ahead (see src/audit/journal.ts): whether, and how, requests are recorded before they are forwarded. */
  writeAheadFor?(apiKey: number): boolean;
  intend?(ops: AuditOperation[]): Promise<string>;
  complete?(intent: string | undefined, ops: AuditOperation[]): void;
  abandon?(intent: string): void;
  /** Records an event about the proxy itself (the audit pipeline implements it). */
  lifecycle?(kind: 'upstream-unreachable', details: Record<string, unknown>): void | Promise<void>;
}

/** Default of listen.proxyProtocolTimeoutMs: a balancer writes its header at once; a client speaks first too. */
export const PROXY_HEADER_TIMEOUT_MS = 10_000;

type Target = { kind: 'bootstrap' } | { kind: 'broker'; nodeId: number };

/** At most one upstream-unreachable event per target in this window, so an outage is not a flood. */
const UNREACHABLE_EVENT_INTERVAL_MS = 60_000;

export interface ProxyServerOptions {
  metrics?: ProxyMetrics;
  log?: Logger;
  auditor?: AuditRecorder;
}

export class ProxyServer implements ProxyContext {
  readonly metrics: ProxyMetrics;
  readonly log: Logger;
  readonly brokers: BrokerMap;
  readonly topicIds = new TopicIdMap();
  readonly tokenOwners = new LRUCache<string, string>({ max: 10_000 });
  readonly clientSecurityProtocol: string;
  private readonly listeners = new Map<string, Server>();
  private readonly connections = new Set<ProxyConnection>();
  private readonly perAddress = new Map<string, number>();
  private readonly undecodableSeen = new LRUCache<string, true>({ max: 10_000 });
  private stopping = false;
  private knownClusterId: string | undefined;
  private readonly unreachableReported = new Map<string, number>();
  private readonly pendingListens = new Set<Promise<void>>();
  /** listen.sni: every client connection on the bootstrap port, routed by its TLS server name. */
  private readonly sni: SniRouter | undefined;
  /** Sockets still sending their PROXY protocol header: not connections yet, but closed on stop. */
  private readonly awaitingHeader = new Set<Socket>();
  auditor: AuditRecorder | undefined;

  constructor(readonly config: ProxyConfig, opts: ProxyServerOptions = {}) {
    this.metrics = opts.metrics ?? new ProxyMetrics();
    this.log = opts.log ?? rootLog.child({ component: 'proxy' });
    this.auditor = opts.auditor;
    this.clientSecurityProtocol = config.listen.securityProtocol;
    const sni = config.listen.sni;
    this.sni = sni ? new SniRouter(sni.bootstrapHost, sni.brokerHostPattern) : undefined;
    this.brokers = new BrokerMap(config.listen.advertisedHost, config.listen.brokerPortBase, {
      openBrokerListener: (nodeId, port) => this.listen(`broker-${nodeId}`, port, { kind: 'broker', nodeId }),
    }, this.sni && { hostFor: (nodeId) => this.sni!.hostFor(nodeId), port: () => this.bootstrapPort });
  }

  /** Opens the bootstrap listener; broker listeners open as brokers are discovered. */
  async start(): Promise<void> {
    this.listen('bootstrap', this.config.listen.bootstrapPort, { kind: 'bootstrap' });
    await new Promise<void>((resolve, reject) => {
      const s = this.listeners.get('bootstrap')!;
      if (s.listening) return resolve();
      s.once('listening', resolve);
      s.once('error', reject);
    });
    this.log.info({ port: this.bootstrapPort, upstream: this.config.upstream.bootstrapServers }, 'proxy listening');
  }

  get bootstrapPort(): number {
    const a = this.listeners.get('bootstrap')?.address();
    return typeof a === 'object' && a ? a.port : this.config.listen.bootstrapPort;
  }

  /** host:port clients use as bootstrap.servers. */
  get bootstrapAddress(): string { return `${this.config.listen.sni?.bootstrapHost ?? this.config.listen.advertisedHost}:${this.bootstrapPort}`; }

  private listen(name: string, port: number, target: { kind: 'bootstrap' } | { kind: 'broker'; nodeId: number }): void {
    if (this.stopping) return;
    const onSocket = (socket: Socket) => this.accept(socket, target, name);
    const t = this.config.listen.tls;
    const proxyProtocol = this.config.listen.proxyProtocol ?? 'off';
    if (proxyProtocol !== 'off') {
      // The balancer's header comes before the TLS ClientHello, so TLS starts only once the header is read.
      const secureContext = t ? tls.createSecureContext({ cert: readFileSync(t.cert), key: readFileSync(t.key), ca: t.ca ? readFileSync(t.ca) : undefined }) : undefined;
      const server = net.createServer((raw) => this.acceptProxied(raw, proxyProtocol, target, name, secureContext));
      this.bindListener(server, name, port, target);
      return;
    }
    const server = t
      ? tls.createServer({
        cert: readFileSync(t.cert), key: readFileSync(t.key), ca: t.ca ? readFileSync(t.ca) : undefined,
        requestCert: t.requireClientCert ?? false, rejectUnauthorized: t.requireClientCert ?? false,
      }, onSocket)
      : net.createServer(onSocket);
    if (t) {
      // A failed handshake's socket is usually closed already, and a closed socket no longer knows its peer: note the
      // address of each TCP connection as it arrives (the TLS socket wraps it as _parent).
      const clientOf = new WeakMap<object, string>();
      server.on('connection', (raw: Socket) => clientOf.set(raw, `${raw.remoteAddress}:${raw.remotePort}`));
      server.on('tlsClientError', (err: Error, sock: Socket) => {
        this.metrics.connectionErrors.inc({ reason: 'tls_handshake' });
        const client = clientOf.get((sock as unknown as { _parent?: object })._parent ?? sock) ?? `${sock.remoteAddress}:${sock.remotePort}`;
        this.log.warn({ listener: name, client, reason: err.message }, 'TLS handshake with client failed');
      });
    }
    this.bindListener(server, name, port, target);
  }

  private bindListener(server: Server, name: string, port: number, target: Target): void {
    server.on('error', (err: NodeJS.ErrnoException) => {
      this.log.error({ listener: name, port, code: err.code, reason: err.message },
        err.code === 'EADDRINUSE' ? `port ${port} is already in use: choose another listen.bootstrapPort / listen.brokerPortBase` : 'listener failed');
    });
    // The bind completes on a later tick: until then a client told about this port would be refused, so
    // connections hold responses that name new brokers until listenersReady() resolves.
    const ready = new Promise<void>((resolve) => {
      server.once('listening', () => resolve());
      server.once('error', () => resolve());
    }).finally(() => this.pendingListens.delete(ready));
    this.pendingListens.add(ready);
    server.listen({ host: this.config.listen.host, port, backlog: 1024 });
    this.listeners.set(name, server);
    if (target.kind === 'broker') this.log.info({ nodeId: target.nodeId, port }, 'broker listener opened');
  }

  /**
   * A connection on a listener with listen.proxyProtocol: reads the balancer's header (nothing is forwarded meanwhile),
   * then, with TLS, does the handshake, then accepts it under the client's address from the header.
   */
  private acceptProxied(raw: Socket, mode: 'required' | 'allowed', target: Target, name: string, secureContext: tls.SecureContext | undefined): void {
    const via = raw.remoteAddress ? `${raw.remoteAddress}:${raw.remotePort}` : 'unknown (the socket closed at once)';
    if (this.stopping) {
      this.metrics.connectionsRejected.inc({ reason: 'shutting_down' });
      raw.destroy();
      return;
    }
    this.awaitingHeader.add(raw);
    raw.on('error', () => {}); // reported through readProxyHeader's rejection or the connection's own handler
    const timeoutMs = this.config.listen.proxyProtocolTimeoutMs ?? PROXY_HEADER_TIMEOUT_MS;
    readProxyHeader(raw, mode, timeoutMs).then(({ source, version }) => {
      if (raw.destroyed) { this.awaitingHeader.delete(raw); return; }
      if (source) this.log.debug({ client: `${source.address}:${source.port}`, via, proxyProtocol: version, listener: name }, 'PROXY protocol header read');
      if (!secureContext) { this.awaitingHeader.delete(raw); return this.accept(raw, target, name, source); }
      // The handshake is bounded like the header (a bare TLSSocket has no handshake timeout of its own, unlike a
      // tls.Server), and the socket stays tracked until it is a connection, so stop() ends it too.
      const t = this.config.listen.tls!;
      const secure = new tls.TLSSocket(raw, {
        isServer: true, secureContext, requestCert: t.requireClientCert ?? false, rejectUnauthorized: t.requireClientCert ?? false,
      });
      const client = source ? `${source.address}:${source.port}` : via;
      const deadline = setTimeout(() => onFail(new Error(`no TLS handshake within ${timeoutMs} ms after the PROXY header`)), timeoutMs);
      deadline.unref();
      const onFail = (err: Error) => {
        clearTimeout(deadline);
        this.awaitingHeader.delete(raw);
        this.metrics.connectionErrors.inc({ reason: 'tls_handshake' });
        this.log.warn({ listener: name, client, via, reason: err.message }, 'TLS handshake with client failed');
        secure.destroy();
        raw.destroy();
      };
      secure.once('error', onFail);
      secure.once('secure', () => {
        clearTimeout(deadline);
        // A bare TLSSocket does not enforce client certificates as tls.Server does: check it here.
        if ((t.requireClientCert ?? false) && !secure.authorized) return onFail(new Error(`client certificate refused: ${String(secure.authorizationError)}`));
        secure.removeListener('error', onFail);
        this.awaitingHeader.delete(raw);
        this.accept(secure, target, name, source);
      });
    }, (err: Error) => {
      this.awaitingHeader.delete(raw);
      const reason = err instanceof ProxyHeaderError ? err.reason : 'proxy_protocol_malformed';
      this.metrics.connectionsRejected.inc({ reason });
      this.log.warn({ listener: name, via, reason: err.message }, 'connection refused: PROXY protocol header');
      raw.destroy();
    });
  }

  private accept(socket: Socket, target: Target, name: string, source?: ProxiedAddress): void {
    // Behind a balancer speaking the PROXY protocol, the client is the one its header names, for limits as for events.
    const addr = source?.address ?? socket.remoteAddress ?? 'unknown';
    const port = source?.port ?? socket.remotePort;
    const { maxConnections, maxConnectionsPerAddress } = this.config.limits;
    const reject = (reason: string, label: string) => {
      this.metrics.connectionsRejected.inc({ reason: label });
      this.log.warn({ client: `${addr}:${port}`, reason }, 'connection refused');
      socket.destroy();
    };
    if (this.sni) {
      const servername = (socket as tls.TLSSocket).servername;
      const routed = this.sni.route(servername);
      if (!routed) {
        return reject(`TLS server name ${JSON.stringify(servername || null)} is not one this proxy serves (${this.sni.describe()}): `
          + 'bootstrap with the bootstrap name (not an IP address), the client takes the broker names from metadata', 'sni_unknown_host');
      }
      target = routed;
      name = routed.kind === 'bootstrap' ? 'bootstrap' : `broker-${routed.nodeId}`;
    }
    if (this.stopping) return reject('proxy is shutting down', 'shutting_down');
    if (this.connections.size >= maxConnections) return reject(`limits.maxConnections (${maxConnections}) reached`, 'max_connections');
    const n = this.perAddress.get(addr) ?? 0;
    if (n >= maxConnectionsPerAddress) return reject(`limits.maxConnectionsPerAddress (${maxConnectionsPerAddress}) reached for ${addr}`, 'max_per_address');
    this.perAddress.set(addr, n + 1);
    const conn = new ProxyConnection(this, socket, target, name, source);
    this.connections.add(conn);
    this.metrics.connectionsActive.inc({ listener: target.kind });
    this.metrics.connectionsTotal.inc({ listener: target.kind });
    void conn.start();
  }

  onConnectionClosed(conn: ProxyConnection): void {
    if (!this.connections.delete(conn)) return;
    const addr = conn.remoteAddress;
    const n = (this.perAddress.get(addr) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(addr); else this.perAddress.set(addr, n);
    this.metrics.connectionsActive.dec({ listener: conn.target.kind });
  }

  get connectionCount(): number { return this.connections.size; }

  connectUpstream(target: { kind: 'bootstrap' } | { kind: 'broker'; nodeId: number }): Promise<Socket> {
    return this.dialTarget(target).catch((err: Error) => {
      this.reportUnreachable(target, err);
      throw err;
    });
  }

  private reportUnreachable(target: { kind: 'bootstrap' } | { kind: 'broker'; nodeId: number }, err: Error): void {
    if (target.kind === 'broker' && !this.brokers.upstreamOf(target.nodeId)) return; // stale client metadata, not an outage
    const key = target.kind === 'bootstrap' ? 'bootstrap' : `broker-${target.nodeId}`;
    const now = Date.now();
    if (now - (this.unreachableReported.get(key) ?? 0) < UNREACHABLE_EVENT_INTERVAL_MS) return;
    this.unreachableReported.set(key, now);
    const address = target.kind === 'bootstrap' ? this.config.upstream.bootstrapServers : this.brokers.upstreamOf(target.nodeId);
    this.log.error({ target: key, address, reason: err.message }, 'upstream unreachable');
    const r = this.auditor?.lifecycle?.('upstream-unreachable', { target: key, address, reason: err.message });
    if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => {});
  }

  private dialTarget(target: { kind: 'bootstrap' } | { kind: 'broker'; nodeId: number }): Promise<Socket> {
    if (target.kind === 'broker') {
      const addr = this.brokers.upstreamOf(target.nodeId);
      if (!addr) return Promise.reject(new Error(`broker ${target.nodeId} is not known yet; the client will refresh metadata through the bootstrap port`));
      return this.dial(addr.host, addr.port);
    }
    const servers = this.config.upstream.bootstrapServers;
    const attempt = async (i: number, errors: string[]): Promise<Socket> => {
      if (i >= servers.length) throw new Error(`no bootstrap server reachable (${errors.join('; ')})`);
      const [host, port] = splitHostPort(servers[i]);
      try { return await this.dial(host, port); } catch (e) { return attempt(i + 1, [...errors, `${servers[i]}: ${(e as Error).message}`]); }
    };
    return attempt(0, []);
  }

  private dial(host: string, port: number): Promise<Socket> {
    const t = this.config.upstream.tls;
    const timeoutMs = this.config.upstream.connectTimeoutMs;
    const localAddress = this.config.upstream.localAddress;
    return new Promise((resolve, reject) => {
      const socket: Socket = t
        ? tls.connect({
          host, port, localAddress, servername: t.servername ?? (net.isIP(host) ? undefined : host),
          ca: t.ca ? readFileSync(t.ca) : undefined, cert: t.cert ? readFileSync(t.cert) : undefined, key: t.key ? readFileSync(t.key) : undefined,
          rejectUnauthorized: t.rejectUnauthorized ?? true,
        } as tls.ConnectionOptions)
        : net.connect({ host, port, localAddress });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`connect timed out after ${timeoutMs} ms`)); }, timeoutMs);
      socket.once(t ? 'secureConnect' : 'connect', () => { clearTimeout(timer); socket.removeAllListeners('error'); resolve(socket); });
      socket.once('error', (err) => { clearTimeout(timer); reject(err); });
    });
  }

  /** Resolves once every listener opened so far is bound; undefined when none is pending (the common case). */
  listenersReady(): Promise<void> | undefined {
    return this.pendingListens.size === 0 ? undefined : Promise.all(this.pendingListens).then(() => undefined);
  }

  clusterId(): string { return this.knownClusterId ?? 'unknown'; }
  setClusterId(id: string | null | undefined): void { if (id) this.knownClusterId = id; }

  audit(op: AuditOperation): void {
    if (!this.auditor) return;
    const r = this.auditor.record(op);
    if (r && typeof (r as Promise<void>).catch === 'function') {
      (r as Promise<void>).catch((err) => this.log.error({ err: (err as Error).message, method: op.method }, 'audit event could not be made durable'));
    }
  }

  auditEnabled(apiKey: number): boolean {
    if (!this.auditor) return false;
    return this.auditor.wants ? this.auditor.wants(apiKey) : !DATA_API_KEYS.has(apiKey);
  }

  auditDenials(): boolean { return this.auditor?.auditsDenials?.() ?? false; }

  auditAdmission(ops: readonly AuditOperation[]): string | undefined { return this.auditor?.admission?.(ops); }

  writeAheadFor(apiKey: number): boolean { return this.auditor?.writeAheadFor?.(apiKey) ?? false; }

  intend(ops: AuditOperation[]): Promise<string> {
    return this.auditor?.intend ? this.auditor.intend(ops) : Promise.reject(new Error('no write-ahead journal'));
  }

  auditOutcome(intent: string | undefined, ops: AuditOperation[]): void {
    if (this.auditor?.complete) this.auditor.complete(intent, ops);
    else for (const op of ops) this.audit(op);
  }

  abandonIntent(intent: string): void { this.auditor?.abandon?.(intent); }

  reportUndecodableOnce(key: string): boolean {
    if (this.undecodableSeen.has(key)) return false;
    this.undecodableSeen.set(key, true);
    return true;
  }

  /** Stops accepting, waits for in-flight requests to be answered (bounded by shutdown.drainTimeoutMs), closes. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const s of this.listeners.values()) s.close();
    for (const s of this.awaitingHeader) s.destroy();
    const deadline = Date.now() + this.config.shutdown.drainTimeoutMs;
    while (Date.now() < deadline && [...this.connections].some((c) => c.pending > 0)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const left = [...this.connections].reduce((n, c) => n + c.pending, 0);
    if (left > 0) this.log.warn({ pending: left }, 'drain timeout: closing connections with requests still in flight');
    for (const c of [...this.connections]) c.close('proxy shutting down');
    this.log.info('proxy stopped');
  }
}

export function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i).replace(/^\[|\]$/g, ''), Number(s.slice(i + 1))];
}

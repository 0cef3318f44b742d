/**
 * Several worker processes sharing the proxy's listeners (`workers: N` / `start --workers N`), for machines
 * where one Node event loop is the limit.
 *
 * - The primary forks N workers (node:cluster) and does no proxying itself. Each worker runs the whole proxy
 *   (startApp). Listening sockets are shared with cluster's round-robin scheduling: the primary owns each
 *   listening socket and hands accepted connections to the workers that listen on that port in turn.
 * - Broker listeners open on the fly, when a worker first sees a broker in a response. A worker only receives
 *   connections for ports it listens on, so workers tell the primary which brokers they know and the primary
 *   passes that on to every worker: all workers then listen on every broker port and share its connections.
 * - Audit: each worker is its own audit instance, with its own spool and hash chain in
 *   <audit.spool.dir>/worker-<n> (a spool and a chain belong to one process). `verify` checks each chain.
 * - Admin: the primary serves /metrics, /healthz and /readyz (ready when every worker is ready) on
 *   admin.host:admin.port; workers run none. Metrics: counters and histograms summed over the workers; every
 *   gauge kept per worker with a `worker` label, because gauges are states and limits (kafka_audit_sink_up,
 *   process_max_fds, a spool's size against its own limit) whose sum means nothing: two healthy sinks read 2,
 *   one degraded of two read 1, and `== 0` never fired.
 * - Signals to the primary: SIGTERM/SIGINT stop every worker gracefully (each drains its connections and flushes
 *   its audit events), then the primary exits 0; SIGHUP makes every worker reload its audit rules.
 * - A worker that dies after it started is replaced (with backoff); one that fails to start stops the whole
 *   proxy with its error (a configuration problem would only fail again).
 */
import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import client, { type PrometheusContentType } from 'prom-client';
import { loadConfig, setPath } from './config.js';
import { createLogger, setLogger } from './log.js';
import { notReadyReasons, startApp, type App, type StartOptions } from './app.js';
import { AdminServer } from './admin/server.js';
import type { ProxyMetrics } from './metrics.js';

/** Environment variable that tells a forked worker its index (1..N). */
export const WORKER_ENV = 'KAFKA_AUDIT_PROXY_WORKER';

type BrokerList = Array<[nodeId: number, host: string, port: number]>;
type ToPrimary =
  | { kap: 'ready' }
  | { kap: 'failed'; message: string }
  | { kap: 'brokers'; brokers: BrokerList }
  | { kap: 'readiness'; requestId: number; reasons: string[] }
  | { kap: 'metrics'; requestId: number; metrics: client.MetricObjectWithValues<client.MetricValue<string>>[] };
type ToWorker =
  | { kap: 'stop' }
  | { kap: 'reload' }
  | { kap: 'brokers'; brokers: BrokerList }
  | { kap: 'readiness'; requestId: number }
  | { kap: 'metrics'; requestId: number };

const isKap = (m: unknown): m is { kap: string } => typeof m === 'object' && m !== null && typeof (m as { kap?: unknown }).kap === 'string';

/** True when `start` must run clustered: configured with workers > 1, or this process is one of the workers. */
export function isClustered(opts: StartOptions): boolean {
  if (cluster.isWorker && process.env[WORKER_ENV]) return true;
  return loadConfig({ file: opts.configFile, env: opts.env ?? process.env, overrides: opts.overrides }).workers > 1;
}

/** Runs the primary or a worker, depending on which this process is. Resolves only on failure to start. */
export function runClustered(opts: StartOptions): Promise<number> {
  return cluster.isWorker ? runWorker(opts) : runPrimary(opts);
}

// ---------------------------------------------------------------------------------------------------------------
// primary

async function runPrimary(opts: StartOptions): Promise<number> {
  const config = loadConfig({ file: opts.configFile, env: opts.env ?? process.env, overrides: opts.overrides });
  const log = (opts.log ?? createLogger(config.log.level)).child({ role: 'primary' });
  setLogger(log);
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const count = config.workers;
  const workers = new Map<number, Worker>();
  const started = new Set<number>();
  const brokers = new Map<number, { host: string; port: number }>();
  const restarts = new Map<number, { delayMs: number; at: number }>();
  const readinessRequests = new Map<number, (reasons: string[]) => void>();
  const metricsRequests = new Map<number, (metrics: WorkerMetrics) => void>();
  let nextRequestId = 1;
  let stopping = false;
  let failStart: (message: string) => void = () => {};
  const startFailure = new Promise<string>((resolve) => { failStart = resolve; });

  const brokerList = (): BrokerList => [...brokers].map(([id, a]) => [id, a.host, a.port]);
  const send = (w: Worker, m: ToWorker) => { if (w.isConnected()) w.send(m); };

  const onMessage = (index: number, w: Worker, m: unknown) => {
    if (!isKap(m)) return; // e.g. prom-client's own messages
    const msg = m as ToPrimary;
    if (msg.kap === 'ready') {
      started.add(index);
      if (brokers.size > 0) send(w, { kap: 'brokers', brokers: brokerList() });
      if (started.size === count) log.info({ workers: count, bootstrapPort: config.listen.bootstrapPort }, 'proxy listening with worker processes');
    } else if (msg.kap === 'failed') {
      if (!started.has(index)) failStart(`worker ${index} could not start: ${msg.message}`);
    } else if (msg.kap === 'brokers') {
      let changed = false;
      for (const [id, host, port] of msg.brokers) {
        const known = brokers.get(id);
        if (!known || known.host !== host || known.port !== port) { brokers.set(id, { host, port }); changed = true; }
      }
      if (changed) for (const other of workers.values()) send(other, { kap: 'brokers', brokers: brokerList() });
    } else if (msg.kap === 'readiness') {
      readinessRequests.get(msg.requestId)?.(msg.reasons.map((r) => `worker ${index}: ${r}`));
    } else if (msg.kap === 'metrics') {
      metricsRequests.get(msg.requestId)?.(msg.metrics);
    }
  };

  const fork = (index: number) => {
    const w = cluster.fork({ [WORKER_ENV]: String(index) });
    workers.set(index, w);
    w.on('message', (m: unknown) => onMessage(index, w, m));
    w.once('exit', (code, signal) => {
      if (workers.get(index) === w) workers.delete(index);
      if (stopping) return;
      if (!started.has(index)) { failStart(`worker ${index} exited during start (code ${code}, signal ${signal})`); return; }
      // Back off when a worker keeps dying: 1 s, doubling to 30 s, reset after a minute of running.
      const prev = restarts.get(index);
      const delayMs = prev && Date.now() - prev.at < 60_000 ? Math.min(prev.delayMs * 2, 30_000) : 1000;
      restarts.set(index, { delayMs, at: Date.now() + delayMs });
      log.error({ worker: index, code, signal, restartInMs: delayMs }, 'worker exited unexpectedly; starting a new one');
      setTimeout(() => { if (!stopping) fork(index); }, delayMs);
    });
  };

  const stopAll = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'shutting down: stopping the workers (each drains its connections and flushes its audit events)');
    const all = [...workers.values()];
    const exits = all.map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) return resolve();
      w.once('exit', () => resolve());
    }));
    for (const w of all) send(w, { kap: 'stop' });
    const graceMs = config.shutdown.drainTimeoutMs + 30_000;
    const killer = setTimeout(() => {
      for (const w of all) if (!w.isDead()) { log.warn({ pid: w.process.pid }, 'worker did not stop in time; killing it'); w.process.kill('SIGKILL'); }
    }, graceMs);
    await Promise.all(exits);
    clearTimeout(killer);
    await admin?.stop();
  };

  let admin: AdminServer | undefined;
  if (config.admin.enabled) {
    const registry = new ClusterRegistry(() => Promise.all([...workers].map(([index, w]) => new Promise<[number, WorkerMetrics]>((resolve) => {
      const requestId = nextRequestId++;
      // A worker that does not answer is left out of this scrape (its gauges vanish; /readyz names it).
      const timer = setTimeout(() => { metricsRequests.delete(requestId); resolve([index, []]); }, 5000);
      metricsRequests.set(requestId, (m) => { clearTimeout(timer); metricsRequests.delete(requestId); resolve([index, m]); });
      send(w, { kap: 'metrics', requestId });
    }))));
    const readiness = {
      notReadyReasons: async (): Promise<string[]> => {
        const reasons: string[] = [];
        for (let i = 1; i <= count; i++) if (!workers.get(i) || !started.has(i)) reasons.push(`worker ${i} is not running`);
        const answers = await Promise.all([...workers.values()].map((w) => new Promise<string[]>((resolve) => {
          const requestId = nextRequestId++;
          const timer = setTimeout(() => { readinessRequests.delete(requestId); resolve([`worker pid ${w.process.pid} did not answer`]); }, 3000);
          readinessRequests.set(requestId, (r) => { clearTimeout(timer); readinessRequests.delete(requestId); resolve(r); });
          send(w, { kap: 'readiness', requestId });
        })));
        return [...reasons, ...answers.flat()];
      },
    };
    // AdminServer reads only registry.contentType and registry.metrics(); the cluster registry answers both.
    admin = new AdminServer({ registry } as unknown as ProxyMetrics, readiness, log.child({ component: 'admin' }));
  }

  for (let i = 1; i <= count; i++) fork(i);
  const outcome = await Promise.race([
    startFailure,
    new Promise<'started'>((resolve) => {
      const check = setInterval(() => { if (started.size === count) { clearInterval(check); resolve('started'); } }, 50);
    }),
  ]);
  if (outcome !== 'started') {
    log.error({ reason: outcome }, 'proxy not started');
    await stopAll('a worker failed to start');
    process.stderr.write(`kafka-audit-proxy: ${outcome}\n`);
    return 1;
  }
  if (admin) await admin.start(config.admin.host, config.admin.port);

  const stopAndExit = (signal: string) => { void stopAll(signal).then(() => process.exit(0)); };
  process.on('SIGTERM', () => stopAndExit('SIGTERM'));
  process.on('SIGINT', () => stopAndExit('SIGINT'));
  process.on('SIGHUP', () => { for (const w of workers.values()) send(w, { kap: 'reload' }); });
  return new Promise<number>(() => {}); // runs until a signal
}

type WorkerMetrics = client.MetricObjectWithValues<client.MetricValue<string>>[];

/** The workers' metrics, gathered whenever the primary is scraped; AdminServer reads contentType and metrics(). */
class ClusterRegistry {
  readonly contentType: PrometheusContentType = client.Registry.PROMETHEUS_CONTENT_TYPE;
  constructor(private readonly gather: () => Promise<Array<[index: number, metrics: WorkerMetrics]>>) {}
  async metrics(): Promise<string> { return aggregateWorkerMetrics(await this.gather()).metrics(); }
}

/**
 * One registry from the workers' metrics: gauges get a `worker` label (states and limits are per process),
 * everything else is aggregated as prom-client's aggregator for it says (counters and histograms: summed).
 */
export function aggregateWorkerMetrics(perWorker: Array<[index: number, metrics: WorkerMetrics]>): client.Registry {
  const tagged = perWorker.map(([index, metrics]) => metrics.map((m) => String(m.type) !== 'gauge' ? m : {
    ...m,
    aggregator: 'sum' as const, // one value per label set now; 'omit' (process_start_time_seconds) would drop it
    values: m.values.map((v) => ({ ...v, labels: { ...v.labels, worker: String(index) } })),
  }));
  return client.AggregatorRegistry.aggregate(tagged);
}

// ---------------------------------------------------------------------------------------------------------------
// worker

async function runWorker(opts: StartOptions): Promise<number> {
  const index = Number(process.env[WORKER_ENV]);
  const toPrimary = (m: ToPrimary) => { if (process.connected) process.send!(m); };
  let app: App;
  try {
    const base = loadConfig({ file: opts.configFile, env: opts.env ?? process.env, overrides: opts.overrides });
    const overrides = structuredClone(opts.overrides ?? {}) as Record<string, unknown>;
    setPath(overrides, ['audit', 'spool', 'dir'], join(base.audit.spool.dir, `worker-${index}`));
    setPath(overrides, ['admin', 'enabled'], false); // the primary serves the admin endpoints
    setPath(overrides, ['workers'], 1);
    const log = (opts.log ?? createLogger(base.log.level)).child({ worker: index });
    const browser = (base as unknown as Record<string, { enabled?: boolean } | undefined>).browser;
    if (browser?.enabled) {
      setPath(overrides, ['browser', 'enabled'], false);
      log.warn('the audit browser is not served when workers > 1 (the admin endpoints are the primary\'s)');
    }
    app = await startApp({ ...opts, overrides, log });
  } catch (err) {
    toPrimary({ kap: 'failed', message: (err as Error).message });
    await new Promise((r) => setTimeout(r, 100));
    return 1;
  }

  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ reason }, 'worker shutting down: draining in-flight requests');
    await app.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('disconnect', () => void stop('primary process gone'));

  // Tell the primary about brokers this worker has learned; learn the ones other workers have.
  const sent = new Map<number, string>();
  const shareBrokers = () => {
    const news: BrokerList = [];
    for (const id of app.proxy.brokers.nodeIds()) {
      const a = app.proxy.brokers.upstreamOf(id)!;
      if (sent.get(id) !== `${a.host}:${a.port}`) { sent.set(id, `${a.host}:${a.port}`); news.push([id, a.host, a.port]); }
    }
    if (news.length > 0) toPrimary({ kap: 'brokers', brokers: news });
  };
  setInterval(shareBrokers, 250).unref();

  process.on('message', (m: unknown) => {
    if (!isKap(m)) return;
    const msg = m as ToWorker;
    if (msg.kap === 'stop') void stop('stopped by the primary');
    else if (msg.kap === 'reload') void app.reload();
    else if (msg.kap === 'brokers') {
      for (const [id, host, port] of msg.brokers) {
        sent.set(id, `${host}:${port}`);
        app.proxy.brokers.learn(id, host, port);
      }
    } else if (msg.kap === 'metrics') {
      void app.metrics.registry.getMetricsAsJSON().then((metrics) => toPrimary({ kap: 'metrics', requestId: msg.requestId, metrics }));
    } else if (msg.kap === 'readiness') {
      void notReadyReasons(app.config, app.sink).then((reasons) => toPrimary({ kap: 'readiness', requestId: msg.requestId, reasons }));
    }
  });
  toPrimary({ kap: 'ready' });
  return new Promise<number>(() => {}); // runs until stopped
}

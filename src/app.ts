/**
 * Assembles a running proxy from a configuration: metrics, logs, the audit pipeline (rules → events →
 * chain → Kafka sink with local spool), the proxy listeners and the admin HTTP server; and takes them down
 * in the right order (drain the proxy, record "stopped", flush the audit sink).
 */
import net from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type AuditConfig, type ProxyConfig, loadConfig } from './config.js';
import { createLogger, setLogger } from './log.js';
import { ProxyMetrics } from './metrics.js';
import { ProxyServer, splitHostPort } from './proxy/server.js';
import { AdminServer } from './admin/server.js';
import { AuditChain } from './audit/chain.js';
import { createCheckpointSigner, type CheckpointSigner } from './audit/checkpoint-signer.js';
import { AuditPipeline } from './audit/pipeline.js';
import { AuditRules, parseRulesConfig, type RulesConfig } from './audit/rules.js';
import { AuditSink } from './audit/sink.js';
import { KafkaTransport } from './audit/kafka-transport.js';
import { FileTransport } from './audit/file-transport.js';
import { AuditJournal } from './audit/journal.js';
import type { AuditKafkaConnection } from './audit/kafka-client.js';
import { createKafka } from './audit/kafka-client.js';
import { readFileSync } from 'node:fs';
import { AuditBrowser } from './browser/index.js';
import { startIdleMemoryReturn } from './idle-memory.js';
import { installRejectionGuard } from './process-guard.js';

export interface App {
  config: ProxyConfig;
  proxy: ProxyServer;
  metrics: ProxyMetrics;
  log: Logger;
  pipeline?: AuditPipeline;
  sink?: AuditSink;
  admin?: AdminServer;
  adminPort?: number;
  /** The audit browser (/audit on the admin server), when browser.enabled. */
  browser?: AuditBrowser;
  /** Re-reads the configuration file and applies the audit rules from it (connections stay up). */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  configFile?: string;
  /** Overrides applied on top of file and environment (used by the CLI's --set and by tests). */
  overrides?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
}

/** Connection settings of the audit cluster (the proxied cluster unless audit.brokers is set). */
export function auditConnection(config: ProxyConfig): AuditKafkaConnection {
  const a = config.audit;
  return { brokers: a.brokers ?? config.upstream.bootstrapServers, clientId: a.clientId, sasl: a.sasl, ssl: kafkajsTls(a.tls) };
}

/** TLS settings of the config (file paths) as kafkajs takes them. */
function kafkajsTls(t: ProxyConfig['audit']['tls']): AuditKafkaConnection['ssl'] {
  return t ? {
    ca: t.ca ? [readFileSync(t.ca)] : undefined, cert: t.cert ? readFileSync(t.cert) : undefined,
    key: t.key ? readFileSync(t.key) : undefined, servername: t.servername, rejectUnauthorized: t.rejectUnauthorized ?? true,
  } : undefined;
}

/** A plain connection to the audited cluster (its TLS settings, no SASL), for discovering its id. */
function upstreamConnection(config: ProxyConfig): AuditKafkaConnection {
  return { brokers: config.upstream.bootstrapServers, clientId: config.audit.clientId, ssl: kafkajsTls(config.upstream.tls) };
}

/**
 * The audit rules in force: `audit.rules`, whose `defaultTopic` defaults to `audit.topic` (so setting
 * audit.topic alone moves the events, and tail/verify read where they are written).
 */
export function auditRulesConfig(a: AuditConfig): RulesConfig {
  const raw = a.rules ?? {};
  const isMapping = typeof raw === 'object' && !Array.isArray(raw);
  return parseRulesConfig(isMapping && !('defaultTopic' in raw) ? { ...raw, defaultTopic: a.topic } : raw);
}

export async function startApp(opts: StartOptions = {}): Promise<App> {
  const config = loadConfig({ file: opts.configFile, env: opts.env ?? process.env, overrides: opts.overrides });
  const log = opts.log ?? createLogger(config.log.level);
  setLogger(log);
  const metrics = new ProxyMetrics();
  installRejectionGuard(log, metrics);
  const proxy = new ProxyServer(config, { metrics, log: log.child({ component: 'proxy' }) });

  let pipeline: AuditPipeline | undefined;
  let sink: AuditSink | undefined;
  let journal: AuditJournal | undefined;
  let checkpoints: CheckpointSigner | undefined;
  if (config.audit.enabled) {
    const a = config.audit;
    const rulesConfig = auditRulesConfig(a);
    const selfPrincipal = a.sasl ? `User:${a.sasl.username}` : undefined;
    const rules = new AuditRules(rulesConfig, { selfPrincipal });
    const connection = auditConnection(config);
    const transport = a.sink === 'file'
      ? new FileTransport(a.filePath, a.spool.fsync !== 'never')
      : new KafkaTransport({
        ...connection, topic: { partitions: a.partitions, replicationFactor: a.replicationFactor, retentionMs: a.retentionMs },
      });
    sink = new AuditSink({
      topics: rules.topics(), lingerMs: a.batch.lingerMs, batchSize: a.batch.maxEvents,
      spool: { dir: join(a.spool.dir, 'spool'), fsync: a.spool.fsync, maxBytes: a.spool.maxBytes },
      failMode: a.failMode, metrics, healthCheckMs: a.healthCheckIntervalMs,
    }, transport);
    const chain = AuditChain.open(join(a.spool.dir, 'chain'), { fsync: a.spool.fsync === 'always' });
    // The audited cluster's id, before the first event: configured, else asked of the audited cluster (through
    // the audit connection when it goes there, else directly, without SASL: a SASL-only upstream then names
    // itself in its first Metadata answer, and audit.clusterId is the way to have it from the start).
    if (a.clusterId) proxy.setClusterId(a.clusterId);
    else if (!a.brokers) proxy.setClusterId(await discoverClusterId(connection, log));
    else {
      const plain = upstreamConnection(config);
      // A SASL-only upstream refuses the plain connection; the audit principal may be known there too.
      proxy.setClusterId(await discoverClusterId(plain, log, !a.sasl) ?? (a.sasl ? await discoverClusterId({ ...plain, sasl: a.sasl }, log) : undefined));
    }
    const auditSink = sink;
    checkpoints = createCheckpointSigner(a.checkpoint, {
      chain, stateDir: join(a.spool.dir, 'chain'), fsync: a.spool.fsync === 'always',
      submit: (event, topic) => auditSink.submit(event, topic), context: () => ({ clusterId: a.clusterId ?? proxy.clusterId() }),
    });
    pipeline = new AuditPipeline({
      rules, sink, chain, metrics, failMode: a.failMode, checkpoints,
      clusterId: () => a.clusterId ?? proxy.clusterId(),
    });
    proxy.auditor = pipeline;
    await sink.start(); // takes the spool directory's lock, which covers the journal beside it
    // Opened with write-ahead off too: what an earlier run left open must still be recorded.
    const opened = await AuditJournal.open({ dir: join(a.spool.dir, 'journal'), fsync: a.spool.fsync });
    journal = opened.journal;
    pipeline.useJournal(journal, a.writeAhead);
    // Operations the previous run wrote ahead but never saw answered: recorded before anything new is accepted.
    if (opened.recovered.length > 0) await pipeline.recoverOpen(opened.recovered);
  }

  await proxy.start();
  let admin: AdminServer | undefined;
  let adminPort: number | undefined;
  if (config.admin.enabled) {
    admin = new AdminServer(metrics, { notReadyReasons: () => notReadyReasons(config, sink) }, log.child({ component: 'admin' }));
    adminPort = await admin.start(config.admin.host, config.admin.port);
  }
  let browser: AuditBrowser | undefined;
  if (admin && config.browser.enabled) {
    browser = new AuditBrowser({
      connection: auditConnection(config), topics: browserTopics(config),
      maxEvents: config.browser.maxEvents, maxBytes: config.browser.maxBytes, auth: config.browser.auth,
      log: log.child({ component: 'audit-browser' }),
    });
    admin.use(browser.route);
    browser.start();
    log.info({ url: `http://${config.admin.host}:${adminPort}/audit`, auth: config.browser.auth ? Object.keys(config.browser.auth).filter((k) => k === 'token' || k === 'basicAuth') : 'none (loopback only)' }, 'audit browser enabled');
  }
  await pipeline?.lifecycle('started', {
    bootstrap: proxy.bootstrapAddress, upstream: config.upstream.bootstrapServers, auditTopic: pipeline?.currentRules.config.defaultTopic ?? config.audit.topic,
    ...(checkpoints ? { checkpoints: checkpoints.describe() } : {}),
  });

  const stopIdleMemory = startIdleMemoryReturn(config.limits.idleMemoryReturnMs, ({ before, after }) => {
    metrics.idleCollections.inc();
    log.debug({ youngGenerationBefore: before, youngGenerationAfter: after }, 'idle: minor GC to give back young-generation memory');
  });

  let stopped = false;
  return {
    config, proxy, metrics, log, pipeline, sink, admin, adminPort, browser,
    async reload() {
      if (!opts.configFile) { log.warn('reload requested but the proxy was started without a config file'); return; }
      try {
        const next = loadConfig({ file: opts.configFile, env: opts.env ?? process.env, overrides: opts.overrides });
        pipeline?.reloadRules(auditRulesConfig(next.audit));
        log.info({ file: opts.configFile }, 'audit rules reloaded');
      } catch (err) {
        log.error({ reason: (err as Error).message }, 'config reload failed; keeping the rules in force');
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      stopIdleMemory();
      await proxy.stop();
      if (pipeline) {
        await pipeline.lifecycle('stopped', { reason: 'shutdown' });
        await pipeline.close();
      }
      await journal?.close();
      await browser?.stop();
      await admin?.stop();
    },
  };
}

/** The topics the audit browser reads: every topic the rules can send events to, and audit.topic. */
function browserTopics(config: ProxyConfig): string[] {
  const rules = new AuditRules(auditRulesConfig(config.audit));
  return [...new Set([...rules.topics(), config.audit.topic])];
}

/** The cluster id, read once at start so the first events already name the cluster. */
async function discoverClusterId(connection: AuditKafkaConnection, log: Logger, last = true): Promise<string | undefined> {
  const admin = createKafka({ ...connection, connectionTimeoutMs: 3000, requestTimeoutMs: 5000 }, 'cluster-id').admin();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('no answer within 8 s')), 8000); });
    const d = await Promise.race([admin.connect().then(() => admin.describeCluster()), timeout]);
    return d.clusterId;
  } catch (err) {
    if (last) {
      log.warn({ reason: (err as Error).message, brokers: connection.brokers },
        'cluster id not discovered at start; it is taken from the first Metadata response (set audit.clusterId to name it from the start)');
    }
    return undefined;
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => {});
  }
}

/** Why the proxy is not ready (empty when ready): no upstream reachable, or the audit sink stopped. */
export async function notReadyReasons(config: ProxyConfig, sink: AuditSink | undefined): Promise<string[]> {
  const reasons: string[] = [];
  const reachable = await Promise.all(config.upstream.bootstrapServers.map((s) => tcpReachable(s, 1500)));
  if (!reachable.some(Boolean)) reasons.push(`no upstream bootstrap server reachable (${config.upstream.bootstrapServers.join(', ')})`);
  if (sink && (sink.sinkState === 'closed' || sink.sinkState === 'stopped')) reasons.push(`audit sink is ${sink.sinkState}`);
  return reasons;
}

function tcpReachable(hostPort: string, timeoutMs: number): Promise<boolean> {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

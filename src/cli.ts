#!/usr/bin/env node
/**
 * kafka-audit-proxy command line: start, tail, verify, version. Each command has --help.
 * Output for people goes to stdout/stderr here (this is the program's user interface, not library code).
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { ConfigError, loadConfig, setPath, type ProxyConfig } from './config.js';
import { startApp, auditConnection, auditRulesConfig } from './app.js';
import { tail, type TailFilter } from './tail.js';
import { verifyTopic } from './audit/verify.js';
import { isClustered, runClustered } from './workers.js';

const HELP: Record<string, string> = {
  main: `kafka-audit-proxy: a Kafka protocol proxy that writes an audit event for every operation.

Usage: kafka-audit-proxy <command> [options]

Commands:
  start     run the proxy
  tail      follow the audit topic, with filters
  verify    check the audit topic's hash chains for gaps, reordering and altered events
  version   print the version

Run "kafka-audit-proxy <command> --help" for a command's options.`,
  start: `Usage: kafka-audit-proxy start [--config FILE] [--set KEY=VALUE ...] [--workers N]

Runs the proxy until SIGTERM/SIGINT (drains in-flight requests, flushes audit events, exits 0).
SIGHUP re-reads FILE and applies its audit rules without dropping connections.

  -c, --config FILE     YAML configuration (reference: the README's Configuration section)
      --set KEY=VALUE   override one setting, e.g. --set listen.bootstrapPort=19092 (repeatable)
      --workers N       run N worker processes sharing the listeners (same as --set workers=N; default 1)
Environment overrides: KAP_<SECTION>_<KEY>, e.g. KAP_UPSTREAM_BOOTSTRAP_SERVERS=b1:9092,b2:9092.`,
  tail: `Usage: kafka-audit-proxy tail [options]

Prints audit events from the audit topic, newest as they arrive.

  -c, --config FILE       take the audit cluster and topic from this configuration
  -b, --brokers LIST      audit cluster bootstrap servers (host:port,...), overrides the config
  -t, --topic NAME        audit topic (default from config: confluent-audit-log-events)
      --principal P       e.g. User:alice (* wildcards allowed)
      --method M          e.g. kafka.DeleteTopics or DeleteTopics
      --resource R        resource name or CRN, e.g. orders or *topic=orders
      --outcome O         success | failure
      --since T           ISO time or a duration ago (30s, 10m, 2h, 7d); reads from there
      --until T           ISO time or duration ago
      --from-beginning    read the whole topic
      --no-follow         stop at the end of the topic
      --json              print JSON lines instead of aligned text
      --max N             stop after N events`,
  verify: `Usage: kafka-audit-proxy verify [options]

Reads the whole audit topic and checks every proxy instance's hash chain. Exit 0 when intact, 1 when
events are missing, reordered, duplicated with different content, or altered; 2 on usage errors.

  -c, --config FILE     take the audit cluster and topic from this configuration
  -b, --brokers LIST    audit cluster bootstrap servers
  -t, --topic NAME      audit topic
      --timeout MS      give up reading after MS milliseconds (default 60000)
      --json            print the full report as JSON`,
  version: 'Usage: kafka-audit-proxy version\n\nPrints the version of kafka-audit-proxy.',
};

export function version(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, '..', 'package.json'), join(here, '..', '..', 'package.json')]) {
    try { return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version; } catch { /* next */ }
  }
  return 'unknown';
}

/** "30s", "10m", "2h", "7d" ago, or an ISO time. */
export function parseTime(s: string, now = Date.now()): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(s);
  if (m) return now - Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new ConfigError(`"${s}" is not a time: use an ISO time (2026-11-25T10:00:00Z) or a duration ago (30s, 10m, 2h, 7d)`);
  return t;
}

function parseSets(sets: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of sets) {
    const i = s.indexOf('=');
    if (i <= 0) throw new ConfigError(`--set ${s}: expected KEY=VALUE, e.g. --set listen.bootstrapPort=19092`);
    const raw = s.slice(i + 1);
    let value: unknown = raw;
    if (/^-?\d+$/.test(raw)) value = Number(raw);
    else if (raw === 'true' || raw === 'false') value = raw === 'true';
    else if (raw.startsWith('[') || raw.startsWith('{')) { try { value = JSON.parse(raw); } catch { /* keep string */ } }
    else if (s.slice(0, i).endsWith('bootstrapServers') || s.slice(0, i).endsWith('brokers')) value = raw.split(',');
    setPath(out, s.slice(0, i).split('.'), value);
  }
  return out;
}

function auditTarget(values: Record<string, unknown>): { config: ProxyConfig; brokers: string[]; topic: string } {
  const config = loadConfig({ file: values.config as string | undefined, env: process.env });
  const brokers = values.brokers ? String(values.brokers).split(',') : (config.audit.brokers ?? config.upstream.bootstrapServers);
  // Where events are written: audit.rules.defaultTopic, which defaults to audit.topic.
  return { config, brokers, topic: (values.topic as string | undefined) ?? auditRulesConfig(config.audit).defaultTopic };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') { process.stdout.write(HELP.main + '\n'); return command ? 0 : 2; }
  if (!(command in HELP)) { process.stderr.write(`unknown command "${command}"\n\n${HELP.main}\n`); return 2; }
  if (rest.includes('--help') || rest.includes('-h')) { process.stdout.write(HELP[command] + '\n'); return 0; }

  if (command === 'version') { process.stdout.write(`kafka-audit-proxy ${version()}\n`); return 0; }

  if (command === 'start') {
    const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, set: { type: 'string', multiple: true }, workers: { type: 'string' } } });
    const overrides = parseSets(values.set ?? []);
    if (values.workers !== undefined) overrides.workers = /^\d+$/.test(values.workers) ? Number(values.workers) : values.workers;
    if (isClustered({ configFile: values.config, overrides })) return runClustered({ configFile: values.config, overrides });
    const app = await startApp({ configFile: values.config, overrides });
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      app.log.info({ signal }, 'shutting down: draining in-flight requests');
      await app.stop();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', () => void app.reload());
    return new Promise<number>(() => {}); // runs until a signal
  }

  if (command === 'tail') {
    const { values } = parseArgs({
      args: rest, options: {
        config: { type: 'string', short: 'c' }, brokers: { type: 'string', short: 'b' }, topic: { type: 'string', short: 't' },
        principal: { type: 'string' }, method: { type: 'string' }, resource: { type: 'string' }, outcome: { type: 'string' },
        since: { type: 'string' }, until: { type: 'string' }, 'from-beginning': { type: 'boolean' }, 'no-follow': { type: 'boolean' },
        json: { type: 'boolean' }, max: { type: 'string' },
      },
    });
    if (values.outcome && !['success', 'failure'].includes(values.outcome)) throw new ConfigError(`--outcome: must be success or failure (got "${values.outcome}")`);
    const { config, brokers, topic } = auditTarget(values);
    const filter: TailFilter = {
      principal: values.principal, method: values.method, resource: values.resource, outcome: values.outcome as TailFilter['outcome'],
      since: values.since ? parseTime(values.since) : undefined, until: values.until ? parseTime(values.until) : undefined,
    };
    const ac = new AbortController();
    process.on('SIGINT', () => ac.abort());
    process.on('SIGTERM', () => ac.abort());
    // stdout is asynchronous when it is a pipe: what the reader has not taken yet waits in memory. Lines are written
    // with backpressure (tail waits for 'drain'), and everything is flushed before returning, because main() ends
    // with process.exit(), which drops pending output (the lines past the pipe's 64 KiB were lost that way).
    const out = process.stdout;
    let outputError: NodeJS.ErrnoException | undefined;
    out.on('error', (e: NodeJS.ErrnoException) => { outputError ??= e; ac.abort(); }); // EPIPE: the reader is gone (| head)
    const writable = () => new Promise<void>((resolve) => {
      const go = () => { out.off('drain', go); out.off('error', go); ac.signal.removeEventListener('abort', go); resolve(); };
      out.on('drain', go);
      out.on('error', go);
      ac.signal.addEventListener('abort', go); // SIGINT/SIGTERM while the reader is stalled: stop anyway
    });
    await tail({
      ...auditConnection(config), brokers, topic, filter, fromBeginning: !!values['from-beginning'], follow: !values['no-follow'],
      json: !!values.json, max: values.max ? Number(values.max) : undefined, signal: ac.signal,
      write: (line) => (outputError || out.write(line + '\n') ? undefined : writable()),
    });
    if (!ac.signal.aborted) await new Promise<void>((resolve) => out.write('', () => resolve())); // all lines handed to the pipe
    if (outputError && outputError.code !== 'EPIPE') throw new Error(`tail: writing to stdout failed: ${outputError.message}`);
    return 0;
  }

  // verify
  const { values } = parseArgs({
    args: rest, options: {
      config: { type: 'string', short: 'c' }, brokers: { type: 'string', short: 'b' }, topic: { type: 'string', short: 't' },
      timeout: { type: 'string' }, json: { type: 'boolean' },
    },
  });
  const { config, brokers, topic } = auditTarget(values);
  const report = await verifyTopic({ ...auditConnection(config), brokers, topic, fromBeginning: true, timeoutMs: values.timeout ? Number(values.timeout) : 60_000 });
  if (values.json) process.stdout.write(JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? String(v) : v), 2) + '\n');
  else {
    process.stdout.write(`topic ${topic}: ${report.events} events from ${report.chain.instances.length} proxy instance(s), ${report.unparseable.length} unparseable record(s)\n`);
    for (const i of report.chain.instances) process.stdout.write(`  instance ${JSON.stringify(i)}\n`);
    for (const p of report.chain.problems) process.stdout.write(`  PROBLEM ${p.kind}: ${JSON.stringify(p)}\n`);
    process.stdout.write(report.ok ? 'OK: every chain is intact\n' : 'FAILED: the audit trail has problems (see above)\n');
  }
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => { if (code !== undefined) process.exit(code); }, (err: Error) => {
  if (err instanceof ConfigError || err.name === 'TypeError' && /parseArgs|Unknown option/.test(err.message) || (err as NodeJS.ErrnoException).code?.startsWith?.('ERR_PARSE_ARGS')) {
    process.stderr.write(`kafka-audit-proxy: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`kafka-audit-proxy: ${err.message}\n`);
  process.exit(1);
});

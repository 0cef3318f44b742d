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
import { verifyTopic, type VerifyReport } from './audit/verify.js';
import { loadPublicKeys, loadSigningKey } from './audit/checkpoint.js';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { isClustered, runClustered } from './workers.js';

const HELP: Record<string, string> = {
  main: `kafka-audit-proxy: a Kafka protocol proxy that writes an audit event for every operation.

Usage: kafka-audit-proxy <command> [options]

Commands:
  start     run the proxy
  tail      follow the audit topic, with filters
  verify    check the audit topic's hash chains for gaps, reordering and altered events, and its signed checkpoints
  checkpoint-key  print (or generate) the key that signs checkpoints
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
      --max N             stop after N events
Needs READ on the audit topic only (no consumer group is used). Exit 3 when access is denied.`,
  verify: `Usage: kafka-audit-proxy verify [options]

Reads the whole audit topic and checks every proxy instance's hash chain. Exit 0 when intact, 1 when
events are missing, reordered, duplicated with different content, or altered; 2 on usage errors; 3 when the
topic may not be read (the missing permission is named). Needs READ on the audit topic only (no consumer group).

  -c, --config FILE     take the audit cluster and topic from this configuration
  -b, --brokers LIST    audit cluster bootstrap servers
  -t, --topic NAME      audit topic
      --public-key FILE  check the signed checkpoints with this public key (PEM; repeat for rotated keys):
                        events not covered by a valid checkpoint, forged events or checkpoints, and truncation
                        are reported. Without it only the hashes are checked.
      --checkpoint-topic NAME  also read checkpoints from this topic (default: audit.checkpoint.topic)
      --margin MS       clock and delivery allowance of the truncation check (default 30000)
      --timeout MS      give up reading after MS milliseconds (default 60000)
      --json            print the full report as JSON`,
  'checkpoint-key': `Usage: kafka-audit-proxy checkpoint-key [-c FILE] | --generate FILE

Prints the public key (PEM) and fingerprint of the configured checkpoint signing key
(audit.checkpoint.privateKeyFile or KAP_AUDIT_CHECKPOINT__PRIVATE_KEY), for verify --public-key.

  -c, --config FILE     take the key from this configuration
      --generate FILE   write a new Ed25519 private key to FILE (mode 0600; an existing file is never
                        overwritten) and print its public key`,
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

  if (command === 'checkpoint-key') {
    const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, generate: { type: 'string' } } });
    let pem: string;
    let fingerprint: string;
    if (values.generate) {
      const { privateKey } = generateKeyPairSync('ed25519');
      try {
        // 'wx': never overwrite a key (a lost old key cannot verify old checkpoints); 0600: readable by its owner only.
        writeFileSync(values.generate, privateKey.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 });
      } catch (e) {
        throw new Error(`checkpoint-key --generate ${values.generate}: cannot create the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); it must not exist yet`);
      }
      ({ publicKeyPem: pem, fingerprint } = loadSigningKey({ file: values.generate }));
      process.stderr.write(`wrote a new Ed25519 private key to ${values.generate} (mode 0600); give the proxy audit.checkpoint.privateKeyFile: ${values.generate}\n`);
    } else {
      const config = loadConfig({ file: values.config, env: process.env });
      ({ publicKeyPem: pem, fingerprint } = loadSigningKey({ pem: config.audit.checkpoint.privateKey, file: config.audit.checkpoint.privateKeyFile }));
    }
    process.stdout.write(`${pem.trimEnd()}\nfingerprint ${fingerprint}\n`);
    return 0;
  }

  // verify
  const { values } = parseArgs({
    args: rest, options: {
      config: { type: 'string', short: 'c' }, brokers: { type: 'string', short: 'b' }, topic: { type: 'string', short: 't' },
      timeout: { type: 'string' }, json: { type: 'boolean' }, 'public-key': { type: 'string', multiple: true },
      'checkpoint-topic': { type: 'string' }, margin: { type: 'string' },
    },
  });
  const { config, brokers, topic } = auditTarget(values);
  const keyFiles = values['public-key'] ?? [];
  const publicKeys = keyFiles.length > 0 ? loadPublicKeys(keyFiles) : undefined;
  if (values.margin !== undefined && !/^\d+$/.test(values.margin)) throw new ConfigError(`--margin: must be a number of milliseconds (got "${values.margin}")`);
  const report = await verifyTopic({
    ...auditConnection(config), brokers, topic, fromBeginning: true, timeoutMs: values.timeout ? Number(values.timeout) : 60_000,
    publicKeys, checkpointTopic: values['checkpoint-topic'] ?? config.audit.checkpoint.topic, marginMs: values.margin !== undefined ? Number(values.margin) : undefined,
  });
  if (values.json) process.stdout.write(JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? String(v) : v), 2) + '\n');
  else printVerifyReport(report, topic);
  return report.ok ? 0 : 1;
}

function printVerifyReport(report: VerifyReport, topic: string): void {
  const out = (s: string) => process.stdout.write(s + '\n');
  out(`topic ${topic}: ${report.events} events from ${report.chain.instances.length} proxy instance(s), ${report.unparseable.length} unparseable record(s)`);
  for (const i of report.chain.instances) out(`  instance ${JSON.stringify(i)}`);
  for (const p of report.chain.problems) out(`  PROBLEM ${p.kind}: ${JSON.stringify(p)}`);
  const c = report.checkpoints;
  if (!c) {
    out('checked hashes only (no --public-key): events appended by anyone who can write to the topic, and removed newest events, are not detected');
  } else {
    out(`checkpoints: ${c.validCheckpoints} valid of ${c.checkpointEvents}, keys ${c.keys.join(', ')}, verified at ${c.verifiedAt} (margin ${c.marginMs} ms)`);
    for (const ch of c.chains) {
      const newest = ch.newestCheckpoint ? `newest ${ch.newestCheckpoint.time} (${ch.newestCheckpoint.reason})` : 'no valid checkpoint';
      out(`  chain ${ch.instance}${ch.stream ? ` stream ${ch.stream}` : ''}: covered up to seq ${ch.coveredSeq} of ${ch.lastSeq}, ${newest}${ch.stopped ? ', stopped' : ''}` +
        (ch.pending > 0 ? `, ${ch.pending} newer event(s) pending (the running instance has not signed them yet)` : ''));
    }
    for (const p of c.problems) out(`  PROBLEM ${p.kind}: ${p.instance}${p.stream ? ` stream ${p.stream}` : ''}${p.seq !== undefined ? ` seq ${p.seq}` : ''}: ${p.detail}`);
  }
  out(report.ok ? (c ? 'OK: every chain is intact and covered by valid signed checkpoints' : 'OK: every chain is intact') : 'FAILED: the audit trail has problems (see above)');
}

main(process.argv.slice(2)).then((code) => { if (code !== undefined) process.exit(code); }, (err: Error) => {
  if (err instanceof ConfigError || err.name === 'TypeError' && /parseArgs|Unknown option/.test(err.message) || (err as NodeJS.ErrnoException).code?.startsWith?.('ERR_PARSE_ARGS')) {
    process.stderr.write(`kafka-audit-proxy: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`kafka-audit-proxy: ${err.message}\n`);
  // Access denied is not "the audit trail has problems" (verify's exit 1): a script can tell the two apart.
  process.exit(err.name === 'AccessDeniedError' ? 3 : 1);
});

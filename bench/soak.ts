/**
 * `npm run soak [-- --minutes 30]`: kafka-audit-proxy under a mixed workload for a long time, then checks that
 * nothing was lost, leaked or left behind.
 *
 * Starts one real Kafka 3.9.1 broker (test/harness, KRaft, StandardAuthorizer) and the proxy as its own process
 * (src/cli.ts start, auditing on, default rules, audit topic on the same broker), then runs for the whole
 * duration, through the proxy: kafkajs producers (acks=all, sequence-numbered records) and a consumer group
 * (a member replaced now and then), a short-lived kafkajs producer every few seconds, kcat and a Kafka CLI tool
 * now and then, an audited admin loop (create topic, alter configs, create partitions, create/delete ACL,
 * delete records, delete topic, delete a group that does not exist), connection churn (connect, ApiVersions,
 * disconnect) and a trickle of malformed frames on raw sockets, next to one long-lived bystander connection.
 * Every few seconds it samples the proxy: RSS and CPU (/proc), heap, open fds, connections, audit
 * pending/spooled/dropped (/metrics), and the audit event lag (broker append time of an admin operation's
 * event - the time the client had the response; the audit topic uses LogAppendTime).
 *
 * At the end: stop the workload, wait for the audit sink to flush, stop the proxy (SIGTERM), run
 * `kafka-audit-proxy verify`, read the audit topic and look up every admin operation's event, then check
 * (exit 1 naming every failed check): every acknowledged record consumed with its content intact, every admin
 * operation audited, no event dropped, chain intact, the proxy never exited before it was stopped and exited 0,
 * every malformed connection closed and counted, the bystander untouched, connections and fds back to their
 * baseline, no unexpected client error, and RSS growth over the second half of the run within bounds.
 * The summary is printed and written to bench/out/soak-<timestamp>.md (and .json).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startKafkaCluster } from '../test/harness/kafka-cluster.js';
import { freePort } from '../test/harness/ports.js';
import { parsePrometheusText, type Scrape } from '../test/admin/prom.js';
import { machine, OUT_DIR, REPO, say, sleep } from './lib/env.js';
import { cpuSeconds, procMemory, startProxyProcess, waitForPort } from './lib/procs.js';
import { fmt, percentile } from './lib/stats.js';
import { createTopics } from './lib/topics.js';
import {
  ADMIN_CLIENT_PREFIX, AdminLedger, adminKey, adminLoop, churningProducer, cliLoop, connectionChurn, ConsumerGroup, DATA_PARTITIONS, DATA_TOPIC,
  DataLedger, Errors, kafka, kcatAvailable, kcatLoop, malformedTrickle, MALFORMED_KINDS, openRaw, pause, steadyProducer, type MalformedCounts, type Stop,
} from './lib/soak-workload.js';

const USAGE = `Usage: npm run soak -- [options]

  --minutes N            workload duration in minutes (default 30)
  --seconds N            workload duration in seconds (overrides --minutes; for short runs)
  --sample-seconds N     sampling interval (default: duration/100, between 1 and 10 s)
  --rate N               records/s produced by the steady kafkajs producers, in total (default 1000)
  --producers N          steady kafkajs producers (default 2)
  --consumers N          consumer group members (default 2)
  --value-bytes N        record value size (default 256)
  --admin-pause-ms N     pause between admin cycles of 8 audited operations (default 200)
  --churn-per-second N   raw connect/ApiVersions/disconnect per second (default 10)
  --malformed-ms N       one malformed frame every N ms (default 2000)
  --client-churn-ms N    a short-lived kafkajs producer every N ms (default 3000)
  --rebalance-seconds N  replace a consumer group member every N s (default 60; 0 = never)
  --kcat-seconds N       kcat -L and kcat -P every N s (default 10; 0 = never; skipped if kcat is missing)
  --cli-seconds N        Kafka TopicCommand --describe every N s (default 120; 0 = never)
  --max-rss-slope N      bound on the RSS slope over the second half, MiB/hour (default 16); the line is fitted
                         to the RSS peak of the trailing --rss-window-seconds (default 120) at each sample
  --rss-noise-mib N      a fitted growth over the second half below this passes whatever the slope (default 4)
  --set KEY=VALUE        extra proxy setting (repeatable), e.g. --set audit.rules.categories.produce=on
  --out-dir DIR          where soak-<timestamp>.md/.json go (default bench/out)`;

const OPTIONS = {
  minutes: { type: 'string' }, seconds: { type: 'string' }, 'sample-seconds': { type: 'string' }, rate: { type: 'string' },
  producers: { type: 'string' }, consumers: { type: 'string' }, 'value-bytes': { type: 'string' }, 'admin-pause-ms': { type: 'string' },
  'churn-per-second': { type: 'string' }, 'malformed-ms': { type: 'string' }, 'client-churn-ms': { type: 'string' },
  'rebalance-seconds': { type: 'string' }, 'kcat-seconds': { type: 'string' }, 'cli-seconds': { type: 'string' },
  'max-rss-slope': { type: 'string' }, 'rss-noise-mib': { type: 'string' }, 'rss-window-seconds': { type: 'string' }, set: { type: 'string', multiple: true }, 'out-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
const parsed = (() => {
  try {
    return parseArgs({ options: OPTIONS });
  } catch (e) {
    process.stderr.write(`soak: ${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
})();
const opt = parsed.values;
if (opt.help) { process.stdout.write(USAGE + '\n'); process.exit(0); }
const num = (name: keyof typeof opt, dflt: number): number => {
  const v = opt[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || n < 0) { process.stderr.write(`soak: --${name} must be a non-negative number (got ${String(v)})\n${USAGE}\n`); process.exit(2); }
  return n;
};
const durationS = opt.seconds !== undefined ? num('seconds', 0) : num('minutes', 30) * 60;
if (durationS < 10) { process.stderr.write('soak: the run must last at least 10 s\n'); process.exit(2); }
const O = {
  durationS,
  sampleS: num('sample-seconds', Math.min(10, Math.max(1, Math.round(durationS / 100)))),
  rate: num('rate', 1000), producers: Math.max(1, num('producers', 2)), consumers: Math.max(1, num('consumers', 2)), valueBytes: num('value-bytes', 256),
  adminPauseMs: num('admin-pause-ms', 200), churnPerSecond: num('churn-per-second', 10), malformedMs: num('malformed-ms', 2000),
  clientChurnMs: num('client-churn-ms', 3000), rebalanceS: num('rebalance-seconds', 60), kcatS: num('kcat-seconds', 10), cliS: num('cli-seconds', 120),
  maxRssSlope: num('max-rss-slope', 16), rssNoiseMiB: num('rss-noise-mib', 4), rssWindowS: Math.max(1, num('rss-window-seconds', 120)),
  sets: Object.fromEntries((opt.set ?? []).map((s) => {
    const i = s.indexOf('=');
    if (i <= 0) { process.stderr.write(`soak: --set takes KEY=VALUE (got ${s})\n`); process.exit(2); }
    return [s.slice(0, i), s.slice(i + 1)];
  })),
  outDir: opt['out-dir'] ?? OUT_DIR,
};
// The test runner's variables (KAP_TEST_CLUSTER_3) would be read by the proxy as unknown settings.
for (const k of Object.keys(process.env)) if (k.startsWith('KAP_TEST_')) delete process.env[k];

const AUDIT_TOPIC = 'confluent-audit-log-events';
const MiB = 2 ** 20;
const tStart = Date.now();
const stamp = new Date(tStart).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const tag = String(tStart % 1e8);
const host = machine();
// Whatever happens, the run ends: the workload's duration plus 10 minutes for setup, flush and checks.
setTimeout(() => { say(`soak: still running ${O.durationS + 600} s after start; giving up`); process.exit(3); }, (O.durationS + 600) * 1000).unref();

interface Sample {
  t: number; rssMiB: number; heapUsedMiB: number; heapTotalMiB: number; fds: number; connections: number; cpuS: number;
  pending: number; spooled: number; dropped: number; events: number; spoolBytes: number;
  produced: number; consumed: number; adminOps: number; churn: number; malformed: number;
  lagP50Ms: number; lagMaxMs: number; bystanderMs: number;
}

interface Check { name: string; ok: boolean; value: string; bound: string }

async function scrape(adminUrl: string): Promise<Scrape> {
  const r = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!r.ok) throw new Error(`/metrics: HTTP ${r.status}`);
  return parsePrometheusText(await r.text());
}

/** Largest value (0 for none), without spreading a long array into arguments. */
const maxOf = (xs: number[]): number => xs.reduce((m, x) => (x > m ? x : m), 0);

/** Least-squares line through (x, y): slope and intercept. */
function linearFit(xs: number[], ys: number[]): { slope: number; intercept: number } {
  const n = xs.length;
  if (n < 2) return { slope: NaN, intercept: NaN };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) ** 2; }
  const slope = sxx === 0 ? NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/** Reads the audit topic up to its current end: events per method, lifecycle events, keys of the admin loop's operations. */
async function readAuditTopic(bootstrap: string): Promise<{ records: number; keys: Set<string>; methods: Map<string, number>; lifecycle: string[]; unparseable: number }> {
  const k = kafka(bootstrap, 'soak-audit-reader');
  const admin = k.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(AUDIT_TOPIC);
  await admin.disconnect();
  const remaining = new Map(ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]));
  const out = { records: 0, keys: new Set<string>(), methods: new Map<string, number>(), lifecycle: [] as string[], unparseable: 0 };
  if (remaining.size === 0) return out;
  const consumer = k.consumer({ groupId: `soak-audit-reader-${tag}`, maxBytesPerPartition: 8 * MiB, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: AUDIT_TOPIC, fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`audit topic not read to its end in 180 s (${[...remaining.keys()].join(', ')} left)`)), 180_000);
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const high = remaining.get(batch.partition);
          if (high === undefined) return;
          for (const m of batch.messages) {
            if (Number(m.offset) >= high) break;
            out.records++;
            try {
              const e = JSON.parse(m.value!.toString()) as { data?: { methodName?: string; request?: { client_id?: string | null }; authorizationInfo?: { resourceType?: string; resourceName?: string } } };
              const d = e.data!;
              out.methods.set(d.methodName!, (out.methods.get(d.methodName!) ?? 0) + 1);
              if (d.methodName!.startsWith('proxy.')) out.lifecycle.push(d.methodName!);
              if (d.request?.client_id?.startsWith(ADMIN_CLIENT_PREFIX) && d.authorizationInfo) {
                out.keys.add(adminKey(d.methodName!, d.authorizationInfo.resourceType!, d.authorizationInfo.resourceName!));
              }
            } catch { out.unparseable++; }
          }
          if (Number(batch.lastOffset()) + 1 >= high) remaining.delete(batch.partition);
          if (remaining.size === 0) { clearTimeout(timer); resolve(); }
        },
      });
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return out;
}

/** `kafka-audit-proxy verify` in a child process, as an operator runs it. */
function verifyCli(bootstrap: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KAP_')) env[k] = v;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'verify', '-b', bootstrap, '-t', AUDIT_TOPIC, '--timeout', '180000'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { if (await cond()) return true; } catch { /* retry */ }
    if (Date.now() > deadline) { say(`  ${what}: not reached in ${timeoutMs / 1000} s`); return false; }
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------------------------------------------

say(`kafka-audit-proxy soak: ${fmt(O.durationS / 60, 1)} min of workload, sample every ${O.sampleS} s; ${host.nproc} CPUs (${host.cpu}), ${host.ram}, node ${host.node}`);
const cluster = await startKafkaCluster({ brokers: 1 });
const direct = cluster.plainBootstrap;
say(`Kafka broker ready (${((Date.now() - tStart) / 1000).toFixed(1)} s): ${direct}`);
const runDir = join(REPO, '.run', `soak-${stamp}-${process.pid}`);
const proxyLog = join(OUT_DIR, `soak-proxy-${stamp}.log`);
mkdirSync(runDir, { recursive: true });

const errors = new Errors();
const stop: Stop = { stopped: false };
const ledger = new DataLedger(O.valueBytes);
const adminLedger = new AdminLedger();
const counters = { sends: 0, clientChurn: { clients: 0 }, churn: { connections: 0 }, kcat: { runs: 0 }, cli: { runs: 0 }, bystanderProbes: 0 };
const malformed: MalformedCounts = { sent: 0, closed: 0, notClosed: 0, byKind: {}, byReason: {}, closeMs: [] };
const samples: Sample[] = [];
const lags: number[] = [];
let proxyExit: { code: number | null; atS: number } | undefined;
let proxyStoppedByUs = false;
let exitCode: number | null = null;
let report = '';
let checks: Check[] = [];

try {
  const adminDirect = kafka(direct, 'soak-setup').admin();
  await adminDirect.connect();
  await createTopics(adminDirect, [
    // LogAppendTime: an event's timestamp is when the broker appended it (for the event lag).
    { topic: AUDIT_TOPIC, numPartitions: 3, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] },
    { topic: DATA_TOPIC, numPartitions: DATA_PARTITIONS },
  ]);
  await adminDirect.disconnect();

  const bootstrapPort = await freePort();
  const adminPort = await freePort();
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const proxy = await startProxyProcess({
    name: `soak-proxy-${stamp}`, upstream: direct, bootstrapPort, brokerPortBase: (await freePort()) - 1 /* broker 1 on a free port */, adminPort, spoolDir: join(runDir, 'spool'), sets: O.sets,
  });
  void proxy.exited.then((code) => { proxyExit = { code, atS: (Date.now() - tStart) / 1000 }; if (!proxyStoppedByUs) say(`!! the proxy exited (code ${code}) while the soak was running`); });
  const bootstrap = `127.0.0.1:${bootstrapPort}`;
  say(`proxy pid ${proxy.pid} on ${bootstrap}, admin ${adminUrl}, log ${proxyLog}`);
  {
    // Open the per-broker listeners before clients are told about them.
    const a = kafka(bootstrap, 'soak-warmup').admin();
    await a.connect();
    const { brokers } = await a.describeCluster();
    for (const b of brokers) await waitForPort(b.port, 30_000, proxy);
    await a.disconnect();
  }

  // The audit event lag, live: a consumer of the audit topic (direct) notes when each admin operation's event landed.
  const landed = new Map<string, number>();
  const tail = kafka(direct, 'soak-audit-tail').consumer({ groupId: `soak-audit-tail-${tag}`, maxWaitTimeInMs: 100 });
  await tail.connect();
  await tail.subscribe({ topic: AUDIT_TOPIC, fromBeginning: true });
  await tail.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        try {
          const d = (JSON.parse(m.value!.toString()) as { data: { methodName: string; request?: { client_id?: string | null }; authorizationInfo?: { resourceType: string; resourceName: string } } }).data;
          if (d.request?.client_id?.startsWith(ADMIN_CLIENT_PREFIX) && d.authorizationInfo) {
            landed.set(adminKey(d.methodName, d.authorizationInfo.resourceType, d.authorizationInfo.resourceName), Number(m.timestamp));
          }
        } catch { /* counted by the final read */ }
      }
    },
  });
  let resolvedUpTo = 0; // ops before this index have their lag measured (or were found missing later)
  const unresolved: number[] = [];
  const measureLags = (): number[] => {
    const now: number[] = [];
    for (; resolvedUpTo < adminLedger.ops.length; resolvedUpTo++) unresolved.push(resolvedUpTo);
    for (let i = unresolved.length - 1; i >= 0; i--) {
      const op = adminLedger.ops[unresolved[i]];
      const at = landed.get(op.key);
      if (at !== undefined) { now.push(at - op.doneAt); landed.delete(op.key); unresolved.splice(i, 1); }
    }
    lags.push(...now);
    return now;
  };

  // The bystander: one connection that must live through the whole run.
  const bystander = await openRaw(bootstrapPort);
  if ((await bystander.apiVersions()) !== 0) throw new Error('bystander: ApiVersions failed');
  const group = new ConsumerGroup(bootstrap, `soak-group-${tag}`, ledger, errors);
  await group.start(O.consumers);
  const kcatOk = O.kcatS > 0 && await kcatAvailable();
  if (O.kcatS > 0 && !kcatOk) say('kcat not found: its part of the workload is skipped');

  const base = await scrape(adminUrl);
  const baseline = { connections: base.sum('kafka_proxy_connections_active'), fds: base.sum('process_open_fds'), rss: procMemory(proxy.pid).rss, cpu: cpuSeconds(proxy.pid) };
  const baseErrors = Object.fromEntries(MALFORMED_KINDS.map((k) => [k.reason, base.sum('kafka_proxy_connection_errors_total', { reason: k.reason })]));
  say(`baseline: ${baseline.connections} connections (consumers and bystander), ${baseline.fds} fds, RSS ${fmt(baseline.rss / MiB, 1)} MiB`);

  // ---------------------------------------------------------------------------------------------------------------
  // The workload
  const t0 = Date.now();
  const tS = () => (Date.now() - t0) / 1000;
  say(`workload started; ends in ${O.durationS} s`);
  const perProducer = O.rate / O.producers;
  const loops: Array<Promise<void>> = [];
  const guard = (kind: string, p: Promise<void>) => loops.push(p.catch((e) => errors.note(kind, e)));
  for (let i = 0; i < O.producers; i++) guard('produce', steadyProducer(bootstrap, ledger, ledger.addLane(`kafkajs producer ${i}`), perProducer, stop, errors, counters));
  if (O.clientChurnMs > 0) guard('churn-producer', churningProducer(bootstrap, ledger, ledger.addLane('kafkajs short-lived producers'), O.clientChurnMs, stop, errors, counters.clientChurn));
  if (kcatOk) guard('kcat', kcatLoop(bootstrap, ledger, ledger.addLane('kcat'), O.kcatS * 1000, stop, errors, counters.kcat));
  if (O.cliS > 0) guard('cli', (async () => { await sleep(Math.min(5000, O.durationS * 200)); await cliLoop(bootstrap, O.cliS * 1000, stop, errors, counters.cli); })());
  guard('admin', adminLoop(bootstrap, tag, adminLedger, O.adminPauseMs, stop, errors));
  if (O.churnPerSecond > 0) guard('churn', connectionChurn(bootstrapPort, O.churnPerSecond, stop, errors, counters.churn));
  if (O.malformedMs > 0) guard('malformed', malformedTrickle(bootstrapPort, O.malformedMs, stop, errors, malformed));
  if (O.rebalanceS > 0) {
    guard('rebalance', (async () => {
      for (;;) {
        await pause(stop, O.rebalanceS * 1000);
        if (stop.stopped) return;
        await group.replaceOne();
      }
    })());
  }

  // Sampling, until the duration is over.
  let lastProgress = 0;
  const sampleOnce = async (): Promise<void> => {
    let sc: Scrape | undefined;
    try { sc = await scrape(adminUrl); } catch (e) { errors.note('metrics', e); }
    let bystanderMs = NaN;
    try {
      const t = performance.now();
      if ((await bystander.apiVersions()) !== 0) throw new Error('ApiVersions error code');
      bystanderMs = performance.now() - t;
      counters.bystanderProbes++;
    } catch (e) { errors.note('bystander', e); }
    let mem = { rss: NaN };
    try { mem = procMemory(proxy.pid); } catch { /* exited */ }
    const lagNow = measureLags();
    const s: Sample = {
      t: tS(), rssMiB: mem.rss / MiB,
      heapUsedMiB: (sc?.sum('nodejs_heap_size_used_bytes') ?? NaN) / MiB, heapTotalMiB: (sc?.sum('nodejs_heap_size_total_bytes') ?? NaN) / MiB,
      fds: sc?.sum('process_open_fds') ?? NaN, connections: sc?.sum('kafka_proxy_connections_active') ?? NaN,
      cpuS: (() => { try { return cpuSeconds(proxy.pid) - baseline.cpu; } catch { return NaN; } })(),
      pending: sc?.sum('kafka_audit_sink_pending_events') ?? NaN, spooled: sc?.sum('kafka_audit_events_spooled_total') ?? NaN,
      dropped: sc?.sum('kafka_audit_events_dropped_total') ?? NaN, events: sc?.sum('kafka_audit_events_total') ?? NaN,
      spoolBytes: sc?.sum('kafka_audit_spool_bytes') ?? NaN,
      produced: ledger.acked, consumed: ledger.consumedUnique, adminOps: adminLedger.ops.length, churn: counters.churn.connections, malformed: malformed.sent,
      lagP50Ms: percentile(lagNow, 50), lagMaxMs: lagNow.length ? Math.max(...lagNow) : NaN, bystanderMs,
    };
    samples.push(s);
    if (s.t - lastProgress >= Math.max(10, O.durationS / 30) || s.t >= O.durationS) {
      lastProgress = s.t;
      say(`  ${fmt(s.t, 0).padStart(5)} s  RSS ${fmt(s.rssMiB, 1)} MiB  heap ${fmt(s.heapUsedMiB, 1)} MiB  fds ${s.fds}  conns ${s.connections}  produced ${s.produced}  consumed ${s.consumed}  ` +
        `admin ops ${s.adminOps}  churn ${s.churn}  malformed ${s.malformed}  pending ${s.pending}  lag max ${fmt(s.lagMaxMs, 0)} ms  errors ${errors.total}`);
    }
  };
  while (tS() < O.durationS && !proxyExit) {
    const next = t0 + (samples.length + 1) * O.sampleS * 1000;
    await sleep(Math.max(0, Math.min(next, t0 + O.durationS * 1000) - Date.now()));
    await sampleOnce();
  }
  const workloadS = tS();

  // ---------------------------------------------------------------------------------------------------------------
  // Stop and drain
  say('stopping the workload');
  stop.stopped = true;
  await Promise.race([Promise.all(loops), sleep(120_000).then(() => errors.note('shutdown', new Error('workload loops did not stop in 120 s')))]);
  const caughtUp = await until('consumer caught up', () => ledger.missing() === 0, 90_000);
  await group.stop();
  say(`  consumers stopped (caught up: ${caughtUp})`);
  const bystanderOpen = !bystander.closed;
  try { if ((await bystander.apiVersions()) === 0) counters.bystanderProbes++; } catch (e) { errors.note('bystander', e); }
  const flushed = await until('audit sink flushed', async () => { const s = await scrape(adminUrl); return s.sum('kafka_audit_sink_pending_events') === 0 && s.sum('kafka_audit_spool_bytes') === 0; }, 120_000);
  // Everything but the bystander is closed: the proxy's connections and fds go back to the baseline (the consumers were part of it).
  const expectConns = 1;
  let final = await scrape(adminUrl);
  await until('connections back to the bystander only', async () => { final = await scrape(adminUrl); return final.sum('kafka_proxy_connections_active') <= expectConns; }, 30_000);
  await until('fds back to baseline', async () => { final = await scrape(adminUrl); return final.sum('process_open_fds') <= baseline.fds; }, 15_000);
  measureLags();
  await tail.disconnect().catch(() => undefined);
  final = await scrape(adminUrl);
  const endRss = procMemory(proxy.pid).rss;
  const proxyCpu = cpuSeconds(proxy.pid) - baseline.cpu;
  const exitedDuringRun = proxyExit !== undefined;
  bystander.destroy();
  say('stopping the proxy (SIGTERM)');
  proxyStoppedByUs = true;
  const tStop = Date.now();
  await proxy.stop(30_000);
  exitCode = proxyExit ? (proxyExit as { code: number | null }).code : null;
  const stopMs = Date.now() - tStop;

  say('kafka-audit-proxy verify');
  const ver = await verifyCli(direct);
  const verLine = /(\d+) events from (\d+) proxy instance/.exec(ver.stdout);
  say(`  exit ${ver.code}: ${ver.stdout.trim().split('\n').filter((l) => !l.startsWith('  instance')).join(' | ')}`);
  say('reading the audit topic');
  const audit = await readAuditTopic(direct);
  const missingOps = adminLedger.ops.filter((o) => !audit.keys.has(o.key));
  say(`  ${audit.records} events; admin operations ${adminLedger.ops.length}, found ${adminLedger.ops.length - missingOps.length}, missing ${missingOps.length}`);

  // ---------------------------------------------------------------------------------------------------------------
  // Checks
  const connErrDelta = Object.fromEntries(Object.keys(baseErrors).map((r) => [r, final.sum('kafka_proxy_connection_errors_total', { reason: r }) - baseErrors[r]]));
  const sentByReason = malformed.byReason;
  const droppedTotal = final.sum('kafka_audit_events_dropped_total');
  const droppedByReason = final.find('kafka_audit_events_dropped_total').filter((s) => s.value > 0).map((s) => `${s.labels.reason}=${s.value}`).join(', ');
  // RSS follows V8 growing and shrinking its heap (swings of ~30 MiB that last a minute or more), which a line
  // through the raw samples of a short half mistakes for growth or shrinkage. The bound is therefore checked on the
  // RSS peak of the trailing window at each sample (a leak lifts every peak; a heap shrink does not lower it);
  // the slope of the raw samples is printed too.
  const rssOk = samples.filter((s) => Number.isFinite(s.rssMiB));
  const peakRss = rssOk.map((s) => Math.max(...rssOk.filter((x) => x.t <= s.t && x.t > s.t - O.rssWindowS).map((x) => x.rssMiB)));
  const inHalf = rssOk.map((s) => s.t >= workloadS / 2);
  const secondHalf = rssOk.filter((_, i) => inHalf[i]);
  const halfT = secondHalf.map((s) => s.t);
  const rawSlopeMiBh = linearFit(halfT, secondHalf.map((s) => s.rssMiB)).slope * 3600;
  const slopeMiBh = linearFit(halfT, peakRss.filter((_, i) => inHalf[i])).slope * 3600;
  const halfS = secondHalf.length ? secondHalf[secondHalf.length - 1].t - secondHalf[0].t : 0;
  const fittedGrowth = (slopeMiBh / 3600) * halfS;
  const heapFit = linearFit(secondHalf.map((s) => s.t), secondHalf.map((s) => s.heapUsedMiB));
  const missingRecords = ledger.missing();
  const check = (name: string, ok: boolean, value: string, bound: string) => checks.push({ name, ok, value, bound });
  check('proxy never exited during the run', !exitedDuringRun, exitedDuringRun ? `exited with code ${proxyExit!.code} at ${fmt(proxyExit!.atS, 0)} s` : `pid ${proxy.pid} alive for ${fmt(workloadS, 0)} s of workload`, 'alive until SIGTERM');
  check('proxy exits 0 on SIGTERM', exitCode === 0, `exit ${exitCode}, ${fmt(stopMs, 0)} ms after SIGTERM`, 'exit 0');
  check('every acknowledged record consumed', missingRecords === 0 && caughtUp, `${ledger.acked} acknowledged, ${ledger.consumedUnique} consumed (unique), ${missingRecords} missing`, '0 missing');
  check('consumed records intact and known', ledger.corrupt === 0 && ledger.unknown === 0, `${ledger.corrupt} corrupt, ${ledger.unknown} unknown`, '0 and 0');
  check('produced checksum = consumed checksum', ledger.failedSends > 0 || ledger.ackedChecksum === ledger.consumedChecksum,
    ledger.failedSends > 0 ? `n/a (${ledger.failedSends} records in failed sends)` : `${ledger.ackedChecksum.toString(16)} / ${ledger.consumedChecksum.toString(16)}`, 'equal');
  check('every admin operation has its audit event', missingOps.length === 0 && adminLedger.ops.length > 0,
    `${adminLedger.ops.length - missingOps.length} of ${adminLedger.ops.length} found` + (missingOps.length ? ` (missing e.g. ${missingOps.slice(0, 3).map((o) => o.key).join('; ')})` : ''), 'all');
  check('no audit event dropped', droppedTotal === 0, `kafka_audit_events_dropped_total ${droppedTotal}${droppedByReason ? ` (${droppedByReason})` : ''}`, '0');
  check('audit sink flushed', flushed, `pending ${final.sum('kafka_audit_sink_pending_events')}, spool ${final.sum('kafka_audit_spool_bytes')} bytes`, '0 and 0');
  check('audit chain verifies (kafka-audit-proxy verify)', ver.code === 0, `exit ${ver.code}, ${verLine ? `${verLine[1]} events, ${verLine[2]} instance(s)` : ver.stderr.trim().slice(0, 200)}`, 'exit 0');
  check('proxy lifecycle events', audit.lifecycle.includes('proxy.Started') && audit.lifecycle.at(-1) === 'proxy.Stopped', audit.lifecycle.join(', '), 'Started ... Stopped');
  const reasonsOk = Object.keys(sentByReason).every((r) => connErrDelta[r] === sentByReason[r]);
  check('malformed connections closed and counted', malformed.sent > 0 && malformed.closed === malformed.sent && reasonsOk,
    `${malformed.closed}/${malformed.sent} closed; metric +${Object.entries(connErrDelta).map(([r, n]) => `${r} ${n}`).join(', ')} for ${Object.entries(sentByReason).map(([r, n]) => `${r} ${n}`).join(', ')} sent`, 'all closed, metric = sent per reason');
  check('bystander connection untouched', bystanderOpen && !errors.byKind.has('bystander'), `${counters.bystanderProbes} ApiVersions probes answered, ${bystanderOpen ? 'still open' : 'CLOSED'}`, 'open, every probe answered');
  const endConns = final.sum('kafka_proxy_connections_active');
  const endFds = final.sum('process_open_fds');
  check('connections back to baseline', endConns <= expectConns, `${endConns} open after the workload (bystander only expected)`, `<= ${expectConns}`);
  check('open fds back to baseline', endFds <= baseline.fds, `${endFds} (baseline ${baseline.fds}, max ${Math.max(...samples.map((s) => s.fds).filter(Number.isFinite))})`, `<= ${baseline.fds}`);
  check('no unexpected client errors', errors.total === 0, errors.total === 0 ? '0' : [...errors.byKind].map(([k, e]) => `${k} ${e.count}`).join(', '), '0');
  // A leak shows as a steady slope. Over a short half the fit mostly sees warm-up and GC noise, so a run passes
  // either on the slope or, when the fitted growth is within the noise floor, on that (the value says which).
  const slopeOk = Number.isFinite(slopeMiBh) && slopeMiBh <= O.maxRssSlope;
  const floorOk = Number.isFinite(fittedGrowth) && fittedGrowth <= O.rssNoiseMiB;
  check('RSS growth over the second half', slopeOk || floorOk,
    `slope ${fmt(slopeMiBh, 1)} MiB/h = ${fmt(fittedGrowth, 2)} MiB over ${fmt(halfS / 60, 1)} min (${secondHalf.length} samples; peak of trailing ${O.rssWindowS} s)` +
      (slopeOk ? '' : floorOk ? ': above the slope bound, within the noise floor' : ''),
    `<= ${O.maxRssSlope} MiB/h, or fitted growth <= ${O.rssNoiseMiB} MiB`);

  // ---------------------------------------------------------------------------------------------------------------
  // Report
  const L: string[] = [];
  const out = (s = '') => L.push(s);
  const numeric = (c: string) => /^(-?[\d,.]+|n\/a|-)$/.test(c);
  const table = (head: string[], rows: string[][]) => {
    out(`| ${head.join(' | ')} |`);
    out(`|${head.map((_, i) => (i > 0 && rows.every((r) => numeric(r[i])) ? '---:' : '---')).join('|')}|`);
    for (const r of rows) out(`| ${r.join(' | ')} |`);
    out();
  };
  const failed = checks.filter((c) => !c.ok);
  const rate = (n: number) => fmt(n / workloadS, 1);
  out(`# Soak run ${new Date(tStart).toISOString()}: ${failed.length === 0 ? 'PASS' : `FAIL (${failed.map((c) => c.name).join('; ')})`}`);
  out();
  out(`${fmt(workloadS / 60, 1)} min of workload (\`npm run soak -- ${process.argv.slice(2).join(' ')}\`), ${samples.length} samples every ${O.sampleS} s; ` +
    `machine: ${host.nproc} CPUs (${host.cpu}), ${host.ram}, node ${host.node}, ${host.java}, Kafka 3.9.1 (1 broker, KRaft). ` +
    `Proxy: src/cli.ts start in its own process, default audit rules${Object.keys(O.sets).length ? ` plus ${Object.entries(O.sets).map(([k, v]) => `${k}=${v}`).join(', ')}` : ''}, audit topic on the same broker.`);
  out();
  out('## Work done through the proxy');
  out();
  table(['workload', 'count', 'per second', 'detail'], [
    ['records produced (acknowledged)', String(ledger.acked), rate(ledger.acked), `${ledger.laneNames.length} lanes: ${ledger.laneNames.join(', ')}; ${counters.sends} kafkajs sends, acks=all, ${O.valueBytes}-byte values`],
    ['records consumed (unique)', String(ledger.consumedUnique), rate(ledger.consumedUnique), `${ledger.consumedRecords} delivered, ${ledger.duplicates} redelivered after rebalances; group of ${O.consumers}`],
    ['consumer group rebalances (joins)', String(group.rebalances), rate(group.rebalances), `a member replaced every ${O.rebalanceS || '-'} s`],
    ['short-lived kafkajs producers', String(counters.clientChurn.clients), rate(counters.clientChurn.clients), 'connect, send 5 records, disconnect'],
    ['kcat runs', String(counters.kcat.runs), rate(counters.kcat.runs), kcatOk ? '-L and -P (5 records each)' : 'kcat not run'],
    ['Kafka CLI runs', String(counters.cli.runs), rate(counters.cli.runs), 'TopicCommand --describe'],
    ['audited admin operations', String(adminLedger.ops.length), rate(adminLedger.ops.length),
      `${adminLedger.cycles} cycles: ${[...adminLedger.byMethod].map(([m, n]) => `${m} ${n}`).join(', ')} (${adminLedger.expectedFailures} expected GROUP_ID_NOT_FOUND)`],
    ['connection churn', String(counters.churn.connections), rate(counters.churn.connections), 'raw connect, ApiVersions, disconnect'],
    ['malformed frames', String(malformed.sent), rate(malformed.sent), `${Object.entries(malformed.byKind).map(([k, n]) => `${k} ${n}`).join(', ')}; closed after p50 ${fmt(percentile(malformed.closeMs, 50), 0)} ms, max ${fmt(maxOf(malformed.closeMs), 0)} ms`],
    ['audit events checked', String(adminLedger.ops.length - missingOps.length), '-', `${audit.records} events on the audit topic, ${audit.unparseable} unparseable`],
  ]);
  out('## Proxy resources');
  out();
  const col = (k: keyof Sample) => samples.map((s) => s[k]).filter(Number.isFinite);
  const row = (name: string, k: keyof Sample, d = 1, endV?: number) => {
    const v = col(k);
    return [name, fmt(v[0], d), fmt(endV ?? v[v.length - 1], d), fmt(Math.min(...v), d), fmt(Math.max(...v), d)];
  };
  table(['metric', 'first sample', 'last sample', 'min', 'max'], [
    row('RSS (MiB, /proc VmRSS)', 'rssMiB', 1),
    row('heap used (MiB, nodejs_heap_size_used_bytes)', 'heapUsedMiB', 1),
    row('heap total (MiB)', 'heapTotalMiB', 1),
    row('open fds (process_open_fds)', 'fds', 0),
    row('client connections (kafka_proxy_connections_active)', 'connections', 0),
    row('audit events pending (kafka_audit_sink_pending_events)', 'pending', 0),
    row('audit events spooled (total)', 'spooled', 0),
    row('audit events dropped (total)', 'dropped', 0),
    row('audit events produced (kafka_audit_events_total)', 'events', 0),
    row('event lag p50 per interval (ms)', 'lagP50Ms', 0),
    row('event lag max per interval (ms)', 'lagMaxMs', 0),
    row('bystander ApiVersions (ms)', 'bystanderMs', 2),
  ]);
  out(`RSS at baseline (before the workload) ${fmt(baseline.rss / MiB, 1)} MiB, after the workload (drained) ${fmt(endRss / MiB, 1)} MiB. ` +
    `Second half (${fmt(halfS / 60, 1)} min, ${secondHalf.length} samples): RSS slope ${fmt(slopeMiBh, 1)} MiB/h ` +
    `(linear fit of the RSS peak over the trailing ${O.rssWindowS} s; ${fmt(fittedGrowth, 2)} MiB over the half), ${fmt(rawSlopeMiBh, 1)} MiB/h through the raw samples, ` +
    `heap used slope ${fmt(heapFit.slope * 3600, 1)} MiB/h. Proxy CPU ${fmt(proxyCpu, 1)} s (${fmt((proxyCpu / workloadS) * 100, 0)}% of one core). ` +
    `Event lag over the run (broker append time of the event - time the client had the response; negative when the busy client ` +
    `process got to the response after the event had landed): p50 ${fmt(percentile(lags, 50), 0)} ms, p99 ${fmt(percentile(lags, 99), 0)} ms, max ${fmt(maxOf(lags), 0)} ms (${lags.length} events).`);
  out();
  out('## Checks');
  out();
  table(['check', 'result', 'measured', 'bound'], checks.map((c) => [c.name, c.ok ? 'pass' : '**FAIL**', c.value, c.bound]));
  if (errors.total > 0) {
    out('## Unexpected errors (first few of each kind)');
    out();
    for (const [k, e] of errors.byKind) { out(`- ${k} (${e.count}):`); for (const s of e.samples) out(`  - ${s.replace(/\|/g, '\\|')}`); }
    out();
  }
  out('## Samples');
  out();
  const step = Math.max(1, Math.ceil(samples.length / 30));
  table(['t (s)', 'RSS MiB', 'heap MiB', 'fds', 'conns', 'pending', 'events', 'produced', 'consumed', 'admin ops', 'churn', 'malformed', 'lag max ms', 'CPU s'],
    samples.filter((_, i) => i % step === 0 || i === samples.length - 1).map((s) => [fmt(s.t, 0), fmt(s.rssMiB, 1), fmt(s.heapUsedMiB, 1), String(s.fds), String(s.connections),
      String(s.pending), String(s.events), String(s.produced), String(s.consumed), String(s.adminOps), String(s.churn), String(s.malformed), fmt(s.lagMaxMs, 0), fmt(s.cpuS, 1)]));
  out(`Proxy log: ${proxyLog}. Total run time ${fmt((Date.now() - tStart) / 1000, 0)} s.`);
  report = L.join('\n') + '\n';

  const summary = {
    date: new Date(tStart).toISOString(), host, options: O, workloadSeconds: workloadS, pass: failed.length === 0, failed: failed.map((c) => c.name),
    work: {
      produced: ledger.acked, consumed: ledger.consumedUnique, delivered: ledger.consumedRecords, duplicates: ledger.duplicates, rebalances: group.rebalances,
      shortLivedProducers: counters.clientChurn.clients, kcatRuns: counters.kcat.runs, cliRuns: counters.cli.runs,
      adminOps: adminLedger.ops.length, adminCycles: adminLedger.cycles, adminByMethod: Object.fromEntries(adminLedger.byMethod),
      churnConnections: counters.churn.connections, malformedFrames: malformed.sent, malformedByKind: malformed.byKind,
      eventsChecked: adminLedger.ops.length - missingOps.length, auditEventsOnTopic: audit.records, bystanderProbes: counters.bystanderProbes, samples: samples.length,
    },
    resources: {
      baselineRssMiB: baseline.rss / MiB, firstRssMiB: samples[0]?.rssMiB, lastRssMiB: samples.at(-1)?.rssMiB, endRssMiB: endRss / MiB,
      maxRssMiB: Math.max(...col('rssMiB')), rssSlopeMiBPerHour: slopeMiBh, rssRawSlopeMiBPerHour: rawSlopeMiBh, rssFittedGrowthMiB: fittedGrowth, heapSlopeMiBPerHour: heapFit.slope * 3600,
      baselineFds: baseline.fds, endFds, endConnections: endConns, proxyCpuSeconds: proxyCpu,
      eventLagMs: { p50: percentile(lags, 50), p99: percentile(lags, 99), max: maxOf(lags), n: lags.length },
    },
    checks, errors: Object.fromEntries(errors.byKind), samples,
  };
  mkdirSync(O.outDir, { recursive: true });
  const md = join(O.outDir, `soak-${stamp}.md`);
  writeFileSync(md, report);
  writeFileSync(join(O.outDir, `soak-${stamp}.json`), JSON.stringify(summary, null, 1));
  process.stdout.write('\n' + report);
  say(`summary written to ${md}`);
} catch (e) {
  say(`soak: aborted: ${(e as Error).stack ?? String(e)}`);
  checks.push({ name: 'soak ran to the end', ok: false, value: (e as Error).message, bound: '' });
  if (proxyExit && !proxyStoppedByUs) checks.push({ name: 'proxy never exited during the run', ok: false, value: `exited with code ${proxyExit.code} at ${fmt(proxyExit.atS, 0)} s`, bound: '' });
} finally {
  stop.stopped = true;
  await cluster.stop().catch(() => undefined);
  rmSync(runDir, { recursive: true, force: true });
}

const failedChecks = checks.filter((c) => !c.ok);
if (failedChecks.length > 0) {
  say(`soak FAILED: ${failedChecks.map((c) => c.name).join('; ')}`);
  process.exit(1);
}
say('soak passed: every check held');
process.exit(0);

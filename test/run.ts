/**
 * `npm test`: starts one real 3-broker Kafka 3.9.1 KRaft cluster shared by the test files that only need a cluster to
 * talk to, runs every test file with node:test (one file at a time: 2 cores host 3 brokers), then stops the
 * cluster whatever happened. Files that kill or restart brokers start clusters of their own.
 * Then a second pass, against a shared 3-broker Kafka 4.1.1 cluster (started after the first one stopped): the
 * suites of EVERY_VERSION (transparency, address rewrites, audit events) again, and test/kafka41/ (KIP-848 consumer
 * groups, share groups), which only runs there. In that pass KAP_KAFKA_VERSION=4.1.1, so useCluster() and
 * runKafkaTool() (test/harness) take Kafka 4.1.1's cluster and CLI tools.
 * Usage: tsx test/run.ts [test files...]   (default: every test/**\/*.test.ts; each given file runs in the passes it
 * belongs to). KAP_KAFKA_VERSIONS=3.9.1 (or 4.1.1) runs only that version's pass.
 *
 * A green spec output is not enough: node --test (Node 20) reports a file whose process exits 0 in the middle of
 * its tests as passing, its remaining tests silently missing. So a second reporter
 * (test/harness/test-events-reporter.mjs) writes the runner's events to .run/test-events-<pid>.jsonl, and the run
 * fails, naming the file (test/harness/test-verdicts.ts), unless every file finished, every test that was queued or
 * started got a verdict, no test failed, and node's totals match those verdicts. The last lines are TAP-style
 * totals (`# tests N`, `# pass N`, `# fail N`, ...) and `N passed, M failed`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KAFKA_VERSIONS, startKafkaCluster, type KafkaVersion } from './harness/kafka-cluster.js';
import { describeCluster } from './harness/shared-cluster.js';
import { checkVerdicts, formatVerdictReport, parseVerdictEvents, type VerdictReport } from './harness/test-verdicts.js';

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'harness' ? [] : findTests(p);
    return name.endsWith('.test.ts') ? [p] : [];
  }).sort();
}

/** Suites that run against every Kafka version: transparency, address rewrites, audit events, denials, librdkafka. */
const EVERY_VERSION = new Set([
  'test/proxy/transparency.test.ts',
  'test/proxy/no-direct-connections.test.ts',
  'test/proxy/leader-hints-broker.test.ts',
  'test/audit/e2e.test.ts',
  'test/audit/data-path.test.ts',
  'test/audit/denials.e2e.test.ts',
  'test/clients/librdkafka-admin.test.ts',
  'test/clients/franz-go.test.ts',
]);
/** Suites that need Kafka 4.1 (KIP-848 consumer groups, KIP-932 share groups). */
const ONLY_4_1 = 'test/kafka41/';

const root = process.cwd();
/** The whole run takes ~15 min on 2 cores (3.9.1 pass ~10.5, 4.1.1 pass 3.5-5.5); CI's limit is 90. */
const WATCHDOG_MS = Number(process.env.KAP_TEST_WATCHDOG_MIN ?? 45) * 60_000;
const files = process.argv.length > 2 ? process.argv.slice(2) : findTests(join(root, 'test'));
const rel = (f: string) => relative(root, f);
const wanted = (process.env.KAP_KAFKA_VERSIONS ?? KAFKA_VERSIONS.join(',')).split(',').map((v) => v.trim());
const passes: { version: KafkaVersion; files: string[] }[] = [
  { version: '3.9.1' as const, files: files.filter((f) => !rel(f).startsWith(ONLY_4_1)) },
  { version: '4.1.1' as const, files: files.filter((f) => EVERY_VERSION.has(rel(f)) || rel(f).startsWith(ONLY_4_1)) },
].filter((p) => p.files.length > 0 && wanted.includes(p.version));
if (passes.length === 0) {
  process.stderr.write(`no test file to run for Kafka ${wanted.join(', ')}: ${files.join(' ')}\n`);
  process.exit(1);
}
const verdictReporter = fileURLToPath(new URL('./harness/test-events-reporter.mjs', import.meta.url));
mkdirSync(join(root, '.run'), { recursive: true });

let current: ChildProcess | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => current?.kill(sig));
const t0 = Date.now();
const watchdogAt = t0 + WATCHDOG_MS;

/** One node --test run of `pass.files` against a fresh shared 3-broker cluster of `pass.version`. */
async function runPass(pass: { version: KafkaVersion; files: string[] }): Promise<{ code: number; report: VerdictReport; ok: boolean }> {
  const tp = Date.now();
  const cluster = await startKafkaCluster({ brokers: 3, version: pass.version });
  process.stderr.write(`shared 3-broker Kafka ${pass.version} cluster ready in ${((Date.now() - tp) / 1000).toFixed(1)} s: ${cluster.plainBootstrap}\n`);
  const tag = `${process.pid}-${pass.version}`;
  const infoFile = join(root, '.run', `shared-cluster-${tag}.json`);
  writeFileSync(infoFile, JSON.stringify(describeCluster(cluster)));
  const eventsFile = join(root, '.run', `test-events-${tag}.jsonl`);
  let code = 1;
  try {
    code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [
        // No --test-force-exit: with it, Node can drop the last verdicts of a file and still report success
        // (nodejs/node#64833; seen here as 272 of 278 tests reported, exit 0). A file that keeps the process alive
        // after its tests is caught by the watchdog below instead of hanging the run.
        '--test', '--test-concurrency=1', '--test-timeout=600000', '--import', 'tsx',
        '--test-reporter=spec', '--test-reporter-destination=stdout',
        `--test-reporter=${verdictReporter}`, `--test-reporter-destination=${eventsFile}`,
        ...pass.files.map(rel),
      ], { stdio: 'inherit', env: { ...process.env, KAP_TEST_CLUSTER_3: infoFile, KAP_KAFKA_VERSION: pass.version } });
      current = child;
      const watchdog = setTimeout(() => {
        process.stderr.write(`test run still going after ${WATCHDOG_MS / 60_000} min: a test file is hanging (or left handles open); stopping it\n`);
        child.kill('SIGKILL');
      }, Math.max(0, watchdogAt - Date.now()));
      child.on('exit', (c, sig) => { clearTimeout(watchdog); current = undefined; resolve(c ?? (sig ? 1 : 0)); });
    });
  } finally {
    await cluster.stop();
    rmSync(infoFile, { force: true });
  }
  process.stderr.write(`Kafka ${pass.version}: ${pass.files.length} file(s) finished in ${((Date.now() - tp) / 1000).toFixed(1)} s, node --test exit ${code}\n`);

  // Every file finished, every test that started got a verdict, the totals match (see test/harness/test-verdicts.ts).
  const events = existsSync(eventsFile) ? parseVerdictEvents(readFileSync(eventsFile, 'utf8')) : [];
  const report = checkVerdicts(events, pass.files, root);
  if (events.length === 0) report.problems.unshift(`no test events were recorded (${rel(eventsFile)} missing or empty)`);
  if (code !== 0 && report.ok) report.problems.push(`node --test exited ${code} although every verdict it reported passed`);
  const ok = code === 0 && report.ok && events.length > 0;
  if (!ok) report.counts.fail = Math.max(report.counts.fail, 1);
  if (ok) rmSync(eventsFile, { force: true });
  else if (existsSync(eventsFile)) process.stderr.write(`the runner's events are kept in ${rel(eventsFile)}\n`);
  return { code, report, ok };
}

const results: { version: KafkaVersion; code: number; report: VerdictReport; ok: boolean }[] = [];
for (const pass of passes) {
  if (Date.now() >= watchdogAt) break;
  results.push({ version: pass.version, ...(await runPass(pass)) });
}
process.stderr.write(`tests finished in ${((Date.now() - t0) / 1000).toFixed(1)} s (${results.map((r) => `Kafka ${r.version}: exit ${r.code}`).join(', ')})\n`);

// One report over the passes: problems name the Kafka version when more than one ran; the totals add up.
const multi = passes.length > 1;
const tagged = (v: KafkaVersion, p: string) => (multi ? `[Kafka ${v}] ${p}` : p);
const merged: VerdictReport = {
  files: results.flatMap((r) => r.report.files.map((f) => ({ ...f, problems: f.problems.map((p) => tagged(r.version, p)) }))),
  problems: results.flatMap((r) => r.report.problems.map((p) => tagged(r.version, p))),
  counts: { tests: 0, suites: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0, lost: 0 },
  ok: results.length === passes.length && results.every((r) => r.ok),
};
for (const r of results) for (const k of Object.keys(merged.counts) as (keyof VerdictReport['counts'])[]) merged.counts[k] += r.report.counts[k];
if (results.length < passes.length) {
  merged.problems.push(`the watchdog stopped the run before the Kafka ${passes.slice(results.length).map((p) => p.version).join(', ')} pass`);
  merged.counts.fail = Math.max(merged.counts.fail, 1);
}
process.stdout.write(formatVerdictReport(merged, root));
process.exit(merged.ok ? 0 : (results.find((r) => r.code !== 0)?.code || 1));

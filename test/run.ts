/**
 * `npm test`: starts one real 3-broker KRaft cluster shared by the test files that only need a cluster to
 * talk to, runs every test file with node:test (one file at a time: 2 cores host 3 brokers), then stops the
 * cluster whatever happened. Files that kill or restart brokers start clusters of their own.
 * Usage: tsx test/run.ts [test files...]   (default: every test/**\/*.test.ts)
 *
 * A green spec output is not enough: node --test (Node 20) reports a file whose process exits 0 in the middle of
 * its tests as passing, its remaining tests silently missing. So a second reporter
 * (test/harness/test-events-reporter.mjs) writes the runner's events to .run/test-events-<pid>.jsonl, and the run
 * fails, naming the file (test/harness/test-verdicts.ts), unless every file finished, every test that was queued or
 * started got a verdict, no test failed, and node's totals match those verdicts. The last lines are TAP-style
 * totals (`# tests N`, `# pass N`, `# fail N`, ...) and `N passed, M failed`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKafkaCluster } from './harness/kafka-cluster.js';
import { describeCluster } from './harness/shared-cluster.js';
import { checkVerdicts, formatVerdictReport, parseVerdictEvents } from './harness/test-verdicts.js';

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'harness' ? [] : findTests(p);
    return name.endsWith('.test.ts') ? [p] : [];
  }).sort();
}

const root = process.cwd();
/** The whole run takes ~7 min on 2 cores; CI's limit is 90. */
const WATCHDOG_MS = Number(process.env.KAP_TEST_WATCHDOG_MIN ?? 45) * 60_000;
const files = process.argv.length > 2 ? process.argv.slice(2) : findTests(join(root, 'test'));
const t0 = Date.now();
const cluster = await startKafkaCluster({ brokers: 3 });
process.stderr.write(`shared 3-broker cluster ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${cluster.plainBootstrap}\n`);
mkdirSync(join(root, '.run'), { recursive: true });
const infoFile = join(root, '.run', `shared-cluster-${process.pid}.json`);
writeFileSync(infoFile, JSON.stringify(describeCluster(cluster)));
const eventsFile = join(root, '.run', `test-events-${process.pid}.jsonl`);
const verdictReporter = fileURLToPath(new URL('./harness/test-events-reporter.mjs', import.meta.url));

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
      ...files.map((f) => relative(root, f)),
    ], { stdio: 'inherit', env: { ...process.env, KAP_TEST_CLUSTER_3: infoFile } });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const watchdog = setTimeout(() => {
      process.stderr.write(`test run still going after ${WATCHDOG_MS / 60_000} min: a test file is hanging (or left handles open); stopping it\n`);
      child.kill('SIGKILL');
    }, WATCHDOG_MS);
    child.on('exit', (c, sig) => { clearTimeout(watchdog); resolve(c ?? (sig ? 1 : 0)); });
  });
} finally {
  await cluster.stop();
}
process.stderr.write(`tests finished in ${((Date.now() - t0) / 1000).toFixed(1)} s, node --test exit ${code}\n`);

// Every file finished, every test that started got a verdict, the totals match (see test/harness/test-verdicts.ts).
const events = existsSync(eventsFile) ? parseVerdictEvents(readFileSync(eventsFile, 'utf8')) : [];
const report = checkVerdicts(events, files, root);
if (events.length === 0) report.problems.unshift(`no test events were recorded (${relative(root, eventsFile)} missing or empty)`);
if (code !== 0 && report.ok) report.problems.push(`node --test exited ${code} although every verdict it reported passed`);
const ok = code === 0 && report.ok && events.length > 0;
if (!ok) report.counts.fail = Math.max(report.counts.fail, 1);
if (ok) rmSync(eventsFile, { force: true });
else if (existsSync(eventsFile)) process.stderr.write(`the runner's events are kept in ${relative(root, eventsFile)}\n`);
process.stdout.write(formatVerdictReport(report, root));
process.exit(ok ? 0 : (code || 1));

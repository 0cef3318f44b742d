/**
 * The verdict check of test/run.ts (test/harness/test-verdicts.ts fed by test/harness/test-events-reporter.mjs),
 * against real `node --test` runs of small fixture files: a run is only green when every file finished and every
 * test that started got a verdict. Without it, node --test exits 0 for a file whose process exits 0 mid-run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkVerdicts, formatVerdictReport, parseVerdictEvents, type VerdictEvent } from './harness/test-verdicts.js';

const REPORTER = fileURLToPath(new URL('./harness/test-events-reporter.mjs', import.meta.url));

const FIXTURES: Record<string, string> = {
  'passing.test.mjs': `
    import { describe, test } from 'node:test';
    describe('a suite', () => { test('a', () => {}); test('b', async () => { await new Promise((r) => setTimeout(r, 5)); }); });
    test('skipped', { skip: 'not here' }, () => {});
    test.todo('todo');
    for (const n of [1, 2]) test('same name twice', () => {});
    test('with subtests', async (t) => { await t.test('child 1', () => {}); await t.test('child 2', () => {}); });`,
  'exit-mid.test.mjs': `
    import { test } from 'node:test';
    test('one', () => {});
    test('two: exits 0 in the middle', async () => { await new Promise((r) => setTimeout(r, 20)); process.exit(0); });
    test('three', () => {});`,
  'crash-mid.test.mjs': `
    import { test } from 'node:test';
    test('one', () => {});
    test('two: the process is killed', async () => { await new Promise((r) => setTimeout(r, 20)); process.kill(process.pid, 'SIGKILL'); });`,
  'async-throw.test.mjs': `
    import { test } from 'node:test';
    test('one: leaves a timer that throws', () => { setTimeout(() => { throw new Error('thrown asynchronously'); }, 50); });
    test('two', async () => { await new Promise((r) => setTimeout(r, 300)); });`,
  'no-tests.test.mjs': `
    import { test } from 'node:test';
    process.exit(0);
    test('never registered', () => {});`,
  'failing.test.mjs': `
    import { describe, before, test } from 'node:test';
    test('fails', () => { throw new Error('expected failure'); });
    describe('hook fails', () => { before(() => { throw new Error('before failed'); }); test('cancelled', () => {}); });`,
};

interface Run { exitCode: number | null; events: VerdictEvent[] }

function nodeTest(dir: string, files: string[]): Run {
  const eventsFile = join(dir, `events-${files.join('+')}.jsonl`);
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // set for files run by node --test; a nested run must not report to its parent
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${REPORTER}`, `--test-reporter-destination=${eventsFile}`, ...files], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  return { exitCode: r.status, events: parseVerdictEvents(readFileSync(eventsFile, 'utf8')) };
}

describe('test run verdicts (test/run.ts)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kap-verdicts-'));
    for (const [name, text] of Object.entries(FIXTURES)) writeFileSync(join(dir, name), text);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('files that pass: ok, totals equal to node\'s summary, closing line readable by CI', () => {
    const run = nodeTest(dir, ['passing.test.mjs']);
    assert.equal(run.exitCode, 0);
    const r = checkVerdicts(run.events, ['passing.test.mjs'], dir);
    assert.deepEqual([r.ok, r.problems, r.files.map((f) => f.problems)], [true, [], [[]]]);
    assert.deepEqual(r.counts, { tests: 9, suites: 1, pass: 7, fail: 0, cancelled: 0, skipped: 1, todo: 1, lost: 0 });
    assert.deepEqual(r.nodeSummary, { tests: 9, suites: 1, pass: 7, fail: 0, cancelled: 0, skipped: 1, todo: 1 });
    const text = formatVerdictReport(r, dir);
    assert.match(text, /^# tests 9$/m);
    assert.match(text, /^# pass 7$/m);
    assert.match(text, /^# fail 0$/m);
    assert.match(text, /\n7 passed, 0 failed\n$/);
    assert.doesNotMatch(text, /FAILED/);
  });

  test('a file whose process exits 0 mid-run: node --test says pass, the check names the file and the lost tests', () => {
    const run = nodeTest(dir, ['exit-mid.test.mjs', 'passing.test.mjs']);
    assert.equal(run.exitCode, 0, 'node --test alone reports this run as passing');
    const r = checkVerdicts(run.events, ['exit-mid.test.mjs', 'passing.test.mjs'], dir);
    assert.equal(r.ok, false);
    const exitMid = r.files.find((f) => f.file.endsWith('exit-mid.test.mjs'))!;
    assert.equal(exitMid.problems.length, 1, exitMid.problems.join('\n'));
    assert.match(exitMid.problems[0], /2 test\(s\) of this file never got a verdict.*"two: exits 0 in the middle" \(line \d+:\d+\) \(started\), "three" .*\(queued, never started\)/);
    assert.deepEqual(r.files.find((f) => f.file.endsWith('passing.test.mjs'))!.problems, []);
    assert.equal(r.counts.lost, 2);
    assert.equal(r.counts.pass, 8);
    assert.equal(r.counts.fail, 2);
    const text = formatVerdictReport(r, dir);
    assert.match(text, /test run FAILED:\n {2}exit-mid\.test\.mjs: 2 test\(s\) of this file never got a verdict/);
    assert.match(text, /\n8 passed, 2 failed\n$/);
  });

  test('a file that registers no test before exiting 0', () => {
    const run = nodeTest(dir, ['no-tests.test.mjs']);
    assert.equal(run.exitCode, 0, 'node --test alone reports this run as passing');
    const r = checkVerdicts(run.events, ['no-tests.test.mjs'], dir);
    assert.equal(r.ok, false);
    assert.match(r.files[0].problems.join('\n'), /reported no tests at all/);
    assert.ok(r.counts.fail >= 1);
  });

  test('a crash mid-run, an asynchronous uncaught exception, failed and cancelled tests: each named with its file', () => {
    const files = ['crash-mid.test.mjs', 'async-throw.test.mjs', 'failing.test.mjs'];
    const run = nodeTest(dir, files);
    assert.notEqual(run.exitCode, 0);
    const r = checkVerdicts(run.events, files, dir);
    assert.equal(r.ok, false);
    const of = (name: string) => r.files.find((f) => f.file.endsWith(name))!.problems.join('\n');
    assert.match(of('crash-mid.test.mjs'), /never got a verdict, .*: "two: the process is killed" \(line \d+:\d+\) \(started\)/);
    assert.match(of('crash-mid.test.mjs'), /reported the file as failed: .*signal SIGKILL/);
    assert.match(of('async-throw.test.mjs'), /reported the file as failed/);
    assert.match(of('failing.test.mjs'), /test "fails" \(line \d+:\d+\) failed: expected failure/);
    assert.match(of('failing.test.mjs'), /test "cancelled" .* was cancelled/);
    assert.match(of('failing.test.mjs'), /suite "hook fails" .* failed: failed running before hook/);
    assert.ok(r.counts.fail + r.counts.cancelled >= 5);
    assert.match(formatVerdictReport(r, dir), /\n\d+ passed, [1-9]\d* failed\n$/);
  });

  test('a file never run, and a run whose summary is missing', () => {
    const run = nodeTest(dir, ['passing.test.mjs']);
    const r = checkVerdicts(run.events, ['passing.test.mjs', 'missing.test.mjs'], dir);
    assert.equal(r.ok, false);
    assert.match(r.files.find((f) => f.file.endsWith('missing.test.mjs'))!.problems.join('\n'), /was never run/);
    const cut = checkVerdicts(run.events.filter((e) => e.type !== 'test:diagnostic'), ['passing.test.mjs'], dir);
    assert.equal(cut.ok, false);
    assert.match(cut.problems.join('\n'), /printed no summary/);
    // A verdict lost from the stream (as with --test-force-exit, nodejs/node#64833) while node's totals still count it.
    const lastPass = run.events.map((e) => e.type === 'test:pass' && !e.suite).lastIndexOf(true);
    const dropped = checkVerdicts(run.events.filter((_, i) => i !== lastPass), ['passing.test.mjs'], dir);
    assert.equal(dropped.ok, false);
    assert.match(dropped.files[0].problems.join('\n'), /1 test\(s\) of this file never got a verdict/);
    assert.match(dropped.problems.join('\n'), /node's summary does not match the verdicts it reported: tests 9 in node's summary, 8 verdicts reported/);
  });
});

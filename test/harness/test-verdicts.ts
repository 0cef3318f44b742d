/**
 * Makes sure every test of a run got a verdict. node --test (Node 20) reports a test file whose process ends in
 * the middle of its tests with exit code 0 (process.exit(0) in a test or a library, or a forced exit that drops the
 * last verdicts, nodejs/node#64833) as passing: the tests after that point are simply missing from the spec output
 * and from the totals. test/run.ts therefore runs a second reporter, test/harness/test-events-reporter.mjs, which
 * writes the runner's events as JSON lines to a file; checkVerdicts() then checks, per file:
 *   - node:test finished the file and did not report it as failed;
 *   - every test that was queued or started (test:enqueue / test:dequeue) got a verdict (test:pass / test:fail);
 *   - the file reported at least one test;
 *   - no test failed or was cancelled;
 * and, for the run, that node's own summary (tests, pass, fail, ...) matches the verdicts reported.
 */
import { resolve } from 'node:path';

/** One runner event as written by test-events-reporter.mjs (only what the checks need). */
export interface VerdictEvent {
  type: string;
  file?: string;
  name?: string;
  nesting?: number;
  line?: number;
  column?: number;
  /** test:pass / test:fail / test:complete */
  suite?: boolean;
  skip?: boolean;
  todo?: boolean;
  passed?: boolean;
  failureType?: string;
  error?: string;
  exitCode?: number | null;
  signal?: string | null;
  /** test:diagnostic */
  message?: string;
  /** test:plan */
  count?: number;
}

export function parseVerdictEvents(text: string): VerdictEvent[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as VerdictEvent);
}

export interface RunCounts { tests: number; suites: number; pass: number; fail: number; cancelled: number; skipped: number; todo: number; lost: number }

export interface FileReport {
  file: string;
  /** Verdicts of tests (not suites) in this file. */
  tests: number;
  problems: string[];
}

export interface VerdictReport {
  files: FileReport[];
  /** Problems of the run as a whole (summary mismatch, files never run, ...). */
  problems: string[];
  /** Counted from the events; `lost` tests (never reported) are included in `tests` and `fail`. */
  counts: RunCounts;
  /** node's own summary (test:diagnostic "tests N", ...), when it printed one. */
  nodeSummary?: Partial<Record<keyof RunCounts, number>>;
  ok: boolean;
}

const key = (e: VerdictEvent) => `${e.nesting}|${e.line}:${e.column}|${e.name}`;
const describeKey = (k: string) => { const [nesting, pos, ...name] = k.split('|'); return `"${name.join('|')}" (line ${pos}${nesting !== '0' ? `, nesting ${nesting}` : ''})`; };
const isCancelled = (e: VerdictEvent) => e.failureType === 'cancelledByParent' || e.failureType === 'testTimeoutFailure';
/** The first line of an error message, shortened: the spec output above has the whole of it. */
const firstLine = (s: string | undefined) => { const l = (s ?? '').trim().split('\n')[0]; return l.length > 200 ? `${l.slice(0, 200)}…` : l; };

function count(map: Map<string, number>, k: string): void { map.set(k, (map.get(k) ?? 0) + 1); }

/**
 * Checks the events of one node --test run. `files` are the test files the run was given (relative to `root`
 * or absolute); each must have been run and finished.
 */
export function checkVerdicts(events: VerdictEvent[], files: string[], root = process.cwd()): VerdictReport {
  const byFile = new Map<string, VerdictEvent[]>();
  const runLevel: VerdictEvent[] = [];
  for (const e of events) {
    if (e.file === undefined) { runLevel.push(e); continue; }
    const f = resolve(root, e.file);
    if (!byFile.has(f)) byFile.set(f, []);
    byFile.get(f)!.push(e);
  }
  const expected = files.map((f) => resolve(root, f));
  for (const f of expected) if (!byFile.has(f)) byFile.set(f, []);

  const counts: RunCounts = { tests: 0, suites: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0, lost: 0 };
  const reports: FileReport[] = [];
  for (const [file, evs] of byFile) {
    const problems: string[] = [];
    const isFileItself = (e: VerdictEvent) => e.nesting === 0 && e.name !== undefined && resolve(root, e.name) === file;
    const own = evs.filter(isFileItself);
    const tests = evs.filter((e) => !isFileItself(e));
    const queued = new Map<string, number>();
    const started = new Map<string, number>();
    const completed = new Map<string, number>();
    const verdicts = new Map<string, number>();
    let fileTests = 0;
    for (const e of tests) {
      if (e.type === 'test:enqueue') count(queued, key(e));
      else if (e.type === 'test:dequeue') count(started, key(e));
      else if (e.type === 'test:complete') count(completed, key(e));
      else if (e.type === 'test:pass' || e.type === 'test:fail') {
        count(verdicts, key(e));
        if (e.suite) {
          counts.suites++;
          // Listed, not counted: a suite fails because a test or a hook in it did, counted there (or below).
          if (e.type === 'test:fail') problems.push(`suite ${describeKey(key(e))} failed: ${firstLine(e.error) || 'no reason given'}`);
          continue;
        }
        fileTests++;
        counts.tests++;
        if (e.skip) counts.skipped++;
        else if (e.todo) counts.todo++;
        else if (e.type === 'test:pass') counts.pass++;
        else if (isCancelled(e)) { counts.cancelled++; problems.push(`test ${describeKey(key(e))} was cancelled: ${firstLine(e.error)}`); }
        else { counts.fail++; problems.push(`test ${describeKey(key(e))} failed: ${firstLine(e.error)}`); }
      }
    }

    // Every test that was queued, started or completed must have been reported with a verdict.
    const lost: string[] = [];
    for (const k of new Set([...queued.keys(), ...started.keys(), ...completed.keys()])) {
      const missing = Math.max(queued.get(k) ?? 0, started.get(k) ?? 0, completed.get(k) ?? 0) - (verdicts.get(k) ?? 0);
      for (let i = 0; i < missing; i++) lost.push(`${describeKey(k)}${(started.get(k) ?? 0) > (verdicts.get(k) ?? 0) ? ' (started)' : ' (queued, never started)'}`);
    }
    if (lost.length > 0) {
      counts.lost += lost.length;
      counts.tests += lost.length;
      counts.fail += lost.length;
      problems.push(`${lost.length} test(s) of this file never got a verdict, so the file's process ended before its tests did `
        + `(process.exit() or a crash mid-run): ${lost.join(', ')}`);
    }

    // The file itself: finished, not failed.
    const ownFail = own.find((e) => e.type === 'test:fail' || (e.type === 'test:complete' && e.passed === false));
    const ownDone = own.some((e) => e.type === 'test:complete' || e.type === 'test:pass' || e.type === 'test:fail');
    if (evs.length === 0) {
      counts.fail++;
      problems.push('was never run: node:test reported nothing for this file');
    } else if (ownFail) {
      const how = [ownFail.exitCode !== undefined && ownFail.exitCode !== null ? `exit code ${ownFail.exitCode}` : '',
        ownFail.signal ? `signal ${ownFail.signal}` : ''].filter(Boolean).join(', ');
      // node counts a failed file as a failed test only when it reports it with test:fail (its process failed);
      // otherwise the file failed because of a failure counted above (a suite, a hook).
      if (own.some((e) => e.type === 'test:fail')) { counts.tests++; counts.fail++; } else if (problems.length === 0) counts.fail++;
      problems.push(`node:test reported the file as failed: ${firstLine(ownFail.error) || 'test failed'}${how ? ` (${how})` : ''}`);
    } else if (!ownDone) {
      counts.fail++;
      problems.push('node:test never finished this file (no verdict for the file itself)');
    }
    if (fileTests === 0 && lost.length === 0 && evs.length > 0) {
      counts.fail++;
      problems.push('reported no tests at all (did it end before registering them?)');
    }
    reports.push({ file, tests: fileTests, problems });
  }

  // node's own summary, which must agree with the verdicts reported.
  const runProblems: string[] = [];
  const nodeSummary: Partial<Record<keyof RunCounts, number>> = {};
  for (const e of runLevel) {
    const m = e.type === 'test:diagnostic' ? /^(tests|suites|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(e.message ?? '') : null;
    if (m) nodeSummary[m[1] as keyof RunCounts] = Number(m[2]);
  }
  if (nodeSummary.tests === undefined) {
    runProblems.push('node --test printed no summary (tests/pass/fail): the runner itself did not finish');
  } else {
    const reported = { ...counts, tests: counts.tests - counts.lost, fail: counts.fail - counts.lost };
    const mismatch = (['tests', 'pass', 'cancelled', 'skipped', 'todo'] as const)
      .filter((k) => nodeSummary[k] !== undefined && nodeSummary[k] !== reported[k])
      .map((k) => `${k} ${nodeSummary[k]} in node's summary, ${reported[k]} verdicts reported`);
    if (mismatch.length > 0) runProblems.push(`node's summary does not match the verdicts it reported: ${mismatch.join('; ')}`);
  }
  const ok = runProblems.length === 0 && reports.every((r) => r.problems.length === 0);
  // A run that is not ok never reads "0 failed" (e.g. only an after hook failed, or node's totals are off).
  if (!ok && counts.fail + counts.cancelled === 0) counts.fail = 1;
  return { files: reports, problems: runProblems, counts, nodeSummary, ok };
}

/** The report as text: the problems by file, then TAP-style totals and a last line `N passed, M failed`. */
export function formatVerdictReport(r: VerdictReport, root = process.cwd()): string {
  const lines: string[] = [];
  const bad = r.files.filter((f) => f.problems.length > 0);
  if (bad.length > 0 || r.problems.length > 0) {
    lines.push('', '✖ test run FAILED:');
    for (const p of r.problems) lines.push(`  ${p}`);
    for (const f of bad) {
      const rel = f.file.startsWith(`${root}/`) ? f.file.slice(root.length + 1) : f.file;
      // At most 10 lines per file (the spec output lists every failure); what ends a file early is always shown.
      const shown = f.problems.length <= 10 ? f.problems
        : [...f.problems.filter((p) => !/^(test|suite) /.test(p)), ...f.problems.filter((p) => /^(test|suite) /.test(p)).slice(0, 8)];
      for (const p of shown) lines.push(`  ${rel}: ${p}`);
      if (shown.length < f.problems.length) lines.push(`  ${rel}: … and ${f.problems.length - shown.length} more failed test(s) (see above)`);
    }
  }
  const c = r.counts;
  lines.push('', `# files ${r.files.length}`, `# tests ${c.tests}`, `# suites ${c.suites}`, `# pass ${c.pass}`, `# fail ${c.fail}`,
    `# cancelled ${c.cancelled}`, `# skipped ${c.skipped}`, `# todo ${c.todo}`);
  if (c.lost > 0) lines.push(`# never reported ${c.lost} (counted in tests and fail)`);
  lines.push(`${c.pass} passed, ${c.fail + c.cancelled} failed`);
  return `${lines.join('\n')}\n`;
}

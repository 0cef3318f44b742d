/**
 * A node:test reporter that writes the runner's events, reduced to what test/harness/test-verdicts.ts checks, as
 * JSON lines (one VerdictEvent per line). Plain JavaScript: Node 20 loads --test-reporter modules before the
 * --import hooks (tsx) are registered. Used by test/run.ts:
 *   --test-reporter=<this file> --test-reporter-destination=<file>
 */
const KEPT = new Set(['test:enqueue', 'test:dequeue', 'test:start', 'test:pass', 'test:fail', 'test:complete', 'test:plan', 'test:diagnostic']);

/** @param {{ type: string, data?: Record<string, any> }} ev */
export function toVerdictEvent(ev) {
  if (!KEPT.has(ev.type)) return undefined;
  const d = ev.data ?? {};
  /** @type {Record<string, unknown>} */
  const out = { type: ev.type, file: d.file, name: d.name, nesting: d.nesting, line: d.line, column: d.column };
  if (ev.type === 'test:diagnostic') out.message = String(d.message ?? '');
  if (ev.type === 'test:plan') out.count = d.count;
  const details = d.details;
  if (details) {
    if (details.type === 'suite') out.suite = true;
    if (typeof details.passed === 'boolean') out.passed = details.passed;
    const err = details.error;
    if (err) {
      // node wraps a test's error (ERR_TEST_FAILURE, same message, the error as its cause); a hook's failure says
      // "failed running before hook" with the hook's error as the cause.
      const message = String(err.message ?? err);
      const cause = err.cause instanceof Error && err.cause.message !== message ? `: ${err.cause.message}` : '';
      out.error = `${message}${cause}`.slice(0, 2000);
      if (err.failureType) out.failureType = err.failureType;
      if (err.exitCode !== undefined) out.exitCode = err.exitCode;
      if (err.signal !== undefined) out.signal = err.signal;
    }
  }
  if (d.skip !== undefined && d.skip !== false) out.skip = true;
  if (d.todo !== undefined && d.todo !== false) out.todo = true;
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

/** @param {AsyncIterable<{ type: string, data?: Record<string, any> }>} source */
export default async function* testEventsReporter(source) {
  for await (const ev of source) {
    const out = toVerdictEvent(ev);
    if (out) yield `${JSON.stringify(out)}\n`;
  }
}

/**
 * The compiler is part of the checks: types catch what a person forgets (a management API's refusal, a field a
 * descriptor reads that its message does not have, a `@ts-expect-error` that no longer errs), so `tsc --noEmit`
 * over src/, protocol/, test/ and bench/ runs with every test run, CI included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;

test('tsc --noEmit finds no type errors', () => {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `tsc reported:\n${r.stdout}${r.stderr}`);
});

/**
 * The process-level guard: an unhandled promise rejection is logged and counted, and the process lives on. Run in a
 * child process, since Node's default (exit on an unhandled rejection) is exactly what is tested against; the same
 * child without the guard must die, which proves the check can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const ROOT = new URL('..', import.meta.url).pathname;

function runChild(withGuard: boolean): { status: number | null; stdout: string; stderr: string } {
  const script = `
    import { pino } from 'pino';
    import { ProxyMetrics } from './src/metrics.ts';
    import { installRejectionGuard } from './src/process-guard.ts';
    const metrics = new ProxyMetrics({ collectDefault: false });
    if (${withGuard}) installRejectionGuard(pino({ level: 'info' }, process.stdout), metrics);
    Promise.reject(new Error('nobody handles this'));
    setTimeout(async () => {
      const text = await metrics.registry.metrics();
      const line = text.split('\\n').find((l) => l.startsWith('kafka_proxy_internal_errors_total{'));
      process.stdout.write('ALIVE ' + line + '\\n');
    }, 200);
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('an unhandled promise rejection is logged and counted; the process keeps running', () => {
  const r = runChild(true);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /"msg":"unhandled promise rejection \(a bug: please report it\); the proxy keeps running"/);
  assert.match(r.stdout, /nobody handles this/);
  assert.match(r.stdout, /ALIVE kafka_proxy_internal_errors_total\{kind="unhandled_rejection"\} 1/);
});

test('without the guard the same child dies (what the guard prevents)', () => {
  const r = runChild(false);
  assert.notEqual(r.status, 0);
  assert.doesNotMatch(r.stdout, /ALIVE/);
});

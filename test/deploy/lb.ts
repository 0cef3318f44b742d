/**
 * HAProxy (Debian's package, scripts/setup.sh installs it) as the load balancer of the deploy tests: run in the
 * foreground (-db) with a configuration the test writes, on loopback addresses, stopped by the test.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { waitFor } from '../harness/clients.js';

export const HAPROXY = '/usr/sbin/haproxy';

export const HAPROXY_DEFAULTS = ['global', '  maxconn 4000', 'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 60s', '  timeout server 60s'];

/** Writes `config`, checks it with `haproxy -c`, starts HAProxy and waits until every `frontends` address accepts. */
export async function startHaproxy(dir: string, name: string, config: string, frontends: Array<{ host: string; port: number }>): Promise<ChildProcess> {
  const cfg = join(dir, `${name}.cfg`);
  writeFileSync(cfg, config);
  const check = spawnSync(HAPROXY, ['-c', '-f', cfg], { encoding: 'utf8' });
  assert.equal(check.status, 0, `haproxy -c (is haproxy installed? run scripts/setup.sh): ${check.stdout}${check.stderr}${check.error?.message ?? ''}`);
  const child = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}: ${stderr}`);
    const ok = await Promise.all(frontends.map(({ host, port }) => new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    })));
    return ok.every(Boolean);
  }, 15_000, 'haproxy frontends accepting');
  return child;
}

/** SIGTERM (or `signal`) and wait for the exit; nothing when it has exited already. */
export function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => { child.once('exit', () => resolve()); child.kill(signal); });
}

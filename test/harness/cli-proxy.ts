/**
 * The proxy as a process of its own (`src/cli.ts start --config FILE`), for tests that kill it or run several: the
 * child and everything it wrote to stderr, returned once its bootstrap port answers ApiVersions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { RawConnection } from './raw.js';

const ROOT = new URL('../..', import.meta.url).pathname;

/** The environment for the child: the test runner's KAP_TEST_* variables would be taken for settings (every KAP_ variable must name one). */
export const proxyEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KAP_')));

export interface CliProxy {
  child: ChildProcess;
  /** What the process wrote to stderr so far. */
  stderr(): string;
}

/** Starts the proxy with `config` and waits (60 s at most) until `port` answers; `name` labels its errors. */
export async function startCliProxy(config: string, port: number, name = 'proxy'): Promise<CliProxy> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--config', config], { cwd: ROOT, env: proxyEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const c = await RawConnection.open(port);
      const ok = (await c.apiVersions(1, 5000)) === 0;
      c.destroy();
      if (ok) return { child, stderr: () => stderr };
    } catch { /* not listening yet */ }
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}) during start:\n${stderr.slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`${name} not ready after 60 s:\n${stderr.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

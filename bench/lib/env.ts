/** Paths, machine description and small helpers shared by the benchmark modules. */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUT_DIR = join(REPO, 'bench', 'out');
export const QUICK = process.env.BENCH_QUICK === '1';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function say(s: string): void { process.stderr.write(s + '\n'); }

function run(cmd: string, args: string[]): string {
  try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim(); } catch (e) {
    const err = e as { stderr?: string; stdout?: string };
    return (err.stderr || err.stdout || '').trim();
  }
}

export function machine(): Record<string, string> {
  const java = run('sh', ['-c', 'java -version 2>&1']).split('\n')[0]; // java -version prints on stderr
  return {
    date: new Date().toISOString(),
    nproc: run('nproc', []),
    cpu: cpus()[0]?.model ?? 'unknown',
    ram: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: run('uname', ['-r']),
    node: process.version,
    java,
    kafka: '3.9.1 (jars in .kafka-lib)',
    loadavg: loadavg().map((x) => x.toFixed(2)).join(' '),
    nofile: run('sh', ['-c', 'ulimit -n']),
  };
}

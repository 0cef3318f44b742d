/**
 * Debian's Prometheus and promtool (package `prometheus`, installed by scripts/setup.sh) for the admin tests:
 * promtool runs, a scrape configuration for one proxy, and a real Prometheus server started in the foreground on
 * a loopback port, stopped by the test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ALERTS_FILE = join(ROOT, 'deploy', 'prometheus', 'alerts.yaml');
export const DASHBOARD_FILE = join(ROOT, 'deploy', 'grafana', 'kafka-audit-proxy.json');

/** Path of a Prometheus binary; throws (never skips) when missing: CI must run these tests. */
export function binary(name: 'promtool' | 'prometheus'): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error(`${name} not found on PATH: run scripts/setup.sh (it installs Debian's "prometheus" package, which brings ${name})`);
  return found;
}

export interface ToolResult { code: number; output: string }

/** Runs promtool with `args`, `input` on stdin; output is stdout and stderr together. */
export function promtool(args: string[], input?: string, cwd = ROOT): Promise<ToolResult> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(binary('promtool'), args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => resolvePromise({ code: code ?? 1, output }));
    p.stdin.end(input ?? '');
  });
}

/** A prometheus.yml scraping one proxy's admin port every `intervalS` seconds, with the shipped alert rules. */
export function scrapeConfig(target: string, intervalS = 1): string {
  return [
    'global:',
    `  scrape_interval: ${intervalS}s`,
    `  evaluation_interval: ${intervalS}s`,
    'rule_files:',
    `  - ${JSON.stringify(ALERTS_FILE)}`,
    'scrape_configs:',
    '  - job_name: kafka-audit-proxy',
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: [${JSON.stringify(target)}]`,
    '',
  ].join('\n');
}

export interface PromResult { metric: Record<string, string>; value: [number, string] }

export interface RunningPrometheus {
  url: string;
  /** An instant query; rejects when Prometheus answers anything but success (a PromQL error included). */
  query(expr: string): Promise<PromResult[]>;
  /** Its log, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts `prometheus` on 127.0.0.1:port with the config file written in dir; resolves once /-/ready answers. */
export async function startPrometheus(dir: string, config: string, port: number): Promise<RunningPrometheus> {
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, config);
  let log = '';
  const child: ChildProcess = spawn(binary('prometheus'), [
    `--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn', '--storage.tsdb.retention.time=1h',
  ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => { log += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Never outlive the test process.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode} at start: ${log}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { await stop(); throw new Error(`prometheus not ready after 60 s: ${log}`); }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    log: () => log,
    stop,
    async query(expr: string): Promise<PromResult[]> {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = await res.json() as { status: string; error?: string; data?: { resultType: string; result: PromResult[] } };
      if (body.status !== 'success') throw new Error(`Prometheus query failed (${res.status} ${body.error}): ${expr}`);
      return body.data!.resultType === 'vector' ? body.data!.result : [];
    },
  };
}

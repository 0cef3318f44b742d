/**
 * Child processes of the benchmark: the proxy (src/cli.ts start, as in production) and the TCP relay, each in
 * its own Node process so its CPU and memory are its own and can be read from /proc/<pid>/status.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { REPO, OUT_DIR } from './env.js';

const live = new Set<ChildProcess>();
process.on('exit', () => { for (const c of live) { try { c.kill('SIGKILL'); } catch { /* gone */ } } });

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** SIGTERM, wait for exit (SIGKILL after timeoutMs). */
  stop(timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

function startChild(name: string, args: string[], env: Record<string, string> = {}): Child {
  mkdirSync(OUT_DIR, { recursive: true });
  const log = createWriteStream(join(OUT_DIR, `${name}.log`), { flags: 'a' });
  const proc = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  proc.stdout!.pipe(log, { end: false });
  proc.stderr!.pipe(log, { end: false });
  live.add(proc);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => { live.delete(proc); resolve(code); }));
  return {
    name, proc, pid: proc.pid!, exited,
    async stop(timeoutMs = 20_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(t);
    },
  };
}

export function waitForPort(port: number, timeoutMs = 30_000, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child && (child.proc.exitCode !== null || child.proc.signalCode !== null)) {
        return reject(new Error(`${child.name} exited (${child.proc.exitCode ?? child.proc.signalCode}) before port ${port} opened; see ${join(OUT_DIR, child.name + '.log')}`));
      }
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} not open after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export interface ProxyProcessOptions {
  name: string;
  upstream: string;
  bootstrapPort: number;
  brokerPortBase: number;
  adminPort: number;
  spoolDir: string;
  workers?: number;
  /** Extra --set KEY=VALUE overrides. */
  sets?: Record<string, string | number | boolean>;
  /** Node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=...']. */
  nodeFlags?: string[];
  /** The CLI entry to run (default: the compiled dist/src/cli.js, see builtCli; a .ts entry runs through tsx). */
  cli?: string;
}

let built: string | undefined;
/**
 * The proxy as deployed: the compiled JavaScript (`npm run build`, as the Docker image runs it), built from the
 * current sources on first use. Run through tsx instead, the proxy measured slower than it is: esbuild's keepNames
 * wraps every closure made per request or response in a helper call (bench/connection-micro.ts: about 0.5 µs per
 * Produce response).
 */
export function builtCli(): string {
  if (!built) {
    execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'tsconfig.build.json')], { cwd: REPO, stdio: 'inherit' });
    built = 'dist/src/cli.js';
  }
  return built;
}

/** Starts `kafka-audit-proxy start` in a child process and waits for its bootstrap port. */
export async function startProxyProcess(o: ProxyProcessOptions): Promise<Child> {
  const sets: Record<string, string | number | boolean> = {
    'listen.host': '127.0.0.1', 'listen.bootstrapPort': o.bootstrapPort, 'listen.brokerPortBase': o.brokerPortBase,
    'listen.advertisedHost': '127.0.0.1', 'upstream.bootstrapServers': o.upstream,
    'admin.host': '127.0.0.1', 'admin.port': o.adminPort, 'audit.spool.dir': o.spoolDir, 'log.level': 'warn',
    // Every benchmark client connects from 127.0.0.1.
    'limits.maxConnectionsPerAddress': 20_000, 'limits.maxConnections': 20_000,
    ...o.sets,
  };
  const cli = o.cli ?? builtCli();
  const args = [...(o.nodeFlags ?? []), ...(cli.endsWith('.js') ? [] : ['--import', 'tsx']), cli, 'start', ...Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`])];
  if (o.workers && o.workers > 1) args.push('--workers', String(o.workers));
  const child = startChild(o.name, args);
  await waitForPort(o.bootstrapPort, 60_000, child);
  return child;
}

/** Starts bench/tcp-relay.ts in a child process: listenPort -> host:port for each route. */
export async function startRelayProcess(name: string, routes: Array<{ listenPort: number; target: string }>): Promise<Child> {
  const child = startChild(name, ['--import', 'tsx', 'bench/tcp-relay.ts', ...routes.map((r) => `${r.listenPort}=${r.target}`)]);
  await waitForPort(routes[0].listenPort, 30_000, child);
  return child;
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
export function procMemory(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Resets the peak RSS (VmHWM) of a process (Linux: write 5 to clear_refs). Returns false where not allowed. */
export function resetPeak(pid: number): boolean {
  try { writeFileSync(`/proc/${pid}/clear_refs`, '5'); return true; } catch { return false; }
}

/** Pids of a process's direct children (the workers of a multi-worker proxy). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { return []; }
}

/** CPU time (user+system, seconds) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

/**
 * User CPU time (seconds) of a process's main thread and of all its other threads together (V8's GC and compiler
 * helpers, libuv's pool): tells the proxy's own JavaScript from the garbage collection it causes.
 */
export function threadUserSeconds(pid: number): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let f: string;
    try { f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'); } catch { continue; } // thread exited
    const user = Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[11]) / 100;
    if (Number(tid) === pid) main += user; else others += user;
  }
  return { main, others };
}

/** Samples RSS (summed over `pids()`) every `everyMs` until stopped; returns the peak seen. */
export function sampleRss(pids: () => number[], everyMs = 50): { stop(): number } {
  let peak = 0;
  const t = setInterval(() => {
    let sum = 0;
    for (const p of pids()) { try { sum += procMemory(p).rss; } catch { /* exited */ } }
    peak = Math.max(peak, sum);
  }, everyMs);
  return { stop() { clearInterval(t); return peak; } };
}

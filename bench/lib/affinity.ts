/**
 * CPU affinity of benchmark processes (taskset, from util-linux): used to give the relay or proxy a CPU of its own,
 * as it has in a deployment, so that its throughput cost can be told apart from the CPU it takes from the broker
 * and the clients on a small machine.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';

/** All CPUs of the machine (not availableParallelism(): that follows this process's own, possibly pinned, mask). */
const ncpu = () => cpus().length;

/** Whether processes can be pinned here: taskset is installed and there are at least 2 CPUs. */
export function canPin(): boolean {
  if (ncpu() < 2) return false;
  try { execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** The CPU list of all CPUs but the last ("0-2" on 4 CPUs), and the last ("3"). */
export function splitCpus(): { shared: string; own: string } {
  const n = ncpu();
  return { shared: n === 2 ? '0' : `0-${n - 2}`, own: String(n - 1) };
}

/** Pins every thread of `pid` to `cpus`; threads and child processes it starts later inherit the mask. */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** Lets every thread of `pid` run on any CPU again. */
export function unpin(pid: number): void {
  pin(pid, `0-${ncpu() - 1}`);
}

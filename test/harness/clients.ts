/** Small helpers the integration tests share: running kcat, and polling until a condition holds. */
import { execFile } from 'node:child_process';

export interface KcatResult { code: number; stdout: string; stderr: string }

/** Runs librdkafka's kcat (Debian package) with optional stdin; never rejects, the exit code tells. */
export function kcat(args: string[], input?: string, timeoutMs = 60_000): Promise<KcatResult> {
  return new Promise((resolve) => {
    const child = execFile('kcat', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

/** Polls `check` every 100 ms until it returns true; rethrows its last error (or times out, naming `what`) after timeoutMs. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { if (await check()) return; } catch (e) { if (Date.now() > deadline) throw e; }
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls `fn` until it returns a truthy value, which it returns; throws naming `what` after `timeoutMs`. */
export async function waitForValue<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

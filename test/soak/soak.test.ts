/**
 * The soak script (bench/soak.ts, `npm run soak`) in CI: a 40-second run, bounded by a hard timeout. It starts
 * its own 1-node Kafka broker and the proxy as a child process, so it does not use the shared test cluster.
 *
 * Asserts that it exits 0 (every check of its own held: records, audit events, chain, malformed connections,
 * fds, connections, RSS) and that its summary shows work in every category: produced and consumed records,
 * group rebalances, short-lived producers, kcat and Kafka CLI runs, each audited admin operation, connection
 * churn, each kind of malformed frame, audit events checked, samples.
 *
 * 40 s is far too short for an RSS slope to mean anything (the whole run is the proxy's warm-up), so the run
 * allows up to 16 MiB of fitted growth over its second half; the 30-minute default run is where the slope
 * bound (16 MiB/h) applies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SECONDS = 40;
/** Hard bound on the whole run (broker start, proxy start, 40 s of workload, flush, verify, checks): ~50 s measured. */
const HARD_TIMEOUT_MS = 110_000;

interface Summary {
  pass: boolean;
  failed: string[];
  work: Record<string, number> & { adminByMethod: Record<string, number>; malformedByKind: Record<string, number> };
  checks: Array<{ name: string; ok: boolean; value: string }>;
}

test(`bench/soak.ts runs ${SECONDS} s of mixed workload and every check holds`, { timeout: HARD_TIMEOUT_MS + 15_000 }, async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'kap-soak-'));
  try {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KAP_')) env[k] = v;
    const t0 = Date.now();
    const child = spawn(process.execPath, [
      '--import', 'tsx', 'bench/soak.ts', '--seconds', String(SECONDS),
      // Enough of every periodic part to happen within 40 s.
      '--rebalance-seconds', '15', '--kcat-seconds', '8', '--cli-seconds', '20',
      '--rss-noise-mib', '16', '--out-dir', outDir,
    ], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    let timedOut = false;
    // SIGTERM first: the soak's cluster harness then kills the broker and the proxy before it exits.
    const term = setTimeout(() => { timedOut = true; child.kill('SIGTERM'); }, HARD_TIMEOUT_MS);
    const kill = setTimeout(() => child.kill('SIGKILL'), HARD_TIMEOUT_MS + 10_000);
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    clearTimeout(term);
    clearTimeout(kill);
    const seconds = (Date.now() - t0) / 1000;
    const tail = output.split('\n').slice(-60).join('\n');
    assert.ok(!timedOut, `soak still running after ${HARD_TIMEOUT_MS / 1000} s:\n${tail}`);
    assert.equal(code, 0, `soak exited ${code} after ${seconds.toFixed(0)} s:\n${tail}`);

    const files = readdirSync(outDir);
    const json = files.find((f) => /^soak-.*\.json$/.test(f));
    const md = files.find((f) => /^soak-.*\.md$/.test(f));
    assert.ok(json && md, `summary files missing in ${outDir}: ${files.join(', ')}`);
    const s = JSON.parse(readFileSync(join(outDir, json), 'utf8')) as Summary;
    assert.equal(s.pass, true, `failed checks: ${s.failed.join('; ')}`);
    for (const c of s.checks) assert.ok(c.ok, `${c.name}: ${c.value}`);
    assert.match(readFileSync(join(outDir, md), 'utf8'), /^# Soak run .*: PASS$/m);

    const w = s.work;
    for (const k of ['produced', 'consumed', 'rebalances', 'shortLivedProducers', 'cliRuns', 'adminOps', 'adminCycles', 'churnConnections',
      'malformedFrames', 'eventsChecked', 'bystanderProbes', 'samples'] as const) {
      assert.ok(w[k] > 0, `no work in category ${k}: ${JSON.stringify(w)}`);
    }
    if (spawnSync('kcat', ['-V']).status === 0) assert.ok(w.kcatRuns > 0, 'kcat installed but never run');
    assert.equal(w.consumed, w.produced);
    assert.equal(w.eventsChecked, w.adminOps);
    for (const m of ['CreateTopics', 'AlterConfigs', 'CreatePartitions', 'CreateAcls', 'DeleteAcls', 'DeleteRecords', 'DeleteTopics', 'DeleteGroups']) {
      assert.ok((w.adminByMethod[m] ?? 0) > 0, `no ${m} in the admin loop: ${JSON.stringify(w.adminByMethod)}`);
    }
    for (const k of ['negative size', 'oversized', 'header too short', 'undecodable CreateTopics']) {
      assert.ok((w.malformedByKind[k] ?? 0) > 0, `no malformed frame of kind ${k}: ${JSON.stringify(w.malformedByKind)}`);
    }
    process.stderr.write(`soak: ${seconds.toFixed(0)} s in all; ${w.produced} records, ${w.adminOps} admin operations, ${w.churnConnections} churned connections, ` +
      `${w.malformedFrames} malformed frames\n`);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});

/**
 * What write-ahead adds to an audited request: the time from AuditJournal.begin() to its resolution (the
 * operations written and, with fsync 'always', synced), one writer at a time and with C concurrent writers
 * (group commit), on this machine's disk. `npx tsx bench/journal-micro.ts [requests] [operations per request]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditJournal } from '../src/audit/journal.js';
import type { AuditOperation } from '../src/audit/operation.js';
import { percentile } from './lib/stats.js';

const REQUESTS = Number(process.argv[2] ?? 2000);
const OPS = Number(process.argv[3] ?? 1);
const op = (i: number): AuditOperation => ({
  category: 'management', method: 'CreateTopics', apiKey: 19, apiVersion: 7, correlationId: i, clientId: 'bench',
  connection: { connectionId: 'c1', clientAddress: '127.0.0.1:40000', principal: 'User:admin', securityProtocol: 'SASL_PLAINTEXT' },
  resource: { type: 'Topic', name: `topic-${i}` }, operation: 'Create', result: {}, timeMs: Date.now(),
  details: { numPartitions: 3, replicationFactor: 3, configs: {} },
});

for (const fsync of ['always', 'never'] as const) {
  for (const concurrency of [1, 8, 64]) {
    const dir = mkdtempSync(join(tmpdir(), 'kap-journal-bench-'));
    const { journal } = await AuditJournal.open({ dir, fsync });
    const times: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const ops = Array.from({ length: OPS }, (_, k) => op(i * OPS + k));
        const t = performance.now();
        const id = await journal.begin(ops);
        times.push(performance.now() - t);
        journal.finish(id);
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    await journal.close();
    rmSync(dir, { recursive: true, force: true });
    process.stdout.write(`fsync ${fsync.padEnd(6)} concurrency ${String(concurrency).padStart(2)}: ${Math.round(REQUESTS / seconds)} requests/s `
      + `(${Math.round(REQUESTS * OPS / seconds)} operations/s), begin() p50 ${percentile(times, 50).toFixed(2)} ms p99 ${percentile(times, 99).toFixed(2)} ms, `
      + `${journal.commits} commits\n`);
  }
}

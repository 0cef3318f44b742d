/**
 * The write-ahead journal on its own: what a previous run left open is found again (and nothing else), a line cut
 * short by a crash is ignored, concurrent begins share fsyncs (group commit), rolling keeps the open operations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditJournal } from '../../src/audit/journal.js';
import type { AuditOperation } from '../../src/audit/operation.js';

const op = (name: string, details?: Record<string, unknown>): AuditOperation => ({
  category: 'management', method: 'CreateTopics', apiKey: 19, resource: { type: 'Topic', name }, operation: 'Create',
  result: {}, timeMs: 1_700_000_000_000, details,
});

function tempDir(): string { return mkdtempSync(join(tmpdir(), 'kap-journal-')); }

test('operations begun and not finished are found by the next open, with their content; finished ones are not', async () => {
  const dir = tempDir();
  try {
    const { journal, recovered } = await AuditJournal.open({ dir });
    assert.deepEqual(recovered, []);
    const a = await journal.begin([op('a1'), op('a2', { offset: 5n })]);
    const b = await journal.begin([op('b')]);
    const c = await journal.begin([op('c')]);
    journal.finish(b);
    await journal.close(); // a crash after this point: nothing more is written anyway
    const again = await AuditJournal.open({ dir });
    assert.deepEqual(again.recovered.map((r) => r.id), [a, c]);
    assert.deepEqual(again.recovered[0].ops.map((o) => o.resource.name), ['a1', 'a2']);
    assert.equal(again.recovered[0].ops[1].details?.offset, '5', 'int64 details are kept as decimal strings');
    // Still open until finished: a third open finds them again.
    await again.journal.close();
    const third = await AuditJournal.open({ dir });
    assert.deepEqual(third.recovered.map((r) => r.id), [a, c]);
    for (const r of third.recovered) third.journal.finish(r.id);
    await third.journal.close();
    const fourth = await AuditJournal.open({ dir });
    assert.deepEqual(fourth.recovered, []);
    await fourth.journal.close();
    assert.equal(readdirSync(dir).length, 1, 'one journal file left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a begin is durable when it resolves: a process killed right after still leaves it in the file', async () => {
  const dir = tempDir();
  try {
    const { journal } = await AuditJournal.open({ dir });
    const id = await journal.begin([op('x')]);
    // No close(): read the file as a restarted process would.
    const text = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('');
    assert.ok(text.includes(`"b":"${id}"`));
    await journal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a last line cut short by a crash is ignored; the lines before it count', async () => {
  const dir = tempDir();
  try {
    const { journal } = await AuditJournal.open({ dir });
    const id = await journal.begin([op('kept')]);
    await journal.close();
    const [file] = readdirSync(dir);
    appendFileSync(join(dir, file), '{"b":"half-written","ops":[{"categ');
    const again = await AuditJournal.open({ dir });
    assert.deepEqual(again.recovered.map((r) => r.id), [id]);
    await again.journal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('group commit: 2,000 concurrent begins take far fewer writes than begins', async () => {
  const dir = tempDir();
  try {
    const { journal } = await AuditJournal.open({ dir, fsync: 'always' });
    const ids = await Promise.all(Array.from({ length: 2000 }, (_, i) => journal.begin([op(`t${i}`)])));
    assert.equal(new Set(ids).size, 2000);
    assert.ok(journal.commits < 200, `${journal.commits} commits for 2,000 begins`);
    assert.equal(journal.openCount, 2000);
    await journal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rolling: past rollBytes the file is replaced by one holding only the open operations', async () => {
  const dir = tempDir();
  try {
    const { journal } = await AuditJournal.open({ dir, rollBytes: 4096 });
    const keep = await journal.begin([op('keep-me')]);
    for (let i = 0; i < 200; i++) journal.finish(await journal.begin([op(`churn-${i}`)]));
    await journal.close();
    const files = readdirSync(dir);
    assert.equal(files.length, 1);
    assert.ok(readFileSync(join(dir, files[0])).length < 16 * 1024, 'rolled: the file does not hold 200 operations');
    const again = await AuditJournal.open({ dir });
    assert.deepEqual(again.recovered.map((r) => r.id), [keep]);
    await again.journal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

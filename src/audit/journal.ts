/**
 * The write-ahead journal: an audited operation is on disk here before its request reaches the broker, and is
 * struck off once its outcome event is durable (acknowledged by the audit cluster or in the spool). A proxy that
 * dies in between leaves the operation open; the next start turns every open operation into an event whose
 * outcome is unknown. So a crash at any moment leaves no executed operation without an event.
 *
 * Files: <dir>/journal-<n>.jsonl, one JSON object per line:
 *   {"b":"<id>","ops":[...]}   operations of one request, written before it is forwarded
 *   {"f":"<id>"}               their outcome events are durable
 *
 * Group commit: begin() calls that arrive while a write is running are written, and fsynced, together by the
 * next one, so many connections share one fsync. The file is rolled when it passes rollBytes: the open
 * operations are copied into a new file, which is synced before the old one is deleted.
 *
 * Durability follows the spool's fsync policy: 'always' syncs before begin() resolves (survives power loss);
 * otherwise the lines are handed to the OS before it resolves (survives a crash of the process).
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditOperation } from './operation.js';
import type { FsyncPolicy } from './spool.js';
import { log } from '../log.js';

export interface JournalConfig {
  dir: string;
  fsync?: FsyncPolicy;
  /** Size after which the file is rolled (open operations carried over). Default 8 MiB. */
  rollBytes?: number;
}

/** An open operation found at start: its request may have reached the broker, its outcome was never recorded. */
export interface OpenIntent { id: string; ops: AuditOperation[] }

const FILE_RE = /^journal-(\d{12})\.jsonl$/;
const fileName = (n: number) => `journal-${String(n).padStart(12, '0')}.jsonl`;

/** int64 fields (bigint) are written as decimal strings. */
const replacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

interface Waiter { resolve(): void; reject(e: Error): void }

export class AuditJournal {
  readonly dir: string;
  private readonly fsync: FsyncPolicy;
  private readonly rollBytes: number;
  private fh!: FileHandle;
  private fileNo = 0;
  private size = 0;
  private readonly openLines = new Map<string, string>();
  /** Bytes of the operations still open (their outcome events are yet to be made durable). */
  openBytes = 0;
  private pending: string[] = [];
  private waiters: Waiter[] = [];
  private writing: Promise<void> | undefined;
  private nextId = 1;
  private readonly epoch = Date.now().toString(36);
  private closed = false;
  /** Lines written, group commits made (for the metrics and the bench). */
  commits = 0;

  private constructor(cfg: JournalConfig) {
    this.dir = cfg.dir;
    this.fsync = cfg.fsync ?? 'always';
    this.rollBytes = cfg.rollBytes ?? 8 * 1024 * 1024;
  }

  /**
   * Opens the journal directory and returns the operations a previous run left open (oldest first). They stay
   * open, carried into the new file, until finish() is called for them.
   */
  static async open(cfg: JournalConfig): Promise<{ journal: AuditJournal; recovered: OpenIntent[] }> {
    const j = new AuditJournal(cfg);
    await mkdir(j.dir, { recursive: true });
    const names = (await readdir(j.dir)).filter((n) => FILE_RE.test(n)).sort();
    const found = new Map<string, OpenIntent>();
    for (const name of names) {
      j.fileNo = Math.max(j.fileNo, Number(FILE_RE.exec(name)![1]));
      const text = await readFile(join(j.dir, name), 'utf8');
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        if (line === '') continue;
        let rec: { b?: string; f?: string; ops?: AuditOperation[] };
        try {
          rec = JSON.parse(line);
        } catch {
          // Only the last line can be cut short (a crash during its write): it was never acknowledged, so its
          // request was never forwarded. Anywhere else it is damage, which loses an operation: say so.
          if (i !== lines.length - 1) log.error({ component: 'audit-journal', file: name, line: i + 1 }, 'unreadable write-ahead journal line skipped');
          continue;
        }
        if (typeof rec.b === 'string' && Array.isArray(rec.ops)) found.set(rec.b, { id: rec.b, ops: rec.ops });
        else if (typeof rec.f === 'string') found.delete(rec.f);
      }
    }
    j.fileNo++;
    j.fh = await open(join(j.dir, fileName(j.fileNo)), 'wx');
    const recovered = [...found.values()];
    for (const r of recovered) {
      const line = JSON.stringify({ b: r.id, ops: r.ops }, replacer) + '\n';
      j.openLines.set(r.id, line);
      j.openBytes += line.length;
    }
    await j.writeAll([...j.openLines.values()].join(''), true);
    fsyncDir(j.dir);
    for (const name of names) await unlink(join(j.dir, name));
    if (recovered.length > 0) {
      log.warn({ component: 'audit-journal', operations: recovered.reduce((n, r) => n + r.ops.length, 0), requests: recovered.length },
        'write-ahead journal holds operations of the previous run whose outcome was never recorded; they are audited with outcome unknown');
    }
    return { journal: j, recovered };
  }

  /** Number of requests whose operations are open. */
  get openCount(): number { return this.openLines.size; }

  /** Writes the operations of one request; resolves with its id once they are durable (see the module comment). */
  begin(ops: AuditOperation[]): Promise<string> {
    if (this.closed) return Promise.reject(new Error(`write-ahead journal ${this.dir} is closed`));
    const id = `${this.epoch}-${this.nextId++}`;
    let line: string;
    try {
      line = JSON.stringify({ b: id, ops }, replacer) + '\n';
    } catch (e) {
      return Promise.reject(e as Error);
    }
    this.openLines.set(id, line);
    this.openBytes += line.length;
    return new Promise<string>((resolve, reject) => {
      this.pending.push(line);
      this.waiters.push({
        resolve: () => resolve(id),
        reject: (e) => { this.drop(id); reject(e); },
      });
      this.kick();
    });
  }

  /** Strikes a request off: its outcome events are durable (or it never reached the broker). */
  finish(id: string): void {
    if (!this.drop(id) || this.closed) return;
    this.pending.push(`{"f":"${id}"}\n`);
    this.kick();
  }

  /** Writes what is pending and closes the file; open operations stay for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.writing) await this.writing;
    await this.fh.close();
  }

  // -------------------------------------------------------------------------------------------------------------

  private drop(id: string): boolean {
    const line = this.openLines.get(id);
    if (line === undefined) return false;
    this.openLines.delete(id);
    this.openBytes -= line.length;
    return true;
  }

  private kick(): void {
    if (this.writing) return;
    this.writing = this.loop();
  }

  /** Writes batches until nothing is pending; each batch is every line that arrived while the previous one was written. */
  private async loop(): Promise<void> {
    // `writing` is cleared in the same synchronous step that finds nothing pending, so a begin() made from a waiter's
    // continuation either lands in `pending` before that check or starts a new loop.
    for (;;) {
      if (this.pending.length === 0) { this.writing = undefined; return; }
      const text = this.pending.join('');
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        await this.writeAll(text, this.fsync === 'always');
        this.commits++;
        for (const w of waiters) w.resolve();
      } catch (e) {
        log.error({ component: 'audit-journal', err: e, requests: waiters.length }, 'write-ahead journal write failed');
        for (const w of waiters) w.reject(new Error(`write-ahead journal ${this.dir}: ${(e as Error).message}`));
      }
      if (this.size > this.rollBytes && !this.closed) await this.roll().catch((e) => log.error({ component: 'audit-journal', err: e }, 'write-ahead journal roll failed; the current file grows on'));
    }
  }

  private async writeAll(text: string, sync: boolean): Promise<void> {
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off, this.size + off);
      off += bytesWritten;
    }
    this.size += buf.length;
    if (sync && buf.length > 0) await this.fh.datasync();
  }

  /** Starts a new file holding only the open operations, then deletes the old one. */
  private async roll(): Promise<void> {
    const old = this.fileNo;
    const oldFh = this.fh;
    this.fileNo++;
    this.fh = await open(join(this.dir, fileName(this.fileNo)), 'wx');
    this.size = 0;
    await this.writeAll([...this.openLines.values()].join(''), true);
    fsyncDir(this.dir);
    await oldFh.close();
    await unlink(join(this.dir, fileName(old)));
  }
}

function fsyncDir(dir: string): void {
  // Makes a created or deleted file name durable; not possible on every platform (best effort there).
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* EISDIR/EPERM on some systems */ }
}

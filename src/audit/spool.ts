/**
 * Local append-only spool for audit records that could not be written to the audit cluster yet.
 *
 * Layout of the spool directory (shared with the chain state, see chain.ts):
 *   seg-00000000000000000001.jsonl   segments, one JSON object per line: {"topic","key","value","headers"}
 *   replay-cursor.json               {"segment": n, "offset": bytes} = how far the oldest segment is delivered
 *   spool.lock                       pid of the process that has the spool open
 *
 * Records are appended to the newest segment; a new segment starts when the current one would exceed
 * segmentBytes. Replay reads from the cursor in order, hands batches to a deliver function, and only after the
 * deliver promise resolves advances the cursor (persisted) and deletes segments that are fully delivered. A
 * crash after a delivery but before the cursor is written delivers that batch again on restart: replay is
 * at-least-once, and the chain verifier reports such copies as identical duplicates.
 *
 * Durability of append() follows the fsync policy: 'always' = the data (and a new segment's directory entry)
 * is fsynced before append() resolves; a number = written to the OS at once, fsynced every that many ms;
 * 'never' = written to the OS, flushed whenever the OS decides. All three survive a crash of the process;
 * only 'always' survives a power loss without losing acknowledged records.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../log.js';
import type { ProxyMetrics } from '../metrics.js';

export interface SpoolRecord {
  topic: string;
  key?: string | null;
  value: string;
  headers?: Record<string, string>;
}

export type FsyncPolicy = 'always' | 'never' | number;

export interface SpoolConfig {
  dir: string;
  /** Default 'always'. */
  fsync?: FsyncPolicy;
  /** Upper bound of the bytes on disk in segments. Default 1 GiB. */
  maxBytes?: number;
  /** Size at which a new segment is started. Default 16 MiB (or maxBytes / 4 when smaller). */
  segmentBytes?: number;
}

/** Thrown by append() when the records do not fit under maxBytes; nothing of that append was written. */
export class SpoolFullError extends Error {
  readonly code = 'AUDIT_SPOOL_FULL';
  constructor(readonly dir: string, readonly usedBytes: number, readonly maxBytes: number, readonly neededBytes: number, readonly records: number) {
    super(`audit spool ${dir} is full: ${usedBytes} of ${maxBytes} bytes used, ${records} record(s) needing ${neededBytes} bytes cannot be added ` +
      `(the audit cluster has been unreachable long enough to fill it; raise audit.spool.maxBytes or restore the audit cluster)`);
    this.name = 'SpoolFullError';
  }
}

/** Thrown by Spool.open when another live process holds the spool directory. */
export class SpoolLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(`audit spool ${dir} is in use by process ${pid}; two proxies must not share a spool directory (each needs its own chain)`);
    this.name = 'SpoolLockedError';
  }
}

const SEGMENT_RE = /^seg-(\d{20})\.jsonl$/;
const CURSOR_FILE = 'replay-cursor.json';
const LOCK_FILE = 'spool.lock';

function segmentName(n: number): string { return `seg-${String(n).padStart(20, '0')}.jsonl`; }

interface Segment { n: number; size: number }

/** A promise-chain mutex: run() calls execute one at a time in call order. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn);
    this.tail = p.then(() => undefined, () => undefined);
    return p;
  }
}

function serialize(r: SpoolRecord): string {
  if (typeof r.topic !== 'string' || r.topic === '') throw new TypeError('spool record needs a topic');
  if (typeof r.value !== 'string') throw new TypeError('spool record value must be a string');
  const o: SpoolRecord = { topic: r.topic, value: r.value };
  if (r.key !== undefined) o.key = r.key;
  if (r.headers !== undefined) o.headers = r.headers;
  return JSON.stringify(o) + '\n';
}

function parseRecord(line: string): SpoolRecord {
  const o = JSON.parse(line) as SpoolRecord;
  if (o === null || typeof o !== 'object' || typeof o.topic !== 'string' || typeof o.value !== 'string') throw new Error('not a spool record');
  return o;
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes a created/renamed/deleted entry durable. Not supported on every platform; best effort there.
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* e.g. EISDIR/EPERM on some systems */ }
}

export class Spool {
  readonly dir: string;
  readonly fsync: FsyncPolicy;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  /** Appends refused because the spool was full. */
  fullRejections = 0;

  private segments: Segment[] = [];
  private active: { n: number; fh: FileHandle } | undefined;
  private cursorOffset = 0;
  /** Highest segment number used so far. */
  private lastSegment = 0;
  private records = 0;
  private dirty = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly mutex = new Mutex();

  private constructor(cfg: SpoolConfig, private readonly metrics?: ProxyMetrics) {
    this.dir = cfg.dir;
    this.fsync = cfg.fsync ?? 'always';
    this.maxBytes = cfg.maxBytes ?? 1024 ** 3;
    this.segmentBytes = cfg.segmentBytes ?? Math.max(64 * 1024, Math.min(16 * 1024 * 1024, Math.floor(this.maxBytes / 4)));
    if (typeof this.fsync === 'number' && !(Number.isFinite(this.fsync) && this.fsync > 0)) {
      throw new Error(`audit spool fsync interval must be a positive number of ms (got ${this.fsync})`);
    }
    if (!(this.maxBytes > 0)) throw new Error(`audit spool maxBytes must be > 0 (got ${this.maxBytes})`);
  }

  /** Opens the spool directory (creating it), takes its lock, and recovers segments left by a previous run. */
  static async open(cfg: SpoolConfig, metrics?: ProxyMetrics): Promise<Spool> {
    const s = new Spool(cfg, metrics);
    await mkdir(s.dir, { recursive: true });
    await s.lock();
    try {
      await s.recover();
    } catch (e) {
      await unlink(join(s.dir, LOCK_FILE)).catch(() => undefined);
      throw e;
    }
    if (typeof s.fsync === 'number') {
      s.syncTimer = setInterval(() => { void s.mutex.run(() => s.syncIfDirty()).catch((e) => log.error({ component: 'audit-spool', err: e }, 'audit spool fsync failed')); }, s.fsync);
      s.syncTimer.unref();
    }
    s.updateGauge();
    return s;
  }

  /** Records waiting for replay. */
  get pendingRecords(): number { return this.records; }
  /** Bytes waiting for replay. */
  get pendingBytes(): number { return this.diskBytes - this.cursorOffset; }
  /** Bytes of all segment files (what maxBytes limits). */
  get diskBytes(): number { return this.segments.reduce((a, s) => a + s.size, 0); }
  get isEmpty(): boolean { return this.records === 0; }

  /**
   * Appends records in order, all or nothing. Resolves once they are durable per the fsync policy. Throws
   * SpoolFullError (counted in fullRejections) when they do not fit under maxBytes.
   */
  append(records: SpoolRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const buf = Buffer.from(records.map(serialize).join(''), 'utf8');
    return this.mutex.run(async () => {
      if (this.closed) throw new Error(`audit spool ${this.dir} is closed`);
      const used = this.diskBytes;
      if (used + buf.length > this.maxBytes) {
        this.fullRejections++;
        throw new SpoolFullError(this.dir, used, this.maxBytes, buf.length, records.length);
      }
      let seg = this.segments[this.segments.length - 1];
      if (!this.active || !seg || seg.n !== this.active.n || (seg.size > 0 && seg.size + buf.length > this.segmentBytes)) {
        await this.roll();
        seg = this.segments[this.segments.length - 1];
      }
      const fh = this.active!.fh;
      try {
        let off = 0;
        while (off < buf.length) {
          const { bytesWritten } = await fh.write(buf, off, buf.length - off, seg.size + off);
          off += bytesWritten;
        }
        if (this.fsync === 'always') await fh.sync();
      } catch (e) {
        // Do not leave half a line behind: later appends would glue onto it.
        await fh.truncate(seg.size).catch(() => undefined);
        throw e;
      }
      seg.size += buf.length;
      this.records += records.length;
      if (this.fsync !== 'always') this.dirty = true;
      this.updateGauge();
    });
  }

  /**
   * Delivers up to `batchSize` of the oldest records with `deliver` and, once it resolves, removes them from
   * the spool. Returns the number delivered (0 when the spool is empty). If deliver rejects, nothing is removed
   * and the error is rethrown.
   */
  async replayOnce(deliver: (records: SpoolRecord[]) => Promise<void>, batchSize = 500): Promise<number> {
    const batch = await this.mutex.run(() => this.readBatch(batchSize));
    if (!batch) return 0;
    if (batch.records.length > 0) await deliver(batch.records);
    await this.mutex.run(() => this.ack(batch.segment, batch.endOffset, batch.lines));
    return batch.records.length;
  }

  /**
   * Delivers everything in the spool in order, including records appended while the replay runs, and returns
   * the number delivered. Rejects with deliver's error, keeping the undelivered records.
   */
  async replay(deliver: (records: SpoolRecord[]) => Promise<void>, opts: { batchSize?: number } = {}): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.replayOnce(deliver, opts.batchSize ?? 500);
      if (n === 0 && this.isEmpty) return total;
      total += n;
    }
  }

  /** fsyncs pending data and releases the directory. Records stay on disk for the next open(). */
  close(): Promise<void> {
    return this.mutex.run(async () => {
      if (this.closed) return;
      this.closed = true;
      if (this.syncTimer) clearInterval(this.syncTimer);
      if (this.active) {
        if (this.fsync !== 'never') await this.active.fh.sync();
        await this.active.fh.close();
        this.active = undefined;
      }
      await unlink(join(this.dir, LOCK_FILE)).catch(() => undefined);
    });
  }

  // -------------------------------------------------------------------------------------------------------------

  private updateGauge(): void {
    this.metrics?.auditSpoolBytes.set(this.pendingBytes);
  }

  private async syncIfDirty(): Promise<void> {
    if (this.dirty && this.active && !this.closed) {
      this.dirty = false;
      await this.active.fh.sync();
    }
  }

  private async lock(): Promise<void> {
    const path = join(this.dir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, String(process.pid), { flag: 'wx' });
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) throw new SpoolLockedError(this.dir, pid);
      log.warn({ component: 'audit-spool', dir: this.dir, stalePid: pid || undefined }, 'removing stale audit spool lock');
      await unlink(path).catch(() => undefined);
    }
    throw new Error(`could not lock audit spool ${this.dir}`);
  }

  private async recover(): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    for (const name of names) {
      const n = Number(SEGMENT_RE.exec(name)![1]);
      const size = (await stat(join(this.dir, name))).size;
      this.segments.push({ n, size });
    }
    // A crash in the middle of a write can leave a partial last line: cut it off (it was never acknowledged).
    const last = this.segments[this.segments.length - 1];
    if (last && last.size > 0) {
      const path = join(this.dir, segmentName(last.n));
      const fh = await open(path, 'r+');
      try {
        const tail = Math.min(last.size, 1024 * 1024);
        const buf = Buffer.alloc(tail);
        await fh.read(buf, 0, tail, last.size - tail);
        const nl = buf.lastIndexOf(0x0a);
        const keep = nl < 0 ? (tail === last.size ? 0 : last.size) : last.size - tail + nl + 1;
        if (keep < last.size) {
          log.warn({ component: 'audit-spool', segment: path, droppedBytes: last.size - keep }, 'audit spool segment ended in a partial record (crash during write); cut it off');
          await fh.truncate(keep);
          last.size = keep;
        }
      } finally {
        await fh.close();
      }
    }
    // Cursor: segments before it are fully delivered (crash before their deletion).
    let cursor = { segment: 0, offset: 0 };
    try {
      const c = JSON.parse(await readFile(join(this.dir, CURSOR_FILE), 'utf8')) as { segment: number; offset: number };
      if (Number.isSafeInteger(c.segment) && Number.isSafeInteger(c.offset) && c.offset >= 0) cursor = c;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ component: 'audit-spool', err: e }, 'unreadable audit spool replay cursor; replaying from the oldest segment');
    }
    while (this.segments.length > 0 && this.segments[0].n < cursor.segment) {
      await unlink(join(this.dir, segmentName(this.segments[0].n)));
      this.segments.shift();
    }
    this.lastSegment = Math.max(this.segments[this.segments.length - 1]?.n ?? 0, cursor.segment - 1, 0);
    const first = this.segments[0];
    this.cursorOffset = first && first.n === cursor.segment ? Math.min(cursor.offset, first.size) : 0;
    // Count the records waiting for replay.
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i];
      const from = i === 0 ? this.cursorOffset : 0;
      if (seg.size <= from) continue;
      const data = await readFile(join(this.dir, segmentName(seg.n)));
      let count = 0;
      for (let p = data.indexOf(0x0a, from); p >= 0; p = data.indexOf(0x0a, p + 1)) count++;
      this.records += count;
    }
    if (this.records > 0) {
      log.info({ component: 'audit-spool', dir: this.dir, records: this.records, bytes: this.pendingBytes, segments: this.segments.length }, 'audit spool holds records from a previous run; they will be replayed first');
    }
  }

  private async roll(): Promise<void> {
    if (this.active) {
      if (this.fsync !== 'never') await this.active.fh.sync();
      await this.active.fh.close();
      this.active = undefined;
      this.dirty = false;
    }
    // Numbers only grow, also across restarts and an emptied spool, so the cursor never names a reused number.
    const n = ++this.lastSegment;
    const fh = await open(join(this.dir, segmentName(n)), 'wx');
    this.segments.push({ n, size: 0 });
    this.active = { n, fh };
    if (this.fsync === 'always') await fsyncDir(this.dir);
  }

  private async readBatch(batchSize: number): Promise<{ segment: number; endOffset: number; lines: number; records: SpoolRecord[] } | undefined> {
    for (;;) {
      const seg = this.segments[0];
      if (!seg) return undefined;
      if (this.cursorOffset >= seg.size) {
        // Fully delivered (e.g. an empty segment left by a crash): delete it; appends start a new one.
        await this.dropFirstSegment();
        continue;
      }
      const path = join(this.dir, segmentName(seg.n));
      const fh = await open(path, 'r');
      try {
        let want = Math.min(seg.size - this.cursorOffset, 1024 * 1024);
        for (;;) {
          const buf = Buffer.alloc(want);
          const { bytesRead } = await fh.read(buf, 0, want, this.cursorOffset);
          const chunk = buf.subarray(0, bytesRead);
          const records: SpoolRecord[] = [];
          let pos = 0;
          let lines = 0;
          while (lines < batchSize) {
            const nl = chunk.indexOf(0x0a, pos);
            if (nl < 0) break;
            const lineStart = pos;
            const line = chunk.toString('utf8', pos, nl);
            lines++;
            pos = nl + 1;
            try {
              records.push(parseRecord(line));
            } catch (e) {
              // Cannot happen with our own writes; a damaged disk block can. Say so loudly and count it.
              log.error({ component: 'audit-spool', segment: path, offset: this.cursorOffset + lineStart, err: e }, 'unreadable audit spool record skipped: this audit event is lost');
              this.metrics?.auditDropped.inc({ reason: 'spool_corrupt' });
            }
          }
          if (lines > 0) return { segment: seg.n, endOffset: this.cursorOffset + pos, lines, records };
          if (want >= seg.size - this.cursorOffset) {
            // No newline up to the end of the segment: a partial record, which recover() removes; skip it.
            log.error({ component: 'audit-spool', segment: path }, 'audit spool segment ends without a newline; skipping its tail');
            return { segment: seg.n, endOffset: seg.size, lines: 0, records: [] };
          }
          want = Math.min(want * 2, seg.size - this.cursorOffset);
        }
      } finally {
        await fh.close();
      }
    }
  }

  private async ack(segment: number, endOffset: number, lines: number): Promise<void> {
    const seg = this.segments[0];
    if (!seg || seg.n !== segment) throw new Error('audit spool replay acknowledged a segment that is not the oldest');
    this.cursorOffset = endOffset;
    this.records = Math.max(0, this.records - lines);
    if (this.cursorOffset >= seg.size) {
      await this.dropFirstSegment();
    } else {
      await this.writeCursor(seg.n, this.cursorOffset);
    }
    this.updateGauge();
  }

  private async dropFirstSegment(): Promise<void> {
    const seg = this.segments[0];
    if (this.active && this.active.n === seg.n) {
      await this.active.fh.close();
      this.active = undefined;
      this.dirty = false;
    }
    // Cursor first (pointing past this segment), then delete: a crash in between deletes it on the next open.
    await this.writeCursor(seg.n + 1, 0);
    await unlink(join(this.dir, segmentName(seg.n)));
    this.segments.shift();
    this.cursorOffset = 0;
    if (this.fsync === 'always') await fsyncDir(this.dir);
  }

  private async writeCursor(segment: number, offset: number): Promise<void> {
    const path = join(this.dir, CURSOR_FILE);
    const tmp = path + '.tmp';
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify({ segment, offset }));
      if (this.fsync === 'always') await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The audit sink's file transport (`audit.sink: file`): each event's CloudEvent JSON as one line appended to a
 * local file, fsynced before a batch counts as delivered, for hosts where a log shipper (a SIEM agent, Fluent Bit,
 * Vector) takes audit logs from files. Every event goes to this one file, whatever topic the rules route it to.
 * The file is opened for appending (O_APPEND), so `logrotate` with `copytruncate` rotates it safely.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SpoolRecord } from './spool.js';
import type { AuditTransport } from './transport.js';

export class FileTransport implements AuditTransport {
  private fh: FileHandle | undefined;

  constructor(private readonly path: string, private readonly sync = true) {}

  describe(): Record<string, unknown> { return { file: this.path }; }

  async connect(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    this.fh = await open(this.path, 'a');
  }

  async send(records: SpoolRecord[]): Promise<void> {
    const fh = this.fh;
    if (!fh) throw new Error(`audit file ${this.path} is not open`);
    const buf = Buffer.from(records.map((r) => r.value + '\n').join(''), 'utf8');
    let off = 0;
    while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
    if (this.sync) await fh.datasync();
  }

  async disconnect(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}

/**
 * Where the audit sink delivers records: the seam between the durable queue (src/audit/sink.ts: batching, the
 * local spool, replay in order, reconnecting) and a destination. A transport only delivers: it is told to connect,
 * to send a batch (resolving once the destination has it durably), and to disconnect; everything about outages is
 * the sink's.
 */
import type { SpoolRecord } from './spool.js';

export interface AuditTransport {
  /** Connects and prepares `destinations` (e.g. creates topics); rejects when the destination is not usable. */
  connect(destinations: string[]): Promise<void>;
  /** Delivers records in order; resolves once they are durable at the destination, rejects otherwise. */
  send(records: SpoolRecord[]): Promise<void>;
  disconnect(): Promise<void>;
  /**
   * Optional cheap proof that the destination still takes writes while no records flow (the sink calls it every
   * audit.healthCheckIntervalMs when idle); rejects when it does not answer within timeoutMs.
   */
  check?(timeoutMs: number): Promise<void>;
  /** Where records go, safe to log (no secrets). */
  describe(): Record<string, unknown>;
}

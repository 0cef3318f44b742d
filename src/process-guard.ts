/**
 * A promise rejection nobody handled must not end the proxy (Node's default since v15 is to exit): the connections
 * it carries and the audit events it holds would go with it. It is logged at error level and counted in
 * kafka_proxy_internal_errors_total instead; each one is a bug to report. Installed once per process; the logger
 * and metrics of the latest app started are used.
 */
import type { Logger } from 'pino';
import type { ProxyMetrics } from './metrics.js';

let current: { log: Logger; metrics: ProxyMetrics } | undefined;

export function installRejectionGuard(log: Logger, metrics: ProxyMetrics): void {
  if (!current) {
    process.on('unhandledRejection', (reason) => {
      current!.metrics.internalErrors.inc({ kind: 'unhandled_rejection' });
      current!.log.error({ err: reason }, 'unhandled promise rejection (a bug: please report it); the proxy keeps running');
    });
  }
  current = { log, metrics };
}

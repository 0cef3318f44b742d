/**
 * kafkajs client construction shared by the audit sink and the verifier: connection settings, and kafkajs logs
 * routed into the pino logger (kafkajs would otherwise write to the console).
 */
import type { ConnectionOptions } from 'node:tls';
import kafkajs from 'kafkajs';
import type { Kafka as KafkaClient, KafkaConfig, LogEntry, SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import { log } from '../log.js';
import { kafkajsIdleTimerFix } from './kafkajs-idle-timer.js';

const { Kafka, logLevel } = kafkajs;

export interface AuditSaslConfig {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  /** Never logged: describeConnection() and the log redaction paths leave it out. */
  password: string;
}

export interface AuditKafkaConnection {
  brokers: string[];
  clientId?: string;
  ssl?: boolean | ConnectionOptions;
  sasl?: AuditSaslConfig;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** kafkajs log level routed to pino. Default 'warn'. */
  kafkaLogLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
}

const LEVELS = { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG } as const;

/** The connection settings in a form safe to log (no password, no TLS key material). */
export function describeConnection(c: AuditKafkaConnection): Record<string, unknown> {
  return {
    brokers: c.brokers,
    clientId: c.clientId,
    ssl: c.ssl === undefined ? false : c.ssl === true || typeof c.ssl === 'object',
    sasl: c.sasl ? { mechanism: c.sasl.mechanism, username: c.sasl.username } : undefined,
  };
}

function pinoLogCreator(base: Logger) {
  return () => (entry: LogEntry) => {
    const { message, timestamp: _t, logger: _l, ...extra } = entry.log as { message: string; timestamp: string; logger?: unknown; [k: string]: unknown };
    const l = base.child({ kafkajs: entry.namespace });
    // The sink limits the idempotent producer's retries on purpose so that a dead cluster surfaces as an error
    // the sink can act on (spool). A failed producer is discarded and a new one (new producer id) is created,
    // so the sequence-number concern behind this kafkajs warning does not apply.
    if (typeof message === 'string' && message.startsWith('Limiting retries for the idempotent producer')) {
      l.debug(extra, message);
      return;
    }
    switch (entry.level) {
      case logLevel.ERROR: l.warn(extra, message); break; // the sink reports the consequences at error level itself
      case logLevel.WARN: l.warn(extra, message); break;
      case logLevel.INFO: l.info(extra, message); break;
      default: l.debug(extra, message);
    }
  };
}

let reportedIdleTimer = false;

export function createKafka(c: AuditKafkaConnection, component: string): KafkaClient {
  if (!Array.isArray(c.brokers) || c.brokers.length === 0) throw new Error('audit kafka: brokers must be a non-empty list of host:port');
  const cfg: KafkaConfig = {
    brokers: c.brokers,
    clientId: c.clientId ?? 'kafka-audit-proxy',
    connectionTimeout: c.connectionTimeoutMs ?? 3000,
    requestTimeout: c.requestTimeoutMs ?? 10000,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: LEVELS[c.kafkaLogLevel ?? 'warn'],
    logCreator: pinoLogCreator(log.child({ component })),
  };
  if (c.ssl !== undefined) cfg.ssl = c.ssl;
  if (c.sasl) cfg.sasl = { mechanism: c.sasl.mechanism, username: c.sasl.username, password: c.sasl.password } as SASLOptions;
  if (kafkajsIdleTimerFix !== 'applied' && !reportedIdleTimer) {
    reportedIdleTimer = true;
    log.info({ kafkajsIdleTimerFix }, 'kafkajs idle-timer fix not applied (see kafkajsIdleTimerFix): if this kafkajs still re-arms its 1 ms timer, each audit-sink connection wakes the proxy every 1 ms (CPU only, no data effect)');
  }
  return new Kafka(cfg);
}

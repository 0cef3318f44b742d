import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs. Redaction is a second line of defence: secrets should never reach a log call,
 * but if a config object or SASL exchange is logged by mistake these paths are censored.
 */
export const REDACT_PATHS = [
  'password', '*.password', '*.*.password', 'sasl.password', '*.sasl.password',
  'token', '*.token', 'secret', '*.secret', 'key', '*.key', 'tls.key', '*.tls.key',
  'authBytes', '*.authBytes', 'credentials', '*.credentials', 'basicAuth', '*.basicAuth',
];

export function createLogger(level = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'kafka-audit-proxy' }, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } },
    destination ?? pino.destination({ dest: 2, sync: false }));
}

/** The process-wide logger; modules take a child of it with their own context. */
export let log: Logger = createLogger();

export function setLogger(logger: Logger): void { log = logger; }

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

/**
 * Bytes never reach a log line as bytes: a Buffer (a token, a frame, a payload) becomes "[N bytes]". That keeps
 * whatever secret it holds out of the log, and a top-level Buffer would otherwise make the redaction throw.
 */
function withoutBuffers(v: unknown, depth = 0): unknown {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `[${v.length} bytes]`;
  if (depth >= 4 || v === null || typeof v !== 'object' || v instanceof Error || Array.isArray(v)) return v;
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v)) {
    const y = withoutBuffers(x, depth + 1);
    if (y !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = y;
  }
  return out ?? v;
}

export function createLogger(level = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  return pino({
    level, base: { service: 'kafka-audit-proxy' }, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    hooks: {
      logMethod(args, method) {
        if (args.length > 0 && typeof args[0] === 'object' && args[0] !== null) args[0] = withoutBuffers(args[0]) as object;
        return method.apply(this, args);
      },
    },
  }, destination ?? pino.destination({ dest: 2, sync: false }));
}

/** The process-wide logger; modules take a child of it with their own context. */
export let log: Logger = createLogger();

export function setLogger(logger: Logger): void { log = logger; }

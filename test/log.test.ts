/**
 * The production logger (src/log.ts): bytes never reach a line as bytes, at any level, and logging a Buffer never
 * throws (the redaction did, for a top-level Buffer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../src/log.js';
import { assertNoSecret } from './harness/secrets.js';

test('a Buffer logged at any depth becomes its length; the secret in it is in no encoding on the line', () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const log = createLogger('trace', sink as never);
  const secret = 'token-secret-4711';
  const bytes = Buffer.from(`\u0000alice\u0000${secret}`);
  log.trace({ frame: bytes }, 'top level');
  log.debug({ request: { body: { authBytes: bytes, other: 1 } } }, 'nested');
  log.info({ frame: new Uint8Array(bytes) }, 'typed array');
  assert.equal(lines.length, 3);
  assert.match(lines[0], /"frame":"\[24 bytes\]"/);
  assertNoSecret(lines.join(''), { token: secret }, 'log lines');
});

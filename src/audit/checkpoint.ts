/**
 * Signed checkpoints of the hash chains: what they say, how they are signed, and how they travel as events.
 *
 * The hash chain (chain.ts) has no secret, so anyone who can write to the audit topic can append events that
 * chain correctly, and nothing shows that the newest events of a chain are missing. As in AWS CloudTrail's log
 * file integrity validation (SHA-256 hashes, plus digest files signed with a private key, each naming the
 * previous one), each proxy instance signs, per chain, a checkpoint of its position with an Ed25519 key only the
 * proxy holds:
 *
 *   {v: 1, instance, stream, seq, lastHash, time, prevSigHash, keyId, intervalMs, idleIntervalMs, reason}
 *
 * - `seq`/`lastHash`: the chain's last sequence number and that event's audithash: the signature covers every event
 *   up to `seq`, because each event's hash covers the one before it;
 * - `time`: when it was signed; `intervalMs`/`idleIntervalMs`: the signer's promise that an event is covered within
 *   `intervalMs` and that, idle, it signs again within `idleIntervalMs` (verify's truncation check reads them here, not
 *   from its own configuration);
 * - `prevSigHash`: hex SHA-256 of the previous checkpoint's signature of the same chain ("" for the first), so a
 *   removed checkpoint shows;
 * - `keyId`: the signing key's fingerprint (`sha256:` + hex SHA-256 of the public key's DER SPKI), so verify picks
 *   the right public key among several (key rotation).
 *
 * The signature is Ed25519 over the payload's canonical JSON (chain.ts canonicalJson), base64. A checkpoint is a
 * CloudEvent of type io.kafkaauditproxy/checkpoint with `auditinstance`/`auditstream` (so it is keyed and grouped like
 * its chain) but no sequence number: it is not part of the chain it signs.
 *
 * The private key is read from a file or an environment variable, held as a KeyObject, and never written
 * anywhere: not in logs, events, metrics or error messages (errors name the file, never its content).
 */
import { createHash, createPrivateKey, createPublicKey, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canonicalJson } from './chain.js';
import { clusterCrn, type AuditEvent, type EventContext } from './event.js';

export const CHECKPOINT_TYPE = 'io.kafkaauditproxy/checkpoint';
export const CHECKPOINT_METHOD = 'proxy.Checkpoint';

export type CheckpointReason = 'events' | 'interval' | 'idle' | 'stop';

export interface CheckpointPayload {
  v: 1;
  instance: string;
  stream: string;
  seq: number;
  lastHash: string;
  time: string;
  prevSigHash: string;
  keyId: string;
  intervalMs: number;
  idleIntervalMs: number;
  reason: CheckpointReason;
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM of the public key: what verify --public-key takes. */
  publicKeyPem: string;
  fingerprint: string;
}

/** `sha256:` + hex SHA-256 of the public key's DER SPKI encoding. */
export function fingerprintOf(publicKey: KeyObject): string {
  return 'sha256:' + createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/**
 * The checkpoint signing key, from PEM text (an environment variable) or a PEM file. Errors say what is wrong and
 * name the source, never the key material.
 */
export function loadSigningKey(source: { pem?: string; file?: string }, what = 'audit.checkpoint'): SigningKey {
  let pem: string;
  let from: string;
  if (source.pem !== undefined && source.pem !== '') {
    pem = source.pem;
    from = `${what}.privateKey`;
  } else if (source.file) {
    from = `${what}.privateKeyFile ${source.file}`;
    try { pem = readFileSync(source.file, 'utf8'); } catch (e) {
      throw new Error(`${from}: cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}); give the path of an Ed25519 private key in PEM (kafka-audit-proxy checkpoint-key --generate FILE makes one)`);
    }
  } else {
    throw new Error(`${what}: no private key: set ${what}.privateKeyFile or KAP_AUDIT_CHECKPOINT__PRIVATE_KEY`);
  }
  let privateKey: KeyObject;
  try { privateKey = createPrivateKey(pem); } catch {
    throw new Error(`${from}: not a private key in PEM (expected "-----BEGIN PRIVATE KEY-----", an Ed25519 key in PKCS#8)`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`${from}: an ${privateKey.asymmetricKeyType ?? 'unknown'} key; checkpoints are signed with Ed25519 (openssl genpkey -algorithm ed25519)`);
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), fingerprint: fingerprintOf(publicKey) };
}

/** Public keys for verify, by fingerprint. A file may hold a public key or (for convenience) a private key. */
export function loadPublicKeys(files: string[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const file of files) {
    let pem: string;
    try { pem = readFileSync(file, 'utf8'); } catch (e) {
      throw new Error(`--public-key ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    let key: KeyObject;
    try { key = createPublicKey(pem); } catch {
      throw new Error(`--public-key ${file}: not a public key in PEM (expected "-----BEGIN PUBLIC KEY-----"; kafka-audit-proxy checkpoint-key prints it)`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`--public-key ${file}: an ${key.asymmetricKeyType ?? 'unknown'} key; checkpoints are signed with Ed25519`);
    keys.set(fingerprintOf(key), key);
  }
  return keys;
}

export function signCheckpoint(payload: CheckpointPayload, key: SigningKey): string {
  return sign(null, Buffer.from(canonicalJson(payload)), key.privateKey).toString('base64');
}

export function checkSignature(payload: CheckpointPayload, signature: string, publicKey: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(canonicalJson(payload)), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** What the next checkpoint of the same chain names as `prevSigHash`. */
export function signatureHash(signature: string): string {
  return createHash('sha256').update(Buffer.from(signature, 'base64')).digest('hex');
}

export function buildCheckpointEvent(payload: CheckpointPayload, signature: string, ctx: EventContext): AuditEvent {
  const service = clusterCrn(ctx);
  const event = {
    specversion: '1.0', id: randomUUID(), source: service, subject: service, type: CHECKPOINT_TYPE,
    datacontenttype: 'application/json', time: payload.time,
    data: { serviceName: service, methodName: CHECKPOINT_METHOD, resourceName: service, checkpoint: payload, signature },
    auditinstance: payload.instance,
  } as AuditEvent;
  if (payload.stream !== '') event.auditstream = payload.stream;
  return event;
}

export function isCheckpointEvent(e: AuditEvent): boolean {
  return e?.type === CHECKPOINT_TYPE;
}

/** The payload and signature of a checkpoint event; undefined when it does not have a checkpoint's shape. */
export function readCheckpoint(e: AuditEvent): { payload: CheckpointPayload; signature: string } | undefined {
  const d = e?.data as unknown as { checkpoint?: Partial<CheckpointPayload>; signature?: unknown } | undefined;
  const p = d?.checkpoint;
  if (!p || typeof d?.signature !== 'string') return undefined;
  const ok = p.v === 1 && typeof p.instance === 'string' && typeof p.stream === 'string' && Number.isSafeInteger(p.seq) && (p.seq as number) >= 0
    && typeof p.lastHash === 'string' && typeof p.time === 'string' && !Number.isNaN(Date.parse(p.time)) && typeof p.prevSigHash === 'string'
    && typeof p.keyId === 'string' && Number.isSafeInteger(p.intervalMs) && Number.isSafeInteger(p.idleIntervalMs) && typeof p.reason === 'string';
  return ok ? { payload: p as CheckpointPayload, signature: d.signature } : undefined;
}

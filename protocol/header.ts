/**
 * Request and response headers (RequestHeader v1-2, ResponseHeader v0-1; their schemas are
 * protocol/messages/headers.ts, and which version an API version uses is protocol/facts.ts's
 * requestHeaderVersion / responseHeaderVersion). Read on every frame, so it reads fixed offsets instead of going
 * through the generic decoder; test/fuzz/decoders.fuzz.test.ts checks it. Request header v0 (no client id) is
 * only ControlledShutdown v0, between Kafka 3.9 ZooKeeper-mode brokers and controllers, never from clients.
 */
import { DecodeError } from './codec.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Offset of the request body within the frame (after the header's tagged fields for header v2). */
  bodyOffset: number;
}

/** Reads an unsigned varint at `off`; returns [value, nextOffset]. */
export function readUvarint(buf: Buffer, off: number): [number, number] {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (off >= buf.length) throw new DecodeError('truncated varint');
    const b = buf[off++];
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return [value, off];
  }
  throw new DecodeError('unsigned varint longer than 5 bytes');
}

/** Skips a tagged-field section at `off`, returning the offset after it. */
export function skipTaggedSection(buf: Buffer, off: number): number {
  let count: number, tag: number, size: number;
  [count, off] = readUvarint(buf, off);
  for (let i = 0; i < count; i++) {
    [tag, off] = readUvarint(buf, off);
    [size, off] = readUvarint(buf, off);
    off += size;
    if (off > buf.length) throw new DecodeError(`tagged field ${tag} runs past the end of the frame`);
  }
  return off;
}

/**
 * Parses a request header from a frame (size prefix excluded). `headerVersion` 2 adds tagged fields;
 * the client id stays an int16-length string in every version.
 */
export function readRequestHeader(frame: Buffer, headerVersion: 1 | 2, withClientId = true): RequestHeader {
  if (frame.length < 10) throw new DecodeError(`request frame of ${frame.length} bytes is shorter than a request header`);
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const correlationId = frame.readInt32BE(4);
  const len = frame.readInt16BE(8);
  let off = 10;
  let clientId: string | null = null;
  if (len >= 0) {
    if (off + len > frame.length) throw new DecodeError('request header client id runs past the end of the frame');
    // Streamed (never audited) frames skip the string: it would be one allocation per Produce/Fetch frame.
    if (withClientId) clientId = frame.toString('utf8', off, off + len);
    off += len;
  } else if (len !== -1) throw new DecodeError(`request header client id has negative length ${len}`);
  if (headerVersion === 2) off = skipTaggedSection(frame, off);
  return { apiKey, apiVersion, correlationId, clientId, bodyOffset: off };
}

/** Offset of the response body: correlation id, plus a tagged section for header v1. */
export function responseBodyOffset(frame: Buffer, headerVersion: 0 | 1): number {
  return headerVersion === 1 ? skipTaggedSection(frame, 4) : 4;
}

/** A new response frame (size prefix included) from the original header bytes and a rewritten body. */
export function reframe(header: Buffer, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + header.length + body.length);
  out.writeInt32BE(header.length + body.length, 0);
  header.copy(out, 4);
  body.copy(out, 4 + header.length);
  return out;
}

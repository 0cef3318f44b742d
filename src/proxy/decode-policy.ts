/**
 * Which frames the proxy decodes, and how much of the others it must read to follow the stream. What is decoded
 * is the union of what the interceptors ask for; everything else streams through after its header (and, for
 * Produce, its acks field) has been read in full.
 */
import * as facts from '../../protocol/facts.js';
import { readRequestHeader, type RequestHeader } from '../../protocol/header.js';
import { API_KEY, apiName, apiSchema } from '../../protocol/registry.js';
import { skipperTo } from '../../protocol/skip.js';
import { FrameError } from './frame-reader.js';
import type { DecodeNeed, Exchange, Interceptor } from './interceptor.js';

/**
 * The request header version to read a frame with (protocol/facts.ts); an API key without a schema is read as v1,
 * the layout every request header begins with (key, version, correlation id, client id).
 */
export function requestHeaderVersion(apiKey: number, version: number): 1 | 2 {
  const v = facts.requestHeaderVersion(apiKey, version) ?? 1;
  // Header v0 (no client id) is ControlledShutdown v0's, which only ZooKeeper-mode brokers took: not followed.
  if (v === 0) throw new FrameError(`${apiName(apiKey)} v${version} uses request header v0, which the proxy does not follow; not forwarded`, 'unsupported_version');
  return v;
}

/** The response header version (protocol/facts.ts: v1 when flexible, ApiVersions always v0); v0 for unknown keys. */
export function responseHeaderVersion(apiKey: number, version: number): 0 | 1 {
  return facts.responseHeaderVersion(apiKey, version) ?? 0;
}

/** How a request frame goes on: decoded whole, or streamed after its header. */
export type RequestPlan =
  | { mode: 'buffer'; need: DecodeNeed }
  | { mode: 'more' }
  | { mode: 'stream'; header: RequestHeader; expectResponse: boolean; oversizedAudit: boolean };

export class DecodePolicy {
  // The interceptors with each hook, listed once: these are asked per frame.
  private readonly headerChecks: Interceptor[];
  private readonly requestDecoders: Interceptor[];
  private readonly responseDecoders: Interceptor[];

  /**
   * `failClosed` (audit.failMode: closed): an audited Produce or Fetch too large to decode is not relayed unaudited
   * either; the connection closes, as for any other audited request over the limit.
   */
  constructor(interceptors: readonly Interceptor[], private readonly maxAuditedRequestBytes: number, private readonly failClosed = false) {
    this.headerChecks = interceptors.filter((i) => i.onRequestHeader);
    this.requestDecoders = interceptors.filter((i) => i.decodeRequest);
    this.responseDecoders = interceptors.filter((i) => i.decodeResponse);
  }

  /** The strongest need any interceptor has for requests of this API. */
  requestNeed(apiKey: number): DecodeNeed {
    let need: DecodeNeed;
    for (const i of this.requestDecoders) {
      const n = i.decodeRequest!(apiKey);
      if (n === 'required') return n;
      need ??= n;
    }
    return need;
  }

  responseWanted(ex: Exchange): boolean {
    if (ex.request !== undefined) return true;
    for (const i of this.responseDecoders) if (i.decodeResponse!(ex)) return true;
    return false;
  }

  /**
   * Whether a response read whole is decoded: 'always' when an interceptor needs every such response (its body is
   * then also counted in kafka_proxy_responses_total), 'now' when one needs this one for what it carries (the
   * denials' scan), 'no' otherwise.
   */
  bodyWanted(ex: Exchange, frame: Buffer): 'always' | 'now' | 'no' {
    let now = false;
    for (const i of this.responseDecoders) {
      if (!i.decodeResponse!(ex)) continue;
      if (!i.needsBody) return 'always';
      if (!now && i.needsBody(ex, frame)) now = true;
    }
    return now ? 'now' : 'no';
  }

  /**
   * Decides from a frame's head. 'more' asks the frame reader for a longer head: nothing is decided on a guess.
   * Throws a FrameError for a frame that must not be forwarded.
   */
  planRequest(size: number, head: Buffer): RequestPlan {
    if (size < 8) throw new FrameError(`request frame of ${size} bytes is too short for a request header`, 'malformed');
    const apiKey = head.readInt16BE(0);
    const version = head.readInt16BE(2);
    for (const i of this.headerChecks) i.onRequestHeader!(apiKey);
    const need = this.requestNeed(apiKey);
    let oversizedAudit = false;
    if (need !== undefined) {
      if (size <= this.maxAuditedRequestBytes) return { mode: 'buffer', need };
      // Optional decoding (client info, denials) gives up on a frame this large; it streams like any other. Not
      // ApiVersions: the proxy must see its version to keep the answer within the versions it can follow. An audited
      // Produce or Fetch streams unaudited (counted) in fail-open mode; fail-closed closes it like any other.
      const dataPath = apiKey === API_KEY.Produce || apiKey === API_KEY.Fetch;
      if ((need === 'required' && (!dataPath || this.failClosed)) || apiKey === API_KEY.ApiVersions) {
        throw new FrameError(`${apiName(apiKey)} request of ${size} bytes exceeds limits.maxAuditedRequestBytes (${this.maxAuditedRequestBytes}); ` +
          'it could not be audited, so it is not forwarded', 'too_large_to_audit');
      }
      if (need === 'required') oversizedAudit = true;
    }
    let header: RequestHeader;
    try {
      header = readRequestHeader(head, requestHeaderVersion(apiKey, version), false);
    } catch (err) {
      if (head.length < size) return { mode: 'more' };
      throw new FrameError(`request header does not decode (${(err as Error).message}); the stream cannot be followed`, 'malformed');
    }
    let expectResponse = true;
    if (apiKey === API_KEY.Produce) {
      const acks = produceAcks(size, head, header);
      if (acks === undefined) return { mode: 'more' };
      expectResponse = acks !== 0;
    }
    return { mode: 'stream', header, expectResponse, oversizedAudit };
  }
}

/**
 * Reads Produce's acks from the frame head; undefined when the head is too short to tell (the frame reader then
 * offers a longer one). A version the proxy's schema does not know cannot be followed: the connection is closed
 * (ApiVersions answers through the proxy keep clients within the known versions).
 */
const PRODUCE_REQUEST = apiSchema(API_KEY.Produce)!.request;

function produceAcks(size: number, head: Buffer, header: RequestHeader): number | undefined {
  const schema = PRODUCE_REQUEST;
  if (!facts.knownRequestVersion(API_KEY.Produce, header.apiVersion)) {
    throw new FrameError(`Produce v${header.apiVersion} is outside the versions the proxy knows (${schema.validVersions}): `
      + 'whether the broker answers it cannot be read; not forwarded', 'unsupported_version');
  }
  try {
    const off = skipperTo(schema, header.apiVersion, 'Acks')(head, header.bodyOffset);
    if (off + 2 <= head.length) return head.readInt16BE(off);
  } catch { /* truncated: decided below */ }
  if (head.length < size) return undefined;
  throw new FrameError('Produce request ends before its acks field', 'malformed');
}

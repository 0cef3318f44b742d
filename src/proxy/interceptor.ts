/**
 * A connection is a pipeline of interceptors, each one concern (SASL, client info, version capping, address
 * rewriting, topic ids, audit), in the spirit of Kroxylicious's filters. The connection (connection.ts) owns the
 * sockets and framing, the exchange queue pairs requests with responses, the decode policy decodes what the
 * interceptors ask for; an interceptor only sees exchanges and answers through the hooks below.
 */
import type { Logger } from 'pino';
import type { Decoded } from '../../protocol/codec.js';
import type { RequestHeader } from '../../protocol/header.js';
import type { AuditOperation, ConnectionInfo } from '../audit/operation.js';
import type { ProxyContext } from './context.js';
import type { FrameErrorReason } from './frame-reader.js';

/** One request and, once it comes, its response. */
export interface Exchange {
  header: RequestHeader;
  apiName: string;
  /** The decoded request body, when an interceptor asked for it. */
  request?: Decoded;
  receivedAt: number;
  forwardedAt: number;
  /** Whether the broker answers (false only for Produce with acks=0). */
  expectResponse: boolean;
  /** A response the proxy answers itself (a refusal), sent when this exchange reaches the head of the queue. */
  synthetic?: Buffer;
  /** The audit interceptor's write-ahead record of this request (see src/audit/journal.ts). */
  audit?: { intent: string; ops: AuditOperation[] };
}

/** What an interceptor may do to the connection it is part of. */
export interface ConnectionControl {
  readonly ctx: ProxyContext;
  readonly info: ConnectionInfo;
  readonly log: Logger;
  /** Reads nothing more from the client until releaseRequests(). */
  holdRequests(): void;
  releaseRequests(): void;
  /** Holds this and every later response until `ready` resolves (new broker listeners being bound). */
  holdResponsesUntil(ready: Promise<void>): void;
  /** Counts (and logs once) a frame or part of one the proxy could not decode and passed on as it was. */
  reportUndecodable(apiKey: number, version: number, side: 'request' | 'response', err: Error): void;
}

/** What to do with a decoded request: forward it (undefined), answer it with a refusal, or close the connection. */
/** Who ended a connection: the client left, the broker closed it, or the proxy did (a limit, a refusal, a stop). */
export type CloseSide = 'client' | 'broker' | 'proxy';

export type RequestVerdict = undefined | { refuse: string } | { close: string; kind: FrameErrorReason };

/** A streamed response's bytes, passed through a transform on their way to the client (leader hints). */
export interface ResponseStream {
  /** Bytes that may go to the client now. */
  push(chunk: Buffer): Buffer;
  /** The rest, once the frame is complete. */
  finish(): Buffer;
  /** True while bytes given to push are held back. */
  readonly holding: boolean;
}

export type DecodeNeed = 'required' | 'optional' | undefined;

export interface Interceptor {
  /**
   * Whether requests of this API must be decoded: 'required' ones that do not decode are not forwarded (the
   * connection closes); 'optional' ones are forwarded as they are.
   */
  decodeRequest?(apiKey: number): DecodeNeed;
  /** Whether this exchange's response must be read whole (those with a decoded request always are). */
  decodeResponse?(ex: Exchange): boolean;
  /**
   * With decodeResponse true: whether, given the whole response frame (size prefix excluded), it must be decoded
   * for this interceptor. Absent: always. A response only such interceptors asked for is decoded only when one
   * says yes (the denials' scan decodes only answers that can hold a denial).
   */
  needsBody?(ex: Exchange, frame: Buffer): boolean;
  /** Every request, decoded or not, before anything else; may throw a FrameError to close the connection. */
  onRequestHeader?(apiKey: number): void;
  /** A decoded request. A promise holds the client's later bytes until it settles (write-ahead). */
  onRequest?(ex: Exchange): RequestVerdict | Promise<RequestVerdict>;
  /** The request has been sent to the broker. */
  onForwarded?(ex: Exchange): void;
  /** The connection closed while the request waited for a verdict: it was never forwarded. */
  onAbandoned?(ex: Exchange): void;
  /** A streamed (not decoded) response is starting: a transform for its bytes, or undefined. */
  streamResponse?(ex: Exchange, size: number): ResponseStream | undefined;
  /** A decoded response (undefined: it did not decode). Returns true when it changed the body (re-encoded). */
  onResponse?(ex: Exchange, body: Decoded | undefined): boolean;
  /** The (decoded) response has gone to the client. */
  onResponseSent?(ex: Exchange): void;
  /** No response will come: the connection closed first, or the request expects none (acks=0). */
  onUnanswered?(ex: Exchange, reason: string): void;
  /** The connection is closing. */
  onClose?(by: CloseSide): void;
}

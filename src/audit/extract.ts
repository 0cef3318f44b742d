/**
 * Turns a decoded request/response pair of an audited API into AuditOperations: one per resource the request acts
 * on (CreateTopics of three topics gives three operations). Each API's rules are its descriptor in
 * src/audit/apis/; this module is the entry point the proxy and the tests use.
 *
 * Result of each operation:
 * - errorCode / errorName from the per-resource error code (Kafka's Errors names, protocol/errors.ts); where an
 *   API has a top-level error code as well, a non-zero top-level code wins (it applies to every resource), and an
 *   API that only reports per-partition codes takes the first non-zero one. *_AUTHORIZATION_FAILED names are
 *   passed through unchanged; the event builder makes authorization events of them.
 * - message: the broker's ErrorMessage when it sent a non-empty one, else Kafka's default message for a non-zero
 *   code, '' for success.
 * - no response: `{ message: 'no response: connection closed' }` with errorCode/errorName undefined.
 * - a resource of the request that the response does not mention: `{ message: 'no result for this resource in
 *   the response' }`, also without a code. Resources only the response names are audited too (no details).
 *
 * Details never carry secrets: config values of sensitive-looking keys are "[REDACTED]", SCRAM salts and salted
 * passwords are never read, a delegation token's HMAC is never copied (Renew/Expire name the token by a SHA-256
 * fingerprint of it). int64 values come out as numbers, or as decimal strings when beyond 2^53.
 *
 * Metadata and DescribeCluster yield no operations (every client sends them constantly), but for a Metadata
 * request that lets the broker create topics (see apis/cluster.ts).
 */
import type { Decoded } from '../../protocol/codec.js';
import type { AuditOperation } from './operation.js';
import { auditedApi } from './apis/index.js';
import type { ExtractContext } from './apis/shared.js';

export { AUDITED_API_KEYS, DATA_API_KEYS, REFUSABLE_API_KEYS, auditedApi, categoryOf } from './apis/index.js';
export { REDACTED, hmacFingerprint, type ExtractContext } from './apis/shared.js';

/** The audit operations of one request/response pair (`response` undefined: none came); [] for an API not audited. */
export function extractOperations(apiKey: number, request: Decoded, response: Decoded | undefined, ctx: ExtractContext): AuditOperation[] {
  return auditedApi(apiKey)?.extract(request, response, ctx) ?? [];
}

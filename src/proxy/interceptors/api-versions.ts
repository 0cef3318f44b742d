/**
 * Caps, in ApiVersions responses, each API the proxy has a schema for at the highest version that schema knows,
 * so a client never picks a version the proxy would have to pass through blind (for Produce that would mean not
 * knowing whether a response follows). APIs without a schema keep the broker's range.
 */
import type { Decoded } from '../../../protocol/codec.js';
import { API_KEY, API_SCHEMAS } from '../../../protocol/registry.js';
import { parseRange } from '../../../protocol/schema.js';
import type { Exchange, Interceptor } from '../interceptor.js';

export function capApiVersions(body: Decoded): boolean {
  let changed = false;
  for (const k of body.ApiKeys ?? []) {
    const schema = API_SCHEMAS.get(k.ApiKey);
    if (!schema) continue;
    const max = parseRange(schema.request.validVersions)!.max;
    if (k.MaxVersion > max) { k.MaxVersion = max; changed = true; }
  }
  return changed;
}

export class ApiVersionsCapInterceptor implements Interceptor {
  decodeResponse(ex: Exchange): boolean { return ex.header.apiKey === API_KEY.ApiVersions; }

  onResponse(ex: Exchange, body: Decoded | undefined): boolean {
    return body !== undefined && ex.header.apiKey === API_KEY.ApiVersions && capApiVersions(body);
  }
}

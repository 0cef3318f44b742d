/**
 * Caps, in ApiVersions responses, each API at the highest version the proxy's schema knows, so a client never
 * picks a version the proxy would have to pass through blind (for Produce that would mean not knowing whether a
 * response follows), and leaves out API keys the proxy has no schema for (a newer broker's): the audit refuses
 * those, as it cannot tell what they do, so clients are not told they exist.
 */
import type { Decoded } from '../../../protocol/codec.js';
import { API_KEY, API_SCHEMAS } from '../../../protocol/registry.js';
import { parseRange } from '../../../protocol/schema.js';
import type { Exchange, Interceptor } from '../interceptor.js';

export function capApiVersions(body: Decoded): boolean {
  const keys: Decoded[] = body.ApiKeys ?? [];
  const known = keys.filter((k) => API_SCHEMAS.has(k.ApiKey));
  let changed = known.length !== keys.length;
  if (changed) body.ApiKeys = known;
  for (const k of known) {
    const max = parseRange(API_SCHEMAS.get(k.ApiKey)!.request.validVersions)!.max;
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

/**
 * One descriptor per audited API: its category, how a request/response pair becomes one operation per resource,
 * and, for the management APIs, the response that refuses it (fail-closed mode, audit.unknownPrincipal: refuse).
 * The type requires that refusal of every management API, so forgetting it does not compile; every table the
 * proxy keeps about audited APIs (audited keys, data keys, refusable keys, categories, dispatch) is derived from
 * the list of descriptors in index.ts.
 *
 * Adding an audited API: a descriptor (defineApi) in the file of its family, its entry in index.ts, and a test.
 */
import type { ApiKeyWithSchema, RequestOf, ResponseOf } from '../../../protocol/registry.js';
import { apiName } from '../../../protocol/registry.js';
import type { Decoded } from '../../../protocol/codec.js';
import type { AuditCategory, AuditOperation } from '../operation.js';
import { OperationBuilder, type ExtractContext } from './shared.js';

/** A value with every field optional, at every depth (Buffers and other leaves stay as they are). */
export type DeepPartial<T> = T extends Buffer | string | number | bigint | boolean | null | undefined ? T
  : T extends readonly (infer U)[] ? DeepPartial<U>[]
    : { [K in keyof T]?: DeepPartial<T[K]> };

interface Common<K extends ApiKeyWithSchema> {
  apiKey: K;
  /** Adds one operation per resource the request acts on; `res` undefined = no response came. */
  operations(b: OperationBuilder, req: RequestOf<K>, res: ResponseOf<K> | undefined, ctx: ExtractContext): void;
  /** Whether this request performs the audited operation at all (default: always). */
  performs?(req: RequestOf<K>): boolean;
}

/** An API that changes the cluster: audited, written ahead, refusable. */
export interface ManagementApi<K extends ApiKeyWithSchema> extends Common<K> {
  category: 'management';
  /**
   * The resource results of a response refusing `req`, mirrored from the request so clients match results to what
   * they asked for; every ErrorCode/ErrorMessage is set to the refusal and every other field gets its default.
   */
  refusal(req: RequestOf<K>, version: number): DeepPartial<ResponseOf<K>>;
}

/** An API that reads: audited when its category is on; never refused. */
export interface ReadingApi<K extends ApiKeyWithSchema> extends Common<K> {
  category: 'describe' | 'produce' | 'consume';
}

export type ApiDescriptor<K extends ApiKeyWithSchema> = ManagementApi<K> | ReadingApi<K>;

/** A descriptor with its types erased, as the registry keeps it: decoded values come from the API's own schema. */
export interface AuditedApi {
  apiKey: number;
  name: string;
  category: Exclude<AuditCategory, 'authentication' | 'lifecycle'>;
  extract(req: Decoded, res: Decoded | undefined, ctx: ExtractContext): AuditOperation[];
  performs(req: Decoded): boolean;
  /** Management APIs only. */
  refusal?(req: Decoded, version: number): Decoded;
}

/** Turns a typed descriptor into the registry's form. */
export function defineApi<K extends ApiKeyWithSchema>(d: ApiDescriptor<K>): AuditedApi {
  const name = apiName(d.apiKey);
  // The codec decoded `req`/`res` with this API's schema, which is what RequestOf/ResponseOf describe.
  const typed = (v: Decoded) => v as unknown as RequestOf<K>;
  return {
    apiKey: d.apiKey, name, category: d.category,
    extract(req, res, ctx) {
      const b = new OperationBuilder({ apiKey: d.apiKey, name, category: d.category }, ctx, res !== undefined);
      d.operations(b, typed(req), res as unknown as ResponseOf<K> | undefined, ctx);
      return b.ops;
    },
    performs: (req) => d.performs?.(typed(req)) ?? true,
    ...(d.category === 'management' ? { refusal: (req: Decoded, v: number) => d.refusal(typed(req), v) as Decoded } : {}),
  };
}

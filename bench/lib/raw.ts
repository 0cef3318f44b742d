/**
 * A minimal Kafka client over a raw socket, for what real clients cannot do on purpose: hold thousands of idle
 * connections cheaply, or stop reading their socket. The shared implementation is test/harness/raw.ts (the tests
 * use the same one); this file only gives the benchmarks their defaults: client id "bench-raw", Nagle left on.
 */
import { RawConnection as Raw } from '../../test/harness/raw.js';
import type { Decoded } from '../../protocol/codec.js';

export { topicMetadata, fetchBody } from '../../test/harness/raw.js';

export type RawConnection = Raw;
export const RawConnection = {
  connect(port: number, host = '127.0.0.1'): Promise<Raw> {
    return Raw.open(port, { host, clientId: 'bench-raw', noDelay: false });
  },
};

/** ApiVersions v0 (the first request of every Kafka client). */
export function apiVersions(c: Raw): Promise<Decoded> {
  return c.request(18, 0, {});
}

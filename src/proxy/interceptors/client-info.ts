/** Client software name and version (KIP-511, ApiVersions v3+), for every later event of the connection. */
import { API_KEY } from '../../../protocol/registry.js';
import type { ConnectionControl, DecodeNeed, Exchange, Interceptor, RequestVerdict } from '../interceptor.js';

export class ClientInfoInterceptor implements Interceptor {
  constructor(private readonly conn: ConnectionControl) {}

  // Optional: an ApiVersions version newer than the proxy knows is forwarded as is (the broker answers it in v0).
  decodeRequest(apiKey: number): DecodeNeed { return apiKey === API_KEY.ApiVersions ? 'optional' : undefined; }

  onRequest(ex: Exchange): RequestVerdict {
    const r = ex.request!;
    if (ex.header.apiKey === API_KEY.ApiVersions && r.ClientSoftwareName) {
      this.conn.info.clientSoftwareName = r.ClientSoftwareName;
      this.conn.info.clientSoftwareVersion = r.ClientSoftwareVersion;
    }
    return undefined;
  }
}

/**
 * Reads the PROXY protocol header (proxy-protocol.ts) off a freshly accepted socket, before anything else looks at
 * it. Bytes after the header (the client's first Kafka request or TLS ClientHello, often in the same segment) are
 * put back into the socket with unshift(), so whoever reads next sees the client's stream from its first byte.
 *
 * It reads through 'readable' and read(), not 'data': once the listener is removed the stream returns to the state
 * of a socket nobody has read from yet, and the connection's own 'data' listener starts it flowing as usual.
 */
import type { Socket } from 'node:net';
import { parseProxyHeader, type ProxiedAddress } from './proxy-protocol.js';

export type ProxyProtocolMode = 'required' | 'allowed' | 'off';

/** Why a header was refused; `reason` is the metric label, the message says what failed and what to do. */
export class ProxyHeaderError extends Error {
  constructor(message: string, readonly reason: 'proxy_protocol_missing' | 'proxy_protocol_malformed' | 'proxy_protocol_timeout' | 'proxy_protocol_closed') {
    super(message);
    this.name = 'ProxyHeaderError';
  }
}

export interface ProxyHeaderOutcome {
  /** The client's address from the header; undefined when there was none (allowed) or it named no client (LOCAL, UNKNOWN). */
  source?: ProxiedAddress;
  version?: 1 | 2;
}

/** Resolves once the header is read (and the rest of the bytes put back); rejects with a ProxyHeaderError. */
export function readProxyHeader(socket: Socket, mode: 'required' | 'allowed', timeoutMs: number): Promise<ProxyHeaderOutcome> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (err: ProxyHeaderError | undefined, outcome: ProxyHeaderOutcome = {}, rest?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeListener('readable', onReadable);
      socket.removeListener('end', onClosed);
      socket.removeListener('close', onClosed);
      socket.removeListener('error', onError);
      if (err) return reject(err);
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(outcome);
    };
    const onReadable = () => {
      for (let chunk: Buffer | null; !done && (chunk = socket.read() as Buffer | null) !== null;) {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        const r = parseProxyHeader(buf);
        switch (r.kind) {
          case 'incomplete': break;
          case 'absent':
            if (mode === 'required') {
              finish(new ProxyHeaderError('no PROXY protocol header (listen.proxyProtocol is required): connect through the load balancer, '
                + 'or set listen.proxyProtocol to allowed/off if clients connect directly', 'proxy_protocol_missing'));
            } else finish(undefined, {}, buf);
            break;
          case 'malformed':
            finish(new ProxyHeaderError(`malformed PROXY protocol header: ${r.reason}`, 'proxy_protocol_malformed'));
            break;
          case 'header':
            finish(undefined, { source: r.source, version: r.version }, buf.subarray(r.length));
            break;
        }
      }
    };
    const onClosed = () => finish(new ProxyHeaderError('connection closed before its PROXY protocol header was complete', 'proxy_protocol_closed'));
    const onError = (e: Error) => finish(new ProxyHeaderError(`socket error before the PROXY protocol header: ${e.message}`, 'proxy_protocol_closed'));
    const timer = setTimeout(() => finish(new ProxyHeaderError(
      `no complete PROXY protocol header (nor any client bytes) within ${timeoutMs} ms`, 'proxy_protocol_timeout')), timeoutMs);
    timer.unref();
    socket.on('readable', onReadable);
    socket.once('end', onClosed);
    socket.once('close', onClosed);
    socket.once('error', onError);
  });
}

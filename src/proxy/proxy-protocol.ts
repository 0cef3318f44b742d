/**
 * The PROXY protocol (HAProxy's spec, versions 1 and 2): the header a TCP load balancer (HAProxy `send-proxy` /
 * `send-proxy-v2`, AWS NLB with proxy protocol v2, ingress controllers in TCP mode) writes before the client's
 * bytes, saying whose connection it is. Without it every event would name the balancer as the client.
 *
 * This module only parses; src/proxy/proxy-header-reader.ts reads a header off a socket. The parser is
 * incremental: fed the bytes received so far, it says whether they hold a whole header, need more, are not a
 * PROXY header at all (a Kafka frame or a TLS ClientHello: both begin with bytes no header begins with), or are
 * a broken header.
 */
import net from 'node:net';

/** `\r\n\r\n\0\r\nQUIT\n`: the 12 bytes every v2 header starts with. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The spec's limit for a v1 line, CRLF included. */
export const V1_MAX_BYTES = 107;
/** Largest v2 header accepted: 16 fixed bytes plus addresses and TLVs (AWS adds a VPC endpoint id; 1 KiB is plenty). */
export const V2_MAX_BYTES = 16 + 1024;

export interface ProxiedAddress { address: string; port: number }

export type ProxyHeaderResult =
  /** Not enough bytes yet to tell. */
  | { kind: 'incomplete' }
  /** The bytes do not start with a PROXY header. */
  | { kind: 'absent' }
  | { kind: 'malformed'; reason: string }
  /**
   * A whole header of `length` bytes. `source` is the client's address; undefined when the header says the
   * connection is the balancer's own (v2 LOCAL, e.g. a health check; v1 UNKNOWN; v2 UNSPEC or UNIX families),
   * in which case the socket's own peer address stands.
   */
  | { kind: 'header'; version: 1 | 2; length: number; source?: ProxiedAddress; destination?: ProxiedAddress };

/** Whether `buf` is a prefix of `full` (or starts with all of it). */
function startsLike(buf: Buffer, full: Buffer): boolean {
  const n = Math.min(buf.length, full.length);
  return buf.subarray(0, n).equals(full.subarray(0, n));
}

export function parseProxyHeader(buf: Buffer): ProxyHeaderResult {
  if (buf.length === 0) return { kind: 'incomplete' };
  if (startsLike(buf, V2_SIGNATURE)) return buf.length < 16 ? { kind: 'incomplete' } : parseV2(buf);
  if (startsLike(buf, V1_PREFIX)) return buf.length < V1_PREFIX.length ? { kind: 'incomplete' } : parseV1(buf);
  return { kind: 'absent' };
}

function parseV1(buf: Buffer): ProxyHeaderResult {
  const end = buf.indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    return buf.length >= V1_MAX_BYTES ? { kind: 'malformed', reason: `PROXY v1 line longer than ${V1_MAX_BYTES} bytes` } : { kind: 'incomplete' };
  }
  const length = end + 2;
  if (length > V1_MAX_BYTES) return { kind: 'malformed', reason: `PROXY v1 line longer than ${V1_MAX_BYTES} bytes` };
  const line = buf.subarray(0, end).toString('latin1');
  const parts = line.split(' ');
  // "PROXY UNKNOWN" may carry anything after it (the spec says to ignore it): the balancer's own connection.
  if (parts[1] === 'UNKNOWN') return { kind: 'header', version: 1, length };
  if (parts.length !== 6) return { kind: 'malformed', reason: `PROXY v1 line must have 6 fields (got ${parts.length})` };
  const [, proto, src, dst, sport, dport] = parts;
  const family = proto === 'TCP4' ? 4 : proto === 'TCP6' ? 6 : 0;
  if (family === 0) return { kind: 'malformed', reason: `PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN (got ${JSON.stringify(proto.slice(0, 16))})` };
  if (net.isIP(src) !== family || net.isIP(dst) !== family) return { kind: 'malformed', reason: `PROXY v1 addresses are not ${proto} addresses` };
  const sp = v1Port(sport);
  const dp = v1Port(dport);
  if (sp === undefined || dp === undefined) return { kind: 'malformed', reason: 'PROXY v1 ports must be decimal numbers 0-65535' };
  return { kind: 'header', version: 1, length, source: { address: src, port: sp }, destination: { address: dst, port: dp } };
}

function v1Port(s: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

function parseV2(buf: Buffer): ProxyHeaderResult {
  const verCmd = buf[12];
  if (verCmd >> 4 !== 2) return { kind: 'malformed', reason: `PROXY v2 version must be 2 (got ${verCmd >> 4})` };
  const command = verCmd & 0x0f;
  if (command > 1) return { kind: 'malformed', reason: `PROXY v2 command must be LOCAL or PROXY (got ${command})` };
  const famProto = buf[13];
  const bodyLength = buf.readUInt16BE(14);
  const length = 16 + bodyLength;
  if (length > V2_MAX_BYTES) return { kind: 'malformed', reason: `PROXY v2 header of ${length} bytes is larger than ${V2_MAX_BYTES}` };
  if (buf.length < length) return { kind: 'incomplete' };
  // LOCAL: the balancer speaks for itself (health checks); the addresses, if any, are to be ignored.
  if (command === 0) return { kind: 'header', version: 2, length };
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  if (transport > 2) return { kind: 'malformed', reason: `PROXY v2 transport must be UNSPEC, STREAM or DGRAM (got ${transport})` };
  const body = buf.subarray(16, length);
  if (family === 1) { // AF_INET
    if (body.length < 12) return { kind: 'malformed', reason: `PROXY v2 IPv4 addresses need 12 bytes (got ${body.length})` };
    return {
      kind: 'header', version: 2, length,
      source: { address: ipv4(body, 0), port: body.readUInt16BE(8) },
      destination: { address: ipv4(body, 4), port: body.readUInt16BE(10) },
    };
  }
  if (family === 2) { // AF_INET6
    if (body.length < 36) return { kind: 'malformed', reason: `PROXY v2 IPv6 addresses need 36 bytes (got ${body.length})` };
    return {
      kind: 'header', version: 2, length,
      source: { address: ipv6(body, 0), port: body.readUInt16BE(32) },
      destination: { address: ipv6(body, 16), port: body.readUInt16BE(34) },
    };
  }
  if (family === 0 || family === 3) return { kind: 'header', version: 2, length }; // UNSPEC, AF_UNIX: no IP to take
  return { kind: 'malformed', reason: `PROXY v2 address family must be UNSPEC, INET, INET6 or UNIX (got ${family})` };
}

function ipv4(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** Formats as Node formats a socket's remoteAddress (compressed, IPv4-mapped addresses as ::ffff:a.b.c.d). */
function ipv6(b: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(at + 2 * i));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${ipv4(b, at + 12)}`;
  // Longest run of at least two zero groups becomes "::" (RFC 5952).
  let best = -1; let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i; while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Encodes a v2 PROXY header (tests, and anything that must speak to a proxy behind it). */
export function encodeProxyV2(source: ProxiedAddress, destination: ProxiedAddress): Buffer {
  const v6 = net.isIPv6(source.address);
  const body = Buffer.alloc(v6 ? 36 : 12);
  const put = (addr: string, at: number) => {
    if (!v6) { addr.split('.').forEach((o, i) => { body[at + i] = Number(o); }); return; }
    const [head, tail = ''] = addr.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = addr.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    groups.forEach((g, i) => body.writeUInt16BE(parseInt(g, 16), at + 2 * i));
  };
  put(source.address, 0);
  put(destination.address, v6 ? 16 : 4);
  body.writeUInt16BE(source.port, v6 ? 32 : 8);
  body.writeUInt16BE(destination.port, v6 ? 34 : 10);
  const head = Buffer.alloc(16);
  V2_SIGNATURE.copy(head);
  head[12] = 0x21;
  head[13] = v6 ? 0x21 : 0x11;
  head.writeUInt16BE(body.length, 14);
  return Buffer.concat([head, body]);
}

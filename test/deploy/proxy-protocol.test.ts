/**
 * The PROXY protocol without Kafka: the parser on the spec's examples and on broken headers, and a ProxyServer in
 * front of a plain TCP server standing in for a broker, so what reaches "the broker" is seen byte for byte: the
 * client's bytes after the header, unchanged (also when they share a segment with it or it arrives byte by byte),
 * and nothing at all for a connection refused for its header.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEFAULTS, loadConfig, validate, type ProxyConfig, ConfigError } from '../../src/config.js';
import { ProxyServer } from '../../src/proxy/server.js';
import { ProxyMetrics } from '../../src/metrics.js';
import { encodeProxyV2, parseProxyHeader, V2_SIGNATURE } from '../../src/proxy/proxy-protocol.js';
import { MemoryAuditor, metricValue } from '../harness/proxy.js';

describe('PROXY protocol parser', () => {
  test('v1 TCP4 and TCP6 give the source address and the header length', () => {
    const line = 'PROXY TCP4 192.0.2.10 198.51.100.1 56324 9192\r\n';
    const r = parseProxyHeader(Buffer.from(line + 'rest'));
    assert.deepEqual(r, { kind: 'header', version: 1, length: line.length, source: { address: '192.0.2.10', port: 56324 }, destination: { address: '198.51.100.1', port: 9192 } });
    const six = parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 1000 9192\r\n'));
    assert.equal(six.kind === 'header' && six.source?.address, '2001:db8::1');
  });

  test('v1 UNKNOWN is the balancer speaking for itself: a header without a source', () => {
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'header', version: 1, length: 15 });
  });

  test('v2 PROXY over IPv4 and IPv6, v2 LOCAL', () => {
    const v4 = encodeProxyV2({ address: '203.0.113.7', port: 40000 }, { address: '10.0.0.1', port: 9192 });
    assert.deepEqual(parseProxyHeader(Buffer.concat([v4, Buffer.from([0, 0, 0, 1])])),
      { kind: 'header', version: 2, length: 28, source: { address: '203.0.113.7', port: 40000 }, destination: { address: '10.0.0.1', port: 9192 } });
    const v6 = encodeProxyV2({ address: '2001:db8:0:0:1::5', port: 1 }, { address: '::1', port: 2 });
    const r6 = parseProxyHeader(v6);
    assert.equal(r6.kind === 'header' && r6.source?.address, '2001:db8::1:0:0:5');
    const local = Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0, 0])]);
    assert.deepEqual(parseProxyHeader(local), { kind: 'header', version: 2, length: 16 });
  });

  test('a prefix is incomplete; Kafka frames and TLS records are absent', () => {
    const v2 = encodeProxyV2({ address: '203.0.113.7', port: 40000 }, { address: '10.0.0.1', port: 9192 });
    for (let n = 1; n < v2.length; n++) assert.equal(parseProxyHeader(v2.subarray(0, n)).kind, 'incomplete', `v2 prefix of ${n}`);
    for (let n = 1; n < 20; n++) assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n').subarray(0, n)).kind, 'incomplete');
    assert.equal(parseProxyHeader(Buffer.from([0, 0, 0, 20, 0, 18, 0, 0])).kind, 'absent'); // ApiVersions request frame
    assert.equal(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])).kind, 'absent'); // TLS ClientHello
  });

  test('malformed headers say what is wrong', () => {
    const bad: Array<[Buffer, RegExp]> = [
      [Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), /6 fields/],
      [Buffer.from('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'), /TCP4, TCP6 or UNKNOWN/],
      [Buffer.from('PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n'), /not TCP4 addresses/],
      [Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'), /ports/],
      [Buffer.from('PROXY TCP4 ' + '1'.repeat(120)), /longer than 107/],
      [Buffer.concat([V2_SIGNATURE, Buffer.from([0x31, 0x11, 0, 0])]), /version must be 2/],
      [Buffer.concat([V2_SIGNATURE, Buffer.from([0x23, 0x11, 0, 0])]), /LOCAL or PROXY/],
      [Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0, 4, 1, 2, 3, 4])]), /IPv4 addresses need 12 bytes/],
      [Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]), /larger than/],
    ];
    for (const [buf, re] of bad) {
      const r = parseProxyHeader(buf);
      assert.equal(r.kind, 'malformed', buf.toString('latin1'));
      assert.match((r as { reason: string }).reason, re);
    }
  });
});

describe('listen.proxyProtocol setting', () => {
  test('required, allowed, off; anything else names the key', () => {
    for (const v of ['required', 'allowed', 'off']) assert.equal(loadConfig({ env: { KAP_LISTEN_PROXY_PROTOCOL: v } }).listen.proxyProtocol, v);
    assert.equal(loadConfig({}).listen.proxyProtocol, undefined);
    assert.throws(() => loadConfig({ env: { KAP_LISTEN_PROXY_PROTOCOL: 'v2' } }), (e: Error) => e instanceof ConfigError && /^listen\.proxyProtocol: must be required, allowed or off/.test(e.message));
    assert.throws(() => loadConfig({ overrides: { listen: { proxyProtocolTimeoutMs: 0 } } }), /listen\.proxyProtocolTimeoutMs: must be a positive integer/);
  });
});

/** A stand-in broker: records every connection and every byte it receives. */
function fakeBroker(): Promise<{ server: net.Server; port: number; connections: number; received: () => Buffer; close(): Promise<void> }> {
  const chunks: Buffer[] = [];
  const state = { connections: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => { state.connections++; sockets.add(s); s.on('data', (d) => chunks.push(d)); s.on('error', () => {}); });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    server, port: (server.address() as net.AddressInfo).port,
    get connections() { return state.connections; },
    received: () => Buffer.concat(chunks),
    close: () => { for (const s of sockets) s.destroy(); return new Promise<void>((r) => server.close(() => r())); },
  })));
}

async function startProxy(upstreamPort: number, mode: 'required' | 'allowed', patch: (c: ProxyConfig) => void = () => {}) {
  const config: ProxyConfig = structuredClone(DEFAULTS);
  config.listen = { ...config.listen, host: '127.0.0.1', bootstrapPort: 0, brokerPortBase: 0, proxyProtocol: mode, proxyProtocolTimeoutMs: 3000 };
  patch(config);
  config.upstream.bootstrapServers = [`127.0.0.1:${upstreamPort}`];
  validate(config);
  const logLines: string[] = [];
  const metrics = new ProxyMetrics({ collectDefault: false });
  const auditor = new MemoryAuditor();
  const server = new ProxyServer(config, { log: pino({ level: 'debug' }, { write: (s: string) => { logLines.push(s); } }), metrics, auditor });
  await server.start();
  return { server, metrics, logLines, port: server.bootstrapPort };
}

/**
 * Opens a connection, writes `parts` one by one, then waits for the proxy to close it, or until `done()` holds (polled;
 * e.g. the broker got the bytes), or `ms` at most, and closes it.
 */
function exchange(port: number, parts: Buffer[], ms = 1500, done: () => boolean = () => false): Promise<{ closedByProxy: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let closed = false;
    s.on('error', () => {});
    s.on('close', () => { closed = true; resolve({ closedByProxy: true }); });
    s.on('connect', async () => {
      for (const p of parts) { s.write(p); await new Promise((r) => setTimeout(r, 5)); }
      const deadline = Date.now() + ms;
      while (!closed && !done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if (!closed) { s.destroy(); resolve({ closedByProxy: false }); }
    });
  });
}

// An ApiVersions v0 request frame (correlation id 7, client id "t"): the proxy relays it as is.
const KAFKA_FRAME = Buffer.from([0, 0, 0, 11, 0, 18, 0, 0, 0, 0, 0, 7, 0, 1, 0x74]);

describe('ProxyServer with listen.proxyProtocol', () => {
  let broker: Awaited<ReturnType<typeof fakeBroker>>;
  before(async () => { broker = await fakeBroker(); });
  after(async () => { await broker.close(); });

  test('required: the header is taken off, the client\'s bytes reach the broker unchanged, in one segment or byte by byte', async () => {
    const p = await startProxy(broker.port, 'required');
    try {
      const v2 = encodeProxyV2({ address: '203.0.113.7', port: 40001 }, { address: '127.0.0.1', port: p.port });
      const before = broker.received().length;
      const got = (n: number) => () => broker.received().length - before >= n * KAFKA_FRAME.length;
      await exchange(p.port, [Buffer.concat([v2, KAFKA_FRAME])], 5000, got(1));
      const v1 = Buffer.from(`PROXY TCP4 198.51.100.9 198.51.100.1 40002 ${p.port}\r\n`);
      const bytes = Buffer.concat([v1, KAFKA_FRAME]);
      await exchange(p.port, [...bytes].map((b) => Buffer.from([b])), 5000, got(2));
      assert.deepEqual(broker.received().subarray(before), Buffer.concat([KAFKA_FRAME, KAFKA_FRAME]));
      const clients = p.logLines.map((l) => JSON.parse(l) as { msg: string; client?: string; via?: string })
        .filter((l) => l.msg === 'PROXY protocol header read').map((l) => l.client);
      assert.deepEqual(clients, ['203.0.113.7:40001', '198.51.100.9:40002']);
    } finally { await p.server.stop(); }
  });

  test('required: a missing, malformed or unfinished header is refused, counted, logged, and nothing reaches the broker', async () => {
    const p = await startProxy(broker.port, 'required', (c) => { c.listen.proxyProtocolTimeoutMs = 500; });
    try {
      const connectionsBefore = broker.connections;
      const bytesBefore = broker.received().length;
      assert.equal((await exchange(p.port, [KAFKA_FRAME])).closedByProxy, true, 'no header');
      assert.equal((await exchange(p.port, [Buffer.from('PROXY TCP4 1.2.3.4 nonsense\r\n'), KAFKA_FRAME])).closedByProxy, true, 'malformed v1');
      assert.equal((await exchange(p.port, [Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0, 4, 1, 2, 3, 4]), KAFKA_FRAME])])).closedByProxy, true, 'malformed v2');
      assert.equal((await exchange(p.port, [V2_SIGNATURE.subarray(0, 6)], 2000)).closedByProxy, true, 'half a header, then silence');
      assert.equal(broker.connections, connectionsBefore, 'the proxy dialed the broker for a refused connection');
      assert.equal(broker.received().length, bytesBefore, 'bytes of a refused connection reached the broker');
      assert.equal(await metricValue(p.metrics, 'kafka_proxy_connections_rejected_total', { reason: 'proxy_protocol_missing' }), 1);
      assert.equal(await metricValue(p.metrics, 'kafka_proxy_connections_rejected_total', { reason: 'proxy_protocol_malformed' }), 2);
      assert.equal(await metricValue(p.metrics, 'kafka_proxy_connections_rejected_total', { reason: 'proxy_protocol_timeout' }), 1);
      const refusals = p.logLines.map((l) => JSON.parse(l) as { msg: string; reason?: string }).filter((l) => l.msg === 'connection refused: PROXY protocol header');
      assert.equal(refusals.length, 4);
      assert.match(refusals[0].reason!, /no PROXY protocol header \(listen\.proxyProtocol is required\)/);
    } finally { await p.server.stop(); }
  });

  test('allowed: clients without a header pass as before, with one their address is taken', async () => {
    const p = await startProxy(broker.port, 'allowed');
    try {
      const before = broker.received().length;
      const got = (n: number) => () => broker.received().length - before >= n * KAFKA_FRAME.length;
      assert.equal((await exchange(p.port, [KAFKA_FRAME], 5000, got(1))).closedByProxy, false);
      const v2 = encodeProxyV2({ address: '203.0.113.8', port: 40003 }, { address: '127.0.0.1', port: p.port });
      await exchange(p.port, [v2, KAFKA_FRAME], 5000, got(2));
      assert.deepEqual(broker.received().subarray(before), Buffer.concat([KAFKA_FRAME, KAFKA_FRAME]));
    } finally { await p.server.stop(); }
  });

  test('per-address limits count the address from the header, not the balancer\'s', async () => {
    const p = await startProxy(broker.port, 'required');
    p.server.config.limits.maxConnectionsPerAddress = 1;
    const sockets: net.Socket[] = [];
    try {
      const open = (addr: string, port: number) => new Promise<net.Socket>((resolve) => {
        const s = net.connect(p.port, '127.0.0.1', () => { s.write(Buffer.concat([encodeProxyV2({ address: addr, port }, { address: '127.0.0.1', port: p.port }), KAFKA_FRAME])); resolve(s); });
        s.on('error', () => {});
        sockets.push(s);
      });
      await open('203.0.113.1', 1); await open('203.0.113.2', 2); await open('203.0.113.1', 3);
      await new Promise((r) => setTimeout(r, 300));
      // Two distinct clients behind one balancer address both pass; the second connection of 203.0.113.1 does not.
      assert.equal(await metricValue(p.metrics, 'kafka_proxy_connections_rejected_total', { reason: 'max_per_address' }), 1);
      assert.equal(p.server.connectionCount, 2);
    } finally { for (const s of sockets) s.destroy(); await p.server.stop(); }
  });

  test('with listen.tls (and SNI routing): the header first, then the TLS handshake; the client\'s bytes reach the broker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kap-pp-tls-'));
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=bootstrap.kafka.test',
      '-addext', 'subjectAltName=DNS:bootstrap.kafka.test,DNS:*.kafka.test', '-keyout', join(dir, 'key.pem'), '-out', cert], { stdio: 'ignore' });
    const p = await startProxy(broker.port, 'required', (c) => {
      c.listen.tls = { cert, key: join(dir, 'key.pem') };
      c.listen.sni = { bootstrapHost: 'bootstrap.kafka.test', brokerHostPattern: 'broker-$(nodeId).kafka.test' };
    });
    try {
      const before = broker.received().length;
      const raw = net.connect(p.port, '127.0.0.1');
      await new Promise((r) => raw.once('connect', r));
      raw.write(encodeProxyV2({ address: '203.0.113.9', port: 40009 }, { address: '127.0.0.1', port: p.port }));
      const secure = tls.connect({ socket: raw, servername: 'bootstrap.kafka.test', ca: [readFileSync(cert)] });
      await new Promise<void>((resolve, reject) => { secure.once('secureConnect', () => resolve()); secure.once('error', reject); });
      secure.write(KAFKA_FRAME);
      const deadline = Date.now() + 3000;
      while (broker.received().length - before < KAFKA_FRAME.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      secure.destroy();
      assert.deepEqual(broker.received().subarray(before), KAFKA_FRAME);
      const header = p.logLines.map((l) => JSON.parse(l) as { msg: string; client?: string }).find((l) => l.msg === 'PROXY protocol header read');
      assert.equal(header?.client, '203.0.113.9:40009');
    } finally { await p.server.stop(); rmSync(dir, { recursive: true, force: true }); }
  });
});

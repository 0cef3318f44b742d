/**
 * End-to-end fuzz against the real 3-broker cluster: FUZZ_CONNECTIONS (default 200) concurrent hostile
 * connections, each running a random script from lib/proxy-scripts.ts (random bytes; negative, oversized and
 * too-short size prefixes; valid headers with random or mutated bodies for audited APIs such as CreateTopics (19),
 * DeleteTopics (20), CreateAcls (30), SaslAuthenticate (36); undecodable ApiVersions; SASL v0 raw tokens and
 * SaslAuthenticate garbage; truncated frames then close; slow drips; pipelined mixes), spread over the bootstrap
 * and broker ports, while a kafkajs producer and consumer on other connections of the same proxy keep working.
 *
 * The proxy fronts the SASL_PLAINTEXT listener: the hostile connections never authenticate, so whatever reaches a
 * broker is refused there (nothing a mutated CreateAcls or DeleteTopics says is ever executed on the shared
 * cluster); the good clients log in as admin.
 *
 * Asserted: the proxy (in this process) stays up; every hostile connection ends, closed by the proxy or the broker
 * (or, for truncated frames, by the client, after which the proxy drops its side); connections whose stream is
 * certain to be refused by the proxy (bad size prefixes, frames too short for a header) were closed by the proxy
 * with that reason in the log and in kafka_proxy_connection_errors_total; undecodable ApiVersions requests were
 * forwarded and counted in kafka_proxy_undecodable_frames_total; no connection was closed as an internal error;
 * the proxy is back to the good clients' connections only; the good clients delivered every message.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { waitForTopics } from '../harness/metadata.js';
import { startTestProxy, type TestProxy } from '../harness/proxy.js';
import { describeSeed, fuzzSeed, mix, Prng } from './lib/prng.js';
import { pickScript, type ScriptResult } from './lib/proxy-scripts.js';
import { RawConnection, requestFrame } from '../harness/raw.js';

const CONNECTIONS = Number(process.env.FUZZ_CONNECTIONS ?? 200);
/** How long a hostile connection is given to be closed by the proxy or broker before the client ends it. */
const PEER_CLOSE_MS = 5_000;

async function sumOf(metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)).reduce((n, v) => n + v.value, 0);
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A loopback address of its own for hostile connection i (127.77.0.1, 127.77.0.2, ...). */
function hostileAddress(i: number): string { return `127.77.${Math.floor(i / 250)}.${(i % 250) + 1}`; }

interface Outcome { result: ScriptResult; conn: RawConnection; closedBy: 'peer' | 'client' | 'never'; error?: string }

describe('proxy end to end: hostile connections beside working clients', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: TestProxy;
  let producer: Producer;
  let consumer: Consumer;
  const topic = `fuzz-${Date.now()}`;
  const received = new Set<string>();

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    proxy = await startTestProxy(cluster.saslBootstrap, (c) => { c.listen.securityProtocol = 'SASL_PLAINTEXT'; });
    const kafka = new Kafka({
      clientId: 'fuzz-good-client', brokers: [proxy.bootstrap], logLevel: logLevel.NOTHING,
      sasl: { mechanism: 'plain', username: 'admin', password: 'admin-secret' }, retry: { retries: 8 },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }], waitForLeaders: false });
    await waitForTopics(cluster, [topic]); // every broker, not just the one kafkajs happens to ask
    await admin.disconnect();
    producer = kafka.producer();
    await producer.connect();
    consumer = kafka.consumer({ groupId: `${topic}-group` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => { received.add(message.value!.toString()); } });
  });

  after(async () => {
    await consumer?.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await proxy?.stop();
    await release?.();
  });

  test(`${CONNECTIONS} concurrent malformed connections cost one connection each`, { timeout: 240_000 }, async (t) => {
    const seed = fuzzSeed();
    console.log(`[fuzz] proxy seed: ${describeSeed(seed)} FUZZ_CONNECTIONS=${CONNECTIONS}`);
    const ports = [proxy.server.bootstrapPort, ...cluster.brokers.map((b) => proxy.brokerPortBase + b.nodeId)];
    const m = proxy.metrics;
    const before = { undecodableApiVersions: await sumOf(m.undecodable, { api: 'ApiVersions', reason: 'request' }) };

    // Good traffic throughout: one message every few ms until the hostile connections are all done.
    const sent: string[] = [];
    const produceErrors: string[] = [];
    let stop = false;
    const producing = (async () => {
      for (let i = 0; !stop || i < 50; i++) {
        const batch = Array.from({ length: 5 }, (_, j) => `m-${i}-${j}`);
        try {
          await producer.send({ topic, messages: batch.map((value) => ({ value })) });
          sent.push(...batch);
        } catch (e) {
          produceErrors.push((e as Error).message);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const t0 = performance.now();
    const outcomes = await Promise.all(Array.from({ length: CONNECTIONS }, async (_, i): Promise<Outcome> => {
      const rng = new Prng(mix(seed, `proxy/${i}`));
      const [, name, script] = pickScript(rng);
      await new Promise((r) => setTimeout(r, rng.int(500))); // spread the starts
      // Each hostile connection comes from a loopback address of its own, so the proxy's log lines (client=ip:port)
      // name it unambiguously (ports alone are shared by connections to different proxy ports).
      const conn = await RawConnection.open(ports[rng.int(ports.length)], { localAddress: hostileAddress(i) });
      let result: ScriptResult;
      try {
        result = await script(conn, rng);
      } catch (e) {
        conn.destroy();
        return { result: { kind: name, frames: 0, undecodableApiVersions: 0, undecodableAudited: 0 }, conn, closedBy: 'never', error: (e as Error).stack };
      }
      if (await conn.until(() => conn.closed, result.clientClosed ? 5_000 : PEER_CLOSE_MS)) {
        return { result, conn, closedBy: result.clientClosed ? 'client' : 'peer' };
      }
      // Still open: the stream stopped inside a frame the proxy is still waiting for. The client gives up.
      conn.end();
      const closed = await conn.until(() => conn.closed, 10_000);
      return { result, conn, closedBy: closed ? 'client' : 'never' };
    }));
    const seconds = (performance.now() - t0) / 1000;
    stop = true;
    await producing;

    // 1. Every hostile connection ended; none of them made the test's own code throw.
    const scriptErrors = outcomes.filter((o) => o.error);
    assert.deepEqual(scriptErrors.map((o) => `${o.result.kind}: ${o.error}`), []);
    const logOf = (client: string) => proxy.logLines.filter((l) => l.includes(`"client":"${client}"`))
      .map((l) => { const j = JSON.parse(l); return `${j.msg}${j.reason ? ` (${j.reason})` : ''}`; }).join('; ');
    const neverClosed = outcomes.filter((o) => o.closedBy === 'never');
    assert.deepEqual(neverClosed.map((o) => `${o.result.kind} ${o.conn.localAddress}: ${logOf(o.conn.localAddress)}`), [], 'connections the proxy never closed');

    // 2. The proxy dropped its side of every one of them (a close line for that client, whoever closed first).
    const proxyClosed = (client: string) => proxy.logLines.some((l) => l.includes(`"client":"${client}"`)
      && (l.includes('"msg":"connection closed"') || l.includes('"msg":"connection closed by the proxy"')));
    try {
      await waitFor(() => outcomes.every((o) => proxyClosed(o.conn.localAddress)), 15_000, 'the proxy closing every hostile connection');
    } catch {
      const open = outcomes.filter((o) => !proxyClosed(o.conn.localAddress));
      assert.fail(`the proxy kept ${open.length} hostile connections open:\n${open.slice(0, 10).map((o) => `  ${o.result.kind} ${o.conn.localAddress} closed by ${o.closedBy}: ${logOf(o.conn.localAddress)}`).join('\n')}`);
    }

    // 3. Streams the proxy must refuse itself were closed by the proxy, with that reason logged for that client.
    const lines = proxy.logLines.map((l) => JSON.parse(l) as { level: number; msg: string; client?: string; kind?: string; reason?: string; err?: unknown });
    const closedByProxy = new Map<string, { kind?: string; reason?: string }>();
    for (const l of lines) if (l.msg === 'connection closed by the proxy' && l.client) closedByProxy.set(l.client, l);
    const wrongClose: string[] = [];
    for (const o of outcomes) {
      if (!o.result.proxyCloses) continue;
      const line = closedByProxy.get(o.conn.localAddress);
      if (!line || !o.result.proxyCloses.includes(line.kind ?? '')) {
        wrongClose.push(`${o.result.kind} ${o.conn.localAddress}: ${line ? `closed as ${line.kind} (${line.reason})` : 'no "closed by the proxy" line'}`);
      }
    }
    assert.deepEqual(wrongClose, []);
    const unexplained = lines.filter((l) => l.msg === 'connection closed by the proxy' && (!l.reason || !l.kind));
    assert.deepEqual(unexplained, [], 'every connection the proxy closes is logged with a reason and a kind');

    // 4. Metrics: every proxy close is counted by reason; none was an internal error (an exception that is not
    //    FrameError / DecodeError escaping the relay code).
    const errors = {
      negative_size: await sumOf(m.connectionErrors, { reason: 'negative_size' }),
      oversized: await sumOf(m.connectionErrors, { reason: 'oversized' }),
      malformed: await sumOf(m.connectionErrors, { reason: 'malformed' }),
      unsupported_version: await sumOf(m.connectionErrors, { reason: 'unsupported_version' }),
      internal_error: await sumOf(m.connectionErrors, { reason: 'internal_error' }),
      all: await sumOf(m.connectionErrors),
    };
    const internal = lines.filter((l) => l.msg === 'unexpected error while relaying; connection closed');
    assert.equal(errors.internal_error, 0, `internal errors: ${JSON.stringify(internal.slice(0, 3))}`);
    const expectCount = (kind: string) => outcomes.filter((o) => o.result.proxyCloses?.includes(kind)).length;
    assert.ok(errors.negative_size >= expectCount('negative_size'), `negative_size ${errors.negative_size} < ${expectCount('negative_size')}`);
    assert.ok(errors.oversized >= expectCount('oversized'), `oversized ${errors.oversized} < ${expectCount('oversized')}`);
    assert.ok(errors.malformed >= expectCount('malformed'), `malformed ${errors.malformed} < ${expectCount('malformed')}`);
    assert.equal(errors.all, closedByProxy.size, 'one counted error per "closed by the proxy" log line');

    // 5. Undecodable ApiVersions requests (valid header, bad body) were forwarded untouched and counted.
    const undecodableSent = outcomes.reduce((n, o) => n + o.result.undecodableApiVersions, 0);
    const undecodableCounted = await sumOf(m.undecodable, { api: 'ApiVersions', reason: 'request' }) - before.undecodableApiVersions;
    assert.ok(undecodableCounted >= undecodableSent, `undecodable ApiVersions counted ${undecodableCounted}, sent ${undecodableSent}`);
    const apiVersionsConns = outcomes.filter((o) => o.result.kind === 'apiversions-undecodable');
    for (const o of apiVersionsConns) {
      assert.ok(!closedByProxy.has(o.conn.localAddress), `${o.conn.localAddress}: an undecodable ApiVersions must be forwarded, not refused`);
    }

    // 6. Error-level log lines other than the connection closes we caused: reported, and none may be a crash path.
    const errorLines = lines.filter((l) => l.level >= 50);
    if (errorLines.length) t.diagnostic(`error log lines: ${JSON.stringify(errorLines.slice(0, 5))}`);

    // 7. The proxy is alive and serves a fresh connection.
    const fresh = await RawConnection.open(proxy.server.bootstrapPort);
    fresh.write(requestFrame(18, 0, 4242, Buffer.alloc(0), { clientId: 'fuzz' }));
    const answer = await fresh.tryNextFrame(10_000);
    assert.ok(answer && answer.readInt32BE(0) === 4242, 'a fresh connection gets its ApiVersions answered');
    fresh.destroy();

    // 8. The good clients carried on: every acknowledged message is consumed.
    await waitFor(() => sent.every((v) => received.has(v)), 60_000, `consumer received ${received.size} of ${sent.length} messages`);
    assert.ok(sent.length >= 250, `only ${sent.length} messages were acknowledged`);
    assert.deepEqual(produceErrors, []);

    const frames = outcomes.reduce((n, o) => n + o.result.frames, 0);
    const byKind = new Map<string, number>();
    for (const o of outcomes) { const k = o.result.kind.split(' ')[0]; byKind.set(k, (byKind.get(k) ?? 0) + 1); }
    const closedBy = { proxy: outcomes.filter((o) => closedByProxy.has(o.conn.localAddress)).length, peer: outcomes.filter((o) => o.closedBy === 'peer').length, client: outcomes.filter((o) => o.closedBy === 'client').length };
    const summary = `proxy fuzz: ${CONNECTIONS} connections, ${frames} hostile frames in ${seconds.toFixed(1)} s; `
      + `closed by peer ${closedBy.peer} (by the proxy ${closedBy.proxy}), by client after a partial frame ${closedBy.client}; `
      + `connection errors ${JSON.stringify(errors)}; undecodable ApiVersions counted ${undecodableCounted}/${undecodableSent}; `
      + `good client: ${sent.length} messages produced and consumed; scripts ${JSON.stringify(Object.fromEntries(byKind))}`;
    t.diagnostic(summary);
    console.log(`[fuzz] ${summary}`);
  });
});

/**
 * Attacks on the proxy's framing and on the principal it records, with raw sockets against a real 3-broker
 * cluster (SASL_PLAINTEXT) behind the whole proxy (write-ahead journal, Kafka sink). Each case sends bytes a
 * client may legally send, or one the broker accepts, split and joined in every way that matters:
 *
 * - SASL v0 (raw tokens) and v1 (SaslAuthenticate), PLAIN and SCRAM, with the audited request pipelined in the same
 *   write as the last token, as one write, byte by byte, and in random pieces;
 * - Produce acks=0 whose acks field lies beyond the first bytes the proxy looks at (a long client id, a large
 *   tagged field in the request header), followed by an audited request;
 * - requests before authentication, an audited request pipelined behind a failed login, SaslHandshake v0 for a
 *   mechanism whose raw exchange cannot be followed;
 * - unusual but valid SASL messages: a SCRAM `m=` extension, an authzid, a delegation-token login.
 *
 * For every case the broker's side decides: what it executed (its metadata, asked directly) must each have
 * exactly one event on the audit topic, naming the principal the broker authenticated; what it must not have
 * executed is checked after a barrier.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage, type Decoded } from '../../protocol/codec.js';
import { apiSchema } from '../../protocol/registry.js';
import type { AuditEvent } from '../../src/audit/event.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { decodeResponse, kafkaRequest, RawConnection, sizePrefixed } from '../harness/raw.js';
import { assertNeverCreated, topicsKnown, waitForTopics } from '../harness/metadata.js';
import { eventsFor, startAuditedApp, type AuditedApp } from '../harness/audited-app.js';
import { authenticateFrame, handshakeFrame, plainToken, rawToken, ScramClient, type ScramMechanism } from '../harness/sasl-raw.js';
import { metricValue } from '../harness/proxy.js';

type Split = 'one write' | 'byte by byte' | 'random pieces';
const SPLITS: Split[] = ['one write', 'byte by byte', 'random pieces'];

/** Sends `bytes` as the split says; byte by byte and random pieces wait a moment between writes, so the proxy reads them apart. */
async function send(c: RawConnection, bytes: Buffer, split: Split): Promise<void> {
  if (split === 'one write') { c.write(bytes); return; }
  let off = 0;
  while (off < bytes.length) {
    const n = split === 'byte by byte' ? 1 : 1 + Math.floor(Math.random() * 40);
    c.write(bytes.subarray(off, off + n));
    off += n;
    await new Promise((r) => setTimeout(r, split === 'byte by byte' && off % 4 !== 0 ? 0 : 1));
  }
}

function createTopics(topic: string, correlationId: number): Buffer {
  return kafkaRequest(19, 7, correlationId, {
    Topics: [{ Name: topic, NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] }], timeoutMs: 30_000, validateOnly: false,
  });
}

function createTopicsResult(frame: Buffer): number {
  return (decodeResponse(19, 7, frame).Topics as Decoded[])[0].ErrorCode as number;
}

/**
 * A Produce with acks=0 and no records (the broker answers nothing), with a header shaped to push its acks field
 * far from the frame's start: a long client id, and (flexible versions) an unknown tagged field of `tagBytes`.
 */
function produceAcks0(version: number, correlationId: number, clientIdBytes: number, tagBytes = 0): Buffer {
  const schema = apiSchema(0)!;
  const flexible = version >= 9;
  const body = encodeMessage(schema.request, version, { TransactionalId: null, Acks: 0, TimeoutMs: 1000, TopicData: [] });
  const clientId = Buffer.from('c'.repeat(clientIdBytes));
  const head = Buffer.alloc(10);
  head.writeInt16BE(0, 0); head.writeInt16BE(version, 2); head.writeInt32BE(correlationId, 4); head.writeInt16BE(clientId.length, 8);
  const parts = [head, clientId];
  if (flexible) {
    // Tagged section: 1 field, tag 7 (unknown to the broker, which keeps it), size as an unsigned varint.
    const size: number[] = [];
    for (let v = tagBytes; ; v >>>= 7) { if (v < 0x80) { size.push(v); break; } size.push((v & 0x7f) | 0x80); }
    parts.push(tagBytes > 0 ? Buffer.from([1, 7, ...size]) : Buffer.from([0]), Buffer.alloc(tagBytes, 0x61));
  }
  return sizePrefixed(...parts, body);
}

describe('adversarial framing and principals (raw sockets, SASL, 3 brokers)', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: AuditedApp;
  let events: AuditEvent[] = [];
  const run = Date.now().toString(36);
  /** Topics the broker must have created, each with the principal its event must name. */
  const created = new Map<string, string>();
  /** Topics the broker must never have created. */
  const refused: string[] = [];
  /** Of those, the ones the broker itself denied, with the principal it denied. */
  const deniedTo = new Map<string, string>();
  /** Topics whose client went away before the answer: if the broker created one, it needs one event, whatever its outcome says. */
  const unanswered: string[] = [];
  let n = 0;
  const topicName = (what: string) => `adv-${run}-${n++}-${what.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`.slice(0, 200);

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    proxy = await startAuditedApp(cluster, { audit: { unknownPrincipal: 'refuse' } });
  });

  after(async () => {
    await proxy?.stop();
    await release?.();
  });

  async function open(): Promise<RawConnection> {
    return RawConnection.open(proxy.port);
  }

  async function plainLogin(c: RawConnection, split: Split, user = 'admin', password = 'admin-secret'): Promise<void> {
    await send(c, Buffer.concat([handshakeFrame(1, 'PLAIN', 1), authenticateFrame(plainToken(user, password), 2)]), split);
    assert.equal(decodeResponse(17, 1, await c.takeFrame()).ErrorCode, 0);
    assert.equal(decodeResponse(36, 1, await c.takeFrame()).ErrorCode, 0);
  }

  for (const split of SPLITS) {
    test(`PLAIN v0: handshake, raw token and CreateTopics in the same bytes (${split})`, async () => {
      const topic = topicName(`plain-v0-${split}`);
      const c = await open();
      await send(c, Buffer.concat([handshakeFrame(0, 'PLAIN', 1), rawToken(plainToken('admin', 'admin-secret')), createTopics(topic, 2)]), split);
      assert.equal(decodeResponse(17, 0, await c.takeFrame()).ErrorCode, 0);
      assert.equal((await c.takeFrame()).length, 0, 'PLAIN success: an empty raw token');
      assert.equal(createTopicsResult(await c.takeFrame()), 0);
      c.destroy();
      created.set(topic, 'User:admin');
    });

    test(`PLAIN v1: handshake, SaslAuthenticate and CreateTopics in the same bytes (${split})`, async () => {
      const topic = topicName(`plain-v1-${split}`);
      const c = await open();
      await send(c, Buffer.concat([handshakeFrame(1, 'PLAIN', 1), authenticateFrame(plainToken('admin', 'admin-secret'), 2), createTopics(topic, 3)]), split);
      assert.equal(decodeResponse(17, 1, await c.takeFrame()).ErrorCode, 0);
      assert.equal(decodeResponse(36, 1, await c.takeFrame()).ErrorCode, 0);
      assert.equal(createTopicsResult(await c.takeFrame()), 0);
      c.destroy();
      created.set(topic, 'User:admin');
    });

    for (const mech of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as ScramMechanism[]) {
      test(`${mech} v0: handshake with client-first, then client-final with CreateTopics (${split})`, async () => {
        const topic = topicName(`${mech}-v0-${split}`);
        const scram = new ScramClient(mech, 'admin', 'admin-secret');
        const c = await open();
        await send(c, Buffer.concat([handshakeFrame(0, mech, 1), rawToken(scram.first())]), split);
        assert.equal(decodeResponse(17, 0, await c.takeFrame()).ErrorCode, 0);
        const serverFirst = await c.takeFrame();
        await send(c, Buffer.concat([rawToken(scram.final(serverFirst)), createTopics(topic, 2)]), split);
        assert.ok(scram.verify(await c.takeFrame()), 'server-final verifies');
        assert.equal(createTopicsResult(await c.takeFrame()), 0);
        c.destroy();
        created.set(topic, 'User:admin');
      });

      test(`${mech} v1: SaslAuthenticate client-final pipelined with CreateTopics (${split})`, async () => {
        const topic = topicName(`${mech}-v1-${split}`);
        const scram = new ScramClient(mech, 'alice', 'alice-secret');
        const c = await open();
        await send(c, Buffer.concat([handshakeFrame(1, mech, 1), authenticateFrame(scram.first(), 2)]), split);
        assert.equal(decodeResponse(17, 1, await c.takeFrame()).ErrorCode, 0);
        const first = decodeResponse(36, 1, await c.takeFrame());
        assert.equal(first.ErrorCode, 0);
        await send(c, Buffer.concat([authenticateFrame(scram.final(first.AuthBytes), 3), createTopics(topic, 4)]), split);
        const fin = decodeResponse(36, 1, await c.takeFrame());
        assert.equal(fin.ErrorCode, 0);
        assert.ok(scram.verify(fin.AuthBytes));
        // alice has no ACLs: the broker denies, and the denial must be hers.
        assert.equal(createTopicsResult(await c.takeFrame()), 29);
        c.destroy();
        refused.push(topic);
        deniedTo.set(topic, 'User:alice');
      });
    }
  }

  const ACKS0_SHAPES = [
    { label: 'Produce v8, 3000-byte client id', version: 8, clientId: 3000, tag: 0 },
    { label: 'Produce v9, 20-byte client id, 6000-byte tagged field in the header', version: 9, clientId: 20, tag: 6000 },
    { label: 'Produce v11, 1000-byte client id, 40000-byte tagged field', version: 11, clientId: 1000, tag: 40_000 },
  ];
  for (const shape of ACKS0_SHAPES) {
    for (const split of ['one write', 'random pieces'] as Split[]) {
      test(`acks=0 with its acks far in (${shape.label}), then CreateTopics (${split})`, async () => {
        const topic = topicName(`acks0-${shape.version}-${shape.tag}-${split}`);
        const c = await open();
        await plainLogin(c, 'one write');
        await send(c, Buffer.concat([produceAcks0(shape.version, 3, shape.clientId, shape.tag), createTopics(topic, 4)]), split);
        const frame = await c.takeFrame();
        assert.equal(frame.readInt32BE(0), 4, 'the next response answers the CreateTopics (the Produce has none)');
        assert.equal(createTopicsResult(frame), 0);
        c.destroy();
        created.set(topic, 'User:admin');
      });
    }
  }

  for (const how of ['end', 'destroy'] as const) {
    test(`CreateTopics and the client goes away at once (${how}): if the broker executed it, it has its event`, async () => {
      const topics = Array.from({ length: 5 }, (_, i) => topicName(`gone-${how}-${i}`));
      for (const [i, topic] of topics.entries()) {
        const c = await open();
        await plainLogin(c, 'one write');
        c.write(createTopics(topic, 10 + i));
        if (how === 'end') c.end(); else c.destroy();
        unanswered.push(topic);
      }
    });
  }

  test('a request before authentication on a SASL listener is closed by the proxy, never executed', async () => {
    const topic = topicName('before-auth');
    const c = await open();
    c.write(createTopics(topic, 1));
    await c.waitClosed(10_000);
    assert.equal(c.received, 0);
    refused.push(topic);
  });

  for (const split of SPLITS) {
    test(`CreateTopics pipelined behind a failed login is never executed (${split})`, async () => {
      const topic = topicName(`after-failed-login-${split}`);
      const c = await open();
      await send(c, Buffer.concat([handshakeFrame(1, 'PLAIN', 1), authenticateFrame(plainToken('admin', 'wrong-password'), 2), createTopics(topic, 3)]), split);
      assert.equal(decodeResponse(17, 1, await c.takeFrame()).ErrorCode, 0);
      assert.equal(decodeResponse(36, 1, await c.takeFrame()).ErrorCode, 58);
      await c.waitClosed(10_000);
      refused.push(topic);
    });
  }

  test('SaslHandshake v0 for a mechanism whose raw exchange the proxy cannot follow is refused (closed)', async () => {
    const before = await metricValue(proxy.app.metrics, 'kafka_proxy_connection_errors_total', { reason: 'sasl_unsupported' });
    const c = await open();
    c.write(handshakeFrame(0, 'GSSAPI', 1));
    await c.waitClosed(10_000);
    assert.equal(c.received, 0);
    assert.equal(await metricValue(proxy.app.metrics, 'kafka_proxy_connection_errors_total', { reason: 'sasl_unsupported' }), before + 1);
  });

  test('SCRAM client-first with an m= extension before n= (valid for the broker) names the user', async () => {
    const topic = topicName('scram-m-ext');
    // Kafka's parser accepts the reserved m= attribute and rebuilds the bare message without it, so a client that
    // signs what the broker rebuilds logs in.
    const scram = new ScramClient('SCRAM-SHA-256', 'admin', 'admin-secret', { bare: (nAttr, r) => `m=ignored,${nAttr},${r}`, signedBare: (nAttr, r) => `${nAttr},${r}` });
    const c = await open();
    c.write(Buffer.concat([handshakeFrame(1, 'SCRAM-SHA-256', 1), authenticateFrame(scram.first(), 2)]));
    assert.equal(decodeResponse(17, 1, await c.takeFrame()).ErrorCode, 0);
    const first = decodeResponse(36, 1, await c.takeFrame());
    assert.equal(first.ErrorCode, 0, 'the broker takes the client-first message');
    c.write(Buffer.concat([authenticateFrame(scram.final(first.AuthBytes), 3), createTopics(topic, 4)]));
    assert.equal(decodeResponse(36, 1, await c.takeFrame()).ErrorCode, 0);
    assert.equal(createTopicsResult(await c.takeFrame()), 0);
    c.destroy();
    created.set(topic, 'User:admin');
  });

  test('PLAIN with an authzid equal to the user, and SCRAM with a=user: the principal is the user', async () => {
    const t1 = topicName('plain-authzid');
    const c1 = await open();
    c1.write(Buffer.concat([handshakeFrame(1, 'PLAIN', 1), authenticateFrame(plainToken('admin', 'admin-secret', 'admin'), 2), createTopics(t1, 3)]));
    assert.equal(decodeResponse(17, 1, await c1.takeFrame()).ErrorCode, 0);
    assert.equal(decodeResponse(36, 1, await c1.takeFrame()).ErrorCode, 0);
    assert.equal(createTopicsResult(await c1.takeFrame()), 0);
    c1.destroy();
    created.set(t1, 'User:admin');

    const t2 = topicName('scram-authzid');
    const scram = new ScramClient('SCRAM-SHA-512', 'admin', 'admin-secret', { gs2: 'n,a=admin,' });
    const c2 = await open();
    c2.write(Buffer.concat([handshakeFrame(1, 'SCRAM-SHA-512', 1), authenticateFrame(scram.first(), 2)]));
    assert.equal(decodeResponse(17, 1, await c2.takeFrame()).ErrorCode, 0);
    const first = decodeResponse(36, 1, await c2.takeFrame());
    assert.equal(first.ErrorCode, 0, String(first.ErrorMessage));
    c2.write(Buffer.concat([authenticateFrame(scram.final(first.AuthBytes), 3), createTopics(t2, 4)]));
    assert.equal(decodeResponse(36, 1, await c2.takeFrame()).ErrorCode, 0);
    assert.equal(createTopicsResult(await c2.takeFrame()), 0);
    c2.destroy();
    created.set(t2, 'User:admin');
  });

  /** Creates a delegation token for admin over `port` (the proxy's or a broker's SASL port); returns its id and HMAC. */
  async function createToken(port: number): Promise<{ id: string; hmac: Buffer }> {
    const c = await RawConnection.open(port);
    await plainLogin(c, 'one write');
    c.write(kafkaRequest(38, 3, 3, { OwnerPrincipalType: null, OwnerPrincipalName: null, Renewers: [], MaxLifetimeMs: -1n }));
    const res = decodeResponse(38, 3, await c.takeFrame());
    c.destroy();
    assert.equal(res.ErrorCode, 0, `CreateDelegationToken: ${res.ErrorCode}`);
    return { id: res.TokenId, hmac: res.Hmac };
  }

  /** Logs in with the token (retrying while the new token reaches the broker's cache) and sends CreateTopics; returns its error code. */
  async function tokenLogin(token: { id: string; hmac: Buffer }, topic: string): Promise<number> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await tokenLoginOnce(token, topic);
      if (r !== undefined) return r;
      if (Date.now() > deadline) throw new Error('the delegation-token login never succeeded');
      await new Promise((res) => setTimeout(res, 500));
    }
  }

  async function tokenLoginOnce(token: { id: string; hmac: Buffer }, topic: string): Promise<number | undefined> {
    const scram = new ScramClient('SCRAM-SHA-256', token.id, token.hmac.toString('base64'), { extensions: 'tokenauth=true' });
    const c = await open();
    c.write(Buffer.concat([handshakeFrame(1, 'SCRAM-SHA-256', 1), authenticateFrame(scram.first(), 2)]));
    assert.equal(decodeResponse(17, 1, await c.takeFrame()).ErrorCode, 0);
    const first = decodeResponse(36, 1, await c.takeFrame());
    if (first.ErrorCode !== 0) { c.destroy(); return undefined; }
    c.write(Buffer.concat([authenticateFrame(scram.final(first.AuthBytes), 3), createTopics(topic, 4)]));
    if (decodeResponse(36, 1, await c.takeFrame()).ErrorCode !== 0) { c.destroy(); return undefined; }
    const result = createTopicsResult(await c.takeFrame());
    c.destroy();
    return result;
  }

  test('a delegation-token login is audited as the token owner when the proxy saw the token created', async () => {
    const token = await createToken(proxy.port);
    const topic = topicName('token-known-owner');
    assert.equal(await tokenLogin(token, topic), 0);
    created.set(topic, 'User:admin');
  });

  test('a delegation-token login whose owner the proxy cannot tell: User:UNKNOWN, counted, and (unknownPrincipal: refuse) refused', async () => {
    const token = await createToken(cluster.brokers[0].saslPort);
    const topic = topicName('token-unknown-owner');
    const before = await metricValue(proxy.app.metrics, 'kafka_proxy_unknown_principal_total');
    assert.equal(await tokenLogin(token, topic), 44, 'POLICY_VIOLATION from the proxy');
    assert.equal(await metricValue(proxy.app.metrics, 'kafka_proxy_unknown_principal_total'), before + 1);
    refused.push(topic);
  });

  test('the audit log agrees with the brokers: one event per executed operation, with the broker\'s principal; none executed that was refused', async () => {
    await waitForTopics(cluster, [...created.keys()]);
    await assertNeverCreated(cluster, refused.filter((t) => !deniedTo.has(t)));
    const known = await topicsKnown(cluster, refused);
    assert.deepEqual([...known], [], 'no refused or denied topic exists');
    const report = await proxy.stopAndRead();
    assert.equal(report.ok, true, JSON.stringify(report.chain.problems));
    events = report.eventsRead;
    // Every case is checked and every problem listed, so a failure names all the cases it breaks.
    const problems: string[] = [];
    for (const [topic, principal] of created) {
      const found = eventsFor(events, 'CreateTopics', topic);
      if (found.length !== 1) { problems.push(`${topic}: executed, ${found.length} CreateTopics events`); continue; }
      const got = (found[0].data as any).authenticationInfo.principal;
      if (got !== principal) problems.push(`${topic}: event names ${got}, the broker authenticated ${principal}`);
      if (found[0].data.result?.status !== 'SUCCESS') problems.push(`${topic}: status ${found[0].data.result?.status}`);
    }
    for (const [topic, principal] of deniedTo) {
      const found = eventsFor(events, 'CreateTopics', topic);
      if (found.length !== 1) { problems.push(`${topic}: denied by the broker, ${found.length} CreateTopics events`); continue; }
      const got = (found[0].data as any).authenticationInfo.principal;
      if (got !== principal || found[0].data.result?.status !== 'UNAUTHORIZED') problems.push(`${topic}: denied event names ${got}, ${found[0].data.result?.status}`);
    }
    const executedUnanswered = await topicsKnown(cluster, unanswered);
    for (const topic of executedUnanswered) {
      const found = eventsFor(events, 'CreateTopics', topic);
      if (found.length !== 1) problems.push(`${topic}: executed after its client left, ${found.length} CreateTopics events`);
      else if ((found[0].data as any).authenticationInfo.principal !== 'User:admin') problems.push(`${topic}: principal ${(found[0].data as any).authenticationInfo.principal}`);
    }
    for (const topic of refused.filter((t) => !deniedTo.has(t))) {
      if (eventsFor(events, 'CreateTopics', topic).some((e) => e.data.result?.status === 'SUCCESS')) problems.push(`${topic}: never executed, but a success event`);
    }
    assert.deepEqual(problems, []);
    // No login is recorded under a principal the broker did not authenticate.
    const logins = events.filter((e) => e.data.methodName === 'kafka.Authentication' && e.data.result?.status === 'SUCCESS');
    for (const l of logins) assert.match(String((l.data as any).authenticationInfo.principal), /^User:(admin|alice|UNKNOWN)$/);
  });
});

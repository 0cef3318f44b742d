/**
 * A security review's attacks on the guarantee ("no audited operation reaches a broker without its audit event,
 * naming the principal the broker authenticated"), each sent through the whole proxy (src/app.ts, write-ahead
 * journal, Kafka sink) in front of a real 3-broker cluster, and judged against what the brokers did: their metadata
 * and ACLs asked directly over PLAINTEXT, their responses, and their own authorizer log
 * ("Principal = User:x is Denied operation = ..."), never against what the proxy says about itself.
 *
 * Breaks this review found, each fixed and kept as a regression test:
 * - a delegation token created with an OwnerPrincipalType other than "User": the broker authenticates a login with
 *   it as User:<owner name>, the proxy records <type>:<owner name>;
 * - mutating admin APIs the proxy forwards without any event (UnregisterBroker, UpdateFeatures,
 *   AlterReplicaLogDirs, WriteTxnMarkers), although "any API the proxy does not know" is to be audited;
 * - a resource name holding an encoded surrogate (ED A0 80): the broker's UTF-8 decoder makes one U+FFFD of it, the
 *   proxy's three, so the event names a resource that does not exist;
 * - one oversized audit event (an unauthenticated PLAIN login whose user name is control characters, 6 bytes each
 *   in JSON) is refused by the audit topic and blocks the spool replay for good: later operations never reach it;
 * - a topic created by Metadata (AllowAutoTopicCreation, on a cluster with auto.create.topics.enable, Kafka's
 *   default): no event at all (a 1-broker cluster of its own).
 *
 * Attacks that hold (regression tests): a second SaslHandshake/SaslAuthenticate on an authenticated connection
 * pipelined with an audited request, KIP-368 re-authentication as another user, SaslAuthenticate without
 * SaslHandshake, a Kafka-framed SaslAuthenticate after a v0 handshake, request versions above the schema, trailing
 * bytes, correlation-id reuse with a null client id on a per-broker port, closing or half-closing right after an
 * audited request, DeleteTopics by topic id of a topic the proxy never saw.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodeMessage, type Decoded } from '../../protocol/codec.js';
import { apiSchema } from '../../protocol/registry.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { startKafkaCluster, type KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { decodeResponse, kafkaRequest, RawConnection, requestHeader, sizePrefixed, topicMetadata } from '../harness/raw.js';
import { assertNeverCreated, topicsKnown, waitForTopics } from '../harness/metadata.js';
import { eventsFor, startAuditedApp, type AuditedApp } from '../harness/audited-app.js';
import { authenticateFrame, handshakeFrame, plainToken, ScramClient } from '../harness/sasl-raw.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function createTopics(topic: string, correlationId: number, clientId: string | null = 'raw-test'): Buffer {
  return kafkaRequest(19, 7, correlationId, {
    Topics: [{ Name: topic, NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] }], timeoutMs: 30_000, validateOnly: false,
  }, clientId);
}
const createResult = (frame: Buffer): number => (decodeResponse(19, 7, frame).Topics as Decoded[])[0].ErrorCode as number;

/** A request frame of a flexible version (header v2) with a hand-built body, for APIs the proxy has no schema of. */
function flexibleFrame(apiKey: number, version: number, correlationId: number, body: Buffer): Buffer {
  return sizePrefixed(requestHeader(apiKey, version, correlationId, { flexible: true }), body);
}
/** Compact string. */
const cstr = (s: string): Buffer => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length + 1]), b]); };
const int32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };

async function plainLogin(c: RawConnection, user: string): Promise<void> {
  c.write(Buffer.concat([handshakeFrame(1, 'PLAIN', 1), authenticateFrame(plainToken(user, `${user}-secret`), 2)]));
  assert.equal(decodeResponse(17, 1, await c.takeFrame()).ErrorCode, 0);
  const r = decodeResponse(36, 1, await c.takeFrame());
  assert.equal(r.ErrorCode, 0, String(r.ErrorMessage));
}

/** Lines of every broker's log (the authorizer logs denials at INFO). */
function brokerLog(cluster: KafkaCluster): string[] {
  return cluster.brokers.flatMap((b) => readFileSync(cluster.logOf(b.nodeId), 'utf8').split('\n'));
}

const principalOf = (e: AuditEvent): string => (e.data as any).authenticationInfo?.principal;

describe('security review: attacks on the audit guarantee (raw sockets, SASL, 3 brokers)', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: AuditedApp;
  let events: AuditEvent[] = [];
  const run = Date.now().toString(36);
  let n = 0;
  const topicName = (what: string) => `atk-${run}-${n++}-${what}`;
  /** Topics the broker created, with the principal it executed them as. */
  const created = new Map<string, string>();
  /** Topics the broker must never have created. */
  const refused: string[] = [];
  /** Topics that may or may not have reached the broker (connection closed right after the request). */
  const maybe: string[] = [];

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    proxy = await startAuditedApp(cluster);
  });

  after(async () => {
    await proxy?.stop();
    await release?.();
  });

  const open = () => RawConnection.open(proxy.port);

  // ---------------------------------------------------------------------------------------------------------------
  // Break: the owner type of a delegation token

  let tokenTopic = '';
  test('a delegation token with OwnerPrincipalType "Group": the login and its requests are audited as the principal the broker uses', async () => {
    const c = await open();
    await plainLogin(c, 'admin');
    c.write(kafkaRequest(38, 3, 3, { OwnerPrincipalType: 'Group', OwnerPrincipalName: 'alice', Renewers: [], MaxLifetimeMs: 3_600_000n }));
    const token = decodeResponse(38, 3, await c.takeFrame());
    c.destroy();
    assert.equal(token.ErrorCode, 0, 'the broker issues a token owned by Group:alice');
    tokenTopic = topicName('token-owner-type');
    const deadline = Date.now() + 20_000;
    for (;;) {
      const scram = new ScramClient('SCRAM-SHA-256', token.TokenId, token.Hmac.toString('base64'), { extensions: 'tokenauth=true' });
      const t = await open();
      t.write(Buffer.concat([handshakeFrame(1, 'SCRAM-SHA-256', 1), authenticateFrame(scram.first(), 2)]));
      assert.equal(decodeResponse(17, 1, await t.takeFrame()).ErrorCode, 0);
      const first = decodeResponse(36, 1, await t.takeFrame());
      if (first.ErrorCode === 0) {
        t.write(Buffer.concat([authenticateFrame(scram.final(first.AuthBytes), 3), createTopics(tokenTopic, 4)]));
        assert.equal(decodeResponse(36, 1, await t.takeFrame()).ErrorCode, 0, 'the token login succeeds');
        assert.equal(createResult(await t.takeFrame()), 29, 'the broker denies the CreateTopics (the owner has no ACLs)');
        t.destroy();
        break;
      }
      t.destroy();
      assert.ok(Date.now() < deadline, 'the token never became usable');
      await sleep(500);
    }
    refused.push(tokenTopic);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Break: mutating admin APIs forwarded without an event

  const UNAUDITED = ['UnregisterBroker', 'UpdateFeatures', 'AlterReplicaLogDirs', 'WriteTxnMarkers'];
  const deniedBefore = new Map<string, number>();
  const deniedAfter = new Map<string, number>();
  const countDenials = (): Map<string, number> => {
    const lines = brokerLog(cluster).filter((l) => l.includes('Principal = User:alice is Denied'));
    return new Map(UNAUDITED.map((api) => [api, lines.filter((l) => l.includes(`for request = ${api} `)).length]));
  };

  test('UnregisterBroker, UpdateFeatures, AlterReplicaLogDirs and WriteTxnMarkers reach the brokers (alice denied, admin executed)', async () => {
    for (const [k, v] of countDenials()) deniedBefore.set(k, v);
    const requests = (cid: number): Buffer[] => [
      flexibleFrame(64, 0, cid, Buffer.concat([int32(999), Buffer.from([0])])), // UnregisterBroker v0: broker 999
      flexibleFrame(57, 1, cid + 1, Buffer.concat([int32(30_000), Buffer.from([2]), cstr('kap.attack.feature'), Buffer.from([0, 0, 2, 0]), Buffer.from([1, 0])])), // UpdateFeatures v1, validateOnly
      flexibleFrame(34, 2, cid + 2, Buffer.concat([Buffer.from([2]), cstr('/no-such-dir'), Buffer.from([2]), cstr(`atk-${run}-none`), Buffer.from([2]), int32(0), Buffer.from([0, 0, 0])])), // AlterReplicaLogDirs v2
      flexibleFrame(27, 1, cid + 3, Buffer.from([1, 0])), // WriteTxnMarkers v1, no markers
    ];
    const alice = await open();
    await plainLogin(alice, 'alice');
    alice.write(Buffer.concat(requests(10)));
    for (let i = 0; i < 4; i++) assert.equal((await alice.takeFrame()).readInt32BE(0), 10 + i);
    alice.destroy();
    const admin = await open();
    await plainLogin(admin, 'admin');
    admin.write(requests(20)[0]);
    const r = await admin.takeFrame();
    assert.equal(r.readInt16BE(4 + 1 + 4), 102, 'the controller executed UnregisterBroker(999): BROKER_ID_NOT_REGISTERED');
    admin.destroy();
    await sleep(500);
    for (const [k, v] of countDenials()) deniedAfter.set(k, v);
    for (const api of UNAUDITED) assert.ok(deniedAfter.get(api)! > deniedBefore.get(api)!, `the broker's authorizer log shows alice's ${api} denied`);
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Break: a resource name the broker decodes differently

  const aclPrefix = `atk-${run}-acl-`;
  let brokerAclName: string | undefined;
  test('CreateAcls naming a resource with an encoded surrogate (ED A0 80): the broker creates the ACL', async () => {
    const body = encodeMessage(apiSchema(30)!.request, 3, {
      Creations: [{ ResourceType: 2, ResourceName: `${aclPrefix}XYZ`, ResourcePatternType: 3, Principal: 'User:bob', Host: '*', Operation: 3, PermissionType: 3 }],
    });
    const at = body.indexOf(Buffer.from('XYZ'));
    body[at] = 0xed; body[at + 1] = 0xa0; body[at + 2] = 0x80;
    const c = await open();
    await plainLogin(c, 'admin');
    c.write(flexibleFrame(30, 3, 7, body));
    assert.equal((decodeResponse(30, 3, await c.takeFrame()).Results as Decoded[])[0].ErrorCode, 0);
    c.destroy();
    const d = await RawConnection.open(cluster.brokers[0].plainPort);
    // The ACL reaches each broker through the metadata log: ask until this one has it.
    for (let i = 0; i < 50 && brokerAclName === undefined; i++) {
      if (i > 0) await sleep(200);
      const acls = await d.request(29, 3, { ResourceTypeFilter: 2, ResourceNameFilter: null, PatternTypeFilter: 1, PrincipalFilter: 'User:bob', HostFilter: null, Operation: 1, PermissionType: 1 });
      brokerAclName = (acls.Resources as Decoded[]).map((r) => r.ResourceName as string).find((x) => x.startsWith(aclPrefix));
    }
    assert.equal(brokerAclName, `${aclPrefix}\ufffd`, 'the broker (Java) decodes ED A0 80 as one U+FFFD');
    // Leave nothing behind.
    const del = await d.request(31, 3, { Filters: [{ ResourceTypeFilter: 2, ResourceNameFilter: brokerAclName, PatternTypeFilter: 3, PrincipalFilter: null, HostFilter: null, Operation: 1, PermissionType: 1 }] });
    assert.equal((del.FilterResults as Decoded[])[0].ErrorCode, 0);
    d.destroy();
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Attacks that hold

  test('a second SaslHandshake + SaslAuthenticate (as bob) on an authenticated connection, pipelined with CreateTopics: the principal stays the broker\'s', async () => {
    const topic = topicName('second-login');
    const c = await open();
    await plainLogin(c, 'admin');
    c.write(Buffer.concat([handshakeFrame(1, 'PLAIN', 11), authenticateFrame(plainToken('bob', 'bob-secret'), 12), createTopics(topic, 13)]));
    assert.notEqual(decodeResponse(17, 1, await c.takeFrame()).ErrorCode, 0, 'no re-authentication on this connection');
    assert.notEqual(decodeResponse(36, 1, await c.takeFrame()).ErrorCode, 0);
    assert.equal(createResult(await c.takeFrame()), 0);
    c.destroy();
    created.set(topic, 'User:admin');
  });

  test('KIP-368 re-authentication of a delegation-token connection as another user is refused; the pipelined CreateTopics never runs', async () => {
    const token = async (owner: string) => {
      const c = await open();
      await plainLogin(c, 'admin');
      c.write(kafkaRequest(38, 3, 3, { OwnerPrincipalType: 'User', OwnerPrincipalName: owner, Renewers: [], MaxLifetimeMs: 3_600_000n }));
      const r = decodeResponse(38, 3, await c.takeFrame());
      c.destroy();
      assert.equal(r.ErrorCode, 0);
      return { id: r.TokenId as string, hmac: r.Hmac as Buffer };
    };
    const [mine, bobs] = [await token('admin'), await token('bob')];
    const topic = topicName('reauth-as-bob');
    const deadline = Date.now() + 20_000;
    const login = async (c: RawConnection, t: { id: string; hmac: Buffer }, cid: number, then?: Buffer): Promise<number> => {
      const s = new ScramClient('SCRAM-SHA-256', t.id, t.hmac.toString('base64'), { extensions: 'tokenauth=true' });
      c.write(Buffer.concat([handshakeFrame(1, 'SCRAM-SHA-256', cid), authenticateFrame(s.first(), cid + 1)]));
      assert.equal(decodeResponse(17, 1, await c.takeFrame()).ErrorCode, 0);
      const first = decodeResponse(36, 1, await c.takeFrame());
      if (first.ErrorCode !== 0) return first.ErrorCode;
      c.write(Buffer.concat([authenticateFrame(s.final(first.AuthBytes), cid + 2), ...(then ? [then] : [])]));
      return decodeResponse(36, 1, await c.takeFrame()).ErrorCode;
    };
    for (;;) {
      const c = await open();
      if (await login(c, mine, 1) === 0 && await login(c, bobs, 10, createTopics(topic, 20)) !== 0) {
        await c.waitClosed(10_000);
        break;
      }
      c.destroy();
      assert.ok(Date.now() < deadline, 'the tokens never became usable');
      await sleep(500);
    }
    refused.push(topic);
  });

  test('SaslAuthenticate without SaslHandshake, and a Kafka-framed SaslAuthenticate after a v0 handshake: nothing pipelined behind runs', async () => {
    const t1 = topicName('auth-no-handshake');
    const c1 = await open();
    c1.write(Buffer.concat([authenticateFrame(plainToken('admin', 'admin-secret'), 1), createTopics(t1, 2)]));
    await c1.waitClosed(10_000);
    refused.push(t1);

    const t2 = topicName('v0-then-framed');
    const c2 = await open();
    c2.write(Buffer.concat([handshakeFrame(0, 'PLAIN', 1), authenticateFrame(plainToken('admin', 'admin-secret'), 2), createTopics(t2, 3)]));
    assert.equal(decodeResponse(17, 0, await c2.takeFrame()).ErrorCode, 0);
    await c2.waitClosed(10_000);
    refused.push(t2);
    // A raw token that is itself a CreateTopics frame: the broker takes it as a (bad) PLAIN token.
    const t3 = topicName('v0-token-is-request');
    const c3 = await open();
    c3.write(Buffer.concat([handshakeFrame(0, 'PLAIN', 1), createTopics(t3, 2)]));
    assert.equal(decodeResponse(17, 0, await c3.takeFrame()).ErrorCode, 0);
    await c3.waitClosed(10_000);
    refused.push(t3);
  });

  test('CreateTopics above the schema\'s versions: closed, never executed; with trailing bytes the broker ignores: executed and audited as the broker read it', async () => {
    const t1 = topicName('v8');
    const c1 = await open();
    await plainLogin(c1, 'admin');
    const v7 = createTopics(t1, 5);
    v7.writeInt16BE(8, 4 + 2); // same body, version 8
    c1.write(v7);
    await c1.waitClosed(10_000);
    refused.push(t1);

    const t2 = topicName('trailing');
    const c2 = await open();
    await plainLogin(c2, 'admin');
    const frame = createTopics(t2, 5);
    const longer = Buffer.concat([frame, Buffer.from([0, 0])]);
    longer.writeInt32BE(frame.length - 4 + 2, 0);
    c2.write(longer);
    assert.equal(createResult(await c2.takeFrame(30_000)), 0, 'the broker read the body and ignored the two bytes after it');
    created.set(t2, 'User:admin');
    c2.destroy();
  });

  test('30 CreateTopics pipelined in one write, all with correlation id 7 and a null client id, on a per-broker port', async () => {
    const c0 = await open();
    await plainLogin(c0, 'admin');
    const md = await c0.request(3, 12, { Topics: [], AllowAutoTopicCreation: false, IncludeTopicAuthorizedOperations: false });
    c0.destroy();
    const ports = (md.Brokers as Decoded[]).map((b) => b.Port as number);
    assert.ok(ports.length === 3 && ports.every((p) => p !== proxy.port), 'the proxy hands out its per-broker ports');
    const c = await RawConnection.open(ports[ports.length - 1]);
    await plainLogin(c, 'admin');
    const topics = Array.from({ length: 30 }, () => topicName('pipelined'));
    c.write(Buffer.concat(topics.map((t) => createTopics(t, 7, null))));
    for (const t of topics) {
      const f = await c.takeFrame(30_000);
      assert.equal(f.readInt32BE(0), 7);
      assert.equal(createResult(f), 0);
      created.set(t, 'User:admin');
    }
    c.destroy();
  });

  test('CreateTopics followed at once by a reset, or by a half-close', async () => {
    const t1 = topicName('reset');
    const c1 = await open();
    await plainLogin(c1, 'admin');
    c1.write(createTopics(t1, 5));
    c1.destroy();
    const t2 = topicName('half-close');
    const c2 = await open();
    await plainLogin(c2, 'admin');
    c2.socket.end(createTopics(t2, 5));
    await c2.waitClosed(30_000);
    maybe.push(t1, t2);
  });

  let byId: { topic: string; id: string } | undefined;
  test('DeleteTopics by topic id, of a topic the proxy never saw a name for', async () => {
    const topic = topicName('delete-by-id');
    const d = await RawConnection.open(cluster.brokers[0].plainPort);
    const r = decodeResponse(19, 7, await d.send(19, 7, { Topics: [{ Name: topic, NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] }], timeoutMs: 30_000, validateOnly: false }).response);
    assert.equal((r.Topics as Decoded[])[0].ErrorCode, 0);
    await waitForTopics(cluster, [topic]);
    const id = (await topicMetadata(d, topic)).topicId;
    d.destroy();
    const c = await open();
    await plainLogin(c, 'admin');
    const res = await c.request(20, 6, { Topics: [{ Name: null, TopicId: id }], TimeoutMs: 30_000 });
    assert.equal((res.Responses as Decoded[])[0].ErrorCode, 0);
    c.destroy();
    byId = { topic, id };
  });

  // ---------------------------------------------------------------------------------------------------------------
  // Verdicts: the audit topic against the brokers

  test('read the audit topic', async () => {
    await waitForTopics(cluster, [...created.keys()]);
    await assertNeverCreated(cluster, refused);
    const report = await proxy.stopAndRead();
    assert.equal(report.ok, true, JSON.stringify(report.chain.problems));
    events = report.eventsRead;
  });

  test('every topic the brokers created has exactly one CreateTopics event with the broker\'s principal; none that was refused succeeded', async () => {
    const problems: string[] = [];
    for (const [topic, principal] of created) {
      const found = eventsFor(events, 'CreateTopics', topic);
      if (found.length !== 1) { problems.push(`${topic}: executed, ${found.length} events`); continue; }
      if (principalOf(found[0]) !== principal) problems.push(`${topic}: event names ${principalOf(found[0])}, the broker executed it as ${principal}`);
      if (found[0].data.result?.status !== 'SUCCESS') problems.push(`${topic}: status ${found[0].data.result?.status}`);
    }
    for (const topic of refused) {
      if (eventsFor(events, 'CreateTopics', topic).some((e) => e.data.result?.status === 'SUCCESS')) problems.push(`${topic}: never executed, but a success event`);
    }
    const known = await topicsKnown(cluster, maybe);
    for (const topic of maybe) {
      const found = eventsFor(events, 'CreateTopics', topic);
      if (known.has(topic) && found.length !== 1) problems.push(`${topic}: executed (connection closed right after), ${found.length} events`);
      if (!known.has(topic) && found.some((e) => e.data.result?.status === 'SUCCESS')) problems.push(`${topic}: never executed, but a success event`);
    }
    assert.deepEqual(problems, []);
    // No event names bob: his re-authentication was refused by the broker.
    assert.deepEqual(events.filter((e) => principalOf(e) === 'User:bob' && e.data.result?.status === 'SUCCESS').map((e) => e.data.methodName), []);
  });

  test('DeleteTopics by topic id is recorded under the topic\'s name, with its id', () => {
    assert.ok(byId);
    const found = eventsFor(events, 'DeleteTopics', byId.topic);
    assert.equal(found.length, 1, JSON.stringify(events.filter((e) => e.data.methodName === 'kafka.DeleteTopics').map((e) => (e.data as any).authorizationInfo)));
    assert.equal(found[0].data.result?.status, 'SUCCESS');
    assert.equal((found[0].data as any).details?.topicId, byId.id);
  });

  test('the token login is audited as the principal the broker authenticated (its log: User:alice), not as "Group:alice"', () => {
    const line = brokerLog(cluster).find((l) => l.includes(`on resource = Topic:LITERAL:${tokenTopic} `) && l.includes('is Denied operation = CREATE'));
    assert.ok(line, 'the broker logged the denial');
    const brokerPrincipal = /Principal = (\S+) is Denied/.exec(line)![1];
    assert.equal(brokerPrincipal, 'User:alice');
    const found = eventsFor(events, 'CreateTopics', tokenTopic);
    assert.equal(found.length, 1);
    assert.equal(principalOf(found[0]), brokerPrincipal, `the event names ${principalOf(found[0])}; the broker denied ${brokerPrincipal}`);
  });

  test('every mutating admin request that reached a broker has an event (UnregisterBroker, UpdateFeatures, AlterReplicaLogDirs, WriteTxnMarkers)', () => {
    const problems: string[] = [];
    for (const api of UNAUDITED) {
      const ofApi = events.filter((e) => e.data.methodName === `kafka.${api}`);
      if (!ofApi.some((e) => principalOf(e) === 'User:alice')) problems.push(`${api}: the broker denied alice ${deniedAfter.get(api)! - deniedBefore.get(api)!} time(s); no event`);
    }
    if (!events.some((e) => e.data.methodName === 'kafka.UnregisterBroker' && principalOf(e) === 'User:admin')) problems.push('UnregisterBroker: executed by the controller for admin; no event');
    assert.deepEqual(problems, []);
  });

  test('the CreateAcls event names the resource the broker created the ACL on', () => {
    assert.ok(brokerAclName);
    const ours = events.filter((e) => e.data.methodName === 'kafka.CreateAcls' && String((e.data as any).authorizationInfo?.resourceName).startsWith(aclPrefix));
    assert.deepEqual(ours.map((e) => (e.data as any).authorizationInfo.resourceName), [brokerAclName]);
  });
});

describe('security review: one oversized audit event from an unauthenticated client', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: AuditedApp;

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    proxy = await startAuditedApp(cluster);
  });

  after(async () => {
    await proxy?.stop();
    await release?.();
  });

  test('a failed PLAIN login with a 180,000-character control-character user name does not stop later operations from reaching the audit topic', async () => {
    const a = await RawConnection.open(proxy.port);
    // authzid "" NUL authcid NUL password; \u0001 is 6 bytes in JSON: the login event is over 1 MB.
    const token = Buffer.concat([Buffer.from([0]), Buffer.alloc(180_000, 1), Buffer.from([0]), Buffer.from('x')]);
    a.write(Buffer.concat([handshakeFrame(1, 'PLAIN', 1), authenticateFrame(token, 2)]));
    assert.equal(decodeResponse(17, 1, await a.takeFrame()).ErrorCode, 0);
    assert.equal(decodeResponse(36, 1, await a.takeFrame()).ErrorCode, 58, 'the broker refuses the login');
    a.destroy();
    await sleep(1500);

    const topic = `atk-${Date.now().toString(36)}-after-poison`;
    const c = await RawConnection.open(proxy.port);
    await plainLogin(c, 'admin');
    c.write(createTopics(topic, 5));
    assert.equal(createResult(await c.takeFrame()), 0);
    c.destroy();
    await waitForTopics(cluster, [topic]);
    await sleep(1500);
    const report = await proxy.stopAndRead();
    assert.equal(eventsFor(report.eventsRead, 'CreateTopics', topic).length, 1,
      `the broker created ${topic}; the audit topic holds ${report.eventsRead.length} event(s): ${report.eventsRead.map((e) => e.data.methodName).join(', ')}`);
  });
});

describe('security review: topic creation through Metadata (auto.create.topics.enable=true, its own 1-broker cluster)', () => {
  let cluster: KafkaCluster | undefined;
  let proxy: AuditedApp | undefined;

  before(async () => {
    cluster = await startKafkaCluster({ brokers: 1, extraProps: { 'auto.create.topics.enable': 'true' } });
    proxy = await startAuditedApp(cluster, { audit: { replicationFactor: 1 } });
  });

  after(async () => {
    await proxy?.stop();
    await cluster?.stop();
  });

  test('a topic the broker creates for a Metadata request has a creation event', async () => {
    const topic = `atk-${Date.now().toString(36)}-auto-created`;
    const c = await RawConnection.open(proxy!.port);
    await plainLogin(c, 'admin');
    await c.request(3, 12, { Topics: [{ TopicId: 'AAAAAAAAAAAAAAAAAAAAAA', Name: topic }], AllowAutoTopicCreation: true, IncludeTopicAuthorizedOperations: false });
    c.destroy();
    await waitForTopics(cluster!, [topic]);
    const report = await proxy!.stopAndRead();
    const about = report.eventsRead.filter((e) => (e.data as any).authorizationInfo?.resourceName === topic);
    assert.equal(about.length, 1, `the broker created ${topic} for User:admin; events naming it: ${about.map((e) => e.data.methodName).join(', ') || 'none'}`);
    assert.equal(principalOf(about[0]), 'User:admin');
  });
});

/**
 * Leader hints from a real broker: a Fetch v17 or Produce v11 sent to a broker that does not lead the
 * partition is answered NOT_LEADER_OR_FOLLOWER with the leader's address in NodeEndpoints (KIP-951). Through
 * the proxy that address must be the proxy's port for the leader, whatever the length of the proxy's
 * advertised host compared with the broker's ("127.0.0.1"): same length, shorter (the section is padded),
 * or longer (the hints are removed, and counted).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { decodeMessage, encodeMessage, type Decoded } from '../../protocol/codec.js';
import { readRequestHeader } from '../../protocol/header.js';
import { Fetch } from '../../protocol/messages/fetch.js';
import { Metadata } from '../../protocol/messages/metadata.js';
import { Produce } from '../../protocol/messages/produce.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { waitForTopics } from '../harness/metadata.js';
import { metricValue, RawConnection, requestFrame, startTestProxy } from '../harness/proxy.js';

/** A valid record batch (CRC and all) captured from Kafka's console producer (test/protocol/fixtures). */
function capturedRecordBatch(): Buffer {
  const captured = JSON.parse(readFileSync(new URL('../protocol/fixtures/captured.json', import.meta.url), 'utf8')) as
    { client: string; side: string; apiKey: number; apiVersion: number; hex: string }[];
  const c = captured.find((x) => x.side === 'request' && x.apiKey === 0 && x.apiVersion >= 9)!;
  const frame = Buffer.from(c.hex, 'hex');
  const body = decodeMessage(Produce.request, c.apiVersion, frame.subarray(readRequestHeader(frame, 2).bodyOffset));
  return body.TopicData[0].PartitionData[0].Records as Buffer;
}

/** One request over a raw connection with flexible headers; returns the decoded response body. */
async function call(conn: RawConnection, apiKey: number, version: number, schema: typeof Fetch, body: Decoded, id: number): Promise<Decoded> {
  conn.write(requestFrame(apiKey, version, id, encodeMessage(schema.request, version, body), { flexible: true }));
  const frame = await conn.nextFrame(15_000);
  assert.equal(frame.readInt32BE(0), id);
  assert.equal(frame[4], 0, 'empty response header tagged section');
  return decodeMessage(schema.response, version, frame.subarray(5));
}

describe('leader hints from a real broker through the proxy', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let admin: Admin;
  const topic = `leader-hints-${Date.now()}`;
  let leader: number;
  let other: number;
  let topicId: string;

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    [leader, other] = cluster.brokers.map((b) => b.nodeId);
    admin = new Kafka({ clientId: 'leader-hints', brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic, replicaAssignment: [{ partition: 0, replicas: [leader] }] }] });
    await waitForTopics(cluster, [topic]);
  });

  after(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    await release();
  });

  for (const [what, host] of [['as long as', '127.0.0.1'], ['shorter than', 'kap'], ['longer than', 'audit-proxy.kafka.example.internal']] as const) {
    test(`Fetch v17 and Produce v11 to a follower: hints name the proxy (advertised host ${what} the broker's)`, async () => {
      const proxy = await startTestProxy(cluster.plainBootstrap, (c) => { c.listen.advertisedHost = host; });
      try {
        // Learn the brokers (opens their proxy listeners) and the topic id through the bootstrap port.
        const boot = await RawConnection.open(Number(proxy.bootstrap.split(':')[1]));
        const md = await call(boot, 3, 12, Metadata, { Topics: [{ TopicId: 'AAAAAAAAAAAAAAAAAAAAAA', Name: topic }], AllowAutoTopicCreation: false, IncludeTopicAuthorizedOperations: false }, 1);
        boot.destroy();
        topicId = md.Topics[0].TopicId;
        const conn = await RawConnection.open(proxy.brokerPortBase + other);
        const fetch = await call(conn, 1, 17, Fetch, {
          MaxWaitMs: 100, MinBytes: 1, MaxBytes: 1 << 20, IsolationLevel: 0, SessionId: 0, SessionEpoch: -1,
          Topics: [{ TopicId: topicId, Partitions: [{ Partition: 0, CurrentLeaderEpoch: -1, FetchOffset: 0n, LastFetchedEpoch: -1, LogStartOffset: -1n, PartitionMaxBytes: 1 << 20 }] }],
          ForgottenTopicsData: [], RackId: '',
        }, 2);
        const produce = await call(conn, 0, 11, Produce as typeof Fetch, {
          TransactionalId: null, Acks: 1, TimeoutMs: 5000,
          TopicData: [{ Name: topic, PartitionData: [{ Index: 0, Records: capturedRecordBatch() }] }],
        }, 3);
        conn.destroy();

        const fp = fetch.Responses[0].Partitions[0];
        const pp = produce.Responses[0].PartitionResponses[0];
        for (const p of [fp, pp]) {
          assert.equal(p.ErrorCode, 6, 'NOT_LEADER_OR_FOLLOWER');
          assert.equal(p.CurrentLeader.LeaderId, leader);
        }
        const expected = [{ NodeId: leader, Host: host, Port: proxy.brokerPortBase + leader, Rack: null }];
        if (what === 'longer than') {
          assert.equal(fetch.NodeEndpoints, undefined, 'the broker address never reaches the client');
          assert.equal(produce.NodeEndpoints, undefined);
          assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_leader_hints_total', { outcome: 'dropped' }), 2);
        } else {
          assert.deepEqual(fetch.NodeEndpoints, expected);
          assert.deepEqual(produce.NodeEndpoints, expected);
          assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_leader_hints_total', { outcome: 'rewritten' }), 2);
        }
        assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_undecodable_frames_total'), 0);
      } finally {
        await proxy.stop();
      }
    });
  }
});

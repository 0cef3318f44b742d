/**
 * Asks every broker of a cluster directly (raw Metadata v1 over PLAINTEXT) whether it knows some topics, so
 * tests can wait until a new topic has reached all brokers: on a loaded 2-core machine that can take
 * seconds, and kafkajs gives up on UNKNOWN_TOPIC_OR_PARTITION from a broker that is behind.
 */
import net from 'node:net';
import { decodeMessage, encodeMessage } from '../../protocol/codec.js';
import { Metadata } from '../../protocol/messages/metadata.js';
import type { KafkaCluster } from './kafka-cluster.js';

function metadataFrom(port: number, topics: string[]): Promise<{ name: string; error: number; leaders: number[] }[]> {
  const body = encodeMessage(Metadata.request, 1, { Topics: topics.map((Name) => ({ Name })) });
  const header = Buffer.alloc(10);
  header.writeInt16BE(3, 0); header.writeInt16BE(1, 2); header.writeInt32BE(1, 4); header.writeInt16BE(-1, 8);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(Buffer.concat([size, header, body])));
    let acc = Buffer.alloc(0);
    s.setTimeout(5000, () => { s.destroy(); reject(new Error(`metadata from port ${port} timed out`)); });
    s.on('error', reject);
    s.on('data', (d) => {
      acc = Buffer.concat([acc, d]);
      if (acc.length < 4 || acc.length < 4 + acc.readInt32BE(0)) return;
      s.end();
      const md = decodeMessage(Metadata.response, 1, acc.subarray(8, 4 + acc.readInt32BE(0)));
      resolve(md.Topics.map((t: any) => ({ name: t.Name, error: t.ErrorCode, leaders: t.Partitions.map((p: any) => p.LeaderId) })));
    });
  });
}

/** Resolves once every running broker reports each topic without error and with a leader for every partition. */
export async function waitForTopics(cluster: Pick<KafkaCluster, 'brokers'>, topics: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const views = await Promise.all(cluster.brokers.map((b) => metadataFrom(b.plainPort, topics)));
      if (views.every((v) => v.length === topics.length && v.every((t) => t.error === 0 && t.leaders.length > 0 && t.leaders.every((l) => l >= 0)))) return;
      last = JSON.stringify(views);
    } catch (e) { last = (e as Error).message; }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`topics ${topics.join(', ')} not on every broker after ${timeoutMs} ms: ${last}`);
}

/** The topics among `topics` that some running broker knows (asked directly, not through the proxy). */
export async function topicsKnown(cluster: Pick<KafkaCluster, 'brokers'>, topics: string[]): Promise<Set<string>> {
  const views = await Promise.all(cluster.brokers.map((b) => metadataFrom(b.plainPort, topics)));
  return new Set(views.flat().filter((t) => t.error === 0).map((t) => t.name));
}

/**
 * Decides that topics were never created, after a barrier: a marker topic created directly afterwards must have
 * reached every broker, and the topics must stay unknown for `quietMs` more. A proxy that answered a refusal but
 * forwarded the request anyway is caught (the forwarded creation lands within that time); one look right after
 * the refusal would not catch it.
 */
export async function assertNeverCreated(cluster: Pick<KafkaCluster, 'brokers' | 'plainBootstrap'>, topics: string[], quietMs = 3000): Promise<void> {
  const marker = `barrier-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const port = cluster.brokers[0].plainPort;
  await createTopicDirect(port, marker);
  await waitForTopics(cluster, [marker]);
  const deadline = Date.now() + quietMs;
  do {
    const known = await topicsKnown(cluster, topics);
    if (known.size > 0) throw new Error(`topics that must never have been created exist on the brokers: ${[...known].join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  } while (Date.now() < deadline);
}

/** CreateTopics v4 straight to one broker's PLAINTEXT port (1 partition, the broker's default replication). */
async function createTopicDirect(port: number, name: string): Promise<void> {
  const { CreateTopics } = await import('../../protocol/messages/create-topics.js');
  const body = encodeMessage(CreateTopics.request, 4, {
    Topics: [{ Name: name, NumPartitions: 1, ReplicationFactor: -1, Assignments: [], Configs: [] }], timeoutMs: 30_000, validateOnly: false,
  });
  const header = Buffer.alloc(10);
  header.writeInt16BE(19, 0); header.writeInt16BE(4, 2); header.writeInt32BE(1, 4); header.writeInt16BE(-1, 8);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length);
  await new Promise<void>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(Buffer.concat([size, header, body])));
    s.setTimeout(30_000, () => { s.destroy(); reject(new Error('marker topic creation timed out')); });
    s.on('error', reject);
    let acc = Buffer.alloc(0);
    s.on('data', (d) => {
      acc = Buffer.concat([acc, d]);
      if (acc.length < 4 || acc.length < 4 + acc.readInt32BE(0)) return;
      s.end();
      const res = decodeMessage(CreateTopics.response, 4, acc.subarray(8, 4 + acc.readInt32BE(0)));
      const code = res.Topics[0]?.ErrorCode;
      if (code === 0) resolve(); else reject(new Error(`marker topic ${name} not created: error ${code} ${res.Topics[0]?.ErrorMessage ?? ''}`));
    });
  });
}

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

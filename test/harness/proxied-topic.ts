/**
 * The setup of the proxy tests that move data through one topic: the shared 3-broker cluster, a proxy in this
 * process in front of it, an admin client connected directly to the brokers, and a new one-partition topic.
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { KafkaCluster } from './kafka-cluster.js';
import { waitForTopics } from './metadata.js';
import { startTestProxy, type TestProxy } from './proxy.js';
import { useCluster } from './shared-cluster.js';

export interface ProxiedTopic {
  cluster: KafkaCluster;
  proxy: TestProxy;
  admin: Admin;
  topic: string;
  /** Deletes the topic, stops the proxy and releases the cluster. */
  stop(): Promise<void>;
}

export async function proxiedTopic(prefix: string): Promise<ProxiedTopic> {
  const { cluster, release } = await useCluster(3);
  const proxy = await startTestProxy(cluster.plainBootstrap);
  const admin = new Kafka({ clientId: `${prefix}-test`, brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const topic = `${prefix}-${Date.now()}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false });
  await waitForTopics(cluster, [topic]);
  return {
    cluster, proxy, admin, topic,
    async stop() {
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
      await proxy.stop();
      await release();
    },
  };
}

/**
 * A cluster shared by the test files of one run: test/run.ts starts it once and publishes its description
 * in KAP_TEST_CLUSTER_<n>; a test file run on its own starts (and stops) a cluster of its own instead.
 * Tests that stop or restart brokers must start their own cluster, never use the shared one.
 *
 * test/run.ts runs some suites a second time against Kafka 4.1.1 (see its VERSION_PASSES): then the shared cluster
 * runs 4.1.1 and KAP_KAFKA_VERSION=4.1.1, so `useCluster(3)` and the CLI tools of runKafkaTool follow. A file that
 * asks for a version explicitly (`useCluster(3, '4.1.1')`) gets the shared cluster only when it runs that version.
 */
import { readFileSync } from 'node:fs';
import { defaultKafkaVersion, startKafkaCluster, type KafkaCluster, type KafkaVersion } from './kafka-cluster.js';

export type SharedClusterInfo =
  Pick<KafkaCluster, 'version' | 'clusterId' | 'runDir' | 'brokers' | 'plainBootstrap' | 'saslBootstrap'> & { logs: Record<number, string> };

export function describeCluster(c: KafkaCluster): SharedClusterInfo {
  return {
    version: c.version, clusterId: c.clusterId, runDir: c.runDir, brokers: c.brokers, plainBootstrap: c.plainBootstrap, saslBootstrap: c.saslBootstrap,
    logs: Object.fromEntries(c.brokers.map((b) => [b.nodeId, c.logOf(b.nodeId)])),
  };
}

export async function useCluster(
  brokers: 1 | 3, version: KafkaVersion = defaultKafkaVersion(),
): Promise<{ cluster: KafkaCluster; release: () => Promise<void> }> {
  const file = process.env[`KAP_TEST_CLUSTER_${brokers}`];
  const info = file ? JSON.parse(readFileSync(file, 'utf8')) as SharedClusterInfo : undefined;
  if (info && (info.version ?? '3.9.1') === version) {
    const shared = (): never => { throw new Error('the shared test cluster cannot be stopped or restarted; start a cluster of your own'); };
    const cluster: KafkaCluster = {
      ...info, version, stop: async () => shared(), stopBroker: async () => shared(), startBroker: async () => shared(),
      logOf: (nodeId: number) => info.logs[nodeId],
    };
    return { cluster, release: async () => {} };
  }
  const cluster = await startKafkaCluster({ brokers, version });
  return { cluster, release: () => cluster.stop() };
}

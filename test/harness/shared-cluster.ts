/**
 * A cluster shared by the test files of one run: test/run.ts starts it once and publishes its description
 * in KAP_TEST_CLUSTER_<n>; a test file run on its own starts (and stops) a cluster of its own instead.
 * Tests that stop or restart brokers must start their own cluster, never use the shared one.
 */
import { readFileSync } from 'node:fs';
import { startKafkaCluster, type KafkaCluster } from './kafka-cluster.js';

export type SharedClusterInfo = Pick<KafkaCluster, 'clusterId' | 'runDir' | 'brokers' | 'plainBootstrap' | 'saslBootstrap'> & { logs: Record<number, string> };

export function describeCluster(c: KafkaCluster): SharedClusterInfo {
  return {
    clusterId: c.clusterId, runDir: c.runDir, brokers: c.brokers, plainBootstrap: c.plainBootstrap, saslBootstrap: c.saslBootstrap,
    logs: Object.fromEntries(c.brokers.map((b) => [b.nodeId, c.logOf(b.nodeId)])),
  };
}

export async function useCluster(brokers: 1 | 3): Promise<{ cluster: KafkaCluster; release: () => Promise<void> }> {
  const file = process.env[`KAP_TEST_CLUSTER_${brokers}`];
  if (file) {
    const info = JSON.parse(readFileSync(file, 'utf8')) as SharedClusterInfo;
    const shared = (): never => { throw new Error('the shared test cluster cannot be stopped or restarted; start a cluster of your own'); };
    const cluster: KafkaCluster = {
      ...info, stop: async () => shared(), stopBroker: async () => shared(), startBroker: async () => shared(),
      logOf: (nodeId: number) => info.logs[nodeId],
    };
    return { cluster, release: async () => {} };
  }
  const cluster = await startKafkaCluster({ brokers });
  return { cluster, release: () => cluster.stop() };
}

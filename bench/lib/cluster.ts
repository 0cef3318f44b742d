/**
 * The benchmark cluster: one real Kafka 3.9.1 broker (KRaft, from .kafka-lib) with an extra listener for the
 * TCP relay.
 *
 * Why one broker: the box has few cores, and the broker, the load generator and the proxy share them. With one
 * broker every scenario measures the proxy's cost per byte and per request without replication traffic
 * competing for the same CPUs; the proxy does the same work per connection whatever the cluster size.
 *
 * The relay trick: a byte-only relay cannot rewrite the broker address in Metadata responses, so a client
 * that bootstraps through it would be told to connect to the broker directly. The broker therefore gets a
 * fourth client listener, RELAY, bound on its own port but *advertising the relay's port*: a client that
 * reaches the broker through the relay (relay port -> RELAY listener) is told the broker lives at the relay port
 * and keeps going through the relay. Direct clients and the proxy use the PLAINTEXT listener, which advertises
 * itself (test/harness addRelayListener: stop the broker, add the listener, start it again, about 3 s).
 */
import { addRelayListener, startKafkaCluster, type KafkaCluster } from '../../test/harness/kafka-cluster.js';
import { freePorts } from '../../test/harness/ports.js';

export interface BenchCluster {
  cluster: KafkaCluster;
  /** Direct PLAINTEXT bootstrap. */
  direct: string;
  /** Port the relay listens on (the RELAY listener advertises it). */
  relayPort: number;
  /** Where the relay forwards to: the broker's RELAY listener. */
  relayTarget: string;
  stop(): Promise<void>;
}

export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export async function startBenchCluster(): Promise<BenchCluster> {
  const cluster = await startKafkaCluster({
    brokers: 1,
    extraProps: {
      // Large enough for the 50 MB produce batch.
      'message.max.bytes': String(MAX_MESSAGE_BYTES),
      'replica.fetch.max.bytes': String(MAX_MESSAGE_BYTES),
      'socket.request.max.bytes': String(128 * 1024 * 1024),
      'num.network.threads': '3',
      'num.io.threads': '4',
    },
  });
  try {
    const [relayPort] = await freePorts(1);
    const relayListenerPort = await addRelayListener(cluster, relayPort);
    return {
      cluster, direct: cluster.plainBootstrap, relayPort, relayTarget: `127.0.0.1:${relayListenerPort}`,
      stop: () => cluster.stop(),
    };
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}

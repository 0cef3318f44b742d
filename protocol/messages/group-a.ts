import type { ApiSchema } from '../schema.js';
import { ApiVersions } from './api-versions.js';
import { SaslHandshake } from './sasl-handshake.js';
import { SaslAuthenticate } from './sasl-authenticate.js';
import { Metadata } from './metadata.js';
import { FindCoordinator } from './find-coordinator.js';
import { DescribeCluster } from './describe-cluster.js';
import { Produce } from './produce.js';
import { Fetch } from './fetch.js';
import { CreateTopics } from './create-topics.js';
import { DeleteTopics } from './delete-topics.js';
import { CreatePartitions } from './create-partitions.js';
import { DeleteRecords } from './delete-records.js';
import { DescribeConfigs } from './describe-configs.js';

/**
 * Group A: connection setup (ApiVersions, SASL), cluster discovery, produce/fetch and topic administration.
 * Each schema covers the oldest version in Kafka 3.9 to the newest in Kafka 4.1; see
 * test/protocol/schema-vs-kafka.test.ts, which checks them against both jars.
 */
export const GROUP_A: ApiSchema[] = [
  ApiVersions,
  SaslHandshake,
  SaslAuthenticate,
  Metadata,
  FindCoordinator,
  DescribeCluster,
  Produce,
  Fetch,
  CreateTopics,
  DeleteTopics,
  CreatePartitions,
  DeleteRecords,
  DescribeConfigs,
];

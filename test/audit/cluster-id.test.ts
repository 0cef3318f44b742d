/**
 * The audited cluster's id is named from the first event on (issue #15): with the audit topic on another connection
 * (audit.brokers set) and no audit.clusterId, the proxy asks the upstream cluster at start, so proxy.Started does not
 * say crn:///kafka=unknown.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { startAuditedApp } from '../harness/audited-app.js';

let cluster: KafkaCluster;
let release: () => Promise<void>;
before(async () => { ({ cluster, release } = await useCluster(3)); });
after(async () => { await release?.(); });

test('audit.brokers set, audit.clusterId not: proxy.Started names the upstream cluster', async () => {
  const app = await startAuditedApp(cluster, { sasl: false, audit: { clusterId: undefined } });
  const report = await app.stopAndRead();
  const started = report.eventsRead.filter((e) => e.data.methodName === 'proxy.Started');
  assert.equal(started.length, 1);
  assert.equal(started[0].data.resourceName, `crn:///kafka=${cluster.clusterId}`);
});

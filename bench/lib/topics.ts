/** Topic creation that waits for leaders without kafkajs' waitForLeaders (whose metadata retry can reject unhandled). */
import type { Admin, ITopicConfig } from 'kafkajs';
import { sleep } from './env.js';

export async function createTopics(admin: Admin, topics: ITopicConfig[]): Promise<void> {
  await admin.createTopics({ topics: topics.map((t) => ({ replicationFactor: 1, ...t })), waitForLeaders: false });
  const names = topics.map((t) => t.topic);
  for (let i = 0; i < 300; i++) {
    try {
      const md = await admin.fetchTopicMetadata({ topics: names });
      if (md.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch { /* not there yet */ }
    await sleep(100);
  }
  throw new Error(`topics ${names.join(', ')} have no leaders after 30 s`);
}

/**
 * Topic ids to names, from Metadata (v10+) and CreateTopics (v7+) responses, so requests that name topics only by
 * id (DeleteTopics v6+, Fetch v13+) are audited with names.
 */
import type { Decoded } from '../../../protocol/codec.js';
import { API_KEY } from '../../../protocol/registry.js';
import type { ConnectionControl, Exchange, Interceptor } from '../interceptor.js';

export class TopicIdsInterceptor implements Interceptor {
  constructor(private readonly conn: ConnectionControl) {}

  onResponse(ex: Exchange, body: Decoded | undefined): boolean {
    if (!body) return false;
    const topics = this.conn.ctx.topicIds;
    if (ex.header.apiKey === API_KEY.Metadata) {
      for (const t of body.Topics ?? []) if (t.TopicId && t.Name) topics.set(t.TopicId, t.Name);
    } else if (ex.header.apiKey === API_KEY.CreateTopics) {
      for (const t of body.Topics ?? []) if (t.TopicId && t.Name && t.ErrorCode === 0) topics.set(t.TopicId, t.Name);
    }
    return false;
  }
}

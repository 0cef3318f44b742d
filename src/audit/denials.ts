/**
 * Authorization denials in the answers of APIs the audit has no descriptor for (or whose descriptor does not cover
 * this request): a denied InitProducerId, EndTxn, DescribeClientQuotas, JoinGroup, OffsetCommit, Metadata of a topic
 * the principal may not describe, ... The broker refused a principal; with `authorize-denied: on` the audit log
 * says so, one operation per denied resource, whatever the API.
 *
 * The response is walked generically: every field named `*ErrorCode` holding an *_AUTHORIZATION_FAILED code is a
 * denial of the resource type that code names (TOPIC_ → Topic, GROUP_ → Group, ...). The resource's name is the
 * nearest one the response gives on the way down to that code (a topic's Name/Topic/TopicName/TopicId, a GroupId,
 * a TransactionalId, a coordinator Key), else the request's (its GroupId, TransactionalId, or its only topic), else
 * "unknown"; a Cluster denial names the cluster.
 *
 * Produce, Fetch and ShareFetch are not walked: their answers are the data path, never decoded for this; their
 * denials are audited when the produce/consume categories are on (their descriptors).
 */
import type { Decoded } from '../../protocol/codec.js';
import { API_KEY, apiName } from '../../protocol/registry.js';
import { auditedApi, categoryOf } from './apis/index.js';
import { clusterResource, OperationBuilder, type ExtractContext, type Resource } from './apis/shared.js';
import type { AuditOperation, ResourceType } from './operation.js';

/** The *_AUTHORIZATION_FAILED codes (protocol/errors.ts) and the resource each denies. */
const DENIED: ReadonlyMap<number, ResourceType> = new Map([
  [29, 'Topic'], [30, 'Group'], [31, 'Cluster'], [53, 'TransactionalId'], [65, 'DelegationToken'],
]);

const HOT_PATH = new Set<number>([API_KEY.Produce, API_KEY.Fetch, API_KEY.ShareFetch]);

const DENIED_LOW_BYTE = new Uint8Array(256);
for (const code of DENIED.keys()) DENIED_LOW_BYTE[code] = 1; // every code is under 256: its high byte is 0

/**
 * Whether a response frame (size prefix excluded) can hold a denial: an *ErrorCode field is an int16, so one holding
 * a DENIED code puts the bytes 00 <code> in the frame, wherever it is (nested, tagged). No false negatives; a false
 * positive (an offset or a length with those bytes) only costs a decode and a walk that finds nothing.
 */
export function mayCarryDenial(frame: Buffer): boolean {
  for (let i = 4; i + 1 < frame.length; i++) if (frame[i] === 0 && DENIED_LOW_BYTE[frame[i + 1]] === 1) return true;
  return false;
}

/**
 * Whether this API's answers are walked for denials: not the data path, and not an API whose descriptor records
 * each resource's outcome itself when the rules have it decoded (`descriptorAudits`: OffsetCommit's only when the
 * consume category is on). Metadata's descriptor covers only topic auto-creation, so Metadata is walked.
 */
export function denialsWalked(apiKey: number, descriptorAudits: (apiKey: number) => boolean): boolean {
  if (HOT_PATH.has(apiKey)) return false;
  return apiKey === API_KEY.Metadata || auditedApi(apiKey) === undefined || !descriptorAudits(apiKey);
}

/** The ACL operation the broker checks for each API (Kafka's docs, "Operations and Resources on Protocols"). */
const ACL_OPERATION: Record<string, string> = {
  Metadata: 'Describe', ListOffsets: 'Describe', OffsetForLeaderEpoch: 'Describe', FindCoordinator: 'Describe',
  OffsetFetch: 'Describe', DescribeCluster: 'Describe', DescribeLogDirs: 'Describe', DescribeTopicPartitions: 'Describe',
  DescribeTransactions: 'Describe', ListTransactions: 'Describe', DescribeQuorum: 'Describe', DescribeDelegationToken: 'Describe',
  DescribeUserScramCredentials: 'Describe', ConsumerGroupDescribe: 'Describe', StreamsGroupDescribe: 'Describe',
  DescribeClientQuotas: 'DescribeConfigs', DescribeProducers: 'Read',
  OffsetCommit: 'Read', TxnOffsetCommit: 'Read', JoinGroup: 'Read', SyncGroup: 'Read', Heartbeat: 'Read', LeaveGroup: 'Read',
  ConsumerGroupHeartbeat: 'Read', ShareGroupHeartbeat: 'Read', StreamsGroupHeartbeat: 'Read', ShareAcknowledge: 'Read',
  InitProducerId: 'Write', AddPartitionsToTxn: 'Write', AddOffsetsToTxn: 'Write', EndTxn: 'Write',
};

type Names = Partial<Record<ResourceType, string>>;

/** Resource names a struct gives for what lies below it. `inTopics`: the struct is an element of a topic list. */
function namesOf(s: Decoded, inTopics: boolean, keyType: ResourceType | undefined, ctx: ExtractContext, above: Names): Names {
  const n: Names = { ...above };
  const topic = s.Topic ?? s.TopicName ?? (inTopics ? s.Name : undefined);
  if (typeof topic === 'string') n.Topic = topic;
  else if (typeof s.TopicId === 'string') { const name = ctx.topicName(s.TopicId); if (name) n.Topic = name; }
  for (const [k, v] of Object.entries(s)) {
    if (typeof v !== 'string') continue;
    // AddPartitionsToTxn v0-3 names it V3AndBelowTransactionalId.
    if (k.endsWith('TransactionalId')) n.TransactionalId = v;
    else if (k.endsWith('GroupId')) n.Group = v;
  }
  if (typeof s.Key === 'string' && keyType) n[keyType] = s.Key; // FindCoordinator v4+: Coordinators[].Key
  return n;
}

/** The coordinator type a FindCoordinator request asks about (KeyType 0 group, 1 transaction, 2 share). */
function coordinatorKeyType(apiKey: number, request: Decoded | undefined): ResourceType | undefined {
  if (apiKey !== API_KEY.FindCoordinator || !request) return undefined;
  return request.KeyType === 1 ? 'TransactionalId' : 'Group';
}

/** What the request names, for codes whose struct in the response names nothing (InitProducerId, JoinGroup, ...). */
function requestNames(apiKey: number, request: Decoded | undefined, ctx: ExtractContext): Names {
  if (!request) return {};
  const n = namesOf(request, false, coordinatorKeyType(apiKey, request), ctx, {});
  const topics: Decoded[] | undefined = Array.isArray(request.Topics) ? request.Topics : undefined;
  if (!n.Topic && topics?.length === 1) {
    const only = namesOf(topics[0], true, undefined, ctx, {});
    if (only.Topic) n.Topic = only.Topic;
  }
  return n;
}

interface Denial { type: ResourceType; name: string | undefined; code: number; message: string | undefined }

function walk(node: Decoded, names: Names, keyType: ResourceType | undefined, ctx: ExtractContext, out: Denial[]): void {
  for (const [field, value] of Object.entries(node)) {
    if (typeof value === 'number') {
      const type = field.endsWith('ErrorCode') ? DENIED.get(value) : undefined;
      if (!type) continue;
      const message = field === 'ErrorCode' && typeof node.ErrorMessage === 'string' ? node.ErrorMessage : undefined;
      out.push({ type, name: names[type], code: value, message });
    } else if (Array.isArray(value)) {
      const inTopics = /topic/i.test(field);
      for (const e of value) {
        if (e !== null && typeof e === 'object' && !Buffer.isBuffer(e)) walk(e, namesOf(e, inTopics, keyType, ctx, names), keyType, ctx, out);
      }
    } else if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
      walk(value as Decoded, namesOf(value as Decoded, false, keyType, ctx, names), keyType, ctx, out);
    }
  }
}

/**
 * One operation per resource the response says the principal was denied (several partitions of one topic are one
 * denial); [] when nothing was denied.
 */
export function extractDenials(apiKey: number, request: Decoded | undefined, response: Decoded, ctx: ExtractContext): AuditOperation[] {
  const found: Denial[] = [];
  const keyType = coordinatorKeyType(apiKey, request);
  walk(response, namesOf(response, false, keyType, ctx, {}), keyType, ctx, found);
  if (found.length === 0) return [];
  const fromRequest = requestNames(apiKey, request, ctx);
  const name = apiName(apiKey);
  // Metadata's descriptor is a management one (it covers topic creation); a denied Metadata is a denied Describe.
  const category = apiKey === API_KEY.Metadata ? 'describe' : categoryOf(apiKey);
  const b = new OperationBuilder({ apiKey, name, category }, ctx, true);
  const seen = new Set<string>();
  for (const d of found) {
    const resource: Resource = d.type === 'Cluster'
      ? clusterResource(ctx)
      : { type: d.type, name: d.name ?? fromRequest[d.type] ?? 'unknown' };
    const key = `${resource.type}\u0000${resource.name}\u0000${d.code}`;
    if (seen.has(key)) continue;
    seen.add(key);
    b.add(resource, ACL_OPERATION[name] ?? 'Describe', { code: d.code, message: d.message });
  }
  return b.ops;
}

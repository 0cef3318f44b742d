/**
 * A minimal Kafka client over a raw socket (requests encoded with the project's own codec), for what real
 * clients cannot do on purpose: hold thousands of idle connections cheaply, or stop reading their socket.
 */
import net from 'node:net';
import { decodeMessage, encodeMessage, type Decoded } from '../../protocol/codec.js';
import { apiSchema } from '../../protocol/registry.js';
import { responseBodyOffset, skipTaggedSection } from '../../protocol/header.js';

export class RawConnection {
  private nextCorrelationId = 1;
  private readonly waiting = new Map<number, (frame: Buffer) => void>();
  private chunks: Buffer[] = [];
  private buffered = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.onData(c));
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port });
      s.once('connect', () => { s.removeListener('error', reject); resolve(new RawConnection(s)); });
      s.once('error', reject);
    });
  }

  private onData(c: Buffer): void {
    this.chunks.push(c);
    this.buffered += c.length;
    for (;;) {
      if (this.buffered < 4) return;
      let all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      const size = all.readInt32BE(0);
      if (all.length < 4 + size) { this.chunks = [all]; return; }
      const frame = all.subarray(4, 4 + size);
      all = all.subarray(4 + size);
      this.chunks = all.length ? [all] : [];
      this.buffered = all.length;
      const cb = this.waiting.get(frame.readInt32BE(0));
      this.waiting.delete(frame.readInt32BE(0));
      cb?.(frame);
    }
  }

  /** Writes a request; returns its correlation id and a promise of the response frame (size prefix excluded). */
  send(apiKey: number, version: number, body: Decoded): { correlationId: number; response: Promise<Buffer> } {
    const schema = apiSchema(apiKey)!;
    const flexible = isFlexible(schema.request.flexibleVersions, version);
    const correlationId = this.nextCorrelationId++;
    const clientId = Buffer.from('bench-raw');
    const header = Buffer.alloc(10 + clientId.length + (flexible ? 1 : 0));
    header.writeInt16BE(apiKey, 0);
    header.writeInt16BE(version, 2);
    header.writeInt32BE(correlationId, 4);
    header.writeInt16BE(clientId.length, 8);
    clientId.copy(header, 10);
    const payload = encodeMessage(schema.request, version, body);
    const size = Buffer.alloc(4);
    size.writeInt32BE(header.length + payload.length, 0);
    const response = new Promise<Buffer>((resolve) => this.waiting.set(correlationId, resolve));
    this.socket.write(Buffer.concat([size, header, payload]));
    return { correlationId, response };
  }

  /** Sends a request and decodes its response body. */
  async request(apiKey: number, version: number, body: Decoded): Promise<Decoded> {
    const frame = await this.send(apiKey, version, body).response;
    const schema = apiSchema(apiKey)!;
    const flexible = apiKey !== 18 && isFlexible(schema.response.flexibleVersions, version);
    return decodeMessage(schema.response, version, frame.subarray(flexible ? skipTaggedSection(frame, 4) : responseBodyOffset(frame, 0)));
  }

  close(): void { this.socket.destroy(); }
}

function isFlexible(range: string, version: number): boolean {
  const m = /^(\d+)\+$/.exec(range);
  return m ? version >= Number(m[1]) : false;
}

/** ApiVersions v0 (the first request of every Kafka client). */
export function apiVersions(c: RawConnection): Promise<Decoded> {
  return c.request(18, 0, {});
}

/** Metadata v12 for one topic: broker list and the topic's id. */
export async function topicMetadata(c: RawConnection, topic: string): Promise<{ brokers: Array<{ nodeId: number; host: string; port: number }>; topicId: string }> {
  const r = await c.request(3, 12, { Topics: [{ TopicId: 'AAAAAAAAAAAAAAAAAAAAAA', Name: topic }], AllowAutoTopicCreation: false, IncludeTopicAuthorizedOperations: false });
  const t = (r.Topics as Decoded[]).find((x) => x.Name === topic);
  if (!t || t.ErrorCode !== 0) throw new Error(`metadata for ${topic}: ${JSON.stringify(t?.ErrorCode)}`);
  return { brokers: (r.Brokers as Decoded[]).map((b) => ({ nodeId: b.NodeId, host: b.Host, port: b.Port })), topicId: t.TopicId };
}

/** A Fetch v16 request body for partition 0 of a topic, from `offset`. */
export function fetchBody(topicId: string, offset: number, partitionMaxBytes: number): Decoded {
  return {
    ReplicaId: -1, MaxWaitMs: 500, MinBytes: 1, MaxBytes: partitionMaxBytes, IsolationLevel: 0, SessionId: 0, SessionEpoch: -1,
    Topics: [{ TopicId: topicId, Partitions: [{ Partition: 0, CurrentLeaderEpoch: -1, FetchOffset: BigInt(offset), LastFetchedEpoch: -1, LogStartOffset: -1n, PartitionMaxBytes: partitionMaxBytes }] }],
    ForgottenTopicsData: [], RackId: '',
  };
}

/**
 * The requests in flight on one connection, oldest first: the one place that knows how requests and responses
 * pair up. Kafka answers in request order, so a response must answer the oldest request; any other correlation
 * id means the stream can no longer be followed. Refusals the proxy answers itself wait in the queue too and go
 * out when they reach the head, so the client sees answers in the order it asked.
 */
import type { Exchange } from './interceptor.js';
import { FrameError } from './frame-reader.js';

export class ExchangeQueue {
  private readonly queue: Exchange[] = [];
  /** The exchange whose response is streaming through right now (already out of the queue). */
  private streaming: Exchange | undefined;

  /** `answer` sends a refusal's bytes to the client; `done` is told of every exchange answered (for latency). */
  constructor(private readonly answer: (bytes: Buffer) => void, private readonly done: (ex: Exchange) => void) {}

  /** Requests waiting for a response, the one streaming included (shutdown drains these). */
  get pending(): number { return this.queue.length + (this.streaming ? 1 : 0); }

  get current(): Exchange | undefined { return this.streaming; }

  push(ex: Exchange): void { this.queue.push(ex); }

  /** Queues a response the proxy gives itself, sent as soon as everything asked before it is answered. */
  pushSynthetic(ex: Exchange): void {
    this.queue.push(ex);
    this.flush();
  }

  /** The oldest request still waiting, after any refusals at the head went out. */
  head(): Exchange | undefined {
    this.flush();
    return this.queue[0];
  }

  /** Takes the oldest request, which the response with `correlationId` must answer. */
  pop(correlationId: number): Exchange {
    const next = this.head();
    if (next?.header.correlationId !== correlationId) {
      throw new FrameError(`response with correlation id ${correlationId} does not answer the oldest request in flight (`
        + (next ? `${next.apiName}, correlation id ${next.header.correlationId}` : 'none') + '); the connection cannot be followed', 'unmatched_response');
    }
    return this.queue.shift()!;
  }

  /** A response starts streaming through: refusals behind it wait until it has ended. */
  startStreaming(ex: Exchange): void { this.streaming = ex; }

  endStreaming(): Exchange | undefined {
    const ex = this.streaming;
    this.streaming = undefined;
    this.flush();
    return ex;
  }

  /** Everything still waiting (the connection is closing): no response will come for these. */
  drain(): Exchange[] {
    return this.queue.splice(0).filter((ex) => !ex.synthetic);
  }

  /** Sends the refusals now at the head (call after each response has gone out). */
  flush(): void {
    while (!this.streaming && this.queue.length > 0 && this.queue[0].synthetic) {
      const ex = this.queue.shift()!;
      this.answer(ex.synthetic!);
      this.done(ex);
    }
  }
}

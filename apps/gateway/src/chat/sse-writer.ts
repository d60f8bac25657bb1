import type { ServerResponse } from 'node:http';
import { drained, toErrorResponse } from '@tokenhub/common';

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/** Writes server-sent events, flushed one by one, respecting the socket's backpressure. */
export class SseWriter {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
  }

  async data(json: string): Promise<void> {
    if (this.res.destroyed) return;
    if (!this.res.write(`data: ${json}\n\n`)) await drained(this.res);
  }

  done(): void {
    this.res.end('data: [DONE]\n\n');
  }

  /** A failure after the first chunk: an `error` event carrying OpenAI's error body, and no `[DONE]`. */
  error(err: unknown, requestId: string): void {
    if (this.res.destroyed) return;
    const { body } = toErrorResponse(err, requestId);
    this.res.end(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
  }
}

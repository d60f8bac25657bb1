import { createParser, EventSourceMessage } from 'eventsource-parser';
import { UpstreamError } from './upstream-error';

/** The most an upstream may send without completing an event (a line that never ends must not fill the memory). */
export const MAX_SSE_EVENT_BYTES = 16 * 1024 * 1024;

/** Decodes a byte stream of server-sent events into messages, as they arrive. */
export async function* readServerSentEvents(body: AsyncIterable<Uint8Array>, maxEventBytes = MAX_SSE_EVENT_BYTES): AsyncGenerator<EventSourceMessage> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event) });
  const decoder = new TextDecoder();
  let sinceEvent = 0;
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    if (pending.length === 0) {
      sinceEvent += chunk.byteLength;
      if (sinceEvent > maxEventBytes) {
        throw new UpstreamError('protocol', 502, `upstream sent more than ${maxEventBytes} bytes without completing an event`, { code: 'upstream_response_too_large' });
      }
      continue;
    }
    sinceEvent = 0;
    for (let i = 0; i < pending.length; i++) yield pending[i];
    pending.length = 0;
  }
  parser.feed(decoder.decode());
  yield* pending;
}

import { createParser, EventSourceMessage } from 'eventsource-parser';

/** Decodes a byte stream of server-sent events into messages, as they arrive. */
export async function* readServerSentEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<EventSourceMessage> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event) });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    for (let i = 0; i < pending.length; i++) yield pending[i];
    pending.length = 0;
  }
  parser.feed(decoder.decode());
  yield* pending;
}

import { readServerSentEvents } from './sse';
import { UpstreamError } from './upstream-error';

async function* bytes(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

async function collect(body: AsyncIterable<Uint8Array>, max?: number) {
  const out: Array<{ event?: string; data: string }> = [];
  for await (const m of readServerSentEvents(body, max)) out.push({ event: m.event, data: m.data });
  return out;
}

describe('readServerSentEvents', () => {
  it('decodes events split anywhere across chunks, multi-byte characters included', async () => {
    const text = 'data: {"a":"é"}\n\nevent: error\ndata: {"b":2}\n\n';
    const bytesOf = new TextEncoder().encode(text);
    async function* oneByOne() {
      for (const b of bytesOf) yield Uint8Array.of(b);
    }
    expect(await collect(oneByOne())).toEqual([{ event: undefined, data: '{"a":"é"}' }, { event: 'error', data: '{"b":2}' }]);
  });

  it('refuses an event that grows past the limit without ending', async () => {
    const err = await collect(bytes('data: {"ok":1}\n\n', 'data: ', 'x'.repeat(600), 'x'.repeat(600)), 1000).catch((e) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).code).toBe('upstream_response_too_large');
  });

  it('counts from the last complete event, so a long stream of small events passes', async () => {
    const events = Array.from({ length: 50 }, (_, i) => `data: ${'y'.repeat(90)}${i}\n\n`);
    expect(await collect(bytes(...events), 1000)).toHaveLength(50);
  });
});

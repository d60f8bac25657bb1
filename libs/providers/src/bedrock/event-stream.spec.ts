import { crc32, decodeEventStreamMessage, encodeEventStreamMessage, EventStreamError, readEventStream } from './event-stream';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* chunked(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

describe('AWS event-stream framing', () => {
  it('computes the standard CRC32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('round-trips a message', () => {
    const headers = { ':event-type': 'contentBlockDelta', ':content-type': 'application/json', ':message-type': 'event' };
    const payload = JSON.stringify({ contentBlockIndex: 0, delta: { text: 'héllo' } });
    const msg = encodeEventStreamMessage(headers, payload);
    expect(msg.readUInt32BE(0)).toBe(msg.length);
    const decoded = decodeEventStreamMessage(msg);
    expect(decoded.headers).toEqual(headers);
    expect(decoded.payload.toString('utf8')).toBe(payload);
  });

  it('decodes messages split across arbitrary chunks', async () => {
    const a = encodeEventStreamMessage({ ':event-type': 'messageStart', ':message-type': 'event' }, '{"role":"assistant"}');
    const b = encodeEventStreamMessage({ ':event-type': 'messageStop', ':message-type': 'event' }, '{"stopReason":"end_turn"}');
    for (const size of [1, 3, 7, 1000]) {
      const messages = await collect(readEventStream(chunked(Buffer.concat([a, b]), size)));
      expect(messages.map((m) => m.headers[':event-type'])).toEqual(['messageStart', 'messageStop']);
      expect(JSON.parse(messages[1].payload.toString())).toEqual({ stopReason: 'end_turn' });
    }
  });

  it('rejects a corrupted message and a truncated stream', async () => {
    const msg = encodeEventStreamMessage({ ':event-type': 'messageStart' }, '{}');
    const bad = Buffer.from(msg);
    bad[bad.length - 6] ^= 0xff;
    expect(() => decodeEventStreamMessage(bad)).toThrow(EventStreamError);
    await expect(collect(readEventStream(chunked(msg.subarray(0, msg.length - 2), 4)))).rejects.toThrow(EventStreamError);
  });
});

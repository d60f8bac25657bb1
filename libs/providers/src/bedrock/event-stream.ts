/**
 * The AWS event-stream binary framing (`application/vnd.amazon.eventstream`) Bedrock's
 * ConverseStream answers with. Each message:
 *
 *   total length (u32 BE) | headers length (u32 BE) | prelude CRC32 (u32 BE)
 *   headers | payload | message CRC32 (u32 BE, over everything before it)
 *
 * A header is: name length (u8), name, value type (u8), value. Type 7 (string) is a u16
 * length then UTF-8; the other types are decoded for their size and kept as raw values.
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = CRC_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export type HeaderValue = string | number | boolean | bigint | Buffer;

export interface EventStreamMessage {
  headers: Record<string, HeaderValue>;
  payload: Buffer;
}

export class EventStreamError extends Error {}

const PRELUDE = 12;

/** Encodes one message with string headers (what the fakes and tests need). */
export function encodeEventStreamMessage(headers: Record<string, string>, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const headerParts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    const h = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
    h.writeUInt8(n.length, 0);
    n.copy(h, 1);
    h.writeUInt8(7, 1 + n.length);
    h.writeUInt16BE(v.length, 2 + n.length);
    v.copy(h, 4 + n.length);
    headerParts.push(h);
  }
  const headerBytes = Buffer.concat(headerParts);
  const total = PRELUDE + headerBytes.length + body.length + 4;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(headerBytes.length, 4);
  out.writeUInt32BE(crc32(out, 0, 8), 8);
  headerBytes.copy(out, PRELUDE);
  body.copy(out, PRELUDE + headerBytes.length);
  out.writeUInt32BE(crc32(out, 0, total - 4), total - 4);
  return out;
}

function decodeHeaders(buf: Buffer): Record<string, HeaderValue> {
  const headers: Record<string, HeaderValue> = {};
  let i = 0;
  while (i < buf.length) {
    const nameLen = buf.readUInt8(i);
    const name = buf.toString('utf8', i + 1, i + 1 + nameLen);
    i += 1 + nameLen;
    const type = buf.readUInt8(i++);
    switch (type) {
      case 0:
        headers[name] = true;
        break;
      case 1:
        headers[name] = false;
        break;
      case 2:
        headers[name] = buf.readInt8(i);
        i += 1;
        break;
      case 3:
        headers[name] = buf.readInt16BE(i);
        i += 2;
        break;
      case 4:
        headers[name] = buf.readInt32BE(i);
        i += 4;
        break;
      case 5:
      case 8: // timestamp (ms since epoch, i64)
        headers[name] = buf.readBigInt64BE(i);
        i += 8;
        break;
      case 6:
      case 7: {
        const len = buf.readUInt16BE(i);
        const value = buf.subarray(i + 2, i + 2 + len);
        headers[name] = type === 7 ? value.toString('utf8') : Buffer.from(value);
        i += 2 + len;
        break;
      }
      case 9: // uuid
        headers[name] = Buffer.from(buf.subarray(i, i + 16));
        i += 16;
        break;
      default:
        throw new EventStreamError(`unknown event-stream header type ${type}`);
    }
    if (i > buf.length) throw new EventStreamError('truncated event-stream header');
  }
  return headers;
}

/** Decodes one whole message (checking both CRCs). */
export function decodeEventStreamMessage(msg: Buffer): EventStreamMessage {
  if (msg.length < PRELUDE + 4) throw new EventStreamError('event-stream message too short');
  const total = msg.readUInt32BE(0);
  const headersLen = msg.readUInt32BE(4);
  if (total !== msg.length) throw new EventStreamError('event-stream length mismatch');
  if (crc32(msg, 0, 8) !== msg.readUInt32BE(8)) throw new EventStreamError('event-stream prelude CRC mismatch');
  if (crc32(msg, 0, total - 4) !== msg.readUInt32BE(total - 4)) throw new EventStreamError('event-stream message CRC mismatch');
  if (PRELUDE + headersLen > total - 4) throw new EventStreamError('event-stream headers overrun the message');
  return {
    headers: decodeHeaders(msg.subarray(PRELUDE, PRELUDE + headersLen)),
    payload: Buffer.from(msg.subarray(PRELUDE + headersLen, total - 4)),
  };
}

/** Splits a byte stream (chunked arbitrarily) into event-stream messages. */
export async function* readEventStream(source: AsyncIterable<Buffer | Uint8Array | string>): AsyncGenerator<EventStreamMessage> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    pending = pending.length ? Buffer.concat([pending, bytes]) : bytes;
    while (pending.length >= PRELUDE) {
      const total = pending.readUInt32BE(0);
      if (total < PRELUDE + 4 || total > 16 * 1024 * 1024) throw new EventStreamError('event-stream message has an invalid length');
      if (crc32(pending, 0, 8) !== pending.readUInt32BE(8)) throw new EventStreamError('event-stream prelude CRC mismatch');
      if (pending.length < total) break;
      yield decodeEventStreamMessage(pending.subarray(0, total));
      pending = pending.subarray(total);
    }
  }
  if (pending.length) throw new EventStreamError('event-stream ended inside a message');
}

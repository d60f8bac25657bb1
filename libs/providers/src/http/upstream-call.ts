import { toUpstreamError, UpstreamResponse } from './upstream-http-client';

/** Reads a whole upstream body; a socket failure midway becomes an `UpstreamError`. */
export async function readBody(res: UpstreamResponse, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
  } catch (err) {
    throw toUpstreamError(err, signal);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}


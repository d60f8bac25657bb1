import { UpstreamError } from '../upstream-error';
import { toUpstreamError, UpstreamResponse } from './upstream-http-client';

/**
 * Reads a whole upstream body; a socket failure midway becomes an `UpstreamError`. The body
 * must arrive before the response deadline (an upstream trickling bytes just often enough to
 * dodge the idle deadline is cut off: 504 `upstream_timeout`) and stay under the size cap
 * (502 `upstream_response_too_large`).
 */
export async function readBody(res: UpstreamResponse, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const limits = res.bodyLimits;
  let timer: NodeJS.Timeout | undefined;
  if (limits) {
    const cutOff = () => res.body.destroy(new UpstreamError('timeout', 504, 'upstream response took longer than the response deadline', { code: 'upstream_timeout' }));
    const left = limits.deadlineAt - Date.now();
    if (left <= 0) cutOff();
    else timer = setTimeout(cutOff, left);
  }
  try {
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (limits && size > limits.maxBytes) {
        const tooLarge = new UpstreamError('protocol', 502, `upstream response is larger than ${limits.maxBytes} bytes`, { code: 'upstream_response_too_large' });
        res.body.destroy();
        throw tooLarge;
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    throw toUpstreamError(err, signal);
  } finally {
    clearTimeout(timer);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

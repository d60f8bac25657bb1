import { responseDeadlinePassed, responseTooLarge, toUpstreamError, UpstreamResponse } from './upstream-http-client';

/**
 * Reads a whole upstream body; a socket failure midway becomes an `UpstreamError`. The body
 * must arrive before the response deadline (an upstream trickling bytes just often enough to
 * dodge the idle deadline is cut off: 504 `upstream_timeout`) and stay under the size cap
 * (502 `upstream_response_too_large`).
 */
export function readBody(res: UpstreamResponse, signal: AbortSignal): Promise<Buffer> {
  const body = res.body;
  const limits = res.bodyLimits;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (err: unknown, buffer?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('close', onClose);
      if (err === null) resolve(buffer!);
      else reject(toUpstreamError(err, signal));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (limits && size > limits.maxBytes) {
        settle(responseTooLarge(limits.maxBytes));
        body.destroy();
      } else chunks.push(chunk);
    };
    const onEnd = () => settle(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    // Closed without an end: a reset, or destroyed by the deadline below (its error comes first).
    const onClose = () => settle(Object.assign(new Error('upstream response closed early'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    if (body.destroyed) return settle(body.errored ?? new Error('upstream response closed early'));
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('close', onClose);
    body.once('error', (err) => settle(err));
    if (limits) {
      const cutOff = () => body.destroy(responseDeadlinePassed());
      const left = limits.deadlineAt - Date.now();
      if (left <= 0) cutOff();
      else timer = setTimeout(cutOff, left);
    }
  });
}

/** `text` with each of `secrets` (keys an upstream may echo back) replaced by `[redacted]`. */
export function redactSecrets(text: string, secrets: Array<string | null | undefined>): string {
  for (const secret of secrets) if (secret && text.includes(secret)) text = text.split(secret).join('[redacted]');
  return text;
}

/**
 * The body of a non-2xx answer as text, for the error it becomes; empty when it cannot be
 * read. Some servers echo the key they refused: `secrets` are redacted, so it reaches
 * neither the client, nor the logs, nor the database.
 */
export async function refusalText(res: UpstreamResponse, signal: AbortSignal, secrets: Array<string | null | undefined>): Promise<string> {
  const body = await readBody(res, signal).catch(() => Buffer.alloc(0));
  return redactSecrets(body.toString('utf8'), secrets);
}

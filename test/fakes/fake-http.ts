import type { IncomingMessage } from 'node:http';

/** A request's whole body. */
export async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `raw` parsed as JSON, or `undefined` when it is not JSON (each fake answers that in its provider's words). */
export function parseJson<T = Record<string, any>>(raw: Buffer | string): T | undefined {
  try {
    return JSON.parse(raw.toString()) as T;
  } catch {
    return undefined;
  }
}

/** A request's body parsed as JSON, or `undefined` when it is not JSON. */
export async function readJson<T = Record<string, any>>(req: IncomingMessage): Promise<T | undefined> {
  return parseJson<T>(await readRaw(req));
}

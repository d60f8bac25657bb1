import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { bodyReadError } from '../filters/openai-exception.filter';
import { checkJsonDepth, verifyUtf8 } from '../validation/json-body';

const CHARSET_UTF8 = /^\s*charset\s*=\s*"?utf-?8"?\s*$/i;
const JSON_WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Whether a request carries a body `readJsonBody` reads: `application/json` (UTF-8, or no
 * charset), no content coding. Anything else (compressed, another charset, no body at all)
 * is left to Express's JSON parser, which knows those cases.
 */
export function isPlainJsonRequest(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  if (type === undefined) return false;
  if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) return false;
  const coding = headers['content-encoding'];
  if (coding !== undefined && coding.toLowerCase() !== 'identity') return false;
  const semicolon = type.indexOf(';');
  if ((semicolon < 0 ? type : type.slice(0, semicolon)).trim().toLowerCase() !== 'application/json') return false;
  return semicolon < 0 || CHARSET_UTF8.test(type.slice(semicolon + 1));
}

/**
 * Reads and parses a JSON request body as Express's JSON parser does (same limit, same
 * failures, same messages): 413 past `limitBytes` (read to its end first, so the connection
 * stays usable), 400 for invalid UTF-8, JSON that is not an object or array, or nesting past
 * `MAX_JSON_DEPTH`; an empty body is `{}`. `done` is called once, with the body or the error.
 */
export function readJsonBody(req: IncomingMessage, limitBytes: number, done: (err: Error | null, body?: unknown) => void): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) return discard(req, () => done(bodyReadError('entity.too.large', 413, { limit: limitBytes })));
  const chunks: Buffer[] = [];
  let received = 0;
  let settled = false;
  const settle = (err: Error | null, body?: unknown) => {
    if (settled) return;
    settled = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    done(err, body);
  };
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received <= limitBytes) chunks.push(chunk);
    else {
      req.off('data', onData);
      discard(req, () => settle(bodyReadError('entity.too.large', 413, { limit: limitBytes })));
    }
  };
  const onEnd = () => {
    if (received > limitBytes) return;
    try {
      settle(null, parseJson(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received)));
    } catch (err) {
      settle(err as Error);
    }
  };
  // The client went away before the whole body was read (after `end`, this is a no-op).
  const onClose = () => settle(bodyReadError('request.aborted', 400, { message: 'request aborted' }));
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('close', onClose);
  // Without a listener, a reset connection's error would be thrown; `close` reports it.
  req.on('error', () => undefined);
}

/** The JSON in a body, strict like Express's parser: an object or an array, UTF-8 checked, depth bounded. */
export function parseJson(raw: Buffer): unknown {
  verifyUtf8(null, null, raw, 'utf-8');
  let start = raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 3 : 0;
  if (start === raw.length) return {};
  const text = raw.toString('utf8', start);
  while (start < raw.length && JSON_WHITESPACE.has(raw[start])) start++;
  if (raw[start] !== 0x7b && raw[start] !== 0x5b) throw bodyReadError('entity.parse.failed', 400);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw bodyReadError('entity.parse.failed', 400);
  }
  checkJsonDepth(body);
  return body;
}

/** Reads what is left of a request without keeping it, then calls `then` (also when the client goes away). */
function discard(req: IncomingMessage, then: () => void): void {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    then();
  };
  req.on('end', once);
  req.on('close', once);
  req.on('error', () => undefined);
  req.resume();
}

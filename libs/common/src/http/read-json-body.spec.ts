import { createServer, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayError } from '../errors/gateway-error';
import { MAX_JSON_DEPTH } from '../validation/json-body';
import { isPlainJsonRequest, parseJson, readJsonBody } from './read-json-body';

describe('isPlainJsonRequest', () => {
  const json = (headers: Record<string, string>) => isPlainJsonRequest({ 'content-length': '2', ...headers });

  it('takes application/json with no charset or UTF-8', () => {
    expect(json({ 'content-type': 'application/json' })).toBe(true);
    expect(json({ 'content-type': 'Application/JSON; charset=UTF-8' })).toBe(true);
    expect(json({ 'content-type': 'application/json;charset="utf8"' })).toBe(true);
    expect(isPlainJsonRequest({ 'content-type': 'application/json', 'transfer-encoding': 'chunked' })).toBe(true);
    expect(json({ 'content-type': 'application/json', 'content-encoding': 'identity' })).toBe(true);
  });

  it('leaves to Express what its parser decides: other types, charsets, codings, no body', () => {
    expect(json({ 'content-type': 'text/plain' })).toBe(false);
    expect(json({ 'content-type': 'application/json-patch+json' })).toBe(false);
    expect(json({ 'content-type': 'application/json; charset=latin1' })).toBe(false);
    expect(json({ 'content-type': 'application/json', 'content-encoding': 'gzip' })).toBe(false);
    expect(json({})).toBe(false);
    expect(isPlainJsonRequest({ 'content-type': 'application/json' })).toBe(false);
  });
});

describe('parseJson', () => {
  const failure = (raw: Buffer | string) => {
    try {
      parseJson(Buffer.from(raw));
    } catch (err) {
      return { status: (err as GatewayError).status, code: (err as GatewayError).code, message: (err as Error).message };
    }
    throw new Error('parsed');
  };

  it('parses objects and arrays, after a byte order mark and whitespace; an empty body is {}', () => {
    expect(parseJson(Buffer.from(' {"a":[1,"é"]}\n'))).toEqual({ a: [1, 'é'] });
    expect(parseJson(Buffer.from('\ufeff[1]'))).toEqual([1]);
    expect(parseJson(Buffer.alloc(0))).toEqual({});
  });

  it('refuses what Express refuses, with the same answers', () => {
    expect(failure('"text"')).toEqual({ status: 400, code: null, message: 'The request body is not valid JSON.' });
    expect(failure('   ')).toMatchObject({ status: 400, message: 'The request body is not valid JSON.' });
    expect(failure('{"a":')).toMatchObject({ status: 400, message: 'The request body is not valid JSON.' });
    expect(failure(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]))).toMatchObject({ status: 400, code: 'invalid_encoding' });
    expect(failure('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1))).toMatchObject({ status: 400, code: 'nesting_too_deep' });
  });
});

describe('readJsonBody', () => {
  let server: Server;
  let port: number;
  const LIMIT = 64;

  beforeAll(async () => {
    server = createServer((req, res) => {
      readJsonBody(req, LIMIT, (err, body) => {
        res.writeHead(err ? (err as GatewayError).status : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(err ? { error: err.message } : { body }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Sends `parts` one write each (chunked when no length is given), on a keep-alive connection. */
  const send = (parts: string[], headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      for (const part of parts) req.write(part);
      req.end();
    });

  it('reads a body sent in pieces', async () => {
    expect(await send(['{"model":', '"m",', '"n":1}'])).toEqual({ status: 200, body: { body: { model: 'm', n: 1 } } });
  });

  it('answers 413 past the limit, by declared length or by what arrives, and reads the rest first', async () => {
    const big = JSON.stringify({ text: 'x'.repeat(LIMIT) });
    expect(await send([big], { 'content-length': String(Buffer.byteLength(big)) })).toEqual({
      status: 413,
      body: { error: `The request body is larger than this server accepts (${LIMIT} bytes).` },
    });
    expect(await send([big.slice(0, 40), big.slice(40)])).toMatchObject({ status: 413 });
    // The connection still serves the next request.
    expect(await send(['{}'])).toEqual({ status: 200, body: { body: {} } });
  });
});

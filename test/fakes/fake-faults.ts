import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readJson } from './fake-http';

/**
 * A fault-injection upstream speaking OpenAI's chat completions wire format over real HTTP.
 * It requires a bearer key and a JSON body with `model` and `messages`, like the real API.
 * The fault is chosen per request by the model name (`fault-<name>`), or per credential
 * through `keyFaults` (the bearer sent), which wins:
 *
 *   reset-before-headers     the socket is destroyed before any byte of an answer
 *   reset-mid-body           200 with a content-length, half the JSON, then the socket is destroyed
 *   reset-mid-stream         two chunks, then the socket is destroyed
 *   truncated-stream         two chunks, then a clean end: no finish_reason, no usage, no [DONE]
 *   truncated-after-usage    every chunk, the finish and the usage chunk, then a clean end without [DONE]
 *   truncated-before-usage   every chunk and the finish, then a clean end without usage or [DONE]
 *   malformed-json           200 application/json whose body is not JSON
 *   malformed-sse            two chunks, then a `data:` line that is not JSON, then the rest
 *   malformed-sse-first      a `data:` line that is not JSON first
 *   html-502                 502 with a proxy's HTML error page
 *   slow-drip                a JSON answer one byte every `dripMs`; a stream one chunk every `streamDripMs`
 *   hang-before-headers      never answers
 *   hang-after-headers       200 headers, then nothing
 *   silence-mid-stream       two chunks, then nothing
 *   wrong-content-type       200 text/html with an HTML page, whatever was asked
 *   huge-body                200 with a valid completion of `hugeBytes` bytes
 *   error-500                500 with an OpenAI error body
 *   error-400                400 with an OpenAI error body (a client error)
 *
 * Any other model answers at once with "echo: <last user text>" (JSON, or a stream of
 * `streamChunks` chunks, with a usage chunk when `stream_options.include_usage` is set).
 */
export type Fault =
  | 'reset-before-headers'
  | 'reset-mid-body'
  | 'reset-mid-stream'
  | 'truncated-stream'
  | 'truncated-after-usage'
  | 'truncated-before-usage'
  | 'malformed-json'
  | 'malformed-sse'
  | 'malformed-sse-first'
  | 'html-502'
  | 'slow-drip'
  | 'hang-before-headers'
  | 'hang-after-headers'
  | 'silence-mid-stream'
  | 'wrong-content-type'
  | 'huge-body'
  | 'error-500'
  | 'error-400';

export class FakeFaults {
  /** Requests received, per bearer key. */
  readonly callsByKey = new Map<string, number>();
  /** Requests received, per model. */
  readonly callsByModel = new Map<string, number>();
  /** A fault for every request made with this bearer key, whatever the model. */
  readonly keyFaults = new Map<string, Fault>();
  dripMs = 10;
  streamDripMs = 200;
  hugeBytes = 3 * 1024 * 1024;
  streamChunks = 5;
  private server: Server;
  private readonly sockets = new Set<Socket>();

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  callsWithKey(key: string): number {
    return this.callsByKey.get(key) ?? 0;
  }

  callsFor(model: string): number {
    return this.callsByModel.get(model) ?? 0;
  }

  reset(): void {
    this.callsByKey.clear();
    this.callsByModel.clear();
    this.keyFaults.clear();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return error(res, 404, `Unknown path ${req.url}`, 'invalid_request_error');
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer) return error(res, 401, "You didn't provide an API key.", 'invalid_request_error', 'invalid_api_key');
    const body = await readJson<{ model?: unknown; messages?: unknown; stream?: unknown; stream_options?: { include_usage?: boolean } }>(req);
    if (body === undefined) return error(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
    if (typeof body.model !== 'string') return error(res, 400, 'you must provide a model parameter', 'invalid_request_error');
    if (!Array.isArray(body.messages) || body.messages.length === 0) return error(res, 400, "'messages' must contain at least one message", 'invalid_request_error');
    const model = body.model;
    this.callsByKey.set(bearer, this.callsWithKey(bearer) + 1);
    this.callsByModel.set(model, this.callsFor(model) + 1);

    const fault = this.keyFaults.get(bearer) ?? (model.startsWith('fault-') ? (model.slice('fault-'.length) as Fault) : undefined);
    const stream = body.stream === true;
    const includeUsage = body.stream_options?.include_usage === true;
    const text = `echo: ${lastUserText(body.messages as Array<{ role: string; content: unknown }>)}`;
    switch (fault) {
      case 'reset-before-headers':
        return void req.socket.destroy();
      case 'hang-before-headers':
        return;
      case 'hang-after-headers':
        res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json' });
        res.flushHeaders();
        return;
      case 'html-502':
        return html(res, 502, '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>');
      case 'wrong-content-type':
        return html(res, 200, '<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in to continue.</body></html>');
      case 'error-500':
        return error(res, 500, 'The server had an error while processing your request.', 'server_error');
      case 'error-400':
        return error(res, 400, "Invalid value for 'messages[0].content'.", 'invalid_request_error', 'invalid_value');
      case 'malformed-json':
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assi');
      default:
    }
    if (!stream) return this.complete(req, res, model, text, fault, body.messages);
    return this.stream(req, res, model, text, fault, includeUsage, body.messages);
  }

  private async complete(req: IncomingMessage, res: ServerResponse, model: string, text: string, fault: Fault | undefined, messages: unknown): Promise<void> {
    const completion = {
      id: `chatcmpl-${randomUUID()}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: usage(messages, text),
      system_fingerprint: 'fp_faults',
    };
    if (fault === 'huge-body') completion.choices[0].message.content = `${text} ${'x'.repeat(this.hugeBytes)}`;
    const json = JSON.stringify(completion);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    if (fault === 'reset-mid-body') {
      res.write(json.slice(0, json.length >> 1));
      await sleep(20);
      return void req.socket.destroy();
    }
    if (fault === 'slow-drip') return this.drip(res, json);
    res.end(json);
  }

  private async stream(
    req: IncomingMessage,
    res: ServerResponse,
    model: string,
    text: string,
    fault: Fault | undefined,
    includeUsage: boolean,
    messages: unknown,
  ): Promise<void> {
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: object, finish: string | null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_faults', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const lines = [chunk({ role: 'assistant', content: '' }, null), ...splitInto(text, this.streamChunks).map((piece) => chunk({ content: piece }, null))];
    if (fault === 'malformed-sse-first') lines.unshift('data: {"id": "chatcmpl-broken", "choices": [{"delta": \n\n');
    if (fault === 'malformed-sse') lines.splice(2, 0, 'data: {"id": "chatcmpl-broken", "choices": [{"delta": \n\n');
    for (let i = 0; i < lines.length; i++) {
      if (res.destroyed) return;
      if (i === 2 && (fault === 'reset-mid-stream' || fault === 'truncated-stream' || fault === 'silence-mid-stream')) {
        // Let the chunks already written leave before the fault.
        await sleep(20);
        if (fault === 'reset-mid-stream') return void req.socket.destroy();
        if (fault === 'truncated-stream') return void res.end();
        return;
      }
      if (fault === 'slow-drip' && i > 0) await sleep(this.streamDripMs);
      res.write(lines[i]);
    }
    const tail = [chunk({}, 'stop')];
    if (includeUsage && fault !== 'truncated-before-usage') {
      tail.push(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usage(messages, text) })}\n\n`);
    }
    for (const line of tail) res.write(line);
    if (fault === 'truncated-after-usage' || fault === 'truncated-before-usage') return void res.end();
    res.end('data: [DONE]\n\n');
  }

  /** Writes `text` one byte every `dripMs`. */
  private async drip(res: ServerResponse, text: string): Promise<void> {
    for (const byte of Buffer.from(text)) {
      if (res.destroyed) return;
      res.write(Buffer.of(byte));
      await sleep(this.dripMs);
    }
    res.end();
  }
}

function error(res: ServerResponse, status: number, message: string, type: string, code: string | null = null): void {
  const json = JSON.stringify({ error: { message, type, param: null, code } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

function html(res: ServerResponse, status: number, page: string): void {
  res.writeHead(status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page) });
  res.end(page);
}

function lastUserText(messages: Array<{ role: string; content: unknown }>): string {
  const last = [...messages].reverse().find((m) => m.role === 'user');
  return typeof last?.content === 'string' ? last.content : '';
}

/** Rough token counts (4 characters a token), deterministic so tests can check them. */
function usage(messages: unknown, text: string) {
  const prompt = Math.max(1, Math.ceil(JSON.stringify(messages).length / 4));
  const completion = Math.max(1, Math.ceil(text.length / 4));
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function splitInto(text: string, n: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  while (out.length < n) out.push('');
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

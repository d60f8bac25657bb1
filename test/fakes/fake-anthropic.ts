import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readJson } from './fake-http';

/**
 * A fake Anthropic Messages API (`POST /v1/messages`) over real HTTP that rejects what the
 * real one rejects: no `x-api-key` (401), no `anthropic-version`, no `max_tokens`, roles
 * other than user/assistant (a `system` role included: system is top-level only),
 * conversations that do not start with user or do not alternate, temperature outside 0..1.
 *
 * Answers "echo: <last user text>", or, when tools are given and the last user text
 * mentions "weather", two parallel tool_use blocks (get_weather for Paris and Tokyo).
 * Usage always reports `cacheReadTokens` cache reads and `cacheWriteTokens` cache writes.
 * Model names `error-<status>` answer that status with an Anthropic error body
 * (529 is `overloaded_error`); `error-midstream` streams then sends an `error` event.
 */
export interface FakeAnthropicRequest {
  body: Record<string, any>;
  headers: IncomingMessage['headers'];
}

export class FakeAnthropic {
  readonly requests: FakeAnthropicRequest[] = [];
  cacheReadTokens = 100;
  cacheWriteTokens = 20;
  private server: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get last(): FakeAnthropicRequest {
    return this.requests[this.requests.length - 1];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== '/v1/messages') return error(res, 404, 'not_found_error', `Unknown path ${req.url}`);
    const body = await readJson(req);
    if (!req.headers['x-api-key']) return error(res, 401, 'authentication_error', 'x-api-key header is required');
    if (req.headers['anthropic-version'] !== '2023-06-01') return error(res, 400, 'invalid_request_error', 'anthropic-version header is required');
    if (body === undefined) return error(res, 400, 'invalid_request_error', 'invalid JSON');
    this.requests.push({ body, headers: req.headers });
    const problem = validate(body);
    if (problem) return error(res, 400, 'invalid_request_error', problem);
    const failing = /^error-(\d{3})$/.exec(String(body.model));
    if (failing) {
      const status = Number(failing[1]);
      const type = status === 529 ? 'overloaded_error' : status === 429 ? 'rate_limit_error' : status >= 500 ? 'api_error' : 'invalid_request_error';
      return error(res, status, type, status === 529 ? 'Overloaded' : `Simulated ${status}`);
    }

    writeAnthropicAnswer(res, body, body.model, { read: this.cacheReadTokens, write: this.cacheWriteTokens });
  }
}

/**
 * Answers a valid Messages request as Anthropic does (JSON, or SSE when `stream`): the echo or the
 * two parallel tool_use blocks described above, reporting `cache` prompt-cache reads and writes.
 * Shared with fakes of other platforms serving the same wire format (Vertex AI, where the model
 * is in the path rather than the body).
 */
export function writeAnthropicAnswer(res: ServerResponse, body: Record<string, any>, model: string, cache: { read: number; write: number }): void {
  const messages = body.messages as Array<{ role: string; content: any }>;
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const lastText = typeof lastUser?.content === 'string' ? lastUser.content : (lastUser?.content ?? []).filter((b: any) => b.type === 'text').map((b: any) => b.text).join(' ');
  const id = `msg_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
  const usage = { input_tokens: 12, cache_read_input_tokens: cache.read, cache_creation_input_tokens: cache.write, output_tokens: 0 };
  let content: Array<Record<string, any>>;
  let stopReason: string;
  if (Array.isArray(body.tools) && body.tools.length && /weather/i.test(lastText)) {
    content = [
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'toolu_paris', name: body.tools[0].name, input: { city: 'Paris' } },
      { type: 'tool_use', id: 'toolu_tokyo', name: body.tools[0].name, input: { city: 'Tokyo', unit: 'c' } },
    ];
    stopReason = 'tool_use';
  } else {
    const images = messages.flatMap((m) => (Array.isArray(m.content) ? m.content.filter((b: any) => b.type === 'image') : []));
    content = [{ type: 'text', text: `echo: ${lastText}${images.length ? ` [${images.length} image(s)]` : ''}` }];
    stopReason = 'end_turn';
  }
  usage.output_tokens = 7;

  if (!body.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (event: string, data: object) => res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
  send('message_start', {
    message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
  });
  send('ping', {});
  content.forEach((block, index) => {
    if (block.type === 'text') {
      send('content_block_start', { index, content_block: { type: 'text', text: '' } });
      const words = (block.text as string).match(/\S+\s*/g) ?? [];
      for (const w of words) send('content_block_delta', { index, delta: { type: 'text_delta', text: w } });
    } else {
      send('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      const json = JSON.stringify(block.input);
      const mid = Math.floor(json.length / 2);
      send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
      send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, mid) } });
      send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(mid) } });
    }
    send('content_block_stop', { index });
    if (model === 'error-midstream') {
      send('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
      res.end();
    }
  });
  if (res.writableEnded) return;
  send('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  send('message_stop', {});
  res.end();
}

function validate(body: Record<string, any>): string | null {
  if (typeof body.model !== 'string') return 'model: Field required';
  if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || !body.messages.length) return 'messages: at least one message is required';
  if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system)) return 'system: Input should be a valid string';
  if (body.temperature !== undefined && (body.temperature < 0 || body.temperature > 1)) return 'temperature: Input should be less than or equal to 1';
  let expected = 'user';
  for (const [i, m] of (body.messages as Array<{ role: string; content: any }>).entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (m.role !== expected) return i === 0 ? 'messages: first message must use the "user" role' : 'messages: roles must alternate between "user" and "assistant"';
    expected = expected === 'user' ? 'assistant' : 'user';
    if (typeof m.content !== 'string') {
      if (!Array.isArray(m.content)) return `messages.${i}.content: Input should be a valid list`;
      for (const b of m.content) {
        if (!['text', 'image', 'tool_use', 'tool_result'].includes(b?.type)) return `messages.${i}.content: unknown block type ${b?.type}`;
        if (b.type === 'image' && !(b.source?.type === 'base64' ? b.source.media_type && b.source.data : b.source?.type === 'url' && b.source.url)) {
          return `messages.${i}.content: invalid image source`;
        }
      }
    }
  }
  if (body.tools !== undefined) {
    for (const t of body.tools) if (typeof t.name !== 'string' || typeof t.input_schema !== 'object') return 'tools: name and input_schema are required';
  }
  return null;
}

function error(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${randomUUID()}` });
  res.end(JSON.stringify({ type: 'error', error: { type, message } }));
}

/** The request checks, for fakes of other platforms serving the same wire format (Vertex AI). */
export { validate as validateAnthropicRequest };

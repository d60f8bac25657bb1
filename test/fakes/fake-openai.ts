import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readJson } from './fake-http';

/**
 * A fake OpenAI chat completions server, speaking the documented wire format over real
 * HTTP, that rejects what the real API rejects (missing key, unknown parameters, bad
 * roles, out-of-range values, `stream_options` without `stream`, a temperature on a
 * reasoning model). Model names steer failure modes for tests:
 *
 *   error-<status>        answers that status with an OpenAI error body (429 adds retry-after)
 *   context-length        400 `context_length_exceeded`
 *   slow-stream           20 chunks, `chunkDelayMs` apart (default 100 ms)
 *   die-mid-stream        two chunks, then the socket is destroyed
 *   hang                  never answers (a client going away shows in `abandonedRequests`)
 *   slow-complete         answers like any other model, after `completionDelayMs` (default 500 ms)
 *   malformed             200 with a body that is not JSON
 *
 * Any other model answers at once: "echo: <last user text>" (or a 20-chunk stream).
 */
export interface FakeRequest {
  body: Record<string, unknown>;
  headers: IncomingMessage['headers'];
}

const ACCEPTED = new Set([
  'model', 'messages', 'stream', 'stream_options', 'temperature', 'top_p', 'n', 'stop', 'max_tokens', 'max_completion_tokens',
  'presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs', 'top_logprobs', 'user', 'tools', 'tool_choice',
  'parallel_tool_calls', 'response_format', 'seed', 'service_tier', 'store', 'metadata', 'modalities', 'audio', 'prediction',
  'reasoning_effort', 'prompt_cache_key', 'safety_identifier', 'verbosity', 'web_search_options', 'functions', 'function_call',
]);
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);
const REASONING = /^(o\d|gpt-5)/;

export class FakeOpenAI {
  readonly requests: FakeRequest[] = [];
  /** Streams whose client went away before the stream ended. */
  readonly abandonedStreams: Array<{ model: string; at: number }> = [];
  /** Any request (streamed or not, `hang` included) whose connection closed before its answer was complete. */
  readonly abandonedRequests: Array<{ model: string; at: number }> = [];
  chunkDelayMs = 100;
  /** How long `slow-complete` waits before answering. */
  completionDelayMs = 500;
  streamChunks = 20;
  /** Requests received whose answer is not complete yet, and the most there ever were at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** Set to fail the next N requests with this status, whatever the model. */
  failNext: { count: number; status: number } | null = null;
  /** Upstream keys (the bearer sent) to refuse: e.g. 401 for a revoked key, 429 with a retry-after. */
  readonly keyFailures = new Map<string, { status: number; retryAfter?: string }>();
  private server: Server;
  private readonly sockets = new Set<import('node:net').Socket>();

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  callsFor(model: string): number {
    return this.requests.filter((r) => r.body.model === model).length;
  }

  /** Bodies of the `POST /v1/embeddings` calls received, in order. */
  readonly embeddingRequests: Array<Record<string, unknown>> = [];

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'POST' && req.url === '/v1/embeddings') return this.embeddings(req, res);
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return error(res, 404, `Unknown path ${req.url}`, 'invalid_request_error', null, 'unknown_url');
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? '')) {
      return error(res, 401, 'You didn\'t provide an API key.', 'invalid_request_error', null, 'invalid_api_key');
    }
    const body = await readJson<Record<string, unknown>>(req);
    if (body === undefined) return error(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
    this.requests.push({ body, headers: req.headers });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.once('close', () => this.inFlight--);
    res.on('close', () => {
      if (!res.writableFinished) this.abandonedRequests.push({ model: String(body.model), at: Date.now() });
    });
    const problem = validate(body);
    if (problem) return error(res, 400, problem.message, 'invalid_request_error', problem.param, problem.code);

    const bearer = (req.headers.authorization ?? '').slice('Bearer '.length);
    const keyFailure = this.keyFailures.get(bearer);
    if (keyFailure) {
      if (keyFailure.retryAfter !== undefined) res.setHeader('retry-after', keyFailure.retryAfter);
      const type = keyFailure.status === 429 ? 'rate_limit_error' : keyFailure.status === 401 ? 'invalid_request_error' : 'permission_error';
      // Echoes the key it refuses, as careless servers do: the gateway must not pass it on.
      return error(res, keyFailure.status, `The fake refuses key ${bearer} with ${keyFailure.status}`, type, null, keyFailure.status === 401 ? 'invalid_api_key' : null);
    }
    if (this.failNext && this.failNext.count > 0) {
      this.failNext.count--;
      return error(res, this.failNext.status, `Injected failure ${this.failNext.status}`, 'server_error');
    }
    const model = body.model as string;
    const status = /^error-(\d{3})$/.exec(model);
    if (status) {
      const code = Number(status[1]);
      if (code === 429) res.setHeader('retry-after', '0');
      return error(res, code, `The fake answers ${code} for ${model}`, code === 429 ? 'rate_limit_error' : code >= 500 ? 'server_error' : 'invalid_request_error');
    }
    if (model === 'context-length') {
      return error(res, 400, "This model's maximum context length is 128000 tokens.", 'invalid_request_error', 'messages', 'context_length_exceeded');
    }
    if (model === 'hang') return;
    if (model === 'slow-complete') await sleep(this.completionDelayMs);
    if (model === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end('{"id": "chatcmpl-broken", "choices": [');
    }
    const text = `echo: ${lastUserText(body.messages as Array<{ role: string; content: unknown }>)}`;
    const toolCalls = weatherCalls(body, text);
    if (body.stream === true) return this.stream(req, res, body, text, toolCalls);
    const completion = {
      id: `chatcmpl-${randomUUID()}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: `${model}-2024-08-06`,
      choices: [
        toolCalls
          ? { index: 0, message: { role: 'assistant', content: null, refusal: null, tool_calls: toolCalls }, logprobs: null, finish_reason: 'tool_calls' }
          : { index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' },
      ],
      usage: usage(body, text),
      system_fingerprint: 'fp_fake',
    };
    const json = JSON.stringify(completion);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }

  /**
   * `POST /v1/embeddings`, validated as OpenAI does; vectors are {@link bagOfWordsEmbedding}s
   * (`error-<status>` models fail as for chat).
   */
  private async embeddings(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? '')) {
      return error(res, 401, 'You didn\'t provide an API key.', 'invalid_request_error', null, 'invalid_api_key');
    }
    const body = await readJson<Record<string, unknown>>(req);
    if (body === undefined) return error(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
    this.embeddingRequests.push(body);
    const problem = validateEmbeddings(body);
    if (problem) return error(res, problem.status ?? 400, problem.message, 'invalid_request_error', problem.param, problem.code);
    const status = /^error-(\d{3})$/.exec(body.model as string);
    if (status) return error(res, Number(status[1]), `The fake answers ${status[1]} for ${body.model}`, Number(status[1]) >= 500 ? 'server_error' : 'invalid_request_error');
    const model = body.model as string;
    const inputs = typeof body.input === 'string' ? [body.input] : (body.input as unknown[]);
    const dims = (body.dimensions as number | undefined) ?? EMBEDDING_MODELS[model];
    const texts = inputs.map((x) => (typeof x === 'string' ? x : typeof x === 'number' ? `t${x}` : (x as number[]).map((t) => `t${t}`).join(' ')));
    const tokens = texts.reduce((sum, t) => sum + Math.max(1, Math.ceil(t.length / 4)), 0);
    const json = JSON.stringify({
      object: 'list',
      data: (typeof inputs[0] === 'number' ? [texts.join(' ')] : texts).map((t, index) => {
        const vector = bagOfWordsEmbedding(t, dims);
        return { object: 'embedding', index, embedding: body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector };
      }),
      model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }

  private async stream(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, text: string, toolCalls: ToolCall[] | null = null): Promise<void> {
    const model = body.model as string;
    const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: object, finish: string | null) =>
      JSON.stringify({
        id, object: 'chat.completion.chunk', created, model: `${model}-2024-08-06`, system_fingerprint: 'fp_fake',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...(includeUsage ? { usage: null } : {}),
      });
    let finished = false;
    res.on('close', () => {
      if (!finished) this.abandonedStreams.push({ model, at: Date.now() });
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const delay = model === 'slow-stream' ? this.chunkDelayMs : 0;
    const pieces = splitInto(text, this.streamChunks);
    res.write(`data: ${chunk({ role: 'assistant', content: toolCalls ? null : '' }, null)}\n\n`);
    if (toolCalls) {
      // As OpenAI streams them: each call's id and name first, then its arguments in pieces.
      for (const [index, call] of toolCalls.entries()) {
        res.write(`data: ${chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }, null)}\n\n`);
        for (const part of splitInto(call.function.arguments, 3)) res.write(`data: ${chunk({ tool_calls: [{ index, function: { arguments: part } }] }, null)}\n\n`);
      }
      pieces.length = 0;
    }
    for (let i = 0; i < pieces.length; i++) {
      if (delay) await sleep(delay);
      if (res.destroyed) return;
      if (model === 'die-mid-stream' && i === 2) {
        // Let the chunks already written leave first: the response stays corked until the
        // next tick, and destroying the socket at once would drop them with it.
        await sleep(20);
        req.socket.destroy();
        return;
      }
      res.write(`data: ${chunk({ content: pieces[i] }, null)}\n\n`);
    }
    res.write(`data: ${chunk({}, toolCalls ? 'tool_calls' : 'stop')}\n\n`);
    if (includeUsage) {
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: `${model}-2024-08-06`, choices: [], usage: usage(body, text) })}\n\n`);
    }
    finished = true;
    res.end('data: [DONE]\n\n');
  }
}

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** With tools and a last user message about the weather: two parallel calls of the first tool, for Paris and Tokyo. */
function weatherCalls(body: Record<string, unknown>, text: string): ToolCall[] | null {
  const tools = body.tools as Array<{ function?: { name?: string } }> | undefined;
  const messages = body.messages as Array<{ role?: string }>;
  // After the tool results come back, the model answers in text.
  if (!Array.isArray(tools) || !tools.length || !/weather/i.test(text) || body.tool_choice === 'none' || messages[messages.length - 1]?.role === 'tool') return null;
  const name = tools[0].function?.name ?? 'tool';
  return ['Paris', 'Tokyo'].map((city) => ({ id: `call_${city.toLowerCase()}`, type: 'function', function: { name, arguments: JSON.stringify({ city }) } }));
}

function validate(body: Record<string, unknown>): { message: string; param: string | null; code?: string } | null {
  for (const key of Object.keys(body)) {
    if (!ACCEPTED.has(key)) return { message: `Unrecognized request argument supplied: ${key}`, param: null, code: 'unknown_parameter' };
  }
  if (typeof body.model !== 'string') return { message: "you must provide a model parameter", param: 'model' };
  if (!Array.isArray(body.messages) || body.messages.length === 0) return { message: "'messages' must contain at least one message", param: 'messages' };
  for (const [i, m] of (body.messages as Array<Record<string, unknown>>).entries()) {
    if (!ROLES.has(m?.role as string)) return { message: `Invalid value for 'messages[${i}].role'`, param: `messages[${i}].role`, code: 'invalid_value' };
  }
  if (body.temperature !== undefined) {
    if (typeof body.temperature !== 'number' || body.temperature < 0 || body.temperature > 2) {
      return { message: `Invalid 'temperature': decimal above maximum value or below minimum.`, param: 'temperature', code: 'decimal_above_max_value' };
    }
    if (REASONING.test(body.model) && body.temperature !== 1) {
      return { message: `Unsupported value: 'temperature' does not support ${body.temperature} with this model. Only the default (1) value is supported.`, param: 'temperature', code: 'unsupported_value' };
    }
  }
  if (body.stream_options !== undefined && body.stream !== true) {
    return { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: 'stream_options', code: 'invalid_value' };
  }
  return null;
}

/** Embedding models the fake serves, with their native dimensions (`error-<status>` models fail). */
const EMBEDDING_MODELS: Record<string, number> = { 'text-embedding-3-small': 1536, 'text-embedding-3-large': 3072, 'text-embedding-ada-002': 1536 };
const EMBEDDING_FIELDS = new Set(['model', 'input', 'encoding_format', 'dimensions', 'user']);

function validateEmbeddings(body: Record<string, unknown>): { message: string; param: string | null; code?: string; status?: number } | null {
  for (const key of Object.keys(body)) {
    if (!EMBEDDING_FIELDS.has(key)) return { message: `Unrecognized request argument supplied: ${key}`, param: null, code: 'unknown_parameter' };
  }
  if (typeof body.model !== 'string') return { message: 'you must provide a model parameter', param: 'model' };
  if (/^error-\d{3}$/.test(body.model)) return null;
  const native = EMBEDDING_MODELS[body.model];
  if (!native) return { message: `The model \`${body.model}\` does not exist or you do not have access to it.`, param: null, code: 'model_not_found', status: 404 };
  const input = body.input;
  const isTokens = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && (t as number) >= 0);
  const valid =
    (typeof input === 'string' && input.length > 0) ||
    (Array.isArray(input) && input.length > 0 && input.length <= 2048 &&
      (input.every((x) => typeof x === 'string' && x.length > 0) || isTokens(input) || input.every(isTokens)));
  if (!valid) return { message: "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", param: null };
  if (body.encoding_format !== undefined && body.encoding_format !== 'float' && body.encoding_format !== 'base64') {
    return { message: `Invalid value for 'encoding_format': '${String(body.encoding_format)}'. Supported values are: 'float' and 'base64'.`, param: 'encoding_format', code: 'invalid_value' };
  }
  if (body.dimensions !== undefined) {
    if (!body.model.startsWith('text-embedding-3')) return { message: 'This model does not support specifying dimensions.', param: null };
    if (!Number.isInteger(body.dimensions) || (body.dimensions as number) < 1 || (body.dimensions as number) > native) {
      return { message: `Invalid value for 'dimensions' = ${String(body.dimensions)}. Must be between 1 and ${native}.`, param: 'dimensions', code: 'invalid_value' };
    }
  }
  return null;
}

/**
 * A deterministic stand-in for a semantic embedding: each lower-cased word is hashed into one
 * of `dims` buckets (with a hashed sign), and the vector is L2-normalised. Texts that share most
 * words (paraphrases) have a cosine similarity near 1; texts with different words near 0.
 */
export function bagOfWordsEmbedding(text: string, dims = 64): number[] {
  const vector = new Array<number>(dims).fill(0);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619) >>> 0;
    vector[h % dims] += (h >>> 16) & 1 ? 1 : -1;
  }
  const norm = Math.hypot(...vector);
  // A text without words still gets a unit vector: the first axis.
  if (norm === 0) vector[0] = 1;
  return norm === 0 ? vector : vector.map((v) => v / norm);
}

function error(res: ServerResponse, status: number, message: string, type: string, param: string | null = null, code: string | null = null): void {
  const json = JSON.stringify({ error: { message, type, param, code } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

function lastUserText(messages: Array<{ role: string; content: unknown }>): string {
  const last = [...messages].reverse().find((m) => m.role === 'user');
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  return (last.content as Array<{ type: string; text?: string }>).filter((p) => p.type === 'text').map((p) => p.text).join(' ');
}

/**
 * Rough token counts (4 characters a token), deterministic so tests can check them. A prompt of
 * 1024 tokens or more reports its first 1024 tokens plus whole 128-token blocks as read from the
 * prompt cache (`prompt_tokens_details.cached_tokens`), as if an earlier request had warmed it;
 * a reasoning model reports 16 reasoning tokens (`completion_tokens_details.reasoning_tokens`,
 * counted in `completion_tokens`).
 */
function usage(body: Record<string, unknown>, text: string) {
  const prompt = Math.max(1, Math.ceil(JSON.stringify(body.messages).length / 4));
  const reasoning = REASONING.test(String(body.model)) ? 16 : 0;
  const completion = Math.max(1, Math.ceil(text.length / 4)) + reasoning;
  const cached = prompt >= 1024 ? 1024 + Math.floor((prompt - 1024) / 128) * 128 : 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached },
    ...(reasoning ? { completion_tokens_details: { reasoning_tokens: reasoning } } : {}),
  };
}

function splitInto(text: string, n: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  while (out.length < n) out.push('');
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The request checks and the chunking, for fakes serving the same wire format (the benchmark's). */
export { validate as validateOpenAIRequest, splitInto };

import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { bagOfWordsEmbedding } from './fake-openai';
import { readJson } from './fake-http';

/**
 * A fake Cohere v2 Chat API (`POST /v2/chat`) over real HTTP, rejecting what the real API
 * rejects (no bearer key, unknown fields, empty messages, unknown roles, tool messages
 * without `tool_call_id`, a temperature outside 0..1). Answers:
 *
 *   error-<status>   that status with Cohere's `{"message": ...}` body (429 adds retry-after: 0)
 *   tools given and the last user text contains "weather": two parallel `get_weather`-style calls
 *   anything else: "echo: <last user text>" (plus " [n image(s)]" when the last user message has images)
 *
 * `stream: true` answers with Cohere's SSE events (message-start ... message-end).
 */
export interface FakeCohereRequest {
  body: Record<string, unknown>;
  headers: IncomingMessage['headers'];
}

const ACCEPTED = new Set([
  'model', 'messages', 'stream', 'tools', 'documents', 'citation_options', 'response_format', 'safety_mode', 'max_tokens',
  'stop_sequences', 'temperature', 'seed', 'frequency_penalty', 'presence_penalty', 'k', 'p', 'logprobs', 'tool_choice',
  'strict_tools', 'thinking',
]);
const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

type Msg = { role?: string; content?: unknown; tool_call_id?: unknown; tool_calls?: unknown };

export class FakeCohere {
  readonly requests: FakeCohereRequest[] = [];
  private server: Server;
  private readonly sockets = new Set<Socket>();

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v2`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get last(): Record<string, unknown> {
    return this.requests[this.requests.length - 1].body;
  }

  /** Bodies of the `POST /v2/embed` calls received. */
  readonly embeddingRequests: Array<Record<string, unknown>> = [];

  private async embed(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? '')) return fail(res, 401, 'no api key supplied');
    const body = await readJson<Record<string, unknown>>(req);
    if (body === undefined) return fail(res, 400, 'invalid request: could not parse JSON body');
    this.embeddingRequests.push(body);
    const model = String(body.model);
    const status = /^error-(\d{3})$/.exec(model);
    if (status) return fail(res, Number(status[1]), `fake cohere answers ${status[1]} for ${model}`);
    const problem = validateCohereEmbed(body, model);
    if (problem) return fail(res, problem.status, problem.message);
    const json = JSON.stringify(cohereEmbedAnswer(body, model));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'POST' && req.url === '/v2/embed') return this.embed(req, res);
    if (req.method !== 'POST' || req.url !== '/v2/chat') return fail(res, 404, `Not found: ${req.url}`);
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? '')) return fail(res, 401, 'no api key supplied');
    const body = await readJson<Record<string, unknown>>(req);
    if (body === undefined) return fail(res, 400, 'invalid request: could not parse JSON body');
    this.requests.push({ body, headers: req.headers });
    const problem = validate(body);
    if (problem) return fail(res, 400, problem);

    const model = body.model as string;
    const status = /^error-(\d{3})$/.exec(model);
    if (status) {
      const code = Number(status[1]);
      if (code === 429) res.setHeader('retry-after', '0');
      return fail(res, code, `fake cohere answers ${code} for ${model}`);
    }

    const messages = body.messages as Msg[];
    const lastUser = [...messages].reverse().find((m) => m.role === 'user');
    const { text: userText, images } = describe(lastUser?.content);
    const tools = body.tools as Array<{ function: { name: string } }> | undefined;
    const callTools = !!tools?.length && /weather/i.test(userText) && body.tool_choice !== 'NONE';
    const text = `echo: ${userText}${images ? ` [${images} image${images > 1 ? 's' : ''}]` : ''}`;
    const toolName = tools?.[0]?.function.name ?? 'get_weather';
    const calls = callTools
      ? ['Paris', 'London'].map((city) => ({ id: `${toolName}_${randomUUID().slice(0, 8)}`, type: 'function', function: { name: toolName, arguments: JSON.stringify({ city }) } }))
      : [];
    const usage = {
      billed_units: { input_tokens: countTokens(JSON.stringify(messages)), output_tokens: countTokens(text) },
      tokens: { input_tokens: countTokens(JSON.stringify(messages)) + 10, output_tokens: countTokens(text) + 1 },
      cached_tokens: 4,
    };
    const finish = callTools ? 'TOOL_CALL' : 'COMPLETE';
    const id = randomUUID();

    if (body.stream !== true) {
      const message = callTools
        ? { role: 'assistant', tool_plan: 'I will look up the weather in both cities.', tool_calls: calls }
        : { role: 'assistant', content: [{ type: 'text', text }] };
      const json = JSON.stringify({ id, message, finish_reason: finish, usage });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      return void res.end(json);
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (event: Record<string, unknown>) => res.write(`event: ${event.type as string}\ndata: ${JSON.stringify(event)}\n\n`);
    send({ type: 'message-start', id, delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } } });
    if (callTools) {
      for (const piece of ['I will look up ', 'the weather.']) send({ type: 'tool-plan-delta', delta: { message: { tool_plan: piece } } });
      calls.forEach((call, index) => {
        send({ type: 'tool-call-start', index, delta: { message: { tool_calls: { id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } } } } });
        const args = call.function.arguments;
        const half = Math.floor(args.length / 2);
        for (const piece of [args.slice(0, half), args.slice(half)]) send({ type: 'tool-call-delta', index, delta: { message: { tool_calls: { function: { arguments: piece } } } } });
        send({ type: 'tool-call-end', index });
      });
    } else {
      send({ type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } });
      for (const piece of text.match(/.{1,4}/gs) ?? []) send({ type: 'content-delta', index: 0, delta: { message: { content: { text: piece } } } });
      send({ type: 'content-end', index: 0 });
    }
    send({ type: 'message-end', delta: { finish_reason: finish, usage } });
    res.end();
  }
}

/** Cohere embed models the fake serves, with their native dimensions and the output_dimension values they take. */
const COHERE_EMBED_MODELS: Record<string, { dims: number; shorter: number[] }> = {
  'embed-v4.0': { dims: 1536, shorter: [256, 512, 1024, 1536] },
  'embed-english-v3.0': { dims: 1024, shorter: [] },
  'embed-multilingual-v3.0': { dims: 1024, shorter: [] },
};
const INPUT_TYPES = new Set(['search_document', 'search_query', 'classification', 'clustering', 'image']);
const EMBEDDING_TYPES = new Set(['float', 'int8', 'uint8', 'binary', 'ubinary', 'base64']);
const EMBED_FIELDS = new Set(['model', 'texts', 'images', 'inputs', 'input_type', 'embedding_types', 'output_dimension', 'max_tokens', 'truncate']);

/**
 * Checks an embed body as Cohere does (`texts` 1..96, `input_type` required, float-compatible
 * `embedding_types`, `output_dimension` only where the model has it). `model` is the model
 * addressed (the body's, or Bedrock's model id mapped to Cohere's name).
 */
export function validateCohereEmbed(body: Record<string, unknown>, model: string, fields = EMBED_FIELDS): { status: number; message: string } | null {
  for (const key of Object.keys(body)) if (!fields.has(key)) return { status: 400, message: `invalid request: unknown field: parameter '${key}' is not a valid field` };
  const spec = COHERE_EMBED_MODELS[model];
  if (!spec) return { status: 404, message: `model '${model}' not found, make sure the correct model ID was used and that you have access to the model.` };
  const texts = body.texts;
  if (!Array.isArray(texts) || texts.length === 0 || texts.some((t) => typeof t !== 'string')) return { status: 400, message: 'invalid request: texts must be a non-empty list of strings.' };
  if (texts.length > 96) return { status: 400, message: `invalid request: total number of texts must be at most 96 - received ${texts.length}` };
  if (!INPUT_TYPES.has(body.input_type as string)) return { status: 400, message: "invalid request: valid input_type must be provided with the provided model" };
  const types = body.embedding_types;
  if (types !== undefined && (!Array.isArray(types) || types.some((t) => !EMBEDDING_TYPES.has(t as string)))) return { status: 400, message: 'invalid request: embedding_types must be one or more of float, int8, uint8, binary, ubinary, base64' };
  if (body.output_dimension !== undefined && !spec.shorter.includes(body.output_dimension as number)) {
    return { status: 400, message: `invalid request: output_dimension ${String(body.output_dimension)} is not supported by ${model}` };
  }
  return null;
}

/** Cohere's embed answer for a valid body: bag-of-words vectors by type, and billed input tokens (4 characters a token). */
export function cohereEmbedAnswer(body: Record<string, unknown>, model: string): { embeddings: { float: number[][] }; texts: string[]; meta: { billed_units: { input_tokens: number } }; response_type: string; id: string } {
  const texts = body.texts as string[];
  const dims = (body.output_dimension as number | undefined) ?? COHERE_EMBED_MODELS[model].dims;
  return {
    id: 'emb-fake',
    response_type: 'embeddings_by_type',
    embeddings: { float: texts.map((t) => bagOfWordsEmbedding(t, dims)) },
    texts,
    meta: { billed_units: { input_tokens: texts.reduce((sum, t) => sum + Math.max(1, Math.ceil(t.length / 4)), 0) } },
  };
}

function fail(res: ServerResponse, status: number, message: string): void {
  const json = JSON.stringify({ message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

function validate(body: Record<string, unknown>): string | null {
  for (const key of Object.keys(body)) if (!ACCEPTED.has(key)) return `invalid request: unknown field: parameter ${key} is not a valid field`;
  if (typeof body.model !== 'string' || !body.model) return 'invalid request: model must be a string';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'invalid request: messages cannot be empty';
  for (const [i, m] of (body.messages as Msg[]).entries()) {
    if (!ROLES.has(m?.role as string)) return `invalid request: messages[${i}].role must be one of system, user, assistant, tool`;
    if (m.role === 'tool' && (typeof m.tool_call_id !== 'string' || !m.tool_call_id)) return `invalid request: messages[${i}].tool_call_id is required`;
    if (m.role === 'user' && m.content === undefined) return `invalid request: messages[${i}].content is required`;
  }
  if (body.temperature !== undefined && (typeof body.temperature !== 'number' || body.temperature < 0 || body.temperature > 1)) {
    return 'invalid request: temperature must be between 0 and 1';
  }
  if (body.p !== undefined && (typeof body.p !== 'number' || body.p < 0.01 || body.p > 0.99)) return 'invalid request: p must be between 0.01 and 0.99';
  for (const key of ['frequency_penalty', 'presence_penalty']) {
    const v = body[key];
    if (v !== undefined && (typeof v !== 'number' || v < 0 || v > 1)) return `invalid request: ${key} must be between 0 and 1`;
  }
  if (body.tool_choice !== undefined && body.tool_choice !== 'REQUIRED' && body.tool_choice !== 'NONE') return 'invalid request: tool_choice must be REQUIRED or NONE';
  if (body.stop_sequences !== undefined && !Array.isArray(body.stop_sequences)) return 'invalid request: stop_sequences must be an array';
  return null;
}

function describe(content: unknown): { text: string; images: number } {
  if (typeof content === 'string') return { text: content, images: 0 };
  if (!Array.isArray(content)) return { text: '', images: 0 };
  const parts = content as Array<{ type: string; text?: string; image_url?: { url?: string } }>;
  return {
    text: parts.filter((p) => p.type === 'text').map((p) => p.text ?? '').join(' '),
    images: parts.filter((p) => p.type === 'image_url' && typeof p.image_url?.url === 'string').length,
  };
}

function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** The request checks, for other fakes of the same API (the benchmark's). */
export { validate as validateCohereRequest };

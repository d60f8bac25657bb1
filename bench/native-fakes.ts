/**
 * One fake upstream answering the streaming chat endpoint of every provider TokenHub
 * speaks, each in that provider's own wire format, all with the same content: the text
 * "echo: <last user text>" cut into the same 20 pieces (`splitInto` of the OpenAI fake), one
 * per content event, so that between providers only the framing differs. Requests are
 * checked with the test fakes' validators (what the real API refuses is refused here);
 * signatures and tokens are only checked for presence (Bedrock's SigV4 is not recomputed).
 *
 *   POST /v1/chat/completions                                        OpenAI SSE
 *   POST /openai/deployments/{d}/chat/completions?api-version=…       Azure OpenAI (OpenAI SSE)
 *   POST /v1/messages                                                Anthropic Messages SSE
 *   POST /v1beta/models/{m}:streamGenerateContent?alt=sse            Gemini SSE
 *   POST /v2/chat                                                    Cohere v2 chat SSE
 *   POST /model/{id}/converse-stream                                 Bedrock ConverseStream (binary event stream)
 *   POST /vertex/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:streamGenerateContent?alt=sse
 *   GET  /_bench/connections                                         {"connections": n}, TCP connections accepted so far
 *
 * With BENCH_TTFB_FIRST_GAP_MS set, each answer pauses that long after its first content piece
 * (see `send`). Usage: `node --import tsx bench/native-fakes.ts [port]`; prints `NATIVE_FAKE_URL=http://127.0.0.1:PORT`
 * once listening; stops on SIGTERM/SIGINT or when stdin closes.
 */
import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeEventStreamMessage } from '../libs/providers/src/bedrock/event-stream';
import { validateAnthropicRequest } from '../test/fakes/fake-anthropic';
import { validateBedrockRequest } from '../test/fakes/fake-bedrock';
import { validateCohereRequest } from '../test/fakes/fake-cohere';
import { validateGeminiRequest } from '../test/fakes/fake-gemini';
import { splitInto, validateOpenAIRequest } from '../test/fakes/fake-openai';
import { readJson } from '../test/fakes/fake-http';

/** Content events per answer, as the OpenAI fake streams. */
export const STREAM_PIECES = 20;
export const VERTEX_PROJECT = 'bench-project';
export const VERTEX_LOCATION = 'us-central1';
export const VERTEX_TOKEN = 'ya29.bench-token';

type Json = Record<string, any>;

function fail(res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), ...headers });
  res.end(json);
}

const googleError = (res: ServerResponse, status: number, message: string) =>
  fail(res, status, { error: { code: status, message, status: status === 400 ? 'INVALID_ARGUMENT' : status === 401 ? 'UNAUTHENTICATED' : 'NOT_FOUND' } });

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p: Json) => (typeof p?.text === 'string' ? p.text : '')).join(' ');
}

/** The 20 pieces of "echo: <text>", the same for every wire format. */
const piecesOf = (userText: string) => splitInto(`echo: ${userText}`, STREAM_PIECES);

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

/** An answer: its headers, its frames in order, and which frame carries the first content piece. */
interface Stream {
  headers: Record<string, string>;
  frames: Array<string | Buffer>;
  firstContent: number;
}

/**
 * Writes a stream: everything up to the first content piece at once, then, after
 * `firstGapMs` (0: at once), the rest, so that the first piece travels alone as it does
 * from a real model, and time to first byte does not include the rest of the stream.
 */
async function send(res: ServerResponse, stream: Stream, firstGapMs: number): Promise<void> {
  res.writeHead(200, stream.headers);
  for (const frame of stream.frames.slice(0, stream.firstContent + 1)) res.write(frame);
  if (firstGapMs > 0) await new Promise((r) => setTimeout(r, firstGapMs));
  if (res.destroyed) return;
  for (const frame of stream.frames.slice(stream.firstContent + 1)) res.write(frame);
  res.end();
}

function openai(body: Json, model: string): Stream {
  const lastUser = [...(body.messages as Json[])].reverse().find((m) => m.role === 'user');
  const pieces = piecesOf(textOf(lastUser?.content));
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const includeUsage = body.stream_options?.include_usage === true;
  const chunk = (delta: Json, finish: string | null) =>
    `data: ${JSON.stringify({
      id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    })}\n\n`;
  const frames = [chunk({ role: 'assistant', content: '' }, null), ...pieces.map((content) => chunk({ content }, null)), chunk({}, 'stop')];
  if (includeUsage) {
    frames.push(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: 9, completion_tokens: 30, total_tokens: 39 } })}\n\n`);
  }
  frames.push('data: [DONE]\n\n');
  return { headers: SSE_HEADERS, frames, firstContent: 1 };
}

function anthropic(body: Json): Stream {
  const lastUser = [...(body.messages as Json[])].reverse().find((m) => m.role === 'user');
  const pieces = piecesOf(textOf(lastUser?.content));
  const event = (type: string, data: Json) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const usage = { input_tokens: 9, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 1 };
  const frames = [
    event('message_start', { message: { id: `msg_${randomUUID().replace(/-/g, '').slice(0, 24)}`, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage } }),
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    event('ping', {}),
    ...pieces.map((text) => event('content_block_delta', { index: 0, delta: { type: 'text_delta', text } })),
    event('content_block_stop', { index: 0 }),
    event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 30 } }),
    event('message_stop', {}),
  ];
  return { headers: SSE_HEADERS, frames, firstContent: 3 };
}

/** Gemini's stream, on the Gemini API and on Vertex AI alike. */
function gemini(body: Json, model: string): Stream {
  const lastUser = [...(body.contents as Json[])].reverse().find((c) => c.role === 'user');
  const pieces = piecesOf(textOf(lastUser?.parts));
  const frames = pieces.map((text, i) => {
    const last = i === pieces.length - 1;
    const event = {
      candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0, ...(last ? { finishReason: 'STOP' } : {}) }],
      usageMetadata: last ? { promptTokenCount: 9, candidatesTokenCount: 30, totalTokenCount: 39 } : { promptTokenCount: 9, totalTokenCount: 9 },
      modelVersion: model,
    };
    return `data: ${JSON.stringify(event)}\r\n\r\n`;
  });
  return { headers: SSE_HEADERS, frames, firstContent: 0 };
}

function cohere(body: Json): Stream {
  const lastUser = [...(body.messages as Json[])].reverse().find((m) => m.role === 'user');
  const pieces = piecesOf(textOf(lastUser?.content));
  const event = (e: Json) => `event: ${e.type as string}\ndata: ${JSON.stringify(e)}\n\n`;
  const usage = { billed_units: { input_tokens: 9, output_tokens: 30 }, tokens: { input_tokens: 19, output_tokens: 31 } };
  const frames = [
    event({ type: 'message-start', id: randomUUID(), delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } } }),
    event({ type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } }),
    ...pieces.map((text) => event({ type: 'content-delta', index: 0, delta: { message: { content: { text } } } })),
    event({ type: 'content-end', index: 0 }),
    event({ type: 'message-end', delta: { finish_reason: 'COMPLETE', usage } }),
  ];
  return { headers: SSE_HEADERS, frames, firstContent: 2 };
}

function bedrock(body: Json): Stream {
  const lastUser = [...(body.messages as Json[])].reverse().find((m) => m.role === 'user');
  const pieces = piecesOf(textOf(lastUser?.content));
  const event = (eventType: string, data: Json) =>
    encodeEventStreamMessage({ ':event-type': eventType, ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify({ ...data, p: 'abcdefgh' }));
  const frames = [
    event('messageStart', { role: 'assistant' }),
    ...pieces.map((text) => event('contentBlockDelta', { contentBlockIndex: 0, delta: { text } })),
    event('contentBlockStop', { contentBlockIndex: 0 }),
    event('messageStop', { stopReason: 'end_turn' }),
    event('metadata', { usage: { inputTokens: 9, outputTokens: 30, totalTokens: 39 }, metrics: { latencyMs: 1 } }),
  ];
  return { headers: { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': randomUUID() }, frames, firstContent: 1 };
}

/** TCP connections accepted so far: how well callers reuse keep-alive connections. */
let connections = 0;

async function handle(req: IncomingMessage, res: ServerResponse, firstGapMs: number): Promise<void> {
  if (req.method === 'GET' && req.url === '/_bench/connections') return fail(res, 200, { connections });
  const body = await readJson<Json>(req);
  const url = new URL(req.url ?? '/', 'http://fake');
  if (req.method !== 'POST') return fail(res, 405, { error: { message: `Unsupported method ${req.method}` } });
  if (body === undefined) return fail(res, 400, { error: { message: 'invalid JSON' } });
  const path = url.pathname;
  let m: RegExpExecArray | null;

  if (path === '/v1/chat/completions') {
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? '')) return fail(res, 401, { error: { message: "You didn't provide an API key.", type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    const problem = validateOpenAIRequest(body);
    if (problem) return fail(res, 400, { error: { message: problem.message, type: 'invalid_request_error', param: problem.param, code: problem.code ?? null } });
    if (body.stream !== true) return fail(res, 400, { error: { message: 'this fake only streams', type: 'invalid_request_error', param: 'stream', code: null } });
    return send(res, openai(body, `${body.model}-2024-08-06`), firstGapMs);
  }
  if ((m = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(path))) {
    if (!req.headers['api-key'] && !/^Bearer \S+$/.test(req.headers.authorization ?? '')) return fail(res, 401, { error: { code: '401', message: 'Access denied due to invalid subscription key.' } });
    if (!url.searchParams.get('api-version')) return fail(res, 400, { error: { code: 'BadRequest', message: 'Missing required query parameter: api-version' } });
    const deployment = decodeURIComponent(m[1]);
    const problem = validateOpenAIRequest({ ...body, model: deployment });
    if (problem) return fail(res, 400, { error: { code: 'BadRequest', message: problem.message } });
    return send(res, openai(body, deployment), firstGapMs);
  }
  if (path === '/v1/messages') {
    if (!req.headers['x-api-key']) return fail(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' } });
    if (req.headers['anthropic-version'] !== '2023-06-01') return fail(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version header is required' } });
    const problem = validateAnthropicRequest(body);
    if (problem) return fail(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: problem } });
    if (body.stream !== true) return fail(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'this fake only streams' } });
    return send(res, anthropic(body), firstGapMs);
  }
  if ((m = /^\/v1beta\/models\/([^/:]+):streamGenerateContent$/.exec(path))) {
    if (!req.headers['x-goog-api-key']) return googleError(res, 403, 'Method doesn\'t allow unregistered callers.');
    if (url.searchParams.get('alt') !== 'sse') return googleError(res, 400, 'This fake only streams with alt=sse');
    const problem = validateGeminiRequest(body);
    if (problem) return googleError(res, 400, problem);
    return send(res, gemini(body, decodeURIComponent(m[1])), firstGapMs);
  }
  if ((m = new RegExp(`^/vertex/v1/projects/${VERTEX_PROJECT}/locations/${VERTEX_LOCATION}/publishers/google/models/([^/:]+):streamGenerateContent$`).exec(path))) {
    if (req.headers.authorization !== `Bearer ${VERTEX_TOKEN}`) return googleError(res, 401, 'Request had invalid authentication credentials. Expected OAuth 2 access token.');
    if (url.searchParams.get('alt') !== 'sse') return googleError(res, 400, 'This fake only streams with alt=sse');
    const problem = validateGeminiRequest(body);
    if (problem) return googleError(res, 400, problem);
    return send(res, gemini(body, decodeURIComponent(m[1])), firstGapMs);
  }
  if (path === '/v2/chat') {
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? '')) return fail(res, 401, { message: 'no api key supplied' });
    const problem = validateCohereRequest(body);
    if (problem) return fail(res, 400, { message: problem });
    if (body.stream !== true) return fail(res, 400, { message: 'this fake only streams' });
    return send(res, cohere(body), firstGapMs);
  }
  if ((m = /^\/model\/([^/]+)\/converse-stream$/.exec(path))) {
    const bedrockError = (status: number, type: string, message: string) => fail(res, status, { message }, { 'x-amzn-errortype': type });
    if (!(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) return bedrockError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
    const problem = validateBedrockRequest(body);
    if (problem) return bedrockError(400, 'ValidationException', problem);
    return send(res, bedrock(body), firstGapMs);
  }
  return fail(res, 404, { error: { message: `Unknown path ${path}` } });
}

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? 0);
  const firstGapMs = Number(process.env.BENCH_TTFB_FIRST_GAP_MS ?? 0);
  if (!Number.isFinite(firstGapMs) || firstGapMs < 0) throw new Error(`BENCH_TTFB_FIRST_GAP_MS must be a number of milliseconds >= 0, got "${process.env.BENCH_TTFB_FIRST_GAP_MS}"`);
  const server = createServer((req, res) => {
    handle(req, res, firstGapMs).catch((err: unknown) => {
      process.stderr.write(`native fake: ${(err as Error)?.stack ?? String(err)}\n`);
      if (!res.headersSent) fail(res, 500, { error: { message: 'fake failure' } });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(Number.isInteger(port) ? port : 0, '127.0.0.1', resolve));
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 3_000).unref();
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.stdout.write(`NATIVE_FAKE_URL=http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`native fake failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}

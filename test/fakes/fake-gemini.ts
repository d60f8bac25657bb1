import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { bagOfWordsEmbedding } from './fake-openai';
import { readJson } from './fake-http';

/**
 * A fake of Google's Gemini API (v1beta `generateContent` and `streamGenerateContent?alt=sse`)
 * over real HTTP, refusing what the real API refuses (no `x-goog-api-key`, empty `contents`,
 * roles other than user/model, empty `parts`, a system role inside `contents`, a temperature
 * outside 0..2). Model names steer failures:
 *
 *   error-<status>   answers that status with a Gemini error body
 *
 * Otherwise it answers "echo: <last user text>"; with tools, when the last user text
 * mentions "weather", two parallel `functionCall`s (get_weather for Paris and for London).
 */
export interface FakeGeminiRequest {
  model: string;
  method: string;
  stream: boolean;
  body: Record<string, any>;
  headers: IncomingMessage['headers'];
}

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

export class FakeGemini {
  readonly requests: FakeGeminiRequest[] = [];
  private server: Server;
  private readonly sockets = new Set<Socket>();

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1beta`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get last(): FakeGeminiRequest {
    return this.requests[this.requests.length - 1];
  }

  /** Bodies of the `batchEmbedContents` calls received, with the model of their URL. */
  readonly embeddingRequests: Array<{ model: string; body: Record<string, any> }> = [];

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const embed = /^\/v1beta\/models\/([^/:]+):batchEmbedContents$/.exec(url.pathname);
    if (req.method === 'POST' && embed) return this.embeddings(req, res, decodeURIComponent(embed[1]));
    const match = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) return error(res, 404, `Unknown path ${url.pathname}`);
    const key = req.headers['x-goog-api-key'];
    if (!key) return error(res, 403, 'Method doesn\'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.');
    if (key === 'bad-key') {
      return error(res, 400, 'API key not valid. Please pass a valid API key.', [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }]);
    }
    const body = await readJson<Record<string, any>>(req);
    if (body === undefined) return error(res, 400, 'Invalid JSON payload received.');
    const model = decodeURIComponent(match[1]);
    const stream = match[2] === 'streamGenerateContent';
    this.requests.push({ model, method: match[2], stream, body, headers: req.headers });
    if (stream && url.searchParams.get('alt') !== 'sse') return error(res, 400, 'This fake only streams with alt=sse');
    const problem = validate(body);
    if (problem) return error(res, 400, problem);
    const failure = /^error-(\d{3})$/.exec(model);
    if (failure) {
      const status = Number(failure[1]);
      return error(res, status, `The fake answers ${status} for ${model}`);
    }

    writeGeminiAnswer(res, body, model, stream);
  }

  /**
   * `models/{model}:batchEmbedContents`: at most 100 requests, each naming the URL's model,
   * with text parts; vectors are bag-of-words embeddings (see `bagOfWordsEmbedding`).
   */
  private async embeddings(req: IncomingMessage, res: ServerResponse, model: string): Promise<void> {
    if (!req.headers['x-goog-api-key']) return error(res, 403, 'Method doesn\'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.');
    const body = await readJson<Record<string, any>>(req);
    if (body === undefined) return error(res, 400, 'Invalid JSON payload received.');
    this.embeddingRequests.push({ model, body });
    const failure = /^error-(\d{3})$/.exec(model);
    if (failure) return error(res, Number(failure[1]), `The fake answers ${failure[1]} for ${model}`);
    const native = GEMINI_EMBEDDING_MODELS[model];
    if (!native) return error(res, 404, `models/${model} is not found for API version v1beta, or is not supported for embedContent.`);
    const problem = validateBatchEmbed(body, model, native);
    if (problem) return error(res, 400, problem);
    const embeddings = (body.requests as Array<Record<string, any>>).map((r) => ({
      values: bagOfWordsEmbedding((r.content.parts as Array<{ text: string }>).map((p) => p.text).join(' '), r.outputDimensionality ?? native),
    }));
    const json = JSON.stringify({ embeddings });
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }
}

/** Gemini API embedding models and their native dimensions. */
const GEMINI_EMBEDDING_MODELS: Record<string, number> = { 'gemini-embedding-001': 3072, 'text-embedding-004': 768 };
const EMBED_REQUEST_FIELDS = new Set(['model', 'content', 'taskType', 'title', 'outputDimensionality']);

function validateBatchEmbed(body: Record<string, any>, model: string, native: number): string | null {
  for (const key of Object.keys(body)) if (key !== 'requests') return `Invalid JSON payload received. Unknown name "${key}": Cannot find field.`;
  const requests = body.requests;
  if (!Array.isArray(requests) || requests.length === 0) return '* BatchEmbedContentsRequest.requests: contents is not specified';
  if (requests.length > 100) return '* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch';
  for (const [i, r] of requests.entries()) {
    for (const key of Object.keys(r ?? {})) if (!EMBED_REQUEST_FIELDS.has(key)) return `Invalid JSON payload received. Unknown name "${key}" at 'requests[${i}]': Cannot find field.`;
    if (r.model !== `models/${model}`) return `* BatchEmbedContentsRequest.requests[${i}].model: model in the request (${r.model}) does not match the model of the batch (models/${model})`;
    const parts = r.content?.parts;
    if (!Array.isArray(parts) || parts.length === 0 || parts.some((p: any) => typeof p?.text !== 'string')) return `* BatchEmbedContentsRequest.requests[${i}].content.parts: contents is not specified`;
    const dims = r.outputDimensionality;
    if (dims !== undefined && (!Number.isInteger(dims) || dims < 1 || dims > native)) return `* BatchEmbedContentsRequest.requests[${i}].output_dimensionality: must be between 1 and ${native}`;
  }
  return null;
}

/**
 * Answers a valid request as Gemini does (`generateContent` JSON, or `alt=sse` events): the echo,
 * the two parallel `functionCall`s, or the tool-results acknowledgement described above.
 * Shared with fakes of other platforms serving the same wire format (Vertex AI).
 */
export function writeGeminiAnswer(res: ServerResponse, body: Record<string, any>, model: string, stream: boolean): void {
  const lastUser = [...body.contents].reverse().find((c: any) => c.role === 'user' && c.parts.some((p: any) => typeof p.text === 'string'));
  const userText = (lastUser?.parts ?? []).filter((p: any) => typeof p.text === 'string').map((p: any) => p.text).join(' ');
  const hasTools = Array.isArray(body.tools) && body.tools.some((t: any) => t.functionDeclarations?.length);
  const lastContent = body.contents[body.contents.length - 1];
  const answeringTools = lastContent.parts.some((p: any) => p.functionResponse);
  const prompt = Math.max(1, Math.ceil(JSON.stringify(body.contents).length / 4));
  let parts: any[];
  if (hasTools && !answeringTools && /weather/i.test(userText)) {
    const name = body.tools[0].functionDeclarations[0].name;
    parts = [{ functionCall: { name, args: { city: 'Paris' } } }, { functionCall: { name, args: { city: 'London' } } }];
  } else if (answeringTools) {
    const names = lastContent.parts.filter((p: any) => p.functionResponse).map((p: any) => p.functionResponse.name);
    parts = [{ text: `tool results received: ${names.join(', ')}` }];
  } else {
    const images = body.contents.flatMap((c: any) => c.parts).filter((p: any) => p.inlineData || p.fileData);
    const seen = images.map((p: any) => (p.inlineData ? `inline ${p.inlineData.mimeType}` : `file ${p.fileData.mimeType}`));
    parts = [{ text: `echo: ${userText}${seen.length ? ` [${seen.join('; ')}]` : ''}` }];
  }
  const text = parts.map((p) => p.text ?? '').join('');
  const candidates = Math.max(1, body.generationConfig?.candidateCount ?? 1);
  const completion = Math.max(1, Math.ceil((text.length || 20) / 4));
  const usageMetadata = {
    promptTokenCount: prompt,
    candidatesTokenCount: completion * candidates,
    thoughtsTokenCount: 3,
    cachedContentTokenCount: 2,
    totalTokenCount: prompt + completion * candidates + 3,
  };
  const modelVersion = model;
  if (!stream) {
    const json = JSON.stringify({
      candidates: Array.from({ length: candidates }, (_, index) => ({ content: { role: 'model', parts }, finishReason: 'STOP', index })),
      usageMetadata,
      modelVersion,
      responseId: `resp-${Date.now()}`,
    });
    res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(json) });
    return void res.end(json);
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const events: any[] = [];
  if (parts[0].text !== undefined) {
    const pieces = text.match(/.{1,6}/gs) ?? [''];
    pieces.forEach((piece, i) =>
      events.push({
        candidates: [{ content: { role: 'model', parts: [{ text: piece }] }, index: 0, ...(i === pieces.length - 1 ? { finishReason: 'STOP' } : {}) }],
        usageMetadata: i === pieces.length - 1 ? usageMetadata : { promptTokenCount: prompt, totalTokenCount: prompt },
        modelVersion,
      }),
    );
  } else {
    events.push({ candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }], usageMetadata, modelVersion });
  }
  for (const e of events) res.write(`data: ${JSON.stringify(e)}\r\n\r\n`);
  res.end();
}

function validate(body: Record<string, any>): string | null {
  if (!Array.isArray(body.contents) || body.contents.length === 0) return '* GenerateContentRequest.contents: contents is not specified';
  for (const [i, c] of body.contents.entries()) {
    if (c.role !== 'user' && c.role !== 'model') return `Please use a valid role: user, model. (contents[${i}].role = ${c.role})`;
    if (!Array.isArray(c.parts) || c.parts.length === 0) return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`;
    for (const p of c.parts) {
      const kinds = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse'].filter((k) => p[k] !== undefined);
      if (kinds.length !== 1) return `* GenerateContentRequest.contents[${i}].parts: a part must have exactly one data field`;
      if (p.functionResponse && (typeof p.functionResponse.name !== 'string' || typeof p.functionResponse.response !== 'object')) {
        return `* GenerateContentRequest.contents[${i}].parts: functionResponse needs name and response`;
      }
    }
  }
  if (body.systemInstruction && (!Array.isArray(body.systemInstruction.parts) || body.systemInstruction.parts.length === 0)) {
    return '* GenerateContentRequest.system_instruction.parts: must not be empty';
  }
  const t = body.generationConfig?.temperature;
  if (t !== undefined && (typeof t !== 'number' || t < 0 || t > 2)) return `* GenerateContentRequest.generation_config.temperature: must be between 0 and 2, got ${t}`;
  for (const key of Object.keys(body)) {
    if (!['contents', 'systemInstruction', 'generationConfig', 'tools', 'toolConfig', 'safetySettings', 'cachedContent'].includes(key)) {
      return `Invalid JSON payload received. Unknown name "${key}": Cannot find field.`;
    }
  }
  return null;
}

function error(res: ServerResponse, status: number, message: string, details?: unknown[]): void {
  const json = JSON.stringify({ error: { code: status, message, status: STATUS_NAMES[status] ?? 'UNKNOWN', ...(details ? { details } : {}) } });
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

/** The request checks, for fakes of other platforms serving the same wire format (Vertex AI). */
export { validate as validateGeminiRequest };

import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeEventStreamMessage } from '../../libs/providers/src/bedrock/event-stream';
import { cohereEmbedAnswer, validateCohereEmbed } from './fake-cohere';
import { bagOfWordsEmbedding } from './fake-openai';
import { parseJson, readRaw } from './fake-http';

/**
 * A fake Amazon Bedrock runtime (`POST /model/{modelId}/converse` and `/converse-stream`)
 * over real HTTP that rejects what the real one rejects: a missing or wrong SigV4
 * signature (403 InvalidSignatureException; recomputed here with the known test secret),
 * an empty conversation, one not starting with user or not alternating, maxTokens < 1.
 *
 * Answers "echo: <last user text>", or, when tools are given and the last user text
 * mentions "weather", two parallel toolUse blocks (the first tool for Paris and Tokyo).
 * Model ids `error-<status>` answer that status with a Bedrock error body;
 * `error-midstream` streams then sends a `throttlingException` exception message.
 */
export const FAKE_AWS = { accessKeyId: 'AKIDFAKEBEDROCK', secretAccessKey: 'fake/secret+key/for-tests', region: 'us-west-2' };

export interface FakeBedrockRequest {
  modelId: string;
  stream: boolean;
  body: Record<string, any>;
  headers: IncomingMessage['headers'];
}

export class FakeBedrock {
  readonly requests: FakeBedrockRequest[] = [];
  private server: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get last(): FakeBedrockRequest {
    return this.requests[this.requests.length - 1];
  }

  /** InvokeModel calls to embedding models received: the model id and the body. */
  readonly embeddingRequests: Array<{ modelId: string; body: Record<string, any> }> = [];

  /**
   * InvokeModel (`/model/{id}/invoke`) for embedding models, signature checked: Titan Text
   * Embeddings V2 (`inputText`, `dimensions` 256/512/1024, `normalize`) and Cohere Embed
   * (the Cohere body without `model`; token count in `X-Amzn-Bedrock-Input-Token-Count`).
   */
  private async invoke(req: IncomingMessage, res: ServerResponse, modelId: string): Promise<void> {
    const raw = await readRaw(req);
    const signatureProblem = checkSignature(req, raw);
    if (signatureProblem) return error(res, 403, 'InvalidSignatureException', signatureProblem);
    const body = parseJson(raw);
    if (body === undefined) return error(res, 400, 'ValidationException', 'Malformed input request, please reformat your input and try again.');
    this.embeddingRequests.push({ modelId, body });
    const answer = (json: object, tokens: number) => {
      const text = JSON.stringify(json);
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID(), 'x-amzn-bedrock-input-token-count': String(tokens) });
      res.end(text);
    };
    if (modelId === 'amazon.titan-embed-text-v2:0') {
      for (const key of Object.keys(body)) {
        if (!['inputText', 'dimensions', 'normalize', 'embeddingTypes'].includes(key)) return error(res, 400, 'ValidationException', `Malformed input request: extraneous key [${key}] is not permitted, please reformat your input and try again.`);
      }
      if (typeof body.inputText !== 'string' || body.inputText.length === 0) return error(res, 400, 'ValidationException', 'Malformed input request: #: required key [inputText] not found, please reformat your input and try again.');
      if (body.dimensions !== undefined && ![256, 512, 1024].includes(body.dimensions)) return error(res, 400, 'ValidationException', `Malformed input request: #/dimensions: ${body.dimensions} is not a valid enum value, please reformat your input and try again.`);
      const tokens = Math.max(1, Math.ceil(body.inputText.length / 4));
      const embedding = bagOfWordsEmbedding(body.inputText, body.dimensions ?? 1024);
      return answer({ embedding, inputTextTokenCount: tokens, embeddingsByType: { float: embedding } }, tokens);
    }
    const cohere = COHERE_ON_BEDROCK[modelId];
    if (!cohere) return error(res, 400, 'ValidationException', 'The provided model identifier is invalid.');
    const fields = new Set(['texts', 'images', 'input_type', 'truncate', 'embedding_types', 'output_dimension', 'max_tokens']);
    const problem = validateCohereEmbed(body, cohere, fields);
    if (problem) return error(res, 400, 'ValidationException', problem.message);
    const { id, response_type, embeddings, texts, meta } = cohereEmbedAnswer(body, cohere);
    return answer({ id, response_type, embeddings, texts }, meta.billed_units.input_tokens);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const invoke = /^\/model\/([^/]+)\/invoke$/.exec(req.url ?? '');
    if (req.method === 'POST' && invoke) return this.invoke(req, res, decodeURIComponent(invoke[1]));
    const match = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) return error(res, 404, 'UnknownOperationException', `Unknown path ${req.url}`);
    const raw = await readRaw(req);
    const signatureProblem = checkSignature(req, raw);
    if (signatureProblem) return error(res, 403, 'InvalidSignatureException', signatureProblem);
    const body = parseJson(raw);
    if (body === undefined) return error(res, 400, 'ValidationException', 'invalid JSON');
    const modelId = decodeURIComponent(match[1]);
    const stream = match[2] === 'converse-stream';
    this.requests.push({ modelId, stream, body, headers: req.headers });
    const problem = validate(body);
    if (problem) return error(res, 400, 'ValidationException', problem);
    const failing = /^error-(\d{3})$/.exec(modelId);
    if (failing) {
      const status = Number(failing[1]);
      const type = status === 429 ? 'ThrottlingException' : status === 503 ? 'ServiceUnavailableException' : status >= 500 ? 'InternalServerException' : 'ValidationException';
      return error(res, status, type, status === 429 ? 'Too many requests, please wait before trying again.' : `Simulated ${status}`);
    }

    const messages = body.messages as Array<{ role: string; content: any[] }>;
    const lastUser = [...messages].reverse().find((m) => m.role === 'user');
    const lastText = (lastUser?.content ?? []).filter((b: any) => typeof b.text === 'string').map((b: any) => b.text).join(' ');
    let content: Array<Record<string, any>>;
    let stopReason: string;
    const tools = body.toolConfig?.tools as Array<{ toolSpec: { name: string } }> | undefined;
    if (tools?.length && /weather/i.test(lastText)) {
      const name = tools[0].toolSpec.name;
      content = [
        { text: 'Let me check.' },
        { toolUse: { toolUseId: 'tooluse_paris', name, input: { city: 'Paris' } } },
        { toolUse: { toolUseId: 'tooluse_tokyo', name, input: { city: 'Tokyo', unit: 'c' } } },
      ];
      stopReason = 'tool_use';
    } else {
      const images = messages.flatMap((m) => m.content.filter((b: any) => b.image));
      content = [{ text: `echo: ${lastText}${images.length ? ` [${images.length} image(s)]` : ''}` }];
      stopReason = 'end_turn';
    }
    const usage = { inputTokens: 12, outputTokens: 7, totalTokens: 119, cacheReadInputTokens: 100 };
    const requestId = randomUUID();

    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': requestId });
      res.end(JSON.stringify({ output: { message: { role: 'assistant', content } }, stopReason, usage, metrics: { latencyMs: 42 } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': requestId });
    const send = (eventType: string, data: object) =>
      res.write(encodeEventStreamMessage({ ':event-type': eventType, ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify({ ...data, p: 'abcdefgh' })));
    send('messageStart', { role: 'assistant' });
    content.forEach((block, contentBlockIndex) => {
      if (typeof block.text === 'string') {
        for (const w of block.text.match(/\S+\s*/g) ?? []) send('contentBlockDelta', { contentBlockIndex, delta: { text: w } });
      } else {
        send('contentBlockStart', { contentBlockIndex, start: { toolUse: { toolUseId: block.toolUse.toolUseId, name: block.toolUse.name } } });
        const json = JSON.stringify(block.toolUse.input);
        const mid = Math.floor(json.length / 2);
        send('contentBlockDelta', { contentBlockIndex, delta: { toolUse: { input: json.slice(0, mid) } } });
        send('contentBlockDelta', { contentBlockIndex, delta: { toolUse: { input: json.slice(mid) } } });
      }
      send('contentBlockStop', { contentBlockIndex });
      if (modelId === 'error-midstream' && !res.writableEnded) {
        res.write(
          encodeEventStreamMessage(
            { ':exception-type': 'throttlingException', ':content-type': 'application/json', ':message-type': 'exception' },
            JSON.stringify({ message: 'Too many tokens, please wait before trying again.' }),
          ),
        );
        res.end();
      }
    });
    if (res.writableEnded) return;
    send('messageStop', { stopReason });
    send('metadata', { usage, metrics: { latencyMs: 42 } });
    res.end();
  }
}

const hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** Recomputes the SigV4 signature from the request as received; null when it matches. */
function checkSignature(req: IncomingMessage, body: Buffer): string | null {
  const auth = req.headers.authorization ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return 'Authorization header requires a valid AWS4-HMAC-SHA256 signature';
  const [, accessKey, day, region, service, signedHeaders, signature] = m;
  if (accessKey !== FAKE_AWS.accessKeyId) return 'The security token included in the request is invalid.';
  if (service !== 'bedrock' || region !== FAKE_AWS.region) return `Credential should be scoped to a valid region and service 'bedrock'`;
  const date = req.headers['x-amz-date'];
  if (typeof date !== 'string' || !date.startsWith(day)) return 'x-amz-date is required and must match the credential scope';
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return 'host and x-amz-date must be signed';
  const [path, query = ''] = (req.url ?? '/').split('?');
  const canonical = [
    req.method,
    path.split('/').map(rfc3986).join('/'),
    query,
    names.map((n) => `${n}:${String(req.headers[n] ?? '').trim()}\n`).join(''),
    signedHeaders,
    hex(body),
  ].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${date}\n${scope}\n${hex(canonical)}`;
  const key = hmac(hmac(hmac(hmac(`AWS4${FAKE_AWS.secretAccessKey}`, day), region), service), 'aws4_request');
  const expected = createHmac('sha256', key).update(toSign).digest('hex');
  if (expected !== signature) return 'The request signature we calculated does not match the signature you provided.';
  return null;
}

function validate(body: Record<string, any>): string | null {
  if (!Array.isArray(body.messages) || !body.messages.length) return 'A conversation must start with a user message.';
  if (body.system !== undefined && (!Array.isArray(body.system) || body.system.some((b: any) => typeof b?.text !== 'string'))) return 'system: expected a list of {text}';
  if (body.inferenceConfig?.maxTokens !== undefined && !(Number.isInteger(body.inferenceConfig.maxTokens) && body.inferenceConfig.maxTokens > 0)) {
    return 'inferenceConfig.maxTokens: must be at least 1';
  }
  let expected = 'user';
  for (const [i, m] of (body.messages as Array<{ role: string; content: any }>).entries()) {
    if (m.role !== expected) {
      return i === 0 ? 'A conversation must start with a user message.' : 'A conversation must alternate between user and assistant roles.';
    }
    expected = expected === 'user' ? 'assistant' : 'user';
    if (!Array.isArray(m.content) || !m.content.length) return `messages.${i}.content: must be a non-empty list`;
    for (const b of m.content) {
      const keys = Object.keys(b ?? {});
      if (keys.length !== 1 || !['text', 'image', 'toolUse', 'toolResult'].includes(keys[0])) return `messages.${i}.content: invalid content block`;
      if (b.image && !(['png', 'jpeg', 'gif', 'webp'].includes(b.image.format) && typeof b.image.source?.bytes === 'string')) return `messages.${i}.content: invalid image`;
      if (b.toolUse && m.role !== 'assistant') return `messages.${i}.content: toolUse only in assistant messages`;
      if (b.toolResult && (m.role !== 'user' || !Array.isArray(b.toolResult.content))) return `messages.${i}.content: invalid toolResult`;
    }
  }
  for (const t of body.toolConfig?.tools ?? []) {
    if (typeof t.toolSpec?.name !== 'string' || typeof t.toolSpec?.inputSchema?.json !== 'object') return 'toolConfig.tools: toolSpec.name and inputSchema.json are required';
  }
  return null;
}

/** Cohere embed models on Bedrock, by model id, and the Cohere model each is. */
const COHERE_ON_BEDROCK: Record<string, string> = {
  'cohere.embed-english-v3': 'embed-english-v3.0',
  'cohere.embed-multilingual-v3': 'embed-multilingual-v3.0',
  'cohere.embed-v4:0': 'embed-v4.0',
};

function error(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, 'x-amzn-requestid': randomUUID() });
  res.end(JSON.stringify({ message }));
}

/** The request checks, for other fakes of the same API (the benchmark's). */
export { validate as validateBedrockRequest };

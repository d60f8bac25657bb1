import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { validateAnthropicRequest, writeAnthropicAnswer } from './fake-anthropic';
import { validateGeminiRequest, writeGeminiAnswer } from './fake-gemini';
import { bagOfWordsEmbedding } from './fake-openai';
import { parseJson, readRaw } from './fake-http';

/**
 * A fake Google Vertex AI over real HTTP:
 *
 *   POST /token   the OAuth JWT-bearer grant: verifies the assertion's RS256 signature with the
 *                 service account's public key (iss, aud = this URL, scope cloud-platform, kid)
 *                 and issues `ya29.fake-<n>` for `expiresIn` seconds
 *   POST /v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent|streamGenerateContent?alt=sse
 *   POST /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{m}:rawPredict|streamRawPredict
 *   POST /v1/projects/{p}/locations/{l}/publishers/google/models/{m}:predict (text embeddings)
 *
 * The model endpoints require a bearer token it issued, the configured project and location,
 * and a valid body (the Gemini / Anthropic fakes' checks; Claude bodies carry
 * `anthropic_version: vertex-2023-10-16` and no `model`). They answer as those fakes do, with
 * their builders: "echo: <last user text>" (naming the images seen), or, with tools and a last
 * user text mentioning "weather", two parallel calls (Gemini `functionCall` parts; Claude
 * `tool_use` blocks, streamed as `input_json_delta`s). Gemini usage reports
 * `cachedContentTokenCount`, Claude usage `cacheReadTokens` / `cacheWriteTokens`.
 * Model `*-error-<status>` answers that status with a Google error body.
 */
export interface FakeVertexRequest {
  publisher: 'google' | 'anthropic';
  model: string;
  method: string;
  body: Record<string, any>;
  headers: IncomingMessage['headers'];
}

export class FakeVertex {
  readonly requests: FakeVertexRequest[] = [];
  readonly issued: string[] = [];
  expiresIn = 3600;
  /** Prompt-cache reads and writes a Claude answer reports (`cache_read_input_tokens`, `cache_creation_input_tokens`). */
  cacheReadTokens = 100;
  cacheWriteTokens = 20;
  private server: Server;
  private origin = '';
  private readonly publicKey: KeyObject;

  constructor(
    publicKeyPem: string,
    private readonly account: { clientEmail: string; keyId: string; project: string; location: string },
  ) {
    this.publicKey = createPublicKey(publicKeyPem);
  }

  async start(): Promise<{ baseUrl: string; tokenUrl: string }> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return { baseUrl: `${this.origin}/v1`, tokenUrl: `${this.origin}/token` };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get last(): FakeVertexRequest {
    return this.requests[this.requests.length - 1];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = (await readRaw(req)).toString('utf8');
    const url = new URL(req.url ?? '/', this.origin);
    if (req.method === 'POST' && url.pathname === '/token') return this.token(req, raw, res);

    const { project, location } = this.account;
    const match = new RegExp(`^/v1/projects/${project}/locations/${location}/publishers/(google|anthropic)/models/([^/:]+):(\\w+)$`).exec(url.pathname);
    if (req.method !== 'POST' || !match) return googleError(res, 404, `Unknown path ${url.pathname}`);
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!auth || !this.issued.includes(auth[1])) return googleError(res, 401, 'Request had invalid authentication credentials. Expected OAuth 2 access token.');
    const body = parseJson(raw);
    if (body === undefined) return googleError(res, 400, 'Invalid JSON payload received.');
    const publisher = match[1] as 'google' | 'anthropic';
    const model = decodeURIComponent(match[2]);
    const method = match[3];
    this.requests.push({ publisher, model, method, body, headers: req.headers });
    const failure = /error-(\d{3})$/.exec(model);
    if (failure) return googleError(res, Number(failure[1]), `The fake answers ${failure[1]} for ${model}`);
    if (publisher === 'google') {
      if (method === 'predict') return predictEmbeddings(res, url.pathname, model, body);
      if (method !== 'generateContent' && !(method === 'streamGenerateContent' && url.searchParams.get('alt') === 'sse')) return googleError(res, 404, `Unknown method ${method}`);
      const problem = validateGeminiRequest(body);
      if (problem) return googleError(res, 400, problem);
      return writeGeminiAnswer(res, body, model, method !== 'generateContent');
    }
    if (method !== 'rawPredict' && method !== 'streamRawPredict') return googleError(res, 404, `Unknown method ${method}`);
    if (body.anthropic_version !== 'vertex-2023-10-16') return googleError(res, 400, 'anthropic_version: vertex-2023-10-16 is required');
    if ('model' in body) return googleError(res, 400, 'model: Extra inputs are not permitted');
    const problem = validateAnthropicRequest({ ...body, model });
    if (problem) return googleError(res, 400, problem);
    if ((body.stream === true) !== (method === 'streamRawPredict')) return googleError(res, 400, `stream must be ${method === 'streamRawPredict'} for ${method}`);
    return writeAnthropicAnswer(res, body, model, { read: this.cacheReadTokens, write: this.cacheWriteTokens });
  }

  private async token(req: IncomingMessage, raw: string, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(raw);
    const oauthError = (description: string) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_grant', error_description: description }));
    };
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return oauthError('form encoding required');
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return oauthError('unsupported grant_type');
    const assertion = form.get('assertion') ?? '';
    try {
      const header = decodeProtectedHeader(assertion);
      if (header.kid !== this.account.keyId) return oauthError('Invalid JWT Signature (unknown kid).');
      const { payload } = await jwtVerify(assertion, this.publicKey, { algorithms: ['RS256'], issuer: this.account.clientEmail, audience: `${this.origin}/token` });
      if (payload.scope !== 'https://www.googleapis.com/auth/cloud-platform') return oauthError('Invalid scope');
      if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number' || payload.exp - payload.iat > 3600) return oauthError('Invalid JWT: iat/exp');
    } catch {
      return oauthError('Invalid JWT Signature.');
    }
    const token = `ya29.fake-${this.issued.length + 1}`;
    this.issued.push(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: token, expires_in: this.expiresIn, token_type: 'Bearer' }));
  }

}

/** Google text embedding models on Vertex AI: native dimensions and instances a request. */
const VERTEX_EMBEDDING_MODELS: Record<string, { dims: number; maxInstances: number }> = {
  'gemini-embedding-001': { dims: 3072, maxInstances: 1 },
  'text-embedding-005': { dims: 768, maxInstances: 250 },
  'text-embedding-004': { dims: 768, maxInstances: 250 },
};

/**
 * `publishers/google/models/{model}:predict` for text embeddings: `instances[{content, task_type,
 * title}]`, `parameters{autoTruncate, outputDimensionality}`; bag-of-words vectors with token
 * statistics (4 characters a token).
 */
function predictEmbeddings(res: ServerResponse, path: string, model: string, body: Record<string, any>): void {
  const spec = VERTEX_EMBEDDING_MODELS[model];
  if (!spec) return googleError(res, 404, `Publisher Model \`${path.replace(/^\/v1\//, '').replace(/:predict$/, '')}\` was not found or your project does not have access to it.`);
  for (const key of Object.keys(body)) if (key !== 'instances' && key !== 'parameters') return googleError(res, 400, `Invalid JSON payload received. Unknown name "${key}": Cannot find field.`);
  const instances = body.instances;
  if (!Array.isArray(instances) || instances.length === 0) return googleError(res, 400, 'instances must not be empty.');
  if (instances.length > spec.maxInstances) return googleError(res, 400, `Unable to submit request because the model supports at most ${spec.maxInstances} instance(s) per request; ${instances.length} were sent.`);
  for (const [i, instance] of instances.entries()) {
    if (Object.keys(instance ?? {}).some((k) => !['content', 'task_type', 'title'].includes(k)) || typeof instance?.content !== 'string') {
      return googleError(res, 400, `instances[${i}]: content must be a string, and only content, task_type and title are accepted.`);
    }
  }
  const parameters = body.parameters ?? {};
  for (const key of Object.keys(parameters)) if (!['autoTruncate', 'outputDimensionality'].includes(key)) return googleError(res, 400, `parameters: unknown field ${key}.`);
  const dims = parameters.outputDimensionality ?? spec.dims;
  if (!Number.isInteger(dims) || dims < 1 || dims > spec.dims) return googleError(res, 400, `outputDimensionality must be between 1 and ${spec.dims}.`);
  const predictions = instances.map((instance: { content: string }) => ({
    embeddings: { values: bagOfWordsEmbedding(instance.content, dims), statistics: { token_count: Math.max(1, Math.ceil(instance.content.length / 4)), truncated: false } },
  }));
  const json = JSON.stringify({ predictions, metadata: { billableCharacterCount: instances.reduce((sum: number, x: { content: string }) => sum + x.content.length, 0) } });
  res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

const STATUS_NAMES: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };

function googleError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code: status, message, status: STATUS_NAMES[status] ?? 'UNKNOWN' } }));
}

/**
 * A fake Vertex AI resource with a fresh service account: the running fake, and the
 * environment that points TokenHub at it (credentials file written under `dir`, which the
 * caller removes with the fake).
 */
export async function startFakeVertex(options: { project: string; location: string; keyId: string; dir: string }): Promise<{ vertex: FakeVertex; env: Record<string, string> }> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const account = { clientEmail: 'gateway@tokenhub-test.iam.gserviceaccount.com', keyId: options.keyId, project: options.project, location: options.location };
  const vertex = new FakeVertex(publicKey.export({ type: 'spki', format: 'pem' }).toString(), account);
  const { baseUrl, tokenUrl } = await vertex.start();
  const credentialsFile = join(options.dir, 'service-account.json');
  writeFileSync(
    credentialsFile,
    JSON.stringify({
      type: 'service_account',
      project_id: options.project,
      private_key_id: account.keyId,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: account.clientEmail,
      token_uri: 'https://oauth2.googleapis.com/token',
    }),
  );
  const env = { VERTEX_PROJECT: options.project, VERTEX_LOCATION: options.location, VERTEX_CREDENTIALS_FILE: credentialsFile, VERTEX_BASE_URL: baseUrl, VERTEX_TOKEN_URL: tokenUrl };
  return { vertex, env };
}

import { createServer, IncomingMessage, request, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { FakeOpenAI } from './fake-openai';
import { readJson } from './fake-http';

/**
 * A fake Azure OpenAI resource: Azure's addressing and authentication in front of
 * `FakeOpenAI` (whose bodies, validation and failure-steering model names it reuses).
 *
 *   POST /openai/deployments/{deployment}/chat/completions?api-version=...
 *   POST /openai/deployments/{deployment}/embeddings?api-version=...
 *
 * Rejects as Azure does: 401 without an `api-key` header (or a bearer Entra ID token),
 * 400 without `api-version`, 404 `DeploymentNotFound` for a deployment it does not have.
 * A known deployment is forwarded to the OpenAI fake with the deployment as the model, so
 * a deployment named `error-429` fails like the OpenAI fake's model of that name.
 */
export interface AzureRequest {
  path: string;
  apiVersion: string | null;
  headers: IncomingMessage['headers'];
}

export class FakeAzureOpenAI {
  readonly openai = new FakeOpenAI();
  readonly requests: AzureRequest[] = [];
  private server: Server;
  private upstream: URL;
  private readonly sockets = new Set<Socket>();

  constructor(readonly deployments = new Set(['gpt-4o', 'gpt-4o-mini', 'error-429', 'error-400', 'context-length'])) {}

  /** Returns the resource endpoint (what `AZURE_BASE_URL` takes). */
  async start(): Promise<string> {
    this.upstream = new URL(await this.openai.start());
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.openai.stop();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const apiVersion = url.searchParams.get('api-version');
    this.requests.push({ path: url.pathname, apiVersion, headers: req.headers });
    const apiKey = req.headers['api-key'];
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!apiKey && !bearer) {
      return azureError(res, 401, '401', 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.');
    }
    if (!apiVersion) return azureError(res, 400, 'BadRequest', 'Missing required query parameter: api-version');
    const match = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) return azureError(res, 404, '404', 'Resource not found');
    const deployment = decodeURIComponent(match[1]);
    if (!this.deployments.has(deployment)) {
      return azureError(res, 404, 'DeploymentNotFound', 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.');
    }
    const body = await readJson<Record<string, unknown>>(req);
    if (body === undefined) return azureError(res, 400, 'BadRequest', 'The request body is not valid JSON.');
    // Azure ignores a model in the body: the deployment decides.
    const forwarded = JSON.stringify({ ...body, model: deployment });
    const upstream = request({
      host: this.upstream.hostname,
      port: this.upstream.port,
      method: 'POST',
      path: `/v1/${match[2]}`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey ?? bearer}`, 'content-length': Buffer.byteLength(forwarded) },
    });
    upstream.on('response', (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    upstream.end(forwarded);
  }
}

function azureError(res: ServerResponse, status: number, code: string, message: string): void {
  const json = JSON.stringify({ error: { code, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

import { InvalidRequestError } from '@tokenhub/common';
import type { ProviderConfig } from '@tokenhub/config';
import { AnthropicProvider } from '../anthropic/anthropic.provider';
import type { ChatCall, ChatCompletionResult, ChatProvider, ChatStreamEvent, EmbeddingsCall, EmbeddingsResult } from '../chat-provider.interface';
import { CredentialPool } from '../credentials/credential-pool';
import { GeminiProvider } from '../gemini/gemini.provider';
import type { EndpointOverride } from '../http/endpoint-override';
import type { UpstreamHttpClient } from '../http/upstream-http-client';
import { UpstreamError } from '../upstream-error';
import { readBody } from '../http/upstream-call';
import { inBatches, requireTextInput } from '../openai-compatible/openai-embeddings';
import { fromVertexPredictResponse, toVertexPredictRequest, vertexTextsPerCall } from './vertex-embeddings';
import { VertexTokenSource } from './vertex-token-source';

/** The `anthropic_version` Claude on Vertex AI takes in the body (instead of a header). */
export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

/**
 * Google Vertex AI: Gemini models (`publishers/google`, `generateContent`) through the Gemini
 * adapter, Claude models (`publishers/anthropic`, `rawPredict`) through the Anthropic one,
 * both with a Google OAuth bearer token instead of an API key.
 */
export class VertexProvider implements ChatProvider {
  readonly name: string;
  private readonly gemini: GeminiProvider;
  private readonly claude: AnthropicProvider;
  /** `{baseUrl}/projects/{project}/locations/{location}/publishers`. */
  private readonly publishers: string;

  constructor(
    config: ProviderConfig,
    http: UpstreamHttpClient,
    credentials: CredentialPool = new CredentialPool(config.name, config.credentials, () => undefined),
    readonly tokens: VertexTokenSource = tokenSourceFor(config),
  ) {
    this.name = config.name;
    const vertex = config.vertex;
    if (!vertex) throw new Error(`provider ${config.name} has no Vertex project configured`);
    const models = `${config.baseUrl}/projects/${encodeURIComponent(vertex.project)}/locations/${encodeURIComponent(vertex.location)}/publishers`;
    this.publishers = models;
    const headers = async (signal: AbortSignal) => ({ authorization: `Bearer ${await this.tokens.token(signal)}` });
    const geminiEndpoint: EndpointOverride = {
      // The Gemini adapter passes the model already URL-encoded.
      url: (model, stream) => `${models}/google/models/${model}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`,
      headers,
    };
    const claudeEndpoint: EndpointOverride = {
      url: (model, stream) => `${models}/anthropic/models/${encodeURIComponent(model).replace(/%40/g, '@')}:${stream ? 'streamRawPredict' : 'rawPredict'}`,
      headers,
      body: ({ model: _model, ...rest }) => ({ anthropic_version: VERTEX_ANTHROPIC_VERSION, ...rest }),
    };
    this.gemini = new GeminiProvider(config, http, credentials, geminiEndpoint);
    this.claude = new AnthropicProvider(config, http, credentials, undefined, claudeEndpoint);
  }

  complete(call: ChatCall): Promise<ChatCompletionResult> {
    return this.forgetRefusedToken(() => this.route(call.model).complete(call));
  }

  stream(call: ChatCall): Promise<AsyncIterable<ChatStreamEvent>> {
    return this.forgetRefusedToken(() => this.route(call.model).stream(call));
  }

  /** Google's text embedding models through `publishers/google/models/{model}:predict`, with the Gemini adapter's auth and error mapping. */
  embed(call: EmbeddingsCall): Promise<EmbeddingsResult> {
    requireTextInput(this.name, call);
    const perCall = vertexTextsPerCall(this.name, call.model);
    const url = `${this.publishers}/google/models/${encodeURIComponent(call.model)}:predict`;
    return this.forgetRefusedToken(() =>
      inBatches(call.input, perCall, 8, async (texts) => {
        const res = await this.gemini.post(url, toVertexPredictRequest(texts, call), call.model, call.signal, 'application/json');
        return fromVertexPredictResponse(this.name, (await readBody(res, call.signal)).toString('utf8'), texts.length);
      }),
    );
  }

  unsupportedParameters(model: string, body: Record<string, unknown>): string[] {
    return this.route(model).unsupportedParameters?.(model, body) ?? [];
  }

  /** Claude models go to the Anthropic publisher, Gemini (and other Google) models to Google's. */
  private route(model: string): ChatProvider {
    if (/^claude-/i.test(model)) return this.claude;
    if (/^(gemini-|gemma-)/i.test(model)) return this.gemini;
    throw new InvalidRequestError(`Provider ${this.name} (Vertex AI) serves gemini-* and claude-* models, not '${model}'`, 'model', 'model_not_found', 404);
  }

  /** A 401 means the cached token was revoked or expired early: drop it so the next attempt fetches a new one. */
  private async forgetRefusedToken<T>(attempt: () => Promise<T>): Promise<T> {
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof UpstreamError && err.status === 401) this.tokens.invalidate();
      throw err;
    }
  }
}

function tokenSourceFor(config: ProviderConfig): VertexTokenSource {
  const vertex = config.vertex;
  if (vertex?.accessToken && !vertex.credentialsFile) return new VertexTokenSource({ staticToken: vertex.accessToken });
  if (!vertex?.credentialsFile) throw new Error(`provider ${config.name} needs a Vertex credentials file or access token`);
  return VertexTokenSource.fromFile(vertex.credentialsFile, { tokenUrl: vertex.tokenUrl });
}

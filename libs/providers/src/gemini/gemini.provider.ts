import { randomUUID } from 'node:crypto';
import type { ProviderConfig } from '@tokenhub/config';
import type { ChatCall, ChatCompletionResult, ChatProvider, ChatStreamEvent, EmbeddingsCall, EmbeddingsResult } from '../chat-provider.interface';
import { GEMINI_PARAMETERS, unsupportedParameters } from '../translation/parameter-support';
import { CredentialPool } from '../credentials/credential-pool';
import type { EndpointOverride } from '../http/endpoint-override';
import { readBody, refusalText } from '../http/upstream-call';
import { toUpstreamError, UpstreamHttpClient, UpstreamResponse } from '../http/upstream-http-client';
import { readServerSentEvents } from '../sse';
import { parseRetryAfter, UpstreamError, upstreamHttpError } from '../upstream-error';
import { requireTextInput } from '../openai-compatible/openai-embeddings';
import { fromGeminiEmbeddingsResponse, toGeminiEmbeddingsRequest } from './gemini-embeddings';
import { fromGeminiResponse, GeminiResponse, GeminiStreamTranslator, toGeminiRequest } from './gemini-translation';

/** Google's Gemini API (`generateContent` / `streamGenerateContent?alt=sse`), behind OpenAI shapes. */
export class GeminiProvider implements ChatProvider {
  readonly name: string;

  constructor(
    private readonly config: ProviderConfig,
    private readonly http: UpstreamHttpClient,
    readonly credentials: CredentialPool = new CredentialPool(config.name, config.credentials, () => undefined),
    /** Another platform serving Gemini (Vertex AI): its URLs and auth instead of the Gemini API's. */
    private readonly endpoint?: EndpointOverride,
  ) {
    this.name = config.name;
  }

  unsupportedParameters(_model: string, body: Record<string, unknown>): string[] {
    return unsupportedParameters(GEMINI_PARAMETERS, body);
  }

  async complete(call: ChatCall): Promise<ChatCompletionResult> {
    const res = await this.send(call, false);
    const text = (await readBody(res, call.signal)).toString('utf8');
    let parsed: GeminiResponse;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UpstreamError('protocol', 502, `${this.name} answered with malformed JSON`, { code: 'upstream_protocol_error' });
    }
    if (!parsed || typeof parsed !== 'object' || (!Array.isArray(parsed.candidates) && !parsed.promptFeedback)) {
      throw new UpstreamError('protocol', 502, `${this.name} answered without candidates`, { code: 'upstream_protocol_error' });
    }
    return fromGeminiResponse(parsed, `chatcmpl-${randomUUID()}`, parsed.modelVersion ?? call.model);
  }

  /** `models/{model}:batchEmbedContents`, all texts in one call. */
  async embed(call: EmbeddingsCall): Promise<EmbeddingsResult> {
    requireTextInput(this.name, call);
    const model = call.model.replace(/^models\//, '');
    const url = `${this.config.baseUrl}/models/${encodeURIComponent(model)}:batchEmbedContents`;
    const res = await this.post(url, toGeminiEmbeddingsRequest(model, call), call.model, call.signal, 'application/json');
    return fromGeminiEmbeddingsResponse(this.name, (await readBody(res, call.signal)).toString('utf8'), call.input.length);
  }

  async stream(call: ChatCall): Promise<AsyncIterable<ChatStreamEvent>> {
    const res = await this.send(call, true);
    return this.events(res, call);
  }

  private async *events(res: UpstreamResponse, call: ChatCall): AsyncGenerator<ChatStreamEvent> {
    const translator = new GeminiStreamTranslator(`chatcmpl-${randomUUID()}`, call.model);
    try {
      for await (const message of readServerSentEvents(res.body)) {
        const data = message.data.trim();
        if (!data || data === '[DONE]') continue;
        const parsed = JSON.parse(data) as GeminiResponse & { error?: { message?: string; status?: string } };
        if (parsed.error) {
          throw new UpstreamError('protocol', 502, `${this.name}: ${parsed.error.message ?? data}`, { code: parsed.error.status?.toLowerCase() ?? 'upstream_stream_error' });
        }
        yield* translator.push(parsed);
      }
    } catch (err) {
      throw err instanceof SyntaxError
        ? new UpstreamError('protocol', 502, `${this.name} sent a malformed stream chunk`, { code: 'upstream_protocol_error' })
        : toUpstreamError(err, call.signal);
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    if (!translator.finished) throw new UpstreamError('protocol', 502, `${this.name} ended the stream early`, { code: 'upstream_stream_truncated' });
    yield* translator.end();
  }

  private async send(call: ChatCall, stream: boolean): Promise<UpstreamResponse> {
    // Refuses what Gemini cannot honour before any credential is used.
    const request = toGeminiRequest(call.body, this.name);
    const model = encodeURIComponent(call.model.replace(/^models\//, ''));
    const url = this.endpoint?.url(model, stream) ?? `${this.config.baseUrl}/models/${model}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`;
    return this.post(url, request, call.model, call.signal, stream ? 'text/event-stream' : 'application/json');
  }

  /**
   * Posts `request` to `url` with the credential for `model` (or the platform's auth headers,
   * for Vertex AI); a non-2xx answer is thrown as an `UpstreamError`.
   */
  async post(url: string, request: unknown, model: string, signal: AbortSignal, accept: string): Promise<UpstreamResponse> {
    const headers: Record<string, string> = { ...this.config.headers, 'content-type': 'application/json', accept };
    const credential = this.credentials.pick(model);
    if (this.endpoint) Object.assign(headers, await this.endpoint.headers(signal));
    else if (credential?.apiKey) headers['x-goog-api-key'] = credential.apiKey;
    const res = await this.http.post({ url, headers, body: JSON.stringify(request), signal, onOutcome: this.credentials.outcomeListener(credential, model) });
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    const text = await refusalText(res, signal, [credential?.apiKey]);
    const { status, body } = geminiError(res.statusCode, text);
    throw this.credentials.report(credential, upstreamHttpError(status, body, parseRetryAfter(res.headers)), model);
  }
}

/**
 * Gemini errors are `{error: {code, message, status, details}}`; the status name becomes the
 * code. An invalid key comes back as 400 `API_KEY_INVALID`: it is a 401 for TokenHub.
 */
export function geminiError(statusCode: number, text: string): { status: number; body: string } {
  try {
    const parsed = JSON.parse(text) as unknown;
    const err = (Array.isArray(parsed) ? parsed[0]?.error : (parsed as { error?: unknown }).error) as
      | { message?: string; status?: string; details?: Array<{ reason?: string }> }
      | undefined;
    if (!err || typeof err !== 'object') return { status: statusCode, body: text };
    const keyInvalid = err.details?.some((d) => d?.reason === 'API_KEY_INVALID');
    return {
      status: keyInvalid ? 401 : statusCode,
      body: JSON.stringify({ error: { message: err.message ?? `HTTP ${statusCode}`, code: keyInvalid ? 'invalid_api_key' : (err.status?.toLowerCase() ?? null) } }),
    };
  } catch {
    return { status: statusCode, body: text };
  }
}


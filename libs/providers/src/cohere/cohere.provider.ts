import type { ProviderConfig } from '@tokenhub/config';
import type { ChatCall, ChatCompletionResult, ChatProvider, ChatStreamEvent, EmbeddingsCall, EmbeddingsResult } from '../chat-provider.interface';
import { COHERE_PARAMETERS, unsupportedParameters } from '../translation/parameter-support';
import { CredentialPool } from '../credentials/credential-pool';
import { readBody, refusalText } from '../http/upstream-call';
import { toUpstreamError, UpstreamHttpClient, UpstreamResponse } from '../http/upstream-http-client';
import { readServerSentEvents } from '../sse';
import { parseRetryAfter, UpstreamError, upstreamHttpError } from '../upstream-error';
import { inBatches, requireTextInput } from '../openai-compatible/openai-embeddings';
import { COHERE_MAX_TEXTS, fromCohereEmbedResponse, toCohereEmbedRequest } from './cohere-embeddings';
import { CohereChatResponse, CohereStreamTranslator, fromCohereResponse, toCohereRequest } from './cohere-translation';

/** Cohere's v2 Chat API (`POST {baseUrl}/chat`), translated to and from OpenAI shapes. */
export class CohereProvider implements ChatProvider {
  readonly name: string;
  private readonly url: string;

  constructor(
    private readonly config: ProviderConfig,
    private readonly http: UpstreamHttpClient,
    readonly credentials: CredentialPool = new CredentialPool(config.name, config.credentials, () => undefined),
  ) {
    this.name = config.name;
    this.url = `${config.baseUrl}/chat`;
  }

  unsupportedParameters(_model: string, body: Record<string, unknown>): string[] {
    return unsupportedParameters(COHERE_PARAMETERS, body);
  }

  async complete(call: ChatCall): Promise<ChatCompletionResult> {
    const request = toCohereRequest(this.name, call.model, call.body, false);
    const res = await this.send(call, request, 'application/json');
    const body = await readBody(res, call.signal);
    let parsed: CohereChatResponse;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new UpstreamError('protocol', 502, `${this.name} answered with malformed JSON`, { code: 'upstream_protocol_error' });
    }
    return fromCohereResponse(this.name, call.model, parsed);
  }

  /** `POST {baseUrl}/embed` (v2), float vectors, up to 96 texts a call. */
  async embed(call: EmbeddingsCall): Promise<EmbeddingsResult> {
    requireTextInput(this.name, call);
    return inBatches(call.input, COHERE_MAX_TEXTS, 4, async (texts) => {
      const res = await this.send(call, toCohereEmbedRequest(texts, call, true), 'application/json', `${this.config.baseUrl}/embed`);
      return fromCohereEmbedResponse(this.name, (await readBody(res, call.signal)).toString('utf8'), texts.length);
    });
  }

  async stream(call: ChatCall): Promise<AsyncIterable<ChatStreamEvent>> {
    const request = toCohereRequest(this.name, call.model, call.body, true);
    const res = await this.send(call, request, 'text/event-stream');
    return this.events(res, call);
  }

  private async *events(res: UpstreamResponse, call: ChatCall): AsyncGenerator<ChatStreamEvent> {
    const translator = new CohereStreamTranslator(this.name, call.model);
    try {
      for await (const message of readServerSentEvents(res.body)) {
        const data = message.data.trim();
        if (!data || data === '[DONE]') continue;
        const event = JSON.parse(data) as Record<string, unknown>;
        if (message.event === 'error' || event.type === 'error') {
          const text = typeof event.message === 'string' ? event.message : data.slice(0, 200);
          throw new UpstreamError('protocol', 502, `${this.name}: ${text}`, { code: 'upstream_stream_error' });
        }
        if (event.type === undefined && message.event) event.type = message.event;
        for (const chunk of translator.translate(event)) yield chunk;
        if (translator.finished) return;
      }
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      throw err instanceof SyntaxError
        ? new UpstreamError('protocol', 502, `${this.name} sent a malformed stream event`, { code: 'upstream_protocol_error' })
        : toUpstreamError(err, call.signal);
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    throw new UpstreamError('protocol', 502, `${this.name} ended the stream early`, { code: 'upstream_stream_truncated' });
  }

  private async send(call: Pick<ChatCall, 'model' | 'signal'>, request: Record<string, unknown>, accept: string, url = this.url): Promise<UpstreamResponse> {
    const headers: Record<string, string> = { ...this.config.headers, 'content-type': 'application/json', accept };
    const credential = this.credentials.pick(call.model);
    if (credential) headers.authorization = `Bearer ${credential.apiKey}`;
    const res = await this.http.post({ url, headers, body: JSON.stringify(request), signal: call.signal, onOutcome: this.credentials.outcomeListener(credential, call.model) });
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    const text = await refusalText(res, call.signal, [credential?.apiKey]);
    // Cohere's error body is `{"message": "..."}`, which upstreamHttpError reads.
    throw this.credentials.report(credential, upstreamHttpError(res.statusCode, text, parseRetryAfter(res.headers)), call.model);
  }
}


import type { ProviderConfig } from '@tokenhub/config';
import type { ChatCall, ChatCompletionResult, ChatProvider, ChatStreamEvent, EmbeddingsCall, EmbeddingsResult } from '../chat-provider.interface';
import { CredentialPool, PooledCredential } from '../credentials/credential-pool';
import { redactSecrets, refusalText } from '../http/upstream-call';
import { toUpstreamError, UpstreamBody, UpstreamHttpClient, UpstreamRequest, UpstreamResponse } from '../http/upstream-http-client';
import { readServerSentEvents } from '../sse';
import { parseRetryAfter, UpstreamError, upstreamHttpError } from '../upstream-error';
import { fromOpenAIEmbeddingsResponse, toOpenAIEmbeddingsRequest } from './openai-embeddings';
import { fromOpenAIUsage } from './openai-usage';

const USAGE_OBJECT = /"usage"\s*:\s*\{/;
const FINISHED = /"finish_reason"\s*:\s*"/;

/**
 * OpenAI and every provider that speaks its chat completions API (Groq, Mistral,
 * DeepSeek, xAI, OpenRouter, Together, Fireworks, Perplexity, Cerebras, Ollama, vLLM,
 * custom servers). Bodies pass through untouched; only usage is read on the way back.
 */
export class OpenAICompatibleProvider implements ChatProvider {
  readonly name: string;

  constructor(
    protected readonly config: ProviderConfig,
    private readonly http: UpstreamHttpClient,
    /** The provider's credentials and their health; by default those of `config`. */
    readonly credentials: CredentialPool = new CredentialPool(config.name, config.credentials, () => undefined),
  ) {
    this.name = config.name;
  }

  /** Where a call for `model` is posted (`operation`: the API path); variants (Azure OpenAI) address it differently. */
  protected urlFor(_model: string, operation = 'chat/completions'): string {
    return `${this.config.baseUrl}/${operation}`;
  }

  /** Puts the credential on the request; `Authorization: Bearer` unless a variant says otherwise. */
  protected authorize(headers: Record<string, string>, apiKey: string): void {
    headers.authorization = `Bearer ${apiKey}`;
  }

  async complete(call: ChatCall): Promise<ChatCompletionResult> {
    const body = await this.sendForBody(call);
    let parsed: { choices?: unknown; usage?: Parameters<typeof fromOpenAIUsage>[0] };
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new UpstreamError('protocol', 502, `${this.name} answered with malformed JSON`, { code: 'upstream_protocol_error' });
    }
    if (!parsed || !Array.isArray(parsed.choices)) {
      throw new UpstreamError('protocol', 502, `${this.name} answered without choices`, { code: 'upstream_protocol_error' });
    }
    return { body, usage: fromOpenAIUsage(parsed.usage) };
  }

  /** `POST {base}/embeddings`; the answer is OpenAI's embeddings list. */
  async embed(call: EmbeddingsCall): Promise<EmbeddingsResult> {
    const request = { model: call.model, body: toOpenAIEmbeddingsRequest(call), signal: call.signal };
    const text = (await this.sendForBody(request, this.urlFor(call.model, 'embeddings'))).toString('utf8');
    return fromOpenAIEmbeddingsResponse(this.name, text, (call.tokens ?? call.input).length);
  }

  async stream(call: ChatCall): Promise<AsyncIterable<ChatStreamEvent>> {
    const res = await this.send(call, 'text/event-stream');
    return this.events(res, call.signal);
  }

  private async *events(res: UpstreamResponse, signal: AbortSignal): AsyncGenerator<ChatStreamEvent> {
    let finished = false;
    try {
      for await (const message of readServerSentEvents(res.body)) {
        const data = message.data;
        if (data === '[DONE]') return;
        if (message.event === 'error' || data.startsWith('{"error"')) throw streamedError(this.name, data);
        if (!finished && FINISHED.test(data)) finished = true;
        // Parsed even when passed through as is: a broken chunk must not reach the client as if it were one.
        const chunk = JSON.parse(data) as { choices?: unknown[]; usage?: Parameters<typeof fromOpenAIUsage>[0] } | null;
        if (!chunk || typeof chunk !== 'object') throw new SyntaxError('not a chunk object');
        if (!USAGE_OBJECT.test(data)) {
          yield { data };
          continue;
        }
        yield { data, usage: fromOpenAIUsage(chunk.usage) ?? undefined, usageOnly: !chunk.choices?.length };
      }
    } catch (err) {
      throw err instanceof SyntaxError
        ? new UpstreamError('protocol', 502, `${this.name} sent a malformed stream chunk`, { code: 'upstream_protocol_error' })
        : toUpstreamError(err, signal);
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    if (!finished) throw new UpstreamError('protocol', 502, `${this.name} ended the stream early`, { code: 'upstream_stream_truncated' });
  }

  /** A streamed call: the response, its body a stream, once the upstream answered 2xx. */
  private async send(call: ChatCall, accept: string): Promise<UpstreamResponse> {
    const { request, credential } = this.request(call, accept, this.urlFor(call.model));
    const res = await this.http.post(request);
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    throw this.refusal(credential, res.statusCode, await refusalText(res, call.signal, [credential?.apiKey]), res.headers, call.model);
  }

  /** A call answered whole: the body of a 2xx answer. */
  private async sendForBody(call: ChatCall, url = this.urlFor(call.model)): Promise<Buffer> {
    const { request, credential } = this.request(call, 'application/json', url);
    const answer = await this.http.postForBody(request);
    if (answer.statusCode >= 200 && answer.statusCode < 300) return answer.body;
    throw this.refusal(credential, answer.statusCode, redactSecrets(answer.body.toString('utf8'), [credential?.apiKey]), answer.headers, call.model);
  }

  private request(call: ChatCall, accept: string, url: string): { request: UpstreamRequest; credential: PooledCredential | null } {
    const headers: Record<string, string> = { ...this.config.headers, 'content-type': 'application/json', accept };
    // Weighted among the usable credentials that may serve this model; throws when none can.
    const credential = this.credentials.pick(call.model);
    if (credential) this.authorize(headers, credential.apiKey);
    return { request: { url, headers, body: JSON.stringify(call.body), signal: call.signal, onOutcome: this.credentials.outcomeListener(credential, call.model) }, credential };
  }

  /** A non-2xx answer (its text redacted) as the error it is; 401/403 take the credential out of rotation, 429 cools it down. */
  private refusal(credential: PooledCredential | null, status: number, text: string, headers: UpstreamBody['headers'], model: string): UpstreamError {
    return this.credentials.report(credential, upstreamHttpError(status, text, parseRetryAfter(headers)), model);
  }
}

function streamedError(provider: string, data: string): UpstreamError {
  try {
    const { error } = JSON.parse(data) as { error?: { message?: string; type?: string; code?: string } };
    return new UpstreamError('protocol', 502, `${provider}: ${error?.message ?? data}`, { type: error?.type, code: error?.code ?? 'upstream_stream_error' });
  } catch {
    return new UpstreamError('protocol', 502, `${provider} sent an error mid-stream: ${data.slice(0, 200)}`, { code: 'upstream_stream_error' });
  }
}

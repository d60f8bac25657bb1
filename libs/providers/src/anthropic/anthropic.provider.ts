import type { ProviderConfig } from '@tokenhub/config';
import { ModelCatalog } from '../catalog/model-catalog';
import type { ChatCall, ChatCompletionResult, ChatProvider, ChatStreamEvent } from '../chat-provider.interface';
import { ANTHROPIC_PARAMETERS, unsupportedParameters } from '../translation/parameter-support';
import { CredentialPool } from '../credentials/credential-pool';
import type { EndpointOverride } from '../http/endpoint-override';
import { readBody, refusalText } from '../http/upstream-call';
import { toUpstreamError, UpstreamHttpClient, UpstreamResponse } from '../http/upstream-http-client';
import { readServerSentEvents } from '../sse';
import { parseRetryAfter, UpstreamError, upstreamHttpError } from '../upstream-error';
import { AnthropicStreamTranslator, DEFAULT_MAX_TOKENS, fromAnthropicResponse, toAnthropicRequest } from './anthropic-translation';

export const ANTHROPIC_VERSION = '2023-06-01';

let bundledCatalog: ModelCatalog | undefined;

/** Anthropic's Messages API, translated to and from OpenAI chat completions. */
export class AnthropicProvider implements ChatProvider {
  readonly name: string;
  private readonly url: string;

  constructor(
    private readonly config: ProviderConfig,
    private readonly http: UpstreamHttpClient,
    readonly credentials: CredentialPool = new CredentialPool(config.name, config.credentials, () => undefined),
    /** The model's output cap, the default for the `max_tokens` Anthropic requires; by default from the bundled catalog. */
    private readonly maxOutputTokens: (model: string) => number | undefined = (model) =>
      (bundledCatalog ??= new ModelCatalog()).lookup('anthropic', model)?.maxOutputTokens,
    /** Another platform serving Claude (Vertex AI): its URLs, auth and body changes instead of the Messages API's. */
    private readonly endpoint?: EndpointOverride,
  ) {
    this.name = config.name;
    this.url = `${config.baseUrl}/messages`;
  }

  unsupportedParameters(_model: string, body: Record<string, unknown>): string[] {
    return unsupportedParameters(ANTHROPIC_PARAMETERS, body);
  }

  async complete(call: ChatCall): Promise<ChatCompletionResult> {
    const res = await this.send(call, false);
    const text = (await readBody(res, call.signal)).toString('utf8');
    let parsed: Parameters<typeof fromAnthropicResponse>[0];
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UpstreamError('protocol', 502, `${this.name} answered with malformed JSON`, { code: 'upstream_protocol_error' });
    }
    return fromAnthropicResponse(parsed, call.model);
  }

  async stream(call: ChatCall): Promise<AsyncIterable<ChatStreamEvent>> {
    const res = await this.send(call, true);
    return this.events(res, call);
  }

  private async *events(res: UpstreamResponse, call: ChatCall): AsyncGenerator<ChatStreamEvent> {
    const translator = new AnthropicStreamTranslator(call.model);
    try {
      for await (const message of readServerSentEvents(res.body)) {
        if (!message.data) continue;
        const data = JSON.parse(message.data) as Record<string, unknown>;
        const type = message.event ?? (typeof data.type === 'string' ? data.type : '');
        yield* translator.translate(type, data);
        if (translator.finished) return;
      }
    } catch (err) {
      throw err instanceof SyntaxError
        ? new UpstreamError('protocol', 502, `${this.name} sent a malformed stream event`, { code: 'upstream_protocol_error' })
        : toUpstreamError(err, call.signal);
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    throw new UpstreamError('protocol', 502, `${this.name} ended the stream early`, { code: 'upstream_stream_truncated' });
  }

  private async send(call: ChatCall, stream: boolean): Promise<UpstreamResponse> {
    const request = toAnthropicRequest({ ...call.body, stream }, call.model, this.maxOutputTokens(call.model) ?? DEFAULT_MAX_TOKENS);
    const headers: Record<string, string> = {
      ...this.config.headers,
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
    };
    const credential = this.credentials.pick(call.model);
    if (this.endpoint) Object.assign(headers, await this.endpoint.headers(call.signal));
    else {
      headers['anthropic-version'] = ANTHROPIC_VERSION;
      if (credential?.apiKey) headers['x-api-key'] = credential.apiKey;
    }
    const body = this.endpoint?.body ? this.endpoint.body(request) : request;
    const url = this.endpoint?.url(call.model, stream) ?? this.url;
    const res = await this.http.post({ url, headers, body: JSON.stringify(body), signal: call.signal, onOutcome: this.credentials.outcomeListener(credential, call.model) });
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    const text = await refusalText(res, call.signal, [credential?.apiKey]);
    throw this.credentials.report(credential, upstreamHttpError(res.statusCode, text, parseRetryAfter(res.headers)), call.model);
  }
}


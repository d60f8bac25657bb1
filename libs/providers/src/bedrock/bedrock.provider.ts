import { randomUUID } from 'node:crypto';
import type { ProviderConfig } from '@tokenhub/config';
import type { ChatCall, ChatCompletionResult, ChatProvider, ChatStreamEvent, EmbeddingsCall, EmbeddingsResult } from '../chat-provider.interface';
import { fromCohereEmbedResponse, toCohereEmbedRequest, COHERE_MAX_TEXTS } from '../cohere/cohere-embeddings';
import { inBatches, requireTextInput } from '../openai-compatible/openai-embeddings';
import { bedrockEmbedFamily, fromTitanEmbedResponse, toTitanEmbedRequest } from './bedrock-embeddings';
import { BEDROCK_PARAMETERS, unsupportedParameters } from '../translation/parameter-support';
import { CredentialPool } from '../credentials/credential-pool';
import { readBody, refusalText } from '../http/upstream-call';
import { toUpstreamError, UpstreamHttpClient, UpstreamResponse } from '../http/upstream-http-client';
import { parseRetryAfter, UpstreamError, upstreamHttpError } from '../upstream-error';
import { ConverseStreamTranslator, fromConverseResponse, streamException, toConverseRequest } from './bedrock-translation';
import { EventStreamError, readEventStream } from './event-stream';
import { signRequest } from './sigv4';

/** Amazon Bedrock's Converse API, SigV4-signed, translated to and from OpenAI chat completions. */
export class BedrockProvider implements ChatProvider {
  readonly name: string;

  constructor(
    private readonly config: ProviderConfig,
    private readonly http: UpstreamHttpClient,
    readonly credentials: CredentialPool = new CredentialPool(config.name, config.credentials, () => undefined),
  ) {
    this.name = config.name;
    if (!config.aws) throw new Error(`provider ${config.name} has no AWS credentials`);
  }

  unsupportedParameters(_model: string, body: Record<string, unknown>): string[] {
    return unsupportedParameters(BEDROCK_PARAMETERS, body);
  }

  async complete(call: ChatCall): Promise<ChatCompletionResult> {
    const res = await this.send(call, false);
    const text = (await readBody(res, call.signal)).toString('utf8');
    let parsed: Parameters<typeof fromConverseResponse>[0];
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UpstreamError('protocol', 502, `${this.name} answered with malformed JSON`, { code: 'upstream_protocol_error' });
    }
    return fromConverseResponse(parsed, call.model, chatId(res));
  }

  /**
   * InvokeModel (`/model/{id}/invoke`) with the model's own body: Titan one text a call (8
   * at a time), Cohere Embed up to 96 texts a call, its token count read from the
   * `X-Amzn-Bedrock-Input-Token-Count` header.
   */
  async embed(call: EmbeddingsCall): Promise<EmbeddingsResult> {
    requireTextInput(this.name, call);
    const family = bedrockEmbedFamily(this.name, call.model);
    const url = `${this.config.baseUrl}/model/${encodeURIComponent(call.model)}/invoke`;
    if (family === 'titan') {
      return inBatches(call.input, 1, 8, async ([text]) => {
        const res = await this.post(url, JSON.stringify(toTitanEmbedRequest(text, call)), call.model, call.signal, 'application/json');
        return fromTitanEmbedResponse(this.name, (await readBody(res, call.signal)).toString('utf8'));
      });
    }
    return inBatches(call.input, COHERE_MAX_TEXTS, 4, async (texts) => {
      const res = await this.post(url, JSON.stringify(toCohereEmbedRequest(texts, call, false)), call.model, call.signal, 'application/json');
      const tokens = Number(res.headers['x-amzn-bedrock-input-token-count']);
      return fromCohereEmbedResponse(this.name, (await readBody(res, call.signal)).toString('utf8'), texts.length, Number.isFinite(tokens) ? tokens : undefined);
    });
  }

  async stream(call: ChatCall): Promise<AsyncIterable<ChatStreamEvent>> {
    const res = await this.send(call, true);
    return this.events(res, call);
  }

  private async *events(res: UpstreamResponse, call: ChatCall): AsyncGenerator<ChatStreamEvent> {
    const translator = new ConverseStreamTranslator(call.model, chatId(res));
    try {
      for await (const message of readEventStream(res.body)) {
        const messageType = message.headers[':message-type'];
        const payload = message.payload.toString('utf8');
        if (messageType === 'exception' || messageType === 'error') {
          const type = String(message.headers[':exception-type'] ?? message.headers[':error-code'] ?? 'exception');
          throw streamException(type, payload || String(message.headers[':error-message'] ?? ''));
        }
        const type = String(message.headers[':event-type'] ?? '');
        yield* translator.translate(type, payload ? (JSON.parse(payload) as Record<string, unknown>) : {});
        if (translator.finished) return;
      }
    } catch (err) {
      throw err instanceof SyntaxError || err instanceof EventStreamError
        ? new UpstreamError('protocol', 502, `${this.name} sent a malformed stream event`, { code: 'upstream_protocol_error' })
        : toUpstreamError(err, call.signal);
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    if (translator.complete) return;
    throw new UpstreamError('protocol', 502, `${this.name} ended the stream early`, { code: 'upstream_stream_truncated' });
  }

  private async send(call: ChatCall, stream: boolean): Promise<UpstreamResponse> {
    const body = JSON.stringify(toConverseRequest(call.body));
    const url = `${this.config.baseUrl}/model/${encodeURIComponent(call.model)}/${stream ? 'converse-stream' : 'converse'}`;
    return this.post(url, body, call.model, call.signal, stream ? 'application/vnd.amazon.eventstream' : 'application/json');
  }

  /** Posts a SigV4-signed request for `model`; a non-2xx answer is thrown as an `UpstreamError`, secrets redacted. */
  private async post(url: string, body: string, model: string, signal: AbortSignal, accept: string): Promise<UpstreamResponse> {
    const aws = this.config.aws!;
    const credential = this.credentials.pick(model);
    const plain = { ...this.config.headers, 'content-type': 'application/json', accept };
    const { accessKeyId, secretAccessKey, sessionToken } = aws;
    const headers =
      accessKeyId && secretAccessKey
        ? signRequest({ method: 'POST', url, headers: plain, body, service: 'bedrock', region: aws.region, credentials: { accessKeyId, secretAccessKey, sessionToken } })
        : plain;
    const res = await this.http.post({ url, headers, body, signal, onOutcome: this.credentials.outcomeListener(credential, model) });
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    const text = await refusalText(res, signal, [aws.secretAccessKey, aws.sessionToken]);
    throw this.credentials.report(credential, upstreamHttpError(res.statusCode, text, parseRetryAfter(res.headers)), model);
  }
}

function chatId(res: UpstreamResponse): string {
  const requestId = res.headers['x-amzn-requestid'];
  return `chatcmpl-${typeof requestId === 'string' && requestId ? requestId.replace(/-/g, '') : randomUUID().replace(/-/g, '')}`;
}

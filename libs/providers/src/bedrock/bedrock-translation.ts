import type { ChatStreamEvent, TokenUsage } from '../chat-provider.interface';
import { chatCompletionBody, ChunkBuilder, FinishReason, OpenAIToolCall } from '../translation/openai-shapes';
import { UpstreamError } from '../upstream-error';
import { alternatingTurns, jsonModeInstruction, OpenAIMessage, providerRefusal } from '../translation/openai-request';
import { BEDROCK_PARAMETERS, refuseUnsupported } from '../translation/parameter-support';

/**
 * Translation between OpenAI chat completions and Amazon Bedrock's Converse API
 * (`POST /model/{modelId}/converse` and `/converse-stream`).
 *
 * Requests: system/developer messages become `system: [{text}]`; consecutive messages of
 * the same role are merged (Converse requires user/assistant alternation, starting with
 * user); tool results become user `toolResult` blocks; images must be base64 data URLs
 * (Converse takes bytes, not URLs). Sampling goes to `inferenceConfig`. Parameters Converse
 * cannot honour (seed, logit_bias, logprobs, penalties, n > 1) are refused with a 400
 * (translation/parameter-support.ts).
 */

type Block = Record<string, unknown>;

const invalid = (message: string, param: string) => providerRefusal('bedrock', message, param);

const DATA_URL = /^data:image\/([a-z0-9.+-]+);base64,(.*)$/is;
const IMAGE_FORMATS: Record<string, string> = { png: 'png', jpeg: 'jpeg', jpg: 'jpeg', gif: 'gif', webp: 'webp' };

function imageBlock(url: string, index: number): Block {
  const data = DATA_URL.exec(url);
  if (data) {
    const format = IMAGE_FORMATS[data[1].toLowerCase()];
    if (!format) throw invalid(`image format '${data[1]}' is not supported (png, jpeg, gif, webp)`, `messages[${index}].content`);
    return { image: { format, source: { bytes: data[2] } } };
  }
  if (/^https?:\/\//i.test(url)) throw invalid('image URLs are not supported; send the image as a base64 data URL', `messages[${index}].content`);
  throw invalid('image_url must be a base64 data URL', `messages[${index}].content`);
}

function contentBlocks(content: unknown, index: number): Block[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content.length ? [{ text: content }] : [];
  if (!Array.isArray(content)) throw invalid('message content must be a string or an array of parts', `messages[${index}].content`);
  const blocks: Block[] = [];
  for (const part of content as Array<Record<string, any>>) {
    if (part?.type === 'text') {
      if (typeof part.text === 'string' && part.text.length) blocks.push({ text: part.text });
    } else if (part?.type === 'image_url') {
      const url = typeof part.image_url === 'string' ? part.image_url : part.image_url?.url;
      if (typeof url !== 'string') throw invalid('image_url.url is required', `messages[${index}].content`);
      blocks.push(imageBlock(url, index));
    } else {
      throw invalid(`content part type '${String(part?.type)}' is not supported`, `messages[${index}].content`);
    }
  }
  return blocks;
}

function mapToolChoice(choice: unknown): Record<string, unknown> | undefined {
  if (choice === undefined || choice === null || choice === 'auto') return { auto: {} };
  if (choice === 'required') return { any: {} };
  const name = (choice as { function?: { name?: unknown } })?.function?.name;
  if (typeof name === 'string') return { tool: { name } };
  throw invalid('unsupported tool_choice', 'tool_choice');
}

/** The Converse request body for an OpenAI chat completions body (the model goes in the URL). */
export function toConverseRequest(body: Record<string, any>): Record<string, unknown> {
  if (!Array.isArray(body.messages)) throw invalid('messages must be an array', 'messages');
  refuseUnsupported('bedrock', BEDROCK_PARAMETERS, body);
  const { system: instructions, turns: messages } = alternatingTurns<Block>(body.messages as OpenAIMessage[], {
    provider: 'bedrock',
    content: contentBlocks,
    toolUse: (toolUseId, name, input) => ({ toolUse: { toolUseId, name, input } }),
    toolResult: (toolUseId, text) => ({ toolResult: { toolUseId, content: [{ text }] } }),
    isToolResult: (b) => 'toolResult' in b,
    text: (text) => ({ text }),
  });
  const jsonMode = jsonModeInstruction(body.response_format);
  const system: Block[] = [...instructions, ...(jsonMode ? [jsonMode] : [])].map((text) => ({ text }));

  const req: Record<string, unknown> = { messages };
  if (system.length) req.system = system;
  const inference: Record<string, unknown> = {};
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) {
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw invalid('max_tokens must be a positive integer', body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens');
    inference.maxTokens = maxTokens;
  }
  if (typeof body.temperature === 'number') inference.temperature = body.temperature;
  if (typeof body.top_p === 'number') inference.topP = body.top_p;
  if (body.stop !== undefined && body.stop !== null) inference.stopSequences = Array.isArray(body.stop) ? body.stop : [body.stop];
  if (Object.keys(inference).length) req.inferenceConfig = inference;
  if (Array.isArray(body.tools) && body.tools.length && body.tool_choice !== 'none') {
    const tools = body.tools.map((t: { type?: string; function?: { name?: string; description?: string; parameters?: unknown } }, i: number) => {
      if (t?.type !== 'function' || typeof t.function?.name !== 'string') throw invalid('only function tools are supported', `tools[${i}]`);
      return {
        toolSpec: {
          name: t.function.name,
          ...(t.function.description ? { description: t.function.description } : {}),
          inputSchema: { json: t.function.parameters ?? { type: 'object', properties: {} } },
        },
      };
    });
    req.toolConfig = { tools, toolChoice: mapToolChoice(body.tool_choice) };
  }
  return req;
}

export interface ConverseUsage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

/** Bedrock's `inputTokens` excludes cache reads and writes; TokenHub counts them as prompt tokens. */
export function fromConverseUsage(u: ConverseUsage | undefined): TokenUsage | null {
  if (!u) return null;
  const cached = u.cacheReadInputTokens ?? 0;
  const written = u.cacheWriteInputTokens ?? 0;
  const promptTokens = (u.inputTokens ?? 0) + cached + written;
  const completionTokens = u.outputTokens ?? 0;
  return {
    promptTokens,
    completionTokens,
    cachedTokens: cached,
    totalTokens: Math.max(u.totalTokens ?? 0, promptTokens + completionTokens),
    ...(written ? { cacheWriteTokens: written } : {}),
  };
}

export function finishReasonOf(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    default:
      return 'stop';
  }
}

interface ConverseResponse {
  output?: { message?: { role?: string; content?: Array<{ text?: string; toolUse?: { toolUseId?: string; name?: string; input?: unknown } }> } };
  stopReason?: string;
  usage?: ConverseUsage;
}

/** The OpenAI `chat.completion` for a Converse response. */
export function fromConverseResponse(res: ConverseResponse, model: string, id: string): { body: Buffer; usage: TokenUsage | null } {
  const content = res?.output?.message?.content;
  if (!Array.isArray(content)) throw new UpstreamError('protocol', 502, 'bedrock answered without a message', { code: 'upstream_protocol_error' });
  const text = content.map((b) => (typeof b.text === 'string' ? b.text : '')).join('');
  const toolCalls: OpenAIToolCall[] = content
    .filter((b) => b.toolUse)
    .map((b) => ({ id: b.toolUse!.toolUseId ?? '', type: 'function', function: { name: b.toolUse!.name ?? '', arguments: JSON.stringify(b.toolUse!.input ?? {}) } }));
  const usage = fromConverseUsage(res.usage);
  const body = chatCompletionBody({
    id,
    model,
    content: text.length || !toolCalls.length ? text : null,
    toolCalls,
    finishReason: finishReasonOf(res.stopReason),
    usage,
  });
  return { body, usage };
}

/**
 * Turns ConverseStream events into OpenAI chunks. Tool calls get OpenAI indexes in the
 * order their blocks start; content block indexes (which count text blocks too) map to them.
 * The finish chunk waits for `metadata` (which carries usage and follows `messageStop`).
 */
export class ConverseStreamTranslator {
  private readonly chunks: ChunkBuilder;
  private readonly toolIndexByBlock = new Map<number, number>();
  private stopReason: string | null = null;
  private roleSent = false;
  private stopped = false;
  finished = false;

  constructor(model: string, id: string) {
    this.chunks = new ChunkBuilder(id, model);
  }

  private ensureRole(out: ChatStreamEvent[]): void {
    if (!this.roleSent) {
      out.push(this.chunks.role());
      this.roleSent = true;
    }
  }

  translate(type: string, data: Record<string, any>): ChatStreamEvent[] {
    const out: ChatStreamEvent[] = [];
    switch (type) {
      case 'messageStart':
        this.ensureRole(out);
        break;
      case 'contentBlockStart': {
        this.ensureRole(out);
        const toolUse = data.start?.toolUse;
        if (toolUse) {
          const index = this.toolIndexByBlock.size;
          this.toolIndexByBlock.set(data.contentBlockIndex, index);
          out.push(this.chunks.toolCallStart(index, toolUse.toolUseId, toolUse.name));
        }
        break;
      }
      case 'contentBlockDelta': {
        this.ensureRole(out);
        const delta = data.delta ?? {};
        if (typeof delta.text === 'string' && delta.text) out.push(this.chunks.text(delta.text));
        else if (delta.toolUse && typeof delta.toolUse.input === 'string' && delta.toolUse.input) {
          const index = this.toolIndexByBlock.get(data.contentBlockIndex);
          if (index !== undefined) out.push(this.chunks.toolCallArguments(index, delta.toolUse.input));
        }
        break;
      }
      case 'messageStop':
        this.ensureRole(out);
        this.stopReason = data.stopReason ?? null;
        this.stopped = true;
        out.push(this.chunks.finish(finishReasonOf(this.stopReason)));
        break;
      case 'metadata': {
        const usage = fromConverseUsage(data.usage);
        if (usage) out.push(this.chunks.usage(usage));
        if (this.stopped) this.finished = true;
        break;
      }
      default:
        // contentBlockStop, unknown future events.
        break;
    }
    return out;
  }

  /** The stream ended: fine when the message stopped (metadata is optional). */
  get complete(): boolean {
    return this.stopped;
  }
}

/** An exception event (`:message-type: exception`) as an UpstreamError. */
export function streamException(exceptionType: string, payload: string): UpstreamError {
  let message = payload;
  try {
    const parsed = JSON.parse(payload) as { message?: string; Message?: string };
    message = parsed.message ?? parsed.Message ?? payload;
  } catch {
    // keep the raw text
  }
  const status: Record<string, number> = {
    throttlingException: 429,
    serviceUnavailableException: 503,
    modelStreamErrorException: 502,
    internalServerException: 500,
    validationException: 400,
    modelTimeoutException: 504,
  };
  return new UpstreamError('protocol', status[exceptionType] ?? 502, `bedrock: ${exceptionType}: ${message}`.slice(0, 500), { code: exceptionType || 'upstream_stream_error' });
}

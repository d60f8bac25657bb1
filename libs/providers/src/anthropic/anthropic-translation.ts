import type { ChatStreamEvent, TokenUsage } from '../chat-provider.interface';
import { chatCompletionBody, ChunkBuilder, FinishReason, OpenAIToolCall } from '../translation/openai-shapes';
import { UpstreamError } from '../upstream-error';
import { alternatingTurns, jsonModeInstruction, OpenAIMessage, providerRefusal } from '../translation/openai-request';
import { ANTHROPIC_PARAMETERS, refuseUnsupported } from '../translation/parameter-support';

/**
 * Translation between OpenAI chat completions and Anthropic's Messages API
 * (`POST /v1/messages`, `anthropic-version: 2023-06-01`).
 *
 * Requests: system/developer messages become the top-level `system`; consecutive messages
 * of the same role are merged (Anthropic requires user/assistant alternation, starting
 * with user); tool results become user `tool_result` blocks; `max_tokens` is required by
 * Anthropic and defaults to the model's catalog maximum (else 4096). `response_format`
 * json_object / json_schema has no native equivalent and becomes a system instruction.
 * Parameters Anthropic cannot honour (n > 1, seed, penalties, logprobs, ...) are refused:
 * see translation/parameter-support.ts.
 */

export const DEFAULT_MAX_TOKENS = 4096;

type Block = Record<string, unknown>;

const invalid = (message: string, param: string) => providerRefusal('anthropic', message, param);

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageBlock(url: string, index: number): Block {
  const data = DATA_URL.exec(url);
  if (data) return { type: 'image', source: { type: 'base64', media_type: data[1], data: data[2] } };
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw invalid('image_url must be an http(s) URL or a base64 data URL', `messages[${index}].content`);
}

function contentBlocks(content: unknown, index: number): Block[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content.length ? [{ type: 'text', text: content }] : [];
  if (!Array.isArray(content)) throw invalid('message content must be a string or an array of parts', `messages[${index}].content`);
  const blocks: Block[] = [];
  for (const part of content as Array<Record<string, any>>) {
    if (part?.type === 'text') {
      if (typeof part.text === 'string' && part.text.length) blocks.push({ type: 'text', text: part.text });
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

function mapToolChoice(choice: unknown, parallel: unknown): Record<string, unknown> | undefined {
  const disableParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined || choice === null) return parallel === false ? { type: 'auto', ...disableParallel } : undefined;
  if (choice === 'auto') return { type: 'auto', ...disableParallel };
  if (choice === 'required') return { type: 'any', ...disableParallel };
  if (choice === 'none') return { type: 'none' };
  const name = (choice as { function?: { name?: unknown } })?.function?.name;
  if (typeof name === 'string') return { type: 'tool', name, ...disableParallel };
  throw invalid('unsupported tool_choice', 'tool_choice');
}

/** The Anthropic Messages request for an OpenAI chat completions body. */
export function toAnthropicRequest(body: Record<string, any>, model: string, defaultMaxTokens: number = DEFAULT_MAX_TOKENS): Record<string, unknown> {
  if (!Array.isArray(body.messages)) throw invalid('messages must be an array', 'messages');
  refuseUnsupported('anthropic', ANTHROPIC_PARAMETERS, body);
  const { system, turns: messages } = alternatingTurns<Block>(body.messages as OpenAIMessage[], {
    provider: 'anthropic',
    content: contentBlocks,
    toolUse: (id, name, input) => ({ type: 'tool_use', id, name, input }),
    toolResult: (toolUseId, text) => ({ type: 'tool_result', tool_use_id: toolUseId, content: text }),
    isToolResult: (b) => b.type === 'tool_result',
    text: (text) => ({ type: 'text', text }),
  });
  const jsonMode = jsonModeInstruction(body.response_format);
  if (jsonMode) system.push(jsonMode);

  const req: Record<string, unknown> = { model, messages };
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) {
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw invalid('max_tokens must be a positive integer', body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens');
    req.max_tokens = maxTokens;
  } else req.max_tokens = defaultMaxTokens;
  if (system.length) req.system = system.join('\n\n');
  if (body.temperature !== undefined && body.temperature !== null) {
    if (typeof body.temperature !== 'number' || body.temperature < 0 || body.temperature > 1) {
      throw invalid(`temperature must be between 0 and 1 for Anthropic models (got ${String(body.temperature)})`, 'temperature');
    }
    req.temperature = body.temperature;
  }
  if (typeof body.top_p === 'number') req.top_p = body.top_p;
  if (body.stop !== undefined && body.stop !== null) req.stop_sequences = Array.isArray(body.stop) ? body.stop : [body.stop];
  if (typeof body.user === 'string') req.metadata = { user_id: body.user };
  if (Array.isArray(body.tools) && body.tools.length) {
    req.tools = body.tools.map((t: { type?: string; function?: { name?: string; description?: string; parameters?: unknown } }, i: number) => {
      if (t?.type !== 'function' || typeof t.function?.name !== 'string') throw invalid('only function tools are supported', `tools[${i}]`);
      return {
        name: t.function.name,
        ...(t.function.description ? { description: t.function.description } : {}),
        input_schema: t.function.parameters ?? { type: 'object', properties: {} },
      };
    });
  }
  const toolChoice = req.tools ? mapToolChoice(body.tool_choice, body.parallel_tool_calls) : undefined;
  if (toolChoice) req.tool_choice = toolChoice;
  if (body.stream === true) req.stream = true;
  return req;
}

export interface AnthropicUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

/** Anthropic counts cached and cache-written tokens apart from `input_tokens`; TokenHub counts them as prompt tokens. */
export function fromAnthropicUsage(u: AnthropicUsage | undefined): TokenUsage | null {
  if (!u) return null;
  const cached = u.cache_read_input_tokens ?? 0;
  const written = u.cache_creation_input_tokens ?? 0;
  const promptTokens = (u.input_tokens ?? 0) + cached + written;
  const completionTokens = u.output_tokens ?? 0;
  return { promptTokens, completionTokens, cachedTokens: cached, totalTokens: promptTokens + completionTokens, ...(written ? { cacheWriteTokens: written } : {}) };
}

export function finishReasonOf(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

interface AnthropicResponse {
  id?: string;
  type?: string;
  content?: Array<{ type: string; text?: string; id?: string; name?: string; input?: unknown }>;
  stop_reason?: string | null;
  usage?: AnthropicUsage;
}

/** The OpenAI `chat.completion` for an Anthropic Messages response. */
export function fromAnthropicResponse(res: AnthropicResponse, model: string): { body: Buffer; usage: TokenUsage | null } {
  if (!res || res.type !== 'message' || !Array.isArray(res.content)) {
    throw new UpstreamError('protocol', 502, 'anthropic answered without a message', { code: 'upstream_protocol_error' });
  }
  const text = res.content.filter((b) => b.type === 'text').map((b) => b.text ?? '').join('');
  const toolCalls: OpenAIToolCall[] = res.content
    .filter((b) => b.type === 'tool_use')
    .map((b) => ({ id: b.id ?? '', type: 'function', function: { name: b.name ?? '', arguments: JSON.stringify(b.input ?? {}) } }));
  const usage = fromAnthropicUsage(res.usage);
  const body = chatCompletionBody({
    id: `chatcmpl-${res.id ?? Date.now().toString(36)}`,
    model,
    content: text.length || !toolCalls.length ? text : null,
    toolCalls,
    finishReason: finishReasonOf(res.stop_reason),
    usage,
  });
  return { body, usage };
}

/**
 * Turns Anthropic's stream events into OpenAI chunks, one event at a time. Tool calls get
 * OpenAI indexes in the order their blocks start; content block indexes (which count text
 * blocks too) map to them.
 */
export class AnthropicStreamTranslator {
  private chunks: ChunkBuilder | null = null;
  private readonly toolIndexByBlock = new Map<number, number>();
  private usage: AnthropicUsage = {};
  private stopReason: string | null = null;
  private roleSent = false;
  finished = false;

  constructor(private readonly model: string) {}

  private builder(id?: string): ChunkBuilder {
    this.chunks ??= new ChunkBuilder(`chatcmpl-${id ?? Date.now().toString(36)}`, this.model);
    return this.chunks;
  }

  /** The OpenAI events for one Anthropic event (`type` is the SSE event name or the data's `type`). */
  translate(type: string, data: Record<string, any>): ChatStreamEvent[] {
    const out: ChatStreamEvent[] = [];
    switch (type) {
      case 'message_start': {
        const b = this.builder(data.message?.id);
        this.usage = { ...(data.message?.usage ?? {}) };
        if (!this.roleSent) {
          out.push(b.role());
          this.roleSent = true;
        }
        break;
      }
      case 'content_block_start': {
        const block = data.content_block ?? {};
        if (block.type === 'tool_use') {
          const index = this.toolIndexByBlock.size;
          this.toolIndexByBlock.set(data.index, index);
          out.push(this.builder().toolCallStart(index, block.id, block.name));
        } else if (block.type === 'text' && block.text) out.push(this.builder().text(block.text));
        break;
      }
      case 'content_block_delta': {
        const delta = data.delta ?? {};
        if (delta.type === 'text_delta' && delta.text) out.push(this.builder().text(delta.text));
        else if (delta.type === 'input_json_delta' && delta.partial_json) {
          const index = this.toolIndexByBlock.get(data.index);
          if (index !== undefined) out.push(this.builder().toolCallArguments(index, delta.partial_json));
        }
        break;
      }
      case 'message_delta':
        if (data.delta?.stop_reason !== undefined) this.stopReason = data.delta.stop_reason;
        if (data.usage) {
          // message_delta usage is cumulative: it overrides what message_start said.
          for (const [k, v] of Object.entries(data.usage)) if (v !== null && v !== undefined) (this.usage as Record<string, unknown>)[k] = v;
        }
        break;
      case 'message_stop': {
        const b = this.builder();
        out.push(b.finish(finishReasonOf(this.stopReason)));
        const usage = fromAnthropicUsage(this.usage);
        if (usage) out.push(b.usage(usage));
        this.finished = true;
        break;
      }
      case 'error':
        throw new UpstreamError('protocol', 502, `anthropic: ${data.error?.message ?? 'stream error'}`, {
          type: data.error?.type,
          code: data.error?.type ?? 'upstream_stream_error',
        });
      default:
        // ping, content_block_stop, unknown future events.
        break;
    }
    return out;
  }
}

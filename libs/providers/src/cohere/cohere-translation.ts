import { InvalidRequestError } from '@tokenhub/common';
import type { ChatStreamEvent, TokenUsage } from '../chat-provider.interface';
import { chatCompletionBody, ChunkBuilder, FinishReason, OpenAIToolCall } from '../translation/openai-shapes';
import { UpstreamError } from '../upstream-error';
import { COHERE_PARAMETERS, refuseUnsupported } from '../translation/parameter-support';

/**
 * Translation between OpenAI chat completions and Cohere's v2 Chat API (`POST /v2/chat`).
 * Requests Cohere cannot honour are refused with a 400 naming the provider and the parameter.
 */

type Json = Record<string, unknown>;

export interface CohereUsage {
  billed_units?: { input_tokens?: number; output_tokens?: number };
  tokens?: { input_tokens?: number; output_tokens?: number };
  cached_tokens?: number;
}

export interface CohereToolCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

export interface CohereChatResponse {
  id?: string;
  finish_reason?: string;
  message?: { role?: string; content?: Array<{ type?: string; text?: string }>; tool_plan?: string; tool_calls?: CohereToolCall[] };
  usage?: CohereUsage;
}

function unsupported(provider: string, param: string, detail = `${param} is not supported`): InvalidRequestError {
  return new InvalidRequestError(`${provider}: ${detail} by this provider.`, param, 'unsupported_parameter');
}

function invalid(provider: string, param: string, detail: string): InvalidRequestError {
  return new InvalidRequestError(`${provider}: ${detail}`, param, 'invalid_value');
}

const present = (v: unknown) => v !== undefined && v !== null;

/** The text of an OpenAI content value (a string or text parts), for roles Cohere takes as text. */
function textOf(provider: string, content: unknown, param: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalid(provider, param, `${param} must be a string or an array of content parts.`);
  return content
    .map((part: { type?: string; text?: unknown }) => {
      if (part?.type === 'text' && typeof part.text === 'string') return part.text;
      if (part?.type === 'refusal') return '';
      throw unsupported(provider, param, `content parts of type ${String(part?.type)} in this message are not supported`);
    })
    .join('');
}

function userContent(provider: string, content: unknown, param: string): unknown {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalid(provider, param, `${param} must be a string or an array of content parts.`);
  return content.map((part: { type?: string; text?: unknown; image_url?: { url?: unknown; detail?: unknown } }) => {
    if (part?.type === 'text') return { type: 'text', text: String(part.text ?? '') };
    if (part?.type === 'image_url' && typeof part.image_url?.url === 'string') {
      const image: Json = { url: part.image_url.url };
      if (part.image_url.detail === 'low' || part.image_url.detail === 'high' || part.image_url.detail === 'auto') image.detail = part.image_url.detail;
      return { type: 'image_url', image_url: image };
    }
    throw unsupported(provider, param, `content parts of type ${String(part?.type)} are not supported`);
  });
}

function translateMessages(provider: string, messages: unknown): Json[] {
  if (!Array.isArray(messages) || messages.length === 0) throw invalid(provider, 'messages', 'messages must be a non-empty array.');
  return messages.map((m: Json, i) => {
    const param = `messages[${i}].content`;
    switch (m?.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: textOf(provider, m.content, param) };
      case 'user':
        return { role: 'user', content: userContent(provider, m.content, param) };
      case 'assistant': {
        const out: Json = { role: 'assistant' };
        const text = textOf(provider, m.content, param);
        const calls = Array.isArray(m.tool_calls) ? (m.tool_calls as OpenAIToolCall[]) : [];
        if (calls.length) {
          out.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.function?.name, arguments: c.function?.arguments ?? '{}' } }));
          // Cohere's reasoning before its tool calls; OpenAI carries it as the content.
          if (text) out.tool_plan = text;
        } else {
          out.content = text;
        }
        return out;
      }
      case 'tool':
        return { role: 'tool', tool_call_id: m.tool_call_id, content: textOf(provider, m.content, param) };
      default:
        throw unsupported(provider, `messages[${i}].role`, `the message role ${JSON.stringify(m?.role)} is not supported`);
    }
  });
}

function inRange(provider: string, body: Json, param: string, min: number, max: number): number | undefined {
  const v = body[param];
  if (!present(v)) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw invalid(provider, param, `${param} must be between ${min} and ${max} for this provider (got ${JSON.stringify(v)}).`);
  }
  return v;
}

/** The Cohere `/v2/chat` body for an OpenAI chat completions request. */
export function toCohereRequest(provider: string, model: string, body: Json, stream: boolean): Json {
  refuseUnsupported(provider, COHERE_PARAMETERS, body);

  const out: Json = { model, messages: translateMessages(provider, body.messages) };
  if (stream) out.stream = true;

  const temperature = inRange(provider, body, 'temperature', 0, 1);
  if (temperature !== undefined) out.temperature = temperature;
  const topP = inRange(provider, body, 'top_p', 0, 1);
  // Cohere takes p in [0.01, 0.99].
  if (topP !== undefined) out.p = Math.min(0.99, Math.max(0.01, topP));
  const frequency = inRange(provider, body, 'frequency_penalty', 0, 1);
  if (frequency !== undefined) out.frequency_penalty = frequency;
  const presence = inRange(provider, body, 'presence_penalty', 0, 1);
  if (presence !== undefined) out.presence_penalty = presence;

  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (present(maxTokens)) out.max_tokens = maxTokens;
  if (present(body.seed)) out.seed = body.seed;
  if (present(body.stop)) {
    const stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
    if (!Array.isArray(stop)) throw invalid(provider, 'stop', 'stop must be a string or an array of strings.');
    if (stop.length) out.stop_sequences = stop;
  }

  const format = body.response_format as { type?: string; json_schema?: { schema?: unknown } } | undefined;
  if (format && format.type === 'json_object') out.response_format = { type: 'json_object' };
  else if (format && format.type === 'json_schema') {
    out.response_format = { type: 'json_object', ...(format.json_schema?.schema ? { json_schema: format.json_schema.schema } : {}) };
  } else if (format && format.type !== 'text') throw unsupported(provider, 'response_format', `response_format of type ${String(format.type)} is not supported`);

  if (Array.isArray(body.tools) && body.tools.length) {
    out.tools = (body.tools as Array<{ type?: string; function?: { name?: string; description?: string; parameters?: unknown } }>).map((t, i) => {
      if (t?.type !== 'function' || !t.function?.name) throw unsupported(provider, `tools[${i}]`, 'tools other than functions are not supported');
      const fn: Json = { name: t.function.name };
      if (t.function.description !== undefined) fn.description = t.function.description;
      fn.parameters = t.function.parameters ?? { type: 'object', properties: {} };
      return { type: 'function', function: fn };
    });
  }
  const choice = body.tool_choice;
  if (present(choice) && choice !== 'auto') {
    if (choice === 'none') out.tool_choice = 'NONE';
    else if (choice === 'required') out.tool_choice = 'REQUIRED';
    else throw unsupported(provider, 'tool_choice', 'a tool_choice naming a specific function is not supported');
  }
  return out;
}

export function fromCohereUsage(u: CohereUsage | undefined | null): TokenUsage | null {
  if (!u) return null;
  const input = u.tokens?.input_tokens ?? u.billed_units?.input_tokens;
  const output = u.tokens?.output_tokens ?? u.billed_units?.output_tokens;
  if (input === undefined && output === undefined) return null;
  const promptTokens = input ?? 0;
  const completionTokens = output ?? 0;
  const cachedTokens = Math.min(promptTokens, u.cached_tokens ?? 0);
  return { promptTokens, completionTokens, cachedTokens, totalTokens: promptTokens + completionTokens };
}

/** Cohere's finish reason in OpenAI's words; ERROR (and anything unknown but ERROR-like) throws. */
export function finishReason(provider: string, reason: string | undefined): FinishReason {
  switch (reason) {
    case 'COMPLETE':
    case 'STOP_SEQUENCE':
      return 'stop';
    case 'MAX_TOKENS':
      return 'length';
    case 'TOOL_CALL':
      return 'tool_calls';
    case 'ERROR':
    case 'ERROR_TOXIC':
      throw new UpstreamError('protocol', 502, `${provider} stopped generating with an error`, { code: 'upstream_error' });
    default:
      return 'stop';
  }
}

export function completionId(cohereId: string | undefined): string {
  return `chatcmpl-${cohereId ?? Math.random().toString(36).slice(2)}`;
}

/** A whole Cohere response as an OpenAI `chat.completion`. */
export function fromCohereResponse(provider: string, model: string, res: CohereChatResponse): { body: Buffer; usage: TokenUsage | null } {
  if (!res || typeof res !== 'object' || !res.message) {
    throw new UpstreamError('protocol', 502, `${provider} answered without a message`, { code: 'upstream_protocol_error' });
  }
  const texts = (res.message.content ?? []).filter((c) => c?.type === 'text' && typeof c.text === 'string').map((c) => c.text as string);
  const toolCalls: OpenAIToolCall[] = (res.message.tool_calls ?? []).map((c, i) => ({
    id: c.id ?? `call_${i}`,
    type: 'function',
    function: { name: c.function?.name ?? '', arguments: c.function?.arguments || '{}' },
  }));
  const usage = fromCohereUsage(res.usage);
  const body = chatCompletionBody({
    id: completionId(res.id),
    model,
    content: texts.length ? texts.join('') : toolCalls.length ? null : '',
    toolCalls,
    finishReason: finishReason(provider, res.finish_reason),
    usage,
  });
  return { body, usage };
}

/** Turns Cohere stream events, one at a time, into OpenAI chunks. */
export class CohereStreamTranslator {
  private chunks: ChunkBuilder | null = null;
  private toolIndex = new Map<number, number>();
  private nextTool = 0;
  finished = false;

  constructor(
    private readonly provider: string,
    private readonly model: string,
  ) {}

  private builder(id?: string): ChunkBuilder {
    return (this.chunks ??= new ChunkBuilder(completionId(id), this.model));
  }

  /** The OpenAI chunks for one Cohere event (its JSON already parsed). */
  translate(event: Json): ChatStreamEvent[] {
    const type = event.type as string | undefined;
    const delta = (event.delta ?? {}) as { message?: Json; finish_reason?: string; usage?: CohereUsage; error?: string };
    const message = (delta.message ?? {}) as { content?: { text?: string }; tool_calls?: CohereToolCall };
    const out: ChatStreamEvent[] = [];
    const start = () => {
      if (!this.chunks) out.push(this.builder(event.id as string | undefined).role());
    };
    switch (type) {
      case 'message-start':
        start();
        break;
      case 'content-delta':
        start();
        if (message.content?.text) out.push(this.builder().text(message.content.text));
        break;
      case 'tool-call-start': {
        start();
        const index = this.nextTool++;
        this.toolIndex.set(Number(event.index ?? index), index);
        const call = message.tool_calls ?? {};
        out.push(this.builder().toolCallStart(index, call.id ?? `call_${index}`, call.function?.name ?? ''));
        if (call.function?.arguments) out.push(this.builder().toolCallArguments(index, call.function.arguments));
        break;
      }
      case 'tool-call-delta': {
        const index = this.toolIndex.get(Number(event.index)) ?? Math.max(0, this.nextTool - 1);
        const fragment = message.tool_calls?.function?.arguments;
        if (fragment) out.push(this.builder().toolCallArguments(index, fragment));
        break;
      }
      case 'message-end': {
        start();
        const reason = finishReason(this.provider, delta.finish_reason);
        out.push(this.builder().finish(reason));
        const usage = fromCohereUsage(delta.usage);
        if (usage) out.push(this.builder().usage(usage));
        this.finished = true;
        break;
      }
      default:
        // content-start, content-end, tool-plan-delta, tool-call-end, citation-*, debug: nothing to say.
        break;
    }
    return out;
  }
}

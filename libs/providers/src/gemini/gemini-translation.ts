import { InvalidRequestError } from '@tokenhub/common';
import type { ChatStreamEvent, TokenUsage } from '../chat-provider.interface';
import { chatCompletionBody, ChunkBuilder, FinishReason, OpenAIToolCall } from '../translation/openai-shapes';
import { GEMINI_PARAMETERS, refuseUnsupported } from '../translation/parameter-support';

/**
 * Translation between OpenAI chat completions and Gemini's `generateContent` /
 * `streamGenerateContent` (v1beta): requests one way, answers and stream events the other.
 */

export interface GeminiPart {
  text?: string;
  thought?: boolean;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType: string; fileUri: string };
  functionCall?: { name: string; args?: Record<string, unknown> };
  functionResponse?: { name: string; response: Record<string, unknown> };
}

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: GeminiPart[] };
  generationConfig?: Record<string, unknown>;
  tools?: Array<{ functionDeclarations: Array<{ name: string; description?: string; parameters?: unknown }> }>;
  toolConfig?: { functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] } };
}

export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  totalTokenCount?: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
}

export interface GeminiCandidate {
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
  index?: number;
}

export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
}

type OpenAIMessage = {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: Array<{ id: string; type?: string; function: { name: string; arguments?: string } }>;
  tool_call_id?: string;
};

function unsupported(provider: string, param: string, detail = ''): InvalidRequestError {
  return new InvalidRequestError(`Provider ${provider} (Gemini) does not support the parameter '${param}'${detail}`, param, 'unsupported_parameter');
}

/** The Gemini request for an OpenAI chat completions body. Throws `InvalidRequestError` for what Gemini cannot honour. */
export function toGeminiRequest(body: Record<string, unknown>, provider: string): GeminiRequest {
  refuseUnsupported(provider, GEMINI_PARAMETERS, body);

  const messages = body.messages as OpenAIMessage[];
  if (!Array.isArray(messages)) throw new InvalidRequestError("'messages' must be an array", 'messages');
  const system: GeminiPart[] = [];
  const contents: GeminiContent[] = [];
  const namesById = new Map<string, string>();
  const push = (role: 'user' | 'model', parts: GeminiPart[]) => {
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };

  messages.forEach((m, i) => {
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(...textParts(m.content, `messages[${i}].content`));
        break;
      case 'user':
        push('user', userParts(m.content, i));
        break;
      case 'assistant': {
        const parts: GeminiPart[] = typeof m.content === 'string' || Array.isArray(m.content) ? textParts(m.content, `messages[${i}].content`) : [];
        for (const call of m.tool_calls ?? []) {
          namesById.set(call.id, call.function.name);
          parts.push({ functionCall: { name: call.function.name, args: parseArguments(call.function.arguments, i) } });
        }
        push('model', parts);
        break;
      }
      case 'tool': {
        const name = (m.tool_call_id && namesById.get(m.tool_call_id)) ?? m.name;
        if (!name) throw new InvalidRequestError(`messages[${i}].tool_call_id does not match a tool call earlier in the conversation`, `messages[${i}].tool_call_id`);
        const text = textParts(m.content, `messages[${i}].content`).map((p) => p.text).join('');
        push('user', [{ functionResponse: { name, response: toolResponse(text) } }]);
        break;
      }
      default:
        throw new InvalidRequestError(`Provider ${provider} (Gemini) does not support messages with role '${m.role}'`, `messages[${i}].role`);
    }
  });
  if (contents.length === 0) throw new InvalidRequestError('Gemini needs at least one user or assistant message', 'messages');

  const request: GeminiRequest = { contents };
  if (system.length) request.systemInstruction = { parts: system };

  const gc: Record<string, unknown> = {};
  const num = (param: string, key: string) => {
    if (typeof body[param] === 'number') gc[key] = body[param];
  };
  num('temperature', 'temperature');
  num('top_p', 'topP');
  num('presence_penalty', 'presencePenalty');
  num('frequency_penalty', 'frequencyPenalty');
  num('seed', 'seed');
  num('n', 'candidateCount');
  num('max_tokens', 'maxOutputTokens');
  num('max_completion_tokens', 'maxOutputTokens');
  if (typeof body.stop === 'string') gc.stopSequences = [body.stop];
  else if (Array.isArray(body.stop) && body.stop.length) gc.stopSequences = body.stop;
  const format = body.response_format as { type?: string; json_schema?: { schema?: unknown } } | undefined;
  if (format?.type === 'json_object') gc.responseMimeType = 'application/json';
  else if (format?.type === 'json_schema') {
    gc.responseMimeType = 'application/json';
    if (format.json_schema?.schema) gc.responseSchema = toGeminiSchema(format.json_schema.schema);
  } else if (format && format.type !== 'text') throw unsupported(provider, 'response_format', ` of type '${format.type}'`);
  if (Object.keys(gc).length) request.generationConfig = gc;

  const tools = body.tools as Array<{ type?: string; function?: { name: string; description?: string; parameters?: unknown } }> | undefined;
  if (Array.isArray(tools) && tools.length) {
    request.tools = [
      {
        functionDeclarations: tools.map((t, i) => {
          if (t?.type !== 'function' || !t.function) throw unsupported(provider, `tools[${i}].type`, ` '${t?.type}'`);
          return {
            name: t.function.name,
            ...(t.function.description ? { description: t.function.description } : {}),
            ...(t.function.parameters ? { parameters: toGeminiSchema(t.function.parameters) } : {}),
          };
        }),
      },
    ];
  }
  const choice = body.tool_choice as string | { type?: string; function?: { name?: string } } | undefined;
  if (choice === 'auto') request.toolConfig = { functionCallingConfig: { mode: 'AUTO' } };
  else if (choice === 'none') request.toolConfig = { functionCallingConfig: { mode: 'NONE' } };
  else if (choice === 'required') request.toolConfig = { functionCallingConfig: { mode: 'ANY' } };
  else if (choice && typeof choice === 'object' && choice.function?.name) {
    request.toolConfig = { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
  }

  return request;
}

function textParts(content: unknown, param: string): GeminiPart[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  if (Array.isArray(content)) {
    return content.map((p: { type?: string; text?: string }) => {
      if (p?.type !== 'text') throw new InvalidRequestError(`Only text content is allowed in ${param}`, param);
      return { text: p.text ?? '' };
    });
  }
  throw new InvalidRequestError(`Invalid ${param}`, param);
}

function userParts(content: unknown, i: number): GeminiPart[] {
  if (!Array.isArray(content)) return textParts(content, `messages[${i}].content`);
  return content.map((p: { type?: string; text?: string; image_url?: { url?: string } | string; input_audio?: { data: string; format: string } }, j) => {
    const param = `messages[${i}].content[${j}]`;
    if (p?.type === 'text') return { text: p.text ?? '' };
    if (p?.type === 'image_url') {
      const url = typeof p.image_url === 'string' ? p.image_url : p.image_url?.url;
      if (!url) throw new InvalidRequestError(`${param}.image_url.url is required`, `${param}.image_url.url`);
      return imagePart(url, param);
    }
    if (p?.type === 'input_audio' && p.input_audio) {
      return { inlineData: { mimeType: `audio/${p.input_audio.format === 'mp3' ? 'mp3' : 'wav'}`, data: p.input_audio.data } };
    }
    throw new InvalidRequestError(`Gemini does not support content parts of type '${p?.type}'`, param);
  });
}

const DATA_URL = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s;
const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', heic: 'image/heic', heif: 'image/heif', pdf: 'application/pdf',
};

export function imagePart(url: string, param = 'image_url'): GeminiPart {
  const data = DATA_URL.exec(url);
  if (data) return { inlineData: { mimeType: data[1], data: data[2] } };
  if (/^(https?|gs):\/\//i.test(url)) return { fileData: { mimeType: guessMimeType(url), fileUri: url } };
  throw new InvalidRequestError(`${param}: an image must be a data URL or an http(s) URL`, param);
}

export function guessMimeType(url: string): string {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    // Not a URL: guess from the text.
  }
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return (ext && MIME_BY_EXTENSION[ext]) ?? 'image/jpeg';
}

function parseArguments(args: string | undefined, i: number): Record<string, unknown> {
  if (!args) return {};
  try {
    const parsed = JSON.parse(args);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : { value: parsed };
  } catch {
    throw new InvalidRequestError(`messages[${i}].tool_calls arguments are not valid JSON`, `messages[${i}].tool_calls`);
  }
}

function toolResponse(text: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
    return { result: parsed };
  } catch {
    return { result: text };
  }
}

const SCHEMA_DROPPED = new Set(['$schema', '$id', 'additionalProperties', 'strict', '$comment', 'examples']);

/** A JSON Schema as Gemini's OpenAPI-subset `Schema` takes it: keywords it refuses are dropped. */
export function toGeminiSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toGeminiSchema);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if (SCHEMA_DROPPED.has(key)) continue;
    if (key === 'properties' && value && typeof value === 'object') {
      out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toGeminiSchema(v)]));
    } else if (key === 'items' || key === 'anyOf') out[key] = toGeminiSchema(value);
    else out[key] = value;
  }
  return out;
}

// ---------- answers ----------

export function fromGeminiUsage(u: GeminiUsageMetadata | undefined): TokenUsage | null {
  if (!u) return null;
  const promptTokens = (u.promptTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0);
  const completionTokens = (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0);
  return { promptTokens, completionTokens, cachedTokens: u.cachedContentTokenCount ?? 0, totalTokens: u.totalTokenCount ?? promptTokens + completionTokens };
}

const FILTERED = new Set(['SAFETY', 'RECITATION', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'IMAGE_SAFETY']);

export function mapFinishReason(reason: string | undefined, hasToolCalls: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason && FILTERED.has(reason)) return 'content_filter';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

function candidateMessage(c: GeminiCandidate): { content: string | null; toolCalls: OpenAIToolCall[] } {
  let text = '';
  let hasText = false;
  const toolCalls: OpenAIToolCall[] = [];
  for (const part of c.content?.parts ?? []) {
    if (part.thought) continue;
    if (typeof part.text === 'string') {
      text += part.text;
      hasText = true;
    }
    if (part.functionCall) {
      toolCalls.push({ id: `call_${toolCalls.length}`, type: 'function', function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) } });
    }
  }
  return { content: hasText ? text : null, toolCalls };
}

/** The OpenAI `chat.completion` for a Gemini `GenerateContentResponse`, one choice per candidate. */
export function fromGeminiResponse(res: GeminiResponse, id: string, model: string): { body: Buffer; usage: TokenUsage | null } {
  const usage = fromGeminiUsage(res.usageMetadata);
  const candidates = res.candidates?.length ? res.candidates : [{ finishReason: res.promptFeedback?.blockReason ? 'SAFETY' : 'STOP' } as GeminiCandidate];
  const choices = candidates.map((c) => {
    const { content, toolCalls } = candidateMessage(c);
    return { content, toolCalls, finishReason: mapFinishReason(c.finishReason, toolCalls.length > 0) };
  });
  const first = choices[0];
  const body = chatCompletionBody({ id, model, content: first.content, toolCalls: first.toolCalls, finishReason: first.finishReason, usage });
  if (choices.length === 1) return { body, usage };
  const json = JSON.parse(body.toString('utf8')) as { choices: Array<Record<string, unknown>> };
  json.choices = choices.map((c, index) => ({
    index,
    message: { role: 'assistant', content: c.content, refusal: null, ...(c.toolCalls.length ? { tool_calls: c.toolCalls } : {}) },
    logprobs: null,
    finish_reason: c.finishReason,
  }));
  return { body: Buffer.from(JSON.stringify(json)), usage };
}

/** Turns the `GenerateContentResponse`s of a Gemini SSE stream into OpenAI chunks. */
export class GeminiStreamTranslator {
  private readonly chunks: ChunkBuilder;
  private started = false;
  private toolCalls = 0;
  private finishReason: string | undefined;
  private usage: TokenUsage | null = null;

  constructor(id: string, model: string) {
    this.chunks = new ChunkBuilder(id, model);
  }

  get finished(): boolean {
    return this.finishReason !== undefined;
  }

  push(res: GeminiResponse): ChatStreamEvent[] {
    const out: ChatStreamEvent[] = [];
    if (!this.started) {
      this.started = true;
      out.push(this.chunks.role());
    }
    if (res.usageMetadata) this.usage = fromGeminiUsage(res.usageMetadata);
    if (!res.candidates?.length && res.promptFeedback?.blockReason) this.finishReason = 'SAFETY';
    const c = res.candidates?.[0];
    for (const part of c?.content?.parts ?? []) {
      if (part.thought) continue;
      if (typeof part.text === 'string' && part.text) out.push(this.chunks.text(part.text));
      if (part.functionCall) {
        const index = this.toolCalls++;
        out.push(this.chunks.toolCallStart(index, `call_${index}`, part.functionCall.name));
        out.push(this.chunks.toolCallArguments(index, JSON.stringify(part.functionCall.args ?? {})));
      }
    }
    if (c?.finishReason) this.finishReason = c.finishReason;
    return out;
  }

  /** The finish chunk and the usage chunk, once the stream has ended. */
  end(): ChatStreamEvent[] {
    const out: ChatStreamEvent[] = [];
    if (!this.started) out.push(this.chunks.role());
    out.push(this.chunks.finish(mapFinishReason(this.finishReason, this.toolCalls > 0)));
    if (this.usage) out.push(this.chunks.usage(this.usage));
    return out;
  }
}

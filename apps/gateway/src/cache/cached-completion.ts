import type { TokenUsage } from '@tokenhub/providers';

export interface CachedToolCall {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

export interface CachedChoice {
  index: number;
  message: { role: string; content: string | null; refusal?: string | null; tool_calls?: CachedToolCall[] };
  finish_reason: string | null;
  logprobs?: unknown;
}

/** OpenAI's usage object, as the provider reported it. */
export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number } & Record<string, unknown>;
  completion_tokens_details?: Record<string, unknown>;
}

/**
 * A chat answer as the cache keeps it, whether it came as one JSON body or as a stream:
 * it can be replayed either way.
 */
export interface CachedCompletion {
  model: string;
  system_fingerprint?: string | null;
  choices: CachedChoice[];
  usage: OpenAIUsage | null;
}

/** From a `chat.completion` body; null when it is not one. */
export function fromCompletionBody(body: Buffer | string): CachedCompletion | null {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body.toString());
  } catch {
    return null;
  }
  if (!parsed || !Array.isArray(parsed.choices) || parsed.choices.length === 0) return null;
  const choices = (parsed.choices as Array<Record<string, unknown>>).map((c, i) => {
    const message = (c.message ?? {}) as CachedChoice['message'];
    return {
      index: typeof c.index === 'number' ? c.index : i,
      message: { ...message, role: message.role ?? 'assistant', content: message.content ?? null },
      finish_reason: (c.finish_reason as string | null) ?? null,
      ...(c.logprobs ? { logprobs: c.logprobs } : {}),
    };
  });
  return { model: String(parsed.model ?? ''), system_fingerprint: (parsed.system_fingerprint as string | null) ?? null, choices, usage: (parsed.usage as OpenAIUsage) ?? null };
}

/**
 * Assembles `chat.completion.chunk` payloads into the answer they stream: content and
 * refusals concatenated, tool calls merged by index, the finish reason and usage kept.
 */
export class CompletionAssembler {
  private model = '';
  private fingerprint: string | null = null;
  private readonly choices = new Map<number, CachedChoice>();
  private usage: OpenAIUsage | null = null;
  private broken = false;

  add(data: string): void {
    if (this.broken) return;
    let chunk: Record<string, unknown>;
    try {
      chunk = JSON.parse(data);
    } catch {
      this.broken = true;
      return;
    }
    if (typeof chunk.model === 'string') this.model = chunk.model;
    if (typeof chunk.system_fingerprint === 'string') this.fingerprint = chunk.system_fingerprint;
    if (chunk.usage) this.usage = chunk.usage as OpenAIUsage;
    for (const c of (chunk.choices ?? []) as Array<Record<string, unknown>>) {
      const index = typeof c.index === 'number' ? c.index : 0;
      let choice = this.choices.get(index);
      if (!choice) {
        choice = { index, message: { role: 'assistant', content: null }, finish_reason: null };
        this.choices.set(index, choice);
      }
      const delta = (c.delta ?? {}) as Record<string, unknown>;
      if (typeof delta.role === 'string') choice.message.role = delta.role;
      if (typeof delta.content === 'string') choice.message.content = (choice.message.content ?? '') + delta.content;
      if (typeof delta.refusal === 'string') choice.message.refusal = (choice.message.refusal ?? '') + delta.refusal;
      for (const call of (delta.tool_calls ?? []) as CachedToolCall[]) mergeToolCall(choice.message, call);
      if (c.finish_reason) choice.finish_reason = c.finish_reason as string;
    }
  }

  /** The answer, or null when a chunk was not JSON or no choice finished. */
  result(): CachedCompletion | null {
    if (this.broken || this.choices.size === 0) return null;
    const choices = [...this.choices.values()].sort((a, b) => a.index - b.index);
    if (choices.some((c) => c.finish_reason === null)) return null;
    for (const c of choices) for (const call of c.message.tool_calls ?? []) delete call.index;
    return { model: this.model, system_fingerprint: this.fingerprint, choices, usage: this.usage };
  }
}

function mergeToolCall(message: CachedChoice['message'], delta: CachedToolCall): void {
  const calls = (message.tool_calls ??= []);
  const index = delta.index ?? calls.length;
  let call = calls.find((c) => c.index === index);
  if (!call) {
    call = { index, id: delta.id, type: delta.type ?? 'function', function: { name: '', arguments: '' } };
    calls.push(call);
  }
  if (delta.id) call.id = delta.id;
  if (delta.function?.name) call.function!.name += delta.function.name;
  if (delta.function?.arguments) call.function!.arguments += delta.function.arguments;
}

export function tokenUsage(usage: OpenAIUsage | null): TokenUsage | null {
  if (!usage) return null;
  return {
    promptTokens: usage.prompt_tokens ?? 0,
    completionTokens: usage.completion_tokens ?? 0,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    totalTokens: usage.total_tokens ?? (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0),
  };
}

/** The cached answer as a `chat.completion` body. */
export function completionBody(c: CachedCompletion, id: string, created: number): string {
  return JSON.stringify({
    id,
    object: 'chat.completion',
    created,
    model: c.model,
    choices: c.choices.map((choice) => ({ index: choice.index, message: choice.message, logprobs: choice.logprobs ?? null, finish_reason: choice.finish_reason })),
    usage: c.usage,
    system_fingerprint: c.system_fingerprint ?? null,
  });
}

/** Characters per content chunk when a cached answer is replayed as a stream. */
const REPLAY_PIECE = 64;

/**
 * The cached answer as `chat.completion.chunk` payloads, in OpenAI's order: per choice a
 * role chunk, content (or refusal) chunks, tool-call chunks, a finish chunk; then the usage
 * chunk when the caller asked for it (every earlier chunk then carries `"usage": null`).
 */
export function completionChunks(c: CachedCompletion, id: string, created: number, includeUsage: boolean): string[] {
  const base = { id, object: 'chat.completion.chunk', created, model: c.model, system_fingerprint: c.system_fingerprint ?? null };
  const chunk = (index: number, delta: object, finish: string | null) =>
    JSON.stringify({ ...base, choices: [{ index, delta, logprobs: null, finish_reason: finish }], ...(includeUsage ? { usage: null } : {}) });
  const out: string[] = [];
  for (const choice of c.choices) {
    const { role, content, refusal, tool_calls } = choice.message;
    out.push(chunk(choice.index, { role, content: content === null ? null : '', ...(refusal ? { refusal: '' } : {}) }, null));
    for (const piece of pieces(content)) out.push(chunk(choice.index, { content: piece }, null));
    for (const piece of pieces(refusal ?? null)) out.push(chunk(choice.index, { refusal: piece }, null));
    (tool_calls ?? []).forEach((call, i) => {
      out.push(chunk(choice.index, { tool_calls: [{ index: i, id: call.id, type: call.type ?? 'function', function: { name: call.function?.name ?? '', arguments: '' } }] }, null));
      for (const piece of pieces(call.function?.arguments ?? null)) out.push(chunk(choice.index, { tool_calls: [{ index: i, function: { arguments: piece } }] }, null));
    });
    out.push(chunk(choice.index, {}, choice.finish_reason ?? 'stop'));
  }
  if (includeUsage) out.push(JSON.stringify({ ...base, choices: [], usage: c.usage }));
  return out;
}

function pieces(text: string | null): string[] {
  if (!text) return [];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += REPLAY_PIECE) out.push(text.slice(i, i + REPLAY_PIECE));
  return out;
}

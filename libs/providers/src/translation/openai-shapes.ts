import type { ChatStreamEvent, TokenUsage } from '../chat-provider.interface';

/**
 * Builders of the OpenAI shapes every native adapter answers with, so that a
 * `chat.completion` or a `chat.completion.chunk` looks the same whoever served it.
 */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export function toOpenAIUsage(u: TokenUsage) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.totalTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
  };
}

export interface CompletionParts {
  id: string;
  model: string;
  content: string | null;
  toolCalls?: OpenAIToolCall[];
  finishReason: FinishReason;
  usage: TokenUsage | null;
}

/** A whole `chat.completion`, as JSON bytes. */
export function chatCompletionBody(p: CompletionParts): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: p.id,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: p.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: p.content, refusal: null, ...(p.toolCalls?.length ? { tool_calls: p.toolCalls } : {}) },
          logprobs: null,
          finish_reason: p.finishReason,
        },
      ],
      ...(p.usage ? { usage: toOpenAIUsage(p.usage) } : {}),
    }),
  );
}

/** Writes the chunks of one streamed answer, all with the same id, model and creation time. */
export class ChunkBuilder {
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(
    private readonly id: string,
    private readonly model: string,
  ) {}

  private chunk(delta: object, finishReason: FinishReason | null = null): ChatStreamEvent {
    return {
      data: JSON.stringify({
        id: this.id,
        object: 'chat.completion.chunk',
        created: this.created,
        model: this.model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      }),
    };
  }

  role(): ChatStreamEvent {
    return this.chunk({ role: 'assistant', content: '' });
  }

  text(content: string): ChatStreamEvent {
    return this.chunk({ content });
  }

  /** The first delta of a tool call: its index among the answer's calls, id and name. */
  toolCallStart(index: number, id: string, name: string): ChatStreamEvent {
    return this.chunk({ tool_calls: [{ index, id, type: 'function', function: { name, arguments: '' } }] });
  }

  toolCallArguments(index: number, fragment: string): ChatStreamEvent {
    return this.chunk({ tool_calls: [{ index, function: { arguments: fragment } }] });
  }

  finish(reason: FinishReason): ChatStreamEvent {
    return this.chunk({}, reason);
  }

  /** The usage-only chunk (no choices), shown to callers that asked for `include_usage`. */
  usage(u: TokenUsage): ChatStreamEvent {
    return {
      data: JSON.stringify({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: toOpenAIUsage(u) }),
      usage: u,
      usageOnly: true,
    };
  }
}

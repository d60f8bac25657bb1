/** Token counts as TokenHub accounts them, whatever the provider calls them. */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from the provider's prompt cache (a subset of promptTokens). */
  cachedTokens: number;
  totalTokens: number;
  /** Prompt tokens written to the provider's prompt cache (a subset of promptTokens, disjoint from cachedTokens); Anthropic reports them. */
  cacheWriteTokens?: number;
}

/** One call to a provider: the OpenAI-shaped request body, already addressed to `model`. */
export interface ChatCall {
  model: string;
  body: Record<string, unknown>;
  signal: AbortSignal;
}

export interface ChatCompletionResult {
  /** The OpenAI `chat.completion` JSON, sent to the client as is. */
  body: Buffer;
  usage: TokenUsage | null;
}

export interface ChatStreamEvent {
  /** The JSON text of one OpenAI `chat.completion.chunk`. */
  data: string;
  /** Present on the chunk that reports usage. */
  usage?: TokenUsage;
  /** The chunk carries usage and no choices: clients that did not ask for usage do not see it. */
  usageOnly?: boolean;
}

/** One embeddings call to a provider, already addressed to `model`. */
export interface EmbeddingsCall {
  model: string;
  /** The texts to embed, one vector each. */
  input: string[];
  /** Token-id arrays instead of texts (OpenAI-compatible providers only); `input` is then empty. */
  tokens?: number[][];
  /** Output dimensions, for models that can shorten their vectors. */
  dimensions?: number;
  user?: string;
  signal: AbortSignal;
}

export interface EmbeddingsResult {
  /** One float vector per input, in input order. */
  vectors: number[][];
  /** Prompt tokens as the provider counted them (completionTokens 0); null when it does not say. */
  usage: TokenUsage | null;
}

/**
 * A model provider behind TokenHub. Adapters translate to and from the provider's native
 * API; callers only ever see OpenAI shapes. Failures are thrown as `UpstreamError`.
 */
export interface ChatProvider {
  readonly name: string;
  complete(call: ChatCall): Promise<ChatCompletionResult>;
  /**
   * Starts a streamed completion. Resolves once the provider has accepted the request;
   * a failure before that rejects, a failure later is thrown by the iterator.
   */
  stream(call: ChatCall): Promise<AsyncIterable<ChatStreamEvent>>;
  /** Embeds texts; absent on providers without an embeddings API. */
  embed?(call: EmbeddingsCall): Promise<EmbeddingsResult>;
  /**
   * The parameters of an OpenAI chat request this provider cannot honour for `model` in the
   * values given (see translation/parameter-support.ts); absent when it takes them all.
   */
  unsupportedParameters?(model: string, body: Record<string, unknown>): string[];
}

import type { ModelEntry } from '@tokenhub/providers';

/**
 * Worst-case cost of a request, reserved against budgets before it goes upstream.
 *
 * Prompt tokens are estimated without a tokenizer: a quarter of the characters of every
 * message's text (role, content, name, tool calls), plus 4 tokens per message and 3 for
 * the reply, plus a quarter of the characters of `tools` / `functions` / `response_format`.
 * An image or audio part counts as a flat {@link MEDIA_PART_TOKENS} rather than by the size
 * of its base64 data. English text runs ~4 characters a token, so this is close for prose
 * and high for code or JSON; an underestimate can only let a budget overshoot by the
 * difference on the requests in flight at that moment.
 *
 * Output is capped by `max_completion_tokens`, else `max_tokens`, else the catalog's
 * `maxOutputTokens` for the model, else {@link DEFAULT_MAX_OUTPUT_TOKENS}; a requested
 * cap above the model's own is lowered to it. `n` choices multiply the output.
 */
export const PER_MESSAGE_TOKENS = 4;
export const REPLY_PRIMING_TOKENS = 3;
export const MEDIA_PART_TOKENS = 1_000;
export const DEFAULT_MAX_OUTPUT_TOKENS = 4_096;
const CHARS_PER_TOKEN = 4;

export function estimatePromptTokens(body: Record<string, unknown>): number {
  let chars = 0;
  let tokens = REPLY_PRIMING_TOKENS;
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  for (const message of messages) {
    tokens += PER_MESSAGE_TOKENS;
    if (!message || typeof message !== 'object') continue;
    for (const [field, value] of Object.entries(message as Record<string, unknown>)) {
      if (field === 'content') {
        const parts = contentChars(value);
        chars += parts.chars;
        tokens += parts.mediaParts * MEDIA_PART_TOKENS;
      } else if (typeof value === 'string') chars += value.length;
      else if (value !== null && value !== undefined) chars += JSON.stringify(value).length;
    }
  }
  for (const field of ['tools', 'functions', 'response_format']) {
    if (body[field] !== undefined && body[field] !== null) chars += JSON.stringify(body[field]).length;
  }
  return tokens + Math.ceil(chars / CHARS_PER_TOKEN);
}

function contentChars(content: unknown): { chars: number; mediaParts: number } {
  if (typeof content === 'string') return { chars: content.length, mediaParts: 0 };
  if (!Array.isArray(content)) return { chars: content == null ? 0 : JSON.stringify(content).length, mediaParts: 0 };
  let chars = 0;
  let mediaParts = 0;
  for (const part of content as Array<Record<string, unknown>>) {
    if (part?.type === 'text' && typeof part.text === 'string') chars += part.text.length;
    else if (part?.type === 'image_url' || part?.type === 'input_audio' || part?.type === 'file') mediaParts++;
    else chars += JSON.stringify(part ?? null).length;
  }
  return { chars, mediaParts };
}

/** The most output tokens the request can produce on a model. */
export function maxOutputTokens(body: Record<string, unknown>, entry: ModelEntry | undefined): number {
  const requested = positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_tokens);
  const modelCap = entry?.maxOutputTokens;
  const cap = requested !== undefined ? Math.min(requested, modelCap ?? requested) : (modelCap ?? DEFAULT_MAX_OUTPUT_TOKENS);
  return cap * (positiveInt(body.n) ?? 1);
}

/** USD for these token counts on a model, or null when the catalog has no price for it. */
export function priceOf(entry: ModelEntry | undefined, promptTokens: number, completionTokens: number): number | null {
  if (entry?.input === undefined || entry.output === undefined) return null;
  return roundUsdUp((promptTokens * entry.input + completionTokens * entry.output) / 1e6);
}

/** Rounded up to the ledger's precision (10 decimals), so a reservation never falls short by rounding. */
export function roundUsdUp(usd: number): number {
  return Math.ceil(usd * 1e10 - 1e-6) / 1e10;
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? Math.floor(value) : undefined;
}

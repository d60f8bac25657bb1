import { createHash } from 'node:crypto';

/**
 * Request fields that do not change the answer, or that TokenHub handles itself: left out
 * of the scope. Everything else (temperature, tools, response_format, seed, n, ...) is in it.
 */
const NOT_ANSWER_CHANGING = new Set(['model', 'messages', 'stream', 'stream_options', 'user', 'metadata', 'prompt_cache_key', 'fallbacks', 'safety_identifier']);

/** What a cache lookup and write are keyed by. */
export interface CacheKey {
  /** sha256 hex of namespace, owner, models, answer-changing parameters and the turns before the last. */
  scopeHash: string;
  /** sha256 hex of the scope and the last turn. */
  requestHash: string;
  /** The last turn's text when it is a user turn of text only: what a semantic lookup embeds. */
  lastUserText: string | null;
}

export interface CacheKeyInput {
  namespace: string;
  owner: string;
  /** `provider/model` of the model and each fallback, in order. */
  models: string[];
  body: Record<string, unknown>;
}

export function cacheKey({ namespace, owner, models, body }: CacheKeyInput): CacheKey {
  const messages = (Array.isArray(body.messages) ? body.messages : []).map(normaliseMessage);
  const last = messages[messages.length - 1] ?? null;
  const params = Object.fromEntries(Object.entries(body).filter(([k, v]) => !NOT_ANSWER_CHANGING.has(k) && v !== undefined && v !== null));
  const scopeHash = sha256(canonicalJson({ v: 1, namespace, owner, models, params, history: messages.slice(0, -1) }));
  const requestHash = sha256(`${scopeHash}:${canonicalJson(last)}`);
  const lastUserText = last && last.role === 'user' && typeof last.content === 'string' && last.content.length > 0 ? last.content : null;
  return { scopeHash, requestHash, lastUserText };
}

/**
 * One message as the cache compares it: text content trimmed, and text-only content parts
 * joined into the plain string they mean (`[{type:'text',text:'Hi'}]` is `'Hi'`).
 */
function normaliseMessage(message: unknown): Record<string, unknown> {
  if (!message || typeof message !== 'object') return { value: message };
  const m = { ...(message as Record<string, unknown>) };
  if (typeof m.content === 'string') m.content = m.content.trim();
  else if (Array.isArray(m.content) && m.content.every((p) => p && typeof p === 'object' && (p as { type?: unknown }).type === 'text')) {
    m.content = (m.content as Array<{ text?: unknown }>)
      .map((p) => String(p.text ?? ''))
      .join('\n')
      .trim();
  }
  return m;
}

/** JSON with object keys sorted at every level, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

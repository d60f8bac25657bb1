import { METADATA_MAX_CHARS, PRINTABLE, PROVIDER_MODEL } from './chat-completion-request.dto';
import { MESSAGE_ROLES } from './chat-message.dto';
import { isSmallJsonObject } from './message-content.validator';

/**
 * The common chat request checked by hand, in a few microseconds instead of class-validator's
 * tens: a model, messages with string content, the usual sampling fields. Each check is the
 * DTO's own rule for the shapes it covers, or stricter (a string's `.length` is never below
 * the character count `MaxLength` uses), so whatever passes here the DTO accepts too (a
 * property-based spec holds it to that). Anything else, including every invalid request,
 * takes the full path, which also words the error.
 */
const optional = (check: (v: unknown) => boolean) => (v: unknown) => v === undefined || v === null || check(v);
const isString = (max: number) => (v: unknown) => typeof v === 'string' && v.length <= max;
const isBoolean = (v: unknown) => typeof v === 'boolean';
const inRange = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= -2 && v <= 2;
const isPositiveInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1;
const isPlainObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
const ROLES = new Set<string>(MESSAGE_ROLES);

function isPlainMessage(m: unknown): boolean {
  if (!isPlainObject(m)) return false;
  const message = m as Record<string, unknown>;
  for (const key in message) {
    // tool messages, tool calls and content parts have rules of their own: the full path.
    if (key !== 'role' && key !== 'content' && key !== 'name') return false;
  }
  return typeof message.role === 'string' && message.role !== 'tool' && ROLES.has(message.role) && typeof message.content === 'string' && optional(isString(256))(message.name);
}

const CHECKS = new Map<string, (v: unknown) => boolean>(Object.entries({
  model: (v) => typeof v === 'string' && v.length > 0 && v.length <= 300 && PRINTABLE.test(v),
  messages: (v) => Array.isArray(v) && v.length >= 1 && v.length <= 10_000 && v.every(isPlainMessage),
  fallbacks: optional((v) => Array.isArray(v) && v.length <= 10 && v.every((f) => typeof f === 'string' && PROVIDER_MODEL.test(f) && PRINTABLE.test(f))),
  stream: optional(isBoolean),
  temperature: optional(inRange),
  frequency_penalty: optional(inRange),
  presence_penalty: optional(inRange),
  max_tokens: optional(isPositiveInt),
  max_completion_tokens: optional(isPositiveInt),
  logprobs: optional(isBoolean),
  parallel_tool_calls: optional(isBoolean),
  prompt_cache_key: optional(isString(1024)),
  user: optional(isString(512)),
  stream_options: optional(isPlainObject),
  metadata: optional((v) => isSmallJsonObject(v, METADATA_MAX_CHARS)),
}));

/**
 * Whether `body` is a common, valid chat request. `declared` are the fields the DTO validates:
 * one of them without a hand-written check here (`stop`, `logit_bias`, `modalities`, ...)
 * sends the request down the full path; undeclared fields travel on unvalidated either way.
 */
export function isPlainValidChatRequest(body: Record<string, unknown>, declared: ReadonlySet<string>): boolean {
  if (body.model === undefined || body.messages === undefined) return false;
  for (const key in body) {
    if (!Object.hasOwn(body, key)) return false;
    const check = CHECKS.get(key);
    if (check) {
      if (!check(body[key])) return false;
    } else if (declared.has(key)) return false;
  }
  return true;
}

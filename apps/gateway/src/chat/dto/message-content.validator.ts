import { registerDecorator, ValidationOptions } from 'class-validator';

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** A content part: an object with a `type`; the two every adapter reads carry what they need (text, an image URL). */
const isPart = (p: unknown) =>
  isObject(p) &&
  typeof p.type === 'string' &&
  (p.type !== 'text' || typeof p.text === 'string') &&
  (p.type !== 'image_url' || (isObject(p.image_url) && typeof p.image_url.url === 'string'));

/**
 * A tool call of an assistant message, as OpenAI defines it: a function call (id, name and
 * JSON arguments as a string), or a custom tool call (name and input).
 */
const isToolCall = (c: unknown) =>
  isObject(c) &&
  typeof c.id === 'string' &&
  ((c.type === 'function' && isObject(c.function) && typeof c.function.name === 'string' && typeof c.function.arguments === 'string') ||
    (c.type === 'custom' && isObject(c.custom) && typeof c.custom.name === 'string' && typeof c.custom.input === 'string'));

/** An assistant message's `tool_calls`: an array of tool calls. */
export function IsToolCalls(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isToolCalls',
      target: object.constructor,
      propertyName,
      options: { message: 'tool_calls must be an array of tool calls, each {"id","type":"function","function":{"name","arguments"}}', ...options },
      validator: { validate: (value: unknown) => Array.isArray(value) && value.every(isToolCall) },
    });
}

/** A message's content: a string, or a non-empty array of typed content parts. */
export function IsMessageContent(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isMessageContent',
      target: object.constructor,
      propertyName,
      options: { message: 'content must be a string or an array of content parts, each an object with a "type" (a text part with its "text", an image_url part with its "image_url": {"url"})', ...options },
      validator: {
        validate: (value: unknown) => typeof value === 'string' || (Array.isArray(value) && value.length > 0 && value.every(isPart)),
      },
    });
}

/** `stop`: a string or an array of up to `max` strings. */
export function IsStop(max: number, options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isStop',
      target: object.constructor,
      propertyName,
      options: { message: `stop must be a string or an array of at most ${max} strings`, ...options },
      validator: {
        validate: (value: unknown) =>
          value === null || typeof value === 'string' || (Array.isArray(value) && value.length <= max && value.every((s) => typeof s === 'string')),
      },
    });
}

/** A plain JSON object whose serialised size stays within `maxChars`. */
export function IsSmallJsonObject(maxChars: number, options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isSmallJsonObject',
      target: object.constructor,
      propertyName,
      options: { message: `${propertyName} must be a JSON object of at most ${maxChars} characters`, ...options },
      validator: {
        validate: (value: unknown) => isSmallJsonObject(value, maxChars),
      },
    });
}

export function isSmallJsonObject(value: unknown, maxChars: number): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value) && JSON.stringify(value).length <= maxChars;
}

import { registerDecorator, ValidationOptions } from 'class-validator';

const isPart = (p: unknown) => !!p && typeof p === 'object' && !Array.isArray(p) && typeof (p as { type?: unknown }).type === 'string';

/** A message's content: a string, or a non-empty array of typed content parts. */
export function IsMessageContent(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isMessageContent',
      target: object.constructor,
      propertyName,
      options: { message: 'content must be a string or an array of content parts, each an object with a "type"', ...options },
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

import { isUtf8 } from 'node:buffer';
import { ClassConstructor, ClassTransformOptions, plainToInstance } from 'class-transformer';
import { InvalidRequestError } from '../errors/gateway-error';

/**
 * The deepest nesting a JSON request body may have. JSON.parse reads any depth, but the
 * validators and serializers after it recurse, and overflow the stack a few thousand levels
 * down; no request (JSON schemas of tools and response formats included) needs this many.
 */
export const MAX_JSON_DEPTH = 128;

/** How deep a parsed JSON value nests, counted without recursion; stops counting past `limit`. */
export function jsonDepth(value: unknown, limit = Infinity): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    const here = depth + 1;
    if (here > deepest) deepest = here;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, here]);
    }
  }
  return deepest;
}

/** The body parser's `verify` hook: a body that is not valid UTF-8 is refused before it is decoded (which would replace the bad bytes). */
export function verifyUtf8(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  if (/^utf-?8$/i.test(encoding) && !isUtf8(body)) throw new InvalidRequestError('The request body is not valid UTF-8.', null, 'invalid_encoding');
}

/** Refuses a parsed body nested deeper than `MAX_JSON_DEPTH`. */
export function checkJsonDepth(body: unknown): void {
  if (jsonDepth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new InvalidRequestError(`The request body nests deeper than ${MAX_JSON_DEPTH} levels.`, null, 'nesting_too_deep');
  }
}

const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor']);

/**
 * The value without members named `__proto__` or `constructor`, at any depth (the input is
 * left as is; unchanged parts are shared). class-transformer takes an object's own
 * `constructor` member for its class and throws (a 500) on `{"x":{"constructor":{}}}`;
 * validation runs on this copy, while what is forwarded keeps every member the client sent.
 */
export function withoutPrototypeKeys<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    value.forEach((item, i) => {
      const clean = withoutPrototypeKeys(item);
      if (clean !== item) (copy ??= [...value])[i] = clean;
    });
    return (copy ?? value) as T;
  }
  let copy: Record<string, unknown> | null = null;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const clean = PROTOTYPE_KEYS.has(key) ? undefined : withoutPrototypeKeys(item);
    if (clean === item) continue;
    copy ??= ownCopy(value as Record<string, unknown>);
    if (PROTOTYPE_KEYS.has(key)) delete copy[key];
    else copy[key] = clean;
  }
  return (copy ?? value) as T;
}

/** A plain copy of an object's own members; `__proto__` stays an own member, never a prototype. */
function ownCopy(value: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) Object.defineProperty(copy, key, { value: value[key], enumerable: true, writable: true, configurable: true });
  return copy;
}

/** class-transformer's `plainToInstance`, on the value without prototype keys: for the ValidationPipe's `transformerPackage`. */
export function safePlainToInstance<T>(cls: ClassConstructor<T>, plain: unknown, options?: ClassTransformOptions): T {
  return plainToInstance(cls, withoutPrototypeKeys(plain) as object, options) as T;
}

const NOT_STORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * The value with every string made storable in Postgres, whose text and jsonb types hold
 * neither NUL nor unpaired surrogates (both valid in JSON): each becomes U+FFFD. Plain objects
 * and arrays are walked, anything else (dates) is kept; unchanged values are returned as they are.
 * One such character in a request's `user` or `model` would otherwise fail the insert of a
 * whole batch of usage records.
 */
export function storable<T>(value: T): T {
  if (typeof value === 'string') return value.replace(NOT_STORABLE, '\ufffd') as T;
  if (Array.isArray(value)) {
    let items: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const clean = storable(value[i]);
      if (clean !== value[i]) (items ??= [...value])[i] = clean;
    }
    return (items ?? value) as T;
  }
  if (value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | null = null;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const clean = storable(item);
    const cleanKey = storable(key);
    if (clean === item && cleanKey === key) continue;
    copy ??= ownCopy(value as Record<string, unknown>);
    if (cleanKey !== key) delete copy[key];
    Object.defineProperty(copy, cleanKey, { value: clean, enumerable: true, writable: true, configurable: true });
  }
  return (copy ?? value) as T;
}

/**
 * Where (`name`, `allowed_models[0]`) the first string or member name holding NUL is, in a
 * parsed body or query; null when none. Postgres text cannot hold NUL: a query would fail.
 */
export function findNul(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path || 'body' : null;
  if (value === null || typeof value !== 'object') return null;
  const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [`${path}[${i}]`, v]) : Object.keys(value).map((k) => [path ? `${path}.${k}` : k, (value as Record<string, unknown>)[k]]);
  for (const [here, item] of entries) {
    if (here.includes('\u0000')) return here.replace(/\u0000/g, '\\u0000');
    const found = findNul(item, here);
    if (found) return found;
  }
  return null;
}

/** Refuses NUL anywhere in what the admin API stores or searches for. */
export function checkNoNul(...parts: unknown[]): void {
  for (const part of parts) {
    const param = findNul(part);
    if (param) throw new InvalidRequestError(`${param} must not contain NUL characters.`, param, 'invalid_value');
  }
}

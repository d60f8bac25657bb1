import { Agent, IncomingHttpHeaders, request } from 'node:http';
import fc from 'fast-check';

/**
 * Building blocks of the HTTP fuzz suite (fuzz.e2e-spec.ts): a JSON writer that can say
 * what JSON.stringify cannot (1e309, -0, duplicate and `__proto__` keys, 10k-deep
 * nesting), arbitraries of hostile values, chat and admin bodies, headers and bytes, a
 * keep-alive HTTP client that sends exactly those bytes, and the check every answer must pass.
 */

/** JSON text written as is. */
export class Raw {
  constructor(readonly text: string) {}
}

/** A JSON object with exactly these members, in order: duplicates and `__proto__` included. */
export class Entries {
  constructor(readonly entries: Array<[string, unknown]>) {}
}

/** Writes a value built from plain JSON values, `Raw` and `Entries`. */
export function toJson(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Entries) return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).map((k) => `${JSON.stringify(k)}:${toJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export const FUZZ_BODY_LIMIT_BYTES = 256 * 1024;

const deepArray = (depth: number) => new Raw('['.repeat(depth) + ']'.repeat(depth));
const deepObject = (depth: number) => new Raw('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));

/** Values no field expects: odd numbers, strings, depth and size, prototype keys. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(
      null, true, false, 0, -1, 1.5, 2 ** 53 + 1, -(2 ** 31), 1e300, 4294967296,
      new Raw('-0'), new Raw('1e309'), new Raw('-1e309'), new Raw('1e-400'), new Raw('0.0000000000000000000000001'),
      new Raw('123456789012345678901234567890'), 'NaN', 'Infinity', '-0', '1e309', '0x10', '',
      ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff\ud800', '\u202e\u0301', '\uffff', '%00', '../../etc/passwd', "'; DROP TABLE usage_records; --",
      '{{7*7}}', '${jndi:ldap://x}', '2026-02-30T25:61:61Z', '+275760-09-13T00:00:00Z', '0000-00-00', '9999-12-31T23:59:59.999999999Z',
      '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'openai/', '/', 'openai//x', 'x'.repeat(5000),
      [], {}, [null], [[]], [{}], { __proto__: null }, new Entries([['__proto__', { polluted: true }]]),
      new Entries([['constructor', { prototype: { polluted: true } }]]), new Entries([['a', 1], ['a', 'dup']]),
      new Entries([['prototype', 1], ['toString', 'x'], ['hasOwnProperty', null], ['valueOf', []]]),
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom('\u0000', '\ud800', '\udc00', '\u0007', '\r\n', '\u2028')).map(([a, odd]) => `${a}${odd}${a}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.double().map((d) => (Number.isFinite(d) ? d : new Raw(String(d) === 'NaN' ? '"NaN"' : d > 0 ? '1e999' : '-1e999'))) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 12 }).map((n) => new Raw(`9${'9'.repeat(n * 25)}`)) },
  // Built once: deep, wide and long values.
  { weight: 1, arbitrary: fc.constantFrom(...[10, 1000, 10_000, 50_000].flatMap((d) => [deepArray(d), deepObject(d)])) },
  { weight: 1, arbitrary: fc.constantFrom(...[1000, 20_000].map((n) => new Raw(`[${Array.from({ length: n }, (_, i) => i % 7).join(',')}]`))) },
  { weight: 1, arbitrary: fc.constantFrom(...[500, 5000].map((n) => new Entries(Array.from({ length: n }, (_, i) => [`k${i}`, i])))) },
  { weight: 1, arbitrary: fc.constantFrom(...[10_000, 100_000].map((n) => 'é'.repeat(n))) },
);

/** An object made of the members of a template, some replaced by odd values, some dropped, some added. */
export function mutatedObject(template: Record<string, fc.Arbitrary<unknown>>, extraKeys: string[] = []): fc.Arbitrary<Entries> {
  const fields = Object.keys(template);
  return fc
    .tuple(
      fc.array(fc.constantFrom(...fields), { maxLength: 3 }),
      fc.array(fc.constantFrom(...fields), { maxLength: 2 }),
      fc.array(fc.tuple(fc.oneof(fc.constantFrom(...fields, ...extraKeys, '__proto__', 'constructor', 'prototype', ''), fc.string({ maxLength: 12 })), oddValue), { maxLength: 2 }),
      fc.tuple(...fields.map((f) => template[f])),
      fc.array(oddValue, { minLength: fields.length, maxLength: fields.length }),
    )
    .map(([oddOnes, dropped, extra, values, odd]) => {
      const entries: Array<[string, unknown]> = [];
      fields.forEach((f, i) => {
        if (dropped.includes(f)) return;
        entries.push([f, oddOnes.includes(f) ? odd[i] : values[i]]);
      });
      return new Entries([...entries, ...extra]);
    });
}

/** Model names the fakes turn into failures (5xx, hangs, broken bodies): never sent by the fuzzer. */
const FAKE_FAILURE_MODEL = /(^|\/)(error-\w+|hang|slow-stream|slow-complete|die-mid-stream|malformed|context-length)$/;

const text = fc.oneof(fc.constantFrom('Hello', 'Count to three', ''), fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }));
const model = fc
  .oneof(
    { weight: 6, arbitrary: fc.constantFrom('openai/gpt-4o', 'openai/gpt-4o-mini', 'gpt-4o-mini', 'openai/o3-mini') },
    // The native adapters translate the request: odd messages and fields meet their translators.
    { weight: 3, arbitrary: fc.constantFrom('anthropic/claude-sonnet-4-5', 'gemini/gemini-2.5-flash', 'cohere/command-r-plus') },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 12 })).map((s) => `openai/${s}`) },
    { weight: 1, arbitrary: fc.constantFrom('nosuch/model', 'openai', 'OPENAI/GPT-4O', ' openai/gpt-4o', 'groq/llama-3.3-70b-versatile') },
  )
  .filter((m) => !FAKE_FAILURE_MODEL.test(m));
const toolCall = fc.record({ id: fc.constantFrom('call_1', 'call_2'), type: fc.constant('function'), function: fc.record({ name: fc.constantFrom('f', 'get_weather'), arguments: fc.constantFrom('{}', '{"city":"Paris"}', 'not json') }) });
const contentPart = fc.oneof(
  fc.record({ type: fc.constant('text'), text }),
  fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: fc.constantFrom('https://example.com/a.png', 'data:image/png;base64,iVBORw0KGgo=', 'data:,', 'nope') }) }),
  fc.record({ type: fc.constantFrom('input_audio', 'file', 'refusal', 'video'), text }),
);

/** A message: well formed more often than not, else with odd roles, content or fields. */
export const message: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ role: fc.constantFrom('user', 'system', 'developer'), content: fc.oneof({ weight: 4, arbitrary: text }, { weight: 1, arbitrary: fc.array(contentPart, { maxLength: 3 }) }) }) },
  { weight: 1, arbitrary: fc.record({ role: fc.constant('assistant'), content: fc.option(text), tool_calls: fc.array(toolCall, { maxLength: 2 }) }, { requiredKeys: ['role'] }) },
  { weight: 1, arbitrary: fc.record({ role: fc.constant('tool'), content: text, tool_call_id: fc.constantFrom('call_1', '') }, { requiredKeys: ['role'] }) },
  {
    weight: 3,
    arbitrary: mutatedObject(
      { role: fc.constantFrom('user', 'assistant', 'system', 'tool', 'developer', 'function', 'wizard'), content: text, name: fc.constantFrom('alice', ''), tool_call_id: fc.constant('call_1'), tool_calls: fc.array(toolCall, { maxLength: 1 }), refusal: fc.constant(null) },
      ['audio', 'function_call'],
    ),
  },
  { weight: 1, arbitrary: oddValue },
);

const messages = fc.oneof({ weight: 8, arbitrary: fc.array(message, { minLength: 1, maxLength: 4 }) }, { weight: 1, arbitrary: oddValue });

const jsonSchema = fc.constantFrom({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, { type: 'object' }, {});
/** Every field of the chat request, each with values OpenAI accepts. */
const chatFields: Record<string, fc.Arbitrary<unknown>> = {
  model,
  messages,
  temperature: fc.double({ min: 0, max: 2, noNaN: true }),
  top_p: fc.double({ min: 0, max: 1, noNaN: true }),
  max_tokens: fc.integer({ min: 1, max: 4096 }),
  max_completion_tokens: fc.integer({ min: 1, max: 4096 }),
  stream: fc.boolean(),
  stream_options: fc.record({ include_usage: fc.boolean() }),
  tools: fc.array(fc.record({ type: fc.constant('function'), function: fc.record({ name: fc.constantFrom('get_weather', 'f'), description: text, parameters: jsonSchema }) }), { maxLength: 2 }),
  tool_choice: fc.oneof(fc.constantFrom('auto', 'none', 'required'), fc.constant({ type: 'function', function: { name: 'f' } })),
  response_format: fc.oneof(fc.constantFrom({ type: 'text' }, { type: 'json_object' }), fc.constant({ type: 'json_schema', json_schema: { name: 's', schema: { type: 'object' } } })),
  fallbacks: fc.array(fc.constantFrom('openai/gpt-4o-mini', 'openai/gpt-4o', 'anthropic/claude-haiku-4-5', 'gemini/gemini-2.5-flash', 'cohere/command-r-plus'), { maxLength: 2 }),
  user: fc.string({ maxLength: 20 }),
  metadata: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 }), { maxKeys: 3 }),
  prompt_cache_key: fc.string({ maxLength: 20 }),
  n: fc.integer({ min: 1, max: 3 }),
  stop: fc.oneof(fc.string({ maxLength: 5 }), fc.array(fc.string({ maxLength: 5 }), { maxLength: 4 }), fc.constant(null)),
  logit_bias: fc.dictionary(fc.integer({ min: 0, max: 100_000 }).map(String), fc.integer({ min: -100, max: 100 }), { maxKeys: 3 }),
  seed: fc.integer(),
  frequency_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
  presence_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
  logprobs: fc.boolean(),
  top_logprobs: fc.integer({ min: 0, max: 20 }),
  parallel_tool_calls: fc.boolean(),
  modalities: fc.constant(['text']),
  reasoning_effort: fc.constantFrom('low', 'medium', 'high'),
  service_tier: fc.constantFrom('auto', 'default'),
};

/** A chat request: the model and messages always, then any subset of the other fields. */
const chatRequest = fc
  .tuple(model, fc.array(message, { minLength: 1, maxLength: 3 }), fc.subarray(Object.keys(chatFields).filter((f) => f !== 'model' && f !== 'messages'), { maxLength: 5 }))
  .chain(([m, msgs, picked]) => fc.tuple(...picked.map((f) => chatFields[f])).map((values) => ({ m, msgs, picked, values })))
  .map(({ m, msgs, picked, values }) => Object.fromEntries([['model', m], ['messages', msgs], ...picked.map((f, i) => [f, values[i]])]));

/** What the chat property sends as JSON: valid requests, requests with odd fields, and odd bodies. */
export const chatBody: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: chatRequest },
  { weight: 5, arbitrary: mutatedObject(chatFields, ['functions', 'function_call', 'audio', 'prediction', 'web_search_options', 'store', 'verbosity']) },
  { weight: 1, arbitrary: oddValue },
);

// ---- bytes and headers ----

const INVALID_UTF8 = [[0xff], [0xfe], [0xc3, 0x28], [0xe2, 0x28, 0xa1], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]];

/** A valid request body with an invalid UTF-8 sequence inside a string, or truncated, or random bytes, or over the limit. */
export const oddBytes: fc.Arbitrary<{ kind: string; body: Buffer }> = fc.oneof(
  fc.tuple(fc.constantFrom(...INVALID_UTF8), fc.constantFrom('content', 'model', 'user')).map(([bad, where]) => {
    const [before, after] = toJson({ model: 'HOLEmodel', messages: [{ role: 'user', content: 'HOLEcontent' }], user: 'HOLEuser' })
      .split(`HOLE${where}`)
      .map((part) => part.replace('HOLEmodel', 'openai/gpt-4o').replace(/HOLE\w+/g, 'x'));
    return { kind: 'invalid-utf8', body: Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]) };
  }),
  fc.tuple(chatRequest, fc.double({ min: 0, max: 1, noNaN: true })).map(([req, at]) => {
    const json = toJson(req);
    return { kind: 'truncated', body: Buffer.from(json.slice(0, Math.floor(json.length * at))) };
  }),
  fc.uint8Array({ maxLength: 200 }).map((b) => ({ kind: 'random-bytes', body: Buffer.from(b) })),
  fc.constantFrom(
    { kind: 'bom', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(toJson({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }))]) },
    { kind: 'utf16', body: Buffer.from(toJson({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }), 'utf16le') },
    { kind: 'nul-bytes', body: Buffer.from('{"model":"openai/gpt-4o",\u0000"messages":[]}') },
    { kind: 'whitespace', body: Buffer.from(' \n\t ') },
  ),
  fc.constantFrom(1.2, 4).map((f) => ({ kind: 'too-large', body: Buffer.from(toJson({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(Math.floor(FUZZ_BODY_LIMIT_BYTES * f)) }] })) })),
  fc.constantFrom(10_000, 100_000).map((d) => ({ kind: 'deep', body: Buffer.from(`{"model":"openai/gpt-4o","messages":${'['.repeat(d)}${']'.repeat(d)}}`) })),
);

export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      undefined, '', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1',
      'application/json; charset=utf-16', 'application/json; charset=UTF-8', 'APPLICATION/JSON', 'application/json;;;', 'application/vnd.api+json',
      '*/*', 'application/*', 'application/json; charset="utf-8"', 'application/json; charset=nope', 'json', ';', 'application/json, text/plain',
      'text/json', 'application/xml', 'application/json; boundary=é',
    ),
  },
);

export const contentEncoding: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'bogus', 'gzip, gzip', '') },
);

/** What no HTTP client can put in a header value (Node's client refuses it before sending). */
const NOT_IN_HEADER = /[^\t\x20-\x7e\x80-\xff]/g;

/** A header value as bytes on the wire: latin1 characters stand for the raw bytes. */
const wire = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

/** Authorization headers: the valid key, near misses, absurd ones; sometimes repeated. */
export function authorization(validKey: string): fc.Arbitrary<{ valid: boolean; value: string | string[] | undefined }> {
  const invalid = fc.oneof(
    fc.constantFrom<string | undefined>(
      undefined, '', 'Bearer', 'Bearer ', 'Bearer  ', 'bearer', validKey, `Basic ${validKey}`, `Bearer ${validKey} extra`, `Bearer ${validKey}x`,
      `Bearer ${validKey.slice(0, -1)}`, 'Bearer sk-bf-', 'Bearer a.b.c', 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', `Bearer ${'A'.repeat(8000)}`,
      `Bearer ${'sk-bf-'.repeat(2000)}`, wire('Bearer sk-bf-ключ'), wire('Bearer 🔑'), 'Bearer \t', 'Bearer null', 'Bearer undefined',
    ),
    fc.string({ minLength: 1, maxLength: 40, unit: 'binary-ascii' }).map((s) => `Bearer sk-bf-${s}`),
    fc.stringMatching(/^[0-9a-f]{48}$/).map((s) => `Bearer sk-bf-${s}`),
  );
  const clean = (v: string | undefined) => v?.replace(NOT_IN_HEADER, '');
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant({ valid: true, value: `Bearer ${validKey}` }) },
    { weight: 3, arbitrary: invalid.map((v) => ({ valid: false, value: clean(v) })) },
    { weight: 1, arbitrary: fc.tuple(invalid, fc.boolean()).map(([v, first]) => ({ valid: false, value: first ? [`Bearer ${validKey}`, clean(v) ?? ''] : [clean(v) ?? '', `Bearer ${validKey}`] })) },
  );
}

/** Other headers a client may send oddly. */
export const extraHeaders: fc.Arbitrary<Record<string, string | string[]>> = fc
  .array(
    fc.tuple(
      fc.constantFrom('x-request-id', 'accept', 'accept-charset', 'x-forwarded-for', 'user-agent', 'x-tokenhub-metadata', 'expect', 'cookie', 'accept-encoding', 'x-custom'),
      fc.oneof(fc.string({ maxLength: 40, unit: 'binary-ascii' }).map((s) => s.replace(NOT_IN_HEADER, '')), fc.constantFrom(wire('ü☃'), 'x'.repeat(6000), 'x'.repeat(20_000), '100-continue', 'text/event-stream', 'identity;q=0')),
    ),
    { maxLength: 3 },
  )
  // Sometimes the body goes chunked, with no Content-Length to refuse it by.
  .chain((pairs) => fc.boolean().map((chunked) => (chunked ? [...pairs, ['transfer-encoding', 'chunked'] as [string, string]] : pairs)))
  .map((pairs) => {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of pairs) out[k] = k in out ? [...[out[k]].flat(), v] : v;
    return out;
  });

// ---- the admin API ----

const uuid = fc.uuid();
const limits = {
  requests_per_minute: fc.integer({ min: 1, max: 10_000 }),
  tokens_per_day: fc.integer({ min: 1, max: 10_000_000 }),
  max_concurrency: fc.option(fc.integer({ min: 1, max: 50 })),
  allowed_models: fc.option(fc.array(fc.constantFrom('openai/*', 'openai/gpt-4o-mini', '*/gpt-4o*'), { maxLength: 2 })),
  budgets: fc.array(fc.record({ period: fc.constantFrom('daily', 'weekly', 'monthly', 'lifetime'), limit_usd: fc.double({ min: 0, max: 100, noNaN: true }) }), { maxLength: 2 }),
};
const name = fc.string({ minLength: 1, maxLength: 30 });
const isoDate = fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());

/** An admin route with the ids it can refer to filled in at run time. */
export interface AdminCall {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  query?: string;
  body?: unknown;
}

export interface AdminIds {
  key: string;
  team: string;
  customer: string;
  budget: string;
  credential: string;
}

const queryValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', '%', '%E0%A4%A', '%FF', 'a%00b', '%ED%A0%80', '%0D%0A', '%00', '%C0%AF', 'true', 'false', '1e309', '-1', '0', '1.5', 'NaN', '2026-02-30', '2026-13-01T00:00:00Z', '+275760-09-13', '99999-01-01', 'x'.repeat(3000), '00000000-0000-0000-0000-000000000000', 'a[b]=c', '__proto__'),
  uuid,
  isoDate,
);

const QUERY_FIELDS: Record<string, string[]> = {
  '/admin/virtual-keys': ['include_revoked'],
  '/admin/teams': ['customer_id'],
  '/admin/budgets': ['scope', 'scope_id'],
  '/admin/provider-credentials': ['provider'],
  '/admin/reports/usage': ['group_by', 'from', 'to', 'key_id', 'team_id', 'customer_id', 'limit'],
  '/admin/reports/budgets': ['key_id'],
  '/admin/audit-log': ['actor', 'action', 'target_type', 'target_id', 'from', 'to', 'limit', 'cursor'],
  '/admin/usage': ['key_id', 'team_id', 'customer_id', 'user', 'model', 'provider', 'status', 'metadata', 'from', 'to', 'limit', 'cursor'],
  '/admin/usage/export': ['key_id', 'user', 'model', 'status', 'metadata', 'from', 'to', 'format'],
  '/admin/customers': [],
};

/** A query string of those fields (some repeated, some as `a[b]`), with odd values; or raw garbage. */
const query = (fields: string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.array(fc.tuple(fc.constantFrom(...fields, '__proto__', 'constructor[prototype]', 'x'), fc.constantFrom('', '[]', '[a]', '[0]'), queryValue), { maxLength: 4 }).map((pairs) => pairs.map(([k, suffix, v]) => `${k}${suffix}=${/%/.test(v) ? v : encodeURIComponent(v)}`).join('&')) },
    { weight: 1, arbitrary: fc.constantFrom('&&&', '=', '==&=', '%', 'a=%ZZ', `${fields[0] ?? 'x'}=${'%41'.repeat(2000)}`, Array.from({ length: 1500 }, (_, i) => `k${i}=1`).join('&')) },
  );

const pathId = (real: (ids: AdminIds) => string) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(real) },
    { weight: 1, arbitrary: fc.oneof(uuid, fc.constantFrom('not-a-uuid', '0', '%E0%A4%A', '%00', '..', '%2F', 'x'.repeat(500), '00000000-0000-0000-0000-00000000000g')).map((id) => () => id) },
  );

/** Every admin route, with a body or query that is valid, partly odd, or odd as a whole. */
export const adminCall: fc.Arbitrary<(ids: AdminIds) => AdminCall> = fc.oneof(
  ...Object.entries(QUERY_FIELDS).map(([path, fields]) => query(fields).map((q) => () => ({ method: 'GET' as const, path, query: q }))),
  ...(
    [
      ['/admin/virtual-keys', { name, team_id: uuid, expires_at: isoDate, active: fc.boolean(), ...limits }],
      ['/admin/teams', { name, customer_id: uuid, ...limits }],
      ['/admin/customers', { name, ...limits }],
      ['/admin/budgets', { scope: fc.constantFrom('key', 'team', 'customer'), scope_id: uuid, period: fc.constantFrom('daily', 'monthly'), limit_usd: fc.double({ min: 0, max: 100, noNaN: true }) }],
      ['/admin/provider-credentials', { provider: fc.constantFrom('openai', 'nosuch'), name, api_key: fc.constantFrom('sk-fuzz-1', 'sk-fuzz-2'), weight: fc.integer({ min: 1, max: 1000 }), allowed_models: fc.option(fc.array(fc.constantFrom('gpt-4o', 'gpt-4o-mini*'))) }],
    ] as Array<[string, Record<string, fc.Arbitrary<unknown>>]>
  ).map(([path, fields]) => fc.oneof({ weight: 4, arbitrary: mutatedObject(fields) }, { weight: 1, arbitrary: oddValue }).map((body) => () => ({ method: 'POST' as const, path, body }))),
  ...(
    [
      ['/admin/virtual-keys', (ids: AdminIds) => ids.key, { name, team_id: fc.option(uuid), expires_at: fc.option(isoDate), active: fc.boolean(), ...limits }],
      ['/admin/teams', (ids: AdminIds) => ids.team, { name, customer_id: fc.option(uuid), ...limits }],
      ['/admin/customers', (ids: AdminIds) => ids.customer, { name, ...limits }],
      ['/admin/budgets', (ids: AdminIds) => ids.budget, { limit_usd: fc.double({ min: 0, max: 100, noNaN: true }) }],
      ['/admin/provider-credentials', (ids: AdminIds) => ids.credential, { name, weight: fc.integer({ min: 1, max: 1000 }), enabled: fc.boolean(), allowed_models: fc.option(fc.array(fc.constantFrom('gpt-4o'))) }],
    ] as Array<[string, (ids: AdminIds) => string, Record<string, fc.Arbitrary<unknown>>]>
  ).map(([path, id, fields]) =>
    fc
      .tuple(pathId(id), fc.oneof({ weight: 4, arbitrary: mutatedObject(fields) }, { weight: 1, arbitrary: oddValue }), fc.constantFrom('GET', 'PATCH', 'PATCH', 'PATCH', 'DELETE'))
      .map(([idOf, body, method]) => (ids: AdminIds) => ({ method: method as AdminCall['method'], path: `${path}/${idOf(ids)}`, body: method === 'PATCH' ? body : undefined })),
  ),
  // Methods and paths no route has.
  fc
    .tuple(fc.constantFrom('PUT', 'OPTIONS', 'TRACE', 'PROPFIND', 'PATCH', 'DELETE', 'POST', 'GET'), fc.constantFrom('/v1/chat/completions', '/admin', '/admin/', '/admin/teams/x/y', '/nope', '/', '//admin//teams', '/admin/%2e%2e/health/live', '/v1/models/x', '/admin/virtual-keys/%ZZ'))
    .map(([method, path]) => () => ({ method: method as AdminCall['method'], path, body: method === 'GET' || method === 'OPTIONS' || method === 'TRACE' ? undefined : {} })),
  fc.tuple(pathId((ids) => ids.key), fc.constantFrom('rotate', 'budgets')).map(([idOf, action]) => (ids: AdminIds) => ({ method: action === 'budgets' ? ('GET' as const) : ('POST' as const), path: `/admin/virtual-keys/${idOf(ids)}/${action}` })),
);

// ---- HTTP ----

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** Sends exactly these bytes and headers over a keep-alive connection; resolves with whatever answer came. */
export function send(url: string, method: string, path: string, headers: Record<string, string | string[] | undefined>, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered: Answer | null = null;
    const req = request(`${url}${path}`, { method, agent, headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string | string[]> }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        answered = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
        resolve(answered);
      });
      res.on('error', reject);
    });
    // A server may answer (413) and close before reading all of a large body: the answer is what counts.
    req.on('error', (err) => {
      if (!answered) setTimeout(() => (answered ? resolve(answered) : reject(err)), 50);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer in 30 s: ${method} ${path}`)));
    req.end(body);
  });
}

export function closeAgent(): void {
  agent.destroy();
}

/** Throws (so fast-check shrinks and reports) unless the answer is below 500, and every 4xx is OpenAI-shaped. */
export function checkAnswer(answer: Answer, what: string): void {
  const fail = (why: string) => {
    throw new Error(`${why}: ${what} -> ${answer.status} ${answer.body.slice(0, 500)}`);
  };
  if (answer.status >= 500 || answer.status < 100) fail('server error');
  if (answer.status < 400) return;
  if (!/^application\/json/.test(String(answer.headers['content-type']))) fail(`error without a JSON content type (${answer.headers['content-type']})`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    return fail('error body is not JSON');
  }
  const error = (parsed as { error?: Record<string, unknown> })?.error;
  if (!parsed || typeof parsed !== 'object' || Object.keys(parsed).join() !== 'error' || !error || typeof error !== 'object') return fail('not {"error":{...}}');
  if (Object.keys(error).sort().join() !== 'code,message,param,type') fail('error members are not message, type, param, code');
  if (typeof error.message !== 'string' || error.message.length === 0) fail('error message is not a non-empty string');
  if (typeof error.type !== 'string' || error.type.length === 0) fail('error type is not a string');
  if (error.param !== null && typeof error.param !== 'string') fail('error param is neither null nor a string');
  if (error.code !== null && typeof error.code !== 'string') fail('error code is neither null nor a string');
}

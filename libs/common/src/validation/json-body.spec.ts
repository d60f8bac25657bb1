import { checkJsonDepth, checkNoNul, findNul, jsonDepth, MAX_JSON_DEPTH, storable, verifyUtf8, withoutPrototypeKeys } from './json-body';

describe('jsonDepth', () => {
  it('counts objects and arrays, not scalars', () => {
    expect(jsonDepth('x')).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth({ a: [1, { b: null }] })).toBe(3);
  });

  it('measures 100k levels without recursion, and stops early past a limit', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000));
    expect(jsonDepth(deep)).toBe(100_000);
    expect(jsonDepth(deep, 10)).toBe(11);
  });

  it('refuses a body deeper than MAX_JSON_DEPTH with a 400', () => {
    expect(() => checkJsonDepth(JSON.parse('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH)))).not.toThrow();
    expect(() => checkJsonDepth(JSON.parse('{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000)))).toThrow(expect.objectContaining({ status: 400, code: 'nesting_too_deep' }));
  });
});

describe('verifyUtf8', () => {
  it('passes UTF-8 and refuses invalid sequences with a 400', () => {
    expect(() => verifyUtf8(null, null, Buffer.from('{"x":"é😀"}'), 'utf-8')).not.toThrow();
    for (const bad of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf]]) {
      expect(() => verifyUtf8(null, null, Buffer.from([0x22, ...bad, 0x22]), 'utf-8')).toThrow(expect.objectContaining({ status: 400, code: 'invalid_encoding' }));
    }
  });

  it('leaves other charsets to their decoder', () => {
    expect(() => verifyUtf8(null, null, Buffer.from('"hi"', 'utf16le'), 'utf-16le')).not.toThrow();
  });
});

describe('withoutPrototypeKeys', () => {
  it('drops __proto__ and constructor members at any depth, leaving the input and clean parts as they are', () => {
    const input = JSON.parse('{"a":{"constructor":{"x":1},"b":2},"c":[{"__proto__":{"polluted":true},"d":3}],"e":{"f":1}}');
    const clean = withoutPrototypeKeys(input);
    expect(clean).toEqual({ a: { b: 2 }, c: [{ d: 3 }], e: { f: 1 } });
    expect(clean.e).toBe(input.e);
    expect(Object.keys(input.a)).toEqual(['constructor', 'b']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('returns the same value when there is nothing to drop', () => {
    const input = { a: [1, { b: 'constructor' }] };
    expect(withoutPrototypeKeys(input)).toBe(input);
  });
});

describe('storable', () => {
  it('replaces NUL and unpaired surrogates in strings, keys included, at any depth', () => {
    const input = { user: 'a\u0000b', metadata: { 'k\u0000': ['\ud800x', 'ok 😀'] }, at: new Date(0), n: 1, none: null };
    expect(storable(input)).toEqual({ user: 'a\ufffdb', metadata: { 'k\ufffd': ['\ufffdx', 'ok 😀'] }, at: new Date(0), n: 1, none: null });
    expect(input.user).toBe('a\u0000b');
  });

  it('returns the same value when every string is storable', () => {
    const input = { a: ['x', { b: 'é😀' }], d: new Date(0) };
    expect(storable(input)).toBe(input);
  });
});

describe('checkNoNul', () => {
  it('names the first string or member name holding NUL', () => {
    expect(findNul({ name: 'ok', allowed_models: ['a', 'b\u0000'] })).toBe('allowed_models[1]');
    expect(findNul({ budgets: [{ period: 'daily\u0000' }] })).toBe('budgets[0].period');
    expect(findNul({ 'k\u0000': 1 })).toBe('k\\u0000');
    expect(findNul({ name: 'fine', n: 1, none: null })).toBeNull();
    expect(() => checkNoNul({ user: 'x' }, { name: 'a\u0000b' })).toThrow(expect.objectContaining({ status: 400, param: 'name' }));
    expect(() => checkNoNul(undefined, {})).not.toThrow();
  });
});

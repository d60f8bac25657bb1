import { validateHeaderValue } from 'node:http';
import { headerValue } from './header-value';

describe('headerValue', () => {
  it('keeps what Node sends and replaces what it would throw on', () => {
    expect(headerValue('gpt-4o-2024-08-06')).toBe('gpt-4o-2024-08-06');
    expect(headerValue('café')).toBe('café');
    for (const bad of ['gpt\u0000', 'a\r\nset-cookie: x', 'model 😀', '\ud800']) {
      expect(() => validateHeaderValue('x-tokenhub-model', headerValue(bad))).not.toThrow();
    }
    expect(headerValue('a\r\nb')).toBe('a??b');
  });
});

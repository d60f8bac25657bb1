/** What Node refuses in a header value (it throws, a 500): controls, and anything past Latin-1. */
const NOT_IN_HEADER = /[^\t\x20-\x7e\x80-\xff]/g;

/** A value from a client or an upstream (a model name, parameter names) made safe to send as a header: each character Node refuses becomes `?`. */
export function headerValue(value: string): string {
  return value.replace(NOT_IN_HEADER, '?');
}

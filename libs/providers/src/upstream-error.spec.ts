import { parseRetryAfter, UpstreamError, upstreamHttpError } from './upstream-error';

describe('UpstreamError classification', () => {
  const http = (status: number, message = 'x', code?: string) => new UpstreamError('http', status, message, { code });

  it.each([401, 403, 404, 408, 409, 429, 500, 502, 503, 504])('falls back on %i', (status) => {
    expect(http(status).fallbackable).toBe(true);
  });

  it.each([400, 413, 422])('does not fall back on caller error %i', (status) => {
    expect(http(status).fallbackable).toBe(false);
  });

  it('falls back on context-length errors, by code or by message', () => {
    expect(http(400, 'too long', 'context_length_exceeded').fallbackable).toBe(true);
    expect(http(400, "This model's maximum context length is 8192 tokens").fallbackable).toBe(true);
    expect(http(400, "This model's maximum context length is 8192 tokens").retryable).toBe(false);
  });

  it('retries transient failures only', () => {
    expect(http(429).retryable).toBe(true);
    expect(http(503).retryable).toBe(true);
    expect(http(401).retryable).toBe(false);
    expect(new UpstreamError('network', 502, 'refused').retryable).toBe(true);
    expect(new UpstreamError('timeout', 504, 'slow').retryable).toBe(true);
    expect(new UpstreamError('protocol', 502, 'bad json').retryable).toBe(false);
    expect(new UpstreamError('protocol', 502, 'bad json').fallbackable).toBe(true);
  });
});

describe('parseRetryAfter', () => {
  it('reads retry-after-ms, seconds and HTTP dates', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '250' })).toBe(250);
    expect(parseRetryAfter({ 'retry-after': '2' })).toBe(2000);
    const inFive = new Date(Date.now() + 5_000).toUTCString();
    expect(parseRetryAfter({ 'retry-after': inFive })).toBeGreaterThan(3_000);
    expect(parseRetryAfter({})).toBeUndefined();
  });
});

describe('upstreamHttpError', () => {
  it('keeps the provider status and OpenAI error fields', () => {
    const err = upstreamHttpError(400, JSON.stringify({ error: { message: 'bad temp', type: 'invalid_request_error', param: 'temperature', code: 'x' } }));
    expect(err.toBody()).toEqual({ error: { message: 'bad temp', type: 'invalid_request_error', param: 'temperature', code: 'x' } });
    expect(err.status).toBe(400);
  });

  it('keeps a text body as the message', () => {
    expect(upstreamHttpError(502, 'upstream connect error').message).toBe('upstream connect error');
  });

  it('sums up an HTML error page by its title, or its text without tags', () => {
    expect(upstreamHttpError(502, '<html>Bad gateway</html>').message).toBe('HTTP 502: Bad gateway');
    const page = '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title><style>body{}</style></head><body><h1>502</h1>' + 'x'.repeat(5000) + '</body></html>';
    expect(upstreamHttpError(502, page).message).toBe('HTTP 502: 502 Bad Gateway');
    expect(upstreamHttpError(503, '<html><body><h1>Service\n  Unavailable</h1></body></html>').message).toBe('HTTP 503: Service Unavailable');
  });
});

import { createLogger } from './logger';

/** What one call to the logger writes, parsed. */
function logged(write: (logger: ReturnType<typeof createLogger>) => void): { line: string; json: Record<string, unknown> } {
  let line = '';
  const logger = createLogger('debug', { write: (chunk: string) => void (line += chunk) });
  write(logger);
  return { line, json: JSON.parse(line) as Record<string, unknown> };
}

describe('createLogger', () => {
  const SECRET = 'sk-do-not-log-0123456789';

  it('writes one JSON line with the service, the level, the time, the message and the request id', () => {
    const { line, json } = logged((l) => l.warn({ requestId: 'req-1', model: 'gpt-4o' }, 'something happened'));
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trim().split('\n')).toHaveLength(1);
    expect(json).toMatchObject({ service: 'tokenhub', level: 40, msg: 'something happened', requestId: 'req-1', model: 'gpt-4o', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  });

  it.each([
    ['authorization', { authorization: `Bearer ${SECRET}` }],
    ['a key', { key: SECRET }],
    ['an apiKey', { apiKey: SECRET }],
    ['a nested api_key', { credential: { api_key: SECRET } }],
    ['a token', { token: SECRET }],
    ['a JWT secret', { jwt: { secret: SECRET } }],
    ['AWS credentials', { aws: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: SECRET, sessionToken: SECRET } }],
    ['a Vertex service-account key', { credentials: { private_key: SECRET, privateKey: SECRET } }],
    ['an OAuth access token', { vertex: { accessToken: SECRET, access_token: SECRET } }],
    ['a database password', { db: { password: SECRET } }],
    ['request headers', { req: { headers: { authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET, 'api-key': SECRET, 'x-goog-api-key': SECRET, cookie: SECRET } } }],
    ['upstream headers', { headers: { authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET, 'x-amz-security-token': SECRET } }],
    ['headers of an error', { err: { message: 'upstream failed', headers: { 'api-key': SECRET } } }],
  ])('never writes %s', (_what, fields) => {
    const { line, json } = logged((l) => l.error({ requestId: 'req-2', ...fields }, 'upstream call failed'));
    expect(line).not.toContain(SECRET);
    expect(line).toContain('[redacted]');
    // Everything else stays: the request id above all.
    expect(json.requestId).toBe('req-2');
    expect(json.msg).toBe('upstream call failed');
  });

  it('keeps what is not a secret next to what is', () => {
    const { json } = logged((l) => l.info({ aws: { accessKeyId: 'AKIAEXAMPLE', region: 'us-east-1', secretAccessKey: SECRET }, req: { headers: { 'content-type': 'application/json', authorization: 'x' } } }, 'x'));
    expect(json.aws).toEqual({ accessKeyId: 'AKIAEXAMPLE', region: 'us-east-1', secretAccessKey: '[redacted]' });
    expect(json.req).toEqual({ headers: { 'content-type': 'application/json', authorization: '[redacted]' } });
  });
});

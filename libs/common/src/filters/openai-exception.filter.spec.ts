import createError from 'http-errors';
import { toErrorResponse } from './openai-exception.filter';

describe('toErrorResponse for body parser failures', () => {
  it('says how large a body may be, as a 413 request_too_large', () => {
    const { status, body } = toErrorResponse(createError(413, 'request entity too large', { type: 'entity.too.large', limit: 65536 }), 'r1');
    expect(status).toBe(413);
    expect(body.error).toEqual({ message: 'The request body is larger than this server accepts (65536 bytes).', type: 'invalid_request_error', param: null, code: 'request_too_large' });
  });

  it('tells an unsupported Content-Encoding from an unsupported charset', () => {
    expect(toErrorResponse(createError(415, 'unsupported content encoding "bogus"', { type: 'encoding.unsupported' }), 'r1').body.error.message).toMatch(/Content-Encoding/);
    expect(toErrorResponse(createError(415, 'unsupported charset "LATIN1"', { type: 'charset.unsupported' }), 'r1').body.error.message).toMatch(/UTF-8/);
  });
});

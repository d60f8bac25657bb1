import { createHash } from 'node:crypto';
import { amzDate, computeSignature, signRequest } from './sigv4';

const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

describe('SigV4', () => {
  it('formats the x-amz-date', () => {
    expect(amzDate(new Date('2015-08-30T12:36:00.123Z'))).toBe('20150830T123600Z');
  });

  it("matches AWS's get-vanilla test vector", () => {
    const parts = computeSignature(
      { method: 'GET', url: 'https://example.amazonaws.com/', headers: { Host: 'example.amazonaws.com', 'X-Amz-Date': '20150830T123600Z' }, body: '', service: 'service', region: 'us-east-1', credentials: CREDS },
      '20150830T123600Z',
    );
    expect(parts.canonicalRequest).toBe(
      'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(parts.signature).toBe('5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
  });

  it('sorts the query string', () => {
    const parts = computeSignature(
      { method: 'GET', url: 'https://example.amazonaws.com/?Param2=value2&Param1=value1', headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' }, body: '', service: 'service', region: 'us-east-1', credentials: CREDS },
      '20150830T123600Z',
    );
    expect(parts.canonicalRequest.split('\n')[2]).toBe('Param1=value1&Param2=value2');
  });

  it('signs a Bedrock request against a fixed date, double-encoding the model id in the canonical URI', () => {
    const body = '{"messages":[]}';
    const headers = signRequest({
      method: 'POST',
      url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse',
      headers: { 'content-type': 'application/json' },
      body,
      service: 'bedrock',
      region: 'us-east-1',
      credentials: { ...CREDS, sessionToken: 'session-token' },
      date: new Date('2024-05-01T10:20:30Z'),
    });
    expect(headers).toMatchObject({
      host: 'bedrock-runtime.us-east-1.amazonaws.com',
      'x-amz-date': '20240501T102030Z',
      'x-amz-security-token': 'session-token',
      'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
    });
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20240501\/us-east-1\/bedrock\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    const again = computeSignature(
      {
        method: 'POST',
        url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse',
        headers: Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'authorization')),
        body,
        service: 'bedrock',
        region: 'us-east-1',
        credentials: CREDS,
      },
      '20240501T102030Z',
    );
    expect(again.canonicalRequest.split('\n')[1]).toBe('/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse');
    expect(headers.authorization.endsWith(`Signature=${again.signature}`)).toBe(true);
    // A different secret gives a different signature.
    const other = computeSignature({ ...{ method: 'POST', url: 'https://x/', headers: {}, body, service: 'bedrock', region: 'us-east-1' }, credentials: { ...CREDS, secretAccessKey: 'other' } }, '20240501T102030Z');
    expect(other.signature).not.toBe(again.signature);
  });
});

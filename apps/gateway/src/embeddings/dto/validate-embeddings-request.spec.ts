import { estimationBody, splitInput, toBase64, validateEmbeddingsRequest } from './validate-embeddings-request';

describe('embeddings request helpers', () => {
  it('base64 is the little-endian float32 bytes of the vector, as OpenAI encodes it', () => {
    const bytes = Buffer.from(toBase64([1, -0.5, 0.25]), 'base64');
    expect(bytes).toHaveLength(12);
    expect([bytes.readFloatLE(0), bytes.readFloatLE(4), bytes.readFloatLE(8)]).toEqual([1, -0.5, 0.25]);
    expect(toBase64([1])).toBe(Buffer.from(new Float32Array([1]).buffer).toString('base64'));
  });

  it('splits input into texts or token arrays', () => {
    expect(splitInput('a')).toEqual({ texts: ['a'] });
    expect(splitInput(['a', 'b'])).toEqual({ texts: ['a', 'b'] });
    expect(splitInput([1, 2])).toEqual({ texts: [], tokens: [[1, 2]] });
    expect(splitInput([[1], [2, 3]])).toEqual({ texts: [], tokens: [[1], [2, 3]] });
  });

  it('governance estimates from one message per input and no output', () => {
    expect(estimationBody(['abcd'], undefined)).toEqual({ messages: [{ content: 'abcd' }], max_tokens: 1 });
    expect((estimationBody([], [[1, 2]]).messages as Array<{ content: string }>)[0].content).toHaveLength(8);
  });

  it('validates as OpenAI does, naming the field', async () => {
    await expect(validateEmbeddingsRequest({ model: 'm', input: ['ok'], encoding_format: 'base64', dimensions: 3 })).resolves.toMatchObject({ model: 'm' });
    await expect(validateEmbeddingsRequest({ model: 'm', input: [[1], 'x'] })).rejects.toMatchObject({ status: 400, param: 'input' });
    await expect(validateEmbeddingsRequest({ model: 'm', input: Array(2049).fill('x') })).rejects.toMatchObject({ param: 'input' });
    await expect(validateEmbeddingsRequest({ model: 'm', input: 'x', dimensions: 1.5 })).rejects.toMatchObject({ param: 'dimensions' });
    await expect(validateEmbeddingsRequest([])).rejects.toMatchObject({ status: 400 });
  });
});

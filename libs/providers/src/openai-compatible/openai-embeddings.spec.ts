import { fromCohereEmbedResponse, toCohereEmbedRequest } from '../cohere/cohere-embeddings';
import { bedrockEmbedFamily, fromTitanEmbedResponse } from '../bedrock/bedrock-embeddings';
import { fromGeminiEmbeddingsResponse, toGeminiEmbeddingsRequest } from '../gemini/gemini-embeddings';
import { UpstreamError } from '../upstream-error';
import { fromVertexPredictResponse, vertexTextsPerCall } from '../vertex/vertex-embeddings';
import { fromOpenAIEmbeddingsResponse, inBatches, requireTextInput, toOpenAIEmbeddingsRequest } from './openai-embeddings';

const call = { model: 'm', input: ['a', 'b'], signal: new AbortController().signal };

describe('embeddings wire formats', () => {
  it('OpenAI: floats asked for, dimensions and user passed, token arrays as input, data put back in index order', () => {
    expect(toOpenAIEmbeddingsRequest({ ...call, dimensions: 8, user: 'u' })).toEqual({ model: 'm', input: ['a', 'b'], encoding_format: 'float', dimensions: 8, user: 'u' });
    expect(toOpenAIEmbeddingsRequest({ ...call, input: [], tokens: [[1, 2]] }).input).toEqual([[1, 2]]);
    const text = JSON.stringify({ data: [{ index: 1, embedding: [2] }, { index: 0, embedding: [1] }], usage: { prompt_tokens: 3, total_tokens: 3 } });
    expect(fromOpenAIEmbeddingsResponse('openai', text, 2)).toEqual({ vectors: [[1], [2]], usage: { promptTokens: 3, completionTokens: 0, cachedTokens: 0, totalTokens: 3 } });
  });

  it('a provider answering the wrong number of vectors, or no JSON, is a 502', () => {
    expect(() => fromOpenAIEmbeddingsResponse('openai', JSON.stringify({ data: [{ index: 0, embedding: [1] }] }), 2)).toThrow(UpstreamError);
    expect(() => fromGeminiEmbeddingsResponse('gemini', 'not json', 1)).toThrow(/malformed JSON/);
    expect(() => fromGeminiEmbeddingsResponse('gemini', JSON.stringify({ embeddings: [{ values: 'x' }] }), 1)).toThrow(/not a list of numbers/);
  });

  it('Gemini: one request per text naming the model; no usage reported', () => {
    expect(toGeminiEmbeddingsRequest('gemini-embedding-001', { ...call, dimensions: 4 })).toEqual({
      requests: [
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a' }] }, outputDimensionality: 4 },
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'b' }] }, outputDimensionality: 4 },
      ],
    });
    expect(fromGeminiEmbeddingsResponse('gemini', JSON.stringify({ embeddings: [{ values: [1] }] }), 1)).toEqual({ vectors: [[1]], usage: null });
  });

  it('Cohere: search_query and float types; reads embeddings.float or a plain list, and billed units or a header count', () => {
    expect(toCohereEmbedRequest(['x'], { ...call, dimensions: 256 }, true)).toEqual({ model: 'm', texts: ['x'], input_type: 'search_query', embedding_types: ['float'], output_dimension: 256 });
    expect(toCohereEmbedRequest(['x'], call, false)).not.toHaveProperty('model');
    expect(fromCohereEmbedResponse('cohere', JSON.stringify({ embeddings: { float: [[1]] }, meta: { billed_units: { input_tokens: 5 } } }), 1).usage?.promptTokens).toBe(5);
    expect(fromCohereEmbedResponse('bedrock', JSON.stringify({ embeddings: [[1]] }), 1, 7)).toMatchObject({ vectors: [[1]], usage: { promptTokens: 7 } });
  });

  it('Bedrock and Vertex: model families, Titan and :predict answers', () => {
    expect(bedrockEmbedFamily('bedrock', 'amazon.titan-embed-text-v2:0')).toBe('titan');
    expect(bedrockEmbedFamily('bedrock', 'us.cohere.embed-v4:0')).toBe('cohere');
    expect(() => bedrockEmbedFamily('bedrock', 'anthropic.claude-3')).toThrow(/titan-embed-text/);
    expect(fromTitanEmbedResponse('bedrock', JSON.stringify({ embedding: [0.5], inputTextTokenCount: 2 }))).toMatchObject({ vectors: [[0.5]], usage: { promptTokens: 2 } });
    expect(vertexTextsPerCall('vertex', 'gemini-embedding-001')).toBe(1);
    expect(() => vertexTextsPerCall('vertex', 'claude-sonnet-4-5')).toThrow(/Vertex AI/);
    const predict = { predictions: [{ embeddings: { values: [1], statistics: { token_count: 2 } } }, { embeddings: { values: [2], statistics: { token_count: 3 } } }] };
    expect(fromVertexPredictResponse('vertex', JSON.stringify(predict), 2)).toMatchObject({ vectors: [[1], [2]], usage: { promptTokens: 5, totalTokens: 5 } });
  });

  it('token arrays are refused by native providers', () => {
    expect(() => requireTextInput('cohere', { ...call, input: [], tokens: [[1]] })).toThrow(/cohere/);
    expect(() => requireTextInput('cohere', call)).not.toThrow();
  });

  it('inBatches keeps input order across parallel batches and adds up usage (null if any batch has none)', async () => {
    const texts = Array.from({ length: 7 }, (_, i) => `t${i}`);
    const seen: string[][] = [];
    const result = await inBatches(texts, 3, 2, async (batch) => {
      seen.push(batch);
      await new Promise((r) => setTimeout(r, batch[0] === 't0' ? 20 : 0));
      return { vectors: batch.map((t) => [Number(t.slice(1))]), usage: { promptTokens: batch.length, completionTokens: 0, cachedTokens: 0, totalTokens: batch.length } };
    });
    expect(seen.map((b) => b.length).sort()).toEqual([1, 3, 3]);
    expect(result.vectors).toEqual(texts.map((_, i) => [i]));
    expect(result.usage?.promptTokens).toBe(7);
    const none = await inBatches(['a', 'b'], 1, 2, async (b) => ({ vectors: [[1]], usage: b[0] === 'a' ? null : { promptTokens: 1, completionTokens: 0, cachedTokens: 0, totalTokens: 1 } }));
    expect(none.usage).toBeNull();
  });
});

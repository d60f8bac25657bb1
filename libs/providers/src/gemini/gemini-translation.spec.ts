import { InvalidRequestError } from '@tokenhub/common';
import { fromGeminiResponse, GeminiStreamTranslator, guessMimeType, mapFinishReason, toGeminiRequest } from './gemini-translation';
import { geminiError } from './gemini.provider';

describe('Gemini translation', () => {
  describe('requests', () => {
    it('moves system and developer messages to systemInstruction and assistant to model', () => {
      const req = toGeminiRequest(
        {
          model: 'gemini-2.5-flash',
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'developer', content: [{ type: 'text', text: 'No emoji.' }] },
            { role: 'user', content: 'Hi' },
            { role: 'assistant', content: 'Hello!' },
            { role: 'user', content: 'Bye' },
          ],
        },
        'gemini',
      );
      expect(req.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }, { text: 'No emoji.' }] });
      expect(req.contents).toEqual([
        { role: 'user', parts: [{ text: 'Hi' }] },
        { role: 'model', parts: [{ text: 'Hello!' }] },
        { role: 'user', parts: [{ text: 'Bye' }] },
      ]);
      expect(req.generationConfig).toBeUndefined();
    });

    it('maps tool calls and tool results, naming each result after its call', () => {
      const req = toGeminiRequest(
        {
          messages: [
            { role: 'user', content: 'weather?' },
            {
              role: 'assistant',
              content: null,
              tool_calls: [
                { id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
                { id: 'call_1', type: 'function', function: { name: 'get_time', arguments: '{}' } },
              ],
            },
            { role: 'tool', tool_call_id: 'call_1', content: '12:00' },
            { role: 'tool', tool_call_id: 'call_0', content: '{"temp":21}' },
          ],
        },
        'gemini',
      );
      expect(req.contents).toEqual([
        { role: 'user', parts: [{ text: 'weather?' }] },
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }, { functionCall: { name: 'get_time', args: {} } }] },
        {
          role: 'user',
          parts: [{ functionResponse: { name: 'get_time', response: { result: '12:00' } } }, { functionResponse: { name: 'get_weather', response: { temp: 21 } } }],
        },
      ]);
    });

    it('rejects a tool result that answers no earlier call', () => {
      expect(() => toGeminiRequest({ messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'nope', content: 'y' }] }, 'gemini')).toThrow(InvalidRequestError);
    });

    it('maps images: data URLs inline, http URLs as files with a guessed type', () => {
      const req = toGeminiRequest(
        {
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'What is this?' },
                { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
                { type: 'image_url', image_url: { url: 'https://example.com/cat.webp?size=2' } },
              ],
            },
          ],
        },
        'gemini',
      );
      expect(req.contents[0].parts).toEqual([
        { text: 'What is this?' },
        { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
        { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.webp?size=2' } },
      ]);
      expect(guessMimeType('https://x.test/a.JPG')).toBe('image/jpeg');
      expect(guessMimeType('https://x.test/a')).toBe('image/jpeg');
    });

    it('maps generation parameters, tools and tool_choice', () => {
      const req = toGeminiRequest(
        {
          messages: [{ role: 'user', content: 'x' }],
          temperature: 0.3,
          top_p: 0.9,
          max_tokens: 50,
          stop: 'END',
          n: 2,
          presence_penalty: 0.1,
          frequency_penalty: 0.2,
          response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false } } },
          tools: [{ type: 'function', function: { name: 'f', description: 'does f', parameters: { type: 'object', properties: {}, additionalProperties: false } } }],
          tool_choice: { type: 'function', function: { name: 'f' } },
        },
        'gemini',
      );
      expect(req.generationConfig).toEqual({
        temperature: 0.3,
        topP: 0.9,
        maxOutputTokens: 50,
        stopSequences: ['END'],
        candidateCount: 2,
        presencePenalty: 0.1,
        frequencyPenalty: 0.2,
        responseMimeType: 'application/json',
        responseSchema: { type: 'object', properties: { a: { type: 'string' } } },
      });
      expect(req.tools).toEqual([{ functionDeclarations: [{ name: 'f', description: 'does f', parameters: { type: 'object', properties: {} } }] }]);
      expect(req.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['f'] } });
      expect(toGeminiRequest({ messages: [{ role: 'user', content: 'x' }], tool_choice: 'required', max_completion_tokens: 9 }, 'g')).toMatchObject({
        toolConfig: { functionCallingConfig: { mode: 'ANY' } },
        generationConfig: { maxOutputTokens: 9 },
      });
      expect(toGeminiRequest({ messages: [{ role: 'user', content: 'x' }], tool_choice: 'none', response_format: { type: 'json_object' } }, 'g')).toMatchObject({
        toolConfig: { functionCallingConfig: { mode: 'NONE' } },
        generationConfig: { responseMimeType: 'application/json' },
      });
    });

    it('refuses what Gemini cannot honour, naming the provider and the parameter', () => {
      try {
        toGeminiRequest({ messages: [{ role: 'user', content: 'x' }], logit_bias: { '50256': -100 } }, 'gemini');
        fail('should throw');
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidRequestError);
        expect((err as InvalidRequestError).param).toBe('logit_bias');
        expect((err as InvalidRequestError).message).toMatch(/gemini.*logit_bias/);
      }
      expect(() => toGeminiRequest({ messages: [{ role: 'user', content: 'x' }], stream: true, n: 2 }, 'gemini')).toThrow(InvalidRequestError);
      expect(() => toGeminiRequest({ messages: [{ role: 'system', content: 'only system' }] }, 'gemini')).toThrow(InvalidRequestError);
    });
  });

  describe('answers', () => {
    it('translates text, usage with cached and thinking tokens', () => {
      const { body, usage } = fromGeminiResponse(
        {
          candidates: [{ content: { role: 'model', parts: [{ text: 'thinking…', thought: true }, { text: 'Hello' }, { text: ' there' }] }, finishReason: 'STOP' }],
          usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 4, thoughtsTokenCount: 6, cachedContentTokenCount: 3, totalTokenCount: 20 },
        },
        'chatcmpl-1',
        'gemini-2.5-flash',
      );
      const json = JSON.parse(body.toString());
      expect(json).toMatchObject({ id: 'chatcmpl-1', object: 'chat.completion', model: 'gemini-2.5-flash' });
      expect(json.choices[0]).toMatchObject({ message: { role: 'assistant', content: 'Hello there' }, finish_reason: 'stop' });
      expect(usage).toEqual({ promptTokens: 10, completionTokens: 10, cachedTokens: 3, totalTokens: 20 });
      expect(json.usage).toEqual({ prompt_tokens: 10, completion_tokens: 10, total_tokens: 20, prompt_tokens_details: { cached_tokens: 3 } });
    });

    it('translates function calls to tool calls with stable ids', () => {
      const { body } = fromGeminiResponse(
        {
          candidates: [
            {
              content: { parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }, { functionCall: { name: 'get_weather', args: { city: 'London' } } }] },
              finishReason: 'STOP',
            },
          ],
        },
        'chatcmpl-2',
        'm',
      );
      const choice = JSON.parse(body.toString()).choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message.content).toBeNull();
      expect(choice.message.tool_calls).toEqual([
        { id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"London"}' } },
      ]);
    });

    it('maps finish reasons', () => {
      expect(mapFinishReason('STOP', false)).toBe('stop');
      expect(mapFinishReason('STOP', true)).toBe('tool_calls');
      expect(mapFinishReason('MAX_TOKENS', false)).toBe('length');
      for (const r of ['SAFETY', 'RECITATION', 'PROHIBITED_CONTENT', 'BLOCKLIST']) expect(mapFinishReason(r, false)).toBe('content_filter');
    });

    it('answers several candidates as several choices', () => {
      const { body } = fromGeminiResponse(
        { candidates: [{ content: { parts: [{ text: 'a' }] }, finishReason: 'STOP' }, { content: { parts: [{ text: 'b' }] }, finishReason: 'MAX_TOKENS' }] },
        'id',
        'm',
      );
      const json = JSON.parse(body.toString());
      expect(json.choices.map((c: any) => [c.index, c.message.content, c.finish_reason])).toEqual([
        [0, 'a', 'stop'],
        [1, 'b', 'length'],
      ]);
    });

    it('turns a blocked prompt into a content_filter answer', () => {
      const { body } = fromGeminiResponse({ promptFeedback: { blockReason: 'SAFETY' } }, 'id', 'm');
      expect(JSON.parse(body.toString()).choices[0]).toMatchObject({ finish_reason: 'content_filter', message: { content: null } });
    });
  });

  describe('streams', () => {
    it('translates text deltas, function calls, the finish and the usage', () => {
      const t = new GeminiStreamTranslator('chatcmpl-s', 'gemini-2.5-flash');
      const events = [
        ...t.push({ candidates: [{ content: { parts: [{ text: 'Let me check.' }] } }] }),
        ...t.push({
          candidates: [{ content: { parts: [{ functionCall: { name: 'w', args: { city: 'Paris' } } }, { functionCall: { name: 'w', args: { city: 'Rome' } } }] }, finishReason: 'STOP' }],
          usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 7, totalTokenCount: 12 },
        }),
      ];
      expect(t.finished).toBe(true);
      events.push(...t.end());
      const chunks = events.map((e) => JSON.parse(e.data));
      expect(chunks.every((c) => c.id === 'chatcmpl-s' && c.object === 'chat.completion.chunk')).toBe(true);
      expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
      expect(chunks[1].choices[0].delta).toEqual({ content: 'Let me check.' });
      expect(chunks[2].choices[0].delta.tool_calls).toEqual([{ index: 0, id: 'call_0', type: 'function', function: { name: 'w', arguments: '' } }]);
      expect(chunks[3].choices[0].delta.tool_calls).toEqual([{ index: 0, function: { arguments: '{"city":"Paris"}' } }]);
      expect(chunks[4].choices[0].delta.tool_calls[0]).toMatchObject({ index: 1, id: 'call_1' });
      expect(chunks[5].choices[0].delta.tool_calls[0]).toEqual({ index: 1, function: { arguments: '{"city":"Rome"}' } });
      expect(chunks[6].choices[0].finish_reason).toBe('tool_calls');
      expect(chunks[7]).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } });
      expect(events[7]).toMatchObject({ usageOnly: true, usage: { promptTokens: 5, completionTokens: 7, cachedTokens: 0, totalTokens: 12 } });
    });

    it('is not finished until a finishReason arrives', () => {
      const t = new GeminiStreamTranslator('x', 'm');
      t.push({ candidates: [{ content: { parts: [{ text: 'a' }] } }] });
      expect(t.finished).toBe(false);
    });
  });

  describe('errors', () => {
    it('keeps the status and names the code after the Gemini status', () => {
      const { status, body } = geminiError(503, JSON.stringify({ error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }));
      expect(status).toBe(503);
      expect(JSON.parse(body)).toEqual({ error: { message: 'The model is overloaded.', code: 'unavailable' } });
    });

    it('treats an invalid key as 401', () => {
      const { status } = geminiError(400, JSON.stringify({ error: { code: 400, message: 'API key not valid.', status: 'INVALID_ARGUMENT', details: [{ reason: 'API_KEY_INVALID' }] } }));
      expect(status).toBe(401);
    });
  });
});

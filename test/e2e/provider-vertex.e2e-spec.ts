import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { FakeVertex } from '../fakes/fake-vertex';
import { expectOpenAIError, Gateway, postChat, startGateway } from './harness';

jest.setTimeout(30_000);

const PROJECT = 'tokenhub-test';
const LOCATION = 'europe-west4';

describe('the Vertex AI provider', () => {
  let vertex: FakeVertex;
  let gw: Gateway;
  let client: OpenAI;
  let key: string;
  let dir: string;

  beforeAll(async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const account = { clientEmail: 'gateway@tokenhub-test.iam.gserviceaccount.com', keyId: 'kid-test-1', project: PROJECT, location: LOCATION };
    vertex = new FakeVertex(publicKey.export({ type: 'spki', format: 'pem' }).toString(), account);
    const { baseUrl, tokenUrl } = await vertex.start();
    dir = mkdtempSync(join(tmpdir(), 'tokenhub-vertex-'));
    const credentialsFile = join(dir, 'service-account.json');
    writeFileSync(
      credentialsFile,
      JSON.stringify({
        type: 'service_account',
        project_id: PROJECT,
        private_key_id: account.keyId,
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        client_email: account.clientEmail,
        token_uri: 'https://oauth2.googleapis.com/token',
      }),
    );
    gw = await startGateway({
      VERTEX_PROJECT: PROJECT,
      VERTEX_LOCATION: LOCATION,
      VERTEX_CREDENTIALS_FILE: credentialsFile,
      VERTEX_BASE_URL: baseUrl,
      VERTEX_TOKEN_URL: tokenUrl,
    });
    ({ key } = await gw.createKey('vertex-spec'));
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await vertex?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers a Gemini model through generateContent with a bearer token', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'vertex/gemini-2.5-flash', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello, Vertex' }], max_tokens: 50 })
      .withResponse();
    expect(response.headers.get('x-tokenhub-provider')).toBe('vertex');
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0].message).toMatchObject({ role: 'assistant', content: 'echo: Hello, Vertex' });
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 });
    expect(vertex.last).toMatchObject({ publisher: 'google', model: 'gemini-2.5-flash', method: 'generateContent' });
    expect(vertex.last.headers.authorization).toBe('Bearer ya29.fake-1');
    expect(vertex.last.headers['x-goog-api-key']).toBeUndefined();
    expect(vertex.last.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Hello, Vertex' }] }],
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: { temperature: 0.7, maxOutputTokens: 50 }, // TokenHub's default temperature
    });
  });

  it('streams a Gemini model through streamGenerateContent?alt=sse', async () => {
    const stream = await client.chat.completions.create({
      model: 'vertex/gemini-2.5-pro',
      messages: [{ role: 'user', content: 'Stream me a greeting please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(vertex.last).toMatchObject({ publisher: 'google', model: 'gemini-2.5-pro', method: 'streamGenerateContent' });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: Stream me a greeting please');
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason)).toEqual(['stop']);
    expect(chunks[chunks.length - 1].usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 5 });
  });

  it('answers a Claude model through rawPredict, without model and with the Vertex anthropic_version', async () => {
    const res = await client.chat.completions.create({
      model: 'vertex/claude-sonnet-4@20250514',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello, Claude' }],
      max_tokens: 64,
    });
    expect(res.choices[0].message.content).toBe('echo: Hello, Claude');
    expect(res.choices[0].finish_reason).toBe('stop');
    expect(res.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 6 });
    expect(vertex.last).toMatchObject({ publisher: 'anthropic', model: 'claude-sonnet-4@20250514', method: 'rawPredict' });
    expect(vertex.last.body).toMatchObject({ anthropic_version: 'vertex-2023-10-16', max_tokens: 64, system: 'Be brief.' });
    expect(vertex.last.body.model).toBeUndefined();
    expect(vertex.last.headers['anthropic-version']).toBeUndefined();
    expect(vertex.last.headers['x-api-key']).toBeUndefined();
  });

  it('streams a Claude model through streamRawPredict', async () => {
    const stream = await client.chat.completions.create({
      model: 'vertex/claude-3-5-haiku@20241022',
      messages: [{ role: 'user', content: 'Stream from Claude please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(vertex.last).toMatchObject({ publisher: 'anthropic', method: 'streamRawPredict' });
    expect(vertex.last.body).toMatchObject({ stream: true, anthropic_version: 'vertex-2023-10-16' });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: Stream from Claude please');
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason)).toEqual(['stop']);
    expect(chunks[chunks.length - 1].usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 6 });
  });

  it('sends a Gemini model tools as functionDeclarations and json_object as responseMimeType', async () => {
    const res = await postChat(gw, key, {
      model: 'vertex/gemini-2.5-flash',
      messages: [{ role: 'user', content: 'Weather in Paris and Rome, as JSON' }],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
      tool_choice: 'auto',
      response_format: { type: 'json_object' },
    });
    expect(res.status).toBe(200);
    expect(vertex.last).toMatchObject({ publisher: 'google', model: 'gemini-2.5-flash', method: 'generateContent' });
    expect(vertex.last.body.tools).toEqual([{ functionDeclarations: [expect.objectContaining({ name: 'get_weather', description: 'Weather' })] }]);
    expect(vertex.last.body.generationConfig).toMatchObject({ responseMimeType: 'application/json' });
  });

  it('turns json_object for a Claude model into a system instruction', async () => {
    const res = await postChat(gw, key, {
      model: 'vertex/claude-sonnet-4@20250514',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Give JSON' }],
      response_format: { type: 'json_object' },
      max_tokens: 32,
    });
    expect(res.status).toBe(200);
    expect(vertex.last).toMatchObject({ publisher: 'anthropic', method: 'rawPredict' });
    expect(JSON.stringify(vertex.last.body.system)).toMatch(/Be brief\..*JSON object/s);
    expect(vertex.last.body.response_format).toBeUndefined();
  });

  it('fetched one token and reused it for every request', () => {
    expect(vertex.issued).toEqual(['ya29.fake-1']);
    expect(vertex.requests.length).toBeGreaterThanOrEqual(4);
    expect(vertex.requests.every((r) => r.headers.authorization === 'Bearer ya29.fake-1')).toBe(true);
  });

  it('passes a Vertex error on OpenAI-shaped, keeping its status', async () => {
    const res = await postChat(gw, key, { model: 'vertex/gemini-error-400', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(400);
    expect(expectOpenAIError(await res.json()).message).toMatch(/The fake answers 400/);
    await expect(client.chat.completions.create({ model: 'vertex/claude-error-429', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 429 });
    await expect(client.chat.completions.create({ model: 'vertex/gemini-error-503', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 503 });
  });

  it('refuses a model Vertex does not route', async () => {
    const res = await postChat(gw, key, { model: 'vertex/llama-3', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(404);
    expect(expectOpenAIError(await res.json()).param).toBe('model');
  });
});

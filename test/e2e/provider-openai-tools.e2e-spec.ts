import OpenAI from 'openai';
import { FakeAzureOpenAI } from '../fakes/fake-azure';
import { FakeOpenAI } from '../fakes/fake-openai';
import { Gateway, startGateway } from './harness';
import { collectStream, WEATHER_TOOL } from './sdk-fixtures';

jest.setTimeout(30_000);

const ASK = [{ role: 'user' as const, content: 'weather in Paris and Tokyo?' }];
const EXPECTED = [
  { id: 'call_paris', name: 'get_weather', args: '{"city":"Paris"}' },
  { id: 'call_tokyo', name: 'get_weather', args: '{"city":"Tokyo"}' },
];

/**
 * The OpenAI wire format passes through: two parallel tool calls from OpenAI itself and from
 * an Azure OpenAI deployment reach the official SDK as the provider sent them, streamed and not.
 */
describe.each(['openai/gpt-4o', 'azure/gpt-4o'])('two parallel tool calls through %s', (model) => {
  const openai = new FakeOpenAI();
  const azure = new FakeAzureOpenAI();
  let gw: Gateway;
  let client: OpenAI;

  beforeAll(async () => {
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: await openai.start(), AZURE_API_KEY: 'az-upstream', AZURE_BASE_URL: await azure.start() });
    const { key } = await gw.createKey('openai-tools');
    client = new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await openai.stop();
    await azure.stop();
  });

  it('answers them in one message with finish_reason tool_calls', async () => {
    const res = await client.chat.completions.create({ model, messages: ASK, tools: [WEATHER_TOOL], parallel_tool_calls: true });
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0].finish_reason).toBe('tool_calls');
    const calls = res.choices[0].message.tool_calls!.map((c) => (c.type === 'function' ? { id: c.id, name: c.function.name, args: c.function.arguments } : null));
    expect(calls).toEqual(EXPECTED);
  });

  it('streams them as tool-call deltas with indexes 0 and 1', async () => {
    const stream = await client.chat.completions.create({ model, messages: ASK, tools: [WEATHER_TOOL], stream: true, stream_options: { include_usage: true } });
    const { calls, finish, usage, objects } = await collectStream(stream);
    expect([...objects]).toEqual(['chat.completion.chunk']);
    expect(finish.at(-1)).toBe('tool_calls');
    expect(calls).toEqual(EXPECTED);
    expect(usage?.total_tokens).toBeGreaterThan(0);
  });

  it('is reassembled by the SDK stream helper, and takes the results back in the next turn', async () => {
    const final = await client.chat.completions.stream({ model, messages: ASK, tools: [WEATHER_TOOL] }).finalChatCompletion();
    const message = final.choices[0].message;
    expect(message.tool_calls?.map((c) => (c.type === 'function' ? c.function.arguments : null))).toEqual(EXPECTED.map((e) => e.args));
    const next = await client.chat.completions.create({
      model,
      tools: [WEATHER_TOOL],
      messages: [...ASK, { role: 'assistant', content: null, tool_calls: message.tool_calls }, ...message.tool_calls!.map((c) => ({ role: 'tool' as const, tool_call_id: c.id, content: '18C' }))],
    });
    expect(next.choices[0].finish_reason).toBe('stop');
  });
});

import { FakeOpenAI } from '../fakes/fake-openai';
import { chatBody, Gateway, postChat, startGateway } from './harness';

describe('smoke', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;
  beforeAll(async () => {
    fake = new FakeOpenAI();
    const base = await fake.start();
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base });
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  it('answers a chat completion', async () => {
    const { key } = await gw.createKey();
    const res = await postChat(gw, key, chatBody());
    expect(res.status).toBe(200);
    const json = await res.json();
    expect(json.choices[0].message.content).toBe('echo: Hello, how are you?');
  });
});

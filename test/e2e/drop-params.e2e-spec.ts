import { FakeAnthropic } from '../fakes/fake-anthropic';
import { FakeCohere } from '../fakes/fake-cohere';
import { expectOpenAIError, Gateway, postChat, startGateway } from './harness';

jest.setTimeout(30_000);

const SONNET = 'anthropic/claude-sonnet-4-5';
const ask = (extra: Record<string, unknown>, model = SONNET) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

/**
 * A parameter a provider cannot honour is never silently changed in meaning: a 400 naming
 * the provider and the parameter, or, when the caller opts in, dropped and named in
 * `x-tokenhub-dropped-params`.
 */
describe('parameters a provider cannot honour', () => {
  const anthropic = new FakeAnthropic();
  const cohere = new FakeCohere();
  let env: Record<string, string>;

  beforeAll(async () => {
    env = {
      ANTHROPIC_API_KEY: 'sk-ant-upstream',
      ANTHROPIC_BASE_URL: await anthropic.start(),
      COHERE_API_KEY: 'co-upstream',
      COHERE_BASE_URL: await cohere.start(),
    };
  });
  afterAll(async () => {
    await anthropic.stop();
    await cohere.stop();
  });

  describe('by default', () => {
    let gw: Gateway;
    let key: string;
    beforeAll(async () => {
      gw = await startGateway(env);
      ({ key } = await gw.createKey('drop-params-default'));
    });
    afterAll(() => gw?.close());

    it.each([
      ['seed', 7],
      ['logprobs', true],
      ['n', 2],
      ['frequency_penalty', 0.4],
    ])('refuses %s for Anthropic with a 400 naming provider and parameter, before calling it', async (param, value) => {
      const before = anthropic.requests.length;
      const res = await postChat(gw, key, ask({ [param]: value }));
      expect(res.status).toBe(400);
      const error = expectOpenAIError(await res.json());
      expect(error.param).toBe(param);
      expect(error.code).toBe('unsupported_parameter');
      expect(error.message).toContain('anthropic');
      expect(error.message).toContain('x-tokenhub-drop-params');
      expect(anthropic.requests.length).toBe(before);
    });

    it('passes neutral values (n 1, logprobs false, penalty 0) without refusing or naming them', async () => {
      const res = await postChat(gw, key, ask({ n: 1, logprobs: false, presence_penalty: 0 }));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tokenhub-dropped-params')).toBeNull();
    });

    it('refuses logprobs for Cohere too', async () => {
      const res = await postChat(gw, key, ask({ logprobs: true }, 'cohere/command-a-03-2025'));
      expect(res.status).toBe(400);
      expect(expectOpenAIError(await res.json()).param).toBe('logprobs');
    });

    it('drops them when the request opts in, naming each in x-tokenhub-dropped-params', async () => {
      const res = await postChat(gw, key, ask({ seed: 7, logprobs: true, top_logprobs: 2 }), { 'x-tokenhub-drop-params': 'true' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tokenhub-dropped-params')).toBe('top_logprobs, seed, logprobs');
      const sent = anthropic.last.body;
      expect(sent).not.toHaveProperty('seed');
      expect(sent).not.toHaveProperty('logprobs');
      expect(sent).not.toHaveProperty('top_logprobs');
    });

    it('names what was dropped on a stream as well', async () => {
      const res = await postChat(gw, key, ask({ seed: 7, stream: true }), { 'x-tokenhub-drop-params': 'true' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tokenhub-dropped-params')).toBe('seed');
      expect(await res.text()).toContain('data: [DONE]');
    });
  });

  describe('with TOKENHUB_DROP_PARAMS=true', () => {
    let gw: Gateway;
    let key: string;
    beforeAll(async () => {
      gw = await startGateway({ ...env, TOKENHUB_DROP_PARAMS: 'true' });
      ({ key } = await gw.createKey('drop-params-global'));
    });
    afterAll(() => gw?.close());

    it('drops without the header', async () => {
      const res = await postChat(gw, key, ask({ seed: 7 }));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tokenhub-dropped-params')).toBe('seed');
    });

    it('refuses again when the request says x-tokenhub-drop-params: false', async () => {
      const res = await postChat(gw, key, ask({ seed: 7 }), { 'x-tokenhub-drop-params': 'false' });
      expect(res.status).toBe(400);
      expect(expectOpenAIError(await res.json()).param).toBe('seed');
    });
  });
});

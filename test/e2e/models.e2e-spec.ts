import { FakeOpenAI } from '../fakes/fake-openai';
import { ADMIN_KEY, expectOpenAIError, Gateway, startGateway } from './harness';

jest.setTimeout(30_000);

interface ModelList {
  object: string;
  data: Array<{ id: string; object: string; created: number; owned_by: string }>;
}

describe('GET /v1/models', () => {
  let fake: FakeOpenAI;
  let gw: Gateway;

  beforeAll(async () => {
    fake = new FakeOpenAI();
    const base = await fake.start();
    // openai and anthropic are configured; gemini, cohere and the rest are not.
    gw = await startGateway({ OPENAI_API_KEY: 'sk-upstream', OPENAI_BASE_URL: base, ANTHROPIC_API_KEY: 'sk-ant', ANTHROPIC_BASE_URL: base });
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.stop();
  });

  const list = (key?: string) => fetch(`${gw.url}/v1/models`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

  it('lists the catalog models of configured providers, OpenAI-shaped, for a key without restrictions', async () => {
    const { key } = await gw.createKey('models-all');
    const res = await list(key);
    expect(res.status).toBe(200);
    const body = (await res.json()) as ModelList;
    expect(body.object).toBe('list');
    const ids = body.data.map((m) => m.id);
    expect(ids).toContain('openai/gpt-4o');
    expect(ids).toContain('openai/gpt-4o-mini');
    expect(ids).toContain('anthropic/claude-sonnet-4-5');
    expect(ids.some((id) => id.startsWith('gemini/') || id.startsWith('cohere/'))).toBe(false);
    for (const m of body.data) {
      expect(Object.keys(m).sort()).toEqual(['created', 'id', 'object', 'owned_by']);
      expect(m.object).toBe('model');
      expect(m.owned_by).toBe(m.id.split('/')[0]);
      expect(Number.isInteger(m.created)).toBe(true);
      expect(m.created).toBeGreaterThan(0);
    }
  });

  it("filters by the key's allowed_models", async () => {
    const res = await gw.admin('/admin/virtual-keys', { method: 'POST', body: JSON.stringify({ name: 'models-limited', allowed_models: ['openai/gpt-4o*'] }) });
    expect(res.status).toBe(201);
    const { key } = (await res.json()) as { key: string };
    const body = (await (await list(key)).json()) as ModelList;
    const ids = body.data.map((m) => m.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toContain('openai/gpt-4o');
    expect(ids).toContain('openai/gpt-4o-mini');
    for (const id of ids) expect(id).toMatch(/^openai\/gpt-4o/);
  });

  it("applies the team's allowed_models too: a model must be allowed at every level", async () => {
    const teamRes = await gw.admin('/admin/teams', { method: 'POST', body: JSON.stringify({ name: 'models-team', allowed_models: ['openai/gpt-4o-mini', 'anthropic/*'] }) });
    expect(teamRes.status).toBe(201);
    const team = (await teamRes.json()) as { id: string };
    const res = await gw.admin('/admin/virtual-keys', { method: 'POST', body: JSON.stringify({ name: 'models-team-key', team_id: team.id, allowed_models: ['openai/gpt-4o*'] }) });
    expect(res.status).toBe(201);
    const { key } = (await res.json()) as { key: string };
    expect(((await (await list(key)).json()) as ModelList).data.map((m) => m.id)).toEqual(['openai/gpt-4o-mini']);
    // A key of the team without a list of its own sees the team's.
    const loose = await gw.admin('/admin/virtual-keys', { method: 'POST', body: JSON.stringify({ name: 'models-team-loose', team_id: team.id }) });
    const ids = ((await (await list(((await loose.json()) as { key: string }).key)).json()) as ModelList).data.map((m) => m.id);
    expect(ids).toContain('openai/gpt-4o-mini');
    expect(ids).toContain('anthropic/claude-sonnet-4-5');
    expect(ids).not.toContain('openai/gpt-4o');
  });

  it('lists nothing for a key allowed no models', async () => {
    const res = await gw.admin('/admin/virtual-keys', { method: 'POST', body: JSON.stringify({ name: 'models-none', allowed_models: [] }) });
    expect(res.status).toBe(201);
    const { key } = (await res.json()) as { key: string };
    expect(((await (await list(key)).json()) as ModelList).data).toEqual([]);
  });

  it('shows the admin key everything configured', async () => {
    const body = (await (await list(ADMIN_KEY)).json()) as ModelList;
    expect(body.data.map((m) => m.id)).toEqual(expect.arrayContaining(['openai/gpt-4o', 'anthropic/claude-sonnet-4-5']));
  });

  it('answers 401 OpenAI-shaped without a key or with an unknown one', async () => {
    const missing = await list();
    expect(missing.status).toBe(401);
    expectOpenAIError(await missing.json());
    const unknown = await list('sk-bf-not-a-real-key');
    expect(unknown.status).toBe(401);
    expect(expectOpenAIError(await unknown.json()).code).toBe('invalid_api_key');
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${gw.url}/docs-json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(doc.paths['/v1/models']?.get).toBeDefined();
  });
});

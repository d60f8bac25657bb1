import { UpstreamError } from '../upstream-error';
import { CircuitBreaker } from './circuit-breaker';
import { CredentialPool } from './credential-pool';

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('CircuitBreaker', () => {
  const policy = { failureThreshold: 3, cooldownMs: 10_000 };

  it('opens after the threshold of consecutive failures, not before', () => {
    const clock = fakeClock();
    const b = new CircuitBreaker(policy, clock.now);
    b.failed();
    b.failed();
    expect(b.state).toBe('closed');
    expect(b.available()).toBe(true);
    b.failed();
    expect(b.state).toBe('open');
    expect(b.available()).toBe(false);
    expect(b.retryAfterMs()).toBe(10_000);
  });

  it('counts only consecutive failures: a success in between starts over', () => {
    const b = new CircuitBreaker(policy, fakeClock().now);
    b.failed();
    b.failed();
    b.succeeded();
    b.failed();
    b.failed();
    expect(b.state).toBe('closed');
  });

  it('half-opens after the cooldown and admits exactly one probe; its success closes the circuit', () => {
    const clock = fakeClock();
    const b = new CircuitBreaker(policy, clock.now);
    for (let i = 0; i < 3; i++) b.failed();
    clock.advance(9_999);
    expect(b.available()).toBe(false);
    clock.advance(1);
    expect(b.state).toBe('half-open');
    expect(b.available()).toBe(true);
    b.acquire();
    expect(b.available()).toBe(false);
    expect(b.retryAfterMs()).toBe(10_000);
    b.succeeded();
    expect(b.state).toBe('closed');
    expect(b.available()).toBe(true);
  });

  it("reopens for another cooldown when the probe fails", () => {
    const clock = fakeClock();
    const b = new CircuitBreaker(policy, clock.now);
    for (let i = 0; i < 3; i++) b.failed();
    clock.advance(10_000);
    b.acquire();
    b.failed();
    expect(b.state).toBe('open');
    clock.advance(5_000);
    expect(b.available()).toBe(false);
    expect(b.retryAfterMs()).toBe(5_000);
    clock.advance(5_000);
    expect(b.available()).toBe(true);
  });

  it('lets another probe through when the first never reports within a cooldown', () => {
    const clock = fakeClock();
    const b = new CircuitBreaker(policy, clock.now);
    for (let i = 0; i < 3; i++) b.failed();
    clock.advance(10_000);
    b.acquire();
    clock.advance(9_000);
    expect(b.available()).toBe(false);
    clock.advance(1_000);
    expect(b.available()).toBe(true);
  });

  it('ignores late reports from calls made before the circuit opened', () => {
    const clock = fakeClock();
    const b = new CircuitBreaker(policy, clock.now);
    for (let i = 0; i < 3; i++) b.failed();
    b.succeeded();
    b.failed();
    expect(b.state).toBe('open');
    expect(b.retryAfterMs()).toBe(10_000);
  });

  it('never opens with a threshold of 0', () => {
    const b = new CircuitBreaker({ failureThreshold: 0, cooldownMs: 1 }, fakeClock().now);
    for (let i = 0; i < 100; i++) b.failed();
    expect(b.state).toBe('closed');
  });
});

describe('CredentialPool with circuit breakers', () => {
  const policy = { failureThreshold: 2, cooldownMs: 10_000 };
  const fail = (pool: CredentialPool, model = 'gpt-4o') => pool.outcomeListener(pool.pick(model), model)(false);

  it('skips a credential whose circuit is open and keeps serving with the others', () => {
    const clock = fakeClock();
    const pool = new CredentialPool('openai', [{ apiKey: 'sk-a', weight: 1 }, { apiKey: 'sk-b', weight: 1 }], () => undefined, policy, clock.now);
    const a = pool.find('env:openai:1')!;
    pool.outcomeListener(a, 'gpt-4o')(false);
    pool.outcomeListener(a, 'gpt-4o')(false);
    for (let i = 0; i < 50; i++) expect(pool.pick('gpt-4o')!.apiKey).toBe('sk-b');
  });

  it('opens per model: a failing model does not take the credential\'s other models down', () => {
    const clock = fakeClock();
    const pool = new CredentialPool('openai', [{ apiKey: 'sk-a', weight: 1 }], () => undefined, policy, clock.now);
    fail(pool, 'gpt-4o');
    fail(pool, 'gpt-4o');
    expect(() => pool.pick('gpt-4o')).toThrow(/circuit open/);
    expect(pool.pick('gpt-4o-mini')!.apiKey).toBe('sk-a');
  });

  it('fails fast with a fallbackable, non-retryable 503 circuit_open when every circuit is open', () => {
    const clock = fakeClock();
    const pool = new CredentialPool('openai', [{ apiKey: 'sk-a', weight: 1 }], () => undefined, policy, clock.now);
    fail(pool);
    fail(pool);
    clock.advance(4_000);
    let err: unknown;
    try {
      pool.pick('gpt-4o');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UpstreamError);
    const e = err as UpstreamError;
    expect({ status: e.status, code: e.code, fallbackable: e.fallbackable, retryable: e.retryable, retryAfterMs: e.retryAfterMs }).toEqual({
      status: 503,
      code: 'circuit_open',
      fallbackable: true,
      retryable: false,
      retryAfterMs: 6_000,
    });
  });

  it('hands the half-open credential to one caller as its probe; the probe closes it', () => {
    const clock = fakeClock();
    const pool = new CredentialPool('openai', [{ apiKey: 'sk-a', weight: 1 }], () => undefined, policy, clock.now);
    fail(pool);
    fail(pool);
    clock.advance(10_000);
    const probe = pool.pick('gpt-4o');
    expect(probe!.apiKey).toBe('sk-a');
    expect(() => pool.pick('gpt-4o')).toThrow(/circuit open/);
    pool.outcomeListener(probe, 'gpt-4o')(true);
    expect(pool.pick('gpt-4o')!.apiKey).toBe('sk-a');
    expect(pool.pick('gpt-4o')!.apiKey).toBe('sk-a');
  });

  it('keeps the breaker of a stored credential across refreshes from the database', () => {
    const clock = fakeClock();
    const row = { id: 'k1', provider: 'openai', name: 'k1', apiKey: 'sk-k1', hint: 'k1', weight: 1, allowedModels: null, enabled: true, disabledReason: null, updatedAt: new Date(1) };
    const pool = new CredentialPool('openai', [], () => undefined, policy, clock.now);
    pool.setStored([row]);
    fail(pool);
    fail(pool);
    pool.setStored([{ ...row }]);
    expect(() => pool.pick('gpt-4o')).toThrow(/circuit open/);
  });

  it('gives a keyless server (no credential) a breaker of its own', () => {
    const clock = fakeClock();
    const pool = new CredentialPool('ollama', [{ weight: 1 }], () => undefined, policy, clock.now);
    fail(pool, 'llama3');
    fail(pool, 'llama3');
    expect(() => pool.pick('llama3')).toThrow(/circuit open/);
    clock.advance(10_000);
    expect(pool.pick('llama3')).toBeNull();
  });
});

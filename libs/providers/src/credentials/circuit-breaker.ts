import type { CircuitBreakerPolicy } from '@tokenhub/config';

export type CircuitState = 'closed' | 'open' | 'half-open';

/** Where none is configured (adapters built outside the registry): off. */
export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerPolicy = { failureThreshold: 0, cooldownMs: 30_000 };

/**
 * The health of one provider credential for one model as a circuit: closed while calls succeed; open after
 * `failureThreshold` consecutive failures (5xx, timeouts, connection errors), skipping the
 * credential for `cooldownMs`; then half-open, letting one probe through, whose success
 * closes it and whose failure opens it for another cooldown. A probe that never reports
 * (its request failed before reaching the upstream) is given up after a cooldown, and
 * another is let through.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | null = null;
  /** When the half-open probe was let through; null while none is out. */
  private probeAt: number | null = null;

  constructor(
    private readonly policy: CircuitBreakerPolicy = DEFAULT_CIRCUIT_BREAKER,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): CircuitState {
    if (this.openedAt === null) return 'closed';
    return this.now() - this.openedAt >= this.policy.cooldownMs ? 'half-open' : 'open';
  }

  /** Whether a call may go now (no side effect: `acquire` claims it). */
  available(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    return this.probeAt === null || this.now() - this.probeAt >= this.policy.cooldownMs;
  }

  /** Claims the call `available` allowed: in half-open, it becomes the probe. */
  acquire(): void {
    if (this.state === 'half-open') this.probeAt = this.now();
  }

  /** Milliseconds until a call may go again (0 when one may now). */
  retryAfterMs(): number {
    if (this.available()) return 0;
    const now = this.now();
    const reopens = this.probeAt !== null && this.state === 'half-open' ? this.probeAt : this.openedAt!;
    return Math.max(1, reopens + this.policy.cooldownMs - now);
  }

  /** The upstream answered (anything but a 5xx): a probe's success closes the circuit. */
  succeeded(): void {
    const state = this.state;
    if (state === 'open') return; // a call from before the circuit opened; the probe decides
    this.failures = 0;
    this.openedAt = null;
    this.probeAt = null;
  }

  /** The upstream failed (5xx, timeout, connection error). */
  failed(): void {
    if (this.policy.failureThreshold <= 0) return;
    const state = this.state;
    if (state === 'open') return;
    if (state === 'half-open') {
      this.reopen();
      return;
    }
    if (++this.failures >= this.policy.failureThreshold) this.reopen();
  }

  private reopen(): void {
    this.openedAt = this.now();
    this.probeAt = null;
    this.failures = 0;
  }
}

/**
 * The breakers of one credential, one per model it serves (a "deployment", as other gateways
 * say): a model that keeps failing is skipped without taking the credential's other models
 * down with it. Bounded: past `max` models, closed breakers (which hold nothing) are dropped.
 */
export class ModelBreakers {
  private readonly byModel = new Map<string, CircuitBreaker>();

  constructor(
    private readonly policy: CircuitBreakerPolicy = DEFAULT_CIRCUIT_BREAKER,
    private readonly now: () => number = Date.now,
    private readonly max = 1_000,
  ) {}

  of(model: string): CircuitBreaker {
    let breaker = this.byModel.get(model);
    if (!breaker) {
      if (this.byModel.size >= this.max) {
        for (const [m, b] of this.byModel) if (b.state === 'closed') this.byModel.delete(m);
      }
      breaker = new CircuitBreaker(this.policy, this.now);
      this.byModel.set(model, breaker);
    }
    return breaker;
  }
}

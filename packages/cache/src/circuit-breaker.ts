export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * Consecutive failures open the breaker; while open, callers skip the tier at once instead of waiting
 * for timeouts. After `resetMs` one call is let through (half-open): success closes it, failure re-opens.
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #resetMs: number;
  #failures = 0;
  #openUntil = 0;
  #probing = false;

  constructor(options: { threshold: number; resetMs: number }) {
    this.#threshold = options.threshold;
    this.#resetMs = options.resetMs;
  }

  get state(): BreakerState {
    if (this.#failures < this.#threshold) return 'closed';
    return Date.now() < this.#openUntil ? 'open' : 'half-open';
  }

  /** True when a call may go ahead; in half-open state only one probe at a time. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.#probing) return false;
    this.#probing = true;
    return true;
  }

  success(): void {
    this.#failures = 0;
    this.#probing = false;
  }

  failure(): void {
    this.#probing = false;
    this.#failures++;
    if (this.#failures >= this.#threshold) this.#openUntil = Date.now() + this.#resetMs;
  }
}

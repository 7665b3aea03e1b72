import { processClock, type Clock } from '../clock.js';

export interface CircuitBreakerOptions {
  /** Consecutive upstream failures of generate that open the breaker. */
  threshold: number;
  /** How long an open breaker refuses commands before letting one through as a probe. */
  coolDownMs: number;
  now?: Clock;
}

/** A command's place in the breaker: report how its generate call went, or release it unused. */
export interface BreakerTicket {
  readonly probe: boolean;
  succeeded(): void;
  failed(upstreamFault: boolean): void;
  /** The command ended before its generate call (refused by a limit, say). */
  release(): void;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * Stops calling a failing video service. After `threshold` generate calls in a row fail for the
 * service's sake (5xx, network, timeout), commands are refused at once for `coolDownMs`. There is
 * no free health check (generate is billed), so the next real command after the cool-down is the
 * probe: its success closes the breaker, its failure opens it again. Only one probe at a time.
 */
export class CircuitBreaker {
  private consecutiveFailures = 0;
  private openedAt: number | null = null;
  private probeInFlight = false;
  private readonly now: Clock;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? processClock;
  }

  get state(): BreakerState {
    if (this.openedAt === null) return 'closed';
    return this.probeInFlight || this.now() - this.openedAt >= this.options.coolDownMs ? 'half-open' : 'open';
  }

  /** When the breaker will let a probe through (for telling users), or null if closed. */
  get retryAt(): number | null {
    return this.openedAt === null ? null : this.openedAt + this.options.coolDownMs;
  }

  /** A ticket if a command may go on to generate now, or null to refuse it. */
  admit(): BreakerTicket | null {
    if (this.openedAt === null) return this.ticket(false);
    if (this.probeInFlight || this.now() - this.openedAt < this.options.coolDownMs) return null;
    this.probeInFlight = true;
    return this.ticket(true);
  }

  private ticket(probe: boolean): BreakerTicket {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      if (probe) this.probeInFlight = false;
      outcome();
    };
    return {
      probe,
      succeeded: () => settle(() => this.recordSuccess()),
      failed: (upstreamFault) => settle(() => (upstreamFault ? this.recordFailure(probe) : this.recordSuccess())),
      release: () => settle(() => {}),
    };
  }

  private recordSuccess(): void {
    this.consecutiveFailures = 0;
    this.openedAt = null;
  }

  private recordFailure(probe: boolean): void {
    this.consecutiveFailures++;
    if (probe || this.consecutiveFailures >= this.options.threshold) this.openedAt = this.now();
  }
}

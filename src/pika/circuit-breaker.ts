import { processClock, type Clock } from '../clock.js';
import { LocalBreakerState, type AdmitVerdict, type BreakerStateStore } from './breaker-state.js';
import { thenMaybe, type MaybePromise } from '../util/maybe-promise.js';

export interface CircuitBreakerOptions {
  /** Consecutive upstream failures of generate that open the breaker. */
  threshold: number;
  /** How long an open breaker refuses commands before letting one through as a probe. */
  coolDownMs: number;
  /**
   * How long a probe holds its claim on a shared state before another process may probe: only
   * a probe whose process died should ever reach it, so it is longer than a command can take to
   * reach its generate call and hear back (image downloads, then the generate timeout).
   * An in-process state ignores it: its probe cannot outlive its process.
   */
  probeLeaseMs?: number;
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
 * The default generate timeout (60 s) plus the image downloads before it (20 s), and some. The
 * bot passes one from its own timeouts; this is for a breaker built without.
 */
const DEFAULT_PROBE_LEASE_MS = 2 * 60_000;

/**
 * Stops calling a failing video service. After `threshold` generate calls in a row fail for the
 * service's sake (5xx, network, timeout), commands are refused at once for `coolDownMs`. There is
 * no free health check (generate is billed), so the next real command after the cool-down is the
 * probe: its success closes the breaker, its failure opens it again. Only one probe at a time.
 *
 * Its state lives in a BreakerStateStore: in this process by default, or shared by every process
 * of a Redis store (Store.breakerState), so that all of them open, probe and close together.
 */
export class CircuitBreaker {
  private readonly now: Clock;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly options: CircuitBreakerOptions,
    private readonly store: BreakerStateStore = new LocalBreakerState(),
  ) {
    this.now = options.now ?? processClock;
  }

  /** The state as last known (exact in-process; on a shared state, as of this process's last admit or report). */
  get state(): BreakerState {
    const { openedAt, probeInFlight } = this.store.snapshot();
    if (openedAt === null) return 'closed';
    return probeInFlight || this.now() - openedAt >= this.options.coolDownMs ? 'half-open' : 'open';
  }

  /** When the breaker will let a probe through (for telling users), or null if closed; as `state`, as last known. */
  get retryAt(): number | null {
    const { openedAt } = this.store.snapshot();
    return openedAt === null ? null : openedAt + this.options.coolDownMs;
  }

  /**
   * A ticket if a command may go on to generate now, or null to refuse it (then `retryAt` tells
   * when to try again); at once on an in-process state. Rejects when a shared state cannot be
   * reached (see RedisBreakerState).
   */
  admit(): MaybePromise<BreakerTicket | null> {
    return thenMaybe(this.store.admit(this.now(), this.options.coolDownMs, this.options.probeLeaseMs ?? DEFAULT_PROBE_LEASE_MS), (verdict: AdmitVerdict) =>
      verdict.kind === 'refuse' ? null : this.ticket(verdict.kind === 'probe' ? verdict.claim : undefined),
    );
  }

  /** Resolves once every report made so far is recorded (for shutdown, and for tests of a shared state). */
  async reported(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private ticket(claim: string | undefined): BreakerTicket {
    let settled = false;
    const settle = (report: () => Promise<void>) => {
      if (settled) return;
      settled = true;
      // Reports never reject (see BreakerStateStore); they are kept only to be waited for.
      const recorded = report();
      this.pending.add(recorded);
      void recorded.finally(() => this.pending.delete(recorded));
    };
    const { threshold } = this.options;
    return {
      probe: claim !== undefined,
      succeeded: () => settle(() => this.store.succeeded(claim)),
      failed: (upstreamFault) => settle(() => (upstreamFault ? this.store.failed(this.now(), threshold, claim) : this.store.succeeded(claim))),
      release: () => settle(() => this.store.released(claim)),
    };
  }
}

import type { MaybePromise } from '../util/maybe-promise.js';

/** What a circuit breaker last knew of its state: when it opened (null: closed) and whether a probe is out. */
export interface BreakerSnapshot {
  openedAt: number | null;
  probeInFlight: boolean;
}

/**
 * What admit decided for one command: go on (the breaker is closed), go on as the one probe
 * (`claim` names it, to end it later), or be refused (open, or a probe is already out).
 */
export type AdmitVerdict = { kind: 'pass' } | { kind: 'probe'; claim: string } | { kind: 'refuse' };

/**
 * Where a circuit breaker keeps its state: in this process (LocalBreakerState), or shared by
 * every process on a Redis store (RedisBreakerState), so that all of them stop calling a failing
 * provider together and only one probe is out across all of them. Each operation is one atomic
 * step of the state: no other process's step comes between its read and its write.
 *
 * `at` is the caller's clock; a shared state may use a clock of its own instead (the processes'
 * clocks are each anchored at their own start). The reports (`succeeded`, `failed`,
 * `released`) never reject: a report that cannot be recorded is told to the backend's error
 * handler, and the breaker goes on from what the others recorded.
 */
export interface BreakerStateStore {
  /** Closed: pass. Open and cooled down with no probe out: this caller's probe. Otherwise refuse. */
  admit(at: number, coolDownMs: number, probeLeaseMs: number): MaybePromise<AdmitVerdict>;
  /** The service answered: the count of failures starts again and the breaker closes (ending `claim`, the probe, if any). */
  succeeded(claim: string | undefined): Promise<void>;
  /** A failure for the service's sake: counted; at `threshold` in a row, or for a probe (`claim`), the breaker opens (again) at `at`. */
  failed(at: number, threshold: number, claim: string | undefined): Promise<void>;
  /** The command ended without calling the service: only its probe (`claim`), if any, ends. */
  released(claim: string | undefined): Promise<void>;
  /** The state as last known: exact for an in-process state, as of its last operation for a shared one. */
  snapshot(): BreakerSnapshot;
}

const PASS: AdmitVerdict = Object.freeze({ kind: 'pass' });
const REFUSE: AdmitVerdict = Object.freeze({ kind: 'refuse' });

/**
 * The state of one process's breaker, in memory: the SQLite store's (one process per store).
 * Every operation takes effect before it returns (admit answers at once), so a report made
 * just before an admit is always seen by it.
 */
export class LocalBreakerState implements BreakerStateStore {
  private consecutiveFailures = 0;
  private openedAt: number | null = null;
  private probeInFlight = false;

  admit(at: number, coolDownMs: number): AdmitVerdict {
    if (this.openedAt === null) return PASS;
    if (this.probeInFlight || at - this.openedAt < coolDownMs) return REFUSE;
    this.probeInFlight = true;
    return { kind: 'probe', claim: 'local' };
  }

  succeeded(claim: string | undefined): Promise<void> {
    this.endProbe(claim);
    this.consecutiveFailures = 0;
    this.openedAt = null;
    return Promise.resolve();
  }

  failed(at: number, threshold: number, claim: string | undefined): Promise<void> {
    this.endProbe(claim);
    this.consecutiveFailures++;
    if (claim !== undefined || this.consecutiveFailures >= threshold) this.openedAt = at;
    return Promise.resolve();
  }

  released(claim: string | undefined): Promise<void> {
    this.endProbe(claim);
    return Promise.resolve();
  }

  snapshot(): BreakerSnapshot {
    return { openedAt: this.openedAt, probeInFlight: this.probeInFlight };
  }

  private endProbe(claim: string | undefined): void {
    if (claim !== undefined) this.probeInFlight = false;
  }
}

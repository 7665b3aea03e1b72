import { processClock, type Clock } from './clock.js';

/** Claims kept at most before expired ones are swept out (a sweep costs one pass over them). */
const SWEEP_EVERY = 1000;

/**
 * Claim-once in memory, for a store only this process uses (SQLite): the first claim of a key
 * wins until its time is up, as on Redis, so a duplicate within this process is caught too.
 */
export class LocalClaims {
  private readonly expiries = new Map<string, number>();
  private claimsSinceSweep = 0;

  constructor(private readonly now: Clock = processClock) {}

  claimOnce(key: string, ttlMs: number): boolean {
    const now = this.now();
    if (++this.claimsSinceSweep >= SWEEP_EVERY) this.sweep(now);
    const expiresAt = this.expiries.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    this.expiries.set(key, now + ttlMs);
    return true;
  }

  private sweep(now: number): void {
    this.claimsSinceSweep = 0;
    for (const [key, expiresAt] of this.expiries) if (expiresAt <= now) this.expiries.delete(key);
  }
}

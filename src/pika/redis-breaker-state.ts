import { randomUUID } from 'node:crypto';
import type { RedisClientType } from '@redis/client';
import { answerWithin } from '../util/store-deadline.js';
import type { AdmitVerdict, BreakerSnapshot, BreakerStateStore } from './breaker-state.js';

/**
 * How long admit waits for Redis. A command is refused with "records unreachable" past it: it
 * could not reserve its allowance without Redis anyway, and Discord's 3-second window is short.
 */
const ADMIT_TIMEOUT_MS = 1000;

/** Redis's clock in milliseconds, as a string (exact: no Lua number formatting involved). */
const NOW = `local time = redis.call('TIME')
local now = time[1] .. string.format('%03d', math.floor(tonumber(time[2]) / 1000))`;
/** Ends the probe KEYS[3] if ARGV[1] still names it (its lease may have passed to another). */
const END_OUR_PROBE = `if ARGV[1] ~= '' and redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end`;
/** What every script answers last: when the breaker opened (-1: closed) and whether a probe is out. */
const SNAPSHOT = `return {tonumber(redis.call('GET', KEYS[2]) or '-1'), redis.call('EXISTS', KEYS[3])}`;

/**
 * KEYS: failures, opened-at, probe. ARGV: cool-down, probe lease, claim.
 * Answers {verdict (0 pass, 1 probe, 2 refuse), opened-at or -1, probe out (0/1)}.
 */
const ADMIT = `local openedAt = redis.call('GET', KEYS[2])
if not openedAt then return {0, -1, redis.call('EXISTS', KEYS[3])} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {2, tonumber(openedAt), 1} end
${NOW}
if tonumber(now) - tonumber(openedAt) < tonumber(ARGV[1]) then return {2, tonumber(openedAt), 0} end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[2])
return {1, tonumber(openedAt), 1}`;
/** KEYS: failures, opened-at, probe. ARGV: claim or ''. */
const SUCCEEDED = `${END_OUR_PROBE}
redis.call('DEL', KEYS[1], KEYS[2])
${SNAPSHOT}`;
/** KEYS: failures, opened-at, probe. ARGV: claim or '', threshold. */
const FAILED = `${END_OUR_PROBE}
local failures = redis.call('INCR', KEYS[1])
if ARGV[1] ~= '' or failures >= tonumber(ARGV[2]) then
  ${NOW}
  redis.call('SET', KEYS[2], now)
end
${SNAPSHOT}`;
/** KEYS: failures, opened-at, probe. ARGV: claim or ''. */
const RELEASED = `${END_OUR_PROBE}
${SNAPSHOT}`;

/**
 * A circuit breaker's state in Redis, shared by every process on the store: the count of
 * consecutive failures, when it opened, and the one probe, each changed only inside a Lua script
 * so that no other process's step comes between a read and a write. The probe is claimed with a
 * lease (`probeLeaseMs`): a process killed while probing holds it no longer than that.
 *
 * Time is Redis's own (TIME): every process reads the same clock, where theirs are each anchored
 * at their own start. Keys share a hash tag, so the scripts also run on a Redis Cluster.
 */
export class RedisBreakerState implements BreakerStateStore {
  private readonly keys: string[];
  private known: BreakerSnapshot = { openedAt: null, probeInFlight: false };

  /** `onError` hears of reports that could not be recorded (they are not retried). */
  constructor(
    private readonly client: RedisClientType,
    name: string,
    private readonly onError: (error: unknown) => void,
  ) {
    this.keys = ['failures', 'opened-at', 'probe'].map((part) => `pika:breaker:{${name}}:${part}`);
  }

  /**
   * Redis unreachable: throws (a StoreTimeoutError after ADMIT_TIMEOUT_MS, or the client's
   * error), so the command is told "records unreachable" and nothing is sent to the provider.
   * Not "refused as if open": the video service may be fine, and users would be told it is not.
   * Not a local breaker either: each process would then probe on its own and count only its own
   * failures, the very thing sharing the state prevents; and without Redis the command could not
   * reserve its allowance anyway. An admit that reaches Redis after its deadline gives back the
   * probe it may have claimed.
   */
  async admit(_at: number, coolDownMs: number, probeLeaseMs: number): Promise<AdmitVerdict> {
    const claim = randomUUID();
    const answer = this.run(ADMIT, [String(coolDownMs), String(Math.max(1, Math.ceil(probeLeaseMs))), claim]);
    const [verdict] = await answerWithin(answer, ADMIT_TIMEOUT_MS, ([late]) => {
      if (late === 1) void this.released(claim);
    });
    if (verdict === 0) return { kind: 'pass' };
    return verdict === 1 ? { kind: 'probe', claim } : { kind: 'refuse' };
  }

  succeeded(claim: string | undefined): Promise<void> {
    return this.report(SUCCEEDED, [claim ?? '']);
  }

  failed(_at: number, threshold: number, claim: string | undefined): Promise<void> {
    return this.report(FAILED, [claim ?? '', String(threshold)]);
  }

  released(claim: string | undefined): Promise<void> {
    // A command admitted while closed holds nothing in Redis: nothing to send.
    return claim === undefined ? Promise.resolve() : this.report(RELEASED, [claim]);
  }

  snapshot(): BreakerSnapshot {
    return { ...this.known };
  }

  private async report(script: string, args: string[]): Promise<void> {
    try {
      await this.run(script, args);
    } catch (error) {
      this.onError(error);
    }
  }

  /** Runs a script; every one answers the state after it last, which becomes what is known. */
  private async run(script: string, args: string[]): Promise<number[]> {
    const reply = (await this.client.eval(script, { keys: this.keys, arguments: args })) as number[];
    const [openedAt, probeOut] = reply.slice(-2) as [number, number];
    this.known = { openedAt: openedAt < 0 ? null : openedAt, probeInFlight: probeOut === 1 };
    return reply;
  }
}

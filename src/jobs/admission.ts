import { randomUUID } from 'node:crypto';
import { checkPolicy, type PolicyRefusal, type Requester } from '../moderation/policy.js';
import type { Job } from './job.js';
import type { BreakerTicket, CircuitBreaker } from '../pika/circuit-breaker.js';
import type { GenerationRequest } from '../pika/request.js';
import type { GuildSettingsStore } from '../usage/guild-settings.js';
import type { Limit, LimitRules, Refusal, Reservation } from '../usage/limits.js';
import type { UsageService } from '../usage/usage-service.js';

/** A request let through: its allowance is held and it has its place in the circuit breaker. */
export interface Admitted {
  reservation: Reservation;
  ticket: BreakerTicket;
  /** Over the user's concurrent-video limit: it waits in the queue (its allowance already held). */
  waiting: boolean;
  /**
   * Settles once the reservation is stored; rejects with a store error if it never is. Admission
   * is decided before that (so the reply can be deferred at once), but nothing may be sent
   * upstream until it settles.
   */
  stored: Promise<void>;
  /** Gives both back, for a request that ends before its task starts. */
  cancel(): Promise<void>;
}

/** Why a request was not let through, as data: the Discord edge words it in the requester's language. */
export type AdmissionRefusal =
  | { kind: 'policy'; refusal: PolicyRefusal }
  | { kind: 'service_unavailable'; retryAt: number | null }
  | { kind: 'limit'; refusal: Refusal; rules: LimitRules; globalDailyCap: Limit };

/** A refusal of admission: expected, shown to the requester, never logged as a failure. */
export class AdmissionRefused extends Error {
  override readonly name = 'AdmissionRefused';
  constructor(readonly refusal: AdmissionRefusal) {
    super(`admission refused: ${refusal.kind}`);
  }
}

export interface AdmissionDeps {
  usage: UsageService;
  settings: GuildSettingsStore;
  breaker: CircuitBreaker;
  queue: {
    /** Commands a user may have waiting (0: refused at their concurrent-video limit, as without a queue). */
    maxQueuedPerUser: number;
    /** The provider's slots are all taken: every request waits. */
    upstreamFull: () => boolean;
  };
}

/**
 * Everything that may refuse a checked request before anything is sent or shown publicly, in
 * the order a user can act on: the server's moderation rules, the video service's health, then
 * the usage limits (which reserve the allowance). A refusal is an AdmissionRefused with the reason.
 */
export class Admission {
  constructor(private readonly deps: AdmissionDeps) {}

  /**
   * The server's moderation rules only (blocks, required role, channels, banned words in
   * `texts`): also for what shows a request without starting one (`/pika show`, the remix form).
   */
  async checkRules(scope: string, requester: Requester, texts: readonly string[]): Promise<void> {
    const refusal = await this.policyRefusal(scope, requester, texts);
    if (refusal) throw new AdmissionRefused({ kind: 'policy', refusal });
  }

  /** The rules again for a queued job whose turn came (as data: it is told on its reply). */
  recheck(job: Job): Promise<PolicyRefusal | null> {
    const requester = job.requester ?? { userId: job.reservation.userId, roleIds: [], channelId: job.reply.channelId, parentChannelId: null };
    return this.policyRefusal(job.reservation.guildId, requester, requestTexts(job.request));
  }

  private async policyRefusal(scope: string, requester: Requester, texts: readonly string[]): Promise<PolicyRefusal | null> {
    const { usage, settings } = this.deps;
    if (usage.isOwner(requester.userId)) return null;
    const { moderation } = await settings.get(scope);
    return checkPolicy(moderation, requester, texts);
  }

  async admit(scope: string, requester: Requester, request: GenerationRequest): Promise<Admitted> {
    const { usage, breaker, queue } = this.deps;
    await this.checkRules(scope, requester, requestTexts(request));
    const mustWait = queue.upstreamFull();
    // Without a queue a user at their limit is refused; with the provider full, a request waits all the same.
    const queueing = queue.maxQueuedPerUser > 0 || mustWait ? { maxWaiting: Math.max(queue.maxQueuedPerUser, mustWait ? 1 : 0), mustWait } : undefined;
    // Shared across processes on Redis; an unreachable Redis rejects here ("records unreachable").
    const ticket = await breaker.admit();
    if (!ticket) throw new AdmissionRefused({ kind: 'service_unavailable', retryAt: breaker.retryAt });
    let outcome;
    try {
      // The reservation's id is the job's id: what reconciliation matches them by.
      outcome = await usage.decideReservation(scope, requester.userId, requester.roleIds, randomUUID(), queueing);
    } catch (error) {
      ticket.release();
      throw error;
    }
    if (!outcome.ok) {
      ticket.release();
      throw new AdmissionRefused({ kind: 'limit', refusal: outcome.refusal, rules: outcome.rules, globalDailyCap: usage.globalDailyCap });
    }
    const { reservation, waiting, stored } = outcome;
    return {
      reservation,
      ticket,
      waiting,
      stored,
      async cancel() {
        ticket.release();
        await usage.settle(reservation, 'refunded');
      },
    };
  }
}

/** What of a request banned words apply to. */
export function requestTexts(request: GenerationRequest): string[] {
  return [request.prompt, request.negativePrompt, request.pikaffect];
}

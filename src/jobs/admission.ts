import { randomUUID } from 'node:crypto';
import { checkPolicy, type PolicyRefusal, type Requester } from '../moderation/policy.js';
import type { BreakerTicket, CircuitBreaker } from '../pika/circuit-breaker.js';
import type { GenerationRequest } from '../pika/request.js';
import type { GuildSettingsStore } from '../usage/guild-settings.js';
import type { Limit, LimitRules, Refusal, Reservation } from '../usage/limits.js';
import type { UsageService } from '../usage/usage-service.js';

/** A request let through: its allowance is held and it has its place in the circuit breaker. */
export interface Admitted {
  reservation: Reservation;
  ticket: BreakerTicket;
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
    const { usage, settings } = this.deps;
    if (usage.isOwner(requester.userId)) return;
    const { moderation } = await settings.get(scope);
    const refusal = checkPolicy(moderation, requester, texts);
    if (refusal) throw new AdmissionRefused({ kind: 'policy', refusal });
  }

  async admit(scope: string, requester: Requester, request: GenerationRequest): Promise<Admitted> {
    const { usage, breaker } = this.deps;
    await this.checkRules(scope, requester, requestTexts(request));
    const ticket = breaker.admit();
    if (!ticket) throw new AdmissionRefused({ kind: 'service_unavailable', retryAt: breaker.retryAt });
    let outcome;
    try {
      // The reservation's id is the job's id: what reconciliation matches them by.
      outcome = await usage.reserve(scope, requester.userId, requester.roleIds, randomUUID());
    } catch (error) {
      ticket.release();
      throw error;
    }
    if (!outcome.ok) {
      ticket.release();
      throw new AdmissionRefused({ kind: 'limit', refusal: outcome.refusal, rules: outcome.rules, globalDailyCap: usage.globalDailyCap });
    }
    const { reservation } = outcome;
    return {
      reservation,
      ticket,
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

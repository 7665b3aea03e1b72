import { randomUUID } from 'node:crypto';
import { renderPolicyRefusal, renderRefusal, renderServiceUnavailable } from '../discord/usage-messages.js';
import { UserError } from '../errors.js';
import { checkPolicy, type Requester } from '../moderation/policy.js';
import type { BreakerTicket, CircuitBreaker } from '../pika/circuit-breaker.js';
import type { GenerationRequest } from '../pika/request.js';
import type { GuildSettingsStore } from '../usage/guild-settings.js';
import type { Reservation } from '../usage/limits.js';
import type { UsageService } from '../usage/usage-service.js';

/** A request let through: its allowance is held and it has its place in the circuit breaker. */
export interface Admitted {
  reservation: Reservation;
  ticket: BreakerTicket;
  /** Gives both back, for a request that ends before its task starts. */
  cancel(): Promise<void>;
}

export interface AdmissionDeps {
  usage: UsageService;
  settings: GuildSettingsStore;
  breaker: CircuitBreaker;
}

/**
 * Everything that may refuse a checked request before anything is sent or shown publicly, in
 * the order a user can act on: the server's moderation rules, the video service's health, then
 * the usage limits (which reserve the allowance). A refusal is a UserError with the reason.
 */
export class Admission {
  constructor(private readonly deps: AdmissionDeps) {}

  async admit(scope: string, requester: Requester, request: GenerationRequest): Promise<Admitted> {
    const { usage, settings, breaker } = this.deps;
    if (!usage.isOwner(requester.userId)) {
      const { moderation } = await settings.get(scope);
      const refusal = checkPolicy(moderation, requester, [request.prompt, request.negativePrompt, request.pikaffect]);
      if (refusal) throw new UserError(renderPolicyRefusal(refusal));
    }
    const ticket = breaker.admit();
    if (!ticket) throw new UserError(renderServiceUnavailable(breaker.retryAt));
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
      throw new UserError(renderRefusal(outcome.refusal, outcome.rules, usage.globalDailyCap));
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

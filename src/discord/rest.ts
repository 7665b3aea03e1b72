import { REST, type InternalRequest, type RESTOptions, type ResponseLike } from 'discord.js';

/**
 * Interaction callbacks and interaction webhooks (`/webhooks/{application}/{token}`) are exempt
 * from Discord's global rate limit, but @discordjs/rest counts every request against its own
 * 50 requests/s. Routing them through a second manager with a generous global budget lets a
 * burst of commands be acknowledged and edited in time, while every other route keeps the
 * default global limit. Per-route buckets (one per interaction token, from Discord's rate-limit
 * headers) still apply to them.
 */
export class InteractionAwareREST extends REST {
  readonly interactionRest: REST;

  constructor(options: Partial<RESTOptions>) {
    super(options);
    this.interactionRest = new REST({ ...options, globalRequestsPerSecond: Number.POSITIVE_INFINITY });
  }

  override queueRequest(request: InternalRequest): Promise<ResponseLike> {
    if (isInteractionRoute(request.fullRoute)) return this.interactionRest.queueRequest(request);
    return super.queueRequest(request);
  }

  override setToken(token: string): this {
    super.setToken(token);
    this.interactionRest?.setToken(token);
    return this;
  }

  override clearHashSweeper(): void {
    super.clearHashSweeper();
    this.interactionRest?.clearHashSweeper();
  }

  override clearHandlerSweeper(): void {
    super.clearHandlerSweeper();
    this.interactionRest?.clearHandlerSweeper();
  }
}

/** Routes authenticated by an interaction token rather than the bot token. */
export function isInteractionRoute(route: string): boolean {
  return /^\/interactions\/\d+\/[^/]+\/callback/.test(route) || /^\/webhooks\/\d+\/[^/]+(\/|$)/.test(route);
}

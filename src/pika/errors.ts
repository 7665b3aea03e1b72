import { displayText } from '../discord/messages.js';
import { truncate } from '../text.js';

/** Why a call to the Pika API failed, in the terms the bot reacts to. */
export type PikaErrorKind =
  | 'unauthorized' // bad or revoked key: the operator must act
  | 'out_of_balance' // the operator's account has run dry
  | 'rate_limited' // upstream asks us to slow down
  | 'rejected' // the request itself was refused (bad parameters, moderation…)
  | 'server' // 5xx
  | 'network' // connection refused, reset…
  | 'timeout' // no answer in time
  | 'bad_response'; // an answer we cannot understand (non-JSON, wrong shape)

const UPSTREAM_FAULTS: ReadonlySet<PikaErrorKind> = new Set(['server', 'network', 'timeout']);

export class PikaError extends Error {
  override readonly name = 'PikaError';

  constructor(
    readonly kind: PikaErrorKind,
    message: string,
    readonly details: {
      status?: number;
      /** The upstream's own reason, sanitized: safe to show to a user. */
      upstreamMessage?: string;
      /** True when a generate call may have started a (billed) task although we got no id. */
      outcomeUnknown?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  /** Failures that say the service is unwell rather than that the request was bad. */
  get isUpstreamFault(): boolean {
    return UPSTREAM_FAULTS.has(this.kind);
  }
}

/** Longest upstream text shown to users or put in an error's message, by default. */
const UPSTREAM_TEXT_MAX = 200;

const BALANCE_HINT = /balance|insufficient (?:funds|credit)|out of credit|credits? (?:exhausted|depleted)|余额/i;

/**
 * Builds the error for an HTTP answer that carries no usable result. `outcomeUnknown` is for the
 * caller who knows that this answer does not prove the request was not acted on.
 */
export function errorFromResponse(
  status: number,
  body: unknown,
  redact: (text: string) => string,
  { outcomeUnknown = false }: { outcomeUnknown?: boolean } = {},
): PikaError {
  const said = extractMessage(body);
  const reason = said === undefined ? '' : truncate(plainUpstreamText(said, redact), UPSTREAM_TEXT_MAX);
  const upstreamMessage = sanitizeUpstreamMessage(said, redact);
  const effectiveStatus = status >= 200 && status < 300 ? numericCode(body) ?? status : status;
  // A 2xx answer that says it failed (`success: false`, an `error`) is a refusal.
  const saysFailed = isRecord(body) && (body.success === false || body.error !== undefined);
  const kind = effectiveStatus < 300 && saysFailed ? 'rejected' : kindForStatus(effectiveStatus, reason);
  const summary = `Pika API answered ${status}${effectiveStatus !== status ? ` (code ${effectiveStatus})` : ''}`;
  return new PikaError(kind, reason ? `${summary}: ${reason}` : summary, {
    status,
    ...(upstreamMessage ? { upstreamMessage } : {}),
    ...(outcomeUnknown ? { outcomeUnknown } : {}),
  });
}

function kindForStatus(status: number, message: string): PikaErrorKind {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 402 || BALANCE_HINT.test(message)) return 'out_of_balance';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server';
  if (status >= 400) return 'rejected';
  return 'bad_response';
}

/** Resellers disagree on error bodies: `{error:{message}}`, `{error:"…"}`, `{message}`, `{msg}`, `{detail}`. */
function extractMessage(body: unknown): string | undefined {
  if (typeof body === 'string') return body;
  if (!isRecord(body)) return undefined;
  const error = body.error;
  if (isRecord(error) && typeof error.message === 'string') return error.message;
  for (const candidate of [error, body.message, body.msg, body.detail]) {
    if (typeof candidate === 'string') return candidate;
  }
  return undefined;
}

function numericCode(body: unknown): number | undefined {
  if (!isRecord(body)) return undefined;
  const code = Number(body.code);
  return Number.isInteger(code) && code >= 400 && code < 600 ? code : undefined;
}

/**
 * Makes text an upstream wrote (an error message, a feed status or error) fit to show in a
 * channel: no secret in any form, no control, bidirectional or other invisible characters, no
 * HTML, markdown escaped so that no masked link, mention or formatting works, and at most
 * `maxLength` characters. Undefined when nothing visible is left.
 */
export function sanitizeUpstreamMessage(
  message: string | undefined,
  redact: (text: string) => string,
  maxLength = UPSTREAM_TEXT_MAX,
): string | undefined {
  if (message === undefined) return undefined;
  const plain = plainUpstreamText(message, redact);
  return plain === '' ? undefined : displayText(plain, maxLength);
}

/**
 * One line of visible, secret-free words, not yet escaped for display (error messages for the
 * logs are built from it). Redaction comes after invisible characters are dropped, so that one
 * hidden inside a key cannot carry it past the redactor, and before any cut, so that no prefix
 * of a key survives one.
 */
function plainUpstreamText(message: string, redact: (text: string) => string): string {
  const visible = message
    .replace(/\p{Cf}/gu, '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/[\p{Cc}\s]+/gu, ' ')
    .trim();
  return redact(visible);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

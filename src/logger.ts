import { pino, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config.js';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/**
 * Patterns of secrets whose exact values the bot does not know in advance: interaction tokens
 * inside webhook/callback URLs, and credentials in headers an upstream might echo back.
 */
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/(\/webhooks\/\d+\/)[\w.-]+/g, '$1[redacted]'],
  [/(\/interactions\/\d+\/)[\w.-]+/g, '$1[redacted]'],
  [/(\bBearer\s+)[\w.~+/=-]+/gi, '$1[redacted]'],
  [/(\bBot\s+)[\w.~+/=-]{20,}/g, '$1[redacted]'],
  [/("?(?:authorization|token|api[_-]?key)"?\s*[:=]\s*"?)[^"\s,}]+/gi, '$1[redacted]'],
  [/\bsk-[\w-]{6,}/g, 'sk-[redacted]'],
];

const REDACTED = '[redacted]';
const LETTER_OR_DIGIT = /^[\p{L}\p{N}]$/u;

/**
 * The shortest tail of a known secret that is redacted on its own, as upstreams echo masked keys
 * (`sk-****d41f9c2a`, `…d41f9c2a`, `sk-xxxxd41f9c2a`). Six characters of a random key that end a
 * word are as good as never there by chance; four would turn up in ordinary hex ids.
 */
const MIN_SECRET_TAIL = 6;

/**
 * Removes every known secret value, every tail of one (at least `MIN_SECRET_TAIL` characters,
 * ending a word) and every secret-shaped substring from `text`.
 */
export function createRedactor(secrets: readonly string[]): (text: string) => string {
  const values = secrets.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const value of values) out = redactValueAndTails(out, value);
    for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
}

/**
 * Finds each occurrence of the secret's last characters and widens it leftwards as far as the text
 * goes on agreeing with the secret. The whole value always goes. A mere tail goes only where it
 * ends a word, as a leaked tail ends where the secret does: a hex id that merely contains six of
 * the same characters stays readable.
 */
function redactValueAndTails(text: string, secret: string): string {
  const tailLength = Math.min(MIN_SECRET_TAIL, secret.length);
  const tail = secret.slice(-tailLength);
  let out = '';
  let copiedUpTo = 0;
  let found = text.indexOf(tail);
  while (found !== -1) {
    let start = found;
    let inSecret = secret.length - tailLength;
    while (inSecret > 0 && start > copiedUpTo && text[start - 1] === secret[inSecret - 1]) {
      start--;
      inSecret--;
    }
    const end = found + tailLength;
    if (inSecret === 0 || !LETTER_OR_DIGIT.test(text[end] ?? '')) {
      out += text.slice(copiedUpTo, start) + REDACTED;
      copiedUpTo = end;
    }
    found = text.indexOf(tail, Math.max(found + 1, copiedUpTo));
  }
  return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
}

export interface LoggerOptions {
  level: LogLevel;
  secrets: readonly string[];
  /** Where each line goes (without its newline); default stdout, pretty-printed in a terminal outside production. */
  write?: (line: string) => void;
  clock?: () => Date;
}

/** The fields each line begins with: no field of a caller's may take their place. */
const CORE_FIELDS = new Set(['time', 'level', 'msg']);

/**
 * A JSON-lines logger on pino (levels, child loggers, one line per entry) whose every line
 * passes through the redactor on its way out, whatever the caller put in it: pino's own
 * redaction works by field path, and secrets turn up inside any text (upstream errors, URLs).
 */
export function createLogger(options: LoggerOptions): Logger {
  const redact = createRedactor(options.secrets);
  const clock = options.clock ?? (() => new Date());
  const write = options.write;
  const pretty = !write && process.stdout.isTTY === true && process.env.NODE_ENV !== 'production';
  const destination = write ? { write: (line: string) => write(line.replace(/\n$/, '')) } : pretty ? pino.transport({ target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', messageKey: 'msg' } }) : pino.destination({ sync: true });
  const root = pino(
    {
      level: options.level,
      base: null,
      messageKey: 'msg',
      timestamp: () => `,"time":"${clock().toISOString()}"`,
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => normalized(bindings),
        log: (fields) => normalized(fields),
      },
      hooks: { streamWrite: redact },
    },
    destination,
  );
  return wrap(root);
}

function wrap(logger: PinoLogger): Logger {
  const at = (level: LogLevel) => (message: string, fields?: LogFields) => (fields ? logger[level](fields, message) : logger[level](message));
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (fields) => wrap(logger.child(fields)) };
}

/** Fields as our JSON rules have them (errors, bigints, buffers, cycles), without the core fields' names. */
function normalized(fields: Record<string, unknown>): Record<string, unknown> {
  const plain = JSON.parse(safeStringify(fields)) as Record<string, unknown>;
  for (const name of CORE_FIELDS) delete plain[name];
  return plain;
}

/** Properties of errors that hold request payloads (files, bodies): too big and too personal to log. */
const OMITTED_ERROR_FIELDS = new Set(['requestBody', 'rawError']);

/** JSON that never throws: errors with their own fields, bigints as strings, cycles and buffers elided. */
function safeStringify(entry: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(entry, function replacer(_key, value: unknown) {
    if (typeof value === 'bigint') return value.toString();
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.length} bytes]`;
    if (typeof value !== 'object' || value === null) return value;
    if (seen.has(value)) return '[circular]';
    seen.add(value);
    if (value instanceof Error) {
      const own = Object.fromEntries(Object.entries(value).filter(([name]) => !OMITTED_ERROR_FIELDS.has(name)));
      return { ...own, name: value.name, message: value.message, stack: value.stack, ...(value.cause ? { cause: value.cause } : {}) };
    }
    return value;
  });
}

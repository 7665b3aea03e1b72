import type { LogLevel } from './config.js';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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
  write?: (line: string) => void;
  clock?: () => Date;
}

/** A JSON-lines logger whose every line passes through the redactor, whatever the caller put in it. */
export function createLogger(options: LoggerOptions, bound: LogFields = {}): Logger {
  const redact = createRedactor(options.secrets);
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const clock = options.clock ?? (() => new Date());
  const threshold = LEVEL_ORDER[options.level];

  const log = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVEL_ORDER[level] < threshold) return;
    // The core fields come first and can't be overwritten by a field of the same name.
    const entry = Object.assign({ time: '', level, msg: message }, bound, fields, { time: clock().toISOString(), level, msg: message });
    write(redact(safeStringify(entry)));
  };

  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
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

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

/** Removes every known secret value and secret-shaped substring from `text`. */
export function createRedactor(secrets: readonly string[]): (text: string) => string {
  const values = secrets.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const value of values) out = out.split(value).join('[redacted]');
    for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
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
    const entry = { time: clock().toISOString(), level, msg: message, ...bound, ...fields };
    write(redact(JSON.stringify(entry, jsonReplacer)));
  };

  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack, ...(value.cause ? { cause: value.cause } : {}) };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

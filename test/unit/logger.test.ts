import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger, createRedactor, type LoggerOptions } from '../../src/logger.js';
import type { LogLevel } from '../../src/config.js';
import { PikaError } from '../../src/pika/errors.js';

const TOKEN = 'secret-token-value';
const API_KEY = 'pika-live-key-9f8e7d6c';

describe('createRedactor', () => {
  const redact = createRedactor([TOKEN, API_KEY]);

  test('removes every occurrence of each known secret value', () => {
    assert.equal(redact(`a ${TOKEN} b ${TOKEN}${API_KEY} c`), 'a [redacted] b [redacted][redacted] c');
  });

  test('leaves text without secrets untouched', () => {
    const text = 'Task 66e0818e started with seed 3183047765; progress 40% (https://cdn.pika.art/v1/x/poster.jpg)';
    assert.equal(redact(text), text);
  });

  test('redacts the longer secret first when one contains another', () => {
    const r = createRedactor(['abcd', 'abcdefgh']);
    assert.equal(r('x abcdefgh y abcd'), 'x [redacted] y [redacted]');
    assert.ok(!r('abcdefgh').includes('efgh'), "!r('abcdefgh').includes('efgh')");
  });

  test('ignores empty and very short secrets instead of shredding every log line', () => {
    const r = createRedactor(['', 'a', 'ab', 'abc']);
    assert.equal(r('a cab abc'), 'a cab abc');
  });

  test('works with no known secrets at all', () => {
    assert.equal(createRedactor([])('hello'), 'hello');
  });

  test('redacts Bearer credentials of any value', () => {
    assert.equal(redact('sent Bearer x'), 'sent Bearer [redacted]');
    assert.equal(redact('got bearer abc.DEF-123_~+/= back'), 'got bearer [redacted] back');
    // As a header line both patterns apply; over-redacting is fine, leaking is not.
    const header = redact('Authorization: Bearer x');
    assert.match(header, /^Authorization: \[redacted\]/);
    assert.ok(!/\bx\b/.test(header), header);
  });

  test('redacts Bearer values it does not know', () => {
    const out = redact('header was Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig');
    assert.ok(!out.includes('eyJ'), out);
    assert.match(out, /Bearer \[redacted\]/);
  });

  test('redacts a Bot token in an Authorization header', () => {
    const out = redact('Bot MTA5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.abcdefghijklmnopqrstuvwxyz0123');
    assert.equal(out, 'Bot [redacted]');
  });

  test('redacts the interaction token in a webhook URL and keeps the rest of the route', () => {
    assert.equal(
      redact('PATCH https://discord.com/api/v10/webhooks/123/abc.def-ghi/messages/@original failed'),
      'PATCH https://discord.com/api/v10/webhooks/123/[redacted]/messages/@original failed',
    );
  });

  test('redacts the interaction token in a callback URL', () => {
    assert.equal(redact('/interactions/123/tok/callback'), '/interactions/123/[redacted]/callback');
    assert.equal(
      redact('POST /api/v10/interactions/1234567890123/aW50ZXJhY3Rpb246MTIz_abc-DEF.xyz/callback?with_response=true'),
      'POST /api/v10/interactions/1234567890123/[redacted]/callback?with_response=true',
    );
  });

  test('redacts credentials in JSON and key=value form', () => {
    assert.equal(redact('{"authorization":"abc123"}'), '{"authorization":"[redacted]"}');
    assert.equal(redact('{"token": "t0k3n", "id": 5}'), '{"token": "[redacted]", "id": 5}');
    assert.equal(redact('{"api_key":"k1"}'), '{"api_key":"[redacted]"}');
    assert.equal(redact('{"apiKey":"k2"}'), '{"apiKey":"[redacted]"}');
    assert.equal(redact('{"api-key":"k3"}'), '{"api-key":"[redacted]"}');
    assert.ok(!redact('token=abc&x=1').includes('abc'), "!redact('token=abc&x=1').includes('abc')");
    assert.match(redact('token=abc&x=1'), /^token=\[redacted\]/);
    assert.equal(redact('Authorization=xyz'), 'Authorization=[redacted]');
  });

  test('an echoed JSON authorization header with a Bearer value leaves nothing of the credential', () => {
    const out = redact('{"authorization":"Bearer zzz-credential-zzz"}');
    assert.ok(!out.includes('zzz'), out);
  });

  test('redacts a tail of six characters or more of a known secret, however it is masked', () => {
    const key = 'ab12cd34ef56gh78ij90';
    const r = createRedactor([key]);
    assert.equal(r(`key …${key.slice(-6)} refused`), 'key …[redacted] refused');
    assert.equal(r(`key ****${key.slice(-12)}`), 'key ****[redacted]');
    assert.equal(r(`key xxxx${key.slice(-8)}.`), 'key xxxx[redacted].');
    assert.equal(r(`{"error":"bad key ${key.slice(0, 4)}...${key.slice(-7)}"}`), `{"error":"bad key ${key.slice(0, 4)}...[redacted]"}`);
  });

  test('a tail shorter than six characters is not a secret: it is too likely to be something else', () => {
    const key = 'ab12cd34ef56gh78ij90';
    assert.equal(createRedactor([key])(`key …${key.slice(-5)}`), `key …${key.slice(-5)}`);
  });

  test('a tail only counts where it ends a word, so ids that merely contain it stay readable', () => {
    const key = 'sk-0123456789abcdef';
    const r = createRedactor([key]);
    const id = `task 66e0818e-${key.slice(-6)}4d2c-9f00 done`;
    assert.equal(r(id), id);
    assert.equal(r(`${key.slice(-6)}_`), '[redacted]_');
  });

  test('the whole value goes wherever it is, even inside a longer word', () => {
    assert.equal(redact(`x${API_KEY}y`), 'x[redacted]y');
  });

  test('overlapping and repeated tails are all found', () => {
    const r = createRedactor(['zzabcabc']);
    assert.equal(r('xabcabcabc abcabc'), 'xabc[redacted] [redacted]');
  });

  test('redacts sk- style API keys it was not told about', () => {
    assert.equal(redact('key sk-abcdef123456 rejected'), 'key sk-[redacted] rejected');
  });
});

interface Captured {
  lines: string[];
  entries: () => Array<Record<string, unknown>>;
}

function capture(level: LogLevel = 'debug', secrets: readonly string[] = [TOKEN, API_KEY]): Captured & { options: LoggerOptions } {
  const lines: string[] = [];
  const options: LoggerOptions = {
    level,
    secrets,
    write: (line) => lines.push(line),
    clock: () => new Date('2025-01-02T03:04:05.678Z'),
  };
  return { options, lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogger', () => {
  test('writes one JSON object per line with time, level, msg and the fields', () => {
    const out = capture();
    createLogger(out.options).info('hello', { user: '42', count: 3 });
    assert.equal(out.lines.length, 1);
    assert.ok(!out.lines[0]!.includes('\n'), 'a line holds no newline');
    assert.deepStrictEqual(out.entries()[0], {
      time: '2025-01-02T03:04:05.678Z',
      level: 'info',
      msg: 'hello',
      user: '42',
      count: 3,
    });
  });

  test('a message with newlines still yields exactly one line', () => {
    const out = capture();
    createLogger(out.options).warn('line one\nline two');
    assert.equal(out.lines.length, 1);
    assert.equal(out.entries()[0]!.msg, 'line one\nline two');
  });

  test('honours the level threshold', () => {
    const cases: Array<[LogLevel, string[]]> = [
      ['debug', ['debug', 'info', 'warn', 'error']],
      ['info', ['info', 'warn', 'error']],
      ['warn', ['warn', 'error']],
      ['error', ['error']],
    ];
    for (const [threshold, expected] of cases) {
      const out = capture(threshold);
      const log = createLogger(out.options);
      log.debug('d');
      log.info('i');
      log.warn('w');
      log.error('e');
      assert.deepStrictEqual(out.entries().map((e) => e.level), expected, `threshold ${threshold}`);
    }
  });

  test('child loggers add their fields, nest, and keep the parent unchanged', () => {
    const out = capture();
    const root = createLogger(out.options);
    const child = root.child({ task: 't1', kind: 'text' });
    const grandchild = child.child({ user: 'u1', kind: 'image' });
    child.info('from child');
    grandchild.info('from grandchild', { extra: true });
    root.info('from root');
    const [c, g, r] = out.entries();
    assert.equal(c!.task, 't1');
    assert.equal(c!.kind, 'text');
    assert.equal(c!.user, undefined);
    assert.deepStrictEqual({ task: g!.task, user: g!.user, kind: g!.kind, extra: g!.extra }, { task: 't1', user: 'u1', kind: 'image', extra: true });
    assert.equal(r!.task, undefined);
  });

  test('child loggers keep the level threshold', () => {
    const out = capture('warn');
    const child = createLogger(out.options).child({ a: 1 });
    child.info('dropped');
    child.warn('kept');
    assert.deepStrictEqual(out.entries().map((e) => e.msg), ['kept']);
  });

  test('call fields win over bound fields of the same name', () => {
    const out = capture();
    createLogger(out.options).child({ task: 'bound' }).info('m', { task: 'call' });
    assert.equal(out.entries()[0]!.task, 'call');
  });

  test('serializes an Error with its name, message, stack and cause chain', () => {
    const out = capture();
    const root = new TypeError('root cause');
    const error = new Error('outer failure', { cause: root });
    createLogger(out.options).error('boom', { error });
    const logged = out.entries()[0]!.error as Record<string, unknown>;
    assert.equal(logged.name, 'Error');
    assert.equal(logged.message, 'outer failure');
    assert.match(String(logged.stack), /outer failure/);
    const cause = logged.cause as Record<string, unknown>;
    assert.equal(cause.name, 'TypeError');
    assert.equal(cause.message, 'root cause');
    assert.match(String(cause.stack), /root cause/);
  });

  test('a non-Error cause is kept as is, and an Error without cause has no cause key', () => {
    const out = capture();
    const log = createLogger(out.options);
    log.error('a', { error: new Error('x', { cause: { code: 'E1' } }) });
    log.error('b', { error: new Error('y') });
    const [a, b] = out.entries();
    assert.deepStrictEqual((a!.error as Record<string, unknown>).cause, { code: 'E1' });
    assert.ok(!('cause' in (b!.error as Record<string, unknown>)), "!('cause' in (b!.error as Record<string, unknown>))");
  });

  test('serializes bigint values as strings, even nested', () => {
    const out = capture();
    createLogger(out.options).info('big', { id: 123456789012345678901234567890n, nested: { n: -5n } });
    const entry = out.entries()[0]!;
    assert.equal(entry.id, '123456789012345678901234567890');
    assert.deepStrictEqual(entry.nested, { n: '-5' });
  });

  test('redacts known secrets in the message and in nested fields', () => {
    const out = capture();
    createLogger(out.options).info(`using ${TOKEN}`, {
      deep: { list: ['ok', { header: `Bearer ${API_KEY}` }], again: `${API_KEY}!` },
    });
    const line = out.lines[0]!;
    assert.ok(!line.includes(TOKEN), line);
    assert.ok(!line.includes(API_KEY), line);
    const entry = out.entries()[0]!;
    assert.equal(entry.msg, 'using [redacted]');
    assert.deepStrictEqual(entry.deep, { list: ['ok', { header: 'Bearer [redacted]' }], again: '[redacted]!' });
  });

  test('redacts secrets inside an Error message, its stack and its cause', () => {
    const out = capture();
    const cause = new Error(`upstream said invalid key ${API_KEY}`);
    const error = new Error(`request with ${TOKEN} failed`, { cause });
    createLogger(out.options).error('failed', { error });
    const line = out.lines[0]!;
    assert.ok(!line.includes(TOKEN), line);
    assert.ok(!line.includes(API_KEY), line);
    const logged = out.entries()[0]!.error as Record<string, unknown>;
    assert.equal(logged.message, 'request with [redacted] failed');
    assert.equal((logged.cause as Record<string, unknown>).message, 'upstream said invalid key [redacted]');
  });

  test('redacts secrets bound on a child logger', () => {
    const out = capture();
    createLogger(out.options).child({ url: `https://discord.com/api/v10/webhooks/1/${TOKEN}/messages/@original` }).info('edit');
    assert.ok(!out.lines[0]!.includes(TOKEN), '!out.lines[0]!.includes(TOKEN)');
  });

  test('redacts interaction tokens it never knew, as they appear in logged URLs', () => {
    const out = capture('debug', []);
    createLogger(out.options).warn('edit failed', { route: '/webhooks/111/unknown.interaction-token_xyz/messages/@original' });
    assert.ok(!out.lines[0]!.includes('unknown.interaction-token_xyz'), "!out.lines[0]!.includes('unknown.interaction-token_xyz')");
    assert.equal(out.entries()[0]!.route, '/webhooks/111/[redacted]/messages/@original');
  });

  test('uses the real clock when none is given', () => {
    const lines: string[] = [];
    const before = Date.now();
    createLogger({ level: 'info', secrets: [], write: (l) => lines.push(l) }).info('now');
    const time = Date.parse(String((JSON.parse(lines[0]!) as { time: string }).time));
    assert.ok(time >= before - 1000 && time <= Date.now() + 1000, 'time >= before - 1000 && time <= Date.now() + 1000');
  });

  test(
    'a field named level/msg/time cannot overwrite the entry\'s own level, message or time',
    {},
    () => {
      const out = capture();
      createLogger(out.options).info('real message', { level: 'debug', msg: 'fake', time: 'never' });
      const entry = out.entries()[0]!;
      assert.equal(entry.level, 'info');
      assert.equal(entry.msg, 'real message');
      assert.equal(entry.time, '2025-01-02T03:04:05.678Z');
    },
  );

  test(
    "an Error's own fields (PikaError kind and details) are logged",
    {},
    () => {
      const out = capture();
      createLogger(out.options).error('generate failed', {
        error: new PikaError('out_of_balance', 'Pika API answered 402', { status: 402, outcomeUnknown: false }),
      });
      const logged = out.entries()[0]!.error as Record<string, unknown>;
      assert.equal(logged.kind, 'out_of_balance');
      assert.deepStrictEqual(logged.details, { status: 402, outcomeUnknown: false });
    },
  );

  test(
    'a circular field does not make a log call throw',
    {},
    () => {
      const out = capture();
      const circular: Record<string, unknown> = { name: 'loop' };
      circular.self = circular;
      assert.doesNotThrow(() => createLogger(out.options).warn('odd', { circular }));
      assert.equal(out.lines.length, 1);
    },
  );
});

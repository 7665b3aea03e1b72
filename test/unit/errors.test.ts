import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRedactor } from '../../src/logger.js';
import { errorFromResponse, isRecord, PikaError, sanitizeUpstreamMessage, type PikaErrorKind } from '../../src/pika/errors.js';

const API_KEY = 'pika-key-0a1b2c3d4e5f';
const redact = createRedactor([API_KEY]);
const identity = (text: string) => text;

describe('errorFromResponse: kinds', () => {
  const cases: Array<[string, number, unknown, PikaErrorKind, string | undefined]> = [
    ['401 with a message', 401, { error: { message: 'invalid api key' } }, 'unauthorized', 'invalid api key'],
    ['403', 403, { error: { message: 'forbidden' } }, 'unauthorized', 'forbidden'],
    ['402', 402, { error: { message: 'payment required' } }, 'out_of_balance', 'payment required'],
    ['429', 429, { error: { message: 'slow down' } }, 'rate_limited', 'slow down'],
    ['400 with {error:{message}}', 400, { error: { message: 'prompt violates policy' } }, 'rejected', 'prompt violates policy'],
    ['422 with {message}', 422, { message: 'invalid aspectRatio' }, 'rejected', 'invalid aspectRatio'],
    ['404 with {detail}', 404, { detail: 'Not Found' }, 'rejected', 'Not Found'],
    ['400 with {error:"…"}', 400, { error: 'bad request' }, 'rejected', 'bad request'],
    ['500', 500, { error: { message: 'internal error' } }, 'server', 'internal error'],
    ['502 with an HTML page', 502, '<html><body><h1>502 Bad Gateway</h1></body></html>', 'server', '502 Bad Gateway'],
    ['503 with no body', 503, undefined, 'server', undefined],
    ['200 with {code:400,msg}', 200, { code: 400, msg: 'prompt rejected by moderation' }, 'rejected', 'prompt rejected by moderation'],
    ['200 with {code:"429"}', 200, { code: '429', msg: 'too many requests' }, 'rate_limited', 'too many requests'],
    ['200 with {code:401}', 200, { code: 401, msg: 'token invalid' }, 'unauthorized', 'token invalid'],
    ['200 with {code:500}', 200, { code: 500, msg: 'oops' }, 'server', 'oops'],
    ['200 with {code:402,msg:"insufficient balance"}', 200, { code: 402, msg: 'insufficient balance' }, 'out_of_balance', 'insufficient balance'],
    ['400 saying insufficient balance', 400, { error: { message: 'Insufficient balance, please top up' } }, 'out_of_balance', 'Insufficient balance, please top up'],
    ['200 saying 余额不足', 200, { code: 400, msg: '余额不足' }, 'out_of_balance', '余额不足'],
    ['400 with {success:false,error:{code,message}}', 400, { success: false, error: { code: 'invalid_prompt', message: 'prompt too long' } }, 'rejected', 'prompt too long'],
    ['401 with {success:false,error:{code,message}}', 401, { success: false, error: { code: 'auth', message: 'bad key' } }, 'unauthorized', 'bad key'],
    ['200 without id or code', 200, { ok: true }, 'bad_response', undefined],
    ['200 with an out-of-range code', 200, { code: 200, msg: 'fine' }, 'bad_response', 'fine'],
  ];
  for (const [name, status, body, kind, upstreamMessage] of cases) {
    test(`${name} → ${kind}`, () => {
      const error = errorFromResponse(status, body, identity);
      assert.ok(error instanceof PikaError, 'error instanceof PikaError');
      assert.ok(error instanceof Error, 'error instanceof Error');
      assert.equal(error.name, 'PikaError');
      assert.equal(error.kind, kind);
      assert.equal(error.details.status, status);
      assert.equal(error.details.upstreamMessage, upstreamMessage);
      assert.equal(error.details.outcomeUnknown, undefined);
      assert.match(error.message, new RegExp(`^Pika API answered ${status}`));
      if (upstreamMessage) assert.ok(error.message.endsWith(`: ${upstreamMessage}`), error.message);
    });
  }

  test('upstreamMessage is absent (not undefined-valued) when there is none', () => {
    const error = errorFromResponse(500, {}, identity);
    assert.ok(!('upstreamMessage' in error.details), "!('upstreamMessage' in error.details)");
    assert.equal(error.message, 'Pika API answered 500');
  });

  test('a 200 carrying an error code says both in the message', () => {
    assert.equal(errorFromResponse(200, { code: 400, msg: 'nope' }, identity).message, 'Pika API answered 200 (code 400): nope');
  });

  test('an error code in the body does not override a non-2xx status', () => {
    assert.equal(errorFromResponse(500, { code: 400, msg: 'x' }, identity).kind, 'server');
    assert.equal(errorFromResponse(401, { code: 500, msg: 'x' }, identity).kind, 'unauthorized');
  });

  test(
    'HTTP 200 with {success:false,error:{code,message}} is a refusal carrying the reason',
    {},
    () => {
      const error = errorFromResponse(200, { success: false, error: { code: 'content_policy', message: 'prompt flagged' } }, identity);
      assert.equal(error.kind, 'rejected');
      assert.equal(error.details.upstreamMessage, 'prompt flagged');
    },
  );

  test(
    'a 400 about an expired image URL is a refusal, not an empty account',
    {},
    () => {
      assert.equal(errorFromResponse(400, { error: { message: 'image url has expired' } }, identity).kind, 'rejected');
    },
  );

  test('the API key echoed by the upstream is removed by the redactor passed in', () => {
    const error = errorFromResponse(401, { error: { message: `Incorrect API key provided: ${API_KEY}` } }, redact);
    assert.equal(error.kind, 'unauthorized');
    assert.ok(!error.message.includes(API_KEY), error.message);
    assert.ok(!JSON.stringify(error.details).includes(API_KEY), '!JSON.stringify(error.details).includes(API_KEY)');
    assert.equal(error.details.upstreamMessage, 'Incorrect API key provided\\: \\[redacted\\]');
  });

  test('Bearer headers echoed back are removed even without the key known', () => {
    const error = errorFromResponse(400, { msg: 'bad header Authorization: Bearer sk-unknown-123456' }, createRedactor([]));
    assert.ok(!error.message.includes('unknown-123456'), error.message);
  });
});

/** Shaped like the real secrets, so both the value-based and the pattern-based redaction apply. */
const BOT_TOKEN = 'MTA5ODc2NTQzMjEwOTg3NjU0Mw.GhIjKl.q8W2e5R7t1Y3u6I9o0P4a2S5d7F';
const LIVE_KEY = 'sk-live-7c1e9a0b5f3d41f9c2a';
const redactBoth = createRedactor([BOT_TOKEN, LIVE_KEY]);
const show = (text: string, maxLength?: number) => sanitizeUpstreamMessage(text, redactBoth, maxLength) ?? '';

/** No tail of six characters or more of either secret survives. */
function assertNoSecretTail(out: string): void {
  for (const secret of [BOT_TOKEN, LIVE_KEY]) assert.ok(!out.includes(secret.slice(-6)), `a tail of a secret in ${JSON.stringify(out)}`);
}

/** Markdown that would act rather than show: a masked link, a mention, formatting. */
function assertInert(out: string): void {
  assert.ok(!out.includes(']('), `a live masked link in ${JSON.stringify(out)}`);
  assert.ok(!/(?<!\\)[@<[\]()*_`~|>]/.test(out), `an unescaped markdown character in ${JSON.stringify(out)}`);
}

describe('sanitizeUpstreamMessage', () => {
  test('undefined and empty stay absent', () => {
    assert.equal(sanitizeUpstreamMessage(undefined, identity), undefined);
    assert.equal(sanitizeUpstreamMessage('', identity), undefined);
    assert.equal(sanitizeUpstreamMessage('   \n\t', identity), undefined);
    assert.equal(sanitizeUpstreamMessage('<br/><p></p>', identity), undefined);
    assert.equal(sanitizeUpstreamMessage('\u202e\u2066\u200b', identity), undefined);
  });

  test('plain words pass through; punctuation is escaped, so Discord shows it as written', () => {
    assert.equal(sanitizeUpstreamMessage('Prompt rejected because it contains prohibited content', identity), 'Prompt rejected because it contains prohibited content');
    assert.equal(sanitizeUpstreamMessage('Prompt rejected: too long', identity), 'Prompt rejected\\: too long');
  });

  test('the API key echoed whole is redacted', () => {
    assert.equal(show(`key ${LIVE_KEY} has expired`), 'key \\[redacted\\] has expired');
  });

  test('the API key echoed as a tail is redacted, however it is masked', () => {
    for (const masked of [`…${LIVE_KEY.slice(-8)}`, `sk-****${LIVE_KEY.slice(-8)}`, `xxxxxxxx${LIVE_KEY.slice(-6)}`, `ending in ${LIVE_KEY.slice(-12)}.`, `${LIVE_KEY.slice(0, 7)}...${LIVE_KEY.slice(-10)}`]) {
      const out = show(`Incorrect API key provided: ${masked}`);
      assertNoSecretTail(out);
      assert.match(out, /Incorrect API key provided/);
    }
  });

  test('the bot token echoed whole or as a tail is redacted', () => {
    assertNoSecretTail(show(`Discord said: unauthorized ${BOT_TOKEN}`));
    assertNoSecretTail(show(`token …${BOT_TOKEN.slice(-9)} rejected`));
  });

  test('an invisible character hidden inside the key does not carry it past the redactor', () => {
    const out = show(`key ${LIVE_KEY.slice(0, 10)}\u200b${LIVE_KEY.slice(10)} refused`);
    assert.equal(out, 'key \\[redacted\\] refused');
  });

  test('the redactor is applied before truncation, so a key straddling the cut cannot leak a prefix', () => {
    const out = sanitizeUpstreamMessage(`${'x'.repeat(190)} ${API_KEY} trailing`, redact)!;
    assert.ok(!out.includes(API_KEY.slice(0, 8)), out);
  });

  test('a masked link is not live: its brackets and parentheses are escaped', () => {
    const out = show('[click here](https://evil.example/steal) to fix your account');
    assert.equal(out, '\\[click here\\]\\(https\\://evil.example/steal\\) to fix your account');
    assertInert(out);
  });

  test('a code span is no shelter: a link inside backticks is escaped too', () => {
    const out = show('`[docs](https://evil.example)`');
    assertInert(out);
    assert.match(out, /docs/);
  });

  test('mentions do not work: @everyone, @here, users, roles and channels', () => {
    const out = show('ping @everyone and @here, <@123456789012345678> <@!123> <@&456> <#789>');
    assertInert(out);
    assert.ok(!out.includes('<@') && !out.includes('<#'), out);
    assert.match(out, /ping \\@everyone and \\@here/);
  });

  test('headings, quotes, lists and formatting are shown as written', () => {
    const out = show('# Heading\n> quote\n- item **bold** __under__ ~~gone~~ ||spoiler||');
    assertInert(out);
    assert.ok(!out.includes('\n'), 'one line');
  });

  test('strips HTML tags', () => {
    assert.equal(sanitizeUpstreamMessage('<html><head><title>502</title></head><body><h1>Bad Gateway</h1></body></html>', identity), '502 Bad Gateway');
    assert.equal(sanitizeUpstreamMessage('<script>alert(1)</script>oops', identity), 'alert\\(1\\) oops');
  });

  test('drops bidirectional and other format characters, and turns control characters into spaces', () => {
    const bidi = show('error in file \u202Eexe.txt\u202C and \u2066isolated\u2069 \u2067r\u2068l\u200Ftext\u200E');
    assert.ok(!/[\p{Cf}\p{Cc}]/u.test(bidi), JSON.stringify(bidi));
    assert.equal(bidi, 'error in file exe.txt and isolated rltext');
    assert.equal(sanitizeUpstreamMessage('a\u0000b\u001b[31mc\u007fd', identity), 'a b \\[31mc d');
    assert.equal(sanitizeUpstreamMessage('line one\r\nline two\t\tend', identity), 'line one line two end');
    assert.equal(sanitizeUpstreamMessage('zero\u200bwidth', identity), 'zerowidth');
    assert.equal(sanitizeUpstreamMessage('  padded  ', identity), 'padded');
  });

  test('caps the length at 200 characters with an ellipsis, or at the length asked for', () => {
    const exact = 'y'.repeat(200);
    assert.equal(sanitizeUpstreamMessage(exact, identity), exact);
    const long = sanitizeUpstreamMessage('z'.repeat(5000), identity)!;
    assert.equal(long, `${'z'.repeat(199)}…`);
    assert.equal(sanitizeUpstreamMessage('z'.repeat(50), identity, 20), `${'z'.repeat(19)}…`);
  });

  test('a long hostile text stays short and inert, with no escape cut in half', () => {
    const out = show(`${'[x](https://e) @everyone '.repeat(400)}${LIVE_KEY}`);
    assert.ok(out.length <= 200, `length ${out.length}`);
    assertInert(out.slice(0, -1));
    assert.ok(!/(?<!\\)(\\\\)*\\…$/.test(out), `ends inside an escape: ${JSON.stringify(out.slice(-4))}`);
  });

  test('truncation never leaves half of a surrogate pair', () => {
    const out = sanitizeUpstreamMessage(`${'a'.repeat(198)}😀${'b'.repeat(10)}`, identity)!;
    assert.ok(out.length <= 200, `length ${out.length}`);
    assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(out), JSON.stringify(out.slice(-3)));
  });
});

describe('errorFromResponse: upstream text', () => {
  test('the message for the logs is plain words; the upstreamMessage for users is escaped', () => {
    const error = errorFromResponse(400, { error: { message: 'see [docs](https://evil.example) @everyone' } }, redactBoth);
    assert.equal(error.message, 'Pika API answered 400: see [docs](https://evil.example) @everyone');
    assertInert(error.details.upstreamMessage!);
  });

  test('neither form keeps a tail of the key', () => {
    const error = errorFromResponse(401, { error: { message: `bad key sk-****${LIVE_KEY.slice(-8)}` } }, redactBoth);
    assertNoSecretTail(error.message);
    assertNoSecretTail(error.details.upstreamMessage!);
  });

  test('outcomeUnknown is set only when the caller says so', () => {
    assert.equal(errorFromResponse(502, 'Bad Gateway', identity, { outcomeUnknown: true }).details.outcomeUnknown, true);
    assert.ok(!('outcomeUnknown' in errorFromResponse(502, 'Bad Gateway', identity).details));
    assert.ok(!('outcomeUnknown' in errorFromResponse(502, 'Bad Gateway', identity, { outcomeUnknown: false }).details));
  });
});

describe('PikaError', () => {
  test('isUpstreamFault is true only for server, network and timeout', () => {
    const expected: Record<PikaErrorKind, boolean> = {
      unauthorized: false,
      out_of_balance: false,
      rate_limited: false,
      rejected: false,
      server: true,
      network: true,
      timeout: true,
      bad_response: false,
    };
    for (const [kind, fault] of Object.entries(expected) as Array<[PikaErrorKind, boolean]>) {
      assert.equal(new PikaError(kind, 'm').isUpstreamFault, fault, kind);
    }
  });

  test('keeps the cause when given, and has none otherwise', () => {
    const cause = new Error('socket hang up');
    assert.equal(new PikaError('network', 'm', { cause }).cause, cause);
    assert.ok(!('cause' in new PikaError('network', 'm')), "!('cause' in new PikaError('network', 'm'))");
    assert.deepStrictEqual(new PikaError('server', 'm').details, {});
  });
});

describe('isRecord', () => {
  test('plain objects only', () => {
    assert.equal(isRecord({}), true);
    assert.equal(isRecord({ a: 1 }), true);
    assert.equal(isRecord([]), false);
    assert.equal(isRecord(null), false);
    assert.equal(isRecord('x'), false);
    assert.equal(isRecord(1), false);
    assert.equal(isRecord(undefined), false);
  });
});

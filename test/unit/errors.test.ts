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
    assert.equal(error.details.upstreamMessage, 'Incorrect API key provided: [redacted]');
  });

  test('Bearer headers echoed back are removed even without the key known', () => {
    const error = errorFromResponse(400, { msg: 'bad header Authorization: Bearer sk-unknown-123456' }, createRedactor([]));
    assert.ok(!error.message.includes('unknown-123456'), error.message);
  });
});

describe('sanitizeUpstreamMessage', () => {
  test('undefined and empty stay absent', () => {
    assert.equal(sanitizeUpstreamMessage(undefined, identity), undefined);
    assert.equal(sanitizeUpstreamMessage('', identity), undefined);
    assert.equal(sanitizeUpstreamMessage('   \n\t', identity), undefined);
    assert.equal(sanitizeUpstreamMessage('<br/><p></p>', identity), undefined);
  });

  test('plain text passes through unchanged', () => {
    assert.equal(sanitizeUpstreamMessage('Prompt rejected: contains prohibited content', identity), 'Prompt rejected: contains prohibited content');
  });

  test('strips the API key through the redactor', () => {
    const out = sanitizeUpstreamMessage(`key ${API_KEY} has expired`, redact);
    assert.equal(out, 'key [redacted] has expired');
  });

  test('the redactor is applied before truncation, so a key straddling the cut cannot leak a prefix', () => {
    const message = `${'x'.repeat(190)} ${API_KEY} trailing`;
    const out = sanitizeUpstreamMessage(message, redact)!;
    assert.ok(!out.includes(API_KEY.slice(0, 8)), out);
  });

  test('strips HTML tags', () => {
    assert.equal(sanitizeUpstreamMessage('<html><head><title>502</title></head><body><h1>Bad Gateway</h1></body></html>', identity), '502 Bad Gateway');
    assert.equal(sanitizeUpstreamMessage('<script>alert(1)</script>oops', identity), 'alert(1) oops');
  });

  test('replaces control and format characters and collapses whitespace', () => {
    assert.equal(sanitizeUpstreamMessage('a\u0000b\u001b[31mc\u007fd', identity), 'a b [31mc d');
    assert.equal(sanitizeUpstreamMessage('line one\r\nline two\t\tend', identity), 'line one line two end');
    assert.equal(sanitizeUpstreamMessage('zero\u200bwidth\u202eRTL', identity), 'zero width RTL');
    assert.equal(sanitizeUpstreamMessage('  padded  ', identity), 'padded');
  });

  test('truncates to 200 characters with an ellipsis', () => {
    const exact = 'y'.repeat(200);
    assert.equal(sanitizeUpstreamMessage(exact, identity), exact);
    const long = sanitizeUpstreamMessage('z'.repeat(5000), identity)!;
    assert.equal(long.length, 200);
    assert.equal(long, `${'z'.repeat(199)}…`);
  });

  test(
    'truncation never leaves half of a surrogate pair',
    {},
    () => {
      const out = sanitizeUpstreamMessage(`${'a'.repeat(198)}😀${'b'.repeat(10)}`, identity)!;
      assert.ok(out.length <= 200, `length ${out.length}`);
      assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(out), JSON.stringify(out.slice(-3)));
    },
  );
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

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { FakePika, type PikaFault } from '../fakes/pika.js';
import { createRedactor } from '../../src/logger.js';
import { parseFeed, PikaClient } from '../../src/pika/client.js';
import { PikaError, type PikaErrorKind } from '../../src/pika/errors.js';
import type { PikaGenerateBody } from '../../src/pika/types.js';

/** Deliberately not `sk-` shaped, so only the value-based redaction can catch it. */
const API_KEY = 'test-pika-key-7c9e2f41d8';

const BODY: PikaGenerateBody = {
  pikaffect: '',
  promptText: 'a plane flies over @everyone **bold**',
  model: '1.5',
  options: {
    aspectRatio: 16 / 9,
    frameRate: 24,
    camera: {},
    parameters: { guidanceScale: 12, motion: 1, negativePrompt: '' },
    extend: false,
  },
};

/** Runs `fn`, expecting a PikaError, and checks that the key leaks nowhere in it. */
async function pikaError(fn: () => Promise<unknown>): Promise<PikaError> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof PikaError, `expected a PikaError, got ${caught === undefined ? 'success' : String(caught)}`);
  assertNoKey(caught);
  return caught;
}

function assertNoKey(error: PikaError): void {
  assert.ok(!error.message.includes(API_KEY), `key in message: ${error.message}`);
  assert.ok(!String(error.stack).includes(API_KEY), 'key in stack');
  const { cause, ...rest } = error.details;
  assert.ok(!JSON.stringify(rest).includes(API_KEY), 'key in details');
  if (cause !== undefined) {
    assert.ok(!JSON.stringify(cause, Object.getOwnPropertyNames(cause as object)).includes(API_KEY), 'key in cause');
    assert.ok(!String((cause as Error).message).includes(API_KEY), 'key in cause message');
  }
}

describe('PikaClient.generate against the fake API', () => {
  let fake: FakePika;
  let client: PikaClient;
  let hastyClient: PikaClient;

  before(async () => {
    fake = await FakePika.start({ apiKey: API_KEY });
    const common = { baseUrl: fake.url, apiKey: API_KEY, feedTimeoutMs: 5000, redact: createRedactor([API_KEY]) };
    client = new PikaClient({ ...common, generateTimeoutMs: 5000 });
    hastyClient = new PikaClient({ ...common, generateTimeoutMs: 200, feedTimeoutMs: 200 });
  });
  after(async () => {
    await fake.close();
    await client.close();
    await hastyClient.close();
  });
  beforeEach(() => fake.reset());

  test('returns the task id, sending the bearer key and the JSON body once', async () => {
    const id = await client.generate(BODY);
    assert.equal(typeof id, 'string');
    assert.deepStrictEqual(fake.taskIds(), [id]);
    assert.equal(fake.generateCalls.length, 1);
    const call = fake.generateCalls[0]!;
    assert.equal(call.method, 'POST');
    assert.equal(call.path, '/pika/generate');
    assert.equal(call.headers.authorization, `Bearer ${API_KEY}`);
    assert.match(call.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(call.headers.accept, 'application/json');
    assert.deepStrictEqual(call.body, BODY);
    assert.deepStrictEqual(fake.task(id)!.body, BODY);
  });

  test('a base URL with a path prefix is honoured', async () => {
    const prefixed = new PikaClient({
      baseUrl: `${fake.url}/nested`,
      apiKey: API_KEY,
      generateTimeoutMs: 2000,
      feedTimeoutMs: 2000,
      redact: createRedactor([API_KEY]),
    });
    try {
      // The fake only serves /pika/*, so the prefix shows up as a 404 for /nested/pika/generate.
      const error = await pikaError(() => prefixed.generate(BODY));
      assert.equal(error.kind, 'rejected');
      assert.equal(fake.requests[0]!.path, '/nested/pika/generate');
    } finally {
      await prefixed.close();
    }
  });

  const faults: Array<[string, PikaFault, PikaErrorKind, (error: PikaError) => void]> = [
    ['401', { kind: 'status', status: 401 }, 'unauthorized', (e) => assert.equal(e.details.status, 401)],
    ['403', { kind: 'status', status: 403 }, 'unauthorized', (e) => assert.equal(e.details.status, 403)],
    ['402', { kind: 'status', status: 402, body: { error: { message: 'payment required' } } }, 'out_of_balance', (e) => assert.equal(e.details.status, 402)],
    ['429', { kind: 'status', status: 429, headers: { 'retry-after': '5' } }, 'rate_limited', (e) => assert.equal(e.details.status, 429)],
    [
      '400 with a message',
      { kind: 'status', status: 400, body: { error: { message: 'prompt rejected: <b>nudity</b>' } } },
      'rejected',
      (e) => assert.equal(e.details.upstreamMessage, 'prompt rejected\\: nudity'),
    ],
    ['500', { kind: 'status', status: 500 }, 'server', (e) => assert.equal(e.details.status, 500)],
    ['501', { kind: 'status', status: 501 }, 'server', (e) => assert.equal(e.details.status, 501)],
    ['505', { kind: 'status', status: 505 }, 'server', (e) => assert.equal(e.details.status, 505)],
    [
      '200 non-JSON',
      { kind: 'non-json' },
      'bad_response',
      (e) => assert.equal(e.details.status, 200),
    ],
    ['200 wrong shape', { kind: 'wrong-shape' }, 'bad_response', () => {}],
    [
      '200 {code:400,msg} without an id',
      { kind: 'no-id' },
      'rejected',
      (e) => assert.equal(e.details.upstreamMessage, 'prompt rejected by moderation'),
    ],
    [
      '200 {id:""}',
      { kind: 'status', status: 200, body: { id: '   ' } },
      'bad_response',
      () => {},
    ],
    [
      '200 {id: 42}',
      { kind: 'status', status: 200, body: { id: 42 } },
      'bad_response',
      () => {},
    ],
    [
      '200 {code:402,msg:"insufficient balance"}',
      { kind: 'status', status: 200, body: { code: 402, msg: 'insufficient balance' } },
      'out_of_balance',
      (e) => assert.equal(e.details.upstreamMessage, 'insufficient balance'),
    ],
    [
      '200 JSON array',
      { kind: 'status', status: 200, body: [{ id: 'x' }] },
      'bad_response',
      () => {},
    ],
  ];
  for (const [name, fault, kind, extra] of faults) {
    test(`${name} → ${kind}, sent exactly once`, async () => {
      fake.failNextGenerate(fault, 3);
      const error = await pikaError(() => client.generate(BODY));
      assert.equal(error.kind, kind);
      assert.notEqual(error.details.outcomeUnknown, true, 'an answered request has a known outcome');
      extra(error);
      assert.equal(fake.generateCalls.length, 1, 'never retried');
      assert.deepStrictEqual(fake.taskIds(), []);
    });
  }

  // A gateway in front of the API may send these after it forwarded the (billed) request.
  const gatewayAnswers: Array<[string, PikaFault]> = [
    ['502 with a text body', { kind: 'status', status: 502, rawBody: 'Bad Gateway' }],
    ['503 with a JSON error', { kind: 'status', status: 503, body: { error: { message: 'upstream unavailable' } } }],
    ['504 with an HTML page', { kind: 'status', status: 504, rawBody: '<html><body><h1>504 Gateway Time-out</h1></body></html>' }],
  ];
  for (const [name, fault] of gatewayAnswers) {
    test(`${name} → server with outcomeUnknown, sent exactly once`, async () => {
      fake.failNextGenerate(fault, 3);
      const error = await pikaError(() => client.generate(BODY));
      assert.equal(error.kind, 'server');
      assert.equal(error.details.status, (fault as { status: number }).status);
      assert.equal(error.details.outcomeUnknown, true);
      assert.equal(error.isUpstreamFault, true);
      assert.ok(error.details.upstreamMessage, 'the gateway\'s words are kept');
      assert.equal(fake.generateCalls.length, 1, 'never retried');
    });
  }

  test('a hang → timeout with outcomeUnknown, sent exactly once', async () => {
    fake.failNextGenerate({ kind: 'hang' }, 3);
    const started = Date.now();
    const error = await pikaError(() => hastyClient.generate(BODY));
    assert.equal(error.kind, 'timeout');
    assert.equal(error.details.outcomeUnknown, true);
    assert.equal(error.isUpstreamFault, true);
    assert.match(error.message, /200 ms/);
    assert.ok(Date.now() - started < 4000, 'the timeout fired');
    assert.equal(fake.generateCalls.length, 1);
  });

  test('a dropped connection → network with outcomeUnknown, sent exactly once', async () => {
    fake.failNextGenerate({ kind: 'network' }, 3);
    const error = await pikaError(() => client.generate(BODY));
    assert.equal(error.kind, 'network');
    assert.equal(error.details.outcomeUnknown, true);
    assert.ok(error.details.cause !== undefined, 'error.details.cause !== undefined');
    assert.equal(fake.generateCalls.length, 1);
  });

  test('a dropped connection after a successful call on the same keep-alive socket is still not retried', async () => {
    await client.generate(BODY);
    fake.failNextGenerate({ kind: 'network' }, 3);
    await pikaError(() => client.generate(BODY));
    assert.equal(fake.generateCalls.length, 2);
  });

  test('connection refused → network with outcomeUnknown', async () => {
    const closed = await FakePika.start({ apiKey: API_KEY });
    const url = closed.url;
    await closed.close();
    const unreachable = new PikaClient({ baseUrl: url, apiKey: API_KEY, generateTimeoutMs: 2000, feedTimeoutMs: 2000, redact: createRedactor([API_KEY]) });
    try {
      const error = await pikaError(() => unreachable.generate(BODY));
      assert.equal(error.kind, 'network');
      assert.equal(error.details.outcomeUnknown, true);
    } finally {
      await unreachable.close();
    }
  });

  test('a wrong key → unauthorized, and neither key is in the error', async () => {
    const wrongKey = 'wrong-key-1234567890';
    const wrong = new PikaClient({
      baseUrl: fake.url,
      apiKey: wrongKey,
      generateTimeoutMs: 2000,
      feedTimeoutMs: 2000,
      redact: createRedactor([wrongKey]),
    });
    try {
      const error = await pikaError(() => wrong.generate(BODY));
      assert.equal(error.kind, 'unauthorized');
      assert.ok(!error.message.includes(wrongKey), '!error.message.includes(wrongKey)');
      assert.equal(fake.generateCalls.length, 1);
    } finally {
      await wrong.close();
    }
  });

  test('an upstream that echoes the key back does not leak it into the error', async () => {
    fake.failNextGenerate({ kind: 'status', status: 401, body: { error: { message: `invalid key ${API_KEY} (Bearer ${API_KEY})` } } });
    const error = await pikaError(() => client.generate(BODY));
    assert.equal(error.kind, 'unauthorized');
    assert.match(error.details.upstreamMessage ?? '', /\\\[redacted\\\]/);
  });

  test('an upstream that echoes the key\'s tail, a masked link and bidi controls shows none of them', async () => {
    const message = `key …${API_KEY.slice(-8)} refused, see [docs](https://evil.example) \u202Etxt.exe`;
    fake.failNextGenerate({ kind: 'status', status: 400, body: { error: { message } } });
    const error = await pikaError(() => client.generate(BODY));
    const shown = error.details.upstreamMessage ?? '';
    assert.ok(!shown.includes(API_KEY.slice(-6)), shown);
    assert.ok(!error.message.includes(API_KEY.slice(-6)), error.message);
    assert.ok(!shown.includes(']('), `no live masked link: ${shown}`);
    assert.match(shown, /refused, see \\\[docs\\\]/);
    assert.ok(!shown.includes('\u202E'), shown);
  });

  test('an upstream that echoes the key in a 200 {code,msg} does not leak it either', async () => {
    fake.failNextGenerate({ kind: 'status', status: 200, body: { code: 400, msg: `bad request from key ${API_KEY}` } });
    const error = await pikaError(() => client.generate(BODY));
    assert.equal(error.kind, 'rejected');
  });

  test('an upstream that echoes the key in a non-JSON error page does not leak it', async () => {
    fake.failNextGenerate({ kind: 'status', status: 500, rawBody: `<pre>Authorization: Bearer ${API_KEY}</pre>` });
    const error = await pikaError(() => client.generate(BODY));
    assert.equal(error.kind, 'server');
  });

  test('an oversized answer is cut off, sent once, and its outcome left unknown', async () => {
    fake.failNextGenerate({ kind: 'status', status: 200, rawBody: `{"id":"x","pad":"${' '.repeat(2 * 1024 * 1024)}"}` }, 3);
    const error = await pikaError(() => client.generate(BODY));
    assert.ok(error.kind === 'network' || error.kind === 'bad_response', error.kind);
    assert.equal(error.details.outcomeUnknown, true, 'a 2xx may have started a task');
    assert.equal(fake.generateCalls.length, 1);
  });

  test('after a fault the next call works normally', async () => {
    fake.failNextGenerate({ kind: 'status', status: 500 });
    await pikaError(() => client.generate(BODY));
    const id = await client.generate(BODY);
    assert.deepStrictEqual(fake.taskIds(), [id]);
    assert.equal(fake.generateCalls.length, 2);
  });
});

describe('PikaClient.feed against the fake API', () => {
  let fake: FakePika;
  let client: PikaClient;

  before(async () => {
    fake = await FakePika.start({ apiKey: API_KEY });
    client = new PikaClient({ baseUrl: fake.url, apiKey: API_KEY, generateTimeoutMs: 5000, feedTimeoutMs: 200, redact: createRedactor([API_KEY]) });
  });
  after(async () => {
    await fake.close();
    await client.close();
  });
  beforeEach(() => fake.reset());

  test('progresses from an empty feed to finished, with the bearer key on every poll', async () => {
    fake.nextTask({ seed: 3183047765, duration: 5 });
    const id = await client.generate(BODY);
    const statuses: string[] = [];
    let last;
    for (let i = 0; i < 20; i++) {
      last = await client.feed(id);
      assert.equal(last.id, id);
      assert.equal(last.promptText, BODY.promptText);
      statuses.push(last.videos[0]?.status ?? '(empty)');
      if (last.videos[0]?.status === 'finished') break;
    }
    assert.deepStrictEqual(statuses, ['(empty)', 'queued', 'pending', 'pending', 'pending', 'finished']);
    const video = last!.videos[0]!;
    assert.equal(video.id, id);
    assert.equal(video.seed, 3183047765);
    assert.equal(video.duration, 5);
    assert.equal(video.progress, 100);
    assert.equal(video.error, '');
    assert.equal(video.resultUrl, `${fake.url}/cdn/${id}/video.mp4`);
    assert.equal(video.videoPoster, `${fake.url}/cdn/${id}/poster.jpg`);
    for (const call of fake.feedCalls) {
      assert.equal(call.headers.authorization, `Bearer ${API_KEY}`);
      assert.equal(call.path, `/pika/feed/${id}`);
    }
    assert.equal(fake.generateCalls.length, 1);
  });

  test('a task that fails upstream reports status error with its reason', async () => {
    fake.nextTask({ feed: ['empty', { status: 'error', error: 'content moderation' }] });
    const id = await client.generate(BODY);
    assert.deepStrictEqual((await client.feed(id)).videos, []);
    const video = (await client.feed(id)).videos[0]!;
    assert.equal(video.status, 'error');
    assert.equal(video.error, 'content moderation');
  });

  test('the task id is URL-encoded into the path', async () => {
    await pikaError(() => client.feed('../generate?x=1'));
    assert.equal(fake.feedCalls[0]?.path ?? fake.requests[0]!.path, '/pika/feed/..%2Fgenerate%3Fx%3D1');
  });

  test('an unknown task → rejected (404)', async () => {
    const error = await pikaError(() => client.feed('no-such-task'));
    assert.equal(error.kind, 'rejected');
    assert.equal(error.details.status, 404);
  });

  const feedFaults: Array<[string, PikaFault, PikaErrorKind]> = [
    ['500', { kind: 'status', status: 500 }, 'server'],
    ['502', { kind: 'status', status: 502 }, 'server'],
    ['503', { kind: 'status', status: 503 }, 'server'],
    ['504', { kind: 'status', status: 504 }, 'server'],
    ['429', { kind: 'status', status: 429 }, 'rate_limited'],
    ['non-JSON', { kind: 'non-json' }, 'bad_response'],
    ['wrong shape', { kind: 'wrong-shape' }, 'bad_response'],
    ['dropped connection', { kind: 'network' }, 'network'],
    ['hang', { kind: 'hang' }, 'timeout'],
  ];
  for (const [name, fault, kind] of feedFaults) {
    test(`feed ${name} → ${kind}, outcome known (a read)`, async () => {
      const id = await client.generate(BODY);
      fake.failNextFeed(fault);
      const error = await pikaError(() => client.feed(id));
      assert.equal(error.kind, kind);
      assert.equal(error.details.outcomeUnknown ?? false, false);
      // A failed poll does not advance the task: the next poll sees the first step.
      assert.deepStrictEqual((await client.feed(id)).videos, []);
    });
  }
});

describe('parseFeed', () => {
  test('keeps every documented field of the right type', () => {
    const json = {
      id: '66e0818e',
      promptText: 'Plane fly',
      videos: [
        {
          id: '66e0818e',
          status: 'finished',
          seed: 3183047765,
          resultUrl: 'https://cdn.pika.art/v1/a.mp4',
          sharingUrl: 'https://cdn.pika.art/v1/a_share.mp4',
          videoPoster: 'https://cdn.pika.art/v1/poster.jpg',
          imageThumb: 'https://cdn.pika.art/v1/thumbnail.jpg',
          duration: 5,
          error: '',
          progress: 100,
          extra: 'ignored',
        },
      ],
    };
    assert.deepStrictEqual(parseFeed(json), {
      id: '66e0818e',
      promptText: 'Plane fly',
      videos: [
        {
          id: '66e0818e',
          status: 'finished',
          seed: 3183047765,
          resultUrl: 'https://cdn.pika.art/v1/a.mp4',
          sharingUrl: 'https://cdn.pika.art/v1/a_share.mp4',
          videoPoster: 'https://cdn.pika.art/v1/poster.jpg',
          imageThumb: 'https://cdn.pika.art/v1/thumbnail.jpg',
          duration: 5,
          error: '',
          progress: 100,
        },
      ],
    });
  });

  test('an empty videos array is a valid, still-starting feed', () => {
    assert.deepStrictEqual(parseFeed({ id: 'x', promptText: 'p', videos: [] }), { id: 'x', promptText: 'p', videos: [] });
  });

  test('missing id and promptText are tolerated', () => {
    assert.deepStrictEqual(parseFeed({ videos: [{ status: '' }] }), { id: '', videos: [{ id: '', status: '' }] });
  });

  test('fields of the wrong type are dropped rather than trusted', () => {
    const feed = parseFeed({
      id: 7,
      promptText: null,
      videos: [{ id: 1, status: 'pending', seed: '123', progress: Number.NaN, duration: Number.POSITIVE_INFINITY, resultUrl: 5, error: null }],
    });
    assert.deepStrictEqual(feed, { id: '', videos: [{ id: '', status: 'pending' }] });
  });

  for (const [name, json] of [
    ['null', null],
    ['a string', 'finished'],
    ['an array', [{ status: 'finished' }]],
    ['no videos', { id: 'x' }],
    ['videos as a string', { id: 'x', videos: 'nope' }],
    ['videos as an object', { id: 'x', videos: { 0: { status: 'finished' } } }],
    ['a video that is not an object', { id: 'x', videos: ['finished'] }],
    ['a video without a status', { id: 'x', videos: [{ id: 'x', progress: 10 }] }],
    ['a video with a numeric status', { id: 'x', videos: [{ id: 'x', status: 1 }] }],
  ] as const) {
    test(`${name} → bad_response`, () => {
      assert.throws(
        () => parseFeed(json),
        (error: unknown) => error instanceof PikaError && error.kind === 'bad_response',
      );
    });
  }
});

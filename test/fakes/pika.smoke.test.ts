/** Proves the fake Pika API behaves as documented, so other tests can trust it. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DEFAULT_FEED, FakePika } from './pika.js';
import type { PikaFault } from './pika.js';

const API_KEY = 'sk-test-fake-key';
const GENERATE_BODY = {
  pikaffect: '',
  promptText: 'a plane flies',
  model: '1.5',
  options: {
    aspectRatio: 16 / 9,
    frameRate: 24,
    camera: {},
    parameters: { guidanceScale: 12, motion: 1, negativePrompt: '' },
    extend: false,
  },
};

interface FeedVideo {
  id: string;
  status: string;
  seed: number;
  resultUrl: string;
  sharingUrl: string;
  videoPoster: string;
  imageThumb: string;
  duration: number;
  error: string;
  progress: number;
}
interface Feed {
  id: string;
  promptText: string;
  videos: FeedVideo[];
}

const fixture = (name: string) => readFile(new URL(`../fixtures/${name}`, import.meta.url));

describe('FakePika', () => {
  let fake: FakePika;

  before(async () => {
    fake = await FakePika.start({ apiKey: API_KEY });
  });
  after(() => fake.close());
  beforeEach(() => fake.reset());

  /** A request to the fake API, authorised unless `init.headers` says otherwise. */
  function call(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${fake.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${API_KEY}`, ...(init.headers as Record<string, string>) },
    });
  }

  function generate(body: unknown = GENERATE_BODY): Promise<Response> {
    return call('/pika/generate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  async function generateId(body: unknown = GENERATE_BODY): Promise<string> {
    const res = await generate(body);
    assert.equal(res.status, 200);
    const { id } = (await res.json()) as { id: string };
    return id;
  }

  async function pollFeed(id: string): Promise<Feed> {
    const res = await call(`/pika/feed/${id}`);
    assert.equal(res.status, 200);
    return (await res.json()) as Feed;
  }

  /** Polls until the feed reports a final status (bounded, so a broken fake fails instead of hanging). */
  async function pollToEnd(id: string): Promise<Feed[]> {
    const feeds: Feed[] = [];
    for (let i = 0; i < 20; i++) {
      const feed = await pollFeed(id);
      feeds.push(feed);
      const status = feed.videos[0]?.status;
      if (status === 'finished' || status === 'error') return feeds;
    }
    assert.fail(`task ${id} never reached a final status`);
  }

  describe('auth', () => {
    it('rejects a missing or wrong key with 401 and records both requests', async () => {
      const missing = await fetch(`${fake.url}/pika/generate`, { method: 'POST', body: JSON.stringify(GENERATE_BODY) });
      const wrong = await call('/pika/feed/whatever', { headers: { authorization: 'Bearer sk-wrong' } });

      for (const res of [missing, wrong]) {
        assert.equal(res.status, 401);
        assert.deepEqual(await res.json(), { error: { message: 'invalid api key' } });
      }
      assert.equal(fake.requests.length, 2);
      assert.equal(fake.generateCalls.length, 1);
      assert.equal(fake.feedCalls.length, 1);
      assert.equal(fake.feedCalls[0]?.headers['authorization'], 'Bearer sk-wrong');
      assert.deepEqual(fake.taskIds(), []);
    });

    it('needs no key for the CDN', async () => {
      const id = await generateId();
      const res = await fetch(`${fake.url}/cdn/${id}/poster.jpg`);
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), await fixture('poster.jpg'));
    });
  });

  describe('generate', () => {
    it('records the body and returns a new task id', async () => {
      const res = await generate();
      assert.equal(res.status, 200);
      const json = (await res.json()) as { id: string };
      assert.deepEqual(Object.keys(json), ['id']);
      assert.match(json.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

      const [recorded] = fake.generateCalls;
      assert.equal(fake.generateCalls.length, 1);
      assert.equal(recorded?.method, 'POST');
      assert.equal(recorded?.path, '/pika/generate');
      assert.equal(recorded?.headers['content-type'], 'application/json');
      assert.deepEqual(recorded?.body, GENERATE_BODY);
      assert.ok(typeof recorded?.at === 'number' && recorded.at <= Date.now());

      assert.deepEqual(fake.taskIds(), [json.id]);
      const task = fake.task(json.id);
      assert.deepEqual(task?.body, GENERATE_BODY);
      assert.equal(task?.step, -1);
      assert.ok(Number.isInteger(task?.seed) && task.seed >= 0 && task.seed < 2 ** 32);
    });

    it('records a non-JSON body as a string and answers 400', async () => {
      const res = await call('/pika/generate', { method: 'POST', body: 'not json' });
      assert.equal(res.status, 400);
      assert.equal(fake.generateCalls[0]?.body, 'not json');
      assert.deepEqual(fake.taskIds(), []);
    });
  });

  describe('feed', () => {
    it('finishNow: the next poll answers finished wherever the script was, and finishedAt records when', async () => {
      fake.nextTask({ feed: [{ status: 'pending', progress: 5 }, { status: 'pending', progress: 6 }] });
      const id = await generateId();
      assert.equal((await pollFeed(id)).videos[0]?.progress, 5);
      assert.equal(fake.task(id)?.finishedAt, undefined);
      fake.finishNow(id);
      const before = Date.now();
      const finished = (await pollFeed(id)).videos[0];
      assert.equal(finished?.status, 'finished');
      assert.ok(fake.task(id)!.finishedAt! >= before);
      assert.equal((await pollFeed(id)).videos[0]?.status, 'finished', 'and stays there');
    });

    it('walks the default script to finished, then stays there', async () => {
      const id = await generateId();
      const feeds = await pollToEnd(id);

      assert.equal(feeds.length, DEFAULT_FEED.length);
      assert.deepEqual(feeds[0], { id, promptText: GENERATE_BODY.promptText, videos: [] });
      const videos = feeds.slice(1).map((feed) => feed.videos[0]);
      assert.deepEqual(
        videos.map((v) => [v?.status, v?.progress]),
        [['queued', 0], ['pending', 10], ['pending', 40], ['pending', 70], ['finished', 100]],
      );
      assert.deepEqual(videos.map((v) => v?.videoPoster !== ''), [false, false, true, true, true]);
      assert.deepEqual(videos.map((v) => v?.resultUrl !== ''), [false, false, false, false, true]);

      const finished = videos.at(-1);
      assert.deepEqual(finished, {
        id,
        status: 'finished',
        seed: fake.task(id)?.seed,
        resultUrl: `${fake.url}/cdn/${id}/video.mp4`,
        sharingUrl: `${fake.url}/cdn/${id}/share.mp4`,
        videoPoster: `${fake.url}/cdn/${id}/poster.jpg`,
        imageThumb: `${fake.url}/cdn/${id}/thumbnail.jpg`,
        duration: 5,
        error: '',
        progress: 100,
      });
      assert.equal(fake.task(id)?.step, DEFAULT_FEED.length - 1);

      const again = await pollFeed(id);
      assert.equal(again.videos[0]?.status, 'finished');
      assert.equal(fake.feedCalls.length, DEFAULT_FEED.length + 1);
    });

    it('serves exactly the fixture video at resultUrl', async () => {
      const id = await generateId();
      const finished = (await pollToEnd(id)).at(-1)?.videos[0];
      const expected = await fixture('tiny.mp4');

      const res = await fetch(finished?.resultUrl ?? '');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'video/mp4');
      assert.equal(res.headers.get('content-length'), String(expected.length));
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), expected);

      const head = await fetch(finished?.resultUrl ?? '', { method: 'HEAD' });
      assert.equal(head.headers.get('content-length'), String(expected.length));
    });

    it('scripted CDN faults hit the chosen file, in order, then it is served again', async () => {
      const id = await generateId();
      const finished = (await pollToEnd(id)).at(-1)?.videos[0];
      fake.failNextCdn({ kind: 'status', status: 404 }, 2);
      fake.failNextCdn({ kind: 'status', status: 503 }, 1, 'share.mp4');
      assert.equal((await fetch(finished?.resultUrl ?? '')).status, 404);
      assert.equal((await fetch(finished?.sharingUrl ?? '')).status, 503);
      assert.equal((await fetch(finished?.resultUrl ?? '')).status, 404);
      assert.equal((await fetch(finished?.resultUrl ?? '')).status, 200);
      assert.equal((await fetch(finished?.sharingUrl ?? '')).status, 200);
      assert.equal(fake.cdnVideoCalls.filter((r) => r.path.includes(id)).length, 5);
    });

    it('a stalled CDN download sends its headers and a first chunk, then nothing', async () => {
      const id = await generateId();
      const finished = (await pollToEnd(id)).at(-1)?.videos[0];
      fake.failNextCdn({ kind: 'stall' });
      const res = await fetch(finished?.resultUrl ?? '');
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      assert.ok(((await reader.read()).value?.length ?? 0) > 0, 'a first chunk');
      const next = await Promise.race([reader.read().then(() => 'more'), new Promise((resolve) => setTimeout(() => resolve('stalled'), 200))]);
      assert.equal(next, 'stalled');
      await reader.cancel();
    });

    it('answers 404 for an unknown task, and the CDN too', async () => {
      const res = await call('/pika/feed/no-such-task');
      assert.equal(res.status, 404);
      assert.deepEqual(await res.json(), { error: { message: 'task not found' } });
      assert.equal((await fetch(`${fake.url}/cdn/no-such-task/video.mp4`)).status, 404);
      assert.equal(fake.requests.length, 2);
    });
  });

  describe('nextTask', () => {
    it('plays an error script', async () => {
      fake.nextTask({ feed: ['empty', { status: 'pending', progress: 20 }, { status: 'error', error: 'content moderation' }] });
      const id = await generateId();
      const last = (await pollToEnd(id)).at(-1)?.videos[0];
      assert.equal(last?.status, 'error');
      assert.equal(last?.error, 'content moderation');
      assert.equal(last?.resultUrl, '');
      assert.equal(last?.sharingUrl, '');
    });

    it('uses queued scripts in order, then the default one', async () => {
      const video = Buffer.from('pretend this is a webm');
      fake.nextTask({ feed: [{ status: 'finished', progress: 100 }], seed: 7, duration: 3, video, videoContentType: 'video/webm' });
      fake.nextTask({ feed: [{ status: 'finished', progress: 100 }], resultUrl: 'ftp://example.invalid/v.mp4' });
      const [first, second, third] = [await generateId(), await generateId(), await generateId()];

      const firstVideo = (await pollFeed(first)).videos[0];
      assert.equal(firstVideo?.seed, 7);
      assert.equal(firstVideo?.duration, 3);
      const res = await fetch(firstVideo?.resultUrl ?? '');
      assert.equal(res.headers.get('content-type'), 'video/webm');
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), video);

      const secondVideo = (await pollFeed(second)).videos[0];
      assert.equal(secondVideo?.resultUrl, 'ftp://example.invalid/v.mp4');
      assert.equal(secondVideo?.sharingUrl, `${fake.url}/cdn/${second}/share.mp4`);

      assert.deepEqual((await pollFeed(third)).videos, []);
      assert.equal(fake.task(third)?.script.feed, undefined);
    });
  });

  describe('faults', () => {
    it('status: sends the given status and JSON body, `times` times, creating no task', async () => {
      const body = { success: false, error: { code: 'insufficient_balance', message: 'out of balance' } };
      fake.failNextGenerate({ kind: 'status', status: 402, body }, 2);

      for (let i = 0; i < 2; i++) {
        const res = await generate();
        assert.equal(res.status, 402);
        assert.deepEqual(await res.json(), body);
      }
      assert.deepEqual(fake.taskIds(), []);
      assert.equal((await generate()).status, 200);
      assert.equal(fake.taskIds().length, 1);
      assert.equal(fake.generateCalls.length, 3);
    });

    it('status: sends a raw body with custom headers', async () => {
      fake.failNextFeed({ kind: 'status', status: 429, rawBody: 'slow down', headers: { 'Retry-After': '3' } });
      const res = await call('/pika/feed/anything');
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('retry-after'), '3');
      assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(await res.text(), 'slow down');
    });

    it('hang: never answers, so the client timeout fires', async () => {
      fake.failNextGenerate({ kind: 'hang' });
      await assert.rejects(
        call('/pika/generate', { method: 'POST', body: '{}', signal: AbortSignal.timeout(150) }),
        { name: 'TimeoutError' },
      );
      assert.equal(fake.generateCalls.length, 1);
      assert.deepEqual(fake.taskIds(), []);
    });

    it('network: drops the connection', async () => {
      fake.failNextFeed({ kind: 'network' });
      await assert.rejects(call('/pika/feed/anything'), TypeError);
      assert.equal(fake.feedCalls.length, 1);
    });

    it('non-json: 200 with an HTML page', async () => {
      fake.failNextGenerate({ kind: 'non-json' });
      const res = await generate();
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(await res.text(), /<html>/);
    });

    it('wrong-shape: 200 JSON the client cannot use', async () => {
      fake.failNextGenerate({ kind: 'wrong-shape' });
      assert.deepEqual(await (await generate()).json(), { data: [1, 2] });

      const id = await generateId();
      fake.failNextFeed({ kind: 'wrong-shape' });
      assert.deepEqual(await (await call(`/pika/feed/${id}`)).json(), { id: 'x', videos: 'nope' });
      assert.equal(fake.task(id)?.step, -1, 'a faulted poll must not advance the task');
      assert.deepEqual((await pollFeed(id)).videos, []);
    });

    it('no-id: HTTP 200 with a reseller error code, for generate only', async () => {
      fake.failNextGenerate({ kind: 'no-id' });
      const res = await generate();
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { code: 400, msg: 'prompt rejected by moderation' });
      assert.deepEqual(fake.taskIds(), []);
      assert.throws(() => fake.failNextFeed({ kind: 'no-id' } as PikaFault), TypeError);
    });

    it('faults wait behind auth: a bad key gets 401 and leaves the fault queued', async () => {
      fake.failNextGenerate({ kind: 'status', status: 500 });
      const unauthorised = await call('/pika/generate', { method: 'POST', body: '{}', headers: { authorization: 'Bearer nope' } });
      assert.equal(unauthorised.status, 401);
      assert.equal((await generate()).status, 500);
    });
  });

  it('reset forgets everything but keeps the port', async () => {
    const url = fake.url;
    fake.nextTask({ feed: [{ status: 'error', error: 'boom' }] });
    fake.failNextFeed({ kind: 'network' });
    await generateId();
    const requests = fake.requests;

    fake.reset();
    assert.equal(fake.url, url);
    assert.equal(requests.length, 0, 'the array a test holds is cleared too');
    assert.deepEqual(fake.taskIds(), []);
    const id = await generateId();
    assert.deepEqual((await pollFeed(id)).videos, [], 'default script, no fault');
  });
});

describe('FakePika.close', () => {
  it('returns promptly even with a hung request open', async () => {
    const fake = await FakePika.start({ apiKey: API_KEY });
    fake.failNextGenerate({ kind: 'hang' });
    const hung = fetch(`${fake.url}/pika/generate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
      body: '{}',
    });
    await waitFor(() => fake.generateCalls.length === 1);

    const startedAt = Date.now();
    await fake.close();
    assert.ok(Date.now() - startedAt < 1000, 'close() took too long');
    await assert.rejects(hung, TypeError);
    await fake.close(); // idempotent
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

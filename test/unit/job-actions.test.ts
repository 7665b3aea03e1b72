import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Keyv from 'keyv';
import { decodeComponentId, encodeComponentId, type ComponentId } from '../../src/discord/custom-ids.js';
import { renderDetails, renderHistory } from '../../src/discord/job-messages.js';
import { JobActionRefused, linkExpired, mayDelete, rerunRequest } from '../../src/jobs/job-actions.js';
import { canTryAgain, markDeleted, markDelivered, markDelivering, markFailed, markRunning, newJob, type Job } from '../../src/jobs/job.js';
import { JobStore } from '../../src/jobs/job-store.js';
import { checkGenerationOptions, InvalidOptions } from '../../src/pika/request.js';

const T0 = Date.UTC(2026, 11, 1, 12);
const DEFAULTS = { model: '1.5', aspectRatio: '16:9', frameRate: 24, guidanceScale: 12, motion: 1, ingredientsMode: 'precise' } as const;
const MAX_IMAGE = 10 * 1024 * 1024;
const hex = (ms: number) => Math.floor(ms / 1000).toString(16);
const imageUrl = (expiresAt: number) => `https://cdn.discordapp.com/attachments/1/2/cat.png?ex=${hex(expiresAt)}&is=${hex(expiresAt - 86_400_000)}&hm=abc&`;

function jobOf(request: Job['request'], id = '0f8fad5b-d9cb-469f-a165-70867728950e', userId = '5', now = T0): Job {
  return newJob({
    id,
    request,
    locale: 'en-US',
    guildLocale: null,
    reply: { applicationId: '1', interactionId: '2', interactionToken: 't', channelId: '3', guildId: '4', requesterId: userId, attachmentSizeLimit: 10 },
    reservation: { id, guildId: '4', userId },
    now,
    timeoutMs: 60_000,
  });
}

const textRequest = checkGenerationOptions(
  'text',
  { prompt: 'a fox', negative_prompt: 'blur', model: '2.0', aspect_ratio: '9:16', frame_rate: 12, guidance_scale: 9, motion: 3, pikaffect: 'Melt', camera: 'zoom_in', images: [] },
  DEFAULTS,
  MAX_IMAGE,
);
const imageRequest = (expiresAt: number) =>
  checkGenerationOptions('image', { prompt: 'the cat', images: [{ optionName: 'image', url: imageUrl(expiresAt), filename: 'cat.png', contentType: 'image/png', size: 100 }] }, DEFAULTS, MAX_IMAGE);

describe('custom ids', () => {
  test('round-trip every kind, within Discord’s 100 characters', () => {
    const ids: ComponentId[] = [
      { action: 'reroll', jobId: '0f8fad5b-d9cb-469f-a165-70867728950e' },
      { action: 'remix', jobId: '0f8fad5b-d9cb-469f-a165-70867728950e' },
      { action: 'delete', jobId: '0f8fad5b-d9cb-469f-a165-70867728950e' },
      { action: 'details', jobId: '0f8fad5b-d9cb-469f-a165-70867728950e' },
      { action: 'history', userId: '12345678901234567890', page: 9999 },
    ];
    for (const id of ids) {
      const encoded = encodeComponentId(id);
      assert.ok(encoded.length <= 100);
      assert.deepEqual(decodeComponentId(encoded), id);
    }
  });

  test('anything else decodes to nothing', () => {
    for (const customId of ['', 'pika', 'pika:reroll', 'pika:reroll:not-a-uuid', 'pika:explode:0f8fad5b-d9cb-469f-a165-70867728950e', 'other:reroll:0f8fad5b-d9cb-469f-a165-70867728950e', 'pika:history:abc:1', 'pika:history:1:-1', 'pika:reroll:0f8fad5b-d9cb-469f-a165-70867728950e:x']) {
      assert.equal(decodeComponentId(customId), undefined, customId);
    }
  });
});

describe('re-runs', () => {
  test('a re-roll is the same request; a remix changes only what it says', () => {
    const job = jobOf(textRequest);
    assert.deepEqual(rerunRequest(job, undefined, DEFAULTS, MAX_IMAGE, T0), textRequest);
    const remixed = rerunRequest(job, { prompt: 'a wolf', negativePrompt: '', pikaffect: '', camera: null, motion: 0 }, DEFAULTS, MAX_IMAGE, T0);
    assert.deepEqual(remixed, { ...textRequest, prompt: 'a wolf', negativePrompt: '', pikaffect: '', camera: undefined, motion: 0 });
  });

  test('a remix is checked as a command is', () => {
    const job = jobOf(textRequest);
    assert.throws(() => rerunRequest(job, { prompt: ' ', negativePrompt: '', pikaffect: '', camera: null, motion: 1 }, DEFAULTS, MAX_IMAGE, T0), InvalidOptions);
    assert.throws(() => rerunRequest(job, { prompt: 'x', negativePrompt: '', pikaffect: '', camera: 'sideways', motion: 1 }, DEFAULTS, MAX_IMAGE, T0), InvalidOptions);
  });

  test('images whose links have expired (or were never kept) are refused as gone', () => {
    const fresh = jobOf(imageRequest(T0 + 3_600_000));
    assert.equal(rerunRequest(fresh, undefined, DEFAULTS, MAX_IMAGE, T0).images[0]!.url, fresh.request.images[0]!.url);
    const refusedAt = (job: Job, now: number) =>
      assert.throws(() => rerunRequest(job, undefined, DEFAULTS, MAX_IMAGE, now), (error: unknown) => error instanceof JobActionRefused && error.problem.code === 'images_gone');
    refusedAt(fresh, T0 + 3_600_000);
    refusedAt(jobOf({ ...fresh.request, images: [] }), T0);
    assert.equal(linkExpired('https://example.com/a.png', T0), false, 'links without an expiry are assumed to last');
    assert.equal(linkExpired('not a url', T0), true);
  });

  test('Try again is offered unless the failure was the user’s own input', () => {
    const running = markRunning(jobOf(textRequest), 'p', T0);
    assert.equal(canTryAgain(markFailed(running, { code: 'upstream_error', billed: false }, T0)), true);
    assert.equal(canTryAgain(markFailed(running, { code: 'timed_out', billed: true }, T0)), true);
    assert.equal(canTryAgain(markFailed(running, { code: 'refused', billed: false }, T0)), false);
    assert.equal(canTryAgain(markFailed(running, { code: 'image_unreadable', billed: false }, T0)), false);
  });

  test('the requester and moderators may delete; a deletion is recorded on delivered jobs only', () => {
    const job = jobOf(textRequest, undefined, '5');
    assert.equal(mayDelete(job, '5', false), true);
    assert.equal(mayDelete(job, '6', false), false);
    assert.equal(mayDelete(job, '6', true), true);
    assert.throws(() => markDeleted(job, '5', T0));
  });
});

describe('a user’s history in the store', () => {
  test('pages newest first, per server, and drops jobs removed by retention', async () => {
    const store = new JobStore(new Keyv(), new Keyv());
    const ids = Array.from({ length: 7 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`);
    for (const [i, id] of ids.entries()) await store.save(jobOf({ ...textRequest, prompt: `clip ${i}` }, id, '5', T0 + i), { first: true });
    await store.save(jobOf(textRequest, '00000000-0000-4000-8000-000000000099', '6'), { first: true });
    const first = await store.history('4', '5', 0, 5);
    assert.deepEqual(first.jobs.map((job) => job.request.prompt), ['clip 6', 'clip 5', 'clip 4', 'clip 3', 'clip 2']);
    assert.deepEqual([first.total, first.page, first.pageCount], [7, 0, 2]);
    assert.deepEqual((await store.history('4', '5', 9, 5)).page, 1, 'a page past the end shows the last one');
    assert.equal((await store.history('other-server', '5', 0, 5)).total, 0);

    const ended = markDelivered(markDelivering(markRunning(jobOf(textRequest, ids[0]!, '5', T0), 'p', T0), { resultUrl: 'x', sharingUrl: undefined, seed: 1, durationSeconds: 5, finishedAt: T0 }, T0), { messageId: 'm', channelId: '3', messageUrl: 'u', seed: 1, sizeBytes: 1, how: 'attached', where: 'reply' }, T0);
    await store.save(ended);
    assert.equal((await store.history('4', '5', 0, 5)).total, 7, 'saving a job again does not list it twice');
    await store.removeEndedBefore(T0 + 40 * 86_400_000, 30);
    const after = await store.history('4', '5', 1, 5);
    assert.equal(after.total, 6);
    assert.deepEqual(after.jobs.map((job) => job.request.prompt), ['clip 1']);
  });

  test('history and details stay within Discord’s limits at their worst', () => {
    const worst = { ...textRequest, prompt: '*'.repeat(2000), negativePrompt: '_'.repeat(1000), pikaffect: '<'.repeat(50) };
    const jobs = Array.from({ length: 5 }, (_, i) => jobOf(worst, `00000000-0000-4000-8000-00000000000${i}`));
    for (const locale of ['en-US', 'zh-CN'] as const) {
      const history = renderHistory({ jobs, total: 1000, page: 3, pageCount: 200 }, '5', false, locale);
      const details = renderDetails(markFailed(jobs[0]!, { code: 'refused', billed: false, detail: 'x'.repeat(900) }, T0), locale);
      for (const body of [history, details]) {
        const embed = body.embeds[0]!;
        const total = (embed.title?.length ?? 0) + (embed.description?.length ?? 0) + (embed.footer?.text.length ?? 0) + (embed.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0);
        assert.ok(total <= 6000, `${total} characters`);
        assert.ok((embed.description?.length ?? 0) <= 4096);
        for (const field of embed.fields ?? []) assert.ok(field.name.length <= 256 && field.value.length <= 1024 && field.value.length > 0);
      }
    }
  });
});

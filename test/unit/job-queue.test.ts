import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JobQueue } from '../../src/jobs/job-queue.js';
import { newJob, type Job } from '../../src/jobs/job.js';
import { createLogger } from '../../src/logger.js';
import type { ReplyTarget } from '../../src/discord/replies.js';

const quiet = createLogger({ level: 'error', secrets: [], write: () => {} });
const request = { kind: 'text', prompt: 'p', negativePrompt: '', model: '1.5', aspectRatio: '16:9', frameRate: 24, guidanceScale: 12, motion: 1, pikaffect: '', camera: undefined, ingredientsMode: undefined, images: [] } as Job['request'];

function queuedJob(id: string, userId: string, reply: Partial<ReplyTarget> = {}): Job {
  return newJob({
    id,
    request,
    locale: 'en-US',
    guildLocale: null,
    reply: { applicationId: '1', interactionId: '2', interactionToken: 't', channelId: '3', guildId: '4', requesterId: userId, attachmentSizeLimit: 10, ...reply },
    reservation: { id, guildId: '4', userId },
    now: Date.now(),
    timeoutMs: 60_000,
    queued: true,
  });
}

function queueOf(jobs: Job[], options: { upstream: number | null; tokenLeftMs: number; room?: (job: Job) => boolean }) {
  const live = new Map(jobs.map((job) => [job.id, job]));
  const launched: string[] = [];
  const expired: string[] = [];
  const shown: Array<[id: string, messageId: string]> = [];
  const queue: JobQueue = new JobQueue({
    upstreamConcurrency: options.upstream,
    progressEditIntervalMs: 0,
    replies: { edit: async (reply) => ({ id: `m-${reply.requesterId}`, channel_id: '3' }), tokenUsable: () => true, tokenRemainingMs: () => options.tokenLeftMs },
    current: (id) => live.get(id),
    active: () => launched.length + queue.launches,
    claim: async (job) => options.room?.(job) ?? true,
    launch: (id) => {
      launched.push(id);
      live.delete(id);
      queue.launched(id);
    },
    expire: (id) => {
      expired.push(id);
      live.delete(id);
      void queue.remove(id);
    },
    replyShown: (id, messageId) => {
      shown.push([id, messageId]);
      live.set(id, { ...live.get(id)!, reply: { ...live.get(id)!.reply, messageId } });
    },
    logger: quiet,
    now: Date.now,
    tickMs: 20,
  });
  return { queue, launched, expired, shown };
}

describe('the job queue', () => {
  test('starts jobs while the provider has slots, in fair order, skipping users without room', async () => {
    const jobs = [queuedJob('a1', 'a'), queuedJob('a2', 'a'), queuedJob('b1', 'b'), queuedJob('c1', 'c')];
    const { queue, launched } = queueOf(jobs, { upstream: 2, tokenLeftMs: 600_000, room: (job) => job.reservation.userId !== 'b' });
    for (const job of jobs) queue.add(job);
    await queue.pump();
    assert.deepEqual(launched, ['a1', 'c1'], 'b has no room; two slots');
    queue.stop();
  });

  test('a job that can answer only through its interaction leaves the queue before its token expires; others wait on', async () => {
    const onlyInteraction = queuedJob('x1', 'x', { channelFallback: false });
    const channelToo = queuedJob('y1', 'y');
    const { queue, expired } = queueOf([onlyInteraction, channelToo], { upstream: 1, tokenLeftMs: 60_000, room: () => false });
    queue.add(onlyInteraction);
    queue.add(channelToo);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(expired, ['x1']);
    assert.equal(queue.has('y1'), true, 'one that can still be posted in the channel keeps its place');
    queue.stop();
  });

  test('its turn coming too late (after a restart, say) does not start it: it is ended instead', async () => {
    const late = queuedJob('z1', 'z', { channelFallback: false });
    const { queue, launched, expired } = queueOf([late], { upstream: null, tokenLeftMs: 1000 });
    queue.add(late);
    await queue.pump();
    assert.deepEqual([launched, expired], [[], ['z1']]);
    queue.stop();
  });

  test('a waiting reply, once shown, has its message kept with its job (unless known already), for the channel to answer to later', async () => {
    const jobs = [queuedJob('a1', 'a'), queuedJob('b1', 'b', { messageId: 'known' })];
    const { queue, shown } = queueOf(jobs, { upstream: 0, tokenLeftMs: 600_000 });
    for (const job of jobs) queue.add(job);
    await queue.pump();
    for (let i = 0; i < 20 && shown.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    await queue.pump();
    await new Promise((resolve) => setTimeout(resolve, 30));
    queue.stop();
    assert.deepEqual(shown, [['a1', 'm-a']], 'b1 already knew its message; a1 learned it');
  });

  test('once stopped, nothing more is started', async () => {
    const job = queuedJob('s1', 's');
    const { queue, launched } = queueOf([job], { upstream: null, tokenLeftMs: 600_000 });
    queue.stop();
    queue.add(job);
    await queue.pump();
    assert.deepEqual(launched, []);
  });
});

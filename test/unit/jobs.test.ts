import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Keyv from 'keyv';
import { failureBeforeStart } from '../../src/jobs/failures.js';
import { InvalidTransitionError, isEnded, markDelivered, markDelivering, markFailed, markReplyGone, markRunning, newJob, settlementFor, type Job } from '../../src/jobs/job.js';
import { JobStore } from '../../src/jobs/job-store.js';
import { migrateLegacyTasks } from '../../src/jobs/legacy-tasks.js';
import { Reconciler } from '../../src/jobs/reconciler.js';
import { createLogger } from '../../src/logger.js';
import { PikaError } from '../../src/pika/errors.js';
import { ImageUnreadableError } from '../../src/pika/images.js';
import type { Reservation, Settlement } from '../../src/usage/limits.js';
import { StoreTimeoutError } from '../../src/storage.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 11, 1, 12);
const quiet = createLogger({ level: 'error', secrets: [], write: () => {} });

function aJob(id = 'job-1', now = T0): Job {
  return newJob({
    id,
    request: { kind: 'text', prompt: 'a fox', negativePrompt: '', model: '1.5', aspectRatio: '16:9', frameRate: 24, guidanceScale: 12, motion: 1, pikaffect: '', camera: null, ingredientsMode: null, images: [] } as unknown as Job['request'],
    locale: 'zh-CN',
    guildLocale: 'en-US',
    reply: { applicationId: '1', interactionId: '2', interactionToken: 'secret-token', channelId: '3', guildId: '4', requesterId: '5', attachmentSizeLimit: 10 },
    reservation: { id, guildId: '4', userId: '5' },
    now,
    timeoutMs: 60_000,
  });
}

const result = { resultUrl: 'https://cdn/x.mp4', sharingUrl: undefined, seed: 7, durationSeconds: 5, finishedAt: T0 + 2 };
const outcome = { messageId: 'm', channelId: '3', messageUrl: 'https://discord.com/channels/4/3/m', seed: 7, sizeBytes: 10, how: 'attached', where: 'reply' } as const;

describe('the job state machine', () => {
  test('starting → running → delivering → delivered, each step stamped, the token dropped at the end', () => {
    const started = aJob();
    assert.equal(started.state, 'starting');
    assert.equal(started.deadlineAt, T0 + 60_000);
    const running = markRunning(started, 'pika-1', T0 + 1);
    assert.deepEqual([running.state, running.pikaTaskId, running.updatedAt], ['running', 'pika-1', T0 + 1]);
    const delivering = markDelivering(running, result, T0 + 2);
    assert.deepEqual([delivering.state, delivering.deliveringSince, delivering.result], ['delivering', T0 + 2, result]);
    assert.equal(delivering.reply.interactionToken, 'secret-token', 'still needed to deliver');
    const delivered = markDelivered(delivering, outcome, T0 + 3);
    assert.deepEqual([delivered.state, delivered.endedAt, delivered.outcome], ['delivered', T0 + 3, outcome]);
    assert.equal('interactionToken' in delivered.reply, false);
    assert.ok(isEnded(delivered) && !isEnded(delivering));
    assert.equal(settlementFor(delivered), 'delivered');
  });

  test('any job in progress can fail; the token goes and the failure decides the settlement', () => {
    const starting = aJob();
    for (const job of [starting, markRunning(starting, 'p', T0), markDelivering(markRunning(starting, 'p', T0), result, T0)]) {
      const failed = markFailed(job, { code: 'timed_out', billed: true, waitedMs: 1 }, T0 + 9);
      assert.equal(failed.state, 'failed');
      assert.equal(failed.endedAt, T0 + 9);
      assert.equal(failed.reply.interactionToken, undefined);
      assert.equal(settlementFor(failed), 'billed');
    }
    assert.equal(settlementFor(markFailed(starting, { code: 'refused', billed: false }, T0)), 'refunded');
  });

  test('illegal moves throw instead of corrupting the record', () => {
    const starting = aJob();
    const delivered = markDelivered(markDelivering(markRunning(starting, 'p', T0), result, T0), outcome, T0);
    assert.throws(() => markDelivering(starting, result, T0), InvalidTransitionError);
    assert.throws(() => markDelivered(markRunning(starting, 'p', T0), outcome, T0), InvalidTransitionError);
    assert.throws(() => markRunning(markRunning(starting, 'p', T0), 'q', T0), InvalidTransitionError);
    assert.throws(() => markFailed(delivered, { code: 'internal', billed: false }, T0), InvalidTransitionError);
    assert.throws(() => settlementFor(starting), InvalidTransitionError);
  });

  test('a reply marked gone stays gone through later transitions', () => {
    const gone = markReplyGone(markRunning(aJob(), 'p', T0), T0 + 1);
    assert.equal(markDelivering(gone, result, T0 + 2).reply.gone, true);
  });
});

describe('failures before the provider accepted the request', () => {
  const cases: Array<[string, unknown, Record<string, unknown>]> = [
    ['a refused request', new PikaError('rejected', 'x', { status: 400, upstreamMessage: 'too spicy' }), { code: 'refused', billed: false, detail: 'too spicy' }],
    ['a bad key', new PikaError('unauthorized', 'x', { status: 401 }), { code: 'misconfigured', billed: false }],
    ['no balance', new PikaError('out_of_balance', 'x', { status: 402 }), { code: 'out_of_balance', billed: false }],
    ['rate limited', new PikaError('rate_limited', 'x', { status: 429 }), { code: 'rate_limited', billed: false }],
    ['a definite 500', new PikaError('server', 'x', { status: 500 }), { code: 'upstream_error', billed: false }],
    ['a gateway 504', new PikaError('server', 'x', { status: 504, outcomeUnknown: true }), { code: 'outcome_unknown', billed: true, cause: 'gateway' }],
    ['a timeout', new PikaError('timeout', 'x', { outcomeUnknown: true }), { code: 'outcome_unknown', billed: true, cause: 'timeout' }],
    ['a dropped connection', new PikaError('network', 'x', { outcomeUnknown: true }), { code: 'outcome_unknown', billed: true, cause: 'connection' }],
    ['an unreadable answer', new PikaError('bad_response', 'x', { status: 200 }), { code: 'outcome_unknown', billed: true, cause: 'unreadable' }],
    ['an image that is not one', new ImageUnreadableError('image2', 'wrong_content'), { code: 'image_unreadable', billed: false, option: 'image2', problem: 'wrong_content' }],
    ['a stalled store', new StoreTimeoutError(), { code: 'store_unavailable', billed: false }],
    ['a bug', new TypeError('x is undefined'), { code: 'internal', billed: false }],
  ];
  for (const [name, error, expected] of cases) {
    test(`${name} → ${String(expected.code)}${expected.billed ? ' (billed)' : ''}`, () => assert.deepEqual(failureBeforeStart(error), expected));
  }
});

describe('the job store keeps history for the retention period', () => {
  test('ended jobs are indexed by day and removed once older than the retention, day by day', async () => {
    const records = new Keyv();
    const store = new JobStore(records, new Keyv());
    const end = (id: string, at: number) => markFailed(aJob(id, at), { code: 'internal', billed: false }, at);
    await store.save(end('old', T0 - 40 * DAY));
    await store.save(end('older', T0 - 45 * DAY));
    await store.save(end('recent', T0 - 5 * DAY));
    await store.save(aJob('running'));
    assert.equal(await store.removeEndedBefore(T0, 30), 2);
    assert.equal(await store.get('old'), undefined);
    assert.equal(await store.get('older'), undefined);
    assert.equal((await store.get('recent'))?.state, 'failed');
    assert.equal((await store.get('running'))?.state, 'starting', 'jobs in progress are never removed');
    assert.equal(await store.removeEndedBefore(T0, 30), 0, 'nothing left to remove');
    assert.equal(await store.removeEndedBefore(T0 + 30 * DAY, 30), 1);
  });

  test('jobs ending together in one hour are entered in its index by a few rewrites, and none is lost', async () => {
    const index = new Keyv();
    const store = new JobStore(new Keyv(), index);
    let rewrites = 0;
    const set = index.set.bind(index);
    index.set = (async (key: string, value: unknown) => {
      if (key.startsWith('ended:')) rewrites++;
      return set(key, value);
    }) as typeof index.set;
    const at = T0 - 40 * DAY;
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.save(markFailed(aJob(`job-${i}`, at), { code: 'internal', billed: false }, at))));
    assert.ok(rewrites <= 3, `${rewrites} rewrites of the hour's index`);
    await store.save(markFailed(aJob('job-0', at), { code: 'internal', billed: false }, at));
    assert.equal(await store.removeEndedBefore(T0, 30), 200, 'each job once, none lost');
  });
});

/** Usage that records settlements; `failSettles` makes the next settlements throw. */
function fakeUsage(open: Reservation[]) {
  const settled: Array<[string, Settlement]> = [];
  let failSettles = 0;
  return {
    settled,
    failNext(times: number) {
      failSettles = times;
    },
    async openReservations() {
      return open.filter((r) => !settled.some(([id]) => id === r.id));
    },
    async settle(reservation: Pick<Reservation, 'id'>, outcome: Settlement) {
      if (failSettles > 0) {
        failSettles--;
        throw new StoreTimeoutError();
      }
      settled.push([reservation.id, outcome]);
      return true;
    },
  };
}

const reservation = (id: string, startedAt = T0): Reservation => ({ id, guildId: '4', userId: '5', day: '2026-12-01', week: '2026-W49', startedAt, previousLastStartAt: null });

describe('reconciliation of usage with jobs', () => {
  test('each open reservation is matched with its job: refunded, settled, ended as interrupted or resumed, in that order', async () => {
    const store = new JobStore(new Keyv(), new Keyv());
    const running = markRunning(aJob('running'), 'p', T0);
    const delivering = markDelivering(markRunning(aJob('delivering'), 'p', T0), result, T0);
    await store.save(running);
    await store.save(delivering);
    await store.save(aJob('starting'));
    await store.save(markDelivered(markDelivering(markRunning(aJob('delivered'), 'p', T0), result, T0), outcome, T0));
    await store.save(markFailed(aJob('billed'), { code: 'outcome_unknown', billed: true }, T0));
    const usage = fakeUsage(['never-stored', 'running', 'delivering', 'starting', 'delivered', 'billed', 'live', 'young'].map((id) => reservation(id, id === 'young' ? T0 + 59_000 : T0)));
    const calls: string[] = [];
    const jobs = {
      isLive: (id: string) => id === 'live',
      carryOn: async (job: Job) => {
        const how = job.state === 'starting' ? 'interrupted' : 'resumed';
        calls.push(`${how} ${job.id} (${usage.settled.length} settled by then)`);
        return how;
      },
    };
    const reconciler = new Reconciler({ usage, store, jobs, logger: quiet, now: () => T0 + 60_000 });
    const summary = await reconciler.run(30_000);
    assert.deepEqual(summary, { resumed: 2, interrupted: 1, submitted: 0, settled: 2, refunded: 1 });
    assert.deepEqual(usage.settled, [
      ['never-stored', 'refunded'],
      ['delivered', 'delivered'],
      ['billed', 'billed'],
    ]);
    assert.deepEqual(calls, ['interrupted starting (3 settled by then)', 'resumed running (3 settled by then)', 'resumed delivering (3 settled by then)']);
  });

  test('while the bot runs, a settlement that failed is made by the next periodic pass', async () => {
    const store = new JobStore(new Keyv(), new Keyv());
    await store.save(markDelivered(markDelivering(markRunning(aJob('done'), 'p', T0), result, T0), outcome, T0));
    const usage = fakeUsage([reservation('done')]);
    const reconciler = new Reconciler({ usage, store, jobs: { isLive: () => false, carryOn: async () => 'resumed' as const }, logger: quiet, now: () => T0 + 120_000 });
    reconciler.startPeriodic(20, 60_000);
    usage.failNext(1);
    try {
      for (let i = 0; i < 100 && usage.settled.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      await reconciler.stop();
    }
    assert.deepEqual(usage.settled, [['done', 'delivered']]);
  });
});

describe('task records of an earlier version', () => {
  const defaults = { model: '1.5', aspectRatio: '16:9', frameRate: 24, guidanceScale: 12, motion: 1, ingredientsMode: 'precise' } as const;

  test('become job records under their reservation id, once, with the operator defaults for options they lacked', async () => {
    const legacy = new Keyv();
    const store = new JobStore(new Keyv(), new Keyv());
    const reply = { applicationId: '1', interactionId: '2', interactionToken: 't', channelId: '3', guildId: '4', requesterId: '5', attachmentSizeLimit: 10 };
    await legacy.set('task-a', {
      id: 'task-a',
      state: 'running',
      pikaTaskId: 'pika-a',
      request: { kind: 'text', prompt: 'old', negativePrompt: '', model: '1.5', aspectRatio: '16:9', pikaffect: '', camera: undefined, ingredientsMode: undefined, imageCount: 0 },
      reply,
      reservation: { id: 'reservation-a', guildId: '4', userId: '5' },
      createdAt: T0,
      deadlineAt: T0 + 60_000,
    });
    assert.equal(await migrateLegacyTasks(legacy, store, defaults, quiet), 1);
    const job = await store.get('reservation-a');
    assert.deepEqual(
      { state: job?.state, pikaTaskId: job?.pikaTaskId, legacy: job?.legacy, frameRate: job?.request.frameRate, images: job?.request.images, reply: job?.reply, deadlineAt: job?.deadlineAt },
      { state: 'running', pikaTaskId: 'pika-a', legacy: true, frameRate: 24, images: [], reply, deadlineAt: T0 + 60_000 },
    );
    assert.equal(await legacy.get('task-a'), undefined);
    assert.equal(await migrateLegacyTasks(legacy, store, defaults, quiet), 0, 'done once');
  });

  test('what is not a task record is left alone: another process’s mark that the migration is done, say', async () => {
    const legacy = new Keyv();
    const store = new JobStore(new Keyv(), new Keyv());
    // Processes starting together on one Redis: one lists while another sets its mark, which
    // its listing may not give under the bare key.
    await legacy.set('pika:tasks:migrated-to-jobs', true);
    await legacy.set('note', { text: 'not a task' });
    assert.equal(await migrateLegacyTasks(legacy, store, defaults, quiet), 0);
    assert.equal(await legacy.get('note').then((note) => (note as { text: string }).text), 'not a task');
  });
});

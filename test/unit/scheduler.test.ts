import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PollScheduler, type PollJob } from '../../src/jobs/scheduler.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every already-settled promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A job whose polls are answered by the test, one deferred per poll. */
class ManualJob implements PollJob {
  readonly polls: Array<Deferred<number | 'done'>> = [];
  constructor(
    readonly name: string,
    private readonly tracker: { running: number; max: number; order: string[] },
  ) {}

  poll(): Promise<number | 'done'> {
    this.tracker.running++;
    this.tracker.max = Math.max(this.tracker.max, this.tracker.running);
    this.tracker.order.push(this.name);
    const d = deferred<number | 'done'>();
    this.polls.push(d);
    return d.promise.finally(() => {
      this.tracker.running--;
    });
  }

  /** Answers this job's latest poll. */
  answer(next: number | 'done' | Error): void {
    const d = this.polls.at(-1);
    assert.ok(d, `${this.name} has no poll to answer`);
    if (next instanceof Error) d.reject(next);
    else d.resolve(next);
  }
}

function tracker() {
  return { running: 0, max: 0, order: [] as string[] };
}

function noErrors(errors: unknown[] = []) {
  return (error: unknown) => {
    errors.push(error);
  };
}

describe('PollScheduler', () => {
  test('never runs more than `concurrency` polls at once', async () => {
    const t = tracker();
    const scheduler = new PollScheduler({ concurrency: 2, onError: noErrors() });
    const jobs = Array.from({ length: 6 }, (_, i) => new ManualJob(`j${i}`, t));
    for (const job of jobs) scheduler.add(job, 0);
    await settle();
    assert.equal(t.running, 2, 'two start at once');
    assert.deepStrictEqual(t.order, ['j0', 'j1']);
    assert.equal(scheduler.size, 6);

    // Finish them one by one; each completion lets exactly one more start.
    for (let finished = 0; finished < 6; finished++) {
      const job = jobs.find((j) => j.name === t.order[finished])!;
      job.answer('done');
      await settle();
      assert.equal(t.running, Math.min(2, 6 - finished - 1), `after ${finished + 1} finished`);
    }
    assert.equal(t.max, 2);
    assert.equal(t.running, 0);
    assert.deepStrictEqual(t.order, ['j0', 'j1', 'j2', 'j3', 'j4', 'j5']);
    assert.equal(scheduler.size, 0);
  });

  test('a concurrency of 1 runs polls strictly one after another', async () => {
    const t = tracker();
    const scheduler = new PollScheduler({ concurrency: 1, onError: noErrors() });
    const jobs = Array.from({ length: 3 }, (_, i) => new ManualJob(`j${i}`, t));
    for (const job of jobs) scheduler.add(job);
    for (const job of jobs) {
      await settle();
      assert.equal(t.running, 1);
      assert.equal(t.order.at(-1), job.name);
      job.answer('done');
    }
    await settle();
    assert.equal(t.max, 1);
    assert.equal(scheduler.size, 0);
  });

  test('due order is respected: the earliest due poll runs first, ties in insertion order', async () => {
    let clock = 1_000_000;
    const t = tracker();
    const scheduler = new PollScheduler({ concurrency: 1, now: () => clock, onError: noErrors() });
    const blocker = new ManualJob('blocker', t);
    scheduler.add(blocker, 0);
    const later = new ManualJob('later', t);
    const soon = new ManualJob('soon', t);
    const middle = new ManualJob('middle', t);
    const tie = new ManualJob('tie', t);
    scheduler.add(later, 300);
    scheduler.add(soon, 100);
    scheduler.add(middle, 200);
    scheduler.add(tie, 100);
    await settle();
    assert.deepStrictEqual(t.order, ['blocker']);

    clock += 1000; // every job is now due
    blocker.answer('done');
    for (const job of [soon, tie, middle, later]) {
      await settle();
      assert.equal(t.order.at(-1), job.name);
      job.answer('done');
    }
    await settle();
    assert.deepStrictEqual(t.order, ['blocker', 'soon', 'tie', 'middle', 'later']);
  });

  test('jobs not yet due wait for their time (real timers)', async () => {
    const t = tracker();
    const scheduler = new PollScheduler({ concurrency: 4, onError: noErrors() });
    const a = new ManualJob('a', t);
    const b = new ManualJob('b', t);
    scheduler.add(a, 60);
    scheduler.add(b, 15);
    await settle();
    assert.deepStrictEqual(t.order, [], 'nothing is due yet');
    assert.equal(scheduler.size, 2);
    while (t.order.length < 1) await sleep(5);
    assert.deepStrictEqual(t.order, ['b']);
    b.answer('done');
    while (t.order.length < 2) await sleep(5);
    assert.deepStrictEqual(t.order, ['b', 'a']);
    a.answer('done');
    await settle();
    assert.equal(scheduler.size, 0);
  });

  test('a later add with an earlier due time is not held up by the timer armed for a later job', async () => {
    const t = tracker();
    const scheduler = new PollScheduler({ concurrency: 4, onError: noErrors() });
    const slow = new ManualJob('slow', t);
    const fast = new ManualJob('fast', t);
    scheduler.add(slow, 10_000);
    scheduler.add(fast, 10);
    const started = Date.now();
    while (t.order.length < 1) await sleep(5);
    assert.deepStrictEqual(t.order, ['fast']);
    assert.ok(Date.now() - started < 5000, 'fast ran long before the slow job was due');
    fast.answer('done');
    scheduler.stop();
  });

  test('a job is polled again after the delay it returns, until it says done', async () => {
    const t = tracker();
    const scheduler = new PollScheduler({ concurrency: 2, onError: noErrors() });
    const job = new ManualJob('j', t);
    scheduler.add(job);
    for (let i = 1; i <= 3; i++) {
      while (job.polls.length < i) await sleep(1);
      assert.equal(scheduler.size, 1);
      job.answer(i < 3 ? 0 : 'done');
    }
    await settle();
    await sleep(20);
    assert.equal(job.polls.length, 3, 'not polled after done');
    assert.equal(scheduler.size, 0);
  });

  test('`done` removes the job while others keep going', async () => {
    const t = tracker();
    const scheduler = new PollScheduler({ concurrency: 2, onError: noErrors() });
    const finished = new ManualJob('finished', t);
    const ongoing = new ManualJob('ongoing', t);
    scheduler.add(finished);
    scheduler.add(ongoing);
    await settle();
    finished.answer('done');
    ongoing.answer(0);
    while (ongoing.polls.length < 2) await sleep(1);
    assert.equal(finished.polls.length, 1);
    assert.equal(scheduler.size, 1);
    ongoing.answer('done');
    await settle();
    assert.equal(scheduler.size, 0);
  });

  test('a failing poll goes to onError and the job is dropped; the others continue', async () => {
    const t = tracker();
    const errors: unknown[] = [];
    const scheduler = new PollScheduler({ concurrency: 1, onError: noErrors(errors) });
    const failing = new ManualJob('failing', t);
    const healthy = new ManualJob('healthy', t);
    scheduler.add(failing);
    scheduler.add(healthy);
    await settle();
    const boom = new Error('boom');
    failing.answer(boom);
    await settle();
    assert.deepStrictEqual(errors, [boom]);
    assert.deepStrictEqual(t.order, ['failing', 'healthy'], 'the freed slot goes to the next job');
    healthy.answer(0);
    while (healthy.polls.length < 2) await sleep(1);
    assert.equal(failing.polls.length, 1, 'the failed job is not polled again');
    healthy.answer('done');
    await settle();
    assert.equal(scheduler.size, 0);
  });

  test('stop() prevents further polls, including reschedules of polls in flight', async () => {
    const t = tracker();
    const scheduler = new PollScheduler({ concurrency: 1, onError: noErrors() });
    const running = new ManualJob('running', t);
    const waiting = new ManualJob('waiting', t);
    const timed = new ManualJob('timed', t);
    scheduler.add(running);
    scheduler.add(waiting);
    scheduler.add(timed, 10);
    await settle();
    assert.deepStrictEqual(t.order, ['running']);
    scheduler.stop();
    running.answer(0); // asks to be polled again right away
    await settle();
    await sleep(40); // past the timed job's due time
    assert.deepStrictEqual(t.order, ['running']);
    assert.equal(scheduler.size, 0);
  });

  test('add() after stop() is ignored', async () => {
    const t = tracker();
    const scheduler = new PollScheduler({ concurrency: 1, onError: noErrors() });
    scheduler.stop();
    scheduler.add(new ManualJob('late', t));
    await sleep(10);
    assert.deepStrictEqual(t.order, []);
    assert.equal(scheduler.size, 0);
  });

  test('many jobs with random delays: concurrency never exceeded and every job finishes', async () => {
    const t = tracker();
    const errors: unknown[] = [];
    const scheduler = new PollScheduler({ concurrency: 3, onError: noErrors(errors) });
    let completed = 0;
    const jobs: PollJob[] = Array.from({ length: 20 }, (_, i) => {
      let polls = 0;
      return {
        poll: async () => {
          t.running++;
          t.max = Math.max(t.max, t.running);
          await sleep(1 + (i % 3));
          t.running--;
          polls++;
          if (polls === 3) {
            completed++;
            return 'done';
          }
          return i % 4;
        },
      };
    });
    jobs.forEach((job, i) => scheduler.add(job, i % 5));
    const deadline = Date.now() + 5000;
    while (completed < 20 && Date.now() < deadline) await sleep(5);
    assert.equal(completed, 20);
    assert.equal(t.max, 3);
    assert.deepStrictEqual(errors, []);
    assert.equal(scheduler.size, 0);
  });

  test(
    'a poll that throws synchronously goes to onError and frees its slot',
    {},
    async () => {
      const t = tracker();
      const errors: unknown[] = [];
      const scheduler = new PollScheduler({ concurrency: 1, onError: noErrors(errors) });
      const boom = new Error('sync boom');
      const throwing: PollJob = {
        poll: () => {
          throw boom;
        },
      };
      assert.doesNotThrow(() => scheduler.add(throwing));
      const next = new ManualJob('next', t);
      scheduler.add(next);
      await settle();
      assert.deepStrictEqual(errors, [boom]);
      assert.deepStrictEqual(t.order, ['next']);
      scheduler.stop();
    },
  );
});

import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MessageBody } from '../../src/discord/messages.js';
import { ProgressEditor } from '../../src/jobs/progress-editor.js';

/** Lets every already-settled promise callback run (setImmediate is never mocked here). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function bodyFor(key: string): MessageBody {
  return { content: key, embeds: [], components: [], allowed_mentions: { parse: [] } };
}

interface Harness {
  editor: ProgressEditor;
  /** Keys in the order their send started. */
  sent: string[];
  /** Keys whose render() was called. */
  rendered: string[];
  errors: unknown[];
  /** Sends currently started and not yet settled. */
  inFlight: () => number;
  maxInFlight: () => number;
  /** Settles the oldest unsettled send. */
  finish: (error?: Error) => Promise<void>;
  show: (key: string) => void;
}

/**
 * An editor whose sends stay open until the test finishes them (manual) or settle at once
 * (auto), with a fake clock for `now` (and mocked setTimeout when the test asks for it).
 */
function harness(options: { intervalMs: number; now?: () => number; manual?: boolean; failWith?: (key: string) => Error | undefined }): Harness {
  const sent: string[] = [];
  const rendered: string[] = [];
  const errors: unknown[] = [];
  const open: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  let current = 0;
  let max = 0;
  const editor = new ProgressEditor({
    intervalMs: options.intervalMs,
    ...(options.now ? { now: options.now } : {}),
    onError: (error) => errors.push(error),
    send: (body) => {
      sent.push(body.content);
      current++;
      max = Math.max(max, current);
      const failure = options.failWith?.(body.content);
      const done = () => {
        current--;
      };
      if (!options.manual) {
        done();
        return failure ? Promise.reject(failure) : Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        open.push({
          resolve: () => {
            done();
            resolve();
          },
          reject: (e) => {
            done();
            reject(e);
          },
        });
      });
    },
  });
  return {
    editor,
    sent,
    rendered,
    errors,
    inFlight: () => current,
    maxInFlight: () => max,
    finish: async (error) => {
      const next = open.shift();
      assert.ok(next, 'no send is open');
      if (error) next.reject(error);
      else next.resolve();
      await settle();
    },
    show: (key) =>
      editor.show(key, () => {
        rendered.push(key);
        return bodyFor(key);
      }),
  };
}

/** A fake clock driving both `now` and node's mocked setTimeout. */
function fakeTime(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let clock = 1_000_000;
  return {
    now: () => clock,
    advance: async (ms: number) => {
      clock += ms;
      t.mock.timers.tick(ms);
      await settle();
    },
  };
}

describe('ProgressEditor', () => {
  test('the first state goes out at once', async () => {
    const h = harness({ intervalMs: 1000 });
    h.show('a');
    await settle();
    assert.deepStrictEqual(h.sent, ['a']);
  });

  test('identical keys are not re-sent', async (t) => {
    const time = fakeTime(t);
    const h = harness({ intervalMs: 100, now: time.now });
    h.show('a');
    await settle();
    h.show('a');
    await time.advance(1000);
    h.show('a');
    h.show('a');
    await time.advance(1000);
    assert.deepStrictEqual(h.sent, ['a']);
  });

  test('a key equal to the one in flight is not sent twice', async (t) => {
    const time = fakeTime(t);
    const h = harness({ intervalMs: 100, now: time.now, manual: true });
    h.show('a');
    h.show('a');
    await time.advance(200);
    await h.finish();
    await time.advance(200);
    assert.deepStrictEqual(h.sent, ['a']);
  });

  test('going back to the state already shown sends nothing', async (t) => {
    const time = fakeTime(t);
    const h = harness({ intervalMs: 100, now: time.now });
    h.show('a');
    await settle();
    h.show('b'); // waits for the interval…
    h.show('a'); // …and is replaced by what is already visible
    await time.advance(500);
    assert.deepStrictEqual(h.sent, ['a']);
  });

  test('rapid show(a), show(b), show(c) within one interval sends a then c only', async (t) => {
    const time = fakeTime(t);
    const h = harness({ intervalMs: 1000, now: time.now });
    h.show('a');
    h.show('b');
    h.show('c');
    await settle();
    assert.deepStrictEqual(h.sent, ['a']);
    await time.advance(999);
    assert.deepStrictEqual(h.sent, ['a'], 'nothing before the interval is over');
    await time.advance(1);
    assert.deepStrictEqual(h.sent, ['a', 'c']);
    assert.deepStrictEqual(h.rendered, ['a', 'c'], 'the skipped state is never rendered');
  });

  test('the same with real short intervals: a then c', async () => {
    const h = harness({ intervalMs: 30 });
    h.show('a');
    h.show('b');
    h.show('c');
    while (h.sent.length < 2) await sleep(5);
    await sleep(60);
    assert.deepStrictEqual(h.sent, ['a', 'c']);
  });

  test('at most one send per interval, measured between send starts', async (t) => {
    const time = fakeTime(t);
    const sendTimes: number[] = [];
    const h = harness({ intervalMs: 300, now: time.now });
    const show = (key: string) =>
      h.editor.show(key, () => {
        sendTimes.push(time.now());
        return bodyFor(key);
      });
    // A new state every 50 ms for 2 s.
    for (let i = 0; i < 40; i++) {
      show(`s${i}`);
      await time.advance(50);
    }
    await time.advance(1000);
    for (let i = 1; i < sendTimes.length; i++) {
      assert.ok(sendTimes[i]! - sendTimes[i - 1]! >= 300, `sends at ${sendTimes.join(', ')}`);
    }
    assert.ok(sendTimes.length >= 6 && sendTimes.length <= 8, `${sendTimes.length} sends in 2 s`);
    assert.equal(h.sent.at(-1), 's39', 'the newest state is shown in the end');
  });

  test('only one send is in flight; the newest pending state follows when it settles', async (t) => {
    const time = fakeTime(t);
    const h = harness({ intervalMs: 100, now: time.now, manual: true });
    h.show('a');
    await settle();
    h.show('b');
    await time.advance(500); // well past the interval, but `a` is still in flight
    h.show('c');
    await time.advance(500);
    assert.deepStrictEqual(h.sent, ['a']);
    assert.equal(h.inFlight(), 1);
    await h.finish();
    assert.deepStrictEqual(h.sent, ['a', 'c'], 'the interval already passed: c goes out at once');
    await h.finish();
    assert.equal(h.maxInFlight(), 1);
  });

  test('a send that outlasts the interval does not allow two at once even under a burst', async () => {
    const h = harness({ intervalMs: 0, manual: true });
    for (let i = 0; i < 10; i++) h.show(`k${i}`);
    await settle();
    assert.deepStrictEqual(h.sent, ['k0']);
    await h.finish();
    assert.deepStrictEqual(h.sent, ['k0', 'k9']);
    await h.finish();
    assert.equal(h.maxInFlight(), 1);
  });

  test('a failing send calls onError and later states still go out', async (t) => {
    const time = fakeTime(t);
    const failure = new Error('Discord said 500');
    const h = harness({ intervalMs: 100, now: time.now, failWith: (key) => (key === 'a' ? failure : undefined) });
    h.show('a');
    await settle();
    assert.deepStrictEqual(h.errors, [failure]);
    h.show('b');
    await time.advance(100);
    assert.deepStrictEqual(h.sent, ['a', 'b']);
    assert.deepStrictEqual(h.errors, [failure]);
  });

  test('a state whose send failed is sent again when offered again', async (t) => {
    const time = fakeTime(t);
    let failNext = true;
    const h = harness({
      intervalMs: 100,
      now: time.now,
      failWith: () => {
        const fail = failNext;
        failNext = false;
        return fail ? new Error('flaky') : undefined;
      },
    });
    h.show('a');
    await settle();
    h.show('a');
    await time.advance(100);
    assert.deepStrictEqual(h.sent, ['a', 'a']);
    assert.equal(h.errors.length, 1);
  });

  test('close() waits for the send in flight and drops pending states', async (t) => {
    const time = fakeTime(t);
    const h = harness({ intervalMs: 100, now: time.now, manual: true });
    h.show('a');
    await settle();
    h.show('b');
    let closed = false;
    const closing = h.editor.close().then(() => {
      closed = true;
    });
    await settle();
    assert.equal(closed, false, 'close() waits for the send in flight');
    await h.finish();
    await closing;
    assert.equal(closed, true);
    await time.advance(1000);
    assert.deepStrictEqual(h.sent, ['a']);
    assert.deepStrictEqual(h.rendered, ['a']);
  });

  test('close() cancels a state waiting for the interval', async (t) => {
    const time = fakeTime(t);
    const h = harness({ intervalMs: 100, now: time.now });
    h.show('a');
    await settle();
    h.show('b'); // waiting on the timer
    await h.editor.close();
    await time.advance(1000);
    assert.deepStrictEqual(h.sent, ['a']);
  });

  test('close() resolves at once when nothing is in flight, and show() after close is ignored', async () => {
    const h = harness({ intervalMs: 100 });
    await h.editor.close();
    h.show('late');
    await sleep(20);
    assert.deepStrictEqual(h.sent, []);
    assert.deepStrictEqual(h.rendered, []);
  });

  test('close() resolves even when the send in flight fails', async () => {
    const failure = new Error('nope');
    const h = harness({ intervalMs: 100, manual: true });
    h.show('a');
    await settle();
    const closing = h.editor.close();
    await h.finish(failure);
    await closing;
    assert.deepStrictEqual(h.errors, [failure]);
  });
});

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { askForVideo, newUserId, quota } from '../support/users.js';
import { eventually, isSettled, startWorld, waitSettled, type World } from '../support/world.js';

/**
 * The bot's wall clock is stepped with libfaketime (Debian package `faketime`), preloaded into the
 * bot process only: the fakes and this test keep the real time. The offset lives in a file that
 * libfaketime re-reads at every call (FAKETIME_NO_CACHE), so it can be changed while the bot runs.
 * The monotonic clock is left alone, as an NTP step or `date -s` would leave it.
 */
const MULTIARCH = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch as string] ?? '';
const LIBFAKETIME = [`/usr/lib/${MULTIARCH}/faketime/libfaketime.so.1`, '/usr/lib/faketime/libfaketime.so.1', '/usr/local/lib/faketime/libfaketime.so.1'].find((path) =>
  existsSync(path),
);

// CI installs libfaketime (.ci/run): there, a missing one is a broken set-up, not a reason to skip.
if (!LIBFAKETIME && process.env.CI) throw new Error('libfaketime is missing, so the clock-step tests cannot run; .ci/run installs Debian\'s faketime package');

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const COOLDOWN_SECONDS = 600;
/** How far a log line's time may lag behind the moment this test reads it. */
const LOG_TIME_TOLERANCE_MS = 5000;

const slowFeed = (steps: number) => [...Array.from({ length: steps }, (_, i) => ({ status: 'pending', progress: Math.min(99, 1 + i) })), { status: 'finished', progress: 100 }];

describe('wall-clock steps change nothing for the running bot', { skip: LIBFAKETIME ? false : 'libfaketime is not installed (apt-get install faketime)' }, () => {
  let world: World;
  let clockDir: string;
  let offsetFile: string;

  /** Sets the bot's wall clock `offset` (libfaketime syntax: `+0`, `-60s`, `+30m`, `-2d`) from the real time. */
  async function setBotClock(offset: string): Promise<void> {
    // Renamed into place: libfaketime must never read a half-written file.
    const next = join(clockDir, 'next');
    await writeFile(next, `${offset}\n`);
    await rename(next, offsetFile);
  }

  /**
   * Waits for a log line, written after line `since`, whose time is `offsetMs` from the real time:
   * proof that the step reached the bot. `provoke` makes the bot log something.
   */
  async function botClockReads(offsetMs: number, since: number, provoke: () => Promise<void> = async () => {}): Promise<void> {
    await provoke();
    const skewOf = (line: string) => {
      const time = /"time":"([^"]+)"/.exec(line)?.[1];
      return time === undefined ? NaN : Date.parse(time) - Date.now();
    };
    await eventually(
      () => world.bot.lines.slice(since).some((line) => Math.abs(skewOf(line) - offsetMs) < LOG_TIME_TOLERANCE_MS),
      15_000,
      `a log line of the bot ${offsetMs} ms from the real time`,
    );
  }

  /** A refused generate call makes the bot log a line, whatever its polling is doing. */
  async function provokeLogLine(): Promise<void> {
    world.pika.failNextGenerate({ kind: 'status', status: 400, body: { error: { message: 'clock probe refused' } } });
    await askForVideo(world, newUserId(), 'clock probe');
  }

  /** Starts a slow paid task and waits until it is being polled. */
  async function runningTask(user: string, steps: number) {
    world.pika.nextTask({ feed: slowFeed(steps) });
    const tasksBefore = world.pika.taskIds().length;
    const startedAt = Date.now();
    const interaction = await askForVideo(world, user, `clock ${user}`);
    await eventually(() => world.pika.taskIds().length > tasksBefore, 10_000, 'the generate call');
    const taskId = world.pika.taskIds()[tasksBefore]!;
    await eventually(() => world.pika.task(taskId)!.step >= 3, 10_000, 'the task to be polled');
    return { interaction, taskId, startedAt };
  }

  const pollsOf = (taskId: string) => world.pika.feedCalls.filter((call) => call.path.includes(taskId)).map((call) => call.at);

  before(async () => {
    clockDir = await mkdtemp(join(tmpdir(), 'pika-clock-'));
    offsetFile = join(clockDir, 'faketime');
    await setBotClock('+0');
    world = await startWorld({
      LD_PRELOAD: LIBFAKETIME!,
      FAKETIME_TIMESTAMP_FILE: offsetFile,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
      DEFAULT_DAILY_LIMIT: '3',
      DEFAULT_WEEKLY_LIMIT: '10',
      DEFAULT_COOLDOWN_SECONDS: String(COOLDOWN_SECONDS),
    });
  });
  afterEach(() => setBotClock('+0'));
  after(async () => {
    await world?.close();
    if (clockDir) await rm(clockDir, { recursive: true, force: true });
  });

  test('a 60 s backward step during a running task: polling goes on at its interval and the video arrives', async () => {
    const user = newUserId();
    const { interaction, taskId } = await runningTask(user, 120);
    const since = world.bot.lines.length;
    const steppedAt = Date.now();
    await setBotClock('-60s');
    await botClockReads(-MINUTE, since, provokeLogLine);
    const provedAt = Date.now();
    await eventually(() => pollsOf(taskId).filter((at) => at >= provedAt).length >= 10, 5000, 'polls to go on after the step');

    await waitSettled(interaction, 30_000);
    assert.match(String(interaction.original?.embeds[0]?.title), /done/);
    assert.equal(interaction.original?.attachments.length, 1);
    const after = pollsOf(taskId).filter((at) => at >= steppedAt);
    const gaps = after.slice(1).map((at, i) => at - after[i]!);
    assert.ok(after.length >= 20, `polled ${after.length} times after the step`);
    // A wall-clock scheduler would wait out the 60 s; this one keeps its 40 ms interval.
    assert.ok(Math.max(...gaps) < 5000, `longest pause between polls after the step: ${Math.max(...gaps)} ms`);
  });

  test('a 30 min forward step: the running paid task is not timed out, is delivered on its reply, and the cooldown still reads right', async () => {
    const user = newUserId();
    const { interaction, startedAt } = await runningTask(user, 120);
    const since = world.bot.lines.length;
    await setBotClock('+30m');
    await botClockReads(30 * MINUTE, since, provokeLogLine);

    // TASK_TIMEOUT_MS is 20 s and the interaction token lasts 15 min: a wall-clock bot would fail
    // the task as timed out, and say so in the channel as if the token had expired.
    const channelPosts = () => world.discord.channelMessages.filter((message) => message.content.includes(`<@${user}>`));
    await eventually(() => isSettled(interaction) || channelPosts().length > 0, 30_000, 'the task to end');
    assert.deepStrictEqual(channelPosts(), [], 'nothing was posted in the channel instead of the reply');
    assert.match(String(interaction.original?.embeds[0]?.title), /done/);
    assert.equal(interaction.original?.attachments.length, 1, 'the video is on the original reply');

    const answer = await quota(world, user);
    const nextVideoAt = Number(/Cooldown: next video <t:(\d+):R>/.exec(answer)?.[1]) * 1000;
    assert.ok(Math.abs(nextVideoAt - (startedAt + COOLDOWN_SECONDS * 1000)) < 15_000, `the cooldown ends ${COOLDOWN_SECONDS} s after the start: ${answer}`);
    assert.match(answer, /Today: 2 videos left/);
  });

  test("a restart with the clock set back two days keeps today's count: the day never moves backwards", async () => {
    const user = newUserId();
    const interaction = await askForVideo(world, user, 'counted today');
    await waitSettled(interaction, 20_000);
    assert.match(String(interaction.original?.embeds[0]?.title), /done/);
    assert.match(await quota(world, user), /Today: 2 videos left[\s\S]*This week: 9 videos left/);

    await setBotClock('-2d');
    await world.restartBot();
    await botClockReads(-2 * DAY, 0);
    assert.match(await quota(world, user), /Today: 2 videos left[\s\S]*This week: 9 videos left/);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { snowflake } from '../fakes/discord.js';
import { askForVideo, firstAnswer, newUserId, quota } from '../support/users.js';
import { eventually, eventuallyAsync, failureText, startWorld, waitSettled, type World } from '../support/world.js';

describe('the global daily cap holds across servers', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ GLOBAL_DAILY_CAP: '4', DEFAULT_DAILY_LIMIT: 'unlimited' });
  });
  after(async () => {
    await world?.close();
  });

  test('100 commands from two servers at once make exactly 4 generate calls', async () => {
    const otherGuild = snowflake();
    const interactions = await Promise.all(
      Array.from({ length: 100 }, (_, i) => askForVideo(world, newUserId(), `cap ${i}`, i % 2 === 0 ? world.discord.guildId : otherGuild)),
    );
    const answers = await Promise.all(interactions.map(firstAnswer));
    const accepted = interactions.filter((i) => i.callbacks[0]!.type === 5);
    assert.equal(accepted.length, 4);
    assert.equal(answers.filter((a) => /The bot has reached its daily limit of 4 videos across all servers. Videos can be made again <t:\d+:R>/.test(a)).length, 96);
    await Promise.all(accepted.map((i) => waitSettled(i)));
    assert.equal(world.pika.generateCalls.length, 4);
  });
});

describe('no reservation is leaked when the bot dies between steps', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ DEFAULT_DAILY_LIMIT: '2', PIKA_GENERATE_TIMEOUT_MS: '30000' });
  });
  after(async () => {
    await world?.close();
  });

  test('killed while a task runs: after a restart the task resumes, delivers, and counts once', async () => {
    const user = newUserId();
    world.pika.nextTask({ feed: [...Array.from({ length: 30 }, (_, i) => ({ status: 'pending', progress: i * 3 })), { status: 'finished', progress: 100 }] });
    const interaction = await askForVideo(world, user, 'survive a crash');
    await eventually(() => world.pika.feedCalls.length >= 3, 10_000, 'the task to be polled');
    await world.restartBot('SIGKILL');
    await waitSettled(interaction, 20_000);
    assert.match(interaction.original!.embeds[0].title, /done/);
    assert.equal(interaction.original!.attachments.length, 1);
    assert.equal(world.pika.generateCalls.length, 1, 'no extra generate call');
    // The allowance is settled just after the video is shown.
    let answer = '';
    await eventuallyAsync(async () => /In progress: 0/.test((answer = await quota(world, user))), 5000);
    assert.match(answer, /Today: 1 video left/);
  });

  test('killed during the generate call: never re-sent, the user is told, the allowance refunded', async () => {
    const user = newUserId();
    const before = world.pika.generateCalls.length;
    world.pika.failNextGenerate({ kind: 'hang' });
    const interaction = await askForVideo(world, user, 'cut off');
    await eventually(() => world.pika.generateCalls.length > before, 10_000, 'the generate call');
    await world.restartBot('SIGKILL');
    await waitSettled(interaction, 20_000);
    assert.match(failureText(interaction), /restarted while this video was being started.*not sent again.*did not count against your allowance/);
    assert.equal(world.pika.generateCalls.length, before + 1, 'never re-sent');
    assert.match(await quota(world, user), /Today: 2 videos left[\s\S]*In progress: 0/);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FakeInteraction } from '../fakes/discord.js';
import { admin, MODERATOR_PERMISSIONS, newUserId } from '../support/users.js';
import { eventually, startWorld, waitSettled, type World } from '../support/world.js';

const embedOf = (interaction: FakeInteraction) => interaction.callbacks.at(-1)!.data!.embeds[0];
const buttonsOf = (data: any): any[] => (data.components ?? []).flatMap((row: any) => row.components);

async function video(world: World, userId: string, prompt: string): Promise<FakeInteraction> {
  const interaction = await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt }, userId });
  await waitSettled(interaction);
  return interaction;
}

async function answered(interaction: FakeInteraction): Promise<FakeInteraction> {
  await interaction.waitFor((i) => i.callbacks.length > 0, 5000);
  return interaction;
}

describe('history: /pika history, /pika show and /pika-admin history', () => {
  let world: World;
  const user = newUserId();
  const made: FakeInteraction[] = [];

  before(async () => {
    world = await startWorld();
    for (let i = 1; i <= 6; i++) made.push(await video(world, user, `clip number ${i} with **stars**`));
    world.pika.failNextGenerate({ kind: 'status', status: 500 });
    made.push(await video(world, user, 'clip number 7 fails'));
    await video(world, newUserId(), 'somebody else’s clip');
  });
  after(async () => {
    await world?.close();
  });

  test('lists the requester’s own jobs newest first, escaped, with state, seed, id and a link, paged with buttons', async () => {
    const history = await answered(await world.discord.chatInput({ name: 'pika', subcommand: 'history', userId: user }));
    assert.ok(history.ephemeral);
    const page1 = embedOf(history);
    assert.equal(page1.fields.length, 5);
    assert.match(page1.fields[0].value, /clip number 7 fails/);
    assert.match(page1.fields[0].name, /failed/);
    assert.match(page1.fields[1].value, /clip number 6 with \\\*\\\*stars\\\*\\\*/, 'prompts are escaped');
    assert.match(page1.fields[1].name, /<t:\d+:f> · Text to video · ✅ delivered/);
    const sixth = made[5]!.original!;
    assert.ok(page1.fields[1].value.includes(`/${sixth.channel_id}/${sixth.id}`), 'a link to the message');
    const seed = String(sixth.embeds[0].fields.find((f: any) => f.name === 'Seed').value);
    assert.ok(page1.fields[1].value.includes(seed), 'the seed');
    assert.match(page1.footer.text, /Page 1 of 2 · 7 videos/);
    assert.ok(!JSON.stringify(page1).includes('somebody else'), 'only their own jobs');

    const [newer, older] = buttonsOf(history.callbacks[0]!.data);
    assert.equal(newer.disabled, true);
    const page2Click = await answered(await world.discord.component({ message: history.original!, customId: older.custom_id, userId: user }));
    assert.equal(page2Click.callbacks[0]!.type, 7, 'the page replaces the one shown');
    assert.match(history.original!.embeds[0].footer.text, /Page 2 of 2/);
    assert.deepEqual(history.original!.embeds[0].fields.map((f: any) => f.value.split('\n')[0]), ['clip number 2 with \\*\\*stars\\*\\*', 'clip number 1 with \\*\\*stars\\*\\*']);

    const stranger = await answered(await world.discord.component({ message: history.original!, customId: older.custom_id, userId: newUserId() }));
    assert.ok(stranger.ephemeral);
    assert.match(String(stranger.callbacks[0]!.data.content), /moderators/i);
  });

  test('a member with no videos is told so', async () => {
    const empty = await answered(await world.discord.chatInput({ name: 'pika', subcommand: 'history', userId: newUserId(), locale: 'zh-CN' }));
    assert.ok(empty.ephemeral);
    assert.match(String(empty.callbacks[0]!.data.content), /\p{sc=Han}/u);
  });

  test('/pika show brings a past video back into the channel with its buttons, without generating anything', async () => {
    const first = made[0]!.original!;
    const jobId = first.components[0].components[3].custom_id.split(':')[2];
    const choices = await world.discord.autocomplete({ name: 'pika', subcommand: 'show', focused: 'id', options: { id: '' }, userId: user });
    await choices.waitFor((i) => i.callbacks.length > 0, 5000);
    const offered = choices.callbacks[0]!.data.choices;
    assert.equal(offered.length, 6, 'delivered videos only');
    assert.ok(offered.some((c: any) => c.value === jobId && /clip number 1/.test(c.name)));

    const calls = world.pika.generateCalls.length;
    const shown = await world.discord.chatInput({ name: 'pika', subcommand: 'show', options: { id: jobId }, userId: user });
    await waitSettled(shown);
    assert.equal(shown.ephemeral, false);
    const message = shown.original!;
    assert.equal(message.attachments.length, 1, 'the video uploaded again');
    assert.match(message.attachments[0]!.filename, /\.mp4$/);
    assert.equal(message.components[0].components[3].custom_id, `pika:details:${jobId}`, 'the buttons act on the original job');
    assert.equal(world.pika.generateCalls.length, calls, 'nothing generated');

    const notYours = await answered(await world.discord.chatInput({ name: 'pika', subcommand: 'show', options: { id: jobId }, userId: newUserId() }));
    assert.ok(notYours.ephemeral);
    assert.match(String(notYours.callbacks[0]!.data.content), /only bring back your own/i);
    const unknown = await answered(await world.discord.chatInput({ name: 'pika', subcommand: 'show', options: { id: 'nonsense' }, userId: user }));
    assert.match(String(unknown.callbacks[0]!.data.content), /expired/i);
    const elsewhere = await answered(await world.discord.chatInput({ name: 'pika', subcommand: 'show', options: { id: jobId }, userId: user, guildId: '1234567890123456789' }));
    assert.match(String(elsewhere.callbacks[0]!.data.content), /another server/i);
    const failedId = made[6]!.original!.components[0].components.at(-1).custom_id.split(':')[2];
    const failed = await answered(await world.discord.chatInput({ name: 'pika', subcommand: 'show', options: { id: failedId }, userId: user }));
    assert.match(String(failed.callbacks[0]!.data.content), /without a video/i);
  });

  test('/pika show refuses a deleted video, and a member the server now blocks', async () => {
    const third = made[2]!.original!;
    const jobId = third.components[0].components[3].custom_id.split(':')[2];
    const del = await world.discord.component({ message: third, customId: third.components[0].components[2].custom_id, userId: user });
    await del.waitFor((i) => i.callbacks.length > 0, 5000);
    await eventually(() => third.deleted, 5000, 'the deletion');
    const deleted = await answered(await world.discord.chatInput({ name: 'pika', subcommand: 'show', options: { id: jobId }, userId: user }));
    assert.match(String(deleted.callbacks[0]!.data.content), /was deleted/i);

    const fourthId = made[3]!.original!.components[0].components[3].custom_id.split(':')[2];
    await admin(world, 'user block', { user });
    try {
      const blocked = await answered(await world.discord.chatInput({ name: 'pika', subcommand: 'show', options: { id: fourthId }, userId: user }));
      assert.ok(blocked.ephemeral);
      assert.match(String(blocked.callbacks[0]!.data.content), /blocked/i);
    } finally {
      await admin(world, 'user unblock', { user });
    }
  });

  test('/pika show links the video when the provider no longer serves the file', async () => {
    const second = made[1]!.original!;
    const jobId = second.components[0].components[3].custom_id.split(':')[2];
    world.pika.failNextCdn({ kind: 'status', status: 404 }, 1);
    world.pika.failNextCdn({ kind: 'status', status: 404 }, 1, 'share.mp4');
    const shown = await world.discord.chatInput({ name: 'pika', subcommand: 'show', options: { id: jobId }, userId: user });
    await waitSettled(shown);
    assert.equal(shown.original!.attachments.length, 0);
    assert.ok(shown.original!.components[0].components.some((b: any) => b.style === 5 && /^http/.test(b.url)), 'an Open video link');
  });

  test('moderators see any member’s history; others are refused', async () => {
    const moderator = await answered(
      await world.discord.chatInput({ name: 'pika-admin', subcommand: 'history', options: { user }, userId: newUserId(), memberPermissions: MODERATOR_PERMISSIONS }),
    );
    assert.ok(moderator.ephemeral);
    const page = embedOf(moderator);
    assert.equal(page.description, `<@${user}>`);
    assert.match(page.footer.text, /7 videos/);
    const older = buttonsOf(moderator.callbacks[0]!.data)[1];
    const next = await answered(await world.discord.component({ message: moderator.original!, customId: older.custom_id, userId: moderator.payload.member.user.id, memberPermissions: MODERATOR_PERMISSIONS }));
    assert.equal(next.callbacks[0]!.type, 7);

    const member = await answered(await world.discord.chatInput({ name: 'pika-admin', subcommand: 'history', options: { user }, userId: newUserId() }));
    assert.ok(member.ephemeral);
    assert.match(String(member.callbacks[0]!.data.content), /moderator|permission/i);
  });

  test('history survives a restart', async () => {
    await world.restartBot();
    const history = await answered(await world.discord.chatInput({ name: 'pika', subcommand: 'history', userId: user }));
    assert.match(embedOf(history).footer.text, /7 videos/);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatInputOptions, FakeInteraction } from '../fakes/discord.js';
import { admin, newUserId } from '../support/users.js';
import { eventually, startWorld, waitSettled, type World } from '../support/world.js';

describe('usable anywhere: the app installed to a user’s own account', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ USER_INSTALL_DAILY_LIMIT: '2', ALLOW_DMS: 'false' });
  });
  after(async () => {
    await world?.close();
  });

  const video = async (options: Partial<ChatInputOptions> & { userId: string; prompt: string }): Promise<FakeInteraction> => {
    const { prompt, ...rest } = options;
    const interaction = await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt }, ...rest });
    await interaction.waitFor((i) => i.callbacks.length > 0, 5000);
    if (interaction.callbacks[0]!.type === 5) await waitSettled(interaction);
    return interaction;
  };

  test('/pika is registered globally for both installation types and every context; /pika-admin for servers only', () => {
    const global = world.discord.registeredCommands();
    const pika = global.find((c: any) => c.name === 'pika');
    const pikaAdmin = global.find((c: any) => c.name === 'pika-admin');
    assert.deepEqual([pika.integration_types, pika.contexts], [[0, 1], [0, 1, 2]]);
    assert.deepEqual([pikaAdmin.integration_types, pikaAdmin.contexts], [[0], [0]]);
    assert.ok(world.discord.registeredCommands(world.discord.guildId).some((c: any) => c.name === 'pika'), 'the dev server keeps its copy');
  });

  test('in a DM with the bot: the video comes through the interaction, under the user-install limits', async () => {
    const user = newUserId();
    for (const prompt of ['dm one', 'dm two']) {
      const interaction = await video({ userId: user, prompt, guildId: null, installation: 'user' });
      assert.equal(interaction.original!.attachments.length, 1, `${prompt} delivered`);
    }
    const third = await video({ userId: user, prompt: 'dm three', guildId: null, installation: 'user' });
    assert.ok(third.ephemeral);
    assert.match(String(third.callbacks[0]!.data.content), /all 2 videos of your daily allowance/);
    assert.ok(!world.pika.generateCalls.some((c) => (c.body as any).promptText === 'dm three'));
    // A video is recorded as delivered just after it is posted: /pika show offers it from then on.
    const settled = () => world.bot.entries.filter((entry) => entry.msg === 'job settled' && entry.outcome === 'delivered').length;
    await eventually(() => settled() >= 2, 5000, 'both videos to be recorded as delivered');
    const choices = await world.discord.autocomplete({ name: 'pika', subcommand: 'show', focused: 'id', options: { id: '' }, userId: user, guildId: null, installation: 'user' });
    await choices.waitFor((i) => i.callbacks.length > 0, 5000);
    assert.deepEqual(choices.callbacks[0]!.data.choices.map((c: any) => c.name.split(' · ')[1]), ['dm two', 'dm one'], '/pika show offers the videos made through the install');
  });

  test('a DM through the server install alone is refused politely while ALLOW_DMS is off', async () => {
    const refused = await video({ userId: newUserId(), prompt: 'dm without install', guildId: null });
    assert.ok(refused.ephemeral);
    assert.match(String(refused.callbacks[0]!.data.content), /add the app to your own account/);
  });

  test('in a server without the bot: delivered through the interaction, no channel post, and that server’s absence of rules is not our main server’s rules', async () => {
    const user = newUserId();
    await admin(world, 'user block', { user });
    try {
      const elsewhere = await video({ userId: user, prompt: 'in a foreign server', installation: 'user' });
      assert.equal(elsewhere.original!.attachments.length, 1, 'a block in one server does not follow the user elsewhere');
      const channelWrites = world.discord.requests.filter((r) => r.route.startsWith('/channels/') && r.status === 403);
      assert.equal(channelWrites.length, 0, 'never tried to post where it cannot');
    } finally {
      await admin(world, 'user unblock', { user });
    }
  });

  test('where Discord forces answers to be private, the video still reaches the user', async () => {
    const user = newUserId();
    const forced = await video({ userId: user, prompt: 'a private answer', installation: 'user', forceEphemeral: true });
    assert.ok(forced.original!.flags & 64, 'ephemeral, as Discord made it');
    assert.equal(forced.original!.attachments.length, 1);
  });

  test('in a private channel (a group DM): delivered through the interaction', async () => {
    const interaction = await video({ userId: newUserId(), prompt: 'a group dm', guildId: null, installation: 'user', context: 'private_channel' });
    assert.equal(interaction.original!.attachments.length, 1);
  });
});

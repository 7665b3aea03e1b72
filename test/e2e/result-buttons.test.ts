import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PermissionFlagsBits } from 'discord.js';
import { DEFAULT_MEMBER_PERMISSIONS, type FakeInteraction, type FakeMessage } from '../fakes/discord.js';
import { admin, firstAnswer, MODERATOR_PERMISSIONS, newUserId } from '../support/users.js';
import { eventually, fixture, startWorld, waitSettled, type World } from '../support/world.js';

const buttonsOf = (message: FakeMessage): any[] => message.components.flatMap((row: any) => row.components);
const customIdOf = (message: FakeMessage, action: string): string => {
  const button = buttonsOf(message).find((b) => String(b.custom_id ?? '').startsWith(`pika:${action}:`));
  assert.ok(button, `the message has a ${action} button`);
  return button.custom_id;
};
const jobIdOf = (message: FakeMessage) => customIdOf(message, 'details').split(':')[2]!;
const generateBodyFor = (world: World, prompt: string) => world.pika.generateCalls.find((call) => (call.body as any).promptText === prompt)?.body as any;

interface ClickOptions {
  userId: string;
  memberPermissions?: bigint;
  locale?: string;
}

/** Presses the message's button for `action` as `userId`; resolves once Discord got its first answer. */
async function click(world: World, message: FakeMessage, action: string, options: ClickOptions): Promise<FakeInteraction> {
  const interaction = await world.discord.component({ message, customId: customIdOf(message, action), ...options });
  await interaction.waitFor((i) => i.callbacks.length > 0, 5000);
  // Discord's 3-second rule: the fake answers 10062 to a late callback, so reaching here means it was met.
  assert.ok(interaction.firstResponseAt! - interaction.dispatchedAt < 3000);
  return interaction;
}

/** The ephemeral text a click was answered with (its first response, or the follow-up after an in-place acknowledgement). */
async function ephemeralAnswer(interaction: FakeInteraction): Promise<string> {
  await interaction.waitFor((i) => i.callbacks.length > 0, 5000);
  const first = interaction.callbacks[0]!;
  if (first.type === 4) {
    assert.ok(interaction.ephemeral, 'the answer is ephemeral');
    return `${first.data?.content ?? ''} ${JSON.stringify(first.data?.embeds ?? [])}`;
  }
  await interaction.waitFor((i) => i.followups.length > 0, 5000);
  const followup = interaction.followups[0]!;
  assert.ok(followup.flags & 64, 'the follow-up is ephemeral');
  return followup.content;
}

async function video(world: World, userId: string, prompt: string, options: Record<string, string | number> = {}): Promise<FakeInteraction> {
  const interaction = await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt, ...options }, userId });
  await waitSettled(interaction);
  return interaction;
}

async function imageVideo(world: World, userId: string, prompt: string): Promise<FakeInteraction> {
  const interaction = await world.discord.chatInput({
    name: 'pika',
    subcommand: 'image',
    userId,
    options: { prompt },
    attachments: { image: { filename: 'pet.png', data: await fixture('image.png'), contentType: 'image/png' } },
  });
  await waitSettled(interaction);
  return interaction;
}

describe('result buttons: re-roll, remix, delete, details, try again', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ DEFAULT_DAILY_LIMIT: '3' });
  });
  after(async () => {
    await world?.close();
  });

  test('a delivered video carries the four buttons, and its requester alone is notified by a new message, the video posted once', async () => {
    const user = newUserId();
    const interaction = await video(world, user, 'a red fox in the snow');
    const message = interaction.original!;
    assert.deepEqual(buttonsOf(message).map((b) => [b.label, b.emoji?.name]), [
      ['Re-roll', '🔄'],
      ['Remix', '🔀'],
      ['Delete', '🗑️'],
      ['Details', 'ℹ️'],
    ]);
    assert.match(jobIdOf(message), /^[0-9a-f-]{36}$/);
    assert.equal(message.attachments.length, 1);

    await eventually(() => world.discord.notificationsFor(user).length === 1, 5000, 'the requester to be notified');
    const [notice] = world.discord.notificationsFor(user);
    const followup = interaction.followups.find((m) => m.id === notice!.messageId);
    assert.ok(followup, 'the notification is a follow-up of the command');
    assert.notEqual(followup.id, message.id, 'a new message, not the reply itself');
    assert.ok(followup.content.includes(`/${message.channel_id}/${message.id}`), 'it links to the video');
    assert.equal(followup.attachments.length, 0, 'the video is not posted twice');
    assert.deepEqual(world.discord.notifications.filter((n) => n.messageId === followup.id).map((n) => n.userId), [user], 'it pings no one else');
    const uploads = world.discord.requests.filter((r) => r.files.some((f) => f.filename.endsWith('.mp4')) && r.route.includes(interaction.token));
    assert.equal(uploads.length, 1, 'one upload of the mp4');
  });

  test('anyone may re-roll: the same generate body, as the clicker’s own job, which notifies them', async () => {
    const requester = newUserId();
    const prompt = 'a lighthouse in a storm, waves crashing';
    const original = await video(world, requester, prompt, { negative_prompt: 'blurry', frame_rate: 12, guidance_scale: 9, motion: 3, pikaffect: 'Melt', camera: 'pan_left', model: '2.0', aspect_ratio: '9:16' });
    const originalBody = generateBodyFor(world, prompt);
    const callsBefore = world.pika.generateCalls.length;

    const stranger = newUserId();
    const reroll = await click(world, original.original!, 'reroll', { userId: stranger });
    assert.equal(reroll.callbacks[0]!.type, 5, 'a new public reply is deferred at once');
    assert.equal(reroll.ephemeral, false);
    await waitSettled(reroll);
    const calls = world.pika.generateCalls.slice(callsBefore);
    assert.equal(calls.length, 1, 'exactly one generate call');
    assert.deepEqual(calls[0]!.body, originalBody, 'every option and the prompt are the same');
    const rerolled = reroll.original!;
    assert.equal(rerolled.attachments.length, 1);
    assert.notEqual(jobIdOf(rerolled), jobIdOf(original.original!), 'a job of its own');
    assert.ok(rerolled.content.includes(`<@${stranger}>`), 'the video is the clicker’s');
    await eventually(() => world.discord.notificationsFor(stranger).length === 1, 5000, 'the clicker to be notified');
    assert.equal(world.discord.notificationsFor(requester).length, 1, 'the first requester is not pinged again');

    const details = await ephemeralAnswer(await click(world, rerolled, 'details', { userId: newUserId() }));
    assert.ok(details.includes(jobIdOf(original.original!)), 'its details name the job it was re-rolled from');
  });

  test('a re-roll of an image job sends the same image', async () => {
    const user = newUserId();
    const interaction = await imageVideo(world, user, 'the cat blinks slowly');
    const originalBody = generateBodyFor(world, 'the cat blinks slowly');
    assert.ok(originalBody.image);
    const before = world.pika.generateCalls.length;
    const reroll = await click(world, interaction.original!, 'reroll', { userId: user });
    await waitSettled(reroll);
    assert.deepEqual(world.pika.generateCalls.slice(before).map((c) => c.body), [originalBody]);
  });

  test('the clicker’s own limits apply: a blocked member, a banned word, a spent allowance are refused ephemerally with nothing sent', async () => {
    const requester = newUserId();
    const original = await video(world, requester, 'a quiet zebra crossing');
    const message = original.original!;

    const blocked = newUserId();
    await admin(world, 'user block', { user: blocked, reason: 'spam' });
    let calls = world.pika.generateCalls.length;
    const refusedBlock = await ephemeralAnswer(await click(world, message, 'reroll', { userId: blocked }));
    assert.match(refusedBlock, /blocked/i);
    const remixBlocked = await click(world, message, 'remix', { userId: blocked });
    assert.equal(remixBlocked.callbacks[0]!.type, 4, 'no form for a blocked member, just the reason');
    assert.match(await ephemeralAnswer(remixBlocked), /blocked/i);
    assert.equal(world.pika.generateCalls.length, calls, 'nothing sent upstream');

    await admin(world, 'words add', { word: 'zebra' });
    try {
      const refusedWord = await ephemeralAnswer(await click(world, message, 'reroll', { userId: requester }));
      assert.match(refusedWord, /server’s rules/i);
      assert.equal(world.pika.generateCalls.length, calls);
    } finally {
      await admin(world, 'words remove', { word: 'zebra' });
    }

    // DEFAULT_DAILY_LIMIT is 3: the clicker's third video is their last today.
    const clicker = newUserId();
    for (let i = 0; i < 3; i++) await waitSettled(await click(world, message, 'reroll', { userId: clicker }));
    calls = world.pika.generateCalls.length;
    const refusedLimit = await ephemeralAnswer(await click(world, message, 'reroll', { userId: clicker }));
    assert.match(refusedLimit, /today|daily/i);
    assert.equal(world.pika.generateCalls.length, calls);
  });

  test('remix opens a modal prefilled with the original; submitting changes only what was changed', async () => {
    const requester = newUserId();
    const prompt = 'a paper boat on a puddle';
    const original = await video(world, requester, prompt, { negative_prompt: 'dark', motion: 2, pikaffect: 'Levitate', camera: 'zoom_in', frame_rate: 16, guidance_scale: 7 });
    const originalBody = generateBodyFor(world, prompt);

    const clicker = newUserId();
    const opener = await click(world, original.original!, 'remix', { userId: clicker });
    assert.equal(opener.callbacks[0]!.type, 9, 'a modal');
    const modal = opener.callbacks[0]!.data!;
    const fields = Object.fromEntries(modal.components.map((label: any) => [label.component.custom_id, label.component]));
    assert.equal(fields.prompt.value, prompt);
    assert.equal(fields.negative_prompt.value, 'dark');
    const chosen = (id: string) => fields[id].options.filter((o: any) => o.default).map((o: any) => o.value);
    assert.deepEqual(chosen('pikaffect'), ['Levitate']);
    assert.deepEqual(chosen('camera'), ['zoom_in']);
    assert.deepEqual(chosen('motion'), ['2']);

    const before = world.pika.generateCalls.length;
    const submit = await world.discord.submitModal(opener, { values: { prompt: 'a paper boat sails away', camera: ['pan_right'] } });
    await submit.waitFor((i) => i.callbacks.length > 0, 5000);
    assert.equal(submit.callbacks[0]!.type, 5);
    await waitSettled(submit);
    const [call] = world.pika.generateCalls.slice(before);
    const body = call!.body as any;
    assert.deepEqual(body, {
      ...originalBody,
      promptText: 'a paper boat sails away',
      options: { ...originalBody.options, camera: { pan: 'right' } },
    });
    assert.ok(submit.original!.content.includes(`<@${clicker}>`), 'the remix is the clicker’s');

    const emptied = await world.discord.submitModal(opener, { values: { prompt: '   ' } });
    assert.match(await ephemeralAnswer(emptied), /prompt/i);
    assert.equal(world.pika.generateCalls.length, before + 1, 'a bad remix sends nothing');
  });

  test('delete: refused to a stranger, done for the requester and for a moderator, and recorded in the audit log', async () => {
    const auditChannel = world.discord.channelId;
    await admin(world, 'audit-log', { channel: auditChannel });
    try {
      const requester = newUserId();
      const mine = await video(world, requester, 'a snail racing a leaf');
      const message = mine.original!;
      await eventually(() => world.discord.notificationsFor(requester).length === 1, 5000, 'the notification');

      const refused = await ephemeralAnswer(await click(world, message, 'delete', { userId: newUserId() }));
      assert.match(refused, /only the person who asked/i);
      assert.equal(message.deleted, false);

      const done = await click(world, message, 'delete', { userId: requester });
      assert.equal(done.callbacks[0]!.type, 6, 'acknowledged in place');
      await eventually(() => message.deleted, 5000, 'the video message to be deleted');
      assert.match(await ephemeralAnswer(done), /deleted/i);
      await eventually(
        () => world.discord.channelMessages.some((m) => m.channel_id === auditChannel && m.content.includes('🗑️') && m.content.includes(jobIdOf(message))),
        5000,
        'the deletion in the audit log',
      );
      await eventually(() => mine.followups.every((m) => m.deleted), 5000, 'the notification to go with it');
      const details = await ephemeralAnswer(await world.discord.component({ message, customId: customIdOf(message, 'details'), userId: requester }));
      assert.match(details, /deleted/i, 'the job remembers it was deleted');

      const other = await video(world, newUserId(), 'a kite over the dunes');
      const moderator = newUserId();
      await click(world, other.original!, 'delete', { userId: moderator, memberPermissions: DEFAULT_MEMBER_PERMISSIONS | PermissionFlagsBits.ManageMessages });
      await eventually(() => other.original!.deleted, 5000, 'a moderator’s deletion');
      await eventually(() => world.discord.channelMessages.some((m) => m.content.includes(`<@${moderator}>`) && m.content.includes(jobIdOf(other.original!))), 5000, 'the moderator named in the audit log');

      const third = await video(world, newUserId(), 'a crab on a drum');
      await click(world, third.original!, 'delete', { userId: newUserId(), memberPermissions: MODERATOR_PERMISSIONS });
      await eventually(() => third.original!.deleted, 5000, 'a Manage Server moderator’s deletion');
    } finally {
      await admin(world, 'audit-log', {});
    }
  });

  test('details: every parameter, the seed and the id, ephemerally, for anyone, in their language', async () => {
    const original = await video(world, newUserId(), 'a glass whale **swims**', { frame_rate: 10, guidance_scale: 6, motion: 4, negative_prompt: 'noise' });
    const job = jobIdOf(original.original!);
    const seed = world.pika.task(world.pika.taskIds().at(-1)!)!.seed;
    const english = await ephemeralAnswer(await click(world, original.original!, 'details', { userId: newUserId() }));
    for (const shown of [job, String(seed), 'Frame rate', '"10"', 'Guidance scale', '"6"', '"4"', 'noise', 'glass whale \\\\*\\\\*swims']) {
      assert.ok(english.includes(shown), `details show ${shown}: ${english}`);
    }
    const chinese = await ephemeralAnswer(await click(world, original.original!, 'details', { userId: newUserId(), locale: 'zh-CN' }));
    assert.ok(chinese.includes(job));
    assert.match(chinese, /\p{sc=Han}/u, 'in Chinese for a Chinese reader');
  });

  test('a failure not of the user’s making offers Try again (the same request); a refused request does not', async () => {
    const user = newUserId();
    world.pika.failNextGenerate({ kind: 'status', status: 500, body: { message: 'boom' } });
    const failed = await video(world, user, 'a comet over the sea');
    assert.deepEqual(buttonsOf(failed.original!).map((b) => b.label), ['Try again', 'Details']);
    await eventually(() => world.discord.notificationsFor(user).length === 1, 5000, 'the requester to be told of the failure');
    const notice = failed.followups.find((m) => m.id === world.discord.notificationsFor(user)[0]!.messageId)!;
    assert.match(notice.content, /could not be made/);
    assert.ok(notice.content.includes(failed.original!.id));
    const before = world.pika.generateCalls.length;
    const retry = await click(world, failed.original!, 'reroll', { userId: user });
    await waitSettled(retry);
    assert.equal(retry.original!.attachments.length, 1, 'the second try delivers');
    assert.equal(world.pika.generateCalls.length, before + 1);
    assert.equal((world.pika.generateCalls.at(-1)!.body as any).promptText, 'a comet over the sea');

    world.pika.failNextGenerate({ kind: 'status', status: 400, body: { message: 'prompt not allowed' } });
    const refused = await video(world, user, 'a forbidden thing');
    assert.deepEqual(buttonsOf(refused.original!).map((b) => b.label), ['Details']);
  });

  test('a Chinese member sees the buttons, the notification and the remix form in Chinese', async () => {
    const user = newUserId();
    const interaction = await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt: '一只猫在雪里' }, userId: user, locale: 'zh-CN' });
    await waitSettled(interaction);
    const HAN = /\p{sc=Han}/u;
    for (const button of buttonsOf(interaction.original!)) assert.match(button.label, HAN);
    await eventually(() => world.discord.notificationsFor(user).length === 1, 5000, 'the notification');
    const notice = interaction.followups.find((m) => m.id === world.discord.notificationsFor(user)[0]!.messageId)!;
    assert.match(notice.content, HAN);
    const opener = await click(world, interaction.original!, 'remix', { userId: user, locale: 'zh-CN' });
    const modal = opener.callbacks[0]!.data!;
    assert.match(modal.title, HAN);
    for (const label of modal.components) assert.match(label.label, HAN);
    const submit = await world.discord.submitModal(opener, { values: { prompt: '一只猫在雨里' } });
    await waitSettled(submit);
    assert.equal((world.pika.generateCalls.at(-1)!.body as any).promptText, '一只猫在雨里');
    assert.match(submit.original!.embeds[0].title, HAN);
  });

  test('buttons keep working after a restart; a job past retention answers that it has expired', async () => {
    const user = newUserId();
    const original = await video(world, user, 'an owl at midnight');
    await world.restartBot();
    const reroll = await click(world, original.original!, 'reroll', { userId: user });
    await waitSettled(reroll);
    assert.equal(reroll.original!.attachments.length, 1);
    const opener = await click(world, original.original!, 'remix', { userId: user });
    assert.equal(opener.callbacks[0]!.type, 9);
    await world.restartBot();
    const remixed = await world.discord.submitModal(opener, { values: { prompt: 'an owl at noon' } });
    await waitSettled(remixed);
    assert.equal((world.pika.generateCalls.at(-1)!.body as any).promptText, 'an owl at noon', 'a form opened before a restart is taken after it');
    await click(world, original.original!, 'delete', { userId: user });
    await eventually(() => original.original!.deleted, 5000, 'deleted after restarts');

    const gone = await world.discord.component({ message: original.original!, customId: `pika:reroll:${randomUUID()}`, userId: user });
    assert.match(await ephemeralAnswer(gone), /expired/i);
    const goneDetails = await world.discord.component({ message: original.original!, customId: `pika:details:${randomUUID()}`, userId: user });
    assert.match(await ephemeralAnswer(goneDetails), /expired/i);
    assert.match(await firstAnswer(await world.discord.component({ message: original.original!, customId: 'someone-else:button', userId: user })), /./);
  });
});

describe('re-rolling an image job after Discord’s attachment links expired', () => {
  let world: World;

  before(async () => {
    world = await startWorld({}, { attachmentUrlLifetimeMs: 2500 });
  });
  after(async () => {
    await world?.close();
  });

  test('says clearly that the images are no longer available, with nothing sent or spent', async () => {
    const user = newUserId();
    const interaction = await imageVideo(world, user, 'the dog wags');
    await new Promise((resolve) => setTimeout(resolve, 2600));
    const before = world.pika.generateCalls.length;
    for (const action of ['reroll', 'remix']) {
      const answer = await ephemeralAnswer(await click(world, interaction.original!, action, { userId: user }));
      assert.match(answer, /no longer available/i);
    }
    assert.equal(world.pika.generateCalls.length, before);
  });
});

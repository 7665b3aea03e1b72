/**
 * Proves the fake Discord is good enough for the real discord.js client: it logs in unchanged,
 * registers commands, answers interactions, and gets Discord's errors where Discord would give them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  LabelBuilder,
  MessageFlags,
  ModalBuilder,
  Role,
  Routes,
  StringSelectMenuBuilder,
  TextDisplayBuilder,
  TextInputBuilder,
  TextInputStyle,
  type ButtonInteraction,
  type ClientOptions,
  type ChatInputCommandInteraction,
  type Interaction,
  type ModalSubmitInteraction,
} from 'discord.js';
import { WebSocket } from 'ws';
import {
  DEFAULT_APP_PERMISSIONS,
  EXTERNAL_APP_PERMISSIONS,
  FakeDiscord,
  PRIVATE_CHANNEL_APP_PERMISSIONS,
  shardFor,
  snowflake,
  snowflakeOnShard,
  type ChatInputOptions,
  type FakeInteraction,
  type FakeMessage,
  type ModalSubmitOptions,
} from './discord.js';

const BOT_TOKEN = 'fake.bot-token.for-tests';
/** Short so the "late callback" case is quick; the bot runs in-process and answers in milliseconds. */
const DEADLINE_MS = 1500;
const TEST_TIMEOUT_MS = 15_000;

type Behaviour<T extends Interaction = ChatInputCommandInteraction> = (interaction: T) => Promise<unknown>;

let fake: FakeDiscord;
let client: Client;
/**
 * What the in-process bot does with the next interaction `accepts` takes (others are ignored);
 * each test sets it via `invoke`, `press` or `submit`.
 */
let nextBehaviour:
  | {
      accepts: (interaction: Interaction) => boolean;
      run: (interaction: any) => Promise<unknown>;
      settle: (result: PromiseSettledResult<unknown>) => void;
    }
  | undefined;

before(async () => {
  fake = await FakeDiscord.start({ botToken: BOT_TOKEN, interactionResponseDeadlineMs: DEADLINE_MS });
  client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiUrl } });
  client.on(Events.InteractionCreate, async (interaction) => {
    if (!nextBehaviour?.accepts(interaction)) return;
    const { run, settle } = nextBehaviour;
    nextBehaviour = undefined;
    try {
      settle({ status: 'fulfilled', value: await run(interaction) });
    } catch (reason) {
      settle({ status: 'rejected', reason });
    }
  });
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(BOT_TOKEN);
  await ready;
  await client.application!.commands.set(
    [
      {
        name: 'pika',
        description: 'Make a video',
        options: [
          { type: 3, name: 'prompt', description: 'What to make' },
          { type: 4, name: 'frame_rate', description: 'Frames per second' },
          { type: 11, name: 'image', description: 'Starting image' },
        ],
      },
      {
        name: 'pick',
        description: 'Pick a role, a channel and something mentionable',
        options: [
          { type: 8, name: 'r', description: 'A role' },
          { type: 7, name: 'c', description: 'A channel' },
          { type: 9, name: 'm', description: 'A role or a user' },
          { type: 9, name: 'mu', description: 'A role or a user' },
        ],
      },
    ],
    fake.guildId,
  );
});

after(async () => {
  await client?.destroy();
  await fake?.close();
});

/** Dispatches an interaction and waits for the bot's `behaviour` to finish with it. */
async function dispatchTo<T extends Interaction>(
  accepts: (interaction: Interaction) => interaction is T,
  behaviour: Behaviour<T>,
  dispatch: () => Promise<FakeInteraction>,
): Promise<{ interaction: FakeInteraction; result: PromiseSettledResult<unknown> }> {
  // Only this dispatch's interaction: others a test sent without waiting for the bot are ignored.
  // Its id is known before the client can read it (that takes at least one more turn of the loop).
  let expectedId: string | undefined;
  const settled = new Promise<PromiseSettledResult<unknown>>((settle) => {
    nextBehaviour = { accepts: (i) => i.id === expectedId && accepts(i), run: behaviour, settle };
  });
  const interaction = await dispatch();
  expectedId = interaction.id;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`bot never finished: ${JSON.stringify(interaction.summary(), null, 2)}`)),
      10_000,
    );
  });
  try {
    return { interaction, result: await Promise.race([settled, timeout]) };
  } finally {
    // Cleared so no timer is left behind to keep the test process alive.
    clearTimeout(timer);
  }
}

/** Dispatches a slash command and waits for the bot's `behaviour` to finish with it. */
function invoke(behaviour: Behaviour, options: Partial<ChatInputOptions> = {}) {
  return dispatchTo((i): i is ChatInputCommandInteraction => i.isChatInputCommand(), behaviour, () =>
    fake.chatInput({ name: 'pika', ...options }),
  );
}

/** Presses the button `customId` on `message` and waits for the bot's `behaviour` to finish with it. */
function press(message: FakeMessage, customId: string, behaviour: Behaviour<ButtonInteraction>) {
  return dispatchTo((i): i is ButtonInteraction => i.isButton(), behaviour, () => fake.component({ message, customId }));
}

/** Submits the modal `openedBy` opened and waits for the bot's `behaviour` to finish with the submit. */
function submit(openedBy: FakeInteraction, options: ModalSubmitOptions, behaviour: Behaviour<ModalSubmitInteraction>) {
  return dispatchTo((i): i is ModalSubmitInteraction => i.isModalSubmit(), behaviour, () => fake.submitModal(openedBy, options));
}

/** A reply with one button, `open`. */
const withButton = {
  content: 'ready',
  components: [
    new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder().setCustomId('open').setLabel('Open').setStyle(ButtonStyle.Primary),
    ),
  ],
};

function apiErrorOf(result: PromiseSettledResult<unknown>): DiscordAPIError {
  assert.equal(result.status, 'rejected', 'expected the Discord call to fail');
  const { reason } = result as PromiseRejectedResult;
  assert.ok(reason instanceof DiscordAPIError, `expected a DiscordAPIError, got ${String(reason)}`);
  return reason;
}

function valueOf(result: PromiseSettledResult<unknown>): unknown {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

test('the real client logs in and registers guild commands', () => {
  assert.equal(fake.identifies, 1);
  assert.equal(client.user?.id, fake.botUserId);
  assert.equal(client.application?.id, fake.applicationId);
  assert.ok(client.guilds.cache.has(fake.guildId));
  const [command] = fake.registeredCommands(fake.guildId);
  assert.equal(command?.name, 'pika');
  assert.equal(command?.guild_id, fake.guildId);
  assert.equal(command?.default_member_permissions, null);
  assert.deepEqual(fake.registeredCommands(), [], 'nothing was registered globally');
});

test('deferReply then editReply with a file', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { interaction, result } = await invoke(
    async (i) => {
      const options = { prompt: i.options.getString('prompt'), frameRate: i.options.getInteger('frame_rate') };
      await i.deferReply();
      await i.editReply({ content: 'x', files: [{ attachment: Buffer.from('abc'), name: 'a.txt' }] });
      return options;
    },
    { options: { prompt: 'a cat', frame_rate: 12 } },
  );
  assert.deepEqual(valueOf(result), { prompt: 'a cat', frameRate: 12 }, 'option types came from the registered command');

  assert.deepEqual(interaction.callbacks.map((callback) => callback.type), [5]);
  assert.equal(interaction.ephemeral, false);
  assert.ok(interaction.firstResponseAt! - interaction.dispatchedAt < DEADLINE_MS);

  const original = interaction.original!;
  assert.equal(original.content, 'x');
  assert.equal(original.flags & 128, 0, 'the edit completed the loading message');
  assert.equal(original.edits, 1);
  assert.equal(original.attachments.length, 1);
  assert.equal(original.attachments[0]?.filename, 'a.txt');
  assert.equal(original.attachments[0]?.data.toString(), 'abc');

  const patch = fake.requests.find((request) => request.method === 'PATCH' && request.route.includes(interaction.token));
  assert.equal(patch?.status, 200);
  assert.equal(patch?.json.content, 'x');
  assert.equal(patch?.files[0]?.field, 'files[0]');
  assert.equal(patch?.files[0]?.data.toString(), 'abc');
});

test('a second callback is rejected with 40060', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { interaction, result } = await invoke(async (i) => {
    await i.reply('first');
    // discord.js refuses a second reply itself, so go through its REST client directly.
    await i.client.rest.post(Routes.interactionCallback(i.id, i.token), {
      body: { type: 4, data: { content: 'again' } },
      auth: false,
    });
  });
  assert.equal(apiErrorOf(result).code, 40060);
  assert.equal(interaction.callbacks.length, 1);
  assert.equal(interaction.original?.content, 'first');
});

test('a callback after the deadline is rejected with 10062', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { interaction, result } = await invoke(async (i) => {
    await sleep(DEADLINE_MS + 300);
    await i.deferReply();
  });
  const error = apiErrorOf(result);
  assert.equal(error.code, 10062);
  assert.equal(error.status, 404);
  assert.equal(interaction.callbacks.length, 0);
});

test('over-long content is rejected with 50035 and does not use up the acknowledgement', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { interaction, result } = await invoke(async (i) => {
    const failure = await i.reply({ content: 'x'.repeat(2001) }).catch((error: unknown) => error);
    await i.reply('short enough');
    return failure;
  });
  const failure = valueOf(result);
  assert.ok(failure instanceof DiscordAPIError);
  assert.equal(failure.code, 50035);
  assert.match(JSON.stringify(failure.rawError), /"content".*BASE_TYPE_MAX_LENGTH/);
  assert.deepEqual(interaction.callbacks.map((callback) => callback.type), [4]);
  assert.equal(interaction.original?.content, 'short enough');
});

test('an expired token is rejected with 50027', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { interaction, result } = await invoke(async (i) => {
    await i.deferReply({ flags: MessageFlags.Ephemeral });
    fake.expireToken(fake.interaction(i.id)!);
    await i.editReply('too late');
  });
  const error = apiErrorOf(result);
  assert.equal(error.code, 50027);
  assert.equal(error.status, 401);
  assert.equal(interaction.ephemeral, true);
  assert.equal(interaction.original?.flags, 64 | 128, 'still loading, still ephemeral');
});

test('a 429 is retried by the client after retry-after', { timeout: TEST_TIMEOUT_MS }, async () => {
  const retryAfterSeconds = 0.5;
  fake.rateLimitNext({ method: 'PATCH', route: /\/messages\/@original$/ }, retryAfterSeconds);
  const { interaction, result } = await invoke(async (i) => {
    await i.deferReply();
    await i.editReply('done');
  });
  valueOf(result);
  const patches = fake.requests.filter((request) => request.method === 'PATCH' && request.route.includes(interaction.token));
  assert.deepEqual(patches.map((request) => request.status), [429, 200]);
  assert.ok(patches[1]!.at - patches[0]!.at >= retryAfterSeconds * 1000 - 50, 'waited for retry-after');
  assert.equal(interaction.original?.content, 'done');
});

test('an outage answers 503 to every matching request until it ends, and records them', { timeout: TEST_TIMEOUT_MS }, async () => {
  const outage = fake.startOutage({ route: /\/messages\/@original$/ });
  const { interaction, result } = await invoke(async (i) => {
    await i.deferReply();
    const failures: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await i.client.rest.patch(`/webhooks/${i.applicationId}/${i.token}/messages/@original`, { body: { content: 'x' }, auth: false });
      } catch (error) {
        failures.push((error as { status: number }).status);
      }
    }
    outage.end();
    await i.editReply('after the outage');
    return failures;
  });
  assert.deepEqual(valueOf(result), [503, 503, 503]);
  assert.equal(interaction.original?.content, 'after the outage');
  assert.ok(fake.requests.filter((request) => request.status === 503 && request.route.includes(interaction.token)).length >= 3);
});

test('attachment options resolve to files the bot can download', { timeout: TEST_TIMEOUT_MS }, async () => {
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000002000000030806000000', 'hex');
  const { result } = await invoke(
    async (i) => {
      const attachment = i.options.getAttachment('image', true);
      const response = await fetch(attachment.url);
      await i.reply('got it');
      return {
        name: attachment.name,
        contentType: attachment.contentType,
        size: attachment.size,
        width: attachment.width,
        bytes: Buffer.from(await response.arrayBuffer()),
      };
    },
    { attachments: { image: { filename: 'cat pic.png', data: png } } },
  );
  const downloaded = valueOf(result) as { name: string; contentType: string; size: number; width: number; bytes: Buffer };
  assert.equal(downloaded.name, 'cat_pic.png', 'Discord replaces spaces in file names');
  assert.equal(downloaded.contentType, 'image/png');
  assert.equal(downloaded.size, png.length);
  assert.equal(downloaded.width, 2);
  assert.deepEqual(downloaded.bytes, png);
});

test('the client resumes after a gateway disconnect and keeps receiving interactions', { timeout: TEST_TIMEOUT_MS }, async () => {
  fake.disconnectGateway();
  await fake.waitFor((f) => f.resumes === 1 && f.gatewayConnected, 10_000, 'the client to resume');
  const { interaction, result } = await invoke(async (i) => {
    await i.reply({ content: 'after resume', flags: MessageFlags.Ephemeral });
  });
  valueOf(result);
  assert.equal(fake.identifies, 1, 'resumed, did not re-identify');
  assert.equal(interaction.original?.content, 'after resume');
  assert.equal(interaction.ephemeral, true);
});

test('channel messages: enforce_nonce deduplicates, replies to unknown messages fail', { timeout: TEST_TIMEOUT_MS }, async () => {
  const channel = client.channels.cache.get(fake.channelId);
  assert.ok(channel?.isSendable());
  const first = await channel.send({ content: 'hi', nonce: 'n-1', enforceNonce: true });
  const second = await channel.send({ content: 'hi', nonce: 'n-1', enforceNonce: true });
  assert.equal(second.id, first.id);
  assert.equal(fake.channelMessages.length, 1);

  const reply = await channel.send({ content: 'reply', reply: { messageReference: first.id } });
  assert.equal(fake.channelMessages.at(-1)?.type, 19);
  assert.equal(reply.reference?.messageId, first.id);

  const failure = await channel
    .send({ content: 'orphan', reply: { messageReference: '1234567890123456789' } })
    .catch((error: unknown) => error);
  assert.ok(failure instanceof DiscordAPIError);
  assert.equal(failure.code, 50035);
  assert.equal(fake.channelMessages.length, 2);
});

test('a button opens a modal; submitModal fills it in like a user, read back through interaction.fields', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { interaction: command, result: replied } = await invoke((i) => i.reply(withButton));
  valueOf(replied);
  const message = command.original!;

  const { interaction: button, result: opened } = await press(message, 'open', (i) =>
    i.showModal(
      new ModalBuilder()
        .setCustomId('video-form')
        .setTitle('Make a video')
        .addTextDisplayComponents(new TextDisplayBuilder().setContent('Describe your video.'))
        .addLabelComponents(
          new LabelBuilder()
            .setLabel('Style')
            .setStringSelectMenuComponent(
              new StringSelectMenuBuilder()
                .setCustomId('style')
                .setMinValues(1)
                .setMaxValues(2)
                .addOptions(
                  { label: 'Calm', value: 'calm', default: true },
                  { label: 'Wild', value: 'wild' },
                  { label: 'Retro', value: 'retro', default: true },
                ),
            ),
          new LabelBuilder()
            .setLabel('Prompt')
            .setDescription('What should happen?')
            .setTextInputComponent(
              new TextInputBuilder().setCustomId('prompt').setStyle(TextInputStyle.Short).setMaxLength(20).setValue('a cat'),
            ),
          new LabelBuilder()
            .setLabel('Notes')
            .setTextInputComponent(
              new TextInputBuilder().setCustomId('notes').setStyle(TextInputStyle.Paragraph).setRequired(false),
            ),
        ),
    ),
  );
  valueOf(opened);
  assert.deepEqual(button.callbacks.map((callback) => callback.type), [9]);
  assert.equal(button.modal.custom_id, 'video-form');
  assert.deepEqual(
    button.modal.components.map((entry: any) => [entry.type, entry.id, entry.component?.id]),
    [[10, 1, undefined], [18, 2, 3], [18, 4, 5], [18, 6, 7]],
    'Discord numbered the components in reading order',
  );

  // Pressing Submit without touching anything sends the prefilled value and the default options.
  const { interaction: submitted, result } = await submit(button, {}, async (i) => {
    assert.ok(i.isFromMessage(), 'a modal opened from a button carries its message');
    const read = {
      customId: i.customId,
      prompt: i.fields.getTextInputValue('prompt'),
      notes: i.fields.getTextInputValue('notes'),
      style: i.fields.getStringSelectValues('style'),
      fromMessage: i.message.id,
      user: i.user.id,
    };
    await i.update({ content: 'submitted', components: [] });
    return read;
  });
  assert.deepEqual(valueOf(result), {
    customId: 'video-form',
    prompt: 'a cat',
    notes: '',
    style: ['calm', 'retro'],
    fromMessage: message.id,
    user: fake.defaultUserId,
  });
  assert.deepEqual(submitted.payload.data, {
    custom_id: 'video-form',
    components: [
      { type: 10, id: 1 },
      { type: 18, id: 2, component: { type: 3, id: 3, custom_id: 'style', values: ['calm', 'retro'] } },
      { type: 18, id: 4, component: { type: 4, id: 5, custom_id: 'prompt', value: 'a cat' } },
      { type: 18, id: 6, component: { type: 4, id: 7, custom_id: 'notes', value: '' } },
    ],
  });
  assert.equal(submitted.original, message, 'callback 7 updated the message the modal was opened from');
  assert.equal(message.content, 'submitted');
  assert.deepEqual(message.components, []);
  assert.equal(submitted.payload.message.id, message.id);

  // Another user fills it in.
  const otherUser = snowflake();
  const { result: second } = await submit(
    button,
    { userId: otherUser, values: { prompt: 'a dog', style: ['wild'], notes: 'slowly,\nplease' } },
    async (i) => {
      await i.deferUpdate();
      return {
        prompt: i.fields.getTextInputValue('prompt'),
        notes: i.fields.getTextInputValue('notes'),
        style: i.fields.getStringSelectValues('style'),
        user: i.user.id,
      };
    },
  );
  assert.deepEqual(valueOf(second), { prompt: 'a dog', notes: 'slowly,\nplease', style: ['wild'], user: otherUser });

  // What no user could submit is a bug in the test.
  await assert.rejects(fake.submitModal(command), /opened no modal/);
  await assert.rejects(fake.submitModal(button, { values: { nope: 'x' } }), /no component "nope"/);
  await assert.rejects(fake.submitModal(button, { values: { prompt: '' } }), /required/);
  await assert.rejects(fake.submitModal(button, { values: { prompt: 'x'.repeat(21) } }), /0–20 characters, not 21/);
  await assert.rejects(fake.submitModal(button, { values: { style: ['jazz'] } }), /not among its options/);
  await assert.rejects(fake.submitModal(button, { values: { style: [] } }), /1–2 values, not 0/);
  await assert.rejects(fake.submitModal(button, { values: { style: 'calm' } }), /array/);
});

test('an invalid modal is refused with 50035 and does not use up the acknowledgement', { timeout: TEST_TIMEOUT_MS }, async () => {
  const broken = {
    custom_id: 'broken',
    title: 'x'.repeat(46),
    components: [
      { type: 18, label: 'Prompt', component: { type: 4, custom_id: 'prompt', style: 1, label: 'Prompt again' } },
      {
        type: 18,
        label: 'Style',
        component: {
          type: 3,
          custom_id: 'prompt',
          options: [
            { label: 'A', value: 'a', default: true },
            { label: 'B', value: 'b', default: true },
          ],
        },
      },
      { type: 1, components: [{ type: 4, custom_id: 'short', label: 'Short', style: 3, max_length: 5, value: 'too long' }] },
      { type: 10, content: 'x'.repeat(4001) },
      { type: 2, custom_id: 'button', style: 1, label: 'Buttons are not for modals' },
      { type: 10, content: 'sixth' },
    ],
  };
  const { interaction, result } = await invoke(async (i) => {
    const failure = await i.client.rest
      .post(Routes.interactionCallback(i.id, i.token), { body: { type: 9, data: broken }, auth: false })
      .catch((error: unknown) => error);
    await i.showModal({
      custom_id: 'legacy',
      title: 'Legacy',
      components: [{ type: 1, components: [{ type: 4, custom_id: 'text', label: 'Text', style: TextInputStyle.Paragraph }] }],
    });
    return failure;
  });
  const failure = valueOf(result);
  assert.ok(failure instanceof DiscordAPIError);
  assert.equal(failure.code, 50035);
  const errors = (failure.rawError as any).errors.data;
  const codeAt = (node: any): string | undefined => node?._errors?.[0]?.code;
  assert.equal(codeAt(errors.title), 'BASE_TYPE_MAX_LENGTH');
  assert.equal(codeAt(errors.components), 'BASE_TYPE_MAX_LENGTH', 'six components');
  assert.equal(codeAt(errors.components[0].component.label), 'COMPONENT_LABEL_NOT_ALLOWED');
  assert.equal(codeAt(errors.components[1].component.custom_id), 'COMPONENT_CUSTOM_ID_DUPLICATED');
  assert.equal(codeAt(errors.components[1].component.options), 'SELECT_COMPONENT_TOO_MANY_DEFAULT_VALUES');
  assert.equal(codeAt(errors.components[2].components[0].style), 'BASE_TYPE_CHOICES');
  assert.equal(codeAt(errors.components[2].components[0].value), 'BASE_TYPE_MAX_LENGTH');
  assert.equal(codeAt(errors.components[3].content), 'BASE_TYPE_MAX_LENGTH');
  assert.equal(codeAt(errors.components[4].type), 'UNION_TYPE_CHOICES');
  assert.equal(errors.components[5], undefined, 'the sixth text display itself is fine');
  assert.deepEqual(interaction.callbacks.map((callback) => callback.type), [9]);
  assert.equal(interaction.modal.custom_id, 'legacy');

  // A legacy action row comes back as a row; a modal opened by a command carries no message.
  const { interaction: submitted, result: read } = await submit(interaction, { values: { text: 'line one\nline two' } }, async (i) => {
    const response = await i.reply({ content: 'thanks', flags: MessageFlags.Ephemeral, withResponse: true });
    return {
      text: i.fields.getTextInputValue('text'),
      fromMessage: i.isFromMessage(),
      openedBy: response.resource?.message?.interactionMetadata?.triggeringInteractionMetadata?.id,
    };
  });
  assert.deepEqual(valueOf(read), { text: 'line one\nline two', fromMessage: false, openedBy: interaction.id });
  assert.deepEqual(submitted.payload.data, {
    custom_id: 'legacy',
    components: [{ type: 1, id: 1, components: [{ type: 4, id: 2, custom_id: 'text', value: 'line one\nline two' }] }],
  });
  assert.equal('message' in submitted.payload, false);
});

test('notifications: new messages ping the users they may mention; edits never do', { timeout: TEST_TIMEOUT_MS }, async () => {
  const [alice, bob, carol] = [snowflake(), snowflake(), snowflake()];

  // An edited deferral, then a follow-up: the follow-up is a new message and pings.
  const { interaction: edited, result: first } = await invoke(async (i) => {
    await i.deferReply();
    await i.editReply(`working on it, <@${alice}>`);
    await i.followUp(`<@${alice}> your video is ready`);
  });
  valueOf(first);
  assert.deepEqual(
    fake.notificationsFor(alice).map(({ messageId, channelId }) => ({ messageId, channelId })),
    [{ messageId: edited.followups[0]!.id, channelId: fake.channelId }],
  );

  // The first follow-up after an unedited deferral fills the loading message, an edit: no ping.
  // Nor does an edit adding a mention, a mention allowed_mentions rules out, or an ephemeral message.
  const { interaction: filled, result: second } = await invoke(async (i) => {
    await i.deferReply();
    await i.followUp(`<@${bob}> done`);
    await i.editReply(`done, <@${bob}> and <@!${carol}>`);
    await i.followUp({ content: `<@${bob}> again`, allowedMentions: { parse: [] } });
    await i.followUp({ content: `<@${bob}> quietly`, flags: MessageFlags.Ephemeral });
    await i.followUp({ content: `<@${bob}> and <@!${carol}>`, allowedMentions: { users: [carol] } });
  });
  valueOf(second);
  assert.equal(filled.followups.length, 3, 'the first follow-up became @original');
  assert.deepEqual(fake.notificationsFor(bob), []);
  assert.deepEqual(fake.notificationsFor(carol).map((n) => n.messageId), [filled.followups[2]!.id]);

  // A reply (callback 4) and a channel message ping too; <@!id> is the same user, once per message.
  const { interaction: replied, result: third } = await invoke((i) => i.reply(`<@!${bob}> <@${bob}>`));
  valueOf(third);
  const channel = client.channels.cache.get(fake.channelId);
  assert.ok(channel?.isSendable());
  const sent = await channel.send({ content: `<@${carol}>`, allowedMentions: { parse: ['users'] } });
  assert.deepEqual(fake.notificationsFor(bob).map((n) => n.messageId), [replied.original!.id]);
  assert.deepEqual(fake.notificationsFor(carol).map((n) => n.messageId), [filled.followups[2]!.id, sent.id]);
});

test('deleting: a component message through its interaction token, interaction messages through the channel', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { interaction: command, result: replied } = await invoke((i) => i.reply(withButton));
  valueOf(replied);
  const { interaction: button, result } = await press(command.original!, 'open', async (i) => {
    await i.deferUpdate();
    await i.deleteReply();
    return i.editReply('still there?').catch((error: unknown) => error);
  });
  const failure = valueOf(result);
  assert.ok(failure instanceof DiscordAPIError);
  assert.equal(failure.code, 10008);
  assert.equal(button.original, command.original);
  assert.equal(command.original!.deleted, true, 'the message carrying the button is gone');

  // With the bot token, the channel route deletes the bot's interaction responses and follow-ups.
  const { interaction, result: deleted } = await invoke(async (i) => {
    const response = await i.reply({ content: 'first', withResponse: true });
    const followUp = await i.followUp('second');
    await followUp.delete();
    await response.resource!.message!.delete();
  });
  valueOf(deleted);
  assert.equal(interaction.original?.deleted, true);
  assert.equal(interaction.followups[0]?.deleted, true);
  const deletes = fake.requests.filter(
    (request) => request.method === 'DELETE' && request.route.startsWith(`/channels/${fake.channelId}/messages/`),
  );
  assert.deepEqual(
    deletes.slice(-2).map((request) => [request.route.split('/').at(-1), request.status]),
    [[interaction.followups[0]!.id, 204], [interaction.original!.id, 204]],
  );
});

// Last in the file: it makes the client identify again, which the resume test above counts.
test('member roles and created roles reach the client; role, channel and mentionable options resolve', { timeout: TEST_TIMEOUT_MS }, async () => {
  const role = fake.createRole({ name: 'Video makers' });
  const otherRole = fake.createRole();
  const channelId = snowflake();
  const userId = snowflake();
  const guild = client.guilds.cache.get(fake.guildId)!;

  const { interaction, result } = await invoke(
    async (i) => {
      assert.ok(i.inCachedGuild(), 'the guild is cached');
      const picked = i.options.getRole('r', true);
      const channel = i.options.getChannel('c', true);
      const mentionedRole = i.options.getMentionable('m', true);
      const mentionedUser = i.options.getMentionable('mu', true);
      await i.reply('picked');
      return {
        memberRoles: [...i.member.roles.cache.keys()].sort(),
        role: { id: picked.id, name: picked.name, cached: guild.roles.cache.get(picked.id)?.name },
        channel: { id: channel.id, type: channel.type, name: channel.name },
        mentionedRole: mentionedRole instanceof Role ? mentionedRole.id : 'not a role',
        mentionedUser: 'username' in mentionedUser ? mentionedUser.id : 'not a user',
      };
    },
    { name: 'pick', roles: [role, otherRole], options: { r: role, c: channelId, m: otherRole, mu: userId } },
  );
  assert.deepEqual(valueOf(result), {
    memberRoles: [role, otherRole, fake.guildId].sort(),
    role: { id: role, name: 'Video makers', cached: 'Video makers' },
    channel: { id: channelId, type: 0, name: `channel-${channelId.slice(-4)}` },
    mentionedRole: otherRole,
    mentionedUser: userId,
  });
  const data = interaction.payload.data;
  assert.deepEqual(interaction.payload.member.roles, [role, otherRole], 'member.roles as given');
  assert.deepEqual(Object.keys(data.resolved.roles).sort(), [role, otherRole].sort());
  assert.equal(data.resolved.channels[channelId].permissions, String(interaction.payload.member.permissions));
  assert.deepEqual(Object.keys(data.resolved.users), [userId]);

  // The picked channel now exists for REST routes.
  const fetched = await client.channels.fetch(channelId, { force: true });
  assert.ok(fetched?.isSendable());
  await fetched.send('in the picked channel');
  assert.equal(fake.channelMessages.at(-1)?.channel_id, channelId);

  // Without `roles`, a member has none; autocomplete carries them like a command does.
  const plain = await fake.chatInput({ name: 'pika', options: { prompt: 'x' } });
  assert.deepEqual(plain.payload.member.roles, []);
  const typing = await fake.autocomplete({ name: 'pika', options: {}, focused: 'prompt', roles: [role] });
  assert.deepEqual(typing.payload.member.roles, [role]);
  await Promise.all([plain, typing].map((i) => i.waitFor((x) => x.delivered)));

  // A fresh gateway session learns the created roles from GUILD_CREATE (not from a replay).
  guild.roles.cache.delete(role);
  guild.roles.cache.delete(otherRole);
  const identifies = fake.identifies;
  fake.disconnectGateway(4007); // invalid seq: discord.js identifies again
  await fake.waitFor((f) => f.identifies === identifies + 1 && f.gatewayConnected, 10_000, 'the client to identify again');
  const deadline = Date.now() + 5000;
  while (!(guild.roles.cache.has(role) && guild.roles.cache.has(otherRole)) && Date.now() < deadline) await sleep(20);
  assert.equal(guild.roles.cache.get(role)?.name, 'Video makers');
  assert.ok(guild.roles.cache.has(otherRole));
});

test('localized command names and descriptions are checked, stored and listed as Discord does', { timeout: TEST_TIMEOUT_MS }, async () => {
  const route = Routes.applicationCommands(fake.applicationId);
  const command = (zhName: string, optionName: string, description = '生成视频', locale = 'zh-CN') => ({
    name: 'clip',
    description: 'Make a clip',
    name_localizations: { 'zh-CN': zhName },
    description_localizations: { 'zh-CN': description },
    integration_types: [0],
    options: [
      {
        type: 3,
        name: 'style',
        description: 'A style',
        required: false,
        name_localizations: { 'zh-CN': optionName },
        description_localizations: { 'zh-CN': '风格' },
        choices: [{ name: 'calm', value: 'calm', name_localizations: { [locale]: '平静' } }],
      },
    ],
  });

  // Discord's name rule applies to every language: lowercase where the script has case, no spaces.
  const refused = apiErrorOf(
    (await Promise.allSettled([client.rest.put(route, { body: [command('Clip', '风 格', 'x'.repeat(101), 'xx-YY')] })]))[0]!,
  );
  assert.equal(refused.code, 50035);
  const errors = JSON.stringify(refused.rawError);
  assert.match(errors, /"name_localizations":\{"zh-CN":\{"_errors":\[\{"code":"APPLICATION_COMMAND_INVALID_NAME"/);
  assert.match(errors, /"options":\{"0":\{"name_localizations":\{"zh-CN":\{"_errors":\[\{"code":"APPLICATION_COMMAND_INVALID_NAME"/);
  assert.match(errors, /"description_localizations":\{"zh-CN":\{"_errors":\[\{"code":"BASE_TYPE_MAX_LENGTH"/);
  assert.match(errors, /"choices":\{"0":\{"name_localizations":\{"xx-YY":\{"_errors":\[\{"code":"BASE_TYPE_CHOICES"/);
  assert.deepEqual(fake.registeredCommands(), [], 'nothing was stored');

  // Chinese characters are letters; the maps come back in full only with with_localizations.
  await client.rest.put(route, { body: [command('剪辑', '风格')] });
  const [stored] = fake.registeredCommands();
  assert.deepEqual(stored.name_localizations, { 'zh-CN': '剪辑' });
  const plain = (await client.rest.get(route)) as any[];
  assert.ok(!JSON.stringify(plain).includes('_localizations'), 'no maps without with_localizations');
  const localized = (await client.rest.get(route, { headers: { 'X-Discord-Locale': 'zh-CN' } })) as any[];
  assert.equal(localized[0].name_localized, '剪辑');
  assert.equal(localized[0].options[0].description_localized, '风格');
  const fetched = await client.application!.commands.fetch({ withLocalizations: true });
  const clip = fetched.find((c) => c.name === 'clip')!;
  assert.deepEqual(clip.nameLocalizations, { 'zh-CN': '剪辑' });
  assert.deepEqual(clip.options[0]?.nameLocalizations, { 'zh-CN': '风格' });
  assert.ok(clip.equals(command('剪辑', '风格') as any, true), 'equal to what was sent');
  assert.ok(!clip.equals(command('剪辑', '样式') as any, true), 'a changed option translation is a change');
  await client.rest.put(route, { body: [] });
});

// --- user installs and interaction contexts --------------------------------------------------

/** A global command usable through both installations, everywhere. */
const everywhere = {
  name: 'clip',
  description: 'Make a clip',
  integration_types: [0, 1],
  contexts: [0, 1, 2],
  options: [{ type: 3, name: 'prompt', description: 'What to make' }],
};

/** Registers `definitions` globally for the duration of `run`, then removes them again. */
async function withGlobalCommands(definitions: unknown[], run: () => Promise<void>): Promise<void> {
  const route = Routes.applicationCommands(fake.applicationId);
  await client.rest.put(route, { body: definitions });
  try {
    await run();
  } finally {
    await client.rest.put(route, { body: [] });
  }
}

/** What a Discord call did: its status and code when it failed, 'ok' otherwise. */
async function outcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (error) {
    if (error instanceof DiscordAPIError) return `${error.status} ${error.code}`;
    throw error;
  }
}

/** The place-related part of a chat-input interaction as discord.js sees it. */
function seenPlace(i: ChatInputCommandInteraction) {
  return {
    context: i.context,
    owners: i.authorizingIntegrationOwners.toJSON(),
    ownerUserId: i.authorizingIntegrationOwners.userId,
    ownerGuildId: i.authorizingIntegrationOwners.guildId,
    guildId: i.guildId,
    hasMember: i.member !== null,
    appPermissions: i.appPermissions.bitfield,
  };
}

test('context and authorizing_integration_owners: server install by default, user install in the bot DM', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withGlobalCommands([everywhere], async () => {
    // The defaults: a server install in the fake's guild, and in the bot's DM.
    const inGuild = await fake.chatInput({ name: 'pika' });
    assert.equal(inGuild.payload.context, 0);
    assert.deepEqual(inGuild.payload.authorizing_integration_owners, { '0': fake.guildId });
    const inDm = await fake.chatInput({ name: 'clip', guildId: null });
    assert.equal(inDm.payload.context, 1);
    assert.deepEqual(inDm.payload.authorizing_integration_owners, { '0': '0' });
    await Promise.all([inGuild, inDm].map((i) => i.waitFor((x) => x.delivered)));

    // A user install in the bot DM: no guild, no member, and the DM channel works for the bot.
    const { interaction, result } = await invoke(
      async (i) => {
        await i.reply('hi');
        const sent = await outcome(i.client.rest.post(Routes.channelMessages(i.channelId!), { body: { content: 'in the DM' } }));
        return { ...seenPlace(i), sent };
      },
      { name: 'clip', installation: 'user', context: 'bot_dm' },
    );
    assert.deepEqual(valueOf(result), {
      context: 1,
      owners: { '1': fake.defaultUserId },
      ownerUserId: fake.defaultUserId,
      ownerGuildId: null,
      guildId: null,
      hasMember: false,
      appPermissions: DEFAULT_APP_PERMISSIONS,
      sent: 'ok',
    });
    assert.equal('guild_id' in interaction.payload, false);
    assert.equal(interaction.payload.user.id, fake.defaultUserId);
    assert.equal(interaction.payload.channel.type, 1);
    assert.equal(fake.channelMessages.at(-1)?.channel_id, interaction.payload.channel_id);
    assert.deepEqual(interaction.original?.interactionMetadata?.authorizing_integration_owners, { '1': fake.defaultUserId });
  });
});

test('a user-installed command in a private channel: only the interaction reaches it', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withGlobalCommands([everywhere], async () => {
    const { interaction, result } = await invoke(
      async (i) => {
        await i.deferReply();
        const channelId = i.channelId!;
        const attempts = {
          getChannel: await outcome(i.client.rest.get(Routes.channel(channelId))),
          post: await outcome(i.client.rest.post(Routes.channelMessages(channelId), { body: { content: 'x' } })),
          typing: await outcome(i.client.rest.post(Routes.channelTyping(channelId))),
        };
        await i.editReply('done');
        const followUp = await i.followUp('and more');
        const deleteThroughChannel = await outcome(i.client.rest.delete(Routes.channelMessage(channelId, followUp.id)));
        return { ...seenPlace(i), attempts, deleteThroughChannel };
      },
      { name: 'clip', installation: 'user', context: 'private_channel' },
    );
    assert.deepEqual(valueOf(result), {
      context: 2,
      owners: { '1': fake.defaultUserId },
      ownerUserId: fake.defaultUserId,
      ownerGuildId: null,
      guildId: null,
      hasMember: false,
      appPermissions: PRIVATE_CHANNEL_APP_PERMISSIONS,
      attempts: { getChannel: '403 50001', post: '403 50001', typing: '403 50001' },
      deleteThroughChannel: '403 50001',
    });
    assert.equal(interaction.payload.channel.type, 3, 'a group DM by default');
    assert.equal(interaction.original?.content, 'done');
    assert.equal(interaction.followups[0]?.deleted, false);

    // A DM between two users is a type 1 channel that is not the bot's DM.
    const dm = await fake.chatInput({ name: 'clip', installation: 'user', context: 'private_channel', privateChannelType: 'dm' });
    assert.equal(dm.payload.channel.type, 1);
    assert.notEqual(dm.payload.channel.recipients[0].id, fake.defaultUserId);
    const botDm = await fake.chatInput({ name: 'clip', installation: 'user', guildId: null });
    assert.notEqual(botDm.payload.channel_id, dm.payload.channel_id, 'the bot DM is another channel');
    await Promise.all([dm, botDm].map((i) => i.waitFor((x) => x.delivered)));
  });
});

test('a user-installed command in a server without the bot: narrow permissions, 403 on bot routes, the webhook works', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withGlobalCommands([everywhere], async () => {
    const { interaction, result } = await invoke(
      async (i) => {
        await i.deferReply();
        const attempts = {
          getChannel: await outcome(i.client.rest.get(Routes.channel(i.channelId!))),
          post: await outcome(i.client.rest.post(Routes.channelMessages(i.channelId!), { body: { content: 'x' } })),
          getGuild: await outcome(i.client.rest.get(Routes.guild(i.guildId!))),
          guildCommands: await outcome(i.client.rest.get(Routes.applicationGuildCommands(i.applicationId, i.guildId!))),
        };
        const edited = await i.editReply('your clip');
        const followUp = await i.followUp('one more');
        const channelEdits = {
          patch: await outcome(i.client.rest.patch(Routes.channelMessage(i.channelId!, followUp.id), { body: { content: 'y' } })),
          delete: await outcome(i.client.rest.delete(Routes.channelMessage(i.channelId!, followUp.id))),
        };
        await i.deleteReply(followUp.id);
        return {
          ...seenPlace(i),
          inGuild: i.inGuild(),
          cached: i.inCachedGuild(),
          attempts,
          channelEdits,
          edited: edited.content,
        };
      },
      { name: 'clip', installation: 'user', options: { prompt: 'x' } },
    );
    assert.deepEqual(valueOf(result), {
      context: 0,
      owners: { '1': fake.defaultUserId },
      ownerUserId: fake.defaultUserId,
      ownerGuildId: null,
      guildId: fake.guildWithoutBotId,
      hasMember: true,
      appPermissions: EXTERNAL_APP_PERMISSIONS,
      inGuild: true,
      cached: false,
      attempts: { getChannel: '403 50001', post: '403 50001', getGuild: '403 50001', guildCommands: '403 50001' },
      channelEdits: { patch: '403 50001', delete: '403 50001' },
      edited: 'your clip',
    });
    assert.equal(interaction.payload.channel_id, fake.channelWithoutBotId);
    assert.equal(interaction.payload.member.user.id, fake.defaultUserId);
    assert.equal(interaction.original?.content, 'your clip');
    assert.equal(interaction.followups[0]?.deleted, true, 'deleted through the interaction webhook');
    assert.equal(EXTERNAL_APP_PERMISSIONS, (1n << 15n) | (1n << 14n) | (1n << 17n) | (1n << 18n));

    // Another server without the bot, named by the test, behaves the same.
    const elsewhere = snowflake();
    const { result: other } = await invoke(
      async (i) => {
        const post = await outcome(i.client.rest.post(Routes.channelMessages(i.channelId!), { body: { content: 'x' } }));
        await i.reply('ok');
        return { guildId: i.guildId, post };
      },
      { name: 'clip', installation: 'user', guildId: elsewhere },
    );
    assert.deepEqual(valueOf(other), { guildId: elsewhere, post: '403 50001' });

    // Where the bot is in the server too, both installations authorize the command.
    const { interaction: both, result: bothResult } = await invoke(
      async (i) => {
        const post = await outcome(i.client.rest.post(Routes.channelMessages(i.channelId!), { body: { content: 'hello' } }));
        await i.reply('ok');
        return { ...seenPlace(i), post };
      },
      { name: 'clip', installation: 'user', botInGuild: true },
    );
    assert.deepEqual(valueOf(bothResult), {
      context: 0,
      owners: { '0': fake.guildId, '1': fake.defaultUserId },
      ownerUserId: fake.defaultUserId,
      ownerGuildId: fake.guildId,
      guildId: fake.guildId,
      hasMember: true,
      appPermissions: DEFAULT_APP_PERMISSIONS,
      post: 'ok',
    });
    assert.equal(both.payload.channel_id, fake.channelId);

    // A button on a user-install message is pressed in the same place; owners name the installer.
    const { interaction: withButtonReply, result: replied } = await invoke((i) => i.reply(withButton), {
      name: 'clip',
      installation: 'user',
    });
    valueOf(replied);
    const presser = snowflake();
    const pressed = await fake.component({ message: withButtonReply.original!, customId: 'open', userId: presser });
    assert.equal(pressed.payload.guild_id, fake.guildWithoutBotId);
    assert.equal(pressed.payload.member.user.id, presser);
    assert.deepEqual(pressed.payload.authorizing_integration_owners, { '1': fake.defaultUserId });
    assert.equal(pressed.payload.app_permissions, String(EXTERNAL_APP_PERMISSIONS));
    await pressed.waitFor((x) => x.delivered);
  });
});

test('forced ephemeral: every new response is ephemeral and pings nobody; edits stay as they are', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withGlobalCommands([everywhere], async () => {
    const alice = snowflake();
    const { interaction: replied, result: first } = await invoke(
      async (i) => {
        const response = await i.reply({ content: `<@${alice}> here it is`, withResponse: true });
        const followUp = await i.followUp(`<@${alice}> and another`);
        return {
          responseEphemeral: response.interaction.responseMessageEphemeral,
          messageFlags: response.resource?.message?.flags.bitfield,
          followUpFlags: followUp.flags.bitfield,
        };
      },
      { name: 'clip', installation: 'user', forceEphemeral: true },
    );
    assert.deepEqual(valueOf(first), { responseEphemeral: true, messageFlags: 64, followUpFlags: 64 });
    assert.equal(replied.ephemeral, false, 'the bot did not ask for it');
    assert.equal(replied.original!.flags & 64, 64);
    assert.equal(replied.followups[0]!.flags & 64, 64);

    const { interaction: deferred, result: second } = await invoke(
      async (i) => {
        await i.deferReply();
        await i.followUp(`<@${alice}> filled in`);
        await i.followUp(`<@${alice}> a new one`);
      },
      { name: 'clip', installation: 'user', forceEphemeral: true },
    );
    valueOf(second);
    assert.equal(deferred.original!.flags & 64, 64, 'the deferral was made ephemeral');
    assert.equal(deferred.original!.content, `<@${alice}> filled in`);
    assert.equal(deferred.followups[0]!.flags & 64, 64);
    assert.deepEqual(fake.notificationsFor(alice), [], 'ephemeral messages never notify');

    // Without forceEphemeral, the same user install pings as usual.
    const { interaction: normal, result: third } = await invoke((i) => i.reply(`<@${alice}> public`), {
      name: 'clip',
      installation: 'user',
    });
    valueOf(third);
    assert.equal(normal.original!.flags & 64, 0);
    assert.deepEqual(fake.notificationsFor(alice).map((n) => n.messageId), [normal.original!.id]);

    // Discord only forces it on a user install in a server without the bot.
    await assert.rejects(fake.chatInput({ name: 'clip', forceEphemeral: true }), /forceEphemeral/);
    await assert.rejects(fake.chatInput({ name: 'clip', installation: 'user', guildId: null, forceEphemeral: true }), /forceEphemeral/);
  });
});

test('a user install runs only global commands that allow it, where they allow it', { timeout: TEST_TIMEOUT_MS }, async () => {
  const guildOnly = { ...everywhere, name: 'serveronly', integration_types: [0], contexts: [0, 1, 2] };
  const notInGroups = { ...everywhere, name: 'nogroups', contexts: [0, 1] };
  const legacy = { name: 'legacy', description: 'No integration_types or contexts' };
  await withGlobalCommands([everywhere, guildOnly, notInGroups, legacy], async () => {
    // /pika is a guild command: it belongs to the server-installed app in that guild.
    await assert.rejects(fake.chatInput({ name: 'pika', installation: 'user' }), /\/pika .*guild command/);
    await assert.rejects(fake.chatInput({ name: 'pika', installation: 'user', botInGuild: true }), /guild command/);
    await assert.rejects(fake.chatInput({ name: 'nosuch', installation: 'user' }), /no global command/);
    await assert.rejects(fake.chatInput({ name: 'serveronly', installation: 'user' }), /integration_types are \[0\]/);
    await assert.rejects(fake.chatInput({ name: 'legacy', installation: 'user', guildId: null }), /integration_types are \[0\]/);
    await assert.rejects(
      fake.chatInput({ name: 'nogroups', installation: 'user', context: 'private_channel' }),
      /contexts are \[0,1\], without 2/,
    );
    await assert.rejects(fake.autocomplete({ name: 'serveronly', installation: 'user', focused: 'prompt' }), /integration_types/);

    // Places Discord cannot produce are test bugs too.
    await assert.rejects(fake.chatInput({ name: 'clip', context: 'private_channel' }), /server-installed app cannot be used in a private channel/);
    await assert.rejects(fake.chatInput({ name: 'clip', installation: 'user', guildId: fake.guildId }), /the bot is in guild/);
    await assert.rejects(fake.chatInput({ name: 'clip', guildId: fake.guildWithoutBotId }), /not in guild/);
    await assert.rejects(fake.chatInput({ name: 'clip', context: 'guild', guildId: null }), /guildId: null/);

    // What is allowed is dispatched, including a command where "0" is absent although the bot is there.
    const allowed = [
      await fake.chatInput({ name: 'nogroups', installation: 'user', guildId: null }),
      await fake.chatInput({ name: 'serveronly', guildId: null }),
      await fake.autocomplete({ name: 'clip', installation: 'user', context: 'private_channel', focused: 'prompt' }),
    ];
    assert.deepEqual(
      allowed.map((i) => [i.payload.context, i.payload.authorizing_integration_owners]),
      [
        [1, { '1': fake.defaultUserId }],
        [1, { '0': '0' }],
        [2, { '1': fake.defaultUserId }],
      ],
    );
    await Promise.all(allowed.map((i) => i.waitFor((x) => x.delivered)));
  });
  const userOnly = { ...everywhere, name: 'mine', integration_types: [1] };
  await withGlobalCommands([userOnly], async () => {
    const mine = await fake.chatInput({ name: 'mine', installation: 'user', botInGuild: true });
    assert.deepEqual(mine.payload.authorizing_integration_owners, { '1': fake.defaultUserId }, 'the command has no server install');
    await mine.waitFor((x) => x.delivered);
  });
});

test('registration: integration_types and contexts are checked, stored and returned', { timeout: TEST_TIMEOUT_MS }, async () => {
  const route = Routes.applicationCommands(fake.applicationId);
  const refused = apiErrorOf(
    (
      await Promise.allSettled([
        client.rest.put(route, {
          body: [
            { ...everywhere, integration_types: [0, 2], contexts: [0, 3] },
            { ...everywhere, name: 'other', integration_types: 1, contexts: 'everywhere' },
          ],
        }),
      ])
    )[0]!,
  );
  assert.equal(refused.status, 400);
  assert.equal(refused.code, 50035);
  const errors = (refused.rawError as any).errors;
  assert.equal(errors[0].integration_types[1]._errors[0].code, 'BASE_TYPE_CHOICES');
  assert.equal(errors[0].contexts[1]._errors[0].code, 'BASE_TYPE_CHOICES');
  assert.equal(errors[0].integration_types[0], undefined, '0 is fine');
  assert.equal(errors[1].integration_types._errors[0].code, 'LIST_TYPE_CONVERT');
  assert.equal(errors[1].contexts._errors[0].code, 'LIST_TYPE_CONVERT');
  assert.deepEqual(fake.registeredCommands(), [], 'nothing was stored');

  const single = apiErrorOf(
    (await Promise.allSettled([client.rest.post(route, { body: { ...everywhere, contexts: [-1] } })]))[0]!,
  );
  assert.equal(single.code, 50035);

  await withGlobalCommands([everywhere, { name: 'plain', description: 'Defaults' }], async () => {
    const listed = (await client.rest.get(route)) as any[];
    assert.deepEqual(
      listed.map((c) => [c.name, c.integration_types, c.contexts]),
      [
        ['clip', [0, 1], [0, 1, 2]],
        ['plain', [0], null],
      ],
    );
    const fetched = await client.application!.commands.fetch({ force: true });
    const clip = fetched.find((c) => c.name === 'clip')!;
    assert.deepEqual(clip.integrationTypes, [0, 1]);
    assert.deepEqual(clip.contexts, [0, 1, 2]);
    // Editing keeps them, and is checked the same way.
    const edited = (await client.rest.patch(Routes.applicationCommand(fake.applicationId, clip.id), {
      body: { contexts: [1] },
    })) as any;
    assert.deepEqual([edited.integration_types, edited.contexts], [[0, 1], [1]]);
    const badEdit = apiErrorOf(
      (
        await Promise.allSettled([
          client.rest.patch(Routes.applicationCommand(fake.applicationId, clip.id), { body: { integration_types: [5] } }),
        ])
      )[0]!,
    );
    assert.equal(badEdit.code, 50035);
  });
});

test('shardFor routes a guild to (id >> 22) % count and DMs to shard 0', () => {
  assert.equal(shardFor(null, 4), 0);
  assert.equal(shardFor('41771983423143937', 1), 0);
  // 41771983423143937 >> 22 = 9959216934.
  assert.equal(shardFor('41771983423143937', 4), 2);
  assert.equal(shardFor('41771983423143937', 3), 0);
  assert.equal(shardFor('41771983423143937', 7), 2);
  // Only the timestamp bits count: two ids made in the same millisecond share a shard.
  const at = Date.UTC(2025, 0, 1);
  assert.equal(shardFor(snowflake(at), 16), shardFor(snowflake(at), 16));
  assert.throws(() => shardFor('41771983423143937', 0), RangeError);
  assert.throws(() => shardFor('not-a-snowflake', 2), TypeError);
});

// --- shards ------------------------------------------------------------------------------------

describe('shards', () => {
  /** A real discord.js client running some shards, answering every command with `from <name>`. */
  interface ShardClient {
    name: string;
    client: Client;
    /** Ids of the interactions it received, in order. */
    received: string[];
    /** How its reply went, by interaction id: 'ok', or the status and code it got. */
    outcomes: Map<string, string>;
  }

  const guildOnShard0 = snowflakeOnShard(0, 2);
  const guildOnShard1 = snowflakeOnShard(1, 2);
  const channelOnShard1 = snowflake();
  /** Driven by real clients (2 shards recommended, the fake's guild on shard 0). */
  let sharded: FakeDiscord;
  /** Driven by hand over bare sockets, with no client of its own. */
  let bare: FakeDiscord;
  const clients: ShardClient[] = [];
  let shard0: ShardClient;
  let shard1: ShardClient;

  before(async () => {
    [sharded, bare] = await Promise.all([
      FakeDiscord.start({ botToken: BOT_TOKEN, recommendedShards: 2, guildId: guildOnShard0, interactionResponseDeadlineMs: DEADLINE_MS }),
      FakeDiscord.start({ botToken: BOT_TOKEN, guildId: guildOnShard0 }),
    ]);
    shard0 = await connect('shard 0', { shards: [0], shardCount: 2 });
  });

  after(async () => {
    await Promise.all(clients.map(({ client }) => client.destroy()));
    await Promise.all([sharded?.close(), bare?.close()]);
  });

  async function connect(name: string, options: Pick<ClientOptions, 'shards' | 'shardCount'>): Promise<ShardClient> {
    const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: sharded.apiUrl }, ...options });
    const shardClient: ShardClient = { name, client, received: [], outcomes: new Map() };
    clients.push(shardClient);
    client.on(Events.InteractionCreate, async (interaction) => {
      shardClient.received.push(interaction.id);
      if (interaction.isChatInputCommand()) shardClient.outcomes.set(interaction.id, await outcome(interaction.reply(`from ${name}`)));
    });
    const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
    await client.login(BOT_TOKEN);
    await ready;
    return shardClient;
  }

  const inGuildOnShard1 = { name: 'pika', guildId: guildOnShard1, channelId: channelOnShard1 };
  const shardsOf = (interaction: FakeInteraction) => interaction.deliveries.map((delivery) => delivery.shard);
  const sessionsOf = (fake: FakeDiscord) => fake.gatewaySessions().map(({ shard, connected }) => ({ shard, connected }));
  const answered = (interaction: FakeInteraction) => interaction.waitFor((i) => i.original !== undefined);

  test('an interaction for a shard nobody runs is held until it identifies; each shard gets only its guilds', { timeout: TEST_TIMEOUT_MS }, async () => {
    assert.deepEqual([shardFor(guildOnShard0, 2), shardFor(guildOnShard1, 2)], [0, 1]);
    const early = await sharded.chatInput(inGuildOnShard1);
    await sleep(100);
    assert.deepEqual(early.deliveries, [], 'shard 0 did not get it');

    shard1 = await connect('shard 1', { shards: [1], shardCount: 2 });
    await answered(early);
    assert.equal(early.original?.content, 'from shard 1');
    assert.deepEqual(sessionsOf(sharded), [
      { shard: [0, 2], connected: true },
      { shard: [1, 2], connected: true },
    ]);

    const onShard0 = await sharded.chatInput({ name: 'pika' });
    const onShard1 = await sharded.chatInput(inGuildOnShard1);
    await Promise.all([onShard0, onShard1].map(answered));
    assert.deepEqual([onShard0.original?.content, onShard1.original?.content], ['from shard 0', 'from shard 1']);
    assert.deepEqual([shardsOf(onShard0), shardsOf(onShard1)], [[[0, 2]], [[1, 2]]]);
    assert.deepEqual(shard0.received, [onShard0.id]);
    assert.deepEqual(shard1.received, [early.id, onShard1.id]);

    // READY and GUILD_CREATE announce a guild only to its shard.
    assert.deepEqual([...shard0.client.guilds.cache.keys()], [guildOnShard0]);
    assert.equal(shard0.client.guilds.cache.get(guildOnShard0)?.shardId, 0);
    assert.equal(shard1.client.guilds.cache.size, 0);
  });

  test('a DM goes to shard 0', { timeout: TEST_TIMEOUT_MS }, async () => {
    const dm = await sharded.chatInput({ name: 'pika', guildId: null });
    await answered(dm);
    assert.equal(dm.original?.content, 'from shard 0');
    assert.deepEqual(shardsOf(dm), [[0, 2]]);
    assert.ok(!shard1.received.includes(dm.id));
  });

  test("shards: 'auto' runs the recommended shards; two sessions of a shard both get its events, one callback wins", { timeout: TEST_TIMEOUT_MS }, async () => {
    const gateway = (await shard0.client.rest.get(Routes.gatewayBot())) as any;
    assert.equal(gateway.shards, 2);
    assert.equal(gateway.url, sharded.gatewayUrl);
    assert.ok(gateway.session_start_limit.max_concurrency >= 2, 'both shards may identify at once');

    const auto = await connect('auto', { shards: 'auto' });
    try {
      assert.equal(auto.client.options.shardCount, 2);
      assert.deepEqual([...auto.client.ws.shards.keys()].sort(), [0, 1]);
      assert.equal(auto.client.guilds.cache.get(guildOnShard0)?.shardId, 0);
      assert.deepEqual(
        sessionsOf(sharded).map(({ shard }) => shard).sort(),
        [[0, 2], [0, 2], [1, 2], [1, 2]],
        'the running sessions stay, as in a rolling deploy',
      );

      const onShard0 = await sharded.chatInput({ name: 'pika' });
      const onShard1 = await sharded.chatInput(inGuildOnShard1);
      const triedBy = (interaction: FakeInteraction) => clients.filter((c) => c.outcomes.has(interaction.id));
      await until(() => triedBy(onShard0).length === 2 && triedBy(onShard1).length === 2, 'both sessions of each shard to reply');
      for (const [interaction, shard, shardClient] of [[onShard0, [0, 2], shard0], [onShard1, [1, 2], shard1]] as const) {
        assert.deepEqual(shardsOf(interaction), [shard, shard]);
        assert.equal(new Set(interaction.deliveries.map((delivery) => delivery.sessionId)).size, 2);
        assert.deepEqual(triedBy(interaction).map((c) => c.name).sort(), ['auto', shardClient.name].sort());
        const outcomes = triedBy(interaction).map((c) => c.outcomes.get(interaction.id));
        assert.deepEqual(outcomes.sort(), ['400 40060', 'ok'], 'exactly one reply was accepted');
        const winner = triedBy(interaction).find((c) => c.outcomes.get(interaction.id) === 'ok')!;
        assert.equal(interaction.original?.content, `from ${winner.name}`);
        assert.equal(interaction.callbacks.length, 1);
      }
    } finally {
      // discord.js leaves with close code 1000, which ends its sessions: Discord invalidates them.
      await auto.client.destroy();
      clients.splice(clients.indexOf(auto), 1);
    }
    await sharded.waitFor((f) => f.gatewaySessions().length === 2, 5000, "the 'auto' sessions to end");
    assert.deepEqual(sessionsOf(sharded), [
      { shard: [0, 2], connected: true },
      { shard: [1, 2], connected: true },
    ]);
  });

  test('disconnectGateway(code, shard) drops only that shard; its client resumes and gets what it missed', { timeout: TEST_TIMEOUT_MS }, async () => {
    const sessionIds = sharded.gatewaySessions().map((session) => session.id);
    const [identifies, resumes] = [sharded.identifies, sharded.resumes];
    sharded.disconnectGateway(4000, 1);
    const missed = await sharded.chatInput(inGuildOnShard1);
    assert.deepEqual(sessionsOf(sharded), [
      { shard: [0, 2], connected: true },
      { shard: [1, 2], connected: false },
    ]);
    await sharded.waitFor((f) => f.resumes === resumes + 1 && f.gatewaySessions().every((s) => s.connected), 10_000, 'shard 1 to resume');
    await answered(missed);
    assert.equal(missed.original?.content, 'from shard 1');
    assert.deepEqual(shardsOf(missed), [[1, 2]]);
    assert.equal(sharded.identifies, identifies, 'resumed, did not identify again');
    assert.deepEqual(sharded.gatewaySessions().map((session) => session.id), sessionIds);
    assert.throws(() => sharded.disconnectGateway(4000, 5), /no client is connected to the gateway on shard 5/);
  });

  test('IDENTIFY with an invalid shard is closed with 4010; without one it is [0, 1]', { timeout: TEST_TIMEOUT_MS }, async () => {
    for (const shard of [[2, 2], [0, 0], [-1, 2], [0.5, 2], ['0', '2'], [0], 'all']) {
      const connection = new BareGatewayConnection(bare.gatewayUrl);
      await connection.identify(shard);
      assert.deepEqual(await connection.closed, { code: 4010, reason: 'Invalid shard.' }, JSON.stringify(shard));
    }
    assert.equal(bare.identifies, 0);

    const unsharded = new BareGatewayConnection(bare.gatewayUrl);
    await unsharded.identify();
    const ready = await unsharded.dispatch('READY');
    assert.deepEqual(ready.shard, [0, 1]);
    assert.deepEqual(ready.guilds, [{ id: guildOnShard0, unavailable: true }]);
    assert.deepEqual(sessionsOf(bare), [{ shard: [0, 1], connected: true }]);
    await unsharded.close(1000);
    await bare.waitFor((f) => f.gatewaySessions().length === 0, 5000, 'close code 1000 to end the session');
  });

  test("a fresh IDENTIFY takes over its own shard's undelivered events only; the other shard's wait for RESUME", { timeout: TEST_TIMEOUT_MS }, async () => {
    const first = [new BareGatewayConnection(bare.gatewayUrl), new BareGatewayConnection(bare.gatewayUrl)];
    await Promise.all(first.map((connection, shardId) => connection.identify([shardId, 2])));
    const [ready0, ready1] = await Promise.all(first.map((connection) => connection.dispatch('READY')));
    assert.deepEqual([ready0.shard, ready0.guilds], [[0, 2], [{ id: guildOnShard0, unavailable: true }]]);
    assert.deepEqual([ready1.shard, ready1.guilds], [[1, 2], []]);
    await first[0]!.dispatch('GUILD_CREATE');
    assert.ok(!first[1]!.dispatches.some((dispatch) => dispatch.t === 'GUILD_CREATE'), 'no GUILD_CREATE for shard 1');

    // Both drop without ending their sessions; what happens meanwhile is held in their logs.
    await Promise.all(first.map((connection) => connection.close(4000)));
    await bare.waitFor((f) => f.gatewaySessions().every((s) => !s.connected), 5000, 'both sessions to disconnect');
    const onShard0 = await bare.chatInput({ name: 'pika' });
    const onShard1 = await bare.chatInput(inGuildOnShard1);

    const fresh1 = new BareGatewayConnection(bare.gatewayUrl);
    await fresh1.identify([1, 2]);
    const taken = await fresh1.dispatch('INTERACTION_CREATE');
    assert.equal(taken.id, onShard1.id);
    assert.deepEqual(shardsOf(onShard1), [[1, 2]]);
    assert.equal(onShard0.delivered, false, 'shard 0 events stay with shard 0');
    assert.deepEqual(
      bare.gatewaySessions().map((session) => [session.id === ready0.session_id, session.shard, session.connected]),
      [
        [true, [0, 2], false],
        [false, [1, 2], true],
      ],
      'the old shard 1 session was replaced; the old shard 0 session can still resume',
    );

    const resumed0 = new BareGatewayConnection(bare.gatewayUrl);
    await resumed0.resume(ready0.session_id, first[0]!.lastSequence());
    assert.equal((await resumed0.dispatch('INTERACTION_CREATE')).id, onShard0.id);
    assert.deepEqual(shardsOf(onShard0), [[0, 2]]);
    assert.ok(!fresh1.dispatches.some((dispatch) => dispatch.d?.id === onShard0.id));

    // However many sessions got it, one callback wins, even when they arrive together.
    const callbacks = await Promise.all(
      Array.from({ length: 5 }, () =>
        fetch(`${bare.apiUrl}/v10/interactions/${onShard0.id}/${onShard0.token}/callback`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 4, data: { content: 'mine' } }),
        }).then(async (response) => (response.status === 204 ? 'ok' : `${response.status} ${((await response.json()) as { code: number }).code}`)),
      ),
    );
    assert.deepEqual(callbacks.sort(), ['400 40060', '400 40060', '400 40060', '400 40060', 'ok']);
    assert.equal(onShard0.callbacks.length, 1);

    const stale1 = new BareGatewayConnection(bare.gatewayUrl);
    await stale1.resume(ready1.session_id, first[1]!.lastSequence());
    assert.deepEqual(await stale1.invalidSession(), false, 'a replaced session cannot be resumed');
    await Promise.all([fresh1, resumed0, stale1].map((connection) => connection.close(1000)));
  });
});

/** A gateway connection driven by hand, for what discord.js does not do, or not quickly. */
class BareGatewayConnection {
  readonly dispatches: Array<{ t: string; s: number; d: any }> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly socket: WebSocket;
  private readonly hello: Promise<void>;
  private invalidSessionPayload: unknown;

  constructor(url: string) {
    this.socket = new WebSocket(`${url}?v=10&encoding=json`);
    this.hello = new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.on('message', (raw) => {
        const payload = JSON.parse(String(raw));
        if (payload.op === 10) resolve();
        if (payload.op === 9) this.invalidSessionPayload = payload.d;
        if (payload.op === 0) this.dispatches.push(payload);
      });
    });
    this.closed = new Promise((resolve) => this.socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  async identify(shard?: unknown): Promise<void> {
    const properties = { os: 'linux', browser: 'bare', device: 'bare' };
    await this.send(2, { token: BOT_TOKEN, intents: GatewayIntentBits.Guilds, properties, ...(shard === undefined ? {} : { shard }) });
  }

  async resume(sessionId: string, seq: number): Promise<void> {
    await this.send(6, { token: BOT_TOKEN, session_id: sessionId, seq });
  }

  lastSequence(): number {
    return this.dispatches.at(-1)?.s ?? 0;
  }

  /** The `d` of the first dispatch of type `t`, once it arrived. */
  async dispatch(t: string): Promise<any> {
    await until(() => this.dispatches.some((dispatch) => dispatch.t === t), `a ${t} dispatch`);
    return this.dispatches.find((dispatch) => dispatch.t === t)!.d;
  }

  async invalidSession(): Promise<unknown> {
    await until(() => this.invalidSessionPayload !== undefined, 'op 9 Invalid Session');
    return this.invalidSessionPayload;
  }

  close(code: number): Promise<{ code: number; reason: string }> {
    this.socket.close(code);
    return this.closed;
  }

  private async send(op: number, d: unknown): Promise<void> {
    await this.hello;
    this.socket.send(JSON.stringify({ op, d }));
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

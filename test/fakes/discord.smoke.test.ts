/**
 * Proves the fake Discord is good enough for the real discord.js client: it logs in unchanged,
 * registers commands, answers interactions, and gets Discord's errors where Discord would give them.
 */
import { after, before, test } from 'node:test';
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
  type ChatInputCommandInteraction,
  type Interaction,
  type ModalSubmitInteraction,
} from 'discord.js';
import {
  FakeDiscord,
  snowflake,
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
  const settled = new Promise<PromiseSettledResult<unknown>>((settle) => {
    nextBehaviour = { accepts, run: behaviour, settle };
  });
  const interaction = await dispatch();
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

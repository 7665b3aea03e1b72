import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixture, startWorld, waitSettled, everythingTheBotSaid, type World } from '../support/world.js';

describe('main path: /pika text, image and ingredients end to end', () => {
  let world: World;
  let tinyMp4: Buffer;
  let png: Buffer;

  before(async () => {
    world = await startWorld();
    tinyMp4 = await fixture('tiny.mp4');
    png = await fixture('image.png');
  });
  after(async () => {
    await world?.close();
  });

  test('registers one /pika command with the three subcommands and the exact option names', () => {
    const registered = world.discord.registeredCommands(world.discord.guildId);
    assert.deepEqual(registered.map((c: any) => c.name).sort(), ['pika', 'pika-admin']);
    const pika = registered.find((c: any) => c.name === 'pika');
    const subcommands = Object.fromEntries(pika.options.map((o: any) => [o.name, (o.options ?? []).map((x: any) => x.name)]));
    assert.deepEqual(subcommands, {
      text: ['prompt', 'model', 'aspect_ratio', 'negative_prompt', 'frame_rate', 'guidance_scale', 'motion', 'pikaffect', 'camera'],
      image: ['image', 'prompt', 'model', 'negative_prompt', 'frame_rate', 'guidance_scale', 'motion', 'pikaffect', 'camera'],
      ingredients: [
        'image1', 'image2', 'prompt', 'image3', 'image4', 'image5', 'image6', 'mode', 'aspect_ratio',
        'negative_prompt', 'frame_rate', 'guidance_scale', 'motion', 'pikaffect', 'camera',
      ],
      quota: [],
      history: [],
      show: ['id'],
    });
    for (const sub of pika.options.filter((o: any) => !['quota', 'history', 'show'].includes(o.name))) {
      const required = sub.options.map((o: any) => Boolean(o.required));
      const firstOptional = required.indexOf(false);
      assert.ok(firstOptional === -1 || !required.slice(firstOptional).includes(true), `required options come first in ${sub.name}`);
      const prompt = sub.options.find((o: any) => o.name === 'prompt');
      assert.equal(prompt.max_length, 2000);
    }
    const text = pika.options.find((o: any) => o.name === 'text');
    const option = (name: string) => text.options.find((o: any) => o.name === name);
    assert.deepEqual(option('model').choices.map((c: any) => c.value), ['1.5', '2.0']);
    assert.deepEqual(option('aspect_ratio').choices.map((c: any) => c.value), ['16:9', '9:16', '1:1', '4:5', '4:3', '3:4', '5:2']);
    assert.deepEqual([option('frame_rate').min_value, option('frame_rate').max_value], [8, 24]);
    assert.deepEqual([option('guidance_scale').min_value, option('guidance_scale').max_value], [5, 25]);
    assert.deepEqual([option('motion').min_value, option('motion').max_value], [0, 4]);
    assert.equal(option('pikaffect').autocomplete, true);
    assert.deepEqual(option('camera').choices.map((c: any) => c.name), [
      'zoom in', 'zoom out', 'pan left', 'pan right', 'tilt up', 'tilt down', 'rotate clockwise', 'rotate counter-clockwise',
    ]);
  });

  test('every command, group, subcommand, option and choice is registered in English and Simplified Chinese', async () => {
    const registered = world.discord.registeredCommands(world.discord.guildId);
    // English exactly as before the translations: the canonical names the code reads options by.
    const english = JSON.parse((await fixture('commands.en-US.json')).toString('utf8'));
    const withoutLocalizations = (value: any): any =>
      Array.isArray(value)
        ? value.map(withoutLocalizations)
        : value && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).filter(([key]) => !key.endsWith('_localizations')).map(([key, v]) => [key, withoutLocalizations(v)]))
          : value;
    const sorted = [...registered].sort((a: any, b: any) => a.name.localeCompare(b.name));
    assert.deepEqual(sorted.map(({ name, description, options }: any) => withoutLocalizations({ name, description, options })), english);

    const NAME = /^[-_\p{L}\p{N}]{1,32}$/u;
    const HAN = /\p{sc=Han}/u;
    let checked = 0;
    const checkName = (where: string, item: any) => {
      const zh = item.name_localizations?.['zh-CN'];
      assert.equal(typeof zh, 'string', `${where} has a zh-CN name`);
      assert.ok(NAME.test(zh) && zh === zh.toLowerCase(), `${where}: "${zh}" breaks Discord's name rules`);
      assert.ok(!HAN.test(item.name), `${where}: the English name has no Chinese`);
    };
    const checkDescription = (where: string, item: any) => {
      const zh = item.description_localizations?.['zh-CN'];
      assert.equal(typeof zh, 'string', `${where} has a zh-CN description`);
      assert.ok([...zh].length >= 1 && [...zh].length <= 100, `${where}: the zh-CN description is 1–100 characters`);
      assert.ok(HAN.test(zh), `${where}: "${zh}" is written in Chinese`);
      assert.ok(!HAN.test(item.description), `${where}: the English description has no Chinese`);
    };
    const checkSiblings = (where: string, items: any[]) => {
      const names = items.map((item) => item.name_localizations['zh-CN']);
      assert.equal(new Set(names).size, names.length, `${where}: zh-CN names are unique among siblings (${names.join(', ')})`);
    };
    const walk = (where: string, item: any) => {
      checkName(where, item);
      checkDescription(where, item);
      checked += 1;
      for (const choice of item.choices ?? []) {
        const zh = choice.name_localizations?.['zh-CN'];
        assert.equal(typeof zh, 'string', `${where} choice ${choice.name} has a zh-CN name`);
        assert.ok([...zh].length >= 1 && [...zh].length <= 100, `${where} choice ${choice.name}: 1–100 characters`);
        checked += 1;
      }
      if (item.choices) checkSiblings(`${where} choices`, item.choices);
      if (item.options) {
        checkSiblings(where, item.options);
        for (const option of item.options) walk(`${where} ${option.name}`, option);
      }
    };
    checkSiblings('commands', registered);
    for (const command of registered) walk(`/${command.name}`, command);
    assert.ok(checked > 100, `every level was checked (${checked})`);

    // What a Chinese client shows, spot-checked.
    const pika = registered.find((c: any) => c.name === 'pika');
    const text = pika.options.find((o: any) => o.name === 'text');
    const prompt = text.options.find((o: any) => o.name === 'prompt');
    assert.equal(prompt.name_localizations['zh-CN'], '提示词');
    const camera = text.options.find((o: any) => o.name === 'camera');
    assert.ok(camera.choices.every((c: any) => HAN.test(c.name_localizations['zh-CN'])), 'camera moves are worded in Chinese');
    assert.equal(registered.find((c: any) => c.name === 'pika-admin').name_localizations['zh-CN'], 'pika-管理');
  });

  test('/pika text with every option: deferred publicly, live progress, then the mp4 with its seed', async () => {
    const seed = 3183047765;
    world.pika.nextTask({ seed, duration: 5 });
    const before = world.pika.generateCalls.length;
    const interaction = await world.discord.chatInput({
      name: 'pika',
      subcommand: 'text',
      options: {
        prompt: 'A red fox **jumps** over @everyone',
        negative_prompt: 'blurry',
        model: '2.0',
        aspect_ratio: '9:16',
        frame_rate: 12,
        guidance_scale: 7.5,
        motion: 3,
        pikaffect: 'Melt',
        camera: 'rotate_ccw',
      },
    });
    await waitSettled(interaction);

    const [first] = interaction.callbacks;
    assert.equal(first?.type, 5, 'the command is deferred');
    assert.equal(interaction.ephemeral, false, 'the deferral is public');
    assert.ok(interaction.firstResponseAt! - interaction.dispatchedAt < 3000);

    const calls = world.pika.generateCalls.slice(before);
    assert.equal(calls.length, 1, 'exactly one generate call');
    assert.deepEqual(calls[0]!.body, {
      pikaffect: 'Melt',
      promptText: 'A red fox **jumps** over @everyone',
      model: '2.0',
      options: {
        aspectRatio: 9 / 16,
        frameRate: 12,
        camera: { rotate: 'ccw' },
        parameters: { guidanceScale: 7.5, motion: 3, negativePrompt: 'blurry' },
        extend: false,
      },
    });
    assert.equal(calls[0]!.headers.authorization, `Bearer ${world.secrets.apiKey}`);

    const edits = world.discord.requests.filter((r) => r.method === 'PATCH' && r.route.includes(`/${interaction.token}/messages/@original`));
    const progressEdits = edits.filter((r) => r.files.length === 0);
    const shown = progressEdits.map((r) => r.json.embeds[0]);
    assert.ok(shown.some((e: any) => e.fields.some((f: any) => f.name === 'Progress' && /▰.*\d+%/.test(f.value))), 'a progress bar with a percentage');
    assert.ok(shown.some((e: any) => /\b(40|70)%/.test(JSON.stringify(e.fields))), 'intermediate progress is shown');
    assert.ok(shown.some((e: any) => e.thumbnail?.url?.endsWith('/poster.jpg')), 'the poster appears once the feed has one');
    assert.ok(shown.every((e: any) => e.fields.some((f: any) => f.name === 'Elapsed')), 'elapsed time on every progress view');
    assert.ok(shown.every((e: any) => e.description.includes('red fox')), 'the prompt on every progress view');
    assert.ok(shown.every((e: any) => JSON.stringify(e.fields).includes('Melt') && JSON.stringify(e.fields).includes('2.0')), 'model and effect shown');
    for (const edit of edits) assert.deepEqual(edit.json.allowed_mentions?.parse, [], 'no edit can ping @everyone');

    const final = interaction.original!;
    assert.equal(final.attachments.length, 1);
    assert.equal(final.attachments[0]!.filename, `pika-${seed}.mp4`);
    assert.ok(final.attachments[0]!.data.equals(tinyMp4), 'the uploaded bytes are the video from the CDN');
    const embed = final.embeds[0];
    assert.match(embed.title, /done/);
    assert.ok(JSON.stringify(embed.fields).includes(String(seed)), 'the seed is shown');
    assert.ok(JSON.stringify(embed.fields).includes('5 s'), 'the duration is shown');
    assert.ok(embed.description.includes('red fox \\*\\*jumps\\*\\* over \\@everyone'), 'the prompt is shown escaped');
    assert.deepEqual(final.allowed_mentions, { parse: [], users: [interaction.payload.member.user.id] });
  });

  test('/pika image sends the attachment URL and no aspectRatio', async () => {
    const before = world.pika.generateCalls.length;
    const interaction = await world.discord.chatInput({
      name: 'pika',
      subcommand: 'image',
      options: { prompt: 'make it wave', motion: 2 },
      attachments: { image: { filename: 'cat.png', data: png, contentType: 'image/png' } },
    });
    await waitSettled(interaction);
    const [call] = world.pika.generateCalls.slice(before);
    const imageUrl = interaction.payload.data.resolved.attachments[interaction.payload.data.options[0].options.find((o: any) => o.name === 'image').value].url;
    assert.deepEqual(call!.body, {
      pikaffect: '',
      promptText: 'make it wave',
      model: '1.5',
      options: { frameRate: 24, camera: {}, parameters: { guidanceScale: 12, motion: 2, negativePrompt: '' }, extend: false },
      image: imageUrl,
    });
    assert.match(interaction.original!.embeds[0].title, /done/);
  });

  test('/pika ingredients sends ingredient[], model 2.0 and the mode, and no image key', async () => {
    const before = world.pika.generateCalls.length;
    const jpg = await fixture('image.jpg');
    const interaction = await world.discord.chatInput({
      name: 'pika',
      subcommand: 'ingredients',
      options: { prompt: 'pick it', mode: 'creative' },
      attachments: {
        image1: { filename: 'a.png', data: png, contentType: 'image/png' },
        image2: { filename: 'b.jpg', data: jpg, contentType: null },
        image3: { filename: 'c.png', data: png, contentType: 'image/png' },
      },
    });
    await waitSettled(interaction);
    const [call] = world.pika.generateCalls.slice(before);
    const resolved = interaction.payload.data.resolved.attachments;
    const optionValue = (name: string) => interaction.payload.data.options[0].options.find((o: any) => o.name === name).value;
    assert.deepEqual(call!.body, {
      pikaffect: '',
      promptText: 'pick it',
      model: '2.0',
      options: {
        aspectRatio: 16 / 9,
        frameRate: 24,
        camera: {},
        parameters: { guidanceScale: 12, motion: 1, negativePrompt: '' },
        extend: false,
        'ingredients-mode': 'creative',
      },
      ingredient: ['image1', 'image2', 'image3'].map((name) => resolved[optionValue(name)].url),
    });
    assert.match(interaction.original!.embeds[0].title, /done/);
  });

  test('a video over the channel upload limit is linked instead of attached', async () => {
    const interaction = await world.discord.chatInput({
      name: 'pika',
      subcommand: 'text',
      options: { prompt: 'a big one' },
      attachmentSizeLimit: 1000,
    });
    await waitSettled(interaction);
    const final = interaction.original!;
    assert.equal(final.attachments.length, 0);
    assert.match(final.embeds[0].title, /done/);
    const link = final.components[0]?.components.find((b: any) => b.style === 5);
    assert.equal(link?.style, 5);
    assert.match(link?.url, /\/cdn\/.+\/video\.mp4$/);
    assert.ok(JSON.stringify(final.embeds[0].fields).includes('Too large to upload here'));
  });

  test('a prompt of the maximum length, full of markdown and mentions, still ends in a delivered video', async () => {
    const prompt = '*_`<@&123>|'.repeat(200).slice(0, 2000);
    const interaction = await world.discord.chatInput({
      name: 'pika',
      subcommand: 'text',
      options: { prompt, negative_prompt: '@here~'.repeat(166) },
    });
    await waitSettled(interaction);
    assert.match(interaction.original!.embeds[0].title, /done/);
    const [call] = world.pika.generateCalls.slice(-1);
    assert.equal((call!.body as any).promptText, prompt, 'sent upstream exactly as typed');
    const refused = world.discord.requests.filter((r) => r.status >= 400 && r.route.includes(interaction.token));
    assert.deepEqual(refused, [], 'Discord refused none of the messages');
  });

  test('hostile text is sent upstream exactly as typed and shown inert', async () => {
    const prompt = '@everyone @here <@123> <@&456> **bold** # heading https://evil.example [click](https://evil.example) a\u200bb\u0007c ';
    const interaction = await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt } });
    await waitSettled(interaction);
    const [call] = world.pika.generateCalls.slice(-1);
    assert.equal((call!.body as any).promptText, prompt);
    const description: string = interaction.original!.embeds[0].description;
    assert.ok(!/(^|[^\\])@everyone|(^|[^\\])<@/.test(description), `no live mention syntax: ${description}`);
    assert.ok(!description.includes('\u200b') && !description.includes('\u0007'), 'invisible and control characters dropped');
    assert.ok(!/(^|[^\\])\[click\]\(/.test(description) && description.includes('https\\://evil.example'), 'links are not live');
    const edits = world.discord.requests.filter((r) => r.method === 'PATCH' && r.route.includes(interaction.token));
    assert.ok(edits.every((r) => r.json.allowed_mentions?.parse?.length === 0 && !(r.json.allowed_mentions?.roles?.length)), 'nothing can ping a crowd');
  });

  test('npm run deploy-commands registers on demand, over REST only', async () => {
    const { execFile } = await import('node:child_process');
    const run = (env: Record<string, string>) =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['--import', 'tsx', 'src/deploy-commands.ts'], { env: { PATH: process.env.PATH!, ...world.env, ...env }, timeout: 30_000 }, (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
        ),
      );
    const identifies = world.discord.identifies;
    assert.match(await run({ DEV_GUILD_ID: '' }), /Registered \/pika and \/pika-admin globally/);
    assert.deepEqual(world.discord.registeredCommands().map((c: any) => c.name).sort(), ['pika', 'pika-admin']);
    assert.equal(world.discord.identifies, identifies, 'no gateway session was opened');
  });

  test('pikaffect autocomplete suggests known effects and keeps free text', async () => {
    const interaction = await world.discord.autocomplete({ name: 'pika', subcommand: 'text', options: { prompt: 'x', pikaffect: 'e' }, focused: 'pikaffect' });
    await interaction.waitFor((i) => i.callbacks.length > 0, 5000);
    const choices = interaction.callbacks[0]!.data.choices.map((c: any) => c.value);
    assert.equal(interaction.callbacks[0]!.type, 8);
    assert.ok(choices.length <= 25 && choices.includes('Levitate') && choices.includes('Melt'));
  });

  test('the bot token and API key appear in no log line, no Discord message and no Pika body', () => {
    const said = everythingTheBotSaid(world);
    assert.ok(said.length > 1000, 'there is something to scan');
    assert.ok(!said.includes(world.secrets.botToken), 'bot token leaked');
    assert.ok(!said.includes(world.secrets.apiKey), 'API key leaked');
    for (const interaction of world.discord.interactions) {
      for (const line of world.bot.lines) assert.ok(!line.includes(interaction.token), 'an interaction token was logged');
    }
  });

  test('a restart does not re-register unchanged commands', async () => {
    const writes = () => world.discord.requests.filter((r) => r.method === 'PUT' && r.route.includes(`/guilds/${world.discord.guildId}/commands`)).length;
    const before = writes();
    assert.equal(before, 1);
    await world.restartBot();
    assert.equal(writes(), before);
    const fetches = world.discord.requests.filter((r) => r.method === 'GET' && r.route.endsWith(`/guilds/${world.discord.guildId}/commands`));
    assert.ok(fetches.length >= 2 && fetches.every((r) => r.query.with_localizations === 'true'), 'the comparison sees the localizations');
  });

  test('a restart registers again when only a translation changed', async () => {
    const writes = () => world.discord.requests.filter((r) => r.method === 'PUT' && r.route.includes(`/guilds/${world.discord.guildId}/commands`)).length;
    const before = writes();
    // As if the registered /pika were older: one camera choice carries a different Chinese name.
    const choiceOf = () =>
      world.discord
        .registeredCommands(world.discord.guildId)
        .find((c: any) => c.name === 'pika')
        .options.find((o: any) => o.name === 'text')
        .options.find((o: any) => o.name === 'camera')
        .choices.find((c: any) => c.value === 'zoom_in');
    const current = choiceOf().name_localizations['zh-CN'];
    choiceOf().name_localizations = { 'zh-CN': '旧的名字' };
    await world.restartBot();
    assert.equal(writes(), before + 1, 'registered once');
    assert.equal(choiceOf().name_localizations['zh-CN'], current);
    await world.restartBot();
    assert.equal(writes(), before + 1, 'and not again');
  });
});

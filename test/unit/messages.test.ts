import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ButtonStyle, ComponentType, type APIEmbed } from 'discord.js';
import {
  displayText,
  formatDuration,
  LIMITS,
  NO_PINGS,
  pingOnly,
  progressBar,
  renderDelivery,
  renderFailure,
  renderProgress,
  toDisplayRequest,
  truncate,
  videoFileName,
  type DisplayRequest,
  type FinishedVideo,
  type MessageBody,
} from '../../src/discord/messages.js';
import type { GenerationRequest } from '../../src/pika/request.js';
/** A job id as the bot makes them (a UUID). */
const JOB_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
/** 🔄 Re-roll, 🔀 Remix, 🗑 Delete, ℹ Details: on every delivered video, naming its job. */
const RESULT_BUTTONS = (
  [
    ['reroll', 'Re-roll', '🔄'],
    ['remix', 'Remix', '🔀'],
    ['delete', 'Delete', '🗑️'],
    ['details', 'Details', 'ℹ️'],
  ] as const
).map(([action, label, emoji]) => ({ type: ComponentType.Button, style: ButtonStyle.Secondary, label, custom_id: `pika:${action}:${JOB_ID}`, emoji: { name: emoji } }));

const REQUESTER = '123456789012345678';

function displayRequest(overrides: Partial<DisplayRequest> = {}): DisplayRequest {
  return {
    kind: 'text',
    prompt: 'a fox in the snow',
    negativePrompt: '',
    model: '1.5',
    aspectRatio: '16:9',
    pikaffect: '',
    camera: undefined,
    ingredientsMode: undefined,
    imageCount: 0,
    ...overrides,
  };
}

/** The worst case the command can produce: every character needs escaping, every option set. */
const WORST: DisplayRequest = displayRequest({
  kind: 'ingredients',
  prompt: '*'.repeat(2000),
  negativePrompt: '_'.repeat(1000),
  model: '2.0',
  aspectRatio: '9:16',
  pikaffect: '`'.repeat(50),
  camera: 'rotate_ccw',
  ingredientsMode: 'creative',
  imageCount: 6,
});

const VIDEO: FinishedVideo = {
  seed: 3183047765,
  durationSeconds: 5,
  resultUrl: 'https://cdn.pika.art/v1/66e0818e/Plane_fly_seed3183047765.mp4',
  sizeBytes: 3_500_000,
  attachmentName: 'pika-3183047765.mp4',
};

/** Characters Discord counts toward the 6000 total of an embed. */
function embedTextLength(embed: APIEmbed): number {
  return (
    (embed.title?.length ?? 0) +
    (embed.description?.length ?? 0) +
    (embed.footer?.text.length ?? 0) +
    (embed.author?.name.length ?? 0) +
    (embed.fields ?? []).reduce((sum, f) => sum + f.name.length + f.value.length, 0)
  );
}

function assertWithinDiscordLimits(body: MessageBody): void {
  assert.ok(body.content.length <= LIMITS.content, `content ${body.content.length}`);
  assert.ok(body.embeds.length <= 10, 'body.embeds.length <= 10');
  let total = 0;
  for (const embed of body.embeds) {
    assert.ok((embed.title ?? '').length <= LIMITS.title, `title ${embed.title?.length}`);
    assert.ok((embed.description ?? '').length <= LIMITS.description, `description ${embed.description?.length}`);
    assert.ok((embed.fields ?? []).length <= 25, '(embed.fields ?? []).length <= 25');
    for (const field of embed.fields ?? []) {
      assert.ok(field.name.length >= 1 && field.name.length <= 256, `field name ${field.name}`);
      assert.ok(field.value.length >= 1, `field ${field.name} is empty`);
      assert.ok(field.value.length <= LIMITS.fieldValue, `field ${field.name}: ${field.value.length}`);
    }
    total += embedTextLength(embed);
  }
  assert.ok(total <= 6000, `embed text ${total}`);
  for (const row of body.components) {
    for (const button of row.components) {
      if ('label' in button && button.label) assert.ok(button.label.length <= 80, 'button.label.length <= 80');
      if ('url' in button) assert.ok(button.url.length <= 512, 'button.url.length <= 512');
    }
  }
}

/** What Discord shows for `text`: it hides a backslash before any character that is not a letter, digit or space. */
function rendered(text: string): string {
  return text.replace(/\\([^0-9A-Za-z\s])/g, '$1').replace(/\u200b/g, '');
}

/** Occurrences of `pattern` in `text` not preceded by an escaping (odd) run of backslashes. */
function unescaped(text: string, pattern: string): number {
  const source = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return [...text.matchAll(new RegExp(`(?:^|[^\\\\])(?:\\\\\\\\)*(${source})`, 'gm'))].length;
}

/** True when `text` cannot ping @everyone/@here: each is escaped or broken by a zero-width space. */
function massPingNeutralised(text: string): boolean {
  return unescaped(text, '@everyone') === 0 && unescaped(text, '@here') === 0;
}

describe('displayText', () => {
  test('(the helpers below tell escaped from unescaped text)', () => {
    assert.equal(unescaped('*a*', '*'), 2);
    assert.equal(unescaped('x\\*', '*'), 0);
    assert.equal(unescaped('x\\\\*', '*'), 1);
    assert.equal(unescaped('@everyone', '@everyone'), 1);
    assert.equal(unescaped('\\@everyone', '@everyone'), 0);
    assert.equal(massPingNeutralised('@\u200beveryone'), true);
    assert.equal(massPingNeutralised('a @here'), false);
    assert.equal(rendered('\\*\\*b\\*\\* \\\\ \\a'), '**b** \\ \\a');
  });

  test('escapes **bold**, `code`, _, ~~, || so they show as typed', () => {
    assert.equal(displayText('**bold**', 100), '\\*\\*bold\\*\\*');
    assert.equal(displayText('`code`', 100), '\\`code\\`');
    for (const input of ['**bold**', '`code`', '_under_', '~~strike~~', '||spoiler||', '***all***', '```js\nx\n```']) {
      const out = displayText(input, 100);
      assert.equal(rendered(out), input, `${input} → ${out}`);
      for (const ch of ['*', '_', '~', '`', '|']) assert.equal(unescaped(out, ch), 0, `unescaped ${ch} in ${out}`);
    }
  });

  test('escapes a masked link [x](http://y) so no link survives', () => {
    const out = displayText('[x](http://y)', 100);
    assert.equal(rendered(out), '[x](http://y)');
    assert.equal(unescaped(out, '['), 0, out);
    assert.equal(unescaped(out, ']('), 0, out);
    const evil = displayText('click [here](https://evil.example/steal) now', 200);
    assert.equal(unescaped(evil, '](http'), 0, evil);
  });

  test('escapes headings, lists, quotes and subtext at line starts', () => {
    for (const input of ['# heading', '## h2', '### h3', '-# subtext', '- item', '* item', '1. first', '  12. twelfth', '> quote', '>>> block quote', 'line\n# heading\n- item\n3. third']) {
      const out = displayText(input, 200);
      assert.equal(rendered(out), input, `${JSON.stringify(input)} → ${JSON.stringify(out)}`);
      for (const line of out.split('\n')) {
        assert.ok(!/^\s*(#|-|\*|>|\d+\.)/.test(line), `${JSON.stringify(input)}: line ${JSON.stringify(line)} still starts with markdown`);
      }
    }
  });

  test('escapes a literal backslash so it cannot escape what follows', () => {
    const out = displayText('back\\slash \\*not bold\\*', 100);
    assert.equal(rendered(out), 'back\\slash \\*not bold\\*');
    assert.equal(unescaped(out, '*'), 0, out);
  });

  test('neutralises @everyone and @here', () => {
    const out = displayText('hey @everyone and @here!', 100);
    assert.ok(massPingNeutralised(out), out);
    assert.equal(rendered(out), 'hey @everyone and @here!');
  });

  test('@everyone split by a zero-width character is still neutralised', () => {
    const out = displayText('@\u200beveryone @\u2060here', 100);
    assert.ok(massPingNeutralised(out), JSON.stringify(out));
    assert.equal(rendered(out), '@everyone @here');
  });

  test('neutralises user, role and channel mentions and custom emoji', () => {
    const input = '<@123> <@!124> <@&456> <#789> <:pika:42> <t:1700000000:R>';
    const out = displayText(input, 200);
    assert.equal(unescaped(out, '<'), 0, out);
    assert.equal(rendered(out), input);
  });

  test('drops zero-width and other format characters', () => {
    assert.equal(displayText('a\u200bb\u200cc\u200dd\u2060e\ufefff\u202eg\u00adh', 100), 'abcdefgh');
  });

  test('turns control characters into spaces but keeps newlines', () => {
    assert.equal(displayText('a\u0000b\u0007c\td\r\ne\nf', 100), 'a b c d \ne\nf');
  });

  test('plain text is returned unchanged and whole', () => {
    assert.equal(displayText('hello world', 11), 'hello world');
    assert.equal(displayText('A fox, in the snow; 4K.', 100), 'A fox, in the snow; 4K.');
  });

  test('shows every input exactly as typed (minus invisible characters) when not truncated', () => {
    const inputs = [
      'a *mixed* _bag_ of `every` ~~thing~~ ||at|| once: <@1> @everyone [l](http://x) # h > q',
      '\\\\ double \\ single \\* escaped',
      'emoji 🦊🎬 :smile: <:e:1> and accents é',
      'https://example.com/a_b*c?d=(e)',
      '   leading and trailing   ',
    ];
    for (const input of inputs) assert.equal(rendered(displayText(input, 4096)), input, input);
  });

  test('truncates with … to at most max characters', () => {
    const out = displayText('abcdefghij'.repeat(10), 20);
    assert.equal(out.length, 20);
    assert.equal(out, `${'abcdefghij'}${'abcdefghi'}…`);
  });

  test('the length limit applies after escaping', () => {
    for (const max of [1, 2, 3, 10, 99, 100, 101]) {
      const out = displayText('*'.repeat(200), max);
      assert.ok(out.length <= max, `max ${max}: ${out.length}`);
    }
  });

  test('never ends on a lone escaping backslash, whatever the cut', () => {
    for (const source of ['*'.repeat(50), '\\'.repeat(50), '\\*'.repeat(25), '_`*\\~|'.repeat(10), '@everyone '.repeat(6)]) {
      for (let max = 1; max <= 60; max++) {
        const out = displayText(source, max);
        assert.ok(out.length <= max, `${JSON.stringify(source)} @${max}`);
        const body = out.endsWith('…') ? out.slice(0, -1) : out;
        const trailing = /\\*$/.exec(body)![0].length;
        assert.equal(trailing % 2, 0, `${JSON.stringify(source)} @${max} → ${JSON.stringify(out)}`);
        assert.ok(massPingNeutralised(out), `${JSON.stringify(source)} @${max} → ${JSON.stringify(out)}`);
      }
    }
  });

  test('is fast on an adversarial 2000-character prompt', () => {
    const adversarial = ['*_'.repeat(1000), '`'.repeat(2000), '\\'.repeat(2000), '[]('.repeat(666), '<@'.repeat(1000), '# \n'.repeat(666)];
    const started = performance.now();
    for (const text of adversarial) for (let i = 0; i < 5; i++) displayText(text, 3000);
    assert.ok(performance.now() - started < 2000, `took ${performance.now() - started} ms`);
  });
});

describe('truncate', () => {
  test('returns text unchanged when it fits', () => {
    assert.equal(truncate('', 5), '');
    assert.equal(truncate('abc', 3), 'abc');
  });

  test('cuts to max including the ellipsis', () => {
    assert.equal(truncate('abcdef', 4), 'abc…');
    assert.equal(truncate('abcdef', 1), '…');
  });

  test('never leaves a lone escaping backslash before the ellipsis', () => {
    assert.equal(truncate('ab\\*cd', 4), 'ab…');
    assert.equal(truncate('ab\\\\cd', 5), 'ab\\\\…');
    assert.equal(truncate('a\\\\\\*cd', 5), 'a\\\\…');
  });

  test('never splits a surrogate pair', () => {
    assert.equal(truncate('😀😀😀', 4), '😀…');
    assert.equal(truncate('a😀b', 3), 'a…');
    for (let max = 1; max <= 12; max++) {
      const out = truncate('🦊🎬x😀y'.repeat(3), max);
      assert.ok(out.length <= max, 'out.length <= max');
      assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(out), `lone surrogate at ${max}: ${JSON.stringify(out)}`);
    }
  });
});

describe('progressBar', () => {
  test('0, 37.4, 100', () => {
    assert.equal(progressBar(0), '▱▱▱▱▱▱▱▱▱▱▱▱ 0%');
    assert.equal(progressBar(37.4), '▰▰▰▰▱▱▱▱▱▱▱▱ 37%');
    assert.equal(progressBar(100), '▰▰▰▰▰▰▰▰▰▰▰▰ 100%');
  });

  test('clamps out-of-range values', () => {
    assert.equal(progressBar(-20), progressBar(0));
    assert.equal(progressBar(250), progressBar(100));
  });

  test('rounds to whole percents and honours the width', () => {
    assert.equal(progressBar(49.5), '▰▰▰▰▰▰▱▱▱▱▱▱ 50%');
    assert.equal(progressBar(50, 4), '▰▰▱▱ 50%');
    assert.equal(progressBar(99.6, 10), '▰▰▰▰▰▰▰▰▰▰ 100%');
  });

  test('always has exactly `width` cells', () => {
    for (let p = -5; p <= 105; p += 0.7) {
      const cells = progressBar(p).split(' ')[0]!;
      assert.equal([...cells].length, 12, String(p));
    }
  });
});

describe('formatDuration', () => {
  test('seconds, then minutes and zero-padded seconds', () => {
    assert.equal(formatDuration(0, 'en-US'), '0s');
    assert.equal(formatDuration(499, 'en-US'), '0s');
    assert.equal(formatDuration(1000, 'en-US'), '1s');
    assert.equal(formatDuration(59_000, 'en-US'), '59s');
    assert.equal(formatDuration(59_600, 'en-US'), '1m 00s');
    assert.equal(formatDuration(61_000, 'en-US'), '1m 01s');
    assert.equal(formatDuration(125_000, 'en-US'), '2m 05s');
    assert.equal(formatDuration(15 * 60_000, 'en-US'), '15m 00s');
    assert.equal(formatDuration(3_600_000, 'en-US'), '60m 00s');
  });

  test('negative durations show as 0s', () => {
    assert.equal(formatDuration(-5000, 'en-US'), '0s');
  });
});

describe('renderProgress', () => {
  test('shows status, progress, elapsed time and settings, pinging no one', () => {
    const body = renderProgress(
      displayRequest({ pikaffect: 'Melt', camera: 'zoom_in', negativePrompt: 'blur' }),
      { status: 'generating', progress: 40, posterUrl: 'https://cdn.pika.art/poster.jpg' },
      75_000, 'en-US',
    );
    assert.equal(body.content, '');
    assert.deepStrictEqual(body.allowed_mentions, { parse: [] });
    assert.deepStrictEqual(body.components, []);
    const embed = body.embeds[0]!;
    assert.equal(embed.title, '🎬 Text to video: Generating');
    assert.equal(embed.description, 'a fox in the snow');
    assert.deepStrictEqual(embed.thumbnail, { url: 'https://cdn.pika.art/poster.jpg' });
    const fields = Object.fromEntries((embed.fields ?? []).map((f) => [f.name, f.value]));
    assert.equal(fields.Progress, progressBar(40));
    assert.equal(fields.Elapsed, '1m 15s');
    assert.equal(fields.Model, '1.5');
    assert.equal(fields.Effect, 'Melt');
    assert.equal(fields.Camera, 'zoom in');
    assert.equal(fields['Aspect ratio'], '16:9');
    assert.equal(fields['Negative prompt'], 'blur');
    assert.ok(!('Mode' in fields), "!('Mode' in fields)");
    assertWithinDiscordLimits(body);
  });

  test('no poster means no thumbnail key; no effect shows "none"', () => {
    const body = renderProgress(displayRequest(), { status: 'queued', progress: 0, posterUrl: undefined }, 0, 'en-US');
    assert.ok(!('thumbnail' in body.embeds[0]!), "!('thumbnail' in body.embeds[0]!)");
    assert.equal(body.embeds[0]!.fields!.find((f) => f.name === 'Effect')!.value, 'none');
  });

  test('an image request without prompt says so instead of an empty description', () => {
    const body = renderProgress(displayRequest({ kind: 'image', prompt: '', aspectRatio: undefined, imageCount: 1 }), { status: 'queued', progress: 0, posterUrl: undefined }, 0, 'en-US');
    assert.equal(body.embeds[0]!.description, '*Animating your image (no prompt)*');
    assert.ok(!body.embeds[0]!.fields!.some((f) => f.name === 'Aspect ratio'), "!body.embeds[0]!.fields!.some((f) => f.name === 'Aspect ratio')");
  });

  test('the user prompt is escaped and pings no one', () => {
    const body = renderProgress(displayRequest({ prompt: '@everyone **look** <@1>' }), { status: 'queued', progress: 0, posterUrl: undefined }, 0, 'en-US');
    const description = body.embeds[0]!.description!;
    assert.equal(description, displayText('@everyone **look** <@1>', 3000));
    assert.ok(massPingNeutralised(description), description);
    assert.equal(unescaped(description, '<'), 0, description);
    assert.equal(unescaped(description, '*'), 0, description);
    assert.deepStrictEqual(body.allowed_mentions, NO_PINGS);
  });

  test('stays within Discord limits for the worst-case request', () => {
    const body = renderProgress(WORST, { status: 'generating', progress: 99, posterUrl: 'https://cdn.pika.art/p.jpg' }, 10 * 60_000, 'en-US');
    assertWithinDiscordLimits(body);
    assert.equal(body.embeds[0]!.fields!.find((f) => f.name === 'Mode')!.value, 'creative');
  });

  test('stays within limits when the prompt escapes to more than the description holds', () => {
    for (const ch of ['*', '_', '`', '\\', '<', '~', '|', '#', '>', '[']) {
      assertWithinDiscordLimits(renderProgress(displayRequest({ prompt: ch.repeat(2000), negativePrompt: ch.repeat(1000) }), { status: 'queued', progress: 0, posterUrl: undefined }, 0, 'en-US'));
    }
    assertWithinDiscordLimits(renderProgress(displayRequest({ prompt: '@everyone'.repeat(222) }), { status: 'queued', progress: 0, posterUrl: undefined }, 0, 'en-US'));
  });
});

describe('renderDelivery', () => {
  test('attached video: pings only the requester, shows the seed, no link button', () => {
    const name = videoFileName(VIDEO.seed, 'task-id');
    const body = renderDelivery(displayRequest(), REQUESTER, { ...VIDEO, attachmentName: name }, 95_000, 'en-US', JOB_ID);
    assert.equal(name, 'pika-3183047765.mp4');
    assert.equal(body.content, `<@${REQUESTER}> your video is ready.`);
    assert.deepStrictEqual(body.allowed_mentions, { parse: [], users: [REQUESTER] });
    assert.deepStrictEqual(body.allowed_mentions, pingOnly(REQUESTER));
    assert.deepStrictEqual(body.components, [{ type: ComponentType.ActionRow, components: RESULT_BUTTONS }]);
    const embed = body.embeds[0]!;
    assert.equal(embed.title, '✅ Text to video: done');
    const fields = Object.fromEntries((embed.fields ?? []).map((f) => [f.name, f.value]));
    assert.equal(fields.Seed, '`3183047765`');
    assert.equal(fields.Duration, '5 s');
    assert.equal(fields.Took, '1m 35s');
    assert.ok(!('Video' in fields), "!('Video' in fields)");
    assert.ok(!JSON.stringify(body).includes(VIDEO.resultUrl), 'an attached video is not linked');
    assertWithinDiscordLimits(body);
  });

  test('unknown seed and duration say so', () => {
    const body = renderDelivery(displayRequest(), REQUESTER, { ...VIDEO, seed: undefined, durationSeconds: undefined }, 0, 'en-US', JOB_ID);
    const fields = Object.fromEntries((body.embeds[0]!.fields ?? []).map((f) => [f.name, f.value]));
    assert.equal(fields.Seed, 'unknown');
    assert.equal(fields.Duration, 'unknown');
  });

  test('a seed of 0 is shown, not treated as missing', () => {
    const body = renderDelivery(displayRequest(), REQUESTER, { ...VIDEO, seed: 0 }, 0, 'en-US', JOB_ID);
    assert.equal(body.embeds[0]!.fields!.find((f) => f.name === 'Seed')!.value, '`0`');
  });

  test('link-only delivery has a link button, the URL and the size', () => {
    const body = renderDelivery(WORST, REQUESTER, { ...VIDEO, attachmentName: undefined, sizeBytes: 300 * 1024 * 1024 }, 0, 'en-US', JOB_ID);
    assert.deepStrictEqual(body.components, [
      {
        type: ComponentType.ActionRow,
        components: [...RESULT_BUTTONS, { type: ComponentType.Button, style: ButtonStyle.Link, label: 'Open video', url: VIDEO.resultUrl }],
      },
    ]);
    const video = body.embeds[0]!.fields!.find((f) => f.name === 'Video')!;
    assert.equal(video.value, `Too large to upload here (300.0 MiB): [open the video](${VIDEO.resultUrl})`);
    assert.deepStrictEqual(body.allowed_mentions, { parse: [], users: [REQUESTER] });
    assertWithinDiscordLimits(body);
  });

  test('link-only without a known size leaves the size out', () => {
    const body = renderDelivery(displayRequest(), REQUESTER, { ...VIDEO, attachmentName: undefined, sizeBytes: undefined }, 0, 'en-US', JOB_ID);
    assert.equal(body.embeds[0]!.fields!.find((f) => f.name === 'Video')!.value, `Too large to upload here: [open the video](${VIDEO.resultUrl})`);
  });

  test('stays within Discord limits for the worst-case request, attached or linked', () => {
    assertWithinDiscordLimits(renderDelivery(WORST, REQUESTER, VIDEO, 3_600_000, 'en-US', JOB_ID));
    assertWithinDiscordLimits(renderDelivery(WORST, REQUESTER, { ...VIDEO, attachmentName: undefined }, 3_600_000, 'en-US', JOB_ID));
  });

  test(
    'link-only delivery stays within limits even for a very long result URL',
    {},
    () => {
      const resultUrl = `https://cdn.pika.art/v1/66e0818e/${'a_long_prompt_slug_'.repeat(60)}seed1.mp4`;
      assertWithinDiscordLimits(renderDelivery(displayRequest(), REQUESTER, { ...VIDEO, resultUrl, attachmentName: undefined }, 0, 'en-US', JOB_ID));
    },
  );

  test('the prompt cannot ping anyone: only the requester is allowed', () => {
    const body = renderDelivery(displayRequest({ prompt: '@everyone <@999> <@&5>' }), REQUESTER, VIDEO, 0, 'en-US', JOB_ID);
    assert.deepStrictEqual(body.allowed_mentions.parse, []);
    assert.deepStrictEqual(body.allowed_mentions.users, [REQUESTER]);
    assert.ok(!('roles' in body.allowed_mentions), "!('roles' in body.allowed_mentions)");
    assert.ok(massPingNeutralised(body.embeds[0]!.description!), body.embeds[0]!.description);
  });
});

describe('videoFileName', () => {
  test('named after the seed when known', () => {
    assert.equal(videoFileName(42, 'c1d16f47-16c2-4798-8733-5ed9903885cc'), 'pika-42.mp4');
    assert.equal(videoFileName(0, 'x'), 'pika-0.mp4');
  });

  test('otherwise after the task id, stripped to safe characters and 36 of them', () => {
    assert.equal(videoFileName(undefined, 'c1d16f47-16c2-4798-8733-5ed9903885cc'), 'pika-c1d16f47-16c2-4798-8733-5ed9903885cc.mp4');
    assert.equal(videoFileName(undefined, '../../etc/passwd'), 'pika-etcpasswd.mp4');
    assert.equal(videoFileName(undefined, 'a'.repeat(100)), `pika-${'a'.repeat(36)}.mp4`);
    assert.match(videoFileName(undefined, 'we ird/\\:*?"<>|id'), /^pika-[\w-]+\.mp4$/);
  });
});

describe('renderFailure', () => {
  test('says why, shows the prompt escaped, pings no one', () => {
    const body = renderFailure(displayRequest({ prompt: '**x** @here' }), 'The video service is busy right now.', 'en-US', { jobId: JOB_ID, tryAgain: true });
    assert.equal(body.content, '');
    assert.deepStrictEqual(body.allowed_mentions, { parse: [] });
    assert.deepStrictEqual(body.components, [{ type: ComponentType.ActionRow, components: [RESULT_BUTTONS[0] && { ...RESULT_BUTTONS[0], label: 'Try again' }, RESULT_BUTTONS[3]] }]);
    const withoutRetry = renderFailure(displayRequest(), 'reason', 'en-US', { jobId: JOB_ID, tryAgain: false });
    assert.deepStrictEqual(withoutRetry.components[0]!.components.map((b: any) => b.custom_id), [`pika:details:${JOB_ID}`]);
    const embed = body.embeds[0]!;
    assert.equal(embed.title, '❌ Text to video: failed');
    assert.equal(embed.description, 'The video service is busy right now.');
    assert.equal(embed.fields![0]!.name, 'Prompt');
    assert.equal(embed.fields![0]!.value, displayText('**x** @here', 1024));
    assert.ok(massPingNeutralised(embed.fields![0]!.value), embed.fields![0]!.value);
    assert.equal(rendered(embed.fields![0]!.value), '**x** @here');
    assertWithinDiscordLimits(body);
  });

  test('an empty prompt shows as "(none)"', () => {
    const body = renderFailure(displayRequest({ kind: 'image', prompt: '', aspectRatio: undefined }), 'reason', 'en-US', { jobId: JOB_ID, tryAgain: true });
    assert.equal(body.embeds[0]!.fields![0]!.value, '*(none)*');
    assert.equal(body.embeds[0]!.title, '❌ Image to video: failed');
  });

  test('a very long reason is cut to 1000 characters', () => {
    const body = renderFailure(displayRequest(), 'r'.repeat(5000), 'en-US', { jobId: JOB_ID, tryAgain: true });
    assert.equal(body.embeds[0]!.description!.length, 1000);
    assert.ok(body.embeds[0]!.description!.endsWith('…'), "body.embeds[0]!.description!.endsWith('…')");
  });

  test('stays within Discord limits for the worst-case request and reason', () => {
    assertWithinDiscordLimits(renderFailure(WORST, `The video service refused this request: “${'*'.repeat(5000)}”.`, 'en-US', { jobId: JOB_ID, tryAgain: true }));
    const prompt = renderFailure(WORST, 'x', 'en-US', { jobId: JOB_ID, tryAgain: true }).embeds[0]!.fields![0]!;
    assert.equal(prompt.name, 'Prompt');
    assert.ok(prompt.value.length <= LIMITS.fieldValue, 'prompt.value.length <= LIMITS.fieldValue');
  });

  test(
    'a prompt that displays as nothing (only invisible characters) still gives a non-empty field',
    {},
    () => {
      assertWithinDiscordLimits(renderFailure(displayRequest({ kind: 'image', prompt: '\u200b', aspectRatio: undefined }), 'reason', 'en-US', { jobId: JOB_ID, tryAgain: true }));
    },
  );
});

describe('toDisplayRequest', () => {
  test('keeps what is shown and counts images instead of carrying their URLs', () => {
    const request: GenerationRequest = {
      kind: 'ingredients',
      prompt: 'p',
      negativePrompt: 'n',
      model: '2.0',
      aspectRatio: '1:1',
      frameRate: 24,
      guidanceScale: 12,
      motion: 1,
      pikaffect: 'Poke',
      camera: 'pan_right',
      ingredientsMode: 'precise',
      images: [
        { optionName: 'image1', url: 'https://cdn.discordapp.com/secret-ish-1', filename: 'a.png', contentType: 'image/png', size: 1, type: 'image/png' },
        { optionName: 'image2', url: 'https://cdn.discordapp.com/secret-ish-2', filename: 'b.png', contentType: 'image/png', size: 1, type: 'image/png' },
      ],
    };
    const display = toDisplayRequest(request);
    assert.deepStrictEqual(display, {
      kind: 'ingredients',
      prompt: 'p',
      negativePrompt: 'n',
      model: '2.0',
      aspectRatio: '1:1',
      pikaffect: 'Poke',
      camera: 'pan_right',
      ingredientsMode: 'precise',
      imageCount: 2,
    });
    assert.ok(!JSON.stringify(display).includes('cdn.discordapp.com'), "!JSON.stringify(display).includes('cdn.discordapp.com')");
  });
});

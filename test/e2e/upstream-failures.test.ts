import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PikaFault } from '../fakes/pika.js';
import { everythingTheBotSaid, failureText, startWorld, waitSettled, type World } from '../support/world.js';

describe('upstream failures end in a clear message on the reply, never a hang', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ PIKA_GENERATE_TIMEOUT_MS: '700', TASK_TIMEOUT_MS: '2500' });
  });
  after(async () => {
    await world?.close();
  });

  async function runText(prompt: string) {
    const before = world.pika.generateCalls.length;
    const interaction = await world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt } });
    await waitSettled(interaction);
    return { interaction, generateCalls: world.pika.generateCalls.length - before };
  }

  const generateFaults: Array<[string, PikaFault, RegExp]> = [
    ['401 bad key', { kind: 'status', status: 401, body: { error: { message: 'invalid api key' } } }, /misconfigured/],
    ['403 forbidden', { kind: 'status', status: 403, body: { error: { message: 'forbidden' } } }, /misconfigured/],
    ['402 out of balance', { kind: 'status', status: 402, body: { error: { message: 'insufficient balance' } } }, /out of credit/],
    ['429 rate limited', { kind: 'status', status: 429, body: { error: { message: 'slow down' } } }, /busy/],
    ['400 with a reason', { kind: 'status', status: 400, body: { success: false, error: { code: 'bad', message: 'prompt too spicy' } } }, /refused.*prompt too spicy/],
    ['500', { kind: 'status', status: 500, rawBody: 'Internal Server Error' }, /internal error/],
    ['timeout', { kind: 'hang' }, /did not answer in time.*not sent again/],
    ['network error', { kind: 'network' }, /connection .* broke.*not sent again/],
    ['non-JSON', { kind: 'non-json' }, /could not understand/],
    ['JSON of the wrong shape', { kind: 'wrong-shape' }, /could not understand/],
    ['200 without a task id', { kind: 'no-id' }, /refused.*prompt rejected by moderation/],
  ];

  for (const [name, fault, expected] of generateFaults) {
    test(`generate ${name} → a clear message and exactly one generate call`, async () => {
      world.pika.failNextGenerate(fault);
      const { interaction, generateCalls } = await runText(`fault ${name}`);
      assert.equal(generateCalls, 1, 'generate is never retried');
      assert.equal(interaction.callbacks[0]?.type, 5, 'deferred first (the checks passed)');
      assert.match(interaction.original!.embeds[0].title, /failed/);
      assert.match(failureText(interaction), expected);
    });
  }

  test('a refused key is logged with what the operator must do', () => {
    const line = world.bot.lines.find((l) => l.includes('generate failed: the Pika API refused the key'));
    assert.ok(line, 'an actionable log line');
    assert.match(line!, /check PIKA_API_KEY/);
  });

  test('the task reports an error → its reason, in plain words', async () => {
    world.pika.nextTask({ feed: ['empty', { status: 'pending', progress: 30 }, { status: 'error', error: 'content moderation' }] });
    const { interaction } = await runText('something forbidden');
    assert.match(failureText(interaction), /Pika could not make this video: “content moderation”/);
  });

  test('feed failures are retried and the video still arrives', async () => {
    world.pika.failNextFeed({ kind: 'status', status: 502, rawBody: 'bad gateway' }, 2);
    world.pika.failNextFeed({ kind: 'non-json' });
    world.pika.failNextFeed({ kind: 'network' });
    const { interaction, generateCalls } = await runText('persistent');
    assert.equal(generateCalls, 1);
    assert.match(interaction.original!.embeds[0].title, /done/);
    assert.equal(interaction.original!.attachments.length, 1);
  });

  test('a task that never finishes ends at the deadline with a clear message', async () => {
    world.pika.nextTask({ feed: [{ status: 'pending', progress: 50 }] });
    const { interaction } = await runText('forever');
    assert.match(failureText(interaction), /not ready after .* stopped waiting/);
  });

  test('a result that is not an mp4 is refused with a clear message', async () => {
    world.pika.nextTask({ video: Buffer.from('<html>nope</html>'), videoContentType: 'text/html' });
    const { interaction } = await runText('html please');
    assert.match(failureText(interaction), /not an mp4 video/);
    assert.equal(interaction.original!.attachments.length, 0);
  });

  test('the API key never shows, even when the upstream echoes it back', async () => {
    world.pika.failNextGenerate({ kind: 'status', status: 400, body: { error: { message: `bad key ${world.secrets.apiKey} for Bearer ${world.secrets.apiKey}` } } });
    const { interaction } = await runText('echo');
    assert.match(failureText(interaction), /refused/);
    const said = everythingTheBotSaid(world);
    assert.ok(!said.includes(world.secrets.apiKey), 'API key leaked');
    assert.ok(!said.includes(world.secrets.botToken), 'bot token leaked');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PermissionFlagsBits } from 'discord.js';
import type { FakeInteraction } from '../fakes/discord.js';
import { fixture, startWorld, type World } from '../support/world.js';

type Command = Parameters<World['discord']['chatInput']>[0];

/** Every class of bad input, what the user sent, and a word the answer must contain. */
function badInputs(png: Buffer, notImage: Buffer): Array<[string, Command, RegExp]> {
  const text = (options: Command['options']): Command => ({ name: 'pika', subcommand: 'text', options });
  const image = (attachment: NonNullable<Command['attachments']>[string], options: Command['options'] = {}): Command => ({
    name: 'pika',
    subcommand: 'image',
    options,
    attachments: { image: attachment },
  });
  const allButAttach = PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages | PermissionFlagsBits.EmbedLinks;
  return [
    ['empty prompt', text({ prompt: '' }), /prompt.*empty/i],
    ['blank prompt', text({ prompt: '   \n ' }), /prompt.*empty/i],
    ['over-long prompt', text({ prompt: 'x'.repeat(2001) }), /2001.*2000/],
    ['over-long negative prompt', text({ prompt: 'ok', negative_prompt: 'n'.repeat(1001) }), /negative_prompt/],
    ['frame rate too high', text({ prompt: 'ok', frame_rate: 30 }), /frame_rate.*8 to 24/],
    ['frame rate too low', text({ prompt: 'ok', frame_rate: 7 }), /frame_rate/],
    ['guidance scale out of range', text({ prompt: 'ok', guidance_scale: 25.5 }), /guidance_scale.*5 to 25/],
    ['motion out of range', text({ prompt: 'ok', motion: 5 }), /motion.*0 to 4/],
    ['fractional motion', text({ prompt: 'ok', motion: 1.5 }), /motion.*whole number/],
    ['unknown model', text({ prompt: 'ok', model: '3.0' }), /model/],
    ['unknown aspect ratio', text({ prompt: 'ok', aspect_ratio: '2:1' }), /aspect_ratio/],
    ['unknown camera move', text({ prompt: 'ok', camera: 'spin' }), /camera/],
    ['gif image', image({ filename: 'a.gif', data: png, contentType: 'image/gif' }), /PNG, JPEG or WebP/],
    ['pdf image', image({ filename: 'a.pdf', data: png, contentType: 'application/pdf' }), /PNG, JPEG or WebP/],
    ['no content type and a .txt name', image({ filename: 'notes.txt', data: notImage, contentType: null }), /PNG, JPEG or WebP/],
    ['image too large', image({ filename: 'big.png', data: png, contentType: 'image/png', size: 11 * 1024 * 1024 }), /11\.0 MiB.*10\.0 MiB/],
    ['empty image', image({ filename: 'empty.png', data: Buffer.alloc(0), contentType: 'image/png' }), /empty/],
    ['image missing', { name: 'pika', subcommand: 'image', options: { prompt: 'x' } }, /attach an image/],
    [
      'one ingredient only',
      { name: 'pika', subcommand: 'ingredients', options: { prompt: 'x' }, attachments: { image1: { filename: 'a.png', data: png, contentType: 'image/png' } } },
      /at least two images/,
    ],
    ['unknown subcommand', { name: 'pika', subcommand: 'dance', options: { prompt: 'x' } }, /subcommand/],
    ['bot lacks Attach Files', { ...text({ prompt: 'ok' }), appPermissions: allButAttach }, /Attach Files/],
    ['direct message (not enabled)', { ...text({ prompt: 'ok' }), guildId: null }, /only work in servers/],
  ];
}

describe('bad input: a polite ephemeral answer first, and nothing sent upstream', () => {
  let world: World;
  let cases: ReturnType<typeof badInputs>;
  const answered = new Map<string, FakeInteraction>();

  before(async () => {
    world = await startWorld();
    cases = badInputs(await fixture('image.png'), await fixture('not-an-image.png'));
    const interactions = await Promise.all(cases.map(([, command]) => world.discord.chatInput(command)));
    await Promise.all(interactions.map((i) => i.waitFor((x) => x.callbacks.length > 0, 10_000)));
    interactions.forEach((interaction, index) => answered.set(cases[index]![0], interaction));
  });
  after(async () => {
    await world?.close();
  });

  test('each bad input gets an ephemeral message as its first and only response', () => {
    const table: string[] = [];
    for (const [name, , expected] of cases) {
      const interaction = answered.get(name)!;
      const [first, ...rest] = interaction.callbacks;
      assert.equal(first?.type, 4, `${name}: answered with a message, not a deferral`);
      assert.equal(first!.data.flags & 64, 64, `${name}: the answer is ephemeral`);
      assert.match(first!.data.content, expected, `${name}: the answer says what is wrong`);
      assert.deepEqual(first!.data.allowed_mentions, { parse: [] }, `${name}: pings no one`);
      assert.equal(rest.length, 0, `${name}: no second response`);
      assert.ok(first!.at - interaction.dispatchedAt < 3000, `${name}: answered within 3 s`);
      table.push(`${name.padEnd(36)} → ${first!.data.content}`);
    }
    console.log(`bad input → answer\n${table.join('\n')}`);
  });

  test('no bad input reached the Pika API', () => {
    assert.equal(world.pika.requests.length, 0);
  });
});

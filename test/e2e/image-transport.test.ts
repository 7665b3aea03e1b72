import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { failureText, fixture, startWorld, waitSettled, type World } from '../support/world.js';

describe('PIKA_IMAGE_TRANSPORT=base64', () => {
  let world: World;

  before(async () => {
    world = await startWorld({ PIKA_IMAGE_TRANSPORT: 'base64' });
  });
  after(async () => {
    await world?.close();
  });

  test('the image is downloaded and sent base64-encoded', async () => {
    const webp = await fixture('image.webp');
    const interaction = await world.discord.chatInput({
      name: 'pika',
      subcommand: 'image',
      options: {},
      attachments: { image: { filename: 'pic.webp', data: webp, contentType: 'image/webp' } },
    });
    await waitSettled(interaction);
    const [call] = world.pika.generateCalls;
    assert.equal((call!.body as any).image, webp.toString('base64'));
    assert.equal('aspectRatio' in (call!.body as any).options, false);
    assert.equal((call!.body as any).promptText, '');
    assert.match(interaction.original!.embeds[0].title, /done/);
  });

  test('bytes that are not the declared image type are refused, with no generate call', async () => {
    const before = world.pika.generateCalls.length;
    const interaction = await world.discord.chatInput({
      name: 'pika',
      subcommand: 'image',
      options: { prompt: 'x' },
      attachments: { image: { filename: 'fake.png', data: await fixture('not-an-image.png'), contentType: 'image/png' } },
    });
    await waitSettled(interaction);
    assert.match(failureText(interaction), /`image`: its content is not the kind of image its name says/);
    assert.equal(world.pika.generateCalls.length, before);
  });

  test('an image larger than the limit is refused while downloading', async () => {
    const before = world.pika.generateCalls.length;
    const png = await fixture('image.png');
    const interaction = await world.discord.chatInput({
      name: 'pika',
      subcommand: 'image',
      options: {},
      // Discord reports a small size, but the bytes served are larger than MAX_IMAGE_BYTES.
      attachments: { image: { filename: 'liar.png', data: Buffer.concat([png, Buffer.alloc(11 * 1024 * 1024)]), contentType: 'image/png', size: 100 } },
    });
    await waitSettled(interaction);
    assert.match(failureText(interaction), /Could not read `image`: the file is larger/);
    assert.equal(world.pika.generateCalls.length, before);
  });
});

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { askForVideo, newUserId, quota } from '../support/users.js';
import { eventuallyAsync, startWorld, waitSettled, type World } from '../support/world.js';

/** An HTTP server on `host` that counts the requests it gets; `handle` answers them. */
async function listen(host: string, handle: (url: string, respond: (status: number, headers?: Record<string, string>) => void) => void): Promise<{ server: Server; url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((request, response) => {
    hits.push(`${request.url} referer=${request.headers.referer ?? ''}`);
    handle(request.url ?? '', (status, headers) => {
      response.writeHead(status, headers);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  return { server, url: `http://${host}:${(server.address() as AddressInfo).port}`, hits };
}

describe('downloads never reach addresses of the private network', () => {
  let world: World;
  let internal: Awaited<ReturnType<typeof listen>>;
  let redirector: Awaited<ReturnType<typeof listen>>;

  before(async () => {
    // ALLOWED_PRIVATE_MEDIA_HOSTS is 127.0.0.1 in tests: 127.0.0.2 stands for an internal host.
    world = await startWorld({ DEFAULT_DAILY_LIMIT: '5' });
    internal = await listen('127.0.0.2', (_url, respond) => respond(200, { 'content-type': 'video/mp4' }));
    redirector = await listen('127.0.0.1', (_url, respond) => respond(302, { location: `${internal.url}/metadata` }));
  });
  after(async () => {
    await world?.close();
    for (const { server } of [internal, redirector]) server?.close();
  });

  test('a result URL on an internal address is not fetched; the sharing URL delivers the video', async () => {
    world.pika.nextTask({ resultUrl: `${internal.url}/latest/meta-data` });
    const user = newUserId();
    const interaction = await askForVideo(world, user, 'internal result');
    await waitSettled(interaction);
    assert.equal(interaction.original!.attachments.length, 1);
    assert.deepEqual(internal.hits, [], 'no connection reached the internal host');
    assert.ok(world.bot.entries.some((e) => e.msg === 'giving up this address for the video' && /forbidden_address/.test(JSON.stringify(e.error))));
    await eventuallyAsync(async () => /Today: 4 videos left[\s\S]*In progress: 0/.test(await quota(world, user)), 5000, 'one video counted');
    assert.equal(world.pika.generateCalls.filter((c) => (c.body as { promptText?: string }).promptText === 'internal result').length, 1);
  });

  test('a redirect to an internal address is refused at connect time', async () => {
    world.pika.nextTask({ resultUrl: `${redirector.url}/video.mp4` });
    const interaction = await askForVideo(world, newUserId(), 'redirected result');
    await waitSettled(interaction);
    assert.equal(interaction.original!.attachments.length, 1, 'delivered from the sharing URL');
    assert.equal(redirector.hits.length, 1, 'the allowed host was asked once');
    assert.deepEqual(internal.hits, [], 'the redirect target was never connected to');
  });
});

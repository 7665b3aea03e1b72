/**
 * uploadMessage against the fake Discord, which parses multipart bodies as Discord does: the
 * file must arrive byte for byte as the message's attachment, and Discord's refusals must come
 * back as fields a caller can act on, never with a token in the message.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { request } from 'undici';
import { DiscordUploadError, uploadMessage, type UploadMessageOptions } from '../../src/discord/upload.js';
import { FakeDiscord, type FakeInteraction } from '../fakes/discord.js';

const BOT_TOKEN = 'upload-test.bot-token.0123456789abcdefghij';
const VIDEO_PATH = new URL('../fixtures/tiny.mp4', import.meta.url).pathname;

let fake: FakeDiscord;
let video: Buffer;

before(async () => {
  fake = await FakeDiscord.start({ botToken: BOT_TOKEN });
  video = await readFile(VIDEO_PATH);
});
after(() => fake.close());

/** An interaction whose reply was deferred, as the bot's are: its @original can then be edited. */
async function deferredInteraction(attachmentSizeLimit?: number): Promise<FakeInteraction> {
  const interaction = await fake.chatInput({ name: 'pika', ...(attachmentSizeLimit ? { attachmentSizeLimit } : {}) });
  const response = await request(`${fake.apiUrl}/v10/interactions/${interaction.id}/${interaction.token}/callback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 5 }),
  });
  await response.body.dump();
  assert.equal(response.statusCode, 204);
  return interaction;
}

const originalUrl = (interaction: FakeInteraction) => `${fake.apiUrl}/v10/webhooks/${fake.applicationId}/${interaction.token}/messages/@original`;
const channelUrl = () => `${fake.apiUrl}/v10/channels/${fake.channelId}/messages`;

function upload(options: Partial<UploadMessageOptions> & Pick<UploadMessageOptions, 'url' | 'method'>) {
  return uploadMessage({
    payload: { content: 'Here is your video', attachments: [{ id: 0, filename: 'pika.mp4' }] },
    file: { name: 'pika.mp4', path: VIDEO_PATH, contentType: 'video/mp4' },
    timeoutMs: 5000,
    ...options,
  });
}

async function uploadFailure(run: Promise<unknown>, secrets: string[]): Promise<DiscordUploadError> {
  try {
    await run;
  } catch (error) {
    assert.ok(error instanceof DiscordUploadError, `expected a DiscordUploadError, got ${String(error)}`);
    for (const secret of secrets) {
      for (const text of [error.message, String(error.stack), inspect(error, { depth: 5 })]) {
        assert.ok(!text.includes(secret), `a token leaked into the error: ${text}`);
      }
    }
    return error;
  }
  assert.fail('the upload succeeded');
}

describe('uploadMessage: what arrives', () => {
  test('an edit of @original carries the payload and the exact file, without auth', async () => {
    const interaction = await deferredInteraction();
    const message = await upload({ url: originalUrl(interaction), method: 'PATCH' });

    assert.equal(message.id, interaction.original!.id);
    assert.equal(message.channel_id, fake.channelId);
    assert.equal(interaction.original!.content, 'Here is your video');
    const [attachment, ...others] = interaction.original!.attachments;
    assert.deepStrictEqual(others, []);
    assert.equal(attachment!.filename, 'pika.mp4');
    assert.equal(attachment!.content_type, 'video/mp4');
    assert.ok(attachment!.data.equals(video), 'the uploaded bytes are the file');
    const sent = fake.requests.findLast((r) => r.method === 'PATCH')!;
    assert.equal(sent.headers.authorization, undefined);
    assert.match(sent.headers['content-type'] ?? '', /^multipart\/form-data; boundary=/);
    assert.equal(Number(sent.headers['content-length']) > video.length, true, 'sent with a Content-Length');
    assert.deepStrictEqual(
      sent.files.map((file) => [file.field, file.filename, file.contentType]),
      [['files[0]', 'pika.mp4', 'video/mp4']],
    );
  });

  test('a channel message is posted with the bot token and the exact file', async () => {
    const message = await upload({
      url: channelUrl(),
      method: 'POST',
      botToken: BOT_TOKEN,
      payload: { content: 'in the channel', attachments: [{ id: 0, filename: 'pika.mp4' }], nonce: 'n-upload-1', enforce_nonce: true },
    });
    const posted = fake.channelMessages.at(-1)!;
    assert.equal(message.id, posted.id);
    assert.equal(posted.content, 'in the channel');
    assert.ok(posted.attachments[0]!.data.equals(video), 'the uploaded bytes are the file');
    assert.equal(fake.requests.at(-1)!.headers.authorization, `Bot ${BOT_TOKEN}`);
  });
});

describe('uploadMessage: refusals', () => {
  test('413 (40005, over the upload limit) → status and code', async () => {
    const interaction = await deferredInteraction(video.length - 1);
    const error = await uploadFailure(upload({ url: originalUrl(interaction), method: 'PATCH' }), [interaction.token]);
    assert.equal(error.status, 413);
    assert.equal(error.code, 40005);
    assert.equal(error.retryAfterMs, undefined);
    assert.match(error.message, /HTTP 413 \(code 40005\)/);
  });

  test('429 → retryAfterMs from the body', async () => {
    fake.rateLimitNext({ method: 'POST', route: /^\/channels\// }, 1.25);
    const error = await uploadFailure(upload({ url: channelUrl(), method: 'POST', botToken: BOT_TOKEN }), [BOT_TOKEN]);
    assert.equal(error.status, 429);
    assert.equal(error.retryAfterMs, 1250);
  });

  test('429 with only a Retry-After header → retryAfterMs from it', async () => {
    fake.failNext({ method: 'POST', route: /^\/channels\// }, { status: 429, body: { message: 'slow down' }, headers: { 'retry-after': '3' } });
    const error = await uploadFailure(upload({ url: channelUrl(), method: 'POST', botToken: BOT_TOKEN }), [BOT_TOKEN]);
    assert.equal(error.retryAfterMs, 3000);
    assert.equal(error.code, undefined);
  });

  test('an expired interaction token (401, 50027) → status and code, and the token is nowhere in the error', async () => {
    const interaction = await deferredInteraction();
    fake.expireToken(interaction);
    const error = await uploadFailure(upload({ url: originalUrl(interaction), method: 'PATCH' }), [interaction.token]);
    assert.equal(error.status, 401);
    assert.equal(error.code, 50027);
  });

  test('Discord echoing a token in its message does not leak it', async () => {
    const interaction = await deferredInteraction();
    fake.failNext({ method: 'PATCH' }, { status: 400, body: { message: `bad webhook ${interaction.token} for ${BOT_TOKEN}`, code: 50035 } });
    const error = await uploadFailure(upload({ url: originalUrl(interaction), method: 'PATCH', botToken: BOT_TOKEN }), [interaction.token, BOT_TOKEN]);
    assert.equal(error.code, 50035);
    assert.match(error.message, /bad webhook \[redacted\] for \[redacted\]/);
  });

  test('a refused connection → no status, and no token in the error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const token = 'interaction-token-that-must-never-be-shown-0123456789';
    const error = await uploadFailure(upload({ url: `http://127.0.0.1:${port}/api/v10/webhooks/1/${token}/messages/@original`, method: 'PATCH' }), [token]);
    assert.equal(error.status, undefined);
  });

  test('no answer within timeoutMs → a timeout, no status', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const error = await uploadFailure(upload({ url: `http://127.0.0.1:${port}/api/v10/channels/1/messages`, method: 'POST', botToken: BOT_TOKEN, timeoutMs: 200 }), [BOT_TOKEN]);
      assert.equal(error.status, undefined);
      assert.match(error.message, /took longer than 200 ms/);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

/**
 * Not a pass/fail measure of speed: it shows the file is streamed. Buffering it would raise the
 * resident set by at least the file's size.
 */
describe('uploadMessage: memory', () => {
  const FILE_BYTES = 200 * 1024 * 1024;
  let dir: string;
  let sink: Server;
  let received = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'upload-rss-'));
    await writeFile(join(dir, 'big.mp4'), '');
    await truncate(join(dir, 'big.mp4'), FILE_BYTES);
    // Counts and drops the body, so only the sender's memory is measured.
    sink = createServer((req, res) => {
      req.on('data', (chunk: Buffer) => (received += chunk.length));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: '1', channel_id: '2' }));
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    sink.closeAllConnections();
    await new Promise<void>((resolve) => sink.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test(`uploading a ${FILE_BYTES / 1024 / 1024} MiB file does not hold it in memory`, async (t) => {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      await upload({
        url: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/api/v10/channels/2/messages`,
        method: 'POST',
        botToken: BOT_TOKEN,
        file: { name: 'big.mp4', path: join(dir, 'big.mp4'), contentType: 'video/mp4' },
        timeoutMs: 120_000,
      });
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
    t.diagnostic(`RSS before ${mib(before)} MiB, peak ${mib(peak)} MiB: +${mib(peak - before)} MiB for a ${mib(FILE_BYTES)} MiB upload`);
    assert.ok(received > FILE_BYTES, 'the whole file was sent');
    assert.ok(peak - before < FILE_BYTES / 2, `RSS rose by ${mib(peak - before)} MiB`);
  });
});

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createMediaDispatcher } from '../../src/net/media-guard.js';
import { ImageUnreadableError, matchesImageType, resolveImageRefs } from '../../src/pika/images.js';
import type { CheckedImage, ImageType } from '../../src/pika/request.js';

const fixture = (name: string) => readFile(new URL(`../fixtures/${name}`, import.meta.url));
const TYPES: ImageType[] = ['image/png', 'image/jpeg', 'image/webp'];

/** A predicate for assert.rejects: the image named `optionName` could not be used, for `problem`. */
const unreadable = (optionName: string, problem: ImageUnreadableError['problem']) => (error: unknown) =>
  error instanceof ImageUnreadableError && error.optionName === optionName && error.problem === problem;

let png: Buffer;
let jpg: Buffer;
let webp: Buffer;
let text: Buffer;

before(async () => {
  [png, jpg, webp, text] = await Promise.all([fixture('image.png'), fixture('image.jpg'), fixture('image.webp'), fixture('not-an-image.png')]);
});

describe('matchesImageType', () => {
  test('each real fixture matches its own type and no other', () => {
    const files: Array<[Buffer, ImageType]> = [
      [png, 'image/png'],
      [jpg, 'image/jpeg'],
      [webp, 'image/webp'],
    ];
    for (const [bytes, own] of files) {
      for (const type of TYPES) assert.equal(matchesImageType(bytes, type), type === own, `${own} bytes as ${type}`);
    }
  });

  test('text named .png matches no image type', () => {
    for (const type of TYPES) assert.equal(matchesImageType(text, type), false, type);
  });

  test('empty and truncated buffers match nothing and do not throw', () => {
    for (const type of TYPES) {
      assert.equal(matchesImageType(Buffer.alloc(0), type), false);
      assert.equal(matchesImageType(Buffer.from([0xff, 0xd8]), type), false);
      assert.equal(matchesImageType(png.subarray(0, 7), type), false);
    }
  });

  test('RIFF files that are not WebP (e.g. WAV) are not WebP', () => {
    const wav = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVEfmt ')]);
    assert.equal(matchesImageType(wav, 'image/webp'), false);
  });
});

describe('resolveImageRefs', () => {
  let server: Server;
  let base: string;
  const hits: string[] = [];

  before(async () => {
    const files: Record<string, [Buffer, string]> = {
      '/image.png': [png, 'image/png'],
      '/image.jpg': [jpg, 'image/jpeg'],
      '/image.webp': [webp, 'image/webp'],
      '/not-an-image.png': [text, 'image/png'],
    };
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      hits.push(path);
      const file = files[path];
      if (!file) {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': file[1], 'Content-Length': file[0].length });
      res.end(file[0]);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    hits.length = 0;
  });

  function checked(path: string, type: ImageType, optionName = 'image'): CheckedImage {
    return { optionName, url: `${base}${path}?ex=1`, filename: path.slice(1), contentType: type, size: 100, type };
  }

  const dispatcher = createMediaDispatcher(['127.0.0.1']);
  after(() => dispatcher.close());
  const options = (transport: 'url' | 'base64') => ({ transport, maxImageBytes: 1024 * 1024, downloadTimeoutMs: 3000, dispatcher });

  test('url transport returns the URLs untouched, in order, without any request', async () => {
    const images = [
      checked('/image.png', 'image/png', 'image1'),
      checked('/image.jpg', 'image/jpeg', 'image2'),
      { ...checked('/x', 'image/webp', 'image3'), url: 'https://cdn.discordapp.com/attachments/1/2/a b.webp?ex=ff&is=00&hm=ab' },
      // Even an unreachable or odd URL is passed on as is: the API fetches it, not the bot.
      { ...checked('/y', 'image/png', 'image4'), url: 'http://127.0.0.1:1/never' },
    ];
    const refs = await resolveImageRefs(images, options('url'));
    assert.deepStrictEqual(refs, images.map((i) => i.url));
    assert.deepStrictEqual(hits, []);
  });

  test('url transport with no images gives no refs', async () => {
    assert.deepStrictEqual(await resolveImageRefs([], options('url')), []);
  });

  test('base64 transport downloads each image and returns base64 of exactly its bytes, in order', async () => {
    const refs = await resolveImageRefs(
      [checked('/image.png', 'image/png', 'image1'), checked('/image.jpg', 'image/jpeg', 'image2'), checked('/image.webp', 'image/webp', 'image3')],
      options('base64'),
    );
    assert.deepStrictEqual(refs, [png.toString('base64'), jpg.toString('base64'), webp.toString('base64')]);
    assert.ok(Buffer.from(refs[0]!, 'base64').equals(png), "Buffer.from(refs[0]!, 'base64').equals(png)");
    assert.deepStrictEqual([...hits].sort(), ['/image.jpg', '/image.png', '/image.webp']);
    for (const ref of refs) assert.match(ref, /^[A-Za-z0-9+/]+=*$/, 'bare base64, no data: prefix');
  });

  test('base64 transport refuses text pretending to be a PNG', async () => {
    await assert.rejects(
      resolveImageRefs([checked('/not-an-image.png', 'image/png')], options('base64')),
      unreadable('image', 'wrong_content'),
    );
  });

  test('base64 transport refuses bytes of another image type, naming the option', async () => {
    await assert.rejects(
      resolveImageRefs([checked('/image.png', 'image/png', 'image1'), checked('/image.jpg', 'image/webp', 'image2')], options('base64')),
      unreadable('image2', 'wrong_content'),
    );
    await assert.rejects(
      resolveImageRefs([checked('/image.webp', 'image/jpeg')], options('base64')),
      unreadable('image', 'wrong_content'),
    );
  });

  test('a failed download names the option and why', async () => {
    await assert.rejects(
      resolveImageRefs([checked('/gone.png', 'image/png', 'image2')], options('base64')),
      unreadable('image2', 'bad_status'),
    );
  });

  test('base64 transport refuses an image on an address the dispatcher forbids, without fetching it', async () => {
    const publicOnly = createMediaDispatcher([]);
    try {
      await assert.rejects(
        resolveImageRefs([checked('/image.png', 'image/png', 'image2')], { ...options('base64'), dispatcher: publicOnly }),
        unreadable('image2', 'forbidden_address'),
      );
      assert.deepStrictEqual(hits, []);
    } finally {
      await publicOnly.close();
    }
  });

  test('a download over maxImageBytes → too_large', async () => {
    // Chunked so the limit is hit while reading (see download.test.ts for the Content-Length case).
    const big = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'image/png' });
      res.write(png);
      res.end(Buffer.alloc(4096));
    });
    await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(big.address() as AddressInfo).port}/big.png`;
      await assert.rejects(
        resolveImageRefs([{ ...checked('/x', 'image/png'), url }], { transport: 'base64', maxImageBytes: 1024, downloadTimeoutMs: 3000, dispatcher }),
        unreadable('image', 'too_large'),
      );
    } finally {
      big.closeAllConnections();
      await new Promise<void>((resolve) => big.close(() => resolve()));
    }
  });
});

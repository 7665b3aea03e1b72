import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { downloadBounded, DownloadError, downloadToFile, type DownloadFailure } from '../../src/download.js';
import { createMediaDispatcher } from '../../src/net/media-guard.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const PAYLOAD = Buffer.from('0123456789abcdef'.repeat(64)); // 1 KiB
/** The test servers listen on 127.0.0.1, which media downloads refuse unless allowed. */
const dispatcher = createMediaDispatcher(['127.0.0.1']);

after(() => dispatcher.close());

describe('downloadBounded', () => {
  let server: Server;
  let base: string;
  const hits: string[] = [];
  const seenHeaders: Array<IncomingMessage['headers']> = [];

  const routes: Record<string, Handler> = {
    '/ok': (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'Image/PNG; charset=binary', 'Content-Length': PAYLOAD.length });
      res.end(PAYLOAD);
    },
    '/no-type': (_req, res) => {
      res.writeHead(200, { 'Content-Length': PAYLOAD.length });
      res.end(PAYLOAD);
    },
    '/chunked-ok': (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'video/mp4' });
      for (let i = 0; i < 4; i++) res.write(PAYLOAD.subarray(i * 256, (i + 1) * 256));
      res.end();
    },
    '/chunked-large': (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'video/mp4' });
      const chunk = Buffer.alloc(1000, 1);
      for (let i = 0; i < 10; i++) res.write(chunk);
      res.end();
    },
    '/endless': (_req, res) => {
      // No Content-Length and far more than any limit: the reader must stop on its own.
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 2);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {
          /* keep writing until backpressure */
        }
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    },
    '/redirect-relative': (_req, res) => {
      res.writeHead(302, { Location: '/ok' });
      res.end('moved');
    },
    '/redirect-absolute': (_req, res) => {
      res.writeHead(301, { Location: `${base}/ok` });
      res.end();
    },
    '/redirect-file': (_req, res) => {
      res.writeHead(302, { Location: 'file:///etc/passwd' });
      res.end();
    },
    '/redirect-ftp': (_req, res) => {
      res.writeHead(307, { Location: 'ftp://127.0.0.1/secret.bin' });
      res.end();
    },
    '/redirect-no-location': (_req, res) => {
      res.writeHead(302);
      res.end();
    },
    '/not-found': (_req, res) => {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('nope');
    },
    '/server-error': (_req, res) => {
      res.writeHead(500);
      res.end();
    },
    '/empty': (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': 0 });
      res.end();
    },
    '/empty-chunked': (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'image/png' });
      res.end();
    },
    '/slow-headers': () => {
      /* never answer */
    },
    '/slow-body': (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': 100 });
      res.write(Buffer.alloc(10));
      /* and never finish */
    },
    '/drop': (req) => {
      req.socket.destroy();
    },
  };

  before(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      hits.push(url.pathname);
      seenHeaders.push(req.headers);
      const chain = /^\/chain\/(\d+)$/.exec(url.pathname);
      if (chain) {
        const left = Number(chain[1]);
        if (left === 0) return routes['/ok']!(req, res);
        res.writeHead(302, { Location: `/chain/${left - 1}` });
        res.end();
        return;
      }
      const handler = routes[url.pathname];
      if (handler) return handler(req, res);
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function failure(url: string, limits: { maxBytes?: number; timeoutMs?: number } = {}): Promise<DownloadError> {
    try {
      await downloadBounded(url, { maxBytes: limits.maxBytes ?? 4096, timeoutMs: limits.timeoutMs ?? 3000, dispatcher });
    } catch (error) {
      assert.ok(error instanceof DownloadError, `expected a DownloadError, got ${String(error)}`);
      assert.equal(error.name, 'DownloadError');
      return error;
    }
    assert.fail(`downloading ${url} succeeded`);
  }

  async function assertReason(url: string, reason: DownloadFailure, limits?: { maxBytes?: number; timeoutMs?: number }) {
    const error = await failure(url, limits);
    assert.equal(error.reason, reason, `${url}: ${error.message}`);
    return error;
  }

  test('returns the body and the bare, lower-cased content type', async () => {
    const result = await downloadBounded(`${base}/ok`, { maxBytes: 4096, timeoutMs: 3000, dispatcher });
    assert.ok(result.data.equals(PAYLOAD), 'result.data.equals(PAYLOAD)');
    assert.equal(result.contentType, 'image/png');
  });

  test('a body of exactly maxBytes is accepted', async () => {
    const result = await downloadBounded(`${base}/ok`, { maxBytes: PAYLOAD.length, timeoutMs: 3000, dispatcher });
    assert.equal(result.data.length, PAYLOAD.length);
  });

  test('a chunked body under the limit is reassembled in order', async () => {
    const result = await downloadBounded(`${base}/chunked-ok`, { maxBytes: 4096, timeoutMs: 3000, dispatcher });
    assert.ok(result.data.equals(PAYLOAD), 'result.data.equals(PAYLOAD)');
    assert.equal(result.contentType, 'video/mp4');
  });

  test('no content type gives undefined', async () => {
    const result = await downloadBounded(`${base}/no-type`, { maxBytes: 4096, timeoutMs: 3000, dispatcher });
    assert.equal(result.contentType, undefined);
  });

  test('sends the headers it is given', async () => {
    seenHeaders.length = 0;
    await downloadBounded(`${base}/ok`, { maxBytes: 4096, timeoutMs: 3000, dispatcher, headers: { referer: 'https://pika.art/' } });
    assert.equal(seenHeaders[0]!.referer, 'https://pika.art/');
  });

  test('a chunked body over the limit without Content-Length → too_large', async () => {
    await assertReason(`${base}/chunked-large`, 'too_large', { maxBytes: 4096 });
  });

  test('an endless body is cut off at the limit → too_large', async () => {
    await assertReason(`${base}/endless`, 'too_large', { maxBytes: 256 * 1024 });
  });

  test('a relative redirect to http is followed', async () => {
    hits.length = 0;
    const result = await downloadBounded(`${base}/redirect-relative`, { maxBytes: 4096, timeoutMs: 3000, dispatcher });
    assert.ok(result.data.equals(PAYLOAD), 'result.data.equals(PAYLOAD)');
    assert.deepStrictEqual(hits, ['/redirect-relative', '/ok']);
  });

  test('an absolute redirect to http is followed', async () => {
    const result = await downloadBounded(`${base}/redirect-absolute`, { maxBytes: 4096, timeoutMs: 3000, dispatcher });
    assert.ok(result.data.equals(PAYLOAD), 'result.data.equals(PAYLOAD)');
  });

  test('three redirects are followed', async () => {
    const result = await downloadBounded(`${base}/chain/3`, { maxBytes: 4096, timeoutMs: 3000, dispatcher });
    assert.ok(result.data.equals(PAYLOAD), 'result.data.equals(PAYLOAD)');
  });

  test('four redirects → too_many_redirects', async () => {
    hits.length = 0;
    await assertReason(`${base}/chain/4`, 'too_many_redirects');
    assert.deepStrictEqual(hits, ['/chain/4', '/chain/3', '/chain/2', '/chain/1']);
  });

  test('a redirect loop ends as too_many_redirects', async () => {
    routes['/loop'] = (_req, res) => {
      res.writeHead(302, { Location: '/loop' });
      res.end();
    };
    await assertReason(`${base}/loop`, 'too_many_redirects');
  });

  test('a redirect to file:///etc/passwd → bad_scheme', async () => {
    const error = await assertReason(`${base}/redirect-file`, 'bad_scheme');
    assert.match(error.message, /file:/);
  });

  test('a redirect to ftp:// → bad_scheme', async () => {
    await assertReason(`${base}/redirect-ftp`, 'bad_scheme');
  });

  test('non-http URLs are refused before any request', async () => {
    hits.length = 0;
    for (const url of ['file:///etc/passwd', 'ftp://127.0.0.1/x', 'data:image/png;base64,AAAA', 'javascript:alert(1)', 'not a url']) {
      await assertReason(url, 'bad_scheme');
    }
    assert.deepStrictEqual(hits, []);
  });

  test('a redirect without Location → bad_status', async () => {
    await assertReason(`${base}/redirect-no-location`, 'bad_status');
  });

  test('404 → bad_status, naming the status', async () => {
    const error = await assertReason(`${base}/not-found`, 'bad_status');
    assert.match(error.message, /404/);
  });

  test('500 → bad_status', async () => {
    await assertReason(`${base}/server-error`, 'bad_status');
  });

  test('an empty body → empty', async () => {
    await assertReason(`${base}/empty`, 'empty');
    await assertReason(`${base}/empty-chunked`, 'empty');
  });

  test('a server that never answers → timeout', async () => {
    const error = await assertReason(`${base}/slow-headers`, 'timeout', { timeoutMs: 150 });
    assert.match(error.message, /150 ms/);
  });

  test('a body that stalls → timeout', async () => {
    await assertReason(`${base}/slow-body`, 'timeout', { timeoutMs: 150 });
  });

  test('a dropped connection → network', async () => {
    await assertReason(`${base}/drop`, 'network');
  });

  test('a refused connection → network', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assertReason(`http://127.0.0.1:${port}/x`, 'network');
  });
});

/** A server on every local address (so 127.0.0.2 and ::1 reach it too), closed after the suite. */
function serveEverywhere(handler: Handler): { port: () => number; hits: string[] } {
  const hits: string[] = [];
  let server: Server;
  before(async () => {
    server = createServer((req, res) => {
      hits.push(new URL(req.url ?? '/', 'http://x').pathname);
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: () => (server.address() as AddressInfo).port, hits };
}

async function downloadFailure(run: Promise<unknown>): Promise<DownloadError> {
  try {
    await run;
  } catch (error) {
    assert.ok(error instanceof DownloadError, `expected a DownloadError, got ${String(error)}`);
    return error;
  }
  assert.fail('the download succeeded');
}

/** `/to/<url>` redirects there; any other path answers PAYLOAD. */
function redirectOrPayload(req: IncomingMessage, res: ServerResponse): void {
  const redirect = /^\/to\/(.+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
  if (redirect) {
    res.writeHead(302, { Location: decodeURIComponent(redirect[1]!) });
    res.end();
    return;
  }
  res.writeHead(200, { 'Content-Length': PAYLOAD.length });
  res.end(PAYLOAD);
}

describe('downloads refuse internal addresses, at connect time', () => {
  const server = serveEverywhere(redirectOrPayload);
  const url = (host: string, path = '/ok') => `http://${host}:${server.port()}${path}`;
  const noneAllowed = createMediaDispatcher([]);
  after(() => noneAllowed.close());

  async function refusal(target: string, via = noneAllowed): Promise<DownloadError> {
    const error = await downloadFailure(downloadBounded(target, { maxBytes: 4096, timeoutMs: 3000, dispatcher: via }));
    assert.equal(error.reason, 'forbidden_address', error.message);
    return error;
  }

  test('a loopback literal is refused before any request, naming the address class', async () => {
    server.hits.length = 0;
    for (const host of ['127.0.0.1', '127.0.0.2', '[::1]', '[::ffff:127.0.0.1]', '[::ffff:7f00:2]']) {
      const error = await refusal(url(host));
      assert.match(error.message, /loopback address/);
      assert.match(error.message, /ALLOWED_PRIVATE_MEDIA_HOSTS/);
    }
    assert.deepStrictEqual(server.hits, []);
  });

  test('0.0.0.0, which reaches the local host, is refused', async () => {
    const error = await refusal(url('0.0.0.0'));
    assert.match(error.message, /unspecified address/);
  });

  test('a name that resolves to loopback is refused', async () => {
    server.hits.length = 0;
    const error = await refusal(url('localhost'));
    assert.match(error.message, /loopback address/);
    assert.deepStrictEqual(server.hits, []);
  });

  test('an allowed address is fetched, and only that one', async () => {
    const result = await downloadBounded(url('127.0.0.1'), { maxBytes: 4096, timeoutMs: 3000, dispatcher });
    assert.ok(result.data.equals(PAYLOAD));
    await refusal(url('127.0.0.2'), dispatcher);
  });

  test('an allowed CIDR range covers its addresses, IPv4-mapped forms included', async () => {
    const range = createMediaDispatcher(['127.0.0.0/8']);
    try {
      for (const host of ['127.0.0.1', '127.0.0.2', '[::ffff:127.0.0.2]']) {
        const result = await downloadBounded(url(host), { maxBytes: 4096, timeoutMs: 3000, dispatcher: range });
        assert.ok(result.data.equals(PAYLOAD), host);
      }
      await refusal(url('[::1]'), range);
    } finally {
      await range.close();
    }
  });

  test('a redirect from an allowed host to a refused one is refused, without reaching it', async () => {
    server.hits.length = 0;
    const error = await refusal(url('127.0.0.1', `/to/${encodeURIComponent(url('127.0.0.2', '/secret'))}`), dispatcher);
    assert.match(error.message, /loopback/);
    assert.deepStrictEqual(server.hits, ['/to/' + encodeURIComponent(url('127.0.0.2', '/secret'))]);
  });

  test('a redirect to a name that resolves to a refused address is refused', async () => {
    const onlySecond = createMediaDispatcher(['127.0.0.2']);
    try {
      await refusal(url('127.0.0.2', `/to/${encodeURIComponent(url('localhost', '/secret'))}`), onlySecond);
    } finally {
      await onlySecond.close();
    }
  });
});

describe('downloads never forward headers to another origin', () => {
  const seen: Array<{ path: string; referer: string | undefined }> = [];
  const server = serveEverywhere((req, res) => {
    seen.push({ path: new URL(req.url ?? '/', 'http://x').pathname, referer: req.headers.referer });
    redirectOrPayload(req, res);
  });
  const both = createMediaDispatcher(['127.0.0.1', '127.0.0.2']);
  after(() => both.close());
  const headers = { referer: 'https://pika.art/' };

  test('a same-origin redirect keeps the headers', async () => {
    seen.length = 0;
    await downloadBounded(`http://127.0.0.1:${server.port()}/to/%2Fok`, { maxBytes: 4096, timeoutMs: 3000, dispatcher: both, headers });
    assert.deepStrictEqual(seen.map((hit) => hit.referer), [headers.referer, headers.referer]);
  });

  test('a redirect to another origin gets no headers, nor does any hop after it, even back on the first origin', async () => {
    seen.length = 0;
    const back = encodeURIComponent(`http://127.0.0.1:${server.port()}/ok`);
    const away = encodeURIComponent(`http://127.0.0.2:${server.port()}/to/${back}`);
    await downloadBounded(`http://127.0.0.1:${server.port()}/to/${away}`, { maxBytes: 4096, timeoutMs: 3000, dispatcher: both, headers });
    assert.deepStrictEqual(seen.map((hit) => hit.referer), [headers.referer, undefined, undefined]);
  });
});

describe('downloadToFile', () => {
  const server = serveEverywhere((req, res) => {
    switch (new URL(req.url ?? '/', 'http://x').pathname) {
      case '/video.mp4':
        res.writeHead(200, { 'Content-Type': 'video/MP4', 'Content-Length': VIDEO.length });
        res.end(VIDEO);
        return;
      case '/trickle': {
        // Many small chunks: the head must still be the first 16 bytes.
        res.writeHead(200, { 'Content-Type': 'video/mp4' });
        let offset = 0;
        const next = () => {
          if (offset >= VIDEO.length) return void res.end();
          res.write(VIDEO.subarray(offset, (offset += 5)), next);
        };
        next();
        return;
      }
      case '/redirect':
        res.writeHead(302, { Location: '/video.mp4' });
        res.end();
        return;
      case '/chunked-large':
        res.writeHead(200, { 'Content-Type': 'video/mp4' });
        res.write(Buffer.alloc(3000, 1));
        res.end(Buffer.alloc(3000, 1));
        return;
      case '/empty':
        res.writeHead(200, { 'Content-Type': 'video/mp4' });
        res.end();
        return;
      case '/slow-headers':
        return;
      case '/stall':
        res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': 100 });
        res.write(Buffer.alloc(10));
        return;
      case '/drop':
        res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': 100 });
        res.write(Buffer.alloc(10), () => req.socket.destroy());
        return;
      default:
        res.writeHead(404);
        res.end();
    }
  });
  const VIDEO = Buffer.concat([Buffer.from('\x00\x00\x00\x18ftypmp42', 'latin1'), Buffer.alloc(2000, 7)]);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'download-test-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const limits = (extra: Partial<Parameters<typeof downloadToFile>[1]> = {}) => ({ maxBytes: 4096, timeoutMs: 3000, dispatcher, dir, ...extra });
  const url = (path: string) => `http://127.0.0.1:${server.port()}${path}`;

  test('streams the body to a new file in dir, with its size, bare content type and first 16 bytes', async () => {
    const file = await downloadToFile(url('/video.mp4'), limits());
    assert.equal(dirname(file.path), dir);
    assert.ok((await readFile(file.path)).equals(VIDEO), 'the file holds exactly the body');
    assert.equal(file.sizeBytes, VIDEO.length);
    assert.equal(file.contentType, 'video/mp4');
    assert.ok(file.head.equals(VIDEO.subarray(0, 16)), 'head is the first 16 bytes');
    await rm(file.path);
  });

  test('the head is the first 16 bytes however the body was split', async () => {
    const file = await downloadToFile(url('/trickle'), limits());
    assert.ok(file.head.equals(VIDEO.subarray(0, 16)));
    assert.equal(file.sizeBytes, VIDEO.length);
    await rm(file.path);
  });

  test('follows redirects, and two downloads of one URL get two files', async () => {
    const [a, b] = await Promise.all([downloadToFile(url('/redirect'), limits()), downloadToFile(url('/video.mp4'), limits())]);
    assert.notEqual(a.path, b.path);
    assert.ok((await readFile(a.path)).equals(VIDEO));
    await Promise.all([rm(a.path), rm(b.path)]);
  });

  async function assertFailsCleanly(path: string, reason: DownloadFailure, extra: Partial<Parameters<typeof downloadToFile>[1]> = {}) {
    const error = await downloadFailure(downloadToFile(url(path), limits(extra)));
    assert.equal(error.reason, reason, error.message);
    assert.deepStrictEqual(await readdir(dir), [], 'no file is left behind');
    return error;
  }

  test('a body that grows over maxBytes → too_large, and the partial file is deleted', async () => {
    const error = await assertFailsCleanly('/chunked-large', 'too_large');
    assert.equal(error.sizeBytes, undefined, 'no size is known without Content-Length');
  });

  test('an empty body → empty, and no file is left', async () => {
    await assertFailsCleanly('/empty', 'empty');
  });

  test('404 → bad_status, and no file is made', async () => {
    await assertFailsCleanly('/missing', 'bad_status');
  });

  test('a body that stops arriving → timeout after the stall timeout, long before the overall one', async () => {
    const started = Date.now();
    const error = await assertFailsCleanly('/stall', 'timeout', { stallTimeoutMs: 150, timeoutMs: 20_000 });
    assert.match(error.message, /stalled for 150 ms/);
    assert.ok(Date.now() - started < 10_000);
  });

  test('headers that never come → timeout after the stall timeout', async () => {
    const error = await assertFailsCleanly('/slow-headers', 'timeout', { stallTimeoutMs: 150, timeoutMs: 20_000 });
    assert.match(error.message, /stalled/);
  });

  test('the overall timeout still applies', async () => {
    const error = await assertFailsCleanly('/stall', 'timeout', { timeoutMs: 150 });
    assert.match(error.message, /longer than 150 ms/);
  });

  test('a connection dropped mid-body → network, and the partial file is deleted', async () => {
    await assertFailsCleanly('/drop', 'network');
  });

  test('a refused address → forbidden_address, and no file is made', async () => {
    const publicOnly = createMediaDispatcher([]);
    try {
      await assertFailsCleanly('/video.mp4', 'forbidden_address', { dispatcher: publicOnly });
    } finally {
      await publicOnly.close();
    }
  });
});

/**
 * A body refused on its Content-Length is destroyed unread, and undici then emits an 'error'
 * on it that nobody listens to: an uncaught exception, which the bot's handler turns into an
 * exit. Run in a child process so that exception cannot take this test file down with it.
 */
describe('downloads: Content-Length over the limit (in a child process)', () => {
  const script = `
    import { mkdtemp, readdir } from 'node:fs/promises';
    import { createServer } from 'node:http';
    import { tmpdir } from 'node:os';
    import { join } from 'node:path';
    import { pathToFileURL } from 'node:url';
    const { downloadBounded, downloadToFile } = await import(pathToFileURL(process.argv[1]).href);
    const { createMediaDispatcher } = await import(pathToFileURL(process.argv[2]).href);
    const dispatcher = createMediaDispatcher(['127.0.0.1']);
    const dir = await mkdtemp(join(tmpdir(), 'download-child-'));
    const events = [];
    process.on('uncaughtException', (e) => events.push({ uncaught: e.name + ': ' + e.message }));
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': 10000 });
      res.end(Buffer.alloc(10000));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = 'http://127.0.0.1:' + server.address().port + '/v.mp4';
    for (const [name, download] of [['downloadBounded', downloadBounded], ['downloadToFile', downloadToFile]]) {
      try {
        await download(url, { maxBytes: 4096, timeoutMs: 3000, dispatcher, dir });
        events.push({ name, ok: true });
      } catch (e) {
        events.push({ name, reason: e.reason, message: e.message, sizeBytes: e.sizeBytes });
      }
    }
    events.push({ filesLeft: await readdir(dir) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    server.closeAllConnections();
    server.close();
    await dispatcher.close();
    console.log(JSON.stringify(events));
  `;
  let events: Promise<Array<Record<string, unknown>>>;

  before(() => {
    const module = (path: string) => fileURLToPath(new URL(`../../src/${path}`, import.meta.url));
    events = new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script, module('download.ts'), module('net/media-guard.ts')],
        { cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 15_000 },
        (error, stdout, stderr) => {
          const line = stdout.trim().split('\n').at(-1) ?? '';
          try {
            resolve(JSON.parse(line) as Array<Record<string, unknown>>);
          } catch {
            reject(new Error(`child failed: ${error?.message ?? ''}\n${stdout}\n${stderr}`));
          }
        },
      );
    });
  });

  for (const name of ['downloadBounded', 'downloadToFile']) {
    test(`${name} → too_large, carrying and naming the declared size`, async () => {
      const outcome = (await events).find((e) => e.name === name);
      assert.equal(outcome?.reason, 'too_large', JSON.stringify(outcome));
      assert.equal(outcome?.sizeBytes, 10000);
      assert.match(String(outcome?.message), /10000 bytes/);
    });
  }

  test('downloadToFile made no file', async () => {
    assert.deepStrictEqual((await events).find((e) => 'filesLeft' in e)?.filesLeft, []);
  });

  test('refusing the body does not raise an uncaught exception', async () => {
    assert.deepStrictEqual((await events).filter((e) => 'uncaught' in e), []);
  });
});

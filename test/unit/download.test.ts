import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { downloadBounded, DownloadError, type DownloadFailure } from '../../src/download.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const PAYLOAD = Buffer.from('0123456789abcdef'.repeat(64)); // 1 KiB

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
      await downloadBounded(url, { maxBytes: limits.maxBytes ?? 4096, timeoutMs: limits.timeoutMs ?? 3000 });
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
    const result = await downloadBounded(`${base}/ok`, { maxBytes: 4096, timeoutMs: 3000 });
    assert.ok(result.data.equals(PAYLOAD), 'result.data.equals(PAYLOAD)');
    assert.equal(result.contentType, 'image/png');
  });

  test('a body of exactly maxBytes is accepted', async () => {
    const result = await downloadBounded(`${base}/ok`, { maxBytes: PAYLOAD.length, timeoutMs: 3000 });
    assert.equal(result.data.length, PAYLOAD.length);
  });

  test('a chunked body under the limit is reassembled in order', async () => {
    const result = await downloadBounded(`${base}/chunked-ok`, { maxBytes: 4096, timeoutMs: 3000 });
    assert.ok(result.data.equals(PAYLOAD), 'result.data.equals(PAYLOAD)');
    assert.equal(result.contentType, 'video/mp4');
  });

  test('no content type gives undefined', async () => {
    const result = await downloadBounded(`${base}/no-type`, { maxBytes: 4096, timeoutMs: 3000 });
    assert.equal(result.contentType, undefined);
  });

  test('sends the headers it is given', async () => {
    seenHeaders.length = 0;
    await downloadBounded(`${base}/ok`, { maxBytes: 4096, timeoutMs: 3000, headers: { referer: 'https://pika.art/' } });
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
    const result = await downloadBounded(`${base}/redirect-relative`, { maxBytes: 4096, timeoutMs: 3000 });
    assert.ok(result.data.equals(PAYLOAD), 'result.data.equals(PAYLOAD)');
    assert.deepStrictEqual(hits, ['/redirect-relative', '/ok']);
  });

  test('an absolute redirect to http is followed', async () => {
    const result = await downloadBounded(`${base}/redirect-absolute`, { maxBytes: 4096, timeoutMs: 3000 });
    assert.ok(result.data.equals(PAYLOAD), 'result.data.equals(PAYLOAD)');
  });

  test('three redirects are followed', async () => {
    const result = await downloadBounded(`${base}/chain/3`, { maxBytes: 4096, timeoutMs: 3000 });
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

/**
 * A body refused on its Content-Length is destroyed unread, and undici then emits an 'error'
 * on it that nobody listens to: an uncaught exception, which the bot's handler turns into an
 * exit. Run in a child process so that exception cannot take this test file down with it.
 */
describe('downloadBounded: Content-Length over the limit (in a child process)', () => {
  const script = `
    import { createServer } from 'node:http';
    import { pathToFileURL } from 'node:url';
    const { downloadBounded } = await import(pathToFileURL(process.argv[1]).href);
    const events = [];
    process.on('uncaughtException', (e) => events.push({ uncaught: e.name + ': ' + e.message }));
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': 10000 });
      res.end(Buffer.alloc(10000));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await downloadBounded('http://127.0.0.1:' + server.address().port + '/v.mp4', { maxBytes: 4096, timeoutMs: 3000 });
      events.push({ ok: true });
    } catch (e) {
      events.push({ reason: e.reason, message: e.message });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    server.closeAllConnections();
    server.close();
    console.log(JSON.stringify(events));
  `;
  let events: Promise<Array<Record<string, unknown>>>;

  before(() => {
    const downloadModule = fileURLToPath(new URL('../../src/download.ts', import.meta.url));
    events = new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script, downloadModule],
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

  test('→ too_large, naming the declared size', async () => {
    const outcome = (await events).find((e) => 'reason' in e || 'ok' in e);
    assert.equal(outcome?.reason, 'too_large', JSON.stringify(outcome));
    assert.match(String(outcome?.message), /10000 bytes/);
  });

  test(
    'refusing the body does not raise an uncaught exception',
    {},
    async () => {
      assert.deepStrictEqual((await events).filter((e) => 'uncaught' in e), []);
    },
  );
});

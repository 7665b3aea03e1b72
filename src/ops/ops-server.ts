import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** What readiness checks: each named part, ready or not. */
export type ReadinessCheck = () => Promise<Record<string, boolean>>;

/**
 * The operator's endpoints: `/health` (the process is up), `/ready` (503 until every check
 * passes: the gateway where this process runs one, the store) and `/metrics` (Prometheus text).
 */
export async function startOpsServer(options: { host: string; port: number; registry: Registry; ready: ReadinessCheck }): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const answer = async () => {
      if (request.method !== 'GET') return reply(405, 'text/plain', 'GET only\n');
      if (path === '/health') return reply(200, 'text/plain', 'ok\n');
      if (path === '/ready') {
        const checks = await options.ready().catch(() => ({ checks: false }));
        const ready = Object.values(checks).every(Boolean);
        return reply(ready ? 200 : 503, 'application/json', `${JSON.stringify({ ready, checks })}\n`);
      }
      if (path === '/metrics') return reply(200, options.registry.contentType, await options.registry.metrics());
      return reply(404, 'text/plain', 'not found\n');
    };
    const reply = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type });
      response.end(body);
    };
    answer().catch(() => reply(500, 'text/plain', 'error\n'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';

const read = (name: string) => readFile(new URL(`../../${name}`, import.meta.url), 'utf8');

/** The compose file's services, each as its own block of text (no YAML parser among the dependencies). */
function services(compose: string): Map<string, string> {
  const body = compose.split(/^services:\n/m)[1]!.split(/^\S/m)[0]!;
  const blocks = body.split(/^(?= {2}\w[\w-]*:\n)/m).filter((block) => block.trim());
  return new Map(blocks.map((block) => [block.trim().split(':')[0]!, block]));
}

describe('the deployment files', () => {
  test('compose runs Redis append-only without eviction, one gateway and two workers on it', async () => {
    const all = services(await read('docker-compose.yml'));
    assert.deepEqual([...all.keys()], ['redis', 'gateway', 'worker', 'prometheus']);
    assert.match(all.get('redis')!, /"--appendonly", "yes"/);
    assert.match(all.get('redis')!, /"--maxmemory-policy", "noeviction"/);
    for (const [name, role] of [['gateway', 'gateway'], ['worker', 'worker']] as const) {
      assert.match(all.get(name)!, /STORE_URL: redis:\/\/redis:6379/);
      assert.match(all.get(name)!, new RegExp(`BOT_ROLE: ${role}\\n`));
    }
    assert.match(all.get('worker')!, /replicas: 2/);
    // Replicas share one environment: only processes without a gateway may be replicated, or they would all run the same shards.
    assert.doesNotMatch(all.get('gateway')!, /replicas/);
    assert.doesNotMatch(all.get('worker')!, /SHARD_IDS/);
  });

  test('Prometheus, on request, scrapes the metrics port every bot process serves', async () => {
    const all = services(await read('docker-compose.yml'));
    for (const name of ['gateway', 'worker']) assert.match(all.get(name)!, /METRICS_PORT: 9464\n\s+METRICS_HOST: 0\.0\.0\.0/);
    assert.match(all.get('prometheus')!, /profiles: \[monitoring\]/);
    assert.match(all.get('prometheus')!, /\.\/docs\/prometheus\.yml:\/etc\/prometheus\/prometheus\.yml/);
    const scrape = await read('docs/prometheus.yml');
    assert.match(scrape, /targets: \['gateway:9464'\]/);
    assert.match(scrape, /names: \['worker'\]\n\s+type: A\n\s+port: 9464/);
  });

  test('the image is built in two stages and runs the bot as the unprivileged node user, with Node as PID 1', async () => {
    const dockerfile = await read('Dockerfile');
    assert.equal(dockerfile.match(/^FROM /gm)?.length, 2);
    assert.match(dockerfile, /^COPY --from=build \/app\/node_modules/m);
    assert.match(dockerfile, /^RUN npm ci --omit=dev/m);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^CMD \["node", "--import", "tsx", "src\/index.ts"\]$/m);
    const ignored = (await read('.dockerignore')).split('\n');
    for (const entry of ['node_modules', '.env', 'data', '.git']) assert.ok(ignored.includes(entry), `${entry} stays out of the image`);
  });
});

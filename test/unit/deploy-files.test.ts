import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { composeServices, imageCommand, readProjectFile } from '../support/deploy-files.js';

const read = readProjectFile;
const services = composeServices;

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

  test('the image is built in two stages and runs the compiled bot as the unprivileged node user, with Node as PID 1', async () => {
    const dockerfile = await read('Dockerfile');
    assert.equal(dockerfile.match(/^FROM /gm)?.length, 2);
    // `npm ci` compiles the bot (prepare); only then are the development packages dropped.
    assert.match(dockerfile, /^COPY .*tsconfig\.build\.json/m);
    assert.match(dockerfile, /^RUN npm ci --no-audit --no-fund && npm prune --omit=dev/m);
    assert.match(dockerfile, /^COPY --from=build \/app\/node_modules/m);
    assert.match(dockerfile, /^COPY --from=build \/app\/dist/m);
    assert.match(dockerfile, /^USER node$/m);
    const pkg = JSON.parse(await read('package.json'));
    assert.equal(pkg.scripts.prepare, 'npm run build');
    assert.deepEqual(imageCommand(dockerfile).join(' '), pkg.scripts.start, 'the image runs what `npm start` runs');
    const ignored = (await read('.dockerignore')).split('\n');
    for (const entry of ['node_modules', '.env', 'data', '.git', 'dist']) assert.ok(ignored.includes(entry), `${entry} stays out of the image`);
  });

  test('the image holds everything the build compiles, and the compiled bot needs nothing but production packages', async () => {
    const dockerfile = await read('Dockerfile');
    const { config } = ts.parseConfigFileTextToJson('tsconfig.build.json', await read('tsconfig.build.json'));
    for (const dir of config.include as string[]) assert.match(dockerfile, new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'), `the build stage copies ${dir}/`);
    const pkg = JSON.parse(await read('package.json'));
    const production = new Set(Object.keys(pkg.dependencies));
    const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
    const files = (await readdir(dist, { recursive: true })).filter((file) => file.endsWith('.js'));
    assert.ok(files.includes(join('src', 'index.js')), 'dist/ is built');
    const imported = new Set<string>();
    for (const file of files) {
      const code = await readFile(join(dist, file), 'utf8');
      for (const [, specifier] of code.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)) {
        if (specifier!.startsWith('.') || specifier!.startsWith('node:') || builtinModules.includes(specifier!)) continue;
        imported.add(specifier!.startsWith('@') ? specifier!.split('/').slice(0, 2).join('/') : specifier!.split('/')[0]!);
      }
    }
    for (const name of imported) assert.ok(production.has(name), `dist/ imports ${name}, which is not a production dependency`);
    assert.ok(imported.has('discord.js') && imported.has('pino'));
  });
});

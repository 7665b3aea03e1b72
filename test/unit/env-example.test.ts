import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import dotenv from 'dotenv';
import { parseConfig } from '../../src/config.js';

const root = new URL('../../', import.meta.url);
const documented = dotenv.parse(readFileSync(new URL('.env.example', root)));
const configSource = readFileSync(new URL('src/config.ts', root), 'utf8');
const read = [...configSource.matchAll(/reader\.\w+\(\s*'([A-Z_]+)'/g)].map((match) => match[1]!);

test('.env.example documents exactly the variables the config reads', () => {
  assert.ok(read.length > 20, 'found the variables in src/config.ts');
  assert.deepEqual([...new Set(read)].sort(), Object.keys(documented).sort());
});

test('.env.example, with the three secrets filled in, is a valid configuration', () => {
  const config = parseConfig({ ...documented, DISCORD_TOKEN: 'token', PIKA_API_URL: 'https://pika.example', PIKA_API_KEY: 'sk-key' });
  assert.equal(config.storeUrl, 'sqlite://data/pika.sqlite');
  assert.equal(config.progressEditIntervalMs, 3000);
});

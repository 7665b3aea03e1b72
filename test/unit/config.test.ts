import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig, type Config } from '../../src/config.js';

const DISCORD_TOKEN = 'secret-token-value';
const PIKA_API_KEY = 'sk-secret-pika-key-0123456789';

/** The three variables without a default, plus whatever a test adds or overrides. */
function env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { DISCORD_TOKEN, PIKA_API_KEY, PIKA_API_URL: 'https://pika.example.com', ...extra };
}

/** Runs parseConfig expecting a ConfigError and returns it. */
function configError(input: NodeJS.ProcessEnv): ConfigError {
  try {
    parseConfig(input);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.name, 'ConfigError');
    return error;
  }
  assert.fail('parseConfig accepted an invalid configuration');
}

/** The problem that names `variable`, asserting there is exactly one. */
function problemAbout(error: ConfigError, variable: string): string {
  const matching = error.problems.filter((p) => p.startsWith(`${variable} `));
  assert.equal(matching.length, 1, `expected one problem about ${variable}, got ${JSON.stringify(error.problems)}`);
  return matching[0]!;
}

describe('parseConfig: defaults', () => {
  test('the three required variables are enough; everything else has its documented default', () => {
    const config = parseConfig(env());
    // Compared key by key, so settings added later (with their own tests) do not break this one.
    const expected: Partial<Config> = {
      discordToken: DISCORD_TOKEN,
      discordApiUrl: undefined,
      devGuildId: undefined,
      pikaApiUrl: 'https://pika.example.com',
      pikaApiKey: PIKA_API_KEY,
      storeUrl: 'sqlite://data/pika.sqlite',
      pollIntervalMs: 5000,
      pollConcurrency: 8,
      taskTimeoutMs: 15 * 60_000,
      progressEditIntervalMs: 3000,
      generateTimeoutMs: 60_000,
      feedTimeoutMs: 15_000,
      logLevel: 'info',
      imageTransport: 'url',
      maxImageBytes: 10 * 1024 * 1024,
      maxVideoBytes: 200 * 1024 * 1024,
      defaults: {
        model: '1.5',
        aspectRatio: '16:9',
        frameRate: 24,
        guidanceScale: 12,
        motion: 1,
        ingredientsMode: 'precise',
      },
    };
    const actual = Object.fromEntries(Object.keys(expected).map((key) => [key, config[key as keyof Config]]));
    assert.deepStrictEqual(actual, expected);
    for (const key of Object.keys(expected)) assert.ok(key in config, `config has ${key}`);
  });

  test('empty and whitespace-only values count as unset and fall back to the default', () => {
    const config = parseConfig(env({ POLL_INTERVAL_MS: '', LOG_LEVEL: '   ', DEFAULT_MODEL: '\t', DISCORD_API_URL: ' ' }));
    assert.equal(config.pollIntervalMs, 5000);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.defaults.model, '1.5');
    assert.equal(config.discordApiUrl, undefined);
  });

  test('values are trimmed, secrets included', () => {
    const config = parseConfig(env({ DISCORD_TOKEN: `  ${DISCORD_TOKEN}\n`, PIKA_API_KEY: `\t${PIKA_API_KEY} `, LOG_LEVEL: ' debug ' }));
    assert.equal(config.discordToken, DISCORD_TOKEN);
    assert.equal(config.pikaApiKey, PIKA_API_KEY);
    assert.equal(config.logLevel, 'debug');
  });

  test('every variable is read when set to a valid value', () => {
    const config = parseConfig(
      env({
        DISCORD_API_URL: 'http://127.0.0.1:4000/api',
        DEV_GUILD_ID: '123456789012345678',
        STORE_URL: 'sqlite://elsewhere.sqlite',
        POLL_INTERVAL_MS: '10',
        POLL_CONCURRENCY: '256',
        TASK_TIMEOUT_MS: '1000',
        PROGRESS_EDIT_INTERVAL_MS: '0',
        PIKA_GENERATE_TIMEOUT_MS: '100',
        PIKA_FEED_TIMEOUT_MS: '600000',
        LOG_LEVEL: 'error',
        PIKA_IMAGE_TRANSPORT: 'base64',
        MAX_IMAGE_BYTES: '1',
        MAX_VIDEO_BYTES: String(2048 * 1024 * 1024),
        DEFAULT_MODEL: '2.0',
        DEFAULT_ASPECT_RATIO: '5:2',
        DEFAULT_FRAME_RATE: '8',
        DEFAULT_GUIDANCE_SCALE: '7.5',
        DEFAULT_MOTION: '4',
        DEFAULT_INGREDIENTS_MODE: 'creative',
      }),
    );
    assert.equal(config.discordApiUrl, 'http://127.0.0.1:4000/api');
    assert.equal(config.devGuildId, '123456789012345678');
    assert.equal(config.storeUrl, 'sqlite://elsewhere.sqlite');
    assert.equal(config.pollIntervalMs, 10);
    assert.equal(config.pollConcurrency, 256);
    assert.equal(config.taskTimeoutMs, 1000);
    assert.equal(config.progressEditIntervalMs, 0);
    assert.equal(config.generateTimeoutMs, 100);
    assert.equal(config.feedTimeoutMs, 600_000);
    assert.equal(config.logLevel, 'error');
    assert.equal(config.imageTransport, 'base64');
    assert.equal(config.maxImageBytes, 1);
    assert.equal(config.maxVideoBytes, 2048 * 1024 * 1024);
    assert.deepStrictEqual(config.defaults, {
      model: '2.0',
      aspectRatio: '5:2',
      frameRate: 8,
      guidanceScale: 7.5,
      motion: 4,
      ingredientsMode: 'creative',
    });
  });
});

describe('parseConfig: URLs', () => {
  test('trailing slashes are trimmed from PIKA_API_URL and DISCORD_API_URL', () => {
    const config = parseConfig(env({ PIKA_API_URL: 'https://pika.example.com/v1///', DISCORD_API_URL: 'http://localhost:9/api/' }));
    assert.equal(config.pikaApiUrl, 'https://pika.example.com/v1');
    assert.equal(config.discordApiUrl, 'http://localhost:9/api');
  });

  test('a bare origin with a slash loses the slash', () => {
    assert.equal(parseConfig(env({ PIKA_API_URL: 'https://pika.example.com/' })).pikaApiUrl, 'https://pika.example.com');
  });

  for (const bad of ['not a url', 'pika.example.com', 'ftp://pika.example.com', 'file:///etc/passwd', 'javascript:alert(1)']) {
    test(`PIKA_API_URL "${bad}" is refused as not http(s)`, () => {
      const error = configError(env({ PIKA_API_URL: bad }));
      assert.equal(problemAbout(error, 'PIKA_API_URL'), 'PIKA_API_URL must be an http(s) URL');
    });
  }

  test('an invalid optional DISCORD_API_URL is a problem too', () => {
    const error = configError(env({ DISCORD_API_URL: 'ws://gateway.example.com' }));
    assert.equal(problemAbout(error, 'DISCORD_API_URL'), 'DISCORD_API_URL must be an http(s) URL');
  });

  test('a missing PIKA_API_URL is reported as required', () => {
    const error = configError(env({ PIKA_API_URL: undefined }));
    assert.match(problemAbout(error, 'PIKA_API_URL'), /is required/);
  });
});

describe('parseConfig: every problem at once', () => {
  test('missing DISCORD_TOKEN, bad POLL_INTERVAL_MS and bad PIKA_API_URL all appear in one ConfigError', () => {
    const error = configError({ PIKA_API_KEY, PIKA_API_URL: 'nope', POLL_INTERVAL_MS: 'soon' });
    assert.equal(error.problems.length, 3, JSON.stringify(error.problems));
    assert.match(problemAbout(error, 'DISCORD_TOKEN'), /DISCORD_TOKEN is required/);
    assert.equal(problemAbout(error, 'PIKA_API_URL'), 'PIKA_API_URL must be an http(s) URL');
    assert.equal(problemAbout(error, 'POLL_INTERVAL_MS'), 'POLL_INTERVAL_MS must be a number from 10 to 600000, got "soon"');
    for (const problem of error.problems) assert.ok(error.message.includes(problem), `message lists "${problem}"`);
    assert.match(error.message, /^Invalid configuration:\n {2}- /);
  });

  test('an empty environment names every required variable', () => {
    const error = configError({});
    assert.deepStrictEqual(
      error.problems.map((p) => p.split(' ')[0]),
      ['DISCORD_TOKEN', 'PIKA_API_URL', 'PIKA_API_KEY'],
    );
    for (const problem of error.problems) assert.match(problem, /is required/);
  });

  test('many invalid variables produce one problem each', () => {
    const error = configError(
      env({
        POLL_CONCURRENCY: '0',
        LOG_LEVEL: 'verbose',
        DEFAULT_MODEL: '3.0',
        DEFAULT_ASPECT_RATIO: '21:9',
        DEFAULT_GUIDANCE_SCALE: '30',
        DEFAULT_MOTION: '2.5',
        DEV_GUILD_ID: 'my-guild',
        PIKA_IMAGE_TRANSPORT: 'ftp',
      }),
    );
    assert.equal(error.problems.length, 8, JSON.stringify(error.problems));
  });
});

describe('parseConfig: numbers and choices', () => {
  const rangeCases: Array<[string, string, string]> = [
    ['POLL_INTERVAL_MS', '9', 'POLL_INTERVAL_MS must be a number from 10 to 600000, got "9"'],
    ['POLL_INTERVAL_MS', '600001', 'POLL_INTERVAL_MS must be a number from 10 to 600000, got "600001"'],
    ['POLL_CONCURRENCY', '257', 'POLL_CONCURRENCY must be a number from 1 to 256, got "257"'],
    ['PROGRESS_EDIT_INTERVAL_MS', '-1', 'PROGRESS_EDIT_INTERVAL_MS must be a number from 0 to 600000, got "-1"'],
    ['PIKA_GENERATE_TIMEOUT_MS', '99', 'PIKA_GENERATE_TIMEOUT_MS must be a number from 100 to 600000, got "99"'],
    ['MAX_IMAGE_BYTES', '0', 'MAX_IMAGE_BYTES must be a number from 1 to 104857600, got "0"'],
    ['DEFAULT_FRAME_RATE', '25', 'DEFAULT_FRAME_RATE must be a number from 8 to 24, got "25"'],
    ['DEFAULT_FRAME_RATE', '7', 'DEFAULT_FRAME_RATE must be a number from 8 to 24, got "7"'],
    ['DEFAULT_GUIDANCE_SCALE', '4.99', 'DEFAULT_GUIDANCE_SCALE must be a number from 5 to 25, got "4.99"'],
    ['DEFAULT_GUIDANCE_SCALE', '25.01', 'DEFAULT_GUIDANCE_SCALE must be a number from 5 to 25, got "25.01"'],
    ['DEFAULT_MOTION', '5', 'DEFAULT_MOTION must be a number from 0 to 4, got "5"'],
    ['TASK_TIMEOUT_MS', 'Infinity', 'TASK_TIMEOUT_MS must be a number from 1000 to 86400000, got "Infinity"'],
  ];
  for (const [name, value, expected] of rangeCases) {
    test(`${name}=${value} is out of range`, () => {
      assert.equal(problemAbout(configError(env({ [name]: value })), name), expected);
    });
  }

  test('non-numeric text is refused with the value quoted', () => {
    assert.equal(
      problemAbout(configError(env({ POLL_CONCURRENCY: 'eight' })), 'POLL_CONCURRENCY'),
      'POLL_CONCURRENCY must be a number from 1 to 256, got "eight"',
    );
  });

  test('integer settings refuse fractions that are in range', () => {
    const error = configError(env({ POLL_INTERVAL_MS: '1000.5', DEFAULT_MOTION: '1.5', DEFAULT_FRAME_RATE: '12.5' }));
    assert.equal(problemAbout(error, 'POLL_INTERVAL_MS'), 'POLL_INTERVAL_MS must be a whole number');
    assert.equal(problemAbout(error, 'DEFAULT_MOTION'), 'DEFAULT_MOTION must be a whole number');
    assert.equal(problemAbout(error, 'DEFAULT_FRAME_RATE'), 'DEFAULT_FRAME_RATE must be a whole number');
  });

  test('guidance scale accepts fractions and both bounds', () => {
    assert.equal(parseConfig(env({ DEFAULT_GUIDANCE_SCALE: '5' })).defaults.guidanceScale, 5);
    assert.equal(parseConfig(env({ DEFAULT_GUIDANCE_SCALE: '25' })).defaults.guidanceScale, 25);
    assert.equal(parseConfig(env({ DEFAULT_GUIDANCE_SCALE: '12.25' })).defaults.guidanceScale, 12.25);
  });

  test('range bounds are inclusive', () => {
    const config = parseConfig(env({ POLL_CONCURRENCY: '1', DEFAULT_MOTION: '0', DEFAULT_FRAME_RATE: '24', POLL_INTERVAL_MS: '600000' }));
    assert.equal(config.pollConcurrency, 1);
    assert.equal(config.defaults.motion, 0);
    assert.equal(config.defaults.frameRate, 24);
    assert.equal(config.pollIntervalMs, 600_000);
  });

  const choiceCases: Array<[string, string, string]> = [
    ['LOG_LEVEL', 'verbose', 'LOG_LEVEL must be one of debug, info, warn, error, got "verbose"'],
    ['LOG_LEVEL', 'INFO', 'LOG_LEVEL must be one of debug, info, warn, error, got "INFO"'],
    ['PIKA_IMAGE_TRANSPORT', 'data-uri', 'PIKA_IMAGE_TRANSPORT must be one of url, base64, got "data-uri"'],
    ['DEFAULT_MODEL', '1.0', 'DEFAULT_MODEL must be one of 1.5, 2.0, got "1.0"'],
    ['DEFAULT_MODEL', '2', 'DEFAULT_MODEL must be one of 1.5, 2.0, got "2"'],
    ['DEFAULT_ASPECT_RATIO', '16/9', 'DEFAULT_ASPECT_RATIO must be one of 16:9, 9:16, 1:1, 4:5, 4:3, 3:4, 5:2, got "16/9"'],
    ['DEFAULT_INGREDIENTS_MODE', 'loose', 'DEFAULT_INGREDIENTS_MODE must be one of precise, creative, got "loose"'],
  ];
  for (const [name, value, expected] of choiceCases) {
    test(`${name}=${value} is not one of the choices`, () => {
      assert.equal(problemAbout(configError(env({ [name]: value })), name), expected);
    });
  }

  test('every documented choice is accepted', () => {
    for (const ratio of ['16:9', '9:16', '1:1', '4:5', '4:3', '3:4', '5:2']) {
      assert.equal(parseConfig(env({ DEFAULT_ASPECT_RATIO: ratio })).defaults.aspectRatio, ratio);
    }
    for (const level of ['debug', 'info', 'warn', 'error']) {
      assert.equal(parseConfig(env({ LOG_LEVEL: level })).logLevel, level);
    }
  });

  test('DEV_GUILD_ID must be a 17–20 digit snowflake', () => {
    assert.equal(parseConfig(env({ DEV_GUILD_ID: '12345678901234567' })).devGuildId, '12345678901234567');
    assert.equal(parseConfig(env({ DEV_GUILD_ID: '12345678901234567890' })).devGuildId, '12345678901234567890');
    for (const bad of ['1234567890123456', '123456789012345678901', '12345678901234567a']) {
      assert.match(problemAbout(configError(env({ DEV_GUILD_ID: bad })), 'DEV_GUILD_ID'), /must be a Discord id/);
    }
  });
});

describe('parseConfig: secrets never appear in errors', () => {
  test('valid secrets are not echoed when another variable is invalid', () => {
    const error = configError(env({ LOG_LEVEL: 'loud', POLL_INTERVAL_MS: '-5', PIKA_API_URL: 'nope' }));
    for (const secret of [DISCORD_TOKEN, PIKA_API_KEY]) {
      assert.ok(!error.message.includes(secret), `message leaks ${secret}`);
      assert.ok(!JSON.stringify(error.problems).includes(secret), '!JSON.stringify(error.problems).includes(secret)');
      assert.ok(!String(error.stack).includes(secret), '!String(error.stack).includes(secret)');
    }
  });

  test('invalid-looking secrets are never echoed either, whatever else fails', () => {
    const oddSecrets = ['secret token with spaces', 'secret-line\nbreak-value', '"quoted-secret-value"', 'sécret-ünïcode-välue'];
    for (const secret of oddSecrets) {
      for (const variable of ['DISCORD_TOKEN', 'PIKA_API_KEY']) {
        let error: unknown;
        try {
          parseConfig(env({ [variable]: secret, LOG_LEVEL: 'loud' }));
        } catch (e) {
          error = e;
        }
        assert.ok(error instanceof ConfigError, 'error instanceof ConfigError');
        for (const fragment of [secret, secret.trim(), ...secret.split(/\s+/).filter((s) => s.length > 6)]) {
          assert.ok(!error.message.includes(fragment), `${variable} value leaked: ${JSON.stringify(fragment)}`);
        }
      }
    }
  });

  test('a secret pasted into the URL variable is not echoed', () => {
    const error = configError(env({ PIKA_API_URL: PIKA_API_KEY }));
    assert.equal(problemAbout(error, 'PIKA_API_URL'), 'PIKA_API_URL must be an http(s) URL');
    assert.ok(!error.message.includes(PIKA_API_KEY), '!error.message.includes(PIKA_API_KEY)');
  });

  test('a whitespace-only secret is reported as missing without repeating it', () => {
    const error = configError(env({ PIKA_API_KEY: '   \t ' }));
    assert.deepStrictEqual(error.problems, ['PIKA_API_KEY is required (see .env.example)']);
  });
});

describe('parseConfig: ALLOWED_PRIVATE_MEDIA_HOSTS', () => {
  test('is empty by default: media only from public addresses', () => {
    assert.deepStrictEqual(parseConfig(env()).allowedPrivateMediaHosts, []);
  });

  test('takes IPv4 and IPv6 addresses and CIDR ranges, separated by commas and spaces', () => {
    const config = parseConfig(env({ ALLOWED_PRIVATE_MEDIA_HOSTS: ' 127.0.0.1, 10.8.0.0/16 ,fd00::/8  ::1,192.168.1.20/32' }));
    assert.deepStrictEqual(config.allowedPrivateMediaHosts, ['127.0.0.1', '10.8.0.0/16', 'fd00::/8', '::1', '192.168.1.20/32']);
  });

  test('names every entry that is not an address or range, in one problem', () => {
    const error = configError(env({ ALLOWED_PRIVATE_MEDIA_HOSTS: '127.0.0.1,localhost,10.0.0.0/33,fd00::/129,300.1.1.1,10.0.0.0/' }));
    const problem = problemAbout(error, 'ALLOWED_PRIVATE_MEDIA_HOSTS');
    assert.match(problem, /must be IP addresses or CIDR ranges/);
    assert.match(problem, /not valid: localhost, 10\.0\.0\.0\/33, fd00::\/129, 300\.1\.1\.1, 10\.0\.0\.0\/$/);
  });
});

describe('parseConfig: processes and shards', () => {
  const REDIS = 'redis://127.0.0.1:6379';

  test('by default one process does everything and runs every shard Discord recommends', () => {
    const config = parseConfig(env());
    assert.equal(config.role, 'all');
    assert.deepEqual(config.shards, { count: 'auto', ids: null });
    assert.equal(config.jobLockMs, 10_000);
    assert.equal(config.workerConcurrency, 500);
  });

  test('SHARD_COUNT and SHARD_IDS choose the shards; ids are sorted and deduplicated', () => {
    assert.deepEqual(parseConfig(env({ SHARD_COUNT: '4', SHARD_IDS: '3, 1,1' })).shards, { count: 4, ids: [1, 3] });
    assert.deepEqual(parseConfig(env({ SHARD_COUNT: 'AUTO', SHARD_IDS: '2' })).shards, { count: 'auto', ids: [2] });
  });

  test('shards outside the count, and counts or ids that are not whole numbers, are problems', () => {
    assert.match(problemAbout(configError(env({ SHARD_COUNT: '2', SHARD_IDS: '0,2,5' })), 'SHARD_IDS'), /below SHARD_COUNT \(2\); not valid: 2, 5/);
    assert.match(problemAbout(configError(env({ SHARD_COUNT: '0' })), 'SHARD_COUNT'), /"auto" or a whole number/);
    assert.match(problemAbout(configError(env({ SHARD_COUNT: 'two' })), 'SHARD_COUNT'), /got "two"/);
    assert.match(problemAbout(configError(env({ SHARD_IDS: '0,x' })), 'SHARD_IDS'), /not valid: x/);
  });

  test('a gateway-only or worker-only process needs a shared (Redis) store', () => {
    for (const role of ['gateway', 'worker']) {
      assert.match(problemAbout(configError(env({ BOT_ROLE: role })), 'BOT_ROLE'), /must be all on SQLite.*needs a shared store \(STORE_URL=redis/);
      assert.equal(parseConfig(env({ BOT_ROLE: role, STORE_URL: REDIS })).role, role);
    }
    assert.match(problemAbout(configError(env({ BOT_ROLE: 'both' })), 'BOT_ROLE'), /one of gateway, worker, all/);
  });
});

describe('parseConfig: operations endpoints', () => {
  test('off unless METRICS_PORT is set; on loopback unless METRICS_HOST says otherwise', () => {
    assert.equal(parseConfig(env()).metrics, null);
    assert.deepEqual(parseConfig(env({ METRICS_PORT: '9464' })).metrics, { port: 9464, host: '127.0.0.1' });
    assert.deepEqual(parseConfig(env({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' })).metrics, { port: 9464, host: '0.0.0.0' });
    assert.match(problemAbout(configError(env({ METRICS_PORT: '70000' })), 'METRICS_PORT'), /from 0 to 65535/);
  });
});

/**
 * pika-discord beside a bare discord.js bot (bench/bare-bot.mjs), each against a fresh local
 * Discord and Pika of its own, in one run: what a user feels (how soon a command is deferred,
 * how soon a finished video is posted) and what an operator pays (memory, CPU, requests).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeDiscord, type FakeInteraction } from '../test/fakes/discord.js';
import { FakePika, type FeedStep } from '../test/fakes/pika.js';
import { BOT_ENTRY } from '../test/support/bot-process.js';
import { newUserId } from '../test/support/users.js';
import { eventually, isSettled, makeSecrets } from '../test/support/world.js';
import { BenchProcess } from './process-group.js';

export interface BotFigures {
  deferP50Ms: number;
  deferP99Ms: number;
  /** Each burst's p99, in the order they ran: how far one burst is from the next. */
  deferP99ByBurstMs: number[];
  idleRssMiB: number;
  loadedRssMiB: number;
  /** Share of one core, in the window with every task in flight. */
  loadedCpuPercent: number;
  discordRequestsPerSecond: number;
  rateLimited: number;
  feedCallsPerTaskMinute: number;
  postedP50Ms: number;
  postedP99Ms: number;
  generatesPerAcceptedCommand: number;
}

export interface SideBySideOptions {
  burst: number;
  inFlight: number;
  /** The feed's poll interval, the same for both bots. */
  pollIntervalMs: number;
  /** How long the figures with every task in flight are read over. */
  windowMs: number;
}

const DEFAULT_SIDE_BY_SIDE: SideBySideOptions = { burst: 200, inFlight: 2000, pollIntervalMs: 5000, windowMs: 30_000 };

type Kind = 'bare' | 'project';

/** The three bots `npm run bench` runs: the two compared, and the bare bot with the project's heap setting (for memory). */
export interface SideBySideFigures {
  bare: BotFigures;
  project: BotFigures;
  bareWithHeapSetting: BotFigures;
}

/**
 * Runs the three bots at once, each against a local Discord and Pika of its own, and measures
 * their bursts in turns: this machine's speed drifts over minutes (a bot's median burst p99 has
 * moved threefold between runs a few minutes apart), so bursts measured one bot after the other
 * compare a bot with the machine as much as with the other bot. Taking turns, every bot meets
 * the same spells of noise. The order rotates each round, and a bot's burst starts a second
 * after the one before it, whichever bot's, was delivered, so that the work a bot still does
 * after posting (pika-discord notifies the requester and writes its records) is mostly over.
 * The load with every task in flight is then measured for one bot at a time, the others idle,
 * each bot stopped once measured; the plain bare bot, the one compared, goes last, so nothing
 * it meets is colder than what the project met.
 */
export async function measureSideBySide(options: SideBySideOptions = DEFAULT_SIDE_BY_SIDE): Promise<SideBySideFigures> {
  const bots: BenchedBot[] = [];
  try {
    bots.push(await BenchedBot.start('bare', options, ['--heap-growing-percent=50']));
    bots.push(await BenchedBot.start('project', options));
    bots.push(await BenchedBot.start('bare', options));
    await sleep(3000);
    for (const bot of bots) await bot.measureIdle();
    for (let round = 0; round < BURST_ROUNDS; round++) {
      for (let turn = 0; turn < bots.length; turn++) {
        await bots[(round + turn) % bots.length]!.burst(round);
        await sleep(BETWEEN_BURSTS_MS);
      }
    }
    const figures: BotFigures[] = [];
    for (const bot of bots) {
      figures.push(await bot.measureLoad());
      await bot.stop();
    }
    return { bareWithHeapSetting: figures[0]!, project: figures[1]!, bare: figures[2]! };
  } finally {
    await Promise.allSettled(bots.map((bot) => bot.stop()));
  }
}

const BETWEEN_BURSTS_MS = 1000;

/** One bot of the comparison, with its own local Discord and Pika and what has been measured of it so far. */
class BenchedBot {
  private idleRssMiB = NaN;
  /** Each burst's commands, in the order the bursts ran. */
  private readonly bursts: FakeInteraction[][] = [];
  private stopped = false;

  private constructor(
    private readonly bot: BenchProcess,
    private readonly discord: FakeDiscord,
    private readonly pika: FakePika,
    private readonly storeDir: string,
    private readonly options: SideBySideOptions,
  ) {}

  /** `nodeArgs` go to Node before the bot's script (the bare bot with the project's heap setting, say). */
  static async start(kind: Kind, options: SideBySideOptions, nodeArgs: string[] = []): Promise<BenchedBot> {
    const secrets = makeSecrets();
    const discord = await FakeDiscord.start({ botToken: secrets.botToken });
    const pika = await FakePika.start({ apiKey: secrets.apiKey });
    const storeDir = await mkdtemp(join(tmpdir(), 'pika-bench-'));
    const common = {
      DISCORD_TOKEN: secrets.botToken,
      DISCORD_API_URL: discord.apiUrl,
      DEV_GUILD_ID: discord.guildId,
      PIKA_API_URL: pika.url,
      PIKA_API_KEY: secrets.apiKey,
      POLL_INTERVAL_MS: String(options.pollIntervalMs),
      NODE_ENV: 'production',
    };
    // The project as an operator runs it (`npm start`), with its limits out of the way: every
    // command here comes from a different user, and none may be refused.
    const starting =
      kind === 'bare'
        ? BenchProcess.start([...nodeArgs, 'bench/bare-bot.mjs'], common, /bare bot ready/)
        : BenchProcess.start(
            [...nodeArgs, BOT_ENTRY],
            {
              ...common,
              STORE_URL: `sqlite://${join(storeDir, 'pika.sqlite')}`,
              DEFAULT_DAILY_LIMIT: 'unlimited',
              DEFAULT_WEEKLY_LIMIT: 'unlimited',
              DEFAULT_COOLDOWN_SECONDS: '0',
              ALLOWED_PRIVATE_MEDIA_HOSTS: '127.0.0.1',
            },
            /slash commands checked/,
          );
    const bot = await starting.catch(async (error: unknown) => {
      await closeAll(discord, pika, storeDir);
      throw error;
    });
    return new BenchedBot(bot, discord, pika, storeDir, options);
  }

  async measureIdle(): Promise<void> {
    this.idleRssMiB = await this.bot.rssMiB();
  }

  /**
   * One burst (from new users), measured until every video is delivered: each video finishes at
   * its first poll. A single burst's p99 is its two slowest deferrals, which one garbage
   * collection or a round of new connections can move, and either bot's p99 varies threefold
   * from burst to burst here; the median of the bursts is reported.
   */
  async burst(round: number): Promise<void> {
    const sent = await dispatch(this.discord, this.pika, this.options.burst, `burst ${round}`, [{ status: 'finished', progress: 100, poster: true }]);
    await eventually(() => sent.every(isSettled), 120_000, 'the burst to be delivered');
    this.bursts.push(sent);
  }

  /** Every figure: the bursts' and the idle memory measured before, the load's now. */
  async measureLoad(): Promise<BotFigures> {
    const { bot, discord, pika, options } = this;
    // Every task in flight, its progress moving at every poll for longer than the window lasts.
    const moving: FeedStep[] = Array.from({ length: 60 }, (_, i) => ({ status: 'pending', progress: 1 + i, poster: i > 2 }));
    const generatesBefore = pika.generateCalls.length;
    const loaded = await dispatch(discord, pika, options.inFlight, 'load', moving);
    await eventually(() => pika.generateCalls.length - generatesBefore >= options.inFlight, 120_000, 'every task to start');
    await sleep(options.pollIntervalMs);
    const cpuBefore = await bot.cpuSeconds();
    const requestsBefore = discord.requests.length;
    const feedBefore = pika.feedCalls.length;
    let loadedRssMiB = 0;
    const windowStart = Date.now();
    while (Date.now() - windowStart < options.windowMs) {
      loadedRssMiB = Math.max(loadedRssMiB, await bot.rssMiB());
      await sleep(500);
    }
    const windowSeconds = (Date.now() - windowStart) / 1000;
    const loadedCpuPercent = ((await bot.cpuSeconds()) - cpuBefore) / windowSeconds * 100;
    const discordRequestsPerSecond = (discord.requests.length - requestsBefore) / windowSeconds;
    const feedCallsPerTaskMinute = (pika.feedCalls.length - feedBefore) / options.inFlight / (windowSeconds / 60);

    // The videos finish a hundred at a time, as a real service finishes them: finished → posted.
    const taskByPrompt = new Map(pika.taskIds().map((id) => [String((pika.task(id)!.body as { promptText: string }).promptText), id]));
    const loadTasks = loaded.map((interaction) => taskByPrompt.get(promptOf(interaction))!);
    for (let i = 0; i < loadTasks.length; i += 100) {
      for (const id of loadTasks.slice(i, i + 100)) pika.finishNow(id);
      await sleep(500);
    }
    await eventually(() => loaded.every(isSettled), 300_000, 'every loaded task to be delivered');
    const posted = loaded.map((interaction, i) => interaction.original!.editedAt! - pika.task(loadTasks[i]!)!.finishedAt!);

    const rounds = this.bursts.map((sent) => sent.map((interaction) => interaction.firstResponseAt! - interaction.dispatchedAt));
    const deferP99ByBurstMs = rounds.map((deferrals) => percentile(deferrals, 99));
    const all = [...this.bursts.flat(), ...loaded];
    const accepted = all.filter((interaction) => interaction.callbacks[0]?.type === 5 && !interaction.ephemeral).length;
    return {
      deferP50Ms: median(rounds.map((deferrals) => percentile(deferrals, 50))),
      deferP99Ms: median(deferP99ByBurstMs),
      deferP99ByBurstMs,
      idleRssMiB: this.idleRssMiB,
      loadedRssMiB,
      loadedCpuPercent,
      discordRequestsPerSecond,
      rateLimited: discord.requests.filter((request) => request.status === 429).length,
      feedCallsPerTaskMinute,
      postedP50Ms: percentile(posted, 50),
      postedP99Ms: percentile(posted, 99),
      generatesPerAcceptedCommand: pika.generateCalls.length / accepted,
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.bot.stop();
    } finally {
      await closeAll(this.discord, this.pika, this.storeDir);
    }
  }
}

/** A bot's fakes and store, each closed even if another fails to. */
async function closeAll(discord: FakeDiscord, pika: FakePika, storeDir: string): Promise<void> {
  await Promise.allSettled([discord.close(), pika.close(), rm(storeDir, { recursive: true, force: true })]);
}

/** `count` `/pika text` commands from as many users, a hundred every 200 ms; each video's feed follows `feed`. */
async function dispatch(discord: FakeDiscord, pika: FakePika, count: number, label: string, feed: FeedStep[]): Promise<FakeInteraction[]> {
  const sent: Array<Promise<FakeInteraction>> = [];
  for (let i = 0; i < count; i++) {
    pika.nextTask({ feed });
    sent.push(discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt: `${label} ${i}` }, userId: newUserId() }));
    if (i % 100 === 99) await sleep(200);
  }
  return Promise.all(sent);
}

function promptOf(interaction: FakeInteraction): string {
  const subcommand = interaction.payload.data.options[0];
  return String(subcommand.options.find((option: { name: string }) => option.name === 'prompt').value);
}

const BURST_ROUNDS = 9;

function median(values: number[]): number {
  return percentile(values, 50);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}


interface Row {
  label: string;
  figure: (figures: BotFigures) => number;
  digits?: number;
  /** Whether pika-discord's figure meets its goal next to the bare bot's, and the goal in words. */
  goal?: { met: (project: number, bare: number) => boolean; text: string };
}

const ROWS = (options: SideBySideOptions): Row[] => [
  { label: `defer latency p50, ${options.burst} users at once (ms)`, figure: (f) => f.deferP50Ms },
  {
    label: `defer latency p99, ${options.burst} users at once (ms)`,
    figure: (f) => f.deferP99Ms,
    goal: { met: (project, bare) => project <= bare * 1.1 || project <= bare + 20, text: 'within 1.1× or 20 ms' },
  },
  { label: 'RSS idle (MiB)', figure: (f) => f.idleRssMiB, goal: { met: (project, bare) => project <= bare + 50, text: 'within 50 MiB' } },
  { label: `RSS, ${options.inFlight} tasks in flight (MiB)`, figure: (f) => f.loadedRssMiB, goal: { met: (project, bare) => project <= bare + 50, text: 'within 50 MiB' } },
  { label: `CPU, ${options.inFlight} tasks in flight (% of a core)`, figure: (f) => f.loadedCpuPercent, digits: 1 },
  { label: 'Discord requests per second, same window', figure: (f) => f.discordRequestsPerSecond },
  { label: 'Discord 429 answers', figure: (f) => f.rateLimited, goal: { met: (project) => project === 0, text: 'none' } },
  { label: 'feed calls per task-minute', figure: (f) => f.feedCallsPerTaskMinute, digits: 1 },
  { label: 'finished → posted p50 (ms) ¹', figure: (f) => f.postedP50Ms },
  { label: 'finished → posted p99 (ms) ¹', figure: (f) => f.postedP99Ms },
  { label: 'generate calls per accepted command', figure: (f) => f.generatesPerAcceptedCommand, digits: 2, goal: { met: (project) => project === 1, text: 'exactly 1.00' } },
];

/**
 * The table `npm run bench` prints: each figure for both bots, their ratio, and the goals; then
 * the bare bot's memory with the project's heap setting too, so that what the setting saves is
 * seen apart from the project's own overhead.
 */
export function sideBySideTable(bare: BotFigures, project: BotFigures, bareWithHeapSetting: BotFigures, options: SideBySideOptions = DEFAULT_SIDE_BY_SIDE): string {
  const lines = [`${'figure'.padEnd(48)} ${'bare bot'.padStart(10)} ${'pika-discord'.padStart(13)} ${'ratio'.padStart(7)}  goal`];
  for (const row of ROWS(options)) {
    const [b, p] = [row.figure(bare), row.figure(project)];
    const format = (n: number) => n.toFixed(row.digits ?? 0);
    const ratio = b === 0 ? (p === 0 ? '1.00×' : '—') : `${(p / b).toFixed(2)}×`;
    const goal = row.goal ? `${row.goal.text}: ${row.goal.met(p, b) ? 'met' : 'MISSED'}` : '';
    lines.push(`${row.label.padEnd(48)} ${format(b).padStart(10)} ${format(p).padStart(13)} ${ratio.padStart(7)}  ${goal}`);
  }
  const tuned = (f: BotFigures) => `${f.idleRssMiB.toFixed(0)} MiB idle, ${f.loadedRssMiB.toFixed(0)} MiB with ${options.inFlight} in flight`;
  lines.push(
    '',
    `The burst: ${options.burst} commands from as many users, a hundred every 200 ms; the median of ${BURST_ROUNDS} bursts, the bots taking turns. ${options.inFlight} tasks: every one polled each ${options.pollIntervalMs / 1000} s, its progress moving.`,
    `Each burst's defer p99 (ms), in order: bare bot ${bare.deferP99ByBurstMs.join(', ')}; pika-discord ${project.deferP99ByBurstMs.join(', ')}.`,
    '¹ The bare bot edits a link into its reply; pika-discord downloads the video and uploads it, then notifies the requester.',
    `The bare bot with pika-discord's heap setting (--heap-growing-percent=50): ${tuned(bareWithHeapSetting)}.`,
  );
  return lines.join('\n');
}

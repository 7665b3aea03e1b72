import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What `npm start` runs. */
export const BOT_ENTRY = 'dist/src/index.js';

/**
 * The real bot, started as `npm start` does (the compiled `dist/src/index.js`, configured only
 * by environment), in its own process so it can be signalled and killed like in production.
 * The test runner builds `dist/` first, so it is never older than the source.
 */
export class BotProcess {
  readonly lines: string[] = [];
  private readonly listeners = new Set<() => void>();
  private exitCode: number | null | undefined;
  private readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    for (const stream of [child.stdout!, child.stderr!]) {
      let buffered = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buffered += chunk;
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        for (const line of parts) this.push(line);
      });
      stream.on('end', () => {
        if (buffered) this.push(buffered);
      });
    }
    this.exited = once(child, 'exit').then(([code, signal]) => {
      this.exitCode = code as number | null;
      if (process.env.BOT_LOGS === '1') process.stderr.write(`[bot exited code=${code} signal=${signal}]\n`);
      this.notify();
      return code as number | null;
    });
  }

  /** Starts `node <args>` (the bot as `npm start` runs it, by default) in `cwd`. */
  static start(env: Record<string, string>, { args = [BOT_ENTRY], cwd = ROOT }: { args?: string[]; cwd?: string } = {}): BotProcess {
    // BOT_NODE_ARGS (e.g. `--cpu-prof`) lets a developer profile the bot under a test.
    const nodeArgs = (process.env.BOT_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new BotProcess(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Parsed JSON log entries (non-JSON lines are skipped). */
  get entries(): Array<Record<string, unknown>> {
    return this.lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  /** Waits for a log line matching `pattern`; fails early if the bot exits. */
  async waitForLog(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.find((l) => pattern.test(l));
        if (line !== undefined) {
          cleanup();
          resolve(line);
        } else if (this.exitCode !== undefined) {
          cleanup();
          reject(new Error(`bot exited (${this.exitCode}) before logging ${pattern}:\n${this.lines.slice(-30).join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for log ${pattern}; last lines:\n${this.lines.slice(-30).join('\n')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Sends `signal` and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.child.kill(signal);
    return this.exited;
  }

  waitForExit(): Promise<number | null> {
    return this.exited;
  }

  private push(line: string): void {
    this.lines.push(line);
    if (process.env.BOT_LOGS === '1') process.stderr.write(`[bot] ${line}\n`);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * A bot process as the benchmarks run it: in a process group of its own, so that its memory and
 * CPU are read for everything it started (a transpiler's helper process, say), from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const KIB = 1024;
/** Linux's USER_HZ: the unit of utime and stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_SECOND = 100;

export class BenchProcess {
  private output = '';

  private constructor(private readonly child: ChildProcess) {
    // Drained (and kept only as far as needed to see the ready line), as a log collector would.
    // BENCH_ECHO (a pattern, e.g. `Mark-Compact` with `--trace-gc`) shows the bot's matching lines.
    const echo = process.env.BENCH_ECHO ? new RegExp(process.env.BENCH_ECHO) : undefined;
    const keep = (chunk: string) => {
      if (echo) for (const line of chunk.split('\n')) if (echo.test(line)) process.stderr.write(`${line}\n`);
      this.output = (this.output + chunk).slice(-64 * KIB);
    };
    child.stdout!.setEncoding('utf8').on('data', keep);
    child.stderr!.setEncoding('utf8').on('data', keep);
  }

  static async start(args: string[], env: Record<string, string>, ready: RegExp): Promise<BenchProcess> {
    // BENCH_NODE_ARGS (e.g. `--cpu-prof`) lets a developer profile a bot under the benchmark.
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, ...args], {
      cwd: ROOT,
      detached: true,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const bot = new BenchProcess(child);
    const deadline = Date.now() + 60_000;
    while (!ready.test(bot.output)) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await bot.stop();
        throw new Error(`${args.join(' ')} did not start:\n${bot.output.slice(-4000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return bot;
  }

  /** The process group's resident memory, in MiB. */
  async rssMiB(): Promise<number> {
    const kib = await this.sumOverGroup(async (pid) => Number(/^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0));
    return kib / KIB;
  }

  /** CPU seconds the process group has used so far (user + system). */
  async cpuSeconds(): Promise<number> {
    const ticks = await this.sumOverGroup(async (pid) => {
      const fields = statFields(await readFile(`/proc/${pid}/stat`, 'utf8'));
      return Number(fields[11]) + Number(fields[12]);
    });
    return ticks / CLOCK_TICKS_PER_SECOND;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    // Stopped as an operator stops it (a profile is written then), and killed if that takes long.
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const killer = setTimeout(() => process.kill(-this.child.pid!, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  }

  private async sumOverGroup(read: (pid: string) => Promise<number>): Promise<number> {
    let total = 0;
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        // Field 5 of stat, the third after the command name: the process group.
        if (Number(statFields(await readFile(`/proc/${pid}/stat`, 'utf8'))[2]) === this.child.pid) total += await read(pid);
      } catch {
        // The process ended while being read.
      }
    }
    return total;
  }
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

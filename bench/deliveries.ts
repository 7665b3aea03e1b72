/**
 * Peak memory of the real bot process while 40 videos of MAX_VIDEO_BYTES finish at the same
 * moment: each is downloaded from the fake CDN and uploaded to the fake Discord. The figure that
 * matters is how little the bot's RSS grows with the size and number of videos.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { newUserId } from '../test/support/users.js';
import { startWorld, waitSettled } from '../test/support/world.js';

const MIB = 1024 * 1024;

/** VmRSS and VmHWM (peak) of a process, in MiB, from /proc. */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) / 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

export async function benchSimultaneousDeliveries(count = 40, videoMiB = Number(process.env.BENCH_VIDEO_MIB ?? 200)): Promise<void> {
  const videoBytes = videoMiB * MIB;
  // Production's download patience: the tests' short one would call a busy loopback stalled.
  const world = await startWorld({ MAX_VIDEO_BYTES: String(videoBytes), LOG_LEVEL: 'info', POLL_INTERVAL_MS: '100', RESULT_DOWNLOAD_RETRY_SECONDS: '300' });
  try {
    const pid = world.bot.pid!;
    const idle = await memoryOf(pid);
    // One buffer served for every task: an ftyp box, then zeros.
    const video = Buffer.alloc(videoBytes);
    Buffer.from([0, 0, 0, 0x18, ...Buffer.from('ftypmp42')]).copy(video);
    const feed = [{ status: 'pending', progress: 50 }, { status: 'finished', progress: 100 }];
    for (let i = 0; i < count; i++) world.pika.nextTask({ video, feed });
    const start = performance.now();
    const interactions = await Promise.all(
      Array.from({ length: count }, () =>
        world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt: 'a big one' }, userId: newUserId(), attachmentSizeLimit: videoBytes + MIB }),
      ),
    );
    let sampledPeak = idle.rss;
    const sampler = setInterval(() => void memoryOf(pid).then((m) => (sampledPeak = Math.max(sampledPeak, m.rss)), () => {}), 100);
    await Promise.all(interactions.map((interaction) => waitSettled(interaction, 15 * 60_000)));
    clearInterval(sampler);
    const seconds = (performance.now() - start) / 1000;
    const attached = interactions.filter((i) => i.original?.attachments.length === 1).length;
    const after = await memoryOf(pid);
    const label = `${count} deliveries of ${videoMiB} MiB at once (${attached} attached)`;
    console.log(`${label.padEnd(52)} ${after.peak.toFixed(0).padStart(10)} MiB peak RSS  (idle ${idle.rss.toFixed(0)} MiB, ${seconds.toFixed(0)} s in all)`);
  } finally {
    await world.close();
  }
}

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { JobPipeline, queueJobId, type JobWork, type WorkOutcome } from '../../src/jobs/job-pipeline.js';
import { createLogger } from '../../src/logger.js';
import { redisMissing, startRedis, type RedisServer } from '../support/redis.js';
import { eventually } from '../support/world.js';

const quiet = createLogger({ level: 'error', secrets: [], write: () => {} });

describe('queueJobId', () => {
  test('is derived from the record id, never an integer-looking id nor one with a colon', () => {
    assert.equal(queueJobId('0b7c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3'), 'job-0b7c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3');
    assert.equal(queueJobId('12345'), 'job-12345');
    assert.throws(() => queueJobId('a:b'), /cannot name a queued job/);
  });
});

/** A worker's side that records each turn and ends it as `outcomes` says (default: ended). */
function recordingWork(outcomes: Record<string, WorkOutcome> = {}): JobWork & { turns: string[] } {
  const turns: string[] = [];
  return {
    turns,
    work: async (id) => {
      turns.push(id);
      const outcome = outcomes[id] ?? 'ended';
      delete outcomes[id];
      return outcome;
    },
    relinquish: () => {},
  };
}

describe('the job pipeline on a real Redis (BullMQ)', { skip: redisMissing() }, () => {
  let redis: RedisServer;
  const open: JobPipeline[] = [];
  const pipeline = async (lockMs = 1000) => {
    const opened = await JobPipeline.open(redis.url, { lockMs, concurrency: 10, logger: quiet });
    open.push(opened);
    return opened;
  };

  before(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const opened of open.splice(0)) {
      await opened.stopWorking();
      await opened.close();
    }
    await redis.flush();
  });
  after(async () => {
    await redis?.stop();
  });

  test('a job submitted twice (a retry, two processes) is worked on once', async () => {
    const producer = await pipeline();
    await producer.submit('a');
    await producer.submit('a');
    const work = recordingWork();
    (await pipeline()).startWorking(work);
    await eventually(() => work.turns.length === 1, 5000, 'the turn');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(work.turns, ['a']);
  });

  test('ensure queues again a record whose queued job ended, and leaves one that is waiting alone', async () => {
    const worker = await pipeline();
    const work = recordingWork();
    worker.startWorking(work);
    await worker.submit('b');
    await eventually(() => work.turns.length === 1, 5000, 'the first turn');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await worker.ensure('b');
    await eventually(() => work.turns.length === 2, 5000, 'a second turn after ensure');
    const idle = await pipeline();
    await idle.ensure('c');
    await idle.ensure('c');
    await eventually(() => work.turns.filter((id) => id === 'c').length === 1, 5000, 'c worked on once');
  });

  test('a job handed back by a stopping worker is taken at once by another', async () => {
    let handBack!: (outcome: WorkOutcome) => void;
    const leaving: JobWork = { work: () => new Promise((resolve) => (handBack = resolve)), relinquish: () => {} };
    const staying = recordingWork();
    const first = await pipeline(10_000);
    first.startWorking(leaving);
    await first.submit('d');
    await eventually(() => handBack !== undefined, 5000, 'the first worker’s turn');
    (await pipeline()).startWorking(staying);
    const stopped = first.stopWorking();
    handBack('released');
    await stopped;
    // Well before the first worker's hold (10 s) could lapse and a stalled-job check find it.
    await eventually(() => staying.turns.length === 1, 4000, 'the other worker’s turn');
  });
});

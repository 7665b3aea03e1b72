import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GroupCommits } from '../../src/util/group-commits.js';

/** A commit that runs until released, recording when it starts. */
function gatedCommit(log: string[], name: string) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    release,
    start: async () => {
      log.push(`start ${name}`);
      await gate;
      log.push(`end ${name}`);
      return name;
    },
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommits', () => {
  test('one commit at a time; every write asked for while one runs shares the next', async () => {
    const commits = new GroupCommits<string>();
    const log: string[] = [];
    const first = gatedCommit(log, 'first');
    const second = gatedCommit(log, 'second');
    const unused = gatedCommit(log, 'unused');
    const a = commits.soon(first.start);
    await turn();
    assert.deepEqual(log, ['start first']);
    // The first is under way: these two wait for the one after it, made with the first `start` given.
    const b = commits.soon(second.start);
    const c = commits.soon(unused.start);
    assert.equal(b, c);
    first.release();
    assert.equal(await a, 'first');
    second.release();
    assert.equal(await b, 'second');
    assert.deepEqual(log, ['start first', 'end first', 'start second', 'end second']);
  });

  test('a failed commit fails only its writers; the next one still runs, and idle waits for both', async () => {
    const commits = new GroupCommits<string>();
    const log: string[] = [];
    const first = gatedCommit(log, 'first');
    const running = commits.soon(first.start);
    await turn();
    // Queued behind the one running: the commit that will fail, then idle asked for while it waits.
    let failing!: () => void;
    const failed = commits.soon(() => new Promise<string>((_, reject) => (failing = () => reject(new Error('disk full')))));
    let idle = false;
    const waiting = commits.idle().then(() => (idle = true));
    first.release();
    assert.equal(await running, 'first');
    await turn();
    assert.equal(idle, false, 'idle waits for the queued commit too');
    failing();
    await assert.rejects(failed, /disk full/);
    await waiting;
    assert.equal(idle, true);
    const next = gatedCommit(log, 'after');
    const after = commits.soon(next.start);
    next.release();
    assert.equal(await after, 'after');
  });
});

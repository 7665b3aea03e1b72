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

describe('GroupCommits', () => {
  test('one commit at a time; every write asked for while one runs shares the next', async () => {
    const commits = new GroupCommits<string>();
    const log: string[] = [];
    const first = gatedCommit(log, 'first');
    const second = gatedCommit(log, 'second');
    const unused = gatedCommit(log, 'unused');
    const a = commits.soon(first.start);
    await Promise.resolve();
    await Promise.resolve();
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
    let failing!: () => void;
    const failed = commits.soon(() => new Promise<string>((_, reject) => (failing = () => reject(new Error('disk full')))));
    await Promise.resolve();
    await Promise.resolve();
    const second = gatedCommit(log, 'second');
    const next = commits.soon(second.start);
    let idle = false;
    const waiting = commits.idle().then(() => (idle = true));
    failing();
    await assert.rejects(failed, /disk full/);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(log, ['start second']);
    assert.equal(idle, false);
    second.release();
    assert.equal(await next, 'second');
    await waiting;
    assert.equal(idle, true);
  });
});

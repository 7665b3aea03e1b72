import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FairQueue } from '../../src/jobs/fair-queue.js';

const drain = (queue: FairQueue, eligible?: (userId: string) => boolean) => {
  const served: string[] = [];
  for (let next = queue.next(eligible); next; next = queue.next(eligible)) {
    queue.take(next.id);
    served.push(next.id);
  }
  return served;
};

describe('the fair queue', () => {
  test('round-robin between users, first come first served within each', () => {
    const queue = new FairQueue();
    for (const [i, id] of ['a1', 'a2', 'a3', 'b1', 'c1', 'b2'].entries()) queue.add({ id, userId: id[0]!, at: i });
    assert.deepEqual(queue.order().map((e) => e.id), ['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
    assert.deepEqual(drain(queue), ['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
    assert.equal(queue.size, 0);
  });

  test('a user who joins goes to the end of the rotation, not the front', () => {
    const queue = new FairQueue();
    queue.add({ id: 'a1', userId: 'a', at: 1 });
    queue.add({ id: 'a2', userId: 'a', at: 2 });
    queue.add({ id: 'b1', userId: 'b', at: 3 });
    queue.take(queue.next()!.id); // a1
    queue.add({ id: 'c1', userId: 'c', at: 4 });
    assert.deepEqual(queue.order().map((e) => e.id), ['b1', 'a2', 'c1']);
  });

  test('a user held back by their own limit is skipped without losing their place', () => {
    const queue = new FairQueue();
    for (const [i, id] of ['a1', 'a2', 'b1', 'b2'].entries()) queue.add({ id, userId: id[0]!, at: i });
    assert.equal(queue.next((user) => user !== 'a')!.id, 'b1');
    queue.take('b1');
    assert.equal(queue.next()!.id, 'a1', 'a keeps the next turn');
  });

  test('removing without serving changes nobody’s turn; restored order follows the times asked', () => {
    const queue = new FairQueue();
    queue.add({ id: 'a2', userId: 'a', at: 2 });
    queue.add({ id: 'a1', userId: 'a', at: 1 });
    queue.add({ id: 'b1', userId: 'b', at: 3 });
    assert.equal(queue.remove('a1'), true);
    assert.equal(queue.remove('nope'), false);
    assert.equal(queue.has('a2'), true);
    assert.deepEqual(drain(queue), ['a2', 'b1']);
  });

  test('a user’s jobs asked for in the same millisecond start in the order they came', () => {
    const queue = new FairQueue();
    for (const id of ['a-zz', 'a-mm', 'a-aa']) queue.add({ id, userId: 'a', at: 7 });
    assert.deepEqual(drain(queue), ['a-zz', 'a-mm', 'a-aa']);
  });
});

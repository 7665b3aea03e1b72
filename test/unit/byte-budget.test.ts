import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteBudget } from '../../src/util/byte-budget.js';

describe('ByteBudget', () => {
  test('grants while the bytes fit, refuses at once when they do not, and takes them back on release', () => {
    const budget = new ByteBudget(100);
    const first = budget.tryAcquire(60);
    assert.ok(first);
    assert.equal(budget.tryAcquire(50), undefined, 'does not fit beside the first');
    const second = budget.tryAcquire(40);
    assert.ok(second);
    assert.equal(budget.tryAcquire(1), undefined, 'full');
    first();
    assert.ok(budget.tryAcquire(60), 'released bytes can be granted again');
  });

  test('releasing twice gives the bytes back once', () => {
    const budget = new ByteBudget(100);
    const release = budget.tryAcquire(100)!;
    release();
    release();
    assert.ok(budget.tryAcquire(100));
    assert.equal(budget.tryAcquire(1), undefined);
  });

  test('a request larger than the whole budget gets all of it, only when all of it is free', () => {
    const budget = new ByteBudget(100);
    const small = budget.tryAcquire(1)!;
    assert.equal(budget.tryAcquire(500), undefined);
    small();
    const huge = budget.tryAcquire(500);
    assert.ok(huge);
    assert.equal(budget.tryAcquire(1), undefined);
    huge();
    assert.ok(budget.tryAcquire(100));
  });

  test('zero bytes always fit; nonsense sizes are refused loudly', () => {
    const budget = new ByteBudget(10);
    budget.tryAcquire(10);
    assert.ok(budget.tryAcquire(0));
    for (const bad of [-1, Number.NaN, Infinity]) assert.throws(() => budget.tryAcquire(bad), RangeError);
    for (const bad of [0, -5, Number.NaN]) assert.throws(() => new ByteBudget(bad), RangeError);
  });
});

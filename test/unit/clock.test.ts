import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { processClock, steadyClock } from '../../src/clock.js';

/** Hand-driven time sources: the wall clock can be stepped, the monotonic one only advanced. */
function sources(wallAtStart: number) {
  const time = { wall: wallAtStart, monotonic: 5_000.25 };
  return {
    time,
    sources: { wall: () => time.wall, monotonic: () => time.monotonic },
    advance(ms: number) {
      time.wall += ms;
      time.monotonic += ms;
    },
  };
}

describe('steadyClock', () => {
  test('reads the wall clock at start', () => {
    const { sources: s } = sources(1_750_000_000_000);
    assert.equal(steadyClock(s)(), 1_750_000_000_000);
  });

  test('advances with the monotonic clock, in whole milliseconds', () => {
    const t = sources(1_750_000_000_000);
    const now = steadyClock(t.sources);
    t.advance(1234.7);
    assert.equal(now(), 1_750_000_001_234);
  });

  test('a backward step of the wall clock changes nothing', () => {
    const t = sources(1_750_000_000_000);
    const now = steadyClock(t.sources);
    t.advance(1000);
    t.time.wall -= 60_000;
    t.advance(40);
    assert.equal(now(), 1_750_000_001_040);
  });

  test('a forward step of the wall clock changes nothing', () => {
    const t = sources(1_750_000_000_000);
    const now = steadyClock(t.sources);
    t.time.wall += 30 * 60_000;
    t.advance(500);
    assert.equal(now(), 1_750_000_000_500);
  });

  test('the wall clock is read once only', () => {
    let wallReads = 0;
    const now = steadyClock({ wall: () => (wallReads++, 0), monotonic: () => 0 });
    now();
    now();
    assert.equal(wallReads, 1);
  });

  test('the process clock agrees with the wall clock of an unstepped machine, and never goes back', () => {
    const first = processClock();
    assert.ok(Math.abs(first - Date.now()) < 1000, `${first} vs ${Date.now()}`);
    let previous = first;
    for (let i = 0; i < 10_000; i++) {
      const reading = processClock();
      assert.ok(reading >= previous, 'monotonic');
      previous = reading;
    }
  });
});

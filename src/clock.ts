import { performance } from 'node:perf_hooks';

/** Milliseconds since the Unix epoch, as the bot reads the time for scheduling and limits. */
export type Clock = () => number;

export interface TimeSources {
  /** The wall clock, read once. */
  wall: () => number;
  /** A clock that only moves forward at a steady rate, whatever is done to the wall clock. */
  monotonic: () => number;
}

const SYSTEM_TIME: TimeSources = { wall: Date.now, monotonic: () => performance.now() };

/**
 * A clock that reads like the wall clock but cannot be stepped: it takes the wall time once and
 * from then on advances by the monotonic clock only. A wall-clock step (an NTP correction, an
 * operator's `date -s`) would otherwise stall polling, time out running paid tasks, make fresh
 * interaction tokens look expired or move cooldowns; with this clock it changes nothing until
 * the process restarts.
 */
export function steadyClock(sources: TimeSources = SYSTEM_TIME): Clock {
  const wallAtStart = sources.wall();
  const monotonicAtStart = sources.monotonic();
  return () => Math.floor(wallAtStart + (sources.monotonic() - monotonicAtStart));
}

/**
 * The process's one clock, anchored when the process starts. Everything in-process that measures
 * or schedules time shares it, so readings taken by different services agree.
 */
export const processClock: Clock = steadyClock();

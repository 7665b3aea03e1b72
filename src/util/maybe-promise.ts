/**
 * A value at once, or a promise of it. What is kept in memory (a server's settings, usage
 * counters, the breaker's state in this process) is answered at once, so a command's admission
 * costs no turn of the event loop and no promise per step while a burst waits behind it; a
 * caller that awaits it anyway sees no difference.
 */
export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return value instanceof Promise;
}

/** `next` applied to `value`, at once if it is there, else once it is. */
export function thenMaybe<T, R>(value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return isPromise(value) ? value.then(next) : next(value);
}

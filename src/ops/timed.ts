import { performance } from 'node:perf_hooks';
import { isPromise } from '../util/maybe-promise.js';

/**
 * The methods of `T` that answer a promise, or may (a value at once from memory, else a
 * promise): the only ones a latency can be measured on. The plain case is tested first: folded
 * into the second, TypeScript no longer infers the type of `until`'s argument.
 */
export type AsyncMethodOf<T> = {
  [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown>
    ? K
    : T[K] extends (...args: never[]) => infer R
      ? [Extract<R, Promise<unknown>>] extends [never]
        ? never
        : K
      : never;
}[keyof T];

type Answer<F> = F extends (...args: never[]) => Promise<infer R> ? R : F extends (...args: never[]) => infer R ? Awaited<R> : never;

/**
 * Which methods to time, and under which operation name. A method whose work goes on after it
 * answers (a decision answered before its writes are stored) names, with `until`, what in its
 * answer settles when the work is done: it is timed to then.
 */
export type Timings<T, O extends string> = {
  [K in AsyncMethodOf<T>]?: O | { operation: O; until: (answer: Answer<T[K]>) => PromiseLike<unknown> };
};

/**
 * `target` with each method named in `operations` timed: `observe` hears the operation's name
 * and how long it took to settle (failures too: a store that times out is slow, not absent).
 * Everything else passes through untouched and bound to `target`, so a class's own calls to
 * itself are never timed twice, and methods added to its interface later still work.
 */
export function timed<T extends object, O extends string>(target: T, operations: Timings<T, O>, observe: (operation: O, seconds: number) => void): T {
  // One wrapper per method, so a caller that compares what it was handed sees the same function each time.
  const wrappers = new Map<PropertyKey, { method: unknown; wrapper: unknown }>();
  const wrap = (property: PropertyKey, method: (...args: unknown[]) => unknown): unknown => {
    const timing = (operations as Record<PropertyKey, O | { operation: O; until: (answer: unknown) => PromiseLike<unknown> } | undefined>)[property];
    if (timing === undefined) return method.bind(target);
    const { operation, until } = typeof timing === 'string' ? { operation: timing, until: undefined } : timing;
    return (...args: unknown[]) => {
      const started = performance.now();
      const settled = () => observe(operation, (performance.now() - started) / 1000);
      let answer: unknown;
      try {
        answer = method.apply(target, args);
      } catch (error) {
        settled();
        throw error;
      }
      const answered = (value: unknown) => (until ? Promise.resolve(value).then(until).then(settled, settled) : settled());
      // An answer given at once (from memory) is timed as well, until what it names settles.
      if (isPromise(answer)) answer.then(answered, settled);
      else answered(answer);
      return answer;
    };
  };
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function') return value;
      const known = wrappers.get(property);
      if (known?.method === value) return known.wrapper;
      const wrapper = wrap(property, value as (...args: unknown[]) => unknown);
      wrappers.set(property, { method: value, wrapper });
      return wrapper;
    },
  });
}

import { StoreTimeoutError } from '../storage.js';

/**
 * `pending`, or a StoreTimeoutError once `timeoutMs` pass without an answer. A Redis client that
 * lost its connection queues commands until it is back, which would leave a command waiting past
 * Discord's 3-second window; a timeout turns that into "records unreachable" instead. The
 * command itself still runs when the connection returns: `onLate` hears of its answer then, so
 * whatever it took (a probe's claim, say) can be given back.
 */
export function answerWithin<T>(pending: Promise<T>, timeoutMs: number, onLate?: (late: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new StoreTimeoutError());
    }, timeoutMs);
    timer.unref();
  });
  pending.then(
    (late) => {
      if (timedOut) onLate?.(late);
    },
    () => {},
  );
  return Promise.race([pending, deadline]).finally(() => clearTimeout(timer));
}

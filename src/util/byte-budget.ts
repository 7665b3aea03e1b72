/** Gives back what `tryAcquire` granted. Calling it again does nothing. */
export type Release = () => void;

/**
 * A pool of bytes that large transfers reserve while they run, so that many at once cannot use
 * up the machine. `tryAcquire` never waits: a caller that gets nothing comes back later, so no
 * one holds a worker (a scheduler slot) while waiting for bytes others would need a worker to
 * give back. A request larger than the whole budget is granted the whole budget, when it is all
 * free.
 */
export class ByteBudget {
  private available: number;

  constructor(readonly totalBytes: number) {
    if (!Number.isFinite(totalBytes) || totalBytes <= 0) throw new RangeError(`a byte budget must be positive, got ${totalBytes}`);
    this.available = totalBytes;
  }

  /** Reserves `bytes` now and answers how to give them back, or answers undefined if they don't fit. */
  tryAcquire(bytes: number): Release | undefined {
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`cannot reserve ${bytes} bytes`);
    const reserved = Math.min(bytes, this.totalBytes);
    if (reserved > this.available) return undefined;
    this.available -= reserved;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.available += reserved;
    };
  }
}

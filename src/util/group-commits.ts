/**
 * The order of a group-committing store: one commit at a time, and whatever is asked to be
 * stored while one runs waits for the next, which takes everything pending when it starts. A
 * burst of writes therefore costs a commit or two, not one each, and each writer still hears
 * when (and whether) its own commit was stored.
 */
export class GroupCommits<T> {
  private next: Promise<T> | undefined;
  private running: Promise<unknown> = Promise.resolve();

  /**
   * The commit that will store what is pending now: the next one not yet started, made with
   * `start` (called once that one's turn comes) if there is none.
   */
  soon(start: () => Promise<T>): Promise<T> {
    if (!this.next) {
      const commit = this.running.then(() => {
        this.next = undefined;
        return start();
      });
      this.running = commit.catch(() => {});
      this.next = commit;
    }
    return this.next;
  }

  /** Once every commit asked for so far is over, stored or failed (their writers hear which). */
  async idle(): Promise<void> {
    // Always the latest commit asked for (the next one too, once there is one), settled either way.
    await this.running;
  }
}

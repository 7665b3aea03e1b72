import { processClock, type Clock } from '../clock.js';
import type { MessageBody } from '../discord/messages.js';

export interface ProgressEditorOptions {
  send: (body: MessageBody) => Promise<void>;
  /** At most one edit per this many ms for this message. */
  intervalMs: number;
  onError: (error: unknown) => void;
  now?: Clock;
}

/**
 * Keeps one message showing the newest progress without flooding Discord: an edit goes out only
 * when what is visible changed (`key`), at most once per interval, one at a time. States that
 * arrive meanwhile replace each other: only the newest is sent. Failed progress edits are
 * dropped, since a newer state will follow.
 */
export class ProgressEditor {
  private lastKey: string | undefined;
  private lastSentAt = -Infinity;
  private pending: { key: string; render: () => MessageBody } | undefined;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly now: Clock;

  constructor(private readonly options: ProgressEditorOptions) {
    this.now = options.now ?? processClock;
  }

  /** Offers a new state; `render` is called only if it is actually sent. */
  show(key: string, render: () => MessageBody): void {
    if (this.closed) return;
    if (key === (this.pending?.key ?? this.lastKey)) return;
    this.pending = { key, render };
    this.flushSoon();
  }

  /** Stops progress edits and waits for the one in flight, so a final edit can't be overtaken. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private flushSoon(): void {
    if (this.inFlight || this.timer || !this.pending) return;
    const wait = this.lastSentAt + this.options.intervalMs - this.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, wait);
    } else {
      this.flush();
    }
  }

  private flush(): void {
    const next = this.pending;
    this.pending = undefined;
    if (!next || this.closed || next.key === this.lastKey) return;
    this.lastSentAt = this.now();
    this.inFlight = this.options
      .send(next.render())
      .then(() => {
        this.lastKey = next.key;
      }, this.options.onError)
      .finally(() => {
        this.inFlight = undefined;
        this.flushSoon();
      });
  }
}

import type { RedisClientType } from '@redis/client';

/**
 * Word between the processes of one Redis store, over Redis pub/sub: published on the store's
 * connection, heard on a connection of its own (a subscribed connection can do nothing else).
 *
 * Pub/sub delivers at most once: what is published while the subscriber is disconnected is lost.
 * `listening` says whether word is being heard right now, and `onResync` listeners are told each
 * time the subscriber is back (resubscribed), when whatever they derived from word heard before
 * must be assumed out of date.
 */
export class RedisBus {
  private readonly resyncListeners: Array<() => void> = [];

  private constructor(
    private readonly publisher: RedisClientType,
    private readonly subscriber: RedisClientType,
  ) {
    // The client resubscribes before it is ready again, so from here on nothing is missed.
    subscriber.on('ready', () => {
      for (const listener of this.resyncListeners) listener();
    });
  }

  /** Connects the subscriber, a copy of `publisher`'s connection; `onError` hears of its connection errors (it reconnects by itself). */
  static async open(publisher: RedisClientType, onError: (error: unknown) => void): Promise<RedisBus> {
    const subscriber = publisher.duplicate();
    subscriber.on('error', onError);
    await subscriber.connect();
    return new RedisBus(publisher, subscriber);
  }

  get listening(): boolean {
    return this.subscriber.isReady;
  }

  subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    return this.subscriber.subscribe(channel, listener);
  }

  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.publisher.publish(channel, message);
  }

  async close(): Promise<void> {
    if (this.subscriber.isOpen) await this.subscriber.close();
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { timed, type Timings } from './timed.js';

/** What the gauges read when scraped: the state of this process's jobs, its queue and the breaker. */
export interface MetricSources {
  jobsByState: () => Record<string, number>;
  /** Jobs waiting in this process's queue for a slot (their user's, or the provider's). */
  queueLength: () => number;
  breakerState: () => 'closed' | 'open' | 'half-open';
}

const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/**
 * The store operations timed, one label value each: a fixed set, so the series stay few
 * whatever the traffic. Each is one call the bot waits on, however many round trips it makes.
 */
export const STORE_OPERATIONS = ['job_get', 'job_save', 'job_change', 'job_history', 'usage_get', 'usage_transact', 'settings_get', 'settings_update', 'claim'] as const;
export type StoreOperation = (typeof STORE_OPERATIONS)[number];

/**
 * The bot's Prometheus metrics (prom-client), in a registry of its own with Node's defaults.
 * Counters are counted where things happen; gauges are read from their sources at each scrape.
 */
export class BotMetrics {
  readonly registry = new Registry();
  readonly generateCalls = new Counter({ name: 'pika_generate_calls_total', help: 'Generate calls to Pika, by outcome (accepted: a task id came back).', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly feedPolls = new Counter({ name: 'pika_feed_polls_total', help: 'Feed polls of running tasks, by outcome.', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly jobsEnded = new Counter({ name: 'pika_jobs_ended_total', help: 'Jobs that ended, by final state.', labelNames: ['state'] as const, registers: [this.registry] });
  readonly deliveryLatency = new Histogram({
    name: 'pika_delivery_latency_seconds',
    help: 'From Pika reporting a video finished to the video posted on Discord.',
    buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly queueWait = new Histogram({
    name: 'pika_queue_wait_seconds',
    help: 'From a job being queued to its turn, for each job whose generate call is sent (0 for a job that never waited).',
    // From none at all to an evening's backlog.
    buckets: [0.05, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });
  readonly storeLatency = new Histogram({
    name: 'pika_store_operation_seconds',
    help: 'Store operations as the bot waits for them (queueing behind other writes included), by operation.',
    labelNames: ['operation'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly discordRequests = new Counter({ name: 'discord_requests_total', help: 'Requests to Discord’s REST API, by status class (2xx, 4xx, 5xx).', labelNames: ['status'] as const, registers: [this.registry] });
  readonly discordRateLimited = new Counter({ name: 'discord_rate_limited_total', help: 'Discord answers of 429 Too Many Requests.', registers: [this.registry] });

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry });
    // Every operation is scraped from the start, so a dashboard shows 0 rather than no data.
    for (const operation of STORE_OPERATIONS) this.storeLatency.zero({ operation });
    new Gauge({
      name: 'pika_queue_length',
      help: 'Jobs waiting in this process’s queue for a slot (their user’s concurrent limit, or PIKA_MAX_CONCURRENT).',
      registers: [this.registry],
      collect() {
        this.set(sources.queueLength());
      },
    });
    new Gauge({
      name: 'pika_jobs',
      help: 'Jobs this process is carrying, by state.',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [state, count] of Object.entries(sources.jobsByState())) this.set({ state }, count);
      },
    });
    new Gauge({
      name: 'pika_breaker_state',
      help: 'The circuit breaker in front of generate: 1 for its current state.',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const current = sources.breakerState();
        for (const state of BREAKER_STATES) this.set({ state }, state === current ? 1 : 0);
      },
    });
  }

  /** A Discord REST answer, counted by status class; a 429 counted apart too. */
  discordAnswered(status: number): void {
    this.discordRequests.inc({ status: `${Math.floor(status / 100)}xx` });
    if (status === 429) this.discordRateLimited.inc();
  }

  /** `target` with the methods named in `operations` timed into `pika_store_operation_seconds`. */
  timedStore<T extends object>(target: T, operations: Timings<T, StoreOperation>): T {
    return timed(target, operations, (operation, seconds) => this.storeLatency.observe({ operation }, seconds));
  }

  /** Wraps a call so its outcome is counted by `counter` (ok or error). */
  static counted<A extends unknown[], R>(counter: Counter<'outcome'>, call: (...args: A) => Promise<R>, ok = 'ok'): (...args: A) => Promise<R> {
    return async (...args) => {
      try {
        const result = await call(...args);
        counter.inc({ outcome: ok });
        return result;
      } catch (error) {
        counter.inc({ outcome: 'error' });
        throw error;
      }
    };
  }
}

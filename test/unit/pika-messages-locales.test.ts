import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeFailure } from '../../src/discord/failure-messages.js';
import { renderDelivery, renderFailure, renderProgress, type DisplayRequest } from '../../src/discord/messages.js';
import { describeOptionProblem } from '../../src/discord/refusals.js';
import { renderPolicyRefusal, renderQuota, renderRefusal, renderServiceUnavailable } from '../../src/discord/usage-messages.js';
import type { Locale } from '../../src/i18n/index.js';
import type { Failure, FailureCode } from '../../src/jobs/job.js';
import type { OptionProblem } from '../../src/pika/request.js';
import type { LimitName, LimitRules } from '../../src/usage/limits.js';
/** A job id as the bot makes them (a UUID). */
const JOB_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

/** Every /pika message, worded in both languages: Chinese with no English sentence, English with no Chinese. */

const CJK = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/;

function assertLanguage(locale: Locale, text: string, what: string): void {
  if (locale === 'en-US') {
    assert.doesNotMatch(text, CJK, `${what}: ${text}`);
    return;
  }
  assert.match(text, CJK, `${what}: ${text}`);
  const words = text.replace(/`[^`]*`/g, ' ').replace(/<(?:@[!&]?|#|t:)[^>]+>/g, ' ').replace(/\]\([^)]*\)/g, '] ').replace(/https?:\/\/\S+/g, ' ');
  const english = /[A-Za-z]+(?:[\s,.;:'’-]+[A-Za-z]+){2,}/.exec(words);
  assert.equal(english, null, `${what} has English (${english?.[0]}): ${text}`);
}

const textOf = (body: { content: string; embeds: any[]; components: any[] }) =>
  [body.content, ...body.embeds.flatMap((e) => [e.title, e.description, ...(e.fields ?? []).flatMap((f: any) => [f.name, f.value])]), ...body.components.flatMap((r) => r.components.map((c: any) => c.label))]
    .filter(Boolean)
    .join('\n');

const REQUEST: DisplayRequest = {
  kind: 'ingredients',
  prompt: '',
  negativePrompt: '',
  model: '2.0',
  aspectRatio: '16:9',
  pikaffect: '',
  camera: 'rotate_ccw',
  ingredientsMode: 'creative',
  imageCount: 2,
};
const FAILURES: Record<FailureCode, Failure> = {
  image_unreadable: { code: 'image_unreadable', billed: false, option: 'image2', problem: 'wrong_content' },
  store_unavailable: { code: 'store_unavailable', billed: false },
  interrupted_start: { code: 'interrupted_start', billed: false },
  outcome_unknown: { code: 'outcome_unknown', billed: false, cause: 'connection' },
  misconfigured: { code: 'misconfigured', billed: false },
  out_of_balance: { code: 'out_of_balance', billed: false },
  rate_limited: { code: 'rate_limited', billed: false },
  refused: { code: 'refused', billed: false },
  upstream_error: { code: 'upstream_error', billed: false },
  task_failed: { code: 'task_failed', billed: true },
  no_video: { code: 'no_video', billed: true },
  not_mp4: { code: 'not_mp4', billed: true },
  timed_out: { code: 'timed_out', billed: true, waitedMs: 125_000 },
  undeliverable: { code: 'undeliverable', billed: true },
  internal: { code: 'internal', billed: false },
  cancelled: { code: 'cancelled', billed: false, by: '1' },
  policy_refused: { code: 'policy_refused', billed: false, policy: { rule: 'blocked', reason: null } },
  queue_expired: { code: 'queue_expired', billed: false },
  service_unavailable: { code: 'service_unavailable', billed: false },
};
const PROBLEMS: OptionProblem[] = [
  { code: 'prompt_empty' },
  { code: 'too_long', option: 'prompt', length: 2001, max: 2000 },
  { code: 'pikaffect_characters' },
  { code: 'image_missing' },
  { code: 'images_missing' },
  { code: 'too_many_images', kind: 'image' },
  { code: 'image_type', option: 'image' },
  { code: 'image_empty', option: 'image' },
  { code: 'image_too_large', option: 'image', sizeBytes: 30 << 20, maxBytes: 10 << 20 },
  { code: 'not_a_choice', option: 'model', choices: ['1.5', '2.0'] },
  { code: 'out_of_range', option: 'motion', integer: true, min: 0, max: 4 },
];
const RULES: LimitRules = { dailyLimit: 5, weeklyLimit: 20, cooldownSeconds: 30, maxConcurrent: 2, serverDailyCap: 100 };
const LIMITS: LimitName[] = ['concurrency', 'cooldown', 'daily', 'weekly', 'server', 'global'];
const VIEW = {
  dailyLeft: 1, weeklyLeft: 3, dayResetsAt: 1_800_000_000_000, weekResetsAt: 1_800_300_000_000,
  cooldownUntil: 1_799_999_000_000, running: 1, waiting: 0, maxConcurrent: 2, bonus: 2, serverLeftToday: 40,
};

for (const locale of ['zh-CN', 'en-US'] as const) {
  describe(`/pika messages in ${locale}`, () => {
    test('progress (every stage), the delivered video (attached and linked) and a failure', () => {
      for (const status of ['waiting', 'starting', 'queued', 'generating'] as const) {
        assertLanguage(locale, textOf(renderProgress(REQUEST, { status, progress: 40, posterUrl: undefined }, 65_000, locale)), status);
      }
      const video = { seed: undefined, durationSeconds: 5, resultUrl: 'https://cdn.example/v.mp4', sizeBytes: 30 << 20, attachmentName: undefined };
      assertLanguage(locale, textOf(renderDelivery(REQUEST, '1', video, 95_000, locale, JOB_ID)), 'linked video');
      assertLanguage(locale, textOf(renderDelivery(REQUEST, '1', { ...video, resultUrl: '', linkReason: 'unreachable' }, 95_000, locale, JOB_ID)), 'no address');
      assertLanguage(locale, textOf(renderFailure(REQUEST, describeFailure(FAILURES.internal, locale), locale, { jobId: JOB_ID, tryAgain: true })), 'failure');
    });

    test('every failure code', () => {
      for (const failure of Object.values(FAILURES)) assertLanguage(locale, describeFailure(failure, locale), failure.code);
    });

    test('every option problem', () => {
      for (const problem of PROBLEMS) assertLanguage(locale, describeOptionProblem(problem, locale), problem.code);
    });

    test('every refusal', () => {
      for (const limit of LIMITS) {
        for (const retryAt of [undefined, 1_800_000_000_000]) {
          assertLanguage(locale, renderRefusal({ limit, retryAt, hits: [limit] }, RULES, 1000, locale), `${limit} ${retryAt}`);
        }
      }
      assertLanguage(locale, renderRefusal({ limit: 'daily', retryAt: undefined, hits: ['daily'] }, { ...RULES, dailyLimit: 0 }, 1000, locale), 'switched off');
      assertLanguage(locale, renderServiceUnavailable(null, locale), 'service unavailable');
      assertLanguage(locale, renderServiceUnavailable(1_800_000_000_000, locale), 'service unavailable until');
      assertLanguage(locale, renderPolicyRefusal({ rule: 'blocked', reason: '' }, locale), 'blocked');
      assertLanguage(locale, renderPolicyRefusal({ rule: 'required-role', roleId: '5' }, locale), 'required role');
      assertLanguage(locale, renderPolicyRefusal({ rule: 'channel', allowedChannelIds: ['7', '8'] }, locale), 'channel');
      assertLanguage(locale, renderPolicyRefusal({ rule: 'banned-word' }, locale), 'banned word');
    });

    test('/pika quota', () => {
      assertLanguage(locale, renderQuota(VIEW, false, false, locale), 'limited');
      assertLanguage(locale, renderQuota({ ...VIEW, dailyLeft: null, weeklyLeft: null, cooldownUntil: null, maxConcurrent: null }, false, false, locale), 'unlimited');
      assertLanguage(locale, renderQuota(VIEW, true, false, locale), 'owner');
      assertLanguage(locale, renderQuota(VIEW, false, true, locale), 'exempt');
    });
  });
}

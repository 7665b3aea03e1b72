import { ComponentType, TextInputStyle, type APIModalInteractionResponseCallbackData, type APISelectMenuOption } from 'discord.js';
import type { ComponentHandler } from '../src/discord/component.js';
import { encodeComponentId } from '../src/discord/custom-ids.js';
import { startGeneration } from '../src/discord/generation.js';
import { requesterOf, usageScopeOf } from '../src/discord/interaction.js';
import { messagesFor, resolveLocale, type Locale } from '../src/i18n/index.js';
import { requireJob, rerunRequest, type RemixChanges } from '../src/jobs/job-actions.js';
import type { Job } from '../src/jobs/job.js';
import { PARAMETER_RANGES } from '../src/config.js';
import { CAMERA_MOVES, KNOWN_PIKAFFECTS, NEGATIVE_PROMPT_MAX_LENGTH, PROMPT_MAX_LENGTH, type CameraMove } from '../src/pika/request.js';

/** The select value for "no effect" / "no camera movement": Discord refuses an empty one. */
const NONE = 'none';
const FIELDS = { prompt: 'prompt', negativePrompt: 'negative_prompt', pikaffect: 'pikaffect', camera: 'camera', motion: 'motion' } as const;

/**
 * 🔀 Remix: a modal prefilled with the original's prompt, negative prompt, effect, camera and
 * motion (five fields, Discord's most); submitting starts the clicker's own job with those
 * changes and every other option unchanged, checked as a command is.
 */
export const remix: ComponentHandler<'remix'> = {
  action: 'remix',
  async button(interaction, { jobId }, ctx) {
    const job = requireJob(await ctx.jobs.find(jobId));
    // Refuse now what submitting would refuse anyway: images gone, options no longer allowed, a
    // member or channel the server's rules turn away. Banned words wait for the submit, since
    // the form may take them out.
    rerunRequest(job, undefined, ctx.config.defaults, ctx.config.maxImageBytes, Date.now());
    await ctx.admission.checkRules(usageScopeOf(interaction, ctx.config.limits.allowDms), requesterOf(interaction), []);
    await interaction.showModal(remixModal(job, resolveLocale(interaction.locale)));
  },
  async modal(interaction, { jobId }, ctx) {
    const job = requireJob(await ctx.jobs.find(jobId));
    const { fields } = interaction;
    const selected = (id: string) => fields.getStringSelectValues(id)[0] ?? NONE;
    const changes: RemixChanges = {
      prompt: fields.getTextInputValue(FIELDS.prompt),
      negativePrompt: fields.getTextInputValue(FIELDS.negativePrompt),
      pikaffect: selected(FIELDS.pikaffect) === NONE ? '' : selected(FIELDS.pikaffect),
      camera: selected(FIELDS.camera) === NONE ? null : selected(FIELDS.camera),
      motion: Number(selected(FIELDS.motion)),
    };
    const request = rerunRequest(job, changes, ctx.config.defaults, ctx.config.maxImageBytes, Date.now());
    await startGeneration(interaction, request, ctx, { jobId, how: 'remix' });
  },
};

function remixModal(job: Job, locale: Locale): APIModalInteractionResponseCallbackData {
  const t = messagesFor(locale);
  const { request } = job;
  const option = (label: string, value: string, chosen: string): APISelectMenuOption => ({ label: label.slice(0, 100), value, default: value === chosen });
  // An effect typed by hand stays offered, so leaving it alone keeps it.
  const typed = request.pikaffect && !(KNOWN_PIKAFFECTS as readonly string[]).includes(request.pikaffect) ? [option(request.pikaffect, request.pikaffect, request.pikaffect)] : [];
  const motions = Array.from({ length: PARAMETER_RANGES.motion.max - PARAMETER_RANGES.motion.min + 1 }, (_, i) => PARAMETER_RANGES.motion.min + i);
  const select = (label: string, customId: string, options: APISelectMenuOption[]) => ({
    type: ComponentType.Label as const,
    label,
    component: { type: ComponentType.StringSelect as const, custom_id: customId, options, min_values: 1, max_values: 1 },
  });
  return {
    custom_id: encodeComponentId({ action: 'remix', jobId: job.id }),
    title: t.remixTitle,
    components: [
      {
        type: ComponentType.Label,
        label: t.remixPrompt,
        component: {
          type: ComponentType.TextInput,
          custom_id: FIELDS.prompt,
          style: TextInputStyle.Paragraph,
          max_length: PROMPT_MAX_LENGTH,
          required: request.kind !== 'image',
          ...(request.prompt ? { value: request.prompt } : {}),
        },
      },
      {
        type: ComponentType.Label,
        label: t.remixNegativePrompt,
        component: {
          type: ComponentType.TextInput,
          custom_id: FIELDS.negativePrompt,
          style: TextInputStyle.Paragraph,
          max_length: NEGATIVE_PROMPT_MAX_LENGTH,
          required: false,
          placeholder: t.remixNegativePromptHint,
          ...(request.negativePrompt ? { value: request.negativePrompt } : {}),
        },
      },
      select(t.remixEffect, FIELDS.pikaffect, [
        option(t.remixNoEffect, NONE, request.pikaffect || NONE),
        ...typed,
        ...KNOWN_PIKAFFECTS.map((effect) => option(t.pikaEffectLabel({ effect }), effect, request.pikaffect)),
      ]),
      select(t.remixCamera, FIELDS.camera, [
        option(t.remixNoCamera, NONE, request.camera ?? NONE),
        ...(Object.keys(CAMERA_MOVES) as CameraMove[]).map((move) => option(t.pikaCamera({ move }), move, request.camera ?? NONE)),
      ]),
      select(t.remixMotion, FIELDS.motion, motions.map((motion) => option(t.remixMotionChoice({ motion }), String(motion), String(request.motion)))),
    ],
  };
}

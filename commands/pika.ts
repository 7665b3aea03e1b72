import {
  ApplicationIntegrationType,
  InteractionContextType,
  MessageFlags,
  SlashCommandBuilder,
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  type SlashCommandAttachmentOption,
  type SlashCommandSubcommandBuilder,
} from 'discord.js';
import { ASPECT_RATIOS, INGREDIENTS_MODES, MODELS, PARAMETER_RANGES } from '../src/config.js';
import type { Command } from '../src/discord/command.js';
import { NO_PINGS } from '../src/discord/messages.js';
import { requesterOf, usageScopeOf } from '../src/discord/interaction.js';
import { deferPublicReply, requireVideoPermissions, startGeneration } from '../src/discord/generation.js';
import { historyView } from '../src/discord/history-view.js';
import { answerEphemerally } from '../src/discord/ephemeral-answer.js';
import { isJobId } from '../src/discord/custom-ids.js';
import { JobActionRefused, requireJob } from '../src/jobs/job-actions.js';
import { requestTexts } from '../src/jobs/admission.js';
import type { AppContext } from '../src/context.js';
import { truncate } from '../src/text.js';
import { renderQuota } from '../src/discord/usage-messages.js';
import { UserError } from '../src/errors.js';
import { messagesFor, resolveLocale } from '../src/i18n/index.js';
import { choice, commandText, named, type CommandText } from './localize.js';
import {
  CAMERA_MOVES,
  KNOWN_PIKAFFECTS,
  MAX_INGREDIENTS,
  NEGATIVE_PROMPT_MAX_LENGTH,
  PIKAFFECT_MAX_LENGTH,
  PROMPT_MAX_LENGTH,
  checkGenerationOptions,
  type CameraMove,
  type GenerationKind,
  type ImageAttachment,
  type RawGenerationOptions,
} from '../src/pika/request.js';

const JOB_ID_LENGTH = 36;
const MAX_CHOICES = 25;
const GENERATION_KINDS = ['text', 'image', 'ingredients'] as const satisfies readonly GenerationKind[];
const INGREDIENT_OPTIONS = Array.from({ length: MAX_INGREDIENTS }, (_, i) => `image${i + 1}`);

type OptionAdder = (sub: SlashCommandSubcommandBuilder) => SlashCommandSubcommandBuilder;
const t = commandText;
const range = ({ min, max }: { min: number; max: number }) => ({ min, max });

const addPrompt = (required: boolean, description: CommandText): OptionAdder => (sub) =>
  sub.addStringOption((o) => named(o, t('cmdPikaPromptName'), description).setRequired(required).setMaxLength(PROMPT_MAX_LENGTH));

const addModel: OptionAdder = (sub) =>
  sub.addStringOption((o) =>
    named(o, t('cmdPikaModelName'), t('cmdPikaModelDescription')).addChoices(...MODELS.map((model) => choice(t('cmdPikaModelChoice', { model }), model))),
  );

const addAspectRatio: OptionAdder = (sub) =>
  sub.addStringOption((o) =>
    named(o, t('cmdPikaAspectRatioName'), t('cmdPikaAspectRatioDescription')).addChoices(
      ...ASPECT_RATIOS.map((ratio) => choice(t('cmdPikaAspectRatioChoice', { ratio }), ratio)),
    ),
  );

/** The options every kind of generation takes, after its own. */
const addCommonOptions: OptionAdder = (sub) =>
  sub
    .addStringOption((o) =>
      named(o, t('cmdPikaNegativePromptName'), t('cmdPikaNegativePromptDescription')).setMaxLength(NEGATIVE_PROMPT_MAX_LENGTH),
    )
    .addIntegerOption((o) =>
      named(o, t('cmdPikaFrameRateName'), t('cmdPikaFrameRateDescription', range(PARAMETER_RANGES.frameRate)))
        .setMinValue(PARAMETER_RANGES.frameRate.min)
        .setMaxValue(PARAMETER_RANGES.frameRate.max),
    )
    .addNumberOption((o) =>
      named(o, t('cmdPikaGuidanceScaleName'), t('cmdPikaGuidanceScaleDescription', range(PARAMETER_RANGES.guidanceScale)))
        .setMinValue(PARAMETER_RANGES.guidanceScale.min)
        .setMaxValue(PARAMETER_RANGES.guidanceScale.max),
    )
    .addIntegerOption((o) =>
      named(o, t('cmdPikaMotionName'), t('cmdPikaMotionDescription', range(PARAMETER_RANGES.motion)))
        .setMinValue(PARAMETER_RANGES.motion.min)
        .setMaxValue(PARAMETER_RANGES.motion.max),
    )
    .addStringOption((o) =>
      named(o, t('cmdPikaPikaffectName'), t('cmdPikaPikaffectDescription')).setMaxLength(PIKAFFECT_MAX_LENGTH).setAutocomplete(true),
    )
    .addStringOption((o) =>
      named(o, t('cmdPikaCameraName'), t('cmdPikaCameraDescription')).addChoices(
        ...(Object.keys(CAMERA_MOVES) as CameraMove[]).map((move) => choice(t('pikaCamera', { move }), move)),
      ),
    );

const data = named(new SlashCommandBuilder(), t('cmdPikaName'), t('cmdPikaDescription'))
  // Installed to a server or to a user's own account, and usable in servers, the bot's DMs and
  // private channels (who may use it where is decided per interaction: see usageScopeOf).
  .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM, InteractionContextType.PrivateChannel)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall, ApplicationIntegrationType.UserInstall)
  .addSubcommand((sub) =>
    addCommonOptions(
      addAspectRatio(addModel(addPrompt(true, t('cmdPikaPromptDescription'))(named(sub, t('cmdPikaTextName'), t('cmdPikaTextDescription'))))),
    ),
  )
  .addSubcommand((sub) =>
    addCommonOptions(
      addModel(
        addPrompt(false, t('cmdPikaPromptImageDescription'))(
          named(sub, t('cmdPikaImageName'), t('cmdPikaImageDescription')).addAttachmentOption((o) =>
            named(o, t('cmdPikaImageOptionName'), t('cmdPikaImageOptionDescription')).setRequired(true),
          ),
        ),
      ),
    ),
  )
  .addSubcommand((sub) => named(sub, t('cmdPikaQuotaName'), t('cmdPikaQuotaDescription')))
  .addSubcommand((sub) => named(sub, t('cmdPikaHistoryName'), t('cmdPikaHistoryDescription')))
  .addSubcommand((sub) =>
    named(sub, t('cmdPikaShowName'), t('cmdPikaShowDescription')).addStringOption((o) =>
      named(o, t('cmdPikaShowIdName'), t('cmdPikaShowIdDescription')).setRequired(true).setMaxLength(JOB_ID_LENGTH).setAutocomplete(true),
    ),
  )
  .addSubcommand((sub) => {
    named(sub, t('cmdPikaIngredientsName'), t('cmdPikaIngredientsDescription'));
    const ingredient = (number: number, description: CommandText) => (o: SlashCommandAttachmentOption) =>
      named(o, t('cmdPikaIngredientName', { number }), description);
    for (const number of [1, 2]) {
      sub.addAttachmentOption((o) => ingredient(number, t('cmdPikaIngredientRequiredDescription', { number }))(o).setRequired(true));
    }
    addPrompt(true, t('cmdPikaPromptDescription'))(sub);
    for (let number = 3; number <= MAX_INGREDIENTS; number++) {
      sub.addAttachmentOption(ingredient(number, t('cmdPikaIngredientOptionalDescription', { number })));
    }
    sub.addStringOption((o) =>
      named(o, t('cmdPikaModeName'), t('cmdPikaModeDescription')).addChoices(
        ...INGREDIENTS_MODES.map((mode) => choice(t('pikaIngredientsMode', { mode }), mode)),
      ),
    );
    return addCommonOptions(addAspectRatio(sub));
  });

const IMAGE_OPTIONS: Record<GenerationKind, readonly string[]> = {
  text: [],
  image: ['image'],
  ingredients: INGREDIENT_OPTIONS,
};

function readOptions(interaction: ChatInputCommandInteraction, kind: GenerationKind): RawGenerationOptions {
  const { options } = interaction;
  const images: ImageAttachment[] = [];
  for (const name of IMAGE_OPTIONS[kind]) {
    const attachment = options.getAttachment(name);
    if (attachment) {
      images.push({
        optionName: name,
        url: attachment.url,
        filename: attachment.name,
        contentType: attachment.contentType,
        size: attachment.size,
      });
    }
  }
  return {
    prompt: options.getString('prompt'),
    negative_prompt: options.getString('negative_prompt'),
    model: options.getString('model'),
    aspect_ratio: options.getString('aspect_ratio'),
    frame_rate: options.getInteger('frame_rate'),
    guidance_scale: options.getNumber('guidance_scale'),
    motion: options.getInteger('motion'),
    pikaffect: options.getString('pikaffect'),
    camera: options.getString('camera'),
    mode: options.getString('mode'),
    images,
  };
}

/**
 * `/pika show`: a delivered video of the user's own, posted again on a public reply with its
 * buttons. Nothing is generated or charged.
 */
async function showJob(interaction: ChatInputCommandInteraction, ctx: AppContext): Promise<void> {
  const id = interaction.options.getString('id', true).trim().toLowerCase();
  const job = requireJob(isJobId(id) ? await ctx.jobs.find(id) : undefined);
  if (job.reservation.userId !== interaction.user.id) throw new JobActionRefused({ code: 'not_yours', action: 'show' });
  if (job.state !== 'delivered' || !job.result) throw new JobActionRefused({ code: 'no_video' });
  if (job.deleted) throw new JobActionRefused({ code: 'deleted' });
  const scope = usageScopeOf(interaction, ctx.config.limits.allowDms);
  if (job.reservation.guildId !== scope) throw new JobActionRefused({ code: 'elsewhere' });
  // Posting it again is showing it again: the server's rules as they stand now apply.
  await ctx.admission.checkRules(scope, requesterOf(interaction), requestTexts(job.request));
  requireVideoPermissions(interaction);
  ctx.jobs.show(job, await deferPublicReply(interaction), { locale: interaction.locale, guildLocale: interaction.guildLocale });
}

/** The user's recent delivered videos here, newest first, for `/pika show id:`; what was typed matches the prompt or the id. */
async function recentVideoChoices(interaction: AutocompleteInteraction, ctx: AppContext, typed: string) {
  let scope: string;
  try {
    scope = usageScopeOf(interaction, ctx.config.limits.allowDms);
  } catch {
    // Where the command would be refused, there is nothing to offer.
    return [];
  }
  const { jobs } = await ctx.jobs.history(scope, interaction.user.id, 0, MAX_CHOICES);
  const needle = typed.trim().toLowerCase();
  const when = new Intl.DateTimeFormat(resolveLocale(interaction.locale), { dateStyle: 'short', timeStyle: 'short', timeZone: 'UTC' });
  return jobs
    .filter((job) => job.state === 'delivered' && !job.deleted)
    .filter((job) => !needle || job.id.startsWith(needle) || job.request.prompt.toLowerCase().includes(needle))
    .map((job) => ({ name: truncate(`${when.format(job.createdAt)} UTC · ${job.request.prompt.replace(/\s+/g, ' ') || job.request.kind}`, 100), value: job.id }));
}

function isGenerationKind(name: string | null): name is GenerationKind {
  return (GENERATION_KINDS as readonly string[]).includes(name ?? '');
}

export const pika: Command = {
  data,
  async execute(interaction, ctx) {
    const subcommand = interaction.options.getSubcommand(false);
    const scope = usageScopeOf(interaction, ctx.config.limits.allowDms);
    const requester = requesterOf(interaction);
    if (subcommand === 'quota') {
      const { view, owner, exempt } = await ctx.usage.quota(scope, interaction.user.id, requester.roleIds);
      const content = renderQuota(view, owner, exempt, resolveLocale(interaction.locale));
      await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_PINGS });
      return;
    }
    if (subcommand === 'history') {
      await answerEphemerally(interaction, historyView(interaction, ctx, interaction.user.id, 0));
      return;
    }
    if (subcommand === 'show') return showJob(interaction, ctx);
    if (!isGenerationKind(subcommand)) {
      throw new UserError(messagesFor(resolveLocale(interaction.locale)).pikaUnknownSubcommand);
    }
    const request = checkGenerationOptions(subcommand, readOptions(interaction, subcommand), ctx.config.defaults, ctx.config.maxImageBytes);
    await startGeneration(interaction, request, ctx);
  },

  async autocomplete(interaction: AutocompleteInteraction, ctx) {
    const focused = interaction.options.getFocused(true);
    if (focused.name === 'id') return interaction.respond(await recentVideoChoices(interaction, ctx, String(focused.value)));
    if (focused.name !== 'pikaffect') return interaction.respond([]);
    const typed = String(focused.value).trim();
    const needle = typed.toLowerCase();
    const t = messagesFor(resolveLocale(interaction.locale));
    // Labels in the user's language, values as Pika names them; either matches what was typed.
    const known = KNOWN_PIKAFFECTS.map((effect) => ({ name: t.pikaEffectLabel({ effect }), value: effect as string }));
    const matches = known.filter(({ name, value }) => value.toLowerCase().includes(needle) || name.toLowerCase().includes(needle));
    const exact = matches.some(({ value }) => value.toLowerCase() === needle);
    const typedChoice = { name: typed.slice(0, PIKAFFECT_MAX_LENGTH), value: typed.slice(0, PIKAFFECT_MAX_LENGTH) };
    await interaction.respond((typed && !exact ? [typedChoice, ...matches] : matches).slice(0, 25));
  },
};

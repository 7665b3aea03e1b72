import {
  ApplicationIntegrationType,
  InteractionContextType,
  MessageFlags,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  type SlashCommandSubcommandBuilder,
} from 'discord.js';
import { ASPECT_RATIOS, INGREDIENTS_MODES, MODELS, PARAMETER_RANGES } from '../src/config.js';
import type { Command } from '../src/discord/command.js';
import { NO_PINGS } from '../src/discord/messages.js';
import { requesterOf, requireAppPermissions, replyTargetOf, usageScopeOf, warnIfChannelFallbackWouldFail } from '../src/discord/interaction.js';
import { renderQuota } from '../src/discord/usage-messages.js';
import { UserError } from '../src/errors.js';
import {
  CAMERA_MOVES,
  KNOWN_PIKAFFECTS,
  MAX_INGREDIENTS,
  NEGATIVE_PROMPT_MAX_LENGTH,
  PIKAFFECT_MAX_LENGTH,
  PROMPT_MAX_LENGTH,
  checkGenerationOptions,
  type GenerationKind,
  type ImageAttachment,
  type RawGenerationOptions,
} from '../src/pika/request.js';

const GENERATION_KINDS = ['text', 'image', 'ingredients'] as const satisfies readonly GenerationKind[];
const INGREDIENT_OPTIONS = Array.from({ length: MAX_INGREDIENTS }, (_, i) => `image${i + 1}`);

type OptionAdder = (sub: SlashCommandSubcommandBuilder) => SlashCommandSubcommandBuilder;

const addPrompt = (required: boolean, description: string): OptionAdder => (sub) =>
  sub.addStringOption((o) => o.setName('prompt').setDescription(description).setRequired(required).setMaxLength(PROMPT_MAX_LENGTH));

const addModel: OptionAdder = (sub) =>
  sub.addStringOption((o) =>
    o.setName('model').setDescription('Pika model version').addChoices(...MODELS.map((m) => ({ name: m, value: m }))),
  );

const addAspectRatio: OptionAdder = (sub) =>
  sub.addStringOption((o) =>
    o
      .setName('aspect_ratio')
      .setDescription('Width:height of the video (default 16:9)')
      .addChoices(...ASPECT_RATIOS.map((r) => ({ name: r, value: r }))),
  );

/** The options every kind of generation takes, after its own. */
const addCommonOptions: OptionAdder = (sub) =>
  sub
    .addStringOption((o) =>
      o.setName('negative_prompt').setDescription('What must not appear in the video').setMaxLength(NEGATIVE_PROMPT_MAX_LENGTH),
    )
    .addIntegerOption((o) =>
      o
        .setName('frame_rate')
        .setDescription(`Frames per second (${PARAMETER_RANGES.frameRate.min}–${PARAMETER_RANGES.frameRate.max})`)
        .setMinValue(PARAMETER_RANGES.frameRate.min)
        .setMaxValue(PARAMETER_RANGES.frameRate.max),
    )
    .addNumberOption((o) =>
      o
        .setName('guidance_scale')
        .setDescription(`How closely to follow the prompt (${PARAMETER_RANGES.guidanceScale.min}–${PARAMETER_RANGES.guidanceScale.max})`)
        .setMinValue(PARAMETER_RANGES.guidanceScale.min)
        .setMaxValue(PARAMETER_RANGES.guidanceScale.max),
    )
    .addIntegerOption((o) =>
      o
        .setName('motion')
        .setDescription(`Strength of motion (${PARAMETER_RANGES.motion.min}–${PARAMETER_RANGES.motion.max})`)
        .setMinValue(PARAMETER_RANGES.motion.min)
        .setMaxValue(PARAMETER_RANGES.motion.max),
    )
    .addStringOption((o) =>
      o
        .setName('pikaffect')
        .setDescription('A Pika effect such as Melt or Explode (adds sound)')
        .setMaxLength(PIKAFFECT_MAX_LENGTH)
        .setAutocomplete(true),
    )
    .addStringOption((o) =>
      o
        .setName('camera')
        .setDescription('Camera movement')
        .addChoices(...Object.entries(CAMERA_MOVES).map(([value, move]) => ({ name: move.label, value }))),
    );

const data = new SlashCommandBuilder()
  .setName('pika')
  .setDescription('Make a short video with Pika')
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .addSubcommand((sub) =>
    addCommonOptions(
      addAspectRatio(addModel(addPrompt(true, 'Describe the video')(sub.setName('text').setDescription('Make a video from a description')))),
    ),
  )
  .addSubcommand((sub) =>
    addCommonOptions(
      addModel(
        addPrompt(false, 'How the image should move (optional)')(
          sub
            .setName('image')
            .setDescription('Bring an image to life')
            .addAttachmentOption((o) => o.setName('image').setDescription('PNG, JPEG or WebP image').setRequired(true)),
        ),
      ),
    ),
  )
  .addSubcommand((sub) => sub.setName('quota').setDescription('See how many videos you have left and when they reset'))
  .addSubcommand((sub) => {
    sub.setName('ingredients').setDescription('Combine several images into one video (model 2.0)');
    for (const [index, name] of INGREDIENT_OPTIONS.slice(0, 2).entries()) {
      sub.addAttachmentOption((o) => o.setName(name).setDescription(`Image ${index + 1} (PNG, JPEG or WebP)`).setRequired(true));
    }
    addPrompt(true, 'Describe the video')(sub);
    for (const [index, name] of INGREDIENT_OPTIONS.slice(2).entries()) {
      sub.addAttachmentOption((o) => o.setName(name).setDescription(`Image ${index + 3} (optional)`));
    }
    sub.addStringOption((o) =>
      o
        .setName('mode')
        .setDescription('precise (default) or creative')
        .addChoices(...INGREDIENTS_MODES.map((m) => ({ name: m, value: m }))),
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

function isGenerationKind(name: string | null): name is GenerationKind {
  return (GENERATION_KINDS as readonly string[]).includes(name ?? '');
}

export const pika: Command = {
  data,
  dmCapable: true,
  async execute(interaction, ctx) {
    const subcommand = interaction.options.getSubcommand(false);
    const scope = usageScopeOf(interaction, ctx.config.limits.allowDms);
    const requester = requesterOf(interaction);
    if (subcommand === 'quota') {
      const { view, owner, exempt } = await ctx.usage.quota(scope, interaction.user.id, requester.roleIds);
      await interaction.reply({ content: renderQuota(view, owner, exempt), flags: MessageFlags.Ephemeral, allowedMentions: NO_PINGS });
      return;
    }
    if (!isGenerationKind(subcommand)) {
      throw new UserError('I don’t know that subcommand. Try `/pika text`, `/pika image`, `/pika ingredients` or `/pika quota`.');
    }
    const request = checkGenerationOptions(subcommand, readOptions(interaction, subcommand), ctx.config.defaults, ctx.config.maxImageBytes);
    requireAppPermissions(interaction, [
      [PermissionFlagsBits.EmbedLinks, 'Embed Links'],
      [PermissionFlagsBits.AttachFiles, 'Attach Files'],
    ]);
    warnIfChannelFallbackWouldFail(interaction, ctx.logger);
    const admitted = await ctx.admission.admit(scope, requester, request);
    let reply;
    try {
      const deferred = await interaction.deferReply({ withResponse: true });
      reply = { ...replyTargetOf(interaction), ...(deferred.resource?.message ? { messageId: deferred.resource.message.id } : {}) };
    } catch (error) {
      await admitted.cancel();
      throw error;
    }
    await ctx.jobs.start(request, reply, admitted, { locale: interaction.locale, guildLocale: interaction.guildLocale });
  },

  async autocomplete(interaction: AutocompleteInteraction) {
    const focused = interaction.options.getFocused(true);
    if (focused.name !== 'pikaffect') return interaction.respond([]);
    const typed = String(focused.value).trim();
    const matches = KNOWN_PIKAFFECTS.filter((effect) => effect.toLowerCase().includes(typed.toLowerCase()));
    const exact = matches.some((effect) => effect.toLowerCase() === typed.toLowerCase());
    const choices = typed && !exact ? [typed.slice(0, PIKAFFECT_MAX_LENGTH), ...matches] : matches;
    await interaction.respond(choices.slice(0, 25).map((name) => ({ name, value: name })));
  },
};

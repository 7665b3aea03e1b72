import {
  ApplicationIntegrationType,
  InteractionContextType,
  MessageFlags,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type ChatInputCommandInteraction,
} from 'discord.js';
import type { AppContext } from '../src/context.js';
import type { Command } from '../src/discord/command.js';
import { NO_PINGS } from '../src/discord/messages.js';
import { LIMIT_LABELS, renderSettings, renderUsage } from '../src/discord/usage-messages.js';
import { UserError } from '../src/errors.js';
import { LIMIT_FIELDS, type LimitField } from '../src/usage/guild-settings.js';
import type { Limit } from '../src/usage/limits.js';

/** Option names of `/pika-admin limits`, and the setting each one changes. */
const LIMIT_OPTIONS = {
  daily: 'dailyLimit',
  weekly: 'weeklyLimit',
  cooldown: 'cooldownSeconds',
  concurrent: 'maxConcurrent',
  server_daily: 'serverDailyCap',
} as const satisfies Record<string, LimitField>;

const UNLIMITED = -1;

const data = new SlashCommandBuilder()
  .setName('pika-admin')
  .setDescription('Moderate the Pika video bot in this server')
  .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .addSubcommand((sub) =>
    sub
      .setName('limits')
      .setDescription('Set usage limits (only the options you give change)')
      .addIntegerOption((o) => o.setName('daily').setDescription('Videos per user per UTC day (0 = none, -1 = unlimited)').setMinValue(UNLIMITED).setMaxValue(100_000))
      .addIntegerOption((o) => o.setName('weekly').setDescription('Videos per user per week (0 = none, -1 = unlimited)').setMinValue(UNLIMITED).setMaxValue(100_000))
      .addIntegerOption((o) => o.setName('cooldown').setDescription('Seconds between a user’s videos (0 = none)').setMinValue(0).setMaxValue(86_400))
      .addIntegerOption((o) => o.setName('concurrent').setDescription('Videos in progress per user (-1 = unlimited)').setMinValue(UNLIMITED).setMaxValue(100))
      .addIntegerOption((o) => o.setName('server_daily').setDescription('Videos per UTC day for the whole server (-1 = unlimited)').setMinValue(UNLIMITED).setMaxValue(1_000_000))
      .addBooleanOption((o) => o.setName('reset').setDescription('First put every limit back to the bot’s defaults')),
  )
  .addSubcommand((sub) => sub.setName('show').setDescription('Show this server’s whole Pika configuration'))
  .addSubcommand((sub) => sub.setName('usage').setDescription('Show the top users and the totals for today and this week'));

/** Discord's default permission can be overridden per server, so it is checked again here. */
function requireModerator(interaction: ChatInputCommandInteraction, ctx: AppContext): string {
  const isOwner = ctx.usage.isOwner(interaction.user.id);
  if (!interaction.guildId) throw new UserError('This command works in servers only.');
  if (!isOwner && !interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
    throw new UserError('Only members with the **Manage Server** permission can change or view the Pika settings.');
  }
  return interaction.guildId;
}

async function updateLimits(interaction: ChatInputCommandInteraction, ctx: AppContext, guildId: string): Promise<string> {
  const settings = await ctx.settings.get(guildId);
  const changes: string[] = [];
  if (interaction.options.getBoolean('reset')) {
    settings.limits = {};
    changes.push('every limit reset to the bot’s defaults');
  }
  for (const [option, field] of Object.entries(LIMIT_OPTIONS)) {
    const value = interaction.options.getInteger(option);
    if (value === null) continue;
    if (value < UNLIMITED || (field === 'cooldownSeconds' && value < 0) || (field === 'maxConcurrent' && value === 0)) {
      throw new UserError(field === 'maxConcurrent' ? '`concurrent` must be at least 1, or -1 for unlimited.' : `\`${option}\` cannot be ${value}.`);
    }
    (settings.limits as Record<LimitField, Limit>)[field] = value === UNLIMITED ? null : value;
    changes.push(`${LIMIT_LABELS[field]} → ${value === UNLIMITED ? 'unlimited' : value}`);
  }
  if (changes.length === 0) {
    throw new UserError(`Nothing to change: give at least one of ${Object.keys(LIMIT_OPTIONS).map((o) => `\`${o}\``).join(', ')} or \`reset\`.`);
  }
  await ctx.settings.save(guildId, settings);
  ctx.logger.info('limits changed', { guild: guildId, moderator: interaction.user.id, changes, fields: LIMIT_FIELDS.filter((f) => f in settings.limits) });
  const rules = await ctx.usage.rulesFor(guildId);
  return `Saved: ${changes.join('; ')}.\n\n${renderSettings(settings, rules, ctx.usage.globalDailyCap)}`;
}

export const pikaAdmin: Command = {
  data,
  async execute(interaction, ctx) {
    const guildId = requireModerator(interaction, ctx);
    let content: string;
    switch (interaction.options.getSubcommand(false)) {
      case 'limits':
        content = await updateLimits(interaction, ctx, guildId);
        break;
      case 'show':
        content = renderSettings(await ctx.settings.get(guildId), await ctx.usage.rulesFor(guildId), ctx.usage.globalDailyCap);
        break;
      case 'usage':
        content = renderUsage(await ctx.usage.guildUsage(guildId));
        break;
      default:
        throw new UserError('I don’t know that subcommand. Try `/pika-admin limits`, `show` or `usage`.');
    }
    await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_PINGS });
  },
};

import {
  ApplicationIntegrationType,
  ChannelType,
  InteractionContextType,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type ChatInputCommandInteraction,
} from 'discord.js';
import type { AppContext } from '../src/context.js';
import type { Command } from '../src/discord/command.js';
import { displayText } from '../src/discord/messages.js';
import { renderDone, renderEditProblem } from '../src/discord/admin-messages.js';
import { historyView } from '../src/discord/history-view.js';
import { isModerator } from '../src/discord/interaction.js';
import { answerEphemerally } from '../src/discord/ephemeral-answer.js';
import { fitMessage, renderSettings, renderUsage, renderUserUsage } from '../src/discord/usage-messages.js';
import { UserError } from '../src/errors.js';
import { messagesFor, resolveLocale, type Locale } from '../src/i18n/index.js';
import { commandText, named } from './localize.js';
import {
  allowChannel,
  allowEveryChannel,
  allowWord,
  banWord,
  blockUser,
  clearRole,
  disallowChannel,
  EditRefused,
  exemptRole,
  requireRole,
  roleAllowance,
  setAuditChannel,
  setLimits,
  unblockUser,
  type Change,
  type SettingsEdit,
} from '../src/moderation/settings-edits.js';
import type { LimitField } from '../src/usage/guild-settings.js';
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
const MAX_WORD_LENGTH = 100;
const TEXT_CHANNELS = [ChannelType.GuildText, ChannelType.GuildAnnouncement, ChannelType.GuildForum] as const;

const t = commandText;

const data = named(new SlashCommandBuilder(), t('cmdAdminName'), t('cmdAdminDescription'))
  .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .addSubcommand((sub) =>
    named(sub, t('cmdAdminLimitsName'), t('cmdAdminLimitsDescription'))
      .addIntegerOption((o) => named(o, t('cmdAdminDailyName'), t('cmdAdminLimitsDailyDescription')).setMinValue(UNLIMITED).setMaxValue(100_000))
      .addIntegerOption((o) => named(o, t('cmdAdminWeeklyName'), t('cmdAdminLimitsWeeklyDescription')).setMinValue(UNLIMITED).setMaxValue(100_000))
      .addIntegerOption((o) => named(o, t('cmdAdminCooldownName'), t('cmdAdminCooldownDescription')).setMinValue(0).setMaxValue(86_400))
      .addIntegerOption((o) => named(o, t('cmdAdminConcurrentName'), t('cmdAdminConcurrentDescription')).setMinValue(UNLIMITED).setMaxValue(100))
      .addIntegerOption((o) => named(o, t('cmdAdminServerDailyName'), t('cmdAdminServerDailyDescription')).setMinValue(UNLIMITED).setMaxValue(1_000_000))
      .addBooleanOption((o) => named(o, t('cmdAdminLimitsResetName'), t('cmdAdminLimitsResetDescription'))),
  )
  .addSubcommand((sub) => named(sub, t('cmdAdminShowName'), t('cmdAdminShowDescription')))
  .addSubcommand((sub) =>
    named(sub, t('cmdAdminUsageName'), t('cmdAdminUsageDescription')).addUserOption((o) =>
      named(o, t('cmdAdminUserName'), t('cmdAdminUsageUserDescription')),
    ),
  )
  .addSubcommandGroup((group) =>
    named(group, t('cmdAdminRoleGroupName'), t('cmdAdminRoleGroupDescription'))
      .addSubcommand((sub) =>
        named(sub, t('cmdAdminAllowanceName'), t('cmdAdminAllowanceDescription'))
          .addRoleOption((o) => named(o, t('cmdAdminRoleName'), t('cmdAdminRoleDescription')).setRequired(true))
          .addIntegerOption((o) => named(o, t('cmdAdminDailyName'), t('cmdAdminAllowanceDailyDescription')).setMinValue(UNLIMITED).setMaxValue(100_000))
          .addIntegerOption((o) => named(o, t('cmdAdminWeeklyName'), t('cmdAdminAllowanceWeeklyDescription')).setMinValue(UNLIMITED).setMaxValue(100_000)),
      )
      .addSubcommand((sub) =>
        named(sub, t('cmdAdminExemptName'), t('cmdAdminExemptDescription'))
          .addRoleOption((o) => named(o, t('cmdAdminRoleName'), t('cmdAdminRoleDescription')).setRequired(true))
          .addBooleanOption((o) => named(o, t('cmdAdminExemptName'), t('cmdAdminExemptOptionDescription')).setRequired(true)),
      )
      .addSubcommand((sub) =>
        named(sub, t('cmdAdminRoleClearName'), t('cmdAdminRoleClearDescription')).addRoleOption((o) =>
          named(o, t('cmdAdminRoleName'), t('cmdAdminRoleDescription')).setRequired(true),
        ),
      )
      .addSubcommand((sub) =>
        named(sub, t('cmdAdminRequireName'), t('cmdAdminRequireDescription')).addRoleOption((o) =>
          named(o, t('cmdAdminRoleName'), t('cmdAdminRequiredRoleDescription')),
        ),
      ),
  )
  .addSubcommandGroup((group) =>
    named(group, t('cmdAdminUserGroupName'), t('cmdAdminUserGroupDescription'))
      .addSubcommand((sub) =>
        named(sub, t('cmdAdminGrantName'), t('cmdAdminGrantDescription'))
          .addUserOption((o) => named(o, t('cmdAdminUserName'), t('cmdAdminUserDescription')).setRequired(true))
          .addIntegerOption((o) => named(o, t('cmdAdminVideosName'), t('cmdAdminVideosDescription')).setRequired(true).setMinValue(1).setMaxValue(1000)),
      )
      .addSubcommand((sub) =>
        named(sub, t('cmdAdminUserResetName'), t('cmdAdminUserResetDescription')).addUserOption((o) =>
          named(o, t('cmdAdminUserName'), t('cmdAdminUserDescription')).setRequired(true),
        ),
      )
      .addSubcommand((sub) =>
        named(sub, t('cmdAdminBlockName'), t('cmdAdminBlockDescription'))
          .addUserOption((o) => named(o, t('cmdAdminUserName'), t('cmdAdminUserDescription')).setRequired(true))
          .addStringOption((o) => named(o, t('cmdAdminReasonName'), t('cmdAdminReasonDescription')).setMaxLength(300)),
      )
      .addSubcommand((sub) =>
        named(sub, t('cmdAdminUnblockName'), t('cmdAdminUnblockDescription')).addUserOption((o) =>
          named(o, t('cmdAdminUserName'), t('cmdAdminUserDescription')).setRequired(true),
        ),
      ),
  )
  .addSubcommandGroup((group) =>
    named(group, t('cmdAdminWordsName'), t('cmdAdminWordsDescription'))
      .addSubcommand((sub) =>
        named(sub, t('cmdAdminWordsAddName'), t('cmdAdminWordsAddDescription')).addStringOption((o) =>
          named(o, t('cmdAdminWordName'), t('cmdAdminWordDescription')).setRequired(true).setMaxLength(MAX_WORD_LENGTH),
        ),
      )
      .addSubcommand((sub) =>
        named(sub, t('cmdAdminWordsRemoveName'), t('cmdAdminWordsRemoveDescription')).addStringOption((o) =>
          named(o, t('cmdAdminWordName'), t('cmdAdminWordDescription')).setRequired(true).setMaxLength(MAX_WORD_LENGTH),
        ),
      )
      .addSubcommand((sub) => named(sub, t('cmdAdminWordsListName'), t('cmdAdminWordsListDescription'))),
  )
  .addSubcommandGroup((group) =>
    named(group, t('cmdAdminChannelsName'), t('cmdAdminChannelsDescription'))
      .addSubcommand((sub) =>
        named(sub, t('cmdAdminChannelsAddName'), t('cmdAdminChannelsAddDescription')).addChannelOption((o) =>
          named(o, t('cmdAdminChannelName'), t('cmdAdminChannelDescription')).setRequired(true).addChannelTypes(...TEXT_CHANNELS),
        ),
      )
      .addSubcommand((sub) =>
        named(sub, t('cmdAdminChannelsRemoveName'), t('cmdAdminChannelsRemoveDescription')).addChannelOption((o) =>
          named(o, t('cmdAdminChannelName'), t('cmdAdminChannelDescription')).setRequired(true).addChannelTypes(...TEXT_CHANNELS),
        ),
      )
      .addSubcommand((sub) => named(sub, t('cmdAdminChannelsClearName'), t('cmdAdminChannelsClearDescription'))),
  )
  .addSubcommand((sub) =>
    named(sub, t('cmdAdminHistoryName'), t('cmdAdminHistoryDescription')).addUserOption((o) =>
      named(o, t('cmdAdminUserName'), t('cmdAdminHistoryUserDescription')).setRequired(true),
    ),
  )
  .addSubcommand((sub) =>
    named(sub, t('cmdAdminAuditLogName'), t('cmdAdminAuditLogDescription')).addChannelOption((o) =>
      named(o, t('cmdAdminChannelName'), t('cmdAdminAuditChannelDescription')).addChannelTypes(ChannelType.GuildText),
    ),
  );

/**
 * One /pika-admin command: every answer is in the moderator's language (`locale`); the audit-log
 * channel is written in the server's (`guildLocale`, Discord's raw value).
 */
interface AdminRun {
  interaction: ChatInputCommandInteraction;
  ctx: AppContext;
  guildId: string;
  locale: Locale;
  guildLocale: string | null;
}

/** Discord's default permission can be overridden per server, so it is checked again here. */
function requireModerator(interaction: ChatInputCommandInteraction, ctx: AppContext, locale: Locale): string {
  const t = messagesFor(locale);
  if (!interaction.guildId) throw new UserError(t.adminServersOnly);
  if (!isModerator(interaction, (id) => ctx.usage.isOwner(id))) {
    throw new UserError(t.adminNotModerator);
  }
  return interaction.guildId;
}

/** Applies an edit and says what it did; a refused edit is told to the moderator in their words. */
async function applyEdit({ ctx, guildId, interaction, locale, guildLocale }: AdminRun, edit: SettingsEdit): Promise<string> {
  try {
    return renderDone(await ctx.editor.apply(guildId, interaction.user.id, edit, guildLocale), locale);
  } catch (error) {
    if (error instanceof EditRefused) throw new UserError(renderEditProblem(error.problem, locale));
    throw error;
  }
}

/** Records a change made outside the settings (grants, usage resets) in the audit log. */
async function record({ ctx, guildId, interaction, guildLocale }: AdminRun, change: Change): Promise<void> {
  ctx.logger.info('settings changed', { guild: guildId, moderator: interaction.user.id, change });
  await ctx.audit.change(guildId, interaction.user.id, change, guildLocale);
}

/** `-1` in an option means unlimited (`null`); an option left out changes nothing. */
function limitOption(interaction: ChatInputCommandInteraction, name: string): Limit | undefined {
  const value = interaction.options.getInteger(name);
  if (value === null) return undefined;
  return value === UNLIMITED ? null : value;
}

function roleEdit(interaction: ChatInputCommandInteraction, subcommand: string): SettingsEdit {
  if (subcommand === 'require') return requireRole(interaction.options.getRole('role')?.id ?? null);
  const roleId = interaction.options.getRole('role', true).id;
  if (subcommand === 'clear') return clearRole(roleId);
  if (subcommand === 'exempt') return exemptRole(roleId, interaction.options.getBoolean('exempt', true));
  return roleAllowance(roleId, limitOption(interaction, 'daily'), limitOption(interaction, 'weekly'));
}

async function userCommand(run: AdminRun, subcommand: string): Promise<string> {
  const { interaction, ctx, guildId } = run;
  const t = messagesFor(run.locale);
  const user = interaction.options.getUser('user', true);
  const moderatorId = interaction.user.id;
  switch (subcommand) {
    case 'grant': {
      const videos = interaction.options.getInteger('videos', true);
      const total = await ctx.usage.grant(guildId, user.id, videos);
      await record(run, { kind: 'bonus-granted', userId: user.id, videos });
      return t.adminGrantDone({ userId: user.id, total });
    }
    case 'reset':
      await ctx.usage.resetUsage(guildId, user.id);
      await record(run, { kind: 'usage-reset', userId: user.id });
      return t.adminResetDone({ userId: user.id });
    case 'block':
      return applyEdit(run, blockUser(user.id, interaction.options.getString('reason')?.trim() || null, moderatorId, Date.now()));
    default:
      return applyEdit(run, unblockUser(user.id));
  }
}

async function listWords({ ctx, guildId, locale }: AdminRun): Promise<string> {
  const t = messagesFor(locale);
  const { bannedWords } = (await ctx.settings.get(guildId)).moderation;
  if (bannedWords.length === 0) return t.adminWordsNone;
  return fitMessage(`${t.adminWordsHeading({ count: bannedWords.length })}\n${bannedWords.map((w) => `• ${displayText(w, MAX_WORD_LENGTH)}`).join('\n')}`, locale);
}

function channelEdit(interaction: ChatInputCommandInteraction, subcommand: string): SettingsEdit {
  if (subcommand === 'clear') return allowEveryChannel();
  const channelId = interaction.options.getChannel('channel', true).id;
  return subcommand === 'add' ? allowChannel(channelId) : disallowChannel(channelId);
}

async function showSettings({ ctx, guildId, locale }: AdminRun): Promise<string> {
  return renderSettings(await ctx.settings.get(guildId), await ctx.usage.rulesFor(guildId), ctx.usage.globalDailyCap, locale);
}

async function run(admin: AdminRun): Promise<string> {
  const { interaction, ctx, guildId, locale } = admin;
  const group = interaction.options.getSubcommandGroup(false);
  const subcommand = interaction.options.getSubcommand(false) ?? '';
  const apply = (edit: SettingsEdit) => applyEdit(admin, edit);
  if (group === 'role') return apply(roleEdit(interaction, subcommand));
  if (group === 'user') return userCommand(admin, subcommand);
  if (group === 'words') {
    if (subcommand === 'list') return listWords(admin);
    const word = interaction.options.getString('word', true);
    return apply(subcommand === 'add' ? banWord(word) : allowWord(word));
  }
  if (group === 'channels') return apply(channelEdit(interaction, subcommand));
  switch (subcommand) {
    case 'limits': {
      const values = Object.fromEntries(Object.entries(LIMIT_OPTIONS).map(([option, field]) => [field, limitOption(interaction, option)]));
      const answer = await apply(setLimits(interaction.options.getBoolean('reset') ?? false, values));
      return fitMessage(`${answer}\n\n${await showSettings(admin)}`, locale);
    }
    case 'show':
      return showSettings(admin);
    case 'usage': {
      const user = interaction.options.getUser('user');
      if (!user) return renderUsage(await ctx.usage.guildUsage(guildId), locale);
      const { moderation } = await ctx.settings.get(guildId);
      return renderUserUsage(user.id, await ctx.usage.userUsage(guildId, user.id), Boolean(moderation.blocked[user.id]), locale);
    }
    case 'audit-log': {
      const channelId = interaction.options.getChannel('channel')?.id ?? null;
      // Recorded before switching off, so the last entry says who switched it off.
      if (!channelId) await ctx.audit.change(guildId, interaction.user.id, { kind: 'audit-channel', channelId: null }, admin.guildLocale);
      return apply(setAuditChannel(channelId));
    }
    default:
      throw new UserError(messagesFor(locale).adminUnknownSubcommand);
  }
}

export const pikaAdmin: Command = {
  data,
  async execute(interaction, ctx) {
    const locale = resolveLocale(interaction.locale);
    const guildId = requireModerator(interaction, ctx, locale);
    if (interaction.options.getSubcommandGroup(false) === null && interaction.options.getSubcommand(false) === 'history') {
      // A page with buttons to page through, unlike the text answers of the other subcommands.
      const member = interaction.options.getUser('user', true);
      await answerEphemerally(interaction, historyView(interaction, ctx, member.id, 0));
      return;
    }
    await answerEphemerally(interaction, run({ interaction, ctx, guildId, locale, guildLocale: interaction.guildLocale }));
  },
};

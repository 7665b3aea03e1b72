import {
  ApplicationIntegrationType,
  ChannelType,
  InteractionContextType,
  MessageFlags,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type ChatInputCommandInteraction,
} from 'discord.js';
import type { AppContext } from '../src/context.js';
import type { Command } from '../src/discord/command.js';
import { displayText, NO_PINGS } from '../src/discord/messages.js';
import { fitMessage, renderSettings, renderUsage, renderUserUsage } from '../src/discord/usage-messages.js';
import { UserError } from '../src/errors.js';
import {
  allowChannel,
  allowEveryChannel,
  allowWord,
  banWord,
  blockUser,
  clearRole,
  disallowChannel,
  exemptRole,
  requireRole,
  roleAllowance,
  setAuditChannel,
  setLimits,
  unblockUser,
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
  .addSubcommand((sub) =>
    sub
      .setName('usage')
      .setDescription('Show the top users and the totals for today and this week')
      .addUserOption((o) => o.setName('user').setDescription('Show this member’s usage only')),
  )
  .addSubcommandGroup((group) =>
    group
      .setName('role')
      .setDescription('Give roles their own allowance, exempt them, or require one')
      .addSubcommand((sub) =>
        sub
          .setName('allowance')
          .setDescription('Give a role its own allowance (a member gets the most generous of their roles)')
          .addRoleOption((o) => o.setName('role').setDescription('The role').setRequired(true))
          .addIntegerOption((o) => o.setName('daily').setDescription('Videos per day (-1 = unlimited)').setMinValue(UNLIMITED).setMaxValue(100_000))
          .addIntegerOption((o) => o.setName('weekly').setDescription('Videos per week (-1 = unlimited)').setMinValue(UNLIMITED).setMaxValue(100_000)),
      )
      .addSubcommand((sub) =>
        sub
          .setName('exempt')
          .setDescription('Free a role from the per-user and server limits (or not)')
          .addRoleOption((o) => o.setName('role').setDescription('The role').setRequired(true))
          .addBooleanOption((o) => o.setName('exempt').setDescription('true to exempt, false to stop').setRequired(true)),
      )
      .addSubcommand((sub) =>
        sub
          .setName('clear')
          .setDescription('Remove every rule of a role')
          .addRoleOption((o) => o.setName('role').setDescription('The role').setRequired(true)),
      )
      .addSubcommand((sub) =>
        sub
          .setName('require')
          .setDescription('Only members with this role may use the bot (leave empty to allow everyone)')
          .addRoleOption((o) => o.setName('role').setDescription('The required role')),
      ),
  )
  .addSubcommandGroup((group) =>
    group
      .setName('user')
      .setDescription('Grant, reset, block or unblock one member')
      .addSubcommand((sub) =>
        sub
          .setName('grant')
          .setDescription('Give a member extra videos, used once their allowance runs out')
          .addUserOption((o) => o.setName('user').setDescription('The member').setRequired(true))
          .addIntegerOption((o) => o.setName('videos').setDescription('How many extra videos').setRequired(true).setMinValue(1).setMaxValue(1000)),
      )
      .addSubcommand((sub) =>
        sub
          .setName('reset')
          .setDescription('Forget a member’s use of today and this week, and their cooldown')
          .addUserOption((o) => o.setName('user').setDescription('The member').setRequired(true)),
      )
      .addSubcommand((sub) =>
        sub
          .setName('block')
          .setDescription('Stop a member from using the bot here')
          .addUserOption((o) => o.setName('user').setDescription('The member').setRequired(true))
          .addStringOption((o) => o.setName('reason').setDescription('Shown to the member when they try').setMaxLength(300)),
      )
      .addSubcommand((sub) =>
        sub
          .setName('unblock')
          .setDescription('Let a blocked member use the bot again')
          .addUserOption((o) => o.setName('user').setDescription('The member').setRequired(true)),
      ),
  )
  .addSubcommandGroup((group) =>
    group
      .setName('words')
      .setDescription('Words that may not appear in prompts')
      .addSubcommand((sub) =>
        sub
          .setName('add')
          .setDescription('Ban a word or phrase (whole words, any case)')
          .addStringOption((o) => o.setName('word').setDescription('The word or phrase').setRequired(true).setMaxLength(MAX_WORD_LENGTH)),
      )
      .addSubcommand((sub) =>
        sub
          .setName('remove')
          .setDescription('Allow a banned word again')
          .addStringOption((o) => o.setName('word').setDescription('The word or phrase').setRequired(true).setMaxLength(MAX_WORD_LENGTH)),
      )
      .addSubcommand((sub) => sub.setName('list').setDescription('List the banned words')),
  )
  .addSubcommandGroup((group) =>
    group
      .setName('channels')
      .setDescription('Where the bot may be used (everywhere until you add one)')
      .addSubcommand((sub) =>
        sub
          .setName('add')
          .setDescription('Allow the bot in a channel (and its threads)')
          .addChannelOption((o) => o.setName('channel').setDescription('The channel').setRequired(true).addChannelTypes(...TEXT_CHANNELS)),
      )
      .addSubcommand((sub) =>
        sub
          .setName('remove')
          .setDescription('Stop allowing the bot in a channel')
          .addChannelOption((o) => o.setName('channel').setDescription('The channel').setRequired(true).addChannelTypes(...TEXT_CHANNELS)),
      )
      .addSubcommand((sub) => sub.setName('clear').setDescription('Allow the bot in every channel again')),
  )
  .addSubcommand((sub) =>
    sub
      .setName('audit-log')
      .setDescription('Record every video and settings change in a channel (leave empty to stop)')
      .addChannelOption((o) => o.setName('channel').setDescription('The audit-log channel').addChannelTypes(ChannelType.GuildText)),
  );

/** Discord's default permission can be overridden per server, so it is checked again here. */
function requireModerator(interaction: ChatInputCommandInteraction, ctx: AppContext): string {
  if (!interaction.guildId) throw new UserError('This command works in servers only.');
  if (!ctx.usage.isOwner(interaction.user.id) && !interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
    throw new UserError('Only members with the **Manage Server** permission can change or view the Pika settings.');
  }
  return interaction.guildId;
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

async function userCommand(interaction: ChatInputCommandInteraction, ctx: AppContext, guildId: string, subcommand: string): Promise<string> {
  const user = interaction.options.getUser('user', true);
  const moderatorId = interaction.user.id;
  switch (subcommand) {
    case 'grant': {
      const videos = interaction.options.getInteger('videos', true);
      const total = await ctx.usage.grant(guildId, user.id, videos);
      await ctx.audit.change(guildId, moderatorId, `granted <@${user.id}> ${videos} extra video${videos === 1 ? '' : 's'}`);
      return `Done: <@${user.id}> now has ${total} extra video${total === 1 ? '' : 's'}.`;
    }
    case 'reset':
      await ctx.usage.resetUsage(guildId, user.id);
      await ctx.audit.change(guildId, moderatorId, `reset the usage of <@${user.id}>`);
      return `Done: <@${user.id}> starts today and this week afresh.`;
    case 'block':
      return ctx.editor.apply(guildId, moderatorId, blockUser(user.id, interaction.options.getString('reason')?.trim() || null, moderatorId, Date.now()));
    default:
      return ctx.editor.apply(guildId, moderatorId, unblockUser(user.id));
  }
}

async function listWords(ctx: AppContext, guildId: string): Promise<string> {
  const { bannedWords } = (await ctx.settings.get(guildId)).moderation;
  if (bannedWords.length === 0) return 'No words are banned.';
  return fitMessage(`**Banned words (${bannedWords.length})**\n${bannedWords.map((w) => `• ${displayText(w, MAX_WORD_LENGTH)}`).join('\n')}`);
}

function channelEdit(interaction: ChatInputCommandInteraction, subcommand: string): SettingsEdit {
  if (subcommand === 'clear') return allowEveryChannel();
  const channelId = interaction.options.getChannel('channel', true).id;
  return subcommand === 'add' ? allowChannel(channelId) : disallowChannel(channelId);
}

async function showSettings(ctx: AppContext, guildId: string): Promise<string> {
  return renderSettings(await ctx.settings.get(guildId), await ctx.usage.rulesFor(guildId), ctx.usage.globalDailyCap);
}

async function run(interaction: ChatInputCommandInteraction, ctx: AppContext, guildId: string): Promise<string> {
  const group = interaction.options.getSubcommandGroup(false);
  const subcommand = interaction.options.getSubcommand(false) ?? '';
  const apply = (edit: SettingsEdit) => ctx.editor.apply(guildId, interaction.user.id, edit);
  if (group === 'role') return apply(roleEdit(interaction, subcommand));
  if (group === 'user') return userCommand(interaction, ctx, guildId, subcommand);
  if (group === 'words') {
    if (subcommand === 'list') return listWords(ctx, guildId);
    const word = interaction.options.getString('word', true);
    return apply(subcommand === 'add' ? banWord(word) : allowWord(word));
  }
  if (group === 'channels') return apply(channelEdit(interaction, subcommand));
  switch (subcommand) {
    case 'limits': {
      const values = Object.fromEntries(Object.entries(LIMIT_OPTIONS).map(([option, field]) => [field, limitOption(interaction, option)]));
      const answer = await apply(setLimits(interaction.options.getBoolean('reset') ?? false, values));
      return fitMessage(`${answer}\n\n${await showSettings(ctx, guildId)}`);
    }
    case 'show':
      return showSettings(ctx, guildId);
    case 'usage': {
      const user = interaction.options.getUser('user');
      if (!user) return renderUsage(await ctx.usage.guildUsage(guildId));
      const { moderation } = await ctx.settings.get(guildId);
      return renderUserUsage(user.id, await ctx.usage.userUsage(guildId, user.id), Boolean(moderation.blocked[user.id]));
    }
    case 'audit-log': {
      const channelId = interaction.options.getChannel('channel')?.id ?? null;
      // Recorded before switching off, so the last entry says who switched it off.
      if (!channelId) await ctx.audit.change(guildId, interaction.user.id, 'turned the audit log off');
      return apply(setAuditChannel(channelId));
    }
    default:
      throw new UserError('I don’t know that subcommand. Try `/pika-admin show`.');
  }
}

export const pikaAdmin: Command = {
  data,
  async execute(interaction, ctx) {
    const guildId = requireModerator(interaction, ctx);
    const content = await run(interaction, ctx, guildId);
    await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: NO_PINGS });
  },
};

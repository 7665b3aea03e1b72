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
import { fitMessage, LIMIT_LABELS, renderSettings, renderUsage, renderUserUsage } from '../src/discord/usage-messages.js';
import { UserError } from '../src/errors.js';
import { normalizeBannedWord, sameBannedWord } from '../src/moderation/policy.js';
import type { GuildSettings, LimitField } from '../src/usage/guild-settings.js';
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
const MAX_BANNED_WORDS = 500;
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

/** One change to the settings: applied atomically, recorded in the audit log, answered. */
async function change(
  interaction: ChatInputCommandInteraction,
  ctx: AppContext,
  guildId: string,
  apply: (settings: GuildSettings) => string,
): Promise<string> {
  const { result: description } = await ctx.settings.update(guildId, apply);
  ctx.logger.info('settings changed', { guild: guildId, moderator: interaction.user.id, change: description });
  await ctx.audit.change(guildId, interaction.user.id, description);
  return `Done: ${description}.`;
}

const limitText = (value: number) => (value === UNLIMITED ? 'unlimited' : String(value));

function updateLimits(interaction: ChatInputCommandInteraction, settings: GuildSettings): string {
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
    changes.push(`${LIMIT_LABELS[field].toLowerCase()} set to ${limitText(value)}`);
  }
  if (changes.length === 0) {
    throw new UserError(`Nothing to change: give at least one of ${Object.keys(LIMIT_OPTIONS).map((o) => `\`${o}\``).join(', ')} or \`reset\`.`);
  }
  return changes.join('; ');
}

async function roleCommand(interaction: ChatInputCommandInteraction, ctx: AppContext, guildId: string, subcommand: string): Promise<string> {
  const role = interaction.options.getRole('role', subcommand !== 'require');
  return change(interaction, ctx, guildId, ({ moderation }) => {
    if (subcommand === 'require') {
      moderation.requiredRoleId = role?.id ?? null;
      return role ? `made <@&${role.id}> required to use the bot` : 'let everyone use the bot (no role required)';
    }
    const id = role!.id;
    if (subcommand === 'clear') {
      delete moderation.roles[id];
      return `removed the rules of <@&${id}>`;
    }
    const rule = (moderation.roles[id] ??= {});
    if (subcommand === 'exempt') {
      const exempt = interaction.options.getBoolean('exempt', true);
      if (exempt) rule.exempt = true;
      else delete rule.exempt;
      if (Object.keys(rule).length === 0) delete moderation.roles[id];
      return exempt ? `exempted <@&${id}> from the limits` : `stopped exempting <@&${id}>`;
    }
    const daily = interaction.options.getInteger('daily');
    const weekly = interaction.options.getInteger('weekly');
    if (daily === null && weekly === null) throw new UserError('Give `daily`, `weekly` or both.');
    if (daily !== null) rule.dailyLimit = daily === UNLIMITED ? null : daily;
    if (weekly !== null) rule.weeklyLimit = weekly === UNLIMITED ? null : weekly;
    return `gave <@&${id}> an allowance of ${[daily !== null ? `${limitText(daily)} per day` : '', weekly !== null ? `${limitText(weekly)} per week` : ''].filter(Boolean).join(' and ')}`;
  });
}

async function userCommand(interaction: ChatInputCommandInteraction, ctx: AppContext, guildId: string, subcommand: string): Promise<string> {
  const user = interaction.options.getUser('user', true);
  switch (subcommand) {
    case 'grant': {
      const videos = interaction.options.getInteger('videos', true);
      const total = await ctx.usage.grant(guildId, user.id, videos);
      await ctx.audit.change(guildId, interaction.user.id, `granted <@${user.id}> ${videos} extra video${videos === 1 ? '' : 's'}`);
      return `Done: <@${user.id}> now has ${total} extra video${total === 1 ? '' : 's'}.`;
    }
    case 'reset':
      await ctx.usage.resetUsage(guildId, user.id);
      await ctx.audit.change(guildId, interaction.user.id, `reset the usage of <@${user.id}>`);
      return `Done: <@${user.id}> starts today and this week afresh.`;
    case 'block': {
      const reason = interaction.options.getString('reason')?.trim() || null;
      return change(interaction, ctx, guildId, ({ moderation }) => {
        moderation.blocked[user.id] = { reason, by: interaction.user.id, at: Date.now() };
        return `blocked <@${user.id}>${reason ? ` (reason: ${displayText(reason, 300)})` : ''}`;
      });
    }
    default:
      return change(interaction, ctx, guildId, ({ moderation }) => {
        if (!moderation.blocked[user.id]) throw new UserError(`<@${user.id}> is not blocked.`);
        delete moderation.blocked[user.id];
        return `unblocked <@${user.id}>`;
      });
  }
}

async function wordsCommand(interaction: ChatInputCommandInteraction, ctx: AppContext, guildId: string, subcommand: string): Promise<string> {
  if (subcommand === 'list') {
    const { bannedWords } = (await ctx.settings.get(guildId)).moderation;
    return fitMessage(bannedWords.length ? `**Banned words (${bannedWords.length})**\n${bannedWords.map((w) => `• ${displayText(w, MAX_WORD_LENGTH)}`).join('\n')}` : 'No words are banned.');
  }
  const word = normalizeBannedWord(interaction.options.getString('word', true));
  if (!word) throw new UserError('That word is empty.');
  return change(interaction, ctx, guildId, ({ moderation }) => {
    const present = moderation.bannedWords.some((w) => sameBannedWord(w, word));
    if (subcommand === 'add') {
      if (present) throw new UserError('That word is already banned.');
      if (moderation.bannedWords.length >= MAX_BANNED_WORDS) throw new UserError(`A server can ban at most ${MAX_BANNED_WORDS} words.`);
      moderation.bannedWords.push(word);
      return 'banned a word in prompts';
    }
    if (!present) throw new UserError('That word is not on the list.');
    moderation.bannedWords = moderation.bannedWords.filter((w) => !sameBannedWord(w, word));
    return 'allowed a banned word again';
  });
}

async function channelsCommand(interaction: ChatInputCommandInteraction, ctx: AppContext, guildId: string, subcommand: string): Promise<string> {
  const channel = subcommand === 'clear' ? null : interaction.options.getChannel('channel', true);
  return change(interaction, ctx, guildId, ({ moderation }) => {
    if (!channel) {
      moderation.allowedChannelIds = [];
      return 'allowed the bot in every channel';
    }
    if (subcommand === 'add') {
      if (!moderation.allowedChannelIds.includes(channel.id)) moderation.allowedChannelIds.push(channel.id);
      return `allowed the bot in <#${channel.id}>`;
    }
    moderation.allowedChannelIds = moderation.allowedChannelIds.filter((id) => id !== channel.id);
    return `stopped allowing the bot in <#${channel.id}>${moderation.allowedChannelIds.length ? '' : ' (it may now be used in every channel)'}`;
  });
}

async function run(interaction: ChatInputCommandInteraction, ctx: AppContext, guildId: string): Promise<string> {
  const group = interaction.options.getSubcommandGroup(false);
  const subcommand = interaction.options.getSubcommand(false) ?? '';
  if (group === 'role') return roleCommand(interaction, ctx, guildId, subcommand);
  if (group === 'user') return userCommand(interaction, ctx, guildId, subcommand);
  if (group === 'words') return wordsCommand(interaction, ctx, guildId, subcommand);
  if (group === 'channels') return channelsCommand(interaction, ctx, guildId, subcommand);
  switch (subcommand) {
    case 'limits': {
      const answer = await change(interaction, ctx, guildId, (settings) => updateLimits(interaction, settings));
      const settings = await ctx.settings.get(guildId);
      return fitMessage(`${answer}\n\n${renderSettings(settings, await ctx.usage.rulesFor(guildId), ctx.usage.globalDailyCap)}`);
    }
    case 'show':
      return renderSettings(await ctx.settings.get(guildId), await ctx.usage.rulesFor(guildId), ctx.usage.globalDailyCap);
    case 'usage': {
      const user = interaction.options.getUser('user');
      if (!user) return renderUsage(await ctx.usage.guildUsage(guildId));
      const { moderation } = await ctx.settings.get(guildId);
      return renderUserUsage(user.id, await ctx.usage.userUsage(guildId, user.id), Boolean(moderation.blocked[user.id]));
    }
    case 'audit-log': {
      const channel = interaction.options.getChannel('channel');
      // Recorded before switching off, so the last entry says who switched it off.
      if (!channel) await ctx.audit.change(guildId, interaction.user.id, 'turned the audit log off');
      return change(interaction, ctx, guildId, ({ moderation }) => {
        moderation.auditChannelId = channel?.id ?? null;
        return channel ? `set the audit log to <#${channel.id}>` : 'turned the audit log off';
      });
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

import { ApplicationIntegrationType, InteractionContextType, PermissionFlagsBits, type BaseInteraction, type RepliableInteraction } from 'discord.js';
import { USER_INSTALL_SCOPE } from '../usage/guild-settings.js';
import type { Logger } from '../logger.js';
import type { Requester } from '../moderation/policy.js';
import { UserError } from '../errors.js';
import { messagesFor, resolveLocale } from '../i18n/index.js';
import { DEFAULT_ATTACHMENT_SIZE_LIMIT, type ReplyTarget } from './replies.js';

/**
 * Refuses the command when the bot lacks a permission it needs in this channel, naming what a
 * moderator must grant. Read from the interaction itself, so no request is needed.
 */
export function requireAppPermissions(
  interaction: RepliableInteraction,
  needed: ReadonlyArray<readonly [bigint, AppPermission]>,
): void {
  const missing = missingAppPermissions(interaction, needed);
  if (missing.length > 0) {
    throw new UserError(messagesFor(resolveLocale(interaction.locale)).pikaMissingPermissions({ permissions: missing }));
  }
}

/** The permissions a command may require of the bot, by PermissionFlagsBits name (the catalogs word them). */
export type AppPermission = 'EmbedLinks' | 'AttachFiles';

/** Names of the permissions in `needed` the bot lacks in this channel. */
export function missingAppPermissions<Name extends string>(interaction: RepliableInteraction, needed: ReadonlyArray<readonly [bigint, Name]>): Name[] {
  return needed.filter(([flag]) => !interaction.appPermissions.has(flag)).map(([, name]) => name);
}

/**
 * The task runs even where posting in the channel (needed once the interaction token expires or
 * the reply is deleted) would fail; the operator learns of it from the log.
 */
export function warnIfChannelFallbackWouldFail(interaction: RepliableInteraction, logger: Logger): void {
  if (!canPostInChannel(interaction)) return;
  const missing = missingAppPermissions(interaction, channelFallbackPermissions(interaction));
  if (missing.length > 0) {
    logger.warn('if this reply expires, posting the video in the channel instead would fail', { channel: interaction.channelId, missing });
  }
}

/** What posting the video in the channel needs, for when the interaction token has expired. */
function channelFallbackPermissions(interaction: RepliableInteraction): Array<readonly [bigint, string]> {
  return [
    [PermissionFlagsBits.ViewChannel, 'View Channel'],
    interaction.channel?.isThread()
      ? [PermissionFlagsBits.SendMessagesInThreads, 'Send Messages in Threads']
      : [PermissionFlagsBits.SendMessages, 'Send Messages'],
    [PermissionFlagsBits.ReadMessageHistory, 'Read Message History'],
  ];
}

/** Commands, buttons and modals always come from a channel (a DM is one); only pings have none. */
function channelIdOf(interaction: RepliableInteraction): string {
  if (!interaction.channelId) throw new Error(`interaction ${interaction.id} came from no channel`);
  return interaction.channelId;
}

export function replyTargetOf(interaction: RepliableInteraction): ReplyTarget {
  return {
    applicationId: interaction.applicationId,
    interactionToken: interaction.token,
    interactionId: interaction.id,
    channelId: channelIdOf(interaction),
    guildId: interaction.guildId,
    requesterId: interaction.user.id,
    attachmentSizeLimit: interaction.attachmentSizeLimit ?? DEFAULT_ATTACHMENT_SIZE_LIMIT,
    ...(canPostInChannel(interaction) ? {} : { channelFallback: false }),
  };
}

/**
 * Whose rules apply, from how the app was installed where the interaction happened:
 * - a server that installed the bot: that server (its moderators' rules, limits and audit log);
 * - anywhere else through the app a user installed to their own account (their DMs with the bot,
 *   private channels, servers without the bot): the user-install scope, per user, under the
 *   operator's USER_INSTALL_* limits and no server's rules;
 * - the bot's DMs through the server install alone: one shared scope, when ALLOW_DMS allows it.
 */
export function usageScopeOf(interaction: BaseInteraction, allowDms: boolean): string {
  if (interaction.guildId && installedInThisServer(interaction)) return interaction.guildId;
  if ((interaction.authorizingIntegrationOwners ?? {})[ApplicationIntegrationType.UserInstall] === interaction.user.id) return USER_INSTALL_SCOPE;
  if (!interaction.guildId && allowDms) return DIRECT_MESSAGES_SCOPE;
  throw new UserError(messagesFor(resolveLocale(interaction.locale)).pikaServersOnly);
}

/** The server the interaction comes from installed the bot. */
function installedInThisServer(interaction: BaseInteraction): boolean {
  return interaction.authorizingIntegrationOwners[ApplicationIntegrationType.GuildInstall] === interaction.guildId;
}

export const DIRECT_MESSAGES_SCOPE = 'dm';

/**
 * Where the bot itself may post: not in a private channel, nor in a server that did not install
 * it, nor in a DM reached only through a user's own install (nothing says the bot may message
 * that user). There, answers go through the interaction only.
 */
export function canPostInChannel(interaction: RepliableInteraction): boolean {
  if (interaction.context === InteractionContextType.PrivateChannel) return false;
  if (interaction.guildId) return installedInThisServer(interaction);
  return interaction.authorizingIntegrationOwners[ApplicationIntegrationType.GuildInstall] !== undefined;
}

/** The bot's moderators: the operator's owners, and members who may manage the server (the /pika-admin permission). */
export function isModerator(interaction: RepliableInteraction, isOwner: (userId: string) => boolean): boolean {
  return isOwner(interaction.user.id) || Boolean(interaction.guildId && interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild));
}

/** Who may remove or cancel others' videos here: the bot's moderators, and members who may manage messages. */
export function moderatesMessages(interaction: RepliableInteraction, isOwner: (userId: string) => boolean): boolean {
  return isModerator(interaction, isOwner) || Boolean(interaction.guildId && interaction.memberPermissions?.has(PermissionFlagsBits.ManageMessages));
}

/** Who runs the command and from where, as moderation rules see it. */
export function requesterOf(interaction: RepliableInteraction): Requester {
  const roles = interaction.member?.roles;
  const roleIds = Array.isArray(roles) ? roles : roles ? [...roles.cache.keys()] : [];
  const channel = interaction.channel;
  return {
    userId: interaction.user.id,
    roleIds,
    channelId: channelIdOf(interaction),
    parentChannelId: channel?.isThread() ? channel.parentId : null,
  };
}

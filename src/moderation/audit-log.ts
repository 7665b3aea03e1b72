import { Routes, type REST } from 'discord.js';
import { renderAuditChange, renderAuditDeletion, renderAuditGeneration } from '../discord/admin-messages.js';
import { NO_PINGS } from '../discord/messages.js';
import { resolveLocale } from '../i18n/index.js';
import type { Logger } from '../logger.js';
import type { GenerationKind } from '../pika/request.js';
import type { GuildSettingsStore } from '../usage/guild-settings.js';
import type { Change } from './settings-edits.js';

export interface GenerationEntry {
  guildId: string;
  userId: string;
  kind: GenerationKind;
  prompt: string;
  seed: number | undefined;
  messageUrl: string | undefined;
  /** The server's Discord locale (the job's `guildLocale`): the channel is worded in it. */
  guildLocale: string | null;
}

/**
 * Posts a line to a server's audit-log channel, when it has one, for each video made and each
 * moderator change, in the server's language (English when it has none we speak; the wording
 * lives in src/discord/admin-messages.ts). Never fails its caller: a missing channel or
 * permission is logged only.
 */
export class AuditLog {
  constructor(
    private readonly rest: REST,
    private readonly settings: GuildSettingsStore,
    private readonly logger: Logger,
  ) {}

  async generation(entry: GenerationEntry): Promise<void> {
    await this.post(entry.guildId, renderAuditGeneration(entry, resolveLocale(entry.guildLocale)));
  }

  /** A video's message removed by its 🗑 button: by its requester, or by a moderator. */
  async deletion(guildId: string, deletedBy: string, requesterId: string, jobId: string, guildLocale: string | null): Promise<void> {
    await this.post(guildId, renderAuditDeletion(deletedBy, requesterId, jobId, resolveLocale(guildLocale)));
  }

  async change(guildId: string, moderatorId: string, change: Change, guildLocale: string | null): Promise<void> {
    await this.post(guildId, renderAuditChange(moderatorId, change, resolveLocale(guildLocale)));
  }

  private async post(guildId: string, content: string): Promise<void> {
    try {
      const { auditChannelId } = (await this.settings.get(guildId)).moderation;
      if (!auditChannelId) return;
      await this.rest.post(Routes.channelMessages(auditChannelId), { body: { content, allowed_mentions: NO_PINGS } });
    } catch (error) {
      this.logger.warn('could not write to the audit log', { guild: guildId, error });
    }
  }
}

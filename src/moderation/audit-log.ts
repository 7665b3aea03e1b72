import { Routes, type REST } from 'discord.js';
import { displayText, NO_PINGS } from '../discord/messages.js';
import type { Logger } from '../logger.js';
import type { GuildSettingsStore } from '../usage/guild-settings.js';

export interface GenerationEntry {
  guildId: string;
  userId: string;
  command: string;
  prompt: string;
  seed: number | undefined;
  messageUrl: string | undefined;
}

/**
 * Posts a line to a server's audit-log channel, when it has one, for each video made and each
 * moderator change. Never fails its caller: a missing channel or permission is logged only.
 */
export class AuditLog {
  constructor(
    private readonly rest: REST,
    private readonly settings: GuildSettingsStore,
    private readonly logger: Logger,
  ) {}

  async generation(entry: GenerationEntry): Promise<void> {
    const lines = [
      `🎬 <@${entry.userId}> made a video with \`${entry.command}\``,
      `Prompt: ${displayText(entry.prompt, 1500) || '*(none)*'}`,
      `Seed: ${entry.seed ?? 'unknown'}`,
      ...(entry.messageUrl ? [`Message: ${entry.messageUrl}`] : []),
    ];
    await this.post(entry.guildId, lines.join('\n'));
  }

  async change(guildId: string, moderatorId: string, description: string): Promise<void> {
    await this.post(guildId, `🛠️ <@${moderatorId}> ${description}`);
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

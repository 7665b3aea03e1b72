import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { JobService } from './jobs/job-service.js';
import type { Admission } from './jobs/admission.js';
import type { CancelRelay } from './jobs/cancel-relay.js';
import type { AuditLog } from './moderation/audit-log.js';
import type { SettingsEditor } from './moderation/settings-edits.js';
import type { GuildSettingsStore } from './usage/guild-settings.js';
import type { UsageService } from './usage/usage-service.js';

/** Everything a command handler may use, built once at start-up and passed explicitly. */
export interface AppContext {
  config: Config;
  logger: Logger;
  jobs: JobService;
  /** ✖ Cancel of a job in this process or in whichever process carries it. */
  cancels: CancelRelay;
  admission: Admission;
  usage: UsageService;
  settings: GuildSettingsStore;
  audit: AuditLog;
  editor: SettingsEditor;
}

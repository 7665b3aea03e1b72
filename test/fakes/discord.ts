/**
 * A fake Discord for tests: the REST API (under /api/v10) and the gateway WebSocket served from one
 * local HTTP server, close enough to the real thing that an unmodified discord.js `Client` logs in
 * with `new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiUrl } })`.
 *
 * It enforces the Discord rules that real bots trip over (3 s to acknowledge an interaction, one
 * acknowledgement only, 15 min token lifetime, message size limits, upload limits, rate limits) and
 * records everything it sees, because the bot under test usually runs in another process and the
 * recorded state is the only thing a test can look at.
 *
 * Deliberate behaviours worth knowing (all modelled on Discord):
 * - Webhook routes of an interaction answer 404 Unknown Webhook until the interaction was
 *   acknowledged: Discord creates the interaction webhook with the first callback.
 * - The first follow-up after a deferred reply (callback 5) edits the loading @original instead of
 *   creating a new message, and keeps the deferral's ephemeral flag.
 * - Editing a message into an empty one (no content, embeds, components or attachments) is 50006.
 * - Uploaded file names have spaces replaced by underscores, like Discord does.
 * - Attachment URLs carry `?ex=..&is=..&hm=..&` like Discord CDN URLs (and answer 404 once `ex`, their
 *   signed expiry, has passed), so code that derives a file
 *   name or extension from the URL has to strip the query, as it must in production.
 * - For component interactions (`component()`), @original is the message carrying the component
 *   once callback 6/7 acknowledged it: callback 7 edits that message, and deleting @original through
 *   the interaction's token deletes it. A modal submitted from a component (`submitModal()`)
 *   carries that message too, and its callbacks 6/7 refer to it the same way.
 * - `DELETE /channels/:c/messages/:id` with the bot token deletes the bot's interaction responses
 *   and follow-ups as well as its channel messages (not ephemeral ones, which are not in the channel).
 * - Modals (callback 9) are validated like Discord validates them (title, custom ids, 1–5 action
 *   rows / labels / text displays, text input and select limits) and kept as `interaction.modal`,
 *   with Discord's numeric `id` filled in where the bot gave none. `submitModal()` refuses values
 *   a user could not have submitted through that modal.
 * - `notifications` records who gets pinged: only a new, non-ephemeral message (callback 4, a
 *   follow-up that creates a message, a channel message) notifies, and only the users its content
 *   mentions (`<@id>` / `<@!id>`) that its `allowed_mentions` allows (absent: all; `parse` with
 *   'users': all; otherwise the ids in `users`). Edits never notify, even when they add a mention:
 *   PATCH of @original or of a message, callback 7, and the first follow-up after a deferral,
 *   which fills the loading message instead of creating one.
 * - Sharding is Discord's. `GET /gateway/bot` recommends `recommendedShards` (default 1) with
 *   `max_concurrency` 16, so discord.js identifies all shards of a process at once. IDENTIFY may
 *   carry `shard: [id, count]` (absent: [0, 1]); anything else than integers with 0 <= id < count
 *   is closed with 4010. Every session lives on its own (seq, replay log, RESUME, heartbeats), and
 *   many may be connected at once, even two of one shard (a rolling deploy): both get its events.
 *   A dispatch goes to every session whose `[id, count]` has `shardFor(guild, count) === id`, the
 *   guild being `guild_id` (`id` for GUILD_CREATE/UPDATE/DELETE); DMs and interactions without a
 *   guild go to shard 0. READY lists, and the handshake's GUILD_CREATEs cover, only the guilds on
 *   the session's shard (the fake's guild is the one guild announced; `snowflakeOnShard()` makes
 *   a guild id for a given shard).
 * - Dispatches are not lost while no client is connected. A session that dropped keeps what it
 *   missed for its RESUME; a fresh IDENTIFY replaces the disconnected sessions of its own shard (they
 *   can no longer be resumed) and gets what they delivered to no socket, after its READY +
 *   GUILD_CREATE. Events for a shard no session has identified yet wait for that shard's next
 *   IDENTIFY. A client closing with 1000 or 1001 ends its session (Discord invalidates it); what it
 *   had not delivered waits likewise. An interaction's 3 s deadline starts when it is first written
 *   to a socket.
 * - Introspection: `gatewaySessions()` lists the sessions Discord keeps (`{ id, shard, connected }`,
 *   in identify order); `FakeInteraction.deliveries` lists every session (`{ sessionId, shard, at }`)
 *   an interaction reached. `disconnectGateway(code, shardId?)` closes all connected sessions, or
 *   those of one shard. However many sessions get an interaction, its first callback wins and any
 *   other gets 400 40060, even when they arrive together.
 * - Role (8), channel (7) and mentionable (9) options come with `data.resolved` like user and
 *   attachment options. A channel id the fake does not know becomes a text channel of the guild; a
 *   role id it does not know becomes a role of the guild (announced with GUILD_ROLE_CREATE), since
 *   Discord only lets users pick things that exist. `createRole()` adds a role deliberately.
 * - Every interaction carries `context` (0 guild, 1 bot DM, 2 private channel) and
 *   `authorizing_integration_owners`. By default the app runs through its server install: owners
 *   `{ "0": guild_id }`, or `{ "0": "0" }` in the bot's DM. `installation: 'user'` runs it through a
 *   user install (owners `{ "1": user_id }`): only global commands whose `integration_types` include 1
 *   and whose `contexts` include the place can be run that way (anything else throws: no user could).
 *   In a guild the bot is not in (`guildWithoutBotId` unless a test names one; `botInGuild: true` says
 *   otherwise) `app_permissions` are `EXTERNAL_APP_PERMISSIONS`, and in a private channel (group DM or
 *   DM between users) `PRIVATE_CHANNEL_APP_PERMISSIONS`; in both, the bot token gets 403 50001 Missing
 *   Access on the guild's and the channel's routes, and only the interaction callback and webhook
 *   work. `forceEphemeral` makes every new response message ephemeral, as Discord does for a
 *   user-installed app where the member may not use external apps publicly. Registration checks
 *   `integration_types` ⊆ {0, 1} and `contexts` ⊆ {0, 1, 2} (400 50035).
 * - Gateway close codes are Discord's: 4001 unknown opcode, 4002 undecodable payload, 4003 payload
 *   before IDENTIFY, 4004 wrong token, 4005 second IDENTIFY, 4010 invalid shard. Compression is
 *   never used (the client accepts plain text frames even when it asked for zlib-stream).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export interface FakeDiscordOptions {
  /** The bot must send `Authorization: Bot <botToken>` on authed routes and this token in IDENTIFY. */
  botToken: string;
  applicationId?: string;
  guildId?: string;
  channelId?: string;
  /** First callback later than this after dispatch → 404 10062. Default 3000. */
  interactionResponseDeadlineMs?: number;
  /** Webhook routes later than this after dispatch → 401 50027. Default 15 minutes. */
  interactionTokenLifetimeMs?: number;
  /** Default 41250, like Discord. */
  heartbeatIntervalMs?: number;
  /** How long an attachment link (its signed `ex`) stays valid; later it is 404. Default 24 h, like Discord's. */
  attachmentUrlLifetimeMs?: number;
  /** The shard count `GET /gateway/bot` recommends (what `shards: 'auto'` runs). Default 1. */
  recommendedShards?: number;
}

/** A gateway shard as IDENTIFY names it: `[shard_id, shard_count]`. */
export type GatewayShard = [shardId: number, shardCount: number];

/** A gateway session Discord keeps: identified, and resumable while disconnected. */
export interface GatewaySessionInfo {
  id: string;
  shard: GatewayShard;
  /** Whether a client holds its socket open right now. */
  connected: boolean;
}

/** One session an interaction (or any dispatch) was written to. */
export interface GatewayDelivery {
  sessionId: string;
  shard: GatewayShard;
  at: number;
}

export interface RecordedFile {
  field: string;
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface RecordedRequest {
  at: number;
  method: string;
  /** Path after /api/v10 (e.g. '/interactions/123/tok/callback'); the full path for non-API paths. */
  route: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** Parsed JSON body or parsed payload_json; undefined if none. */
  json: any;
  files: RecordedFile[];
  /** What the fake answered; 0 while the request is still being handled. */
  status: number;
}

export interface FakeAttachment {
  id: string;
  filename: string;
  size: number;
  content_type?: string;
  url: string;
  proxy_url: string;
  description?: string;
  title?: string;
  data: Buffer;
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  content: string;
  embeds: any[];
  components: any[];
  attachments: FakeAttachment[];
  flags: number;
  allowed_mentions?: any;
  message_reference?: any;
  nonce?: string;
  edits: number;
  deleted: boolean;
  /** Discord message type: 0 default, 19 reply, 20 chat-input command response. */
  type: number;
  createdAt: number;
  editedAt: number | null;
  webhookId?: string;
  interactionMetadata?: Record<string, unknown>;
}

export interface AttachmentInput {
  filename: string;
  data: Buffer;
  /** null = omit content_type, like Discord sometimes does; undefined = guess from the extension. */
  contentType?: string | null;
  /** Override the reported size (e.g. to pretend a file is huge without allocating it). */
  size?: number;
}

export interface InvocationOptions {
  userId?: string;
  username?: string;
  channelId?: string;
  /**
   * null → the DM with the bot (no guild_id, `user` instead of `member`): the same as
   * `context: 'bot_dm'`. Default: the fake's guild; for `installation: 'user'` without
   * `botInGuild`, `FakeDiscord.guildWithoutBotId`.
   */
  guildId?: string | null;
  /**
   * Through which installation the user runs the app (`authorizing_integration_owners`):
   * 'guild' (default), the app installed to the server (owners `{ "0": guild_id }`, or
   * `{ "0": "0" }` in the bot's DM); 'user', the app installed to the user's account (owners
   * `{ "1": user_id }`), which may only run global commands whose `integration_types` include 1.
   */
  installation?: 'guild' | 'user';
  /**
   * Where the interaction happens (payload `context`): 'guild' (0), 'bot_dm' (1, the DM with the
   * bot) or 'private_channel' (2, a group DM or a DM between two users, user installs only).
   * Default: 'guild', or 'bot_dm' when `guildId` is null.
   */
  context?: 'guild' | 'bot_dm' | 'private_channel';
  /**
   * For `installation: 'user'` in a guild: whether the bot is in that guild too (the app is then
   * also installed there, and owners carry `"0"`). Default false: a server without the bot, where
   * `app_permissions` are `EXTERNAL_APP_PERMISSIONS` and the bot's own REST routes for the guild
   * and its channels answer 403 50001; only the interaction's callback and webhook work.
   */
  botInGuild?: boolean;
  /** For `context: 'private_channel'`: a group DM (type 3, default) or a DM between two users (type 1). */
  privateChannelType?: 'group_dm' | 'dm';
  /**
   * Discord forces the responses of a user-installed app in a server without the bot to be
   * ephemeral where the member may not use external apps publicly: every callback 4/5 message
   * and every follow-up is then created ephemeral (and pings nobody), whatever the bot asked for.
   * Only valid with `installation: 'user'` in a guild without the bot.
   */
  forceEphemeral?: boolean;
  appPermissions?: bigint;
  memberPermissions?: bigint;
  attachmentSizeLimit?: number;
  /** The user's client language (default en-US). */
  locale?: string;
  /** The server's language, sent as `guild_locale` in servers (default en-US). */
  guildLocale?: string;
  /**
   * The member's role ids, sent in `member.roles` (guild interactions only; default none). Create
   * them with `FakeDiscord.createRole()` so the bot knows them, as it would on Discord.
   */
  roles?: readonly string[];
  /**
   * The interaction was made this long before it is dispatched (as if it had waited): its id's
   * timestamp is that much older, and its token expires that much sooner. The 3-second deadline
   * still counts from the dispatch.
   */
  createdAgoMs?: number;
}

export interface RoleInput {
  /** Default `role-<last 4 digits of the id>`. */
  name?: string;
  /** Default none (0). */
  permissions?: bigint;
}

export interface ChatInputOptions extends InvocationOptions {
  name: string;
  /** 'sub', or 'group sub' for a subcommand inside a subcommand group. */
  subcommand?: string;
  options?: Record<string, string | number | boolean>;
  attachments?: Record<string, AttachmentInput>;
}

export interface AutocompleteOptions extends InvocationOptions {
  name: string;
  subcommand?: string;
  options?: Record<string, string | number | boolean>;
  focused: string;
}

export interface ComponentOptions extends InvocationOptions {
  /** The message carrying the component (e.g. `interaction.original`). */
  message: FakeMessage;
  customId: string;
  /** 2 button (default), 3 string select, ... */
  componentType?: number;
  values?: string[];
}

export interface ModalSubmitOptions extends InvocationOptions {
  /**
   * What the user entered, by component custom_id: a string for a text input, the chosen option
   * values for a string select. Components not listed keep what the modal prefilled.
   */
  values?: Record<string, string | string[]>;
}

/** A user pinged by a new message (see the header comment for when Discord notifies). */
export interface FakeNotification {
  userId: string;
  messageId: string;
  channelId: string;
  at: number;
}

export interface FaultMatch {
  method?: string;
  route?: RegExp;
}

// ---------------------------------------------------------------------------------------------
// Discord constants (kept local rather than importing discord-api-types, which is not a direct
// dependency of the project)
// ---------------------------------------------------------------------------------------------

const API_PREFIX = '/api/v10';
const DISCORD_EPOCH = 1_420_070_400_000n;
const TEN_MIB = 10 * 1024 * 1024;
const NONCE_REUSE_WINDOW_MS = 5 * 60_000;
/** Discord's largest upload (500 MiB, for Nitro users) plus room for the rest of the form. */
const MAX_REQUEST_BODY_BYTES = 512 * 1024 * 1024;
const WS_OPEN = 1;

const MessageFlag = {
  SuppressEmbeds: 1 << 2,
  Ephemeral: 1 << 6,
  Loading: 1 << 7,
  SuppressNotifications: 1 << 12,
  IsVoiceMessage: 1 << 13,
  IsComponentsV2: 1 << 15,
} as const;

/** Flags a bot may set when creating a message (everything else is ignored by Discord). */
const CREATABLE_FLAGS =
  MessageFlag.SuppressEmbeds |
  MessageFlag.Ephemeral |
  MessageFlag.SuppressNotifications |
  MessageFlag.IsVoiceMessage |
  MessageFlag.IsComponentsV2;

const InteractionType = { ApplicationCommand: 2, MessageComponent: 3, Autocomplete: 4, ModalSubmit: 5 } as const;

const CallbackType = {
  ChannelMessage: 4,
  DeferredChannelMessage: 5,
  DeferredUpdate: 6,
  UpdateMessage: 7,
  AutocompleteResult: 8,
  Modal: 9,
  LaunchActivity: 12,
} as const;

/** Which callback types Discord accepts for each interaction type. */
const ALLOWED_CALLBACKS: Record<number, number[]> = {
  [InteractionType.ApplicationCommand]: [4, 5, 9, 12],
  [InteractionType.MessageComponent]: [4, 5, 6, 7, 9, 12],
  [InteractionType.Autocomplete]: [8],
  [InteractionType.ModalSubmit]: [4, 5, 6, 7],
};

const OptionType = {
  Subcommand: 1,
  SubcommandGroup: 2,
  String: 3,
  Integer: 4,
  Boolean: 5,
  User: 6,
  Channel: 7,
  Role: 8,
  Mentionable: 9,
  Number: 10,
  Attachment: 11,
} as const;

const GatewayOp = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  VoiceStateUpdate: 4,
  Resume: 6,
  RequestGuildMembers: 8,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
  RequestSoundboardSounds: 31,
} as const;

const GUILDS_INTENT = 1 << 0;

const Permission = {
  CreateInstantInvite: 1n << 0n,
  AddReactions: 1n << 6n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  MentionEveryone: 1n << 17n,
  UseExternalEmojis: 1n << 18n,
  ChangeNickname: 1n << 26n,
  UseApplicationCommands: 1n << 31n,
  CreatePublicThreads: 1n << 35n,
  UseExternalStickers: 1n << 37n,
  SendMessagesInThreads: 1n << 38n,
} as const;

/** What a bot invited with the usual text permissions has in a channel without overwrites. */
export const DEFAULT_APP_PERMISSIONS =
  Permission.ViewChannel |
  Permission.SendMessages |
  Permission.SendMessagesInThreads |
  Permission.EmbedLinks |
  Permission.AttachFiles |
  Permission.ReadMessageHistory |
  Permission.UseExternalEmojis |
  Permission.UseExternalStickers |
  Permission.AddReactions |
  Permission.UseApplicationCommands |
  Permission.CreatePublicThreads;

/**
 * `app_permissions` of a user-installed app in a server the bot is not in: it can only answer
 * through the interaction, with files, embeds, mentions and external emojis.
 */
export const EXTERNAL_APP_PERMISSIONS =
  Permission.AttachFiles | Permission.EmbedLinks | Permission.MentionEveryone | Permission.UseExternalEmojis;

/** `app_permissions` in a private channel (a group DM or a DM between two users), as Discord documents them. */
export const PRIVATE_CHANNEL_APP_PERMISSIONS = Permission.AttachFiles | Permission.EmbedLinks | Permission.MentionEveryone;

/** Payload `context` values (Discord's interaction context types). */
const InteractionContext = { guild: 0, bot_dm: 1, private_channel: 2 } as const;

/** A regular member without roles: @everyone's defaults (no moderation permissions). */
export const DEFAULT_MEMBER_PERMISSIONS =
  DEFAULT_APP_PERMISSIONS | Permission.CreateInstantInvite | Permission.ChangeNickname;

// ---------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------

let snowflakeIncrement = 0n;

/** A Discord-style snowflake, so discord.js derives sensible creation times from ids. */
export function snowflake(at = Date.now()): string {
  snowflakeIncrement = (snowflakeIncrement + 1n) % 4096n;
  return (((BigInt(at) - DISCORD_EPOCH) << 22n) | snowflakeIncrement).toString();
}

/**
 * The shard that receives a guild's events: `(guild_id >> 22) % shard_count`, as Discord routes
 * them; DMs (`null`) go to shard 0.
 */
export function shardFor(guildId: string | null, shardCount: number): number {
  if (!Number.isInteger(shardCount) || shardCount < 1) {
    throw new RangeError(`shardFor: shardCount must be a positive integer, got ${String(shardCount)}`);
  }
  if (guildId === null) return 0;
  if (!/^\d{1,20}$/.test(guildId)) throw new TypeError(`shardFor: "${guildId}" is not a snowflake`);
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

/**
 * A snowflake made in the last `shardCount` milliseconds whose guild's events go to `shardId`
 * (see `shardFor`): a guild id for a test that needs a guild on a given shard.
 */
export function snowflakeOnShard(shardId: number, shardCount: number): string {
  if (identifiedShard([shardId, shardCount]) === undefined) {
    throw new RangeError(`snowflakeOnShard: [${String(shardId)}, ${String(shardCount)}] is not a valid shard`);
  }
  const now = Date.now();
  const shardNow = Number((BigInt(now) - DISCORD_EPOCH) % BigInt(shardCount));
  return snowflake(now - ((shardNow - shardId + shardCount) % shardCount));
}

/** Interaction tokens look like base64url blobs of ~170 characters on Discord. */
function interactionToken(id: string): string {
  return 'aW50ZXJhY3Rpb246' + Buffer.from(`${id}:`).toString('base64url') + randomBytes(96).toString('base64url');
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

/** Discord counts message lengths in code points, not UTF-16 units. */
function textLength(value: unknown): number {
  return typeof value === 'string' ? [...value].length : 0;
}

function isPlainObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Discord replaces spaces in uploaded file names with underscores. */
function discordFilename(name: string): string {
  const cleaned = name.replace(/[\\/]/g, '').replace(/\s+/g, '_');
  return cleaned === '' ? 'unknown' : cleaned;
}

const CONTENT_TYPES_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mov: 'video/quicktime',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  txt: 'text/plain; charset=utf-8',
  json: 'application/json; charset=utf-8',
  pdf: 'application/pdf',
};

/** Discord reports a content type derived from the file, not what the uploader claimed. */
function contentTypeFor(filename: string, claimed?: string): string | undefined {
  const extension = filename.split('.').pop()?.toLowerCase() ?? '';
  const known = CONTENT_TYPES_BY_EXTENSION[extension];
  if (known) return known;
  if (claimed && claimed !== 'application/octet-stream') return claimed;
  return undefined;
}

/** Width/height for PNG and GIF, which Discord reports for images. */
function imageDimensions(data: Buffer): { width: number; height: number } | undefined {
  const isPng = data.length >= 24 && data.readUInt32BE(0) === 0x89504e47;
  if (isPng) return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  const isGif = data.length >= 10 && data.toString('latin1', 0, 4) === 'GIF8';
  if (isGif) return { width: data.readUInt16LE(6), height: data.readUInt16LE(8) };
  return undefined;
}

/**
 * Resolves when `isDone()` becomes true after some `notify()`, rejects on timeout. Used for
 * `FakeInteraction.waitFor`, `FakeDiscord.waitFor` and `whenReady`.
 */
class ChangeSignal {
  private readonly waiters = new Set<{ check: () => void; fail: (error: Error) => void }>();

  notify(): void {
    for (const waiter of [...this.waiters]) waiter.check();
  }

  wait(isDone: () => boolean, timeoutMs: number, describeTimeout: () => string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = {
        check: (): void => {
          let done: boolean;
          try {
            done = isDone();
          } catch (error) {
            settle();
            reject(error);
            return;
          }
          if (done) {
            settle();
            resolve();
          }
        },
        fail: (error: Error): void => {
          settle();
          reject(error);
        },
      };
      const timer = setTimeout(() => waiter.fail(new Error(describeTimeout())), timeoutMs);
      this.waiters.add(waiter);
      waiter.check();
    });
  }

  cancelAll(reason: string): void {
    for (const waiter of [...this.waiters]) waiter.fail(new Error(reason));
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP errors, as Discord phrases them
// ---------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  /** JSON-serialisable value, or a Buffer sent as-is; undefined = no body. */
  body?: unknown;
  headers?: Record<string, string>;
}

class DiscordHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: { message: string; code: number; errors?: unknown },
  ) {
    super(`${status} ${body.message}`);
  }

  toReply(): Reply {
    return { status: this.status, body: this.body };
  }
}

const fail = {
  unauthorized: () => new DiscordHttpError(401, { message: '401: Unauthorized', code: 0 }),
  notFound: () => new DiscordHttpError(404, { message: '404: Not Found', code: 0 }),
  methodNotAllowed: () => new DiscordHttpError(405, { message: '405: Method Not Allowed', code: 0 }),
  unknownChannel: () => new DiscordHttpError(404, { message: 'Unknown Channel', code: 10003 }),
  unknownMessage: () => new DiscordHttpError(404, { message: 'Unknown Message', code: 10008 }),
  unknownWebhook: () => new DiscordHttpError(404, { message: 'Unknown Webhook', code: 10015 }),
  unknownInteraction: () => new DiscordHttpError(404, { message: 'Unknown interaction', code: 10062 }),
  unknownCommand: () => new DiscordHttpError(404, { message: 'Unknown application command', code: 10063 }),
  missingAccess: () => new DiscordHttpError(403, { message: 'Missing Access', code: 50001 }),
  emptyMessage: () => new DiscordHttpError(400, { message: 'Cannot send an empty message', code: 50006 }),
  alreadyAcknowledged: () =>
    new DiscordHttpError(400, { message: 'Interaction has already been acknowledged.', code: 40060 }),
  invalidWebhookToken: () => new DiscordHttpError(401, { message: 'Invalid Webhook Token', code: 50027 }),
  tooLarge: () => new DiscordHttpError(413, { message: 'Request entity too large', code: 40005 }),
  invalidJson: () => new DiscordHttpError(400, { message: 'The request body contains invalid JSON.', code: 50109 }),
  invalidForm: (errors: unknown) => new DiscordHttpError(400, { message: 'Invalid Form Body', code: 50035, errors }),
};

type ErrorPath = Array<string | number>;

/** Collects validation errors into Discord's nested `{ a: { 0: { b: { _errors: [...] } } } }` shape. */
class FormErrors {
  private readonly tree: Record<string, any> = {};
  private count = 0;

  add(path: ErrorPath, code: string, message: string): void {
    let node = this.tree;
    for (const key of path) node = node[String(key)] ??= {};
    (node._errors ??= []).push({ code, message });
    this.count += 1;
  }

  maxLength(path: ErrorPath, value: unknown, max: number): void {
    if (textLength(value) > max) this.add(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
  }

  maxItems(path: ErrorPath, value: unknown, max: number): void {
    if (Array.isArray(value) && value.length > max) {
      this.add(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
    }
  }

  /** An optional integer: absent is fine, otherwise it must lie within [min, max]. */
  intRange(path: ErrorPath, value: unknown, min: number, max: number): void {
    if (value === undefined || value === null) return;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.add(path, 'NUMBER_TYPE_COERCE', `Value "${String(value)}" is not int.`);
    } else if (value < min) {
      this.add(path, 'NUMBER_TYPE_MIN', `int value should be greater than or equal to ${min}.`);
    } else if (value > max) {
      this.add(path, 'NUMBER_TYPE_MAX', `int value should be less than or equal to ${max}.`);
    }
  }

  required(path: ErrorPath, value: unknown): void {
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
      this.add(path, 'BASE_TYPE_REQUIRED', 'This field is required');
    }
  }

  throwIfAny(): void {
    if (this.count > 0) throw fail.invalidForm(this.tree);
  }
}

// ---------------------------------------------------------------------------------------------
// Message validation: Discord's limits, checked on every route that creates or edits a message
// ---------------------------------------------------------------------------------------------

function validateMessagePayload(
  body: Record<string, any>,
  errors: FormErrors,
  at: ErrorPath = [],
  existingFlags = 0,
): void {
  errors.maxLength([...at, 'content'], body.content, 2000);
  validateEmbeds(body.embeds, errors, at);
  validateComponents(body.components, Number(body.flags ?? 0) | existingFlags, errors, at);
  validateAllowedMentions(body.allowed_mentions, errors, at);
}

function validateEmbeds(embeds: unknown, errors: FormErrors, at: ErrorPath): void {
  if (!Array.isArray(embeds)) return;
  errors.maxItems([...at, 'embeds'], embeds, 10);
  const totalText = embeds.reduce<number>(
    (sum, embed, index) => sum + validateEmbed(embed, errors, [...at, 'embeds', index]),
    0,
  );
  if (totalText > 6000) {
    errors.add([...at, 'embeds'], 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000');
  }
}

/** Validates one embed and returns how many characters it counts towards the 6000 total. */
function validateEmbed(embed: any, errors: FormErrors, at: ErrorPath): number {
  if (!isPlainObject(embed)) return 0;
  errors.maxLength([...at, 'title'], embed.title, 256);
  errors.maxLength([...at, 'description'], embed.description, 4096);
  errors.maxLength([...at, 'footer', 'text'], embed.footer?.text, 2048);
  errors.maxLength([...at, 'author', 'name'], embed.author?.name, 256);
  if (typeof embed.color === 'number' && (embed.color < 0 || embed.color > 0xffffff)) {
    errors.add([...at, 'color'], 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 16777215.');
  }
  const fields: any[] = Array.isArray(embed.fields) ? embed.fields : [];
  errors.maxItems([...at, 'fields'], fields, 25);
  fields.forEach((field, index) => {
    errors.required([...at, 'fields', index, 'name'], field?.name);
    errors.required([...at, 'fields', index, 'value'], field?.value);
    errors.maxLength([...at, 'fields', index, 'name'], field?.name, 256);
    errors.maxLength([...at, 'fields', index, 'value'], field?.value, 1024);
  });
  return (
    textLength(embed.title) +
    textLength(embed.description) +
    textLength(embed.footer?.text) +
    textLength(embed.author?.name) +
    fields.reduce((sum, field) => sum + textLength(field?.name) + textLength(field?.value), 0)
  );
}

const SELECT_MENU_TYPES = new Set([3, 5, 6, 7, 8]);
const BUTTON_TYPE = 2;
const LINK_BUTTON_STYLE = 5;
const PREMIUM_BUTTON_STYLE = 6;

function validateComponents(components: unknown, flags: number, errors: FormErrors, at: ErrorPath): void {
  if (!Array.isArray(components)) return;
  // Components V2 messages have different layout rules; only the classic action-row rules are modelled.
  if (flags & MessageFlag.IsComponentsV2) return;
  errors.maxItems([...at, 'components'], components, 5);
  const seenCustomIds = new Set<string>();
  components.forEach((row, rowIndex) => {
    const rowPath = [...at, 'components', rowIndex];
    if (row?.type !== 1) {
      errors.add([...rowPath, 'type'], 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (1,).');
      return;
    }
    const children: any[] = Array.isArray(row.components) ? row.components : [];
    if (children.length === 0) {
      errors.add([...rowPath, 'components'], 'BASE_TYPE_MIN_LENGTH', 'Must be 1 or more in length.');
    }
    errors.maxItems([...rowPath, 'components'], children, 5);
    if (children.length > 1 && children.some((child) => SELECT_MENU_TYPES.has(child?.type))) {
      errors.add(
        [...rowPath, 'components'],
        'COMPONENT_LAYOUT_WIDTH_EXCEEDED',
        'The specified component exceeds the maximum width',
      );
    }
    children.forEach((child, index) =>
      validateComponent(child, errors, [...rowPath, 'components', index], seenCustomIds),
    );
  });
}

function validateComponent(component: any, errors: FormErrors, at: ErrorPath, seenCustomIds: Set<string>): void {
  if (!isPlainObject(component)) return;
  if (component.type === BUTTON_TYPE) {
    errors.maxLength([...at, 'label'], component.label, 80);
    if (component.style === LINK_BUTTON_STYLE) errors.required([...at, 'url'], component.url);
    else if (component.style !== PREMIUM_BUTTON_STYLE) errors.required([...at, 'custom_id'], component.custom_id);
  }
  if (typeof component.custom_id === 'string') {
    errors.maxLength([...at, 'custom_id'], component.custom_id, 100);
    if (seenCustomIds.has(component.custom_id)) {
      errors.add([...at, 'custom_id'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
    }
    seenCustomIds.add(component.custom_id);
  }
}

function validateAllowedMentions(allowedMentions: unknown, errors: FormErrors, at: ErrorPath): void {
  if (!isPlainObject(allowedMentions) || !Array.isArray(allowedMentions.parse)) return;
  for (const kind of ['users', 'roles']) {
    const explicit = allowedMentions[kind];
    if (allowedMentions.parse.includes(kind) && Array.isArray(explicit) && explicit.length > 0) {
      errors.add(
        [...at, 'allowed_mentions'],
        'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE',
        `parse:["${kind}"] and ${kind}: [ids...] are mutually exclusive.`,
      );
    }
  }
}

function validateAutocompleteChoices(data: any, errors: FormErrors): void {
  const choices: unknown = data?.choices;
  if (!Array.isArray(choices)) {
    errors.required(['data', 'choices'], choices);
    return;
  }
  errors.maxItems(['data', 'choices'], choices, 25);
  choices.forEach((choice, index) => {
    errors.required(['data', 'choices', index, 'name'], choice?.name);
    errors.maxLength(['data', 'choices', index, 'name'], choice?.name, 100);
    if (typeof choice?.value === 'string') errors.maxLength(['data', 'choices', index, 'value'], choice.value, 100);
  });
}

// ---------------------------------------------------------------------------------------------
// Modals (callback 9): Discord's layout and limits, and the ids it gives components
// ---------------------------------------------------------------------------------------------

const ComponentType = { ActionRow: 1, StringSelect: 3, TextInput: 4, TextDisplay: 10, Label: 18 } as const;
const TEXT_INPUT_MAX_LENGTH = 4000;

function validateModal(data: Record<string, any>, errors: FormErrors): void {
  errors.required(['data', 'custom_id'], data.custom_id);
  errors.maxLength(['data', 'custom_id'], data.custom_id, 100);
  errors.required(['data', 'title'], data.title);
  errors.maxLength(['data', 'title'], data.title, 45);
  const components: unknown[] = Array.isArray(data.components) ? data.components : [];
  if (components.length === 0) {
    errors.add(['data', 'components'], 'BASE_TYPE_MIN_LENGTH', 'Must be 1 or more in length.');
  }
  errors.maxItems(['data', 'components'], components, 5);
  const seenCustomIds = new Set<string>();
  components.forEach((entry, index) =>
    validateModalEntry(entry, errors, ['data', 'components', index], seenCustomIds),
  );
}

/** One top-level modal component: a (legacy) action row with one text input, a label, or a text display. */
function validateModalEntry(entry: any, errors: FormErrors, at: ErrorPath, seenCustomIds: Set<string>): void {
  switch (entry?.type) {
    case ComponentType.ActionRow: {
      const children: any[] = Array.isArray(entry.components) ? entry.components : [];
      if (children.length !== 1) errors.add([...at, 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 1 in length.');
      children.forEach((child, index) => {
        const path = [...at, 'components', index];
        if (child?.type !== ComponentType.TextInput) {
          errors.add([...path, 'type'], 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (4,).');
          return;
        }
        // Outside a label, the text input carries its own label.
        errors.required([...path, 'label'], child.label);
        errors.maxLength([...path, 'label'], child.label, 45);
        validateTextInput(child, errors, path, seenCustomIds);
      });
      return;
    }
    case ComponentType.Label: {
      errors.required([...at, 'label'], entry.label);
      errors.maxLength([...at, 'label'], entry.label, 45);
      errors.maxLength([...at, 'description'], entry.description, 100);
      const child = entry.component;
      const path = [...at, 'component'];
      if (child?.type === ComponentType.TextInput) {
        if (child.label != null) {
          errors.add([...path, 'label'], 'COMPONENT_LABEL_NOT_ALLOWED', 'A text input inside a label cannot have its own label');
        }
        validateTextInput(child, errors, path, seenCustomIds);
      } else if (child?.type === ComponentType.StringSelect) {
        validateModalStringSelect(child, errors, path, seenCustomIds);
      } else {
        errors.add([...path, 'type'], 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (3, 4).');
      }
      return;
    }
    case ComponentType.TextDisplay:
      errors.required([...at, 'content'], entry.content);
      errors.maxLength([...at, 'content'], entry.content, 4000);
      return;
    default:
      errors.add([...at, 'type'], 'UNION_TYPE_CHOICES', 'Value of field "type" must be one of (1, 10, 18).');
  }
}

function validateModalCustomId(customId: unknown, errors: FormErrors, at: ErrorPath, seenCustomIds: Set<string>): void {
  errors.required([...at, 'custom_id'], customId);
  errors.maxLength([...at, 'custom_id'], customId, 100);
  if (typeof customId !== 'string') return;
  if (seenCustomIds.has(customId)) {
    errors.add([...at, 'custom_id'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
  }
  seenCustomIds.add(customId);
}

function validateTextInput(input: any, errors: FormErrors, at: ErrorPath, seenCustomIds: Set<string>): void {
  validateModalCustomId(input.custom_id, errors, at, seenCustomIds);
  if (input.style !== 1 && input.style !== 2) errors.add([...at, 'style'], 'BASE_TYPE_CHOICES', 'Value must be one of (1, 2).');
  errors.intRange([...at, 'min_length'], input.min_length, 0, TEXT_INPUT_MAX_LENGTH);
  errors.intRange([...at, 'max_length'], input.max_length, 1, TEXT_INPUT_MAX_LENGTH);
  errors.maxLength([...at, 'value'], input.value, textInputMaxLength(input));
  errors.maxLength([...at, 'placeholder'], input.placeholder, 100);
}

function validateModalStringSelect(select: any, errors: FormErrors, at: ErrorPath, seenCustomIds: Set<string>): void {
  validateModalCustomId(select.custom_id, errors, at, seenCustomIds);
  const options: any[] = Array.isArray(select.options) ? select.options : [];
  if (options.length === 0) errors.add([...at, 'options'], 'BASE_TYPE_MIN_LENGTH', 'Must be 1 or more in length.');
  errors.maxItems([...at, 'options'], options, 25);
  options.forEach((option, index) => {
    const path = [...at, 'options', index];
    errors.required([...path, 'label'], option?.label);
    errors.maxLength([...path, 'label'], option?.label, 100);
    errors.required([...path, 'value'], option?.value);
    errors.maxLength([...path, 'value'], option?.value, 100);
    errors.maxLength([...path, 'description'], option?.description, 100);
  });
  errors.intRange([...at, 'min_values'], select.min_values, 0, 25);
  errors.intRange([...at, 'max_values'], select.max_values, 1, 25);
  const defaults = options.filter((option) => option?.default === true).length;
  if (defaults > selectMaxValues(select)) {
    errors.add([...at, 'options'], 'SELECT_COMPONENT_TOO_MANY_DEFAULT_VALUES', 'More options are marked default than max_values allows');
  }
  errors.maxLength([...at, 'placeholder'], select.placeholder, 150);
}

function textInputMaxLength(input: any): number {
  return typeof input.max_length === 'number' ? Math.min(input.max_length, TEXT_INPUT_MAX_LENGTH) : TEXT_INPUT_MAX_LENGTH;
}

function selectMaxValues(select: any): number {
  return typeof select.max_values === 'number' ? select.max_values : 1;
}

function selectMinValues(select: any): number {
  return typeof select.min_values === 'number' ? select.min_values : 1;
}

/**
 * A copy of modal components with an `id` on each: Discord numbers those without one 1, 2, … in
 * reading order, skipping ids the bot set itself, and reports them back in the submit.
 */
function numberComponents(components: any[]): any[] {
  const used = new Set<number>();
  const collect = (component: any): void => {
    if (typeof component?.id === 'number') used.add(component.id);
    if (Array.isArray(component?.components)) component.components.forEach(collect);
    if (isPlainObject(component?.component)) collect(component.component);
  };
  components.forEach(collect);
  let next = 1;
  const withId = (component: any): any => {
    let id = component.id;
    if (typeof id !== 'number') {
      while (used.has(next)) next += 1;
      id = next++;
    }
    return {
      ...component,
      id,
      ...(Array.isArray(component.components) ? { components: component.components.map(withId) } : {}),
      ...(isPlainObject(component.component) ? { component: withId(component.component) } : {}),
    };
  };
  return components.map(withId);
}

/** Files count towards Discord's upload limit as a whole; 413 is checked before anything else. */
function assertUploadFits(files: RecordedFile[], limitBytes: number): void {
  const total = files.reduce((sum, file) => sum + file.data.length, 0);
  if (total > limitBytes) throw fail.tooLarge();
}

function hasMessageContent(parts: {
  content: string;
  embeds: unknown[];
  components: unknown[];
  attachmentCount: number;
  extras?: boolean;
}): boolean {
  return (
    parts.content.trim() !== '' ||
    parts.embeds.length > 0 ||
    parts.components.length > 0 ||
    parts.attachmentCount > 0 ||
    Boolean(parts.extras)
  );
}

/** Validation shared by every route that creates a message: size, form limits, emptiness. */
function assertValidNewMessage(
  body: Record<string, any>,
  files: RecordedFile[],
  options: { at?: ErrorPath; uploadLimit: number; extraErrors?: (errors: FormErrors) => void },
): void {
  assertUploadFits(files, options.uploadLimit);
  const errors = new FormErrors();
  validateMessagePayload(body, errors, options.at);
  errors.maxItems([...(options.at ?? []), 'attachments'], files, 10);
  options.extraErrors?.(errors);
  errors.throwIfAny();
  const hasContent = hasMessageContent({
    content: typeof body.content === 'string' ? body.content : '',
    embeds: Array.isArray(body.embeds) ? body.embeds : [],
    components: Array.isArray(body.components) ? body.components : [],
    attachmentCount: files.length,
    extras: Boolean(body.poll) || (Array.isArray(body.sticker_ids) && body.sticker_ids.length > 0),
  });
  if (!hasContent) throw fail.emptyMessage();
}

function assertValidEdit(body: Record<string, any>, files: RecordedFile[], uploadLimit: number, existing?: FakeMessage): void {
  assertUploadFits(files, uploadLimit);
  const errors = new FormErrors();
  validateMessagePayload(body, errors, [], existing?.flags ?? 0);
  errors.maxItems(['attachments'], files, 10);
  errors.throwIfAny();
}

// ---------------------------------------------------------------------------------------------
// Application command validation (bulk overwrite / create), so broken command definitions fail
// in tests the way they fail at deploy time
// ---------------------------------------------------------------------------------------------

const CHAT_INPUT_NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

function validateCommandName(name: unknown, errors: FormErrors, at: ErrorPath, chatInput: boolean, field = 'name'): void {
  errors.required([...at, field], name);
  if (typeof name !== 'string') return;
  errors.maxLength([...at, field], name, 32);
  if (chatInput && (!CHAT_INPUT_NAME.test(name) || name !== name.toLowerCase())) {
    errors.add([...at, field], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
  }
}

/** The locales Discord accepts as keys of `name_localizations` / `description_localizations`. */
const DISCORD_LOCALES = new Set([
  'id', 'da', 'de', 'en-GB', 'en-US', 'es-ES', 'es-419', 'fr', 'hr', 'it', 'lt', 'hu', 'nl', 'no', 'pl', 'pt-BR', 'ro', 'fi',
  'sv-SE', 'vi', 'tr', 'cs', 'el', 'bg', 'ru', 'uk', 'hi', 'th', 'zh-CN', 'ja', 'zh-TW', 'ko',
]);

/**
 * A localization map (absent or null means none): known locale keys only, each value checked
 * like the field it translates (`check` gets the path of that value).
 */
function validateLocalizations(
  map: unknown,
  errors: FormErrors,
  at: ErrorPath,
  check: (value: unknown, path: ErrorPath) => void,
): void {
  if (map === undefined || map === null) return;
  if (!isPlainObject(map)) {
    errors.add(at, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
    return;
  }
  for (const [locale, value] of Object.entries(map)) {
    if (!DISCORD_LOCALES.has(locale)) {
      errors.add([...at, locale], 'BASE_TYPE_CHOICES', `Value must be one of ${[...DISCORD_LOCALES].join(', ')}.`);
    } else if (value !== null) {
      check(value, [...at, locale]);
    }
  }
}

/** The translations of a command's or option's name and description, checked by the same rules. */
function validateNameAndDescriptionLocalizations(item: any, errors: FormErrors, at: ErrorPath, chatInput: boolean): void {
  validateLocalizations(item?.name_localizations, errors, [...at, 'name_localizations'], (value, path) =>
    validateCommandName(value, errors, path.slice(0, -1), chatInput, String(path.at(-1))),
  );
  if (!chatInput) return;
  validateLocalizations(item?.description_localizations, errors, [...at, 'description_localizations'], (value, path) => {
    errors.required(path, value);
    errors.maxLength(path, value, 100);
  });
}

/** Choices: names 1–100 characters, in every language. */
function validateChoices(choices: unknown, errors: FormErrors, at: ErrorPath): void {
  if (!Array.isArray(choices)) return;
  choices.forEach((choice, index) => {
    const path = [...at, index];
    errors.required([...path, 'name'], choice?.name);
    errors.maxLength([...path, 'name'], choice?.name, 100);
    validateLocalizations(choice?.name_localizations, errors, [...path, 'name_localizations'], (value, valuePath) => {
      errors.required(valuePath, value);
      errors.maxLength(valuePath, value, 100);
    });
  });
}

function validateCommand(definition: any, errors: FormErrors, at: ErrorPath): void {
  if (!isPlainObject(definition)) {
    errors.add(at, 'MODEL_TYPE_CONVERT', 'Only dictionaries may be used in a ModelType');
    return;
  }
  const chatInput = (definition.type ?? 1) === 1;
  validateEnumList(definition.integration_types, [0, 1], errors, [...at, 'integration_types']);
  validateEnumList(definition.contexts, [0, 1, 2], errors, [...at, 'contexts']);
  validateCommandName(definition.name, errors, at, chatInput);
  validateNameAndDescriptionLocalizations(definition, errors, at, chatInput);
  if (chatInput) {
    errors.required([...at, 'description'], definition.description);
    errors.maxLength([...at, 'description'], definition.description, 100);
    validateCommandOptions(definition.options, errors, [...at, 'options']);
  }
}

/** `integration_types` / `contexts`: absent or null, or a list of the values Discord knows. */
function validateEnumList(list: unknown, allowed: readonly number[], errors: FormErrors, at: ErrorPath): void {
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) {
    errors.add(at, 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
    return;
  }
  list.forEach((value, index) => {
    if (!allowed.includes(value)) {
      errors.add([...at, index], 'BASE_TYPE_CHOICES', `Value must be one of {${allowed.join(', ')}}.`);
    }
  });
}

function validateCommandOptions(options: unknown, errors: FormErrors, at: ErrorPath): void {
  if (!Array.isArray(options)) return;
  errors.maxItems(at, options, 25);
  const names = new Set<string>();
  let sawOptional = false;
  const isSubcommandLike = (option: any): boolean =>
    option?.type === OptionType.Subcommand || option?.type === OptionType.SubcommandGroup;
  if (options.some(isSubcommandLike) && !options.every(isSubcommandLike)) {
    errors.add(
      at,
      'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID',
      'Sub-command and sub-command group option types are mutually exclusive to all other types',
    );
  }
  options.forEach((option, index) => {
    const path = [...at, index];
    validateCommandName(option?.name, errors, path, true);
    errors.required([...path, 'description'], option?.description);
    errors.maxLength([...path, 'description'], option?.description, 100);
    errors.maxItems([...path, 'choices'], option?.choices, 25);
    validateNameAndDescriptionLocalizations(option, errors, path, true);
    validateChoices(option?.choices, errors, [...path, 'choices']);
    if (typeof option?.name === 'string') {
      if (names.has(option.name)) {
        errors.add([...path, 'name'], 'APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS', 'Option names must be unique');
      }
      names.add(option.name);
    }
    if (option?.required) {
      if (sawOptional) {
        errors.add(
          path,
          'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID',
          'Required options must be placed before non-required options',
        );
      }
    } else {
      sawOptional = true;
    }
    if (isSubcommandLike(option)) validateCommandOptions(option.options, errors, [...path, 'options']);
  });
}

/**
 * A command as GET …/commands lists it: the full localization maps only with
 * `with_localizations=true`; otherwise `name_localized` / `description_localized` in the
 * `X-Discord-Locale` of the request, where there is one.
 */
function listedCommand(command: any, request: RecordedRequest): any {
  if (request.query.with_localizations === 'true') return command;
  const locale = request.headers['x-discord-locale'];
  const localize = (item: any): any => {
    if (!isPlainObject(item)) return item;
    const { name_localizations: names, description_localizations: descriptions, ...rest } = item;
    const localized: Record<string, any> = { ...rest };
    if (locale && names?.[locale]) localized.name_localized = names[locale];
    if (locale && descriptions?.[locale]) localized.description_localized = descriptions[locale];
    if (Array.isArray(item.options)) localized.options = item.options.map(localize);
    if (Array.isArray(item.choices)) localized.choices = item.choices.map(localize);
    return localized;
  };
  return localize(command);
}

// ---------------------------------------------------------------------------------------------
// Request body parsing
// ---------------------------------------------------------------------------------------------

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_REQUEST_BODY_BYTES) throw fail.tooLarge();
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw fail.invalidJson();
  }
}

async function parseBody(raw: Buffer, contentType: string | undefined): Promise<{ json: any; files: RecordedFile[] }> {
  if (raw.length === 0) return { json: undefined, files: [] };
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType === 'multipart/form-data' && contentType) return parseMultipart(raw, contentType);
  return { json: parseJsonText(raw.toString('utf8')), files: [] };
}

/** Uses the WHATWG multipart parser built into Node's fetch implementation. */
async function parseMultipart(raw: Buffer, contentType: string): Promise<{ json: any; files: RecordedFile[] }> {
  const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType } }).formData();
  let json: any;
  const plainFields: Record<string, string> = {};
  const files: RecordedFile[] = [];
  for (const [field, value] of form.entries()) {
    if (typeof value === 'string') {
      if (field === 'payload_json') json = parseJsonText(value);
      else plainFields[field] = value;
      continue;
    }
    files.push({
      field,
      filename: value.name,
      contentType: value.type,
      data: Buffer.from(await value.arrayBuffer()),
    });
  }
  // Discord also accepts plain form fields instead of payload_json.
  if (json === undefined && Object.keys(plainFields).length > 0) json = plainFields;
  return { json, files };
}

function flattenHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function writeReply(response: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  if (reply.body === undefined || reply.status === 204) {
    response.writeHead(reply.status, headers).end();
    return;
  }
  const payload = Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(JSON.stringify(reply.body));
  headers['content-type'] ??= 'application/json';
  headers['content-length'] = String(payload.length);
  response.writeHead(reply.status, headers).end(payload);
}

// ---------------------------------------------------------------------------------------------
// FakeInteraction: one dispatched interaction and everything the bot did with it
// ---------------------------------------------------------------------------------------------

export interface RecordedCallback {
  at: number;
  type: number;
  data: any;
  files: RecordedFile[];
}

export class FakeInteraction {
  /** Accepted callbacks only. */
  callbacks: RecordedCallback[] = [];
  /**
   * The @original message: created by callback 4/5; for component interactions, the message
   * carrying the component once callback 6/7 acknowledged it.
   */
  original?: FakeMessage;
  followups: FakeMessage[] = [];
  /**
   * The modal callback 9 opened: its `data` as Discord keeps it, with a numeric `id` on every
   * component (Discord's numbering where the bot gave none). `FakeDiscord.submitModal` fills it in.
   */
  modal?: any;

  /** @internal Set by `FakeDiscord.expireToken`. */
  tokenRevoked = false;
  /** @internal The message a component interaction (or a modal opened from one) was triggered from. */
  sourceMessage?: FakeMessage;
  /** @internal Who invoked it and where, so a modal submit defaults to the same user and place. */
  invocation: InvocationOptions = {};
  /** @internal For a modal submit: the interaction whose callback 9 opened the modal. */
  modalOpenedBy?: FakeInteraction;

  /**
   * Every gateway session the INTERACTION_CREATE reached, in order (one entry per session; a
   * replay on RESUME is not a new one): several when two sessions run the same shard.
   */
  readonly deliveries: GatewayDelivery[] = [];

  private readonly createdAt = Date.now();
  private readonly signal = new ChangeSignal();

  constructor(
    readonly id: string,
    readonly token: string,
    /** The INTERACTION_CREATE `d`. */
    readonly payload: any,
    private readonly relatedRequests: () => RecordedRequest[],
  ) {}

  /** When the INTERACTION_CREATE was first written to a socket (creation time while held). */
  get dispatchedAt(): number {
    return this.deliveries[0]?.at ?? this.createdAt;
  }

  get delivered(): boolean {
    return this.deliveries.length > 0;
  }

  get type(): number {
    return this.payload.type;
  }

  get acknowledged(): boolean {
    return this.callbacks.length > 0;
  }

  /**
   * Whether the first callback asked for an ephemeral response (a response Discord made ephemeral
   * with `forceEphemeral` has the flag in `original.flags`, not here).
   */
  get ephemeral(): boolean {
    return (Number(this.callbacks[0]?.data?.flags ?? 0) & MessageFlag.Ephemeral) !== 0;
  }

  get firstResponseAt(): number | undefined {
    return this.callbacks[0]?.at;
  }

  get attachmentSizeLimit(): number {
    return this.payload.attachment_size_limit ?? TEN_MIB;
  }

  /** Resolves when `predicate` holds (checked now and after every change). */
  waitFor(predicate: (interaction: FakeInteraction) => boolean, timeoutMs = 10_000): Promise<void> {
    return this.signal.wait(
      () => predicate(this),
      timeoutMs,
      () =>
        `Timed out after ${timeoutMs} ms waiting on interaction ${this.id} (${this.describeCommand()}). State:\n` +
        JSON.stringify(this.summary(), null, 2),
    );
  }

  /** A compact view of what happened, for assertion messages. */
  summary(): Record<string, unknown> {
    const relative = (at: number): string => `+${at - this.dispatchedAt}ms`;
    const describeMessage = (message: FakeMessage | undefined): unknown =>
      message && {
        id: message.id,
        content: message.content,
        flags: message.flags,
        embeds: message.embeds.length,
        components: message.components.length,
        attachments: message.attachments.map((attachment) => `${attachment.filename} (${attachment.size} B)`),
        edits: message.edits,
        deleted: message.deleted,
      };
    return {
      id: this.id,
      command: this.describeCommand(),
      deliveredTo: this.deliveries.map((delivery) => `shard ${delivery.shard.join('/')} (${relative(delivery.at)})`),
      tokenRevoked: this.tokenRevoked,
      callbacks: this.callbacks.map((callback) => ({
        type: callback.type,
        at: relative(callback.at),
        flags: callback.data?.flags,
        content: callback.data?.content,
        files: callback.files.map((file) => file.filename),
      })),
      original: describeMessage(this.original),
      followups: this.followups.map(describeMessage),
      requests: this.relatedRequests().map(
        (request) =>
          `${relative(request.at)} ${request.method} ${request.route.replace(this.token, ':token')} → ${request.status}`,
      ),
    };
  }

  /** @internal */
  recordDelivery(delivery: GatewayDelivery): void {
    this.deliveries.push(delivery);
    this.changed();
  }

  /** @internal Called by the fake after every change to this interaction. */
  changed(): void {
    this.signal.notify();
  }

  /** @internal */
  cancelWaits(reason: string): void {
    this.signal.cancelAll(reason);
  }

  private describeCommand(): string {
    const data = this.payload.data ?? {};
    if (data.name) return `/${data.name}`;
    if (data.custom_id) return `${this.type === InteractionType.ModalSubmit ? 'modal' : 'component'} ${data.custom_id}`;
    return `type ${this.type}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Gateway: HELLO / IDENTIFY / READY / RESUME over `ws`: sessions per shard, a replay log per session
// ---------------------------------------------------------------------------------------------

/** An event Discord dispatches, once, to every session of the shard it belongs to. */
interface GatewayEvent {
  t: string;
  d: unknown;
  /** The guild it concerns, which picks the shard; null (DMs, bot-wide events) means shard 0. */
  guildId: string | null;
  /** Creation order, so events held in several places are still delivered in order. */
  order: number;
  /**
   * READY, the GUILD_CREATEs of the handshake and RESUMED belong to their session alone; a
   * session taking over another's undelivered events must not get them.
   */
  sessionOnly: boolean;
  /** Whether it was written to any session's socket. */
  delivered: boolean;
  /** Called for every session it reaches, the first time it is written to that session's socket. */
  onDelivered?: (delivery: GatewayDelivery) => void;
}

interface DispatchRecord {
  s: number;
  event: GatewayEvent;
  /** Whether it was written to this session's socket (a replay on RESUME writes it again). */
  sent: boolean;
}

interface GatewaySession {
  id: string;
  shard: GatewayShard;
  seq: number;
  intents: number;
  log: DispatchRecord[];
  socket?: WebSocket;
}

interface GatewayConnection {
  socket: WebSocket;
  session?: GatewaySession;
}

interface GatewayHooks {
  botToken: string;
  heartbeatIntervalMs: number;
  /** The guilds the bot is in, announced at READY to the shards they are on. */
  guildIds(): string[];
  readyPayload(sessionId: string, shard: GatewayShard, guildIds: string[]): unknown;
  guildCreatePayload(guildId: string): unknown;
  /** Called after READY (+ GUILD_CREATE when the Guilds intent was requested) went out. */
  onReady(): void;
  onChange(): void;
}

const MAX_REPLAY_LOG = 1000;
/** Events whose payload names their guild `id` rather than `guild_id`. */
const GUILD_EVENTS_KEYED_BY_ID = new Set(['GUILD_CREATE', 'GUILD_UPDATE', 'GUILD_DELETE']);

/** The guild a dispatch concerns, which decides the shard it goes to (null: none, shard 0). */
function guildOfDispatch(t: string, d: unknown): string | null {
  if (!isPlainObject(d)) return null;
  if (typeof d.guild_id === 'string') return d.guild_id;
  if (GUILD_EVENTS_KEYED_BY_ID.has(t) && typeof d.id === 'string') return d.id;
  return null;
}

/** IDENTIFY's `shard`, absent meaning [0, 1]; undefined when Discord would close with 4010. */
function identifiedShard(shard: unknown): GatewayShard | undefined {
  if (shard === undefined) return [0, 1];
  if (!Array.isArray(shard) || shard.length !== 2) return undefined;
  const [id, count] = shard;
  if (!Number.isInteger(id) || !Number.isInteger(count)) return undefined;
  if (count < 1 || id < 0 || id >= count) return undefined;
  return [id, count];
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function isOnShard(guildId: string | null, [id, count]: GatewayShard): boolean {
  return shardFor(guildId, count) === id;
}

function sameShard(a: GatewayShard, b: GatewayShard): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

class FakeGateway {
  identifies = 0;
  resumes = 0;
  readyCount = 0;
  /** Sessions Discord keeps: identified and still resumable, connected or not. */
  private readonly sessions = new Map<string, GatewaySession>();
  /** Events no session of their shard could take yet: delivered after that shard's next IDENTIFY. */
  private held: GatewayEvent[] = [];
  private readonly sockets = new Set<WebSocket>();
  /** Sockets the fake closed itself, so their close code is not mistaken for the client's. */
  private readonly closedByFake = new WeakSet<WebSocket>();
  private eventCount = 0;

  constructor(private readonly hooks: GatewayHooks) {}

  get connected(): boolean {
    return [...this.sessions.values()].some(isConnected);
  }

  sessionsInfo(): GatewaySessionInfo[] {
    return [...this.sessions.values()].map((session) => ({
      id: session.id,
      shard: [...session.shard],
      connected: isConnected(session),
    }));
  }

  accept(socket: WebSocket): void {
    this.sockets.add(socket);
    const connection: GatewayConnection = { socket };
    socket.on('message', (raw) => this.onMessage(connection, raw));
    socket.on('close', (code) => this.onClose(connection, code));
    // A client vanishing mid-frame must not crash the test process.
    socket.on('error', () => undefined);
    this.send(socket, { op: GatewayOp.Hello, d: { heartbeat_interval: this.hooks.heartbeatIntervalMs } });
  }

  /**
   * Sends a dispatch to every session of the shard its guild is on, or holds it until a session of
   * that shard identifies.
   */
  dispatch(t: string, d: unknown, onDelivered?: (delivery: GatewayDelivery) => void): void {
    const event = this.newEvent(t, d, { sessionOnly: false, onDelivered });
    const recipients = [...this.sessions.values()].filter((session) => isOnShard(event.guildId, session.shard));
    if (recipients.length === 0) this.held.push(event);
    // Discord's sessions are independent connections: which of two sessions of a shard hears an
    // event first varies, so the order is shuffled rather than always the one that identified first.
    for (const session of shuffled(recipients)) this.sendDispatch(session, event);
  }

  /** Closes the socket of every connected session, or of those of shard `shardId`. */
  disconnect(closeCode: number, shardId?: number): void {
    const targets = [...this.sessions.values()].filter(
      (session) => isConnected(session) && (shardId === undefined || session.shard[0] === shardId),
    );
    if (targets.length === 0) {
      const where = shardId === undefined ? '' : ` on shard ${shardId}`;
      throw new Error(`FakeDiscord.disconnectGateway: no client is connected to the gateway${where}`);
    }
    for (const session of targets) this.close(session.socket!, closeCode, 'Disconnected by test');
  }

  closeAll(): void {
    for (const socket of this.sockets) socket.terminate();
    this.sockets.clear();
  }

  private onMessage(connection: GatewayConnection, raw: RawData): void {
    const text = rawDataToText(raw);
    let payload: any;
    try {
      payload = JSON.parse(text);
    } catch {
      this.close(connection.socket, 4002, 'Error while decoding payload.');
      return;
    }
    if (!isPlainObject(payload) || typeof payload.op !== 'number') {
      this.close(connection.socket, 4002, 'Error while decoding payload.');
      return;
    }
    switch (payload.op) {
      case GatewayOp.Heartbeat:
        this.send(connection.socket, { op: GatewayOp.HeartbeatAck });
        return;
      case GatewayOp.Identify:
        this.identify(connection, payload.d);
        return;
      case GatewayOp.Resume:
        this.resume(connection, payload.d);
        return;
      case GatewayOp.PresenceUpdate:
      case GatewayOp.VoiceStateUpdate:
      case GatewayOp.RequestGuildMembers:
      case GatewayOp.RequestSoundboardSounds:
        // Accepted and ignored, but only after authentication, as on Discord.
        if (!connection.session) this.close(connection.socket, 4003, 'Not authenticated.');
        return;
      default:
        // Discord uses 4001 for an unknown opcode (4002 is for undecodable payloads).
        this.close(connection.socket, 4001, 'Unknown opcode.');
    }
  }

  private onClose(connection: GatewayConnection, code: number): void {
    this.sockets.delete(connection.socket);
    const session = connection.session;
    if (session?.socket === connection.socket) {
      session.socket = undefined;
      // Discord invalidates a session whose client closes with 1000 or 1001: it cannot be resumed.
      const closedByClient = !this.closedByFake.has(connection.socket);
      if (closedByClient && (code === 1000 || code === 1001)) this.endSession(session);
    }
    this.hooks.onChange();
  }

  private identify(connection: GatewayConnection, d: any): void {
    if (connection.session) return this.close(connection.socket, 4005, 'Already authenticated.');
    if (d?.token !== this.hooks.botToken) return this.close(connection.socket, 4004, 'Authentication failed.');
    if (typeof d.intents !== 'number') return this.close(connection.socket, 4013, 'Invalid intent(s).');
    const shard = identifiedShard(d.shard);
    if (!shard) return this.close(connection.socket, 4010, 'Invalid shard.');
    this.identifies += 1;

    const inherited = this.takeOverStaleSessions(shard);
    const session: GatewaySession = { id: randomBytes(16).toString('hex'), shard, seq: 0, intents: d.intents, log: [] };
    this.sessions.set(session.id, session);
    this.attach(connection, session);

    const guildIds = this.hooks.guildIds().filter((guildId) => isOnShard(guildId, shard));
    this.sendOwnDispatch(session, 'READY', this.hooks.readyPayload(session.id, shard, guildIds));
    if (session.intents & GUILDS_INTENT) {
      for (const guildId of guildIds) this.sendOwnDispatch(session, 'GUILD_CREATE', this.hooks.guildCreatePayload(guildId));
    }
    this.readyCount += 1;
    this.hooks.onReady();

    const heldForShard = this.held.filter((event) => isOnShard(event.guildId, shard));
    this.held = this.held.filter((event) => !heldForShard.includes(event));
    const queued = [...new Set([...inherited, ...heldForShard])]
      .filter((event) => !event.delivered)
      .sort((a, b) => a.order - b.order);
    for (const event of queued) this.sendDispatch(session, event);
  }

  /**
   * A fresh IDENTIFY replaces the disconnected sessions of the same shard: they can no longer be
   * resumed, and what they could not deliver (to this or any other session) moves to the new one.
   * Connected sessions of that shard stay, as on Discord during a rolling deploy.
   */
  private takeOverStaleSessions(shard: GatewayShard): GatewayEvent[] {
    const stale = [...this.sessions.values()].filter((session) => sameShard(session.shard, shard) && !isConnected(session));
    for (const session of stale) this.sessions.delete(session.id);
    return stale.flatMap((session) => session.log.map((record) => record.event).filter((event) => !event.sessionOnly));
  }

  /** Ends a session; its undelivered events wait for the next IDENTIFY of their shard. */
  private endSession(session: GatewaySession): void {
    this.sessions.delete(session.id);
    for (const { event } of session.log) {
      if (!event.sessionOnly && !event.delivered && !this.held.includes(event)) this.held.push(event);
    }
  }

  private resume(connection: GatewayConnection, d: any): void {
    if (connection.session) return this.close(connection.socket, 4005, 'Already authenticated.');
    if (d?.token !== this.hooks.botToken) return this.close(connection.socket, 4004, 'Authentication failed.');
    const session = this.sessions.get(String(d?.session_id));
    if (!session) {
      this.send(connection.socket, { op: GatewayOp.InvalidSession, d: false });
      return;
    }
    if (session.socket && session.socket !== connection.socket) this.close(session.socket, 4000, 'Session resumed elsewhere');
    this.attach(connection, session);
    this.resumes += 1;
    const lastSeen = typeof d.seq === 'number' ? d.seq : 0;
    for (const record of session.log) if (record.s > lastSeen) this.deliver(session, record);
    this.sendOwnDispatch(session, 'RESUMED', { _trace: ['fake-discord'] });
    this.hooks.onChange();
  }

  private attach(connection: GatewayConnection, session: GatewaySession): void {
    connection.session = session;
    session.socket = connection.socket;
  }

  private newEvent(
    t: string,
    d: unknown,
    options: { sessionOnly: boolean; onDelivered?: (delivery: GatewayDelivery) => void },
  ): GatewayEvent {
    this.eventCount += 1;
    return { t, d, guildId: guildOfDispatch(t, d), order: this.eventCount, delivered: false, ...options };
  }

  /** A dispatch for this session alone (READY, the handshake's GUILD_CREATEs, RESUMED). */
  private sendOwnDispatch(session: GatewaySession, t: string, d: unknown): void {
    this.sendDispatch(session, this.newEvent(t, d, { sessionOnly: true }));
  }

  private sendDispatch(session: GatewaySession, event: GatewayEvent): void {
    session.seq += 1;
    const record: DispatchRecord = { s: session.seq, event, sent: false };
    session.log.push(record);
    if (session.log.length > MAX_REPLAY_LOG) session.log.shift();
    if (isConnected(session)) this.deliver(session, record);
  }

  private deliver(session: GatewaySession, record: DispatchRecord): void {
    const { event } = record;
    session.socket!.send(JSON.stringify({ op: GatewayOp.Dispatch, t: event.t, s: record.s, d: event.d }));
    if (record.sent) return;
    record.sent = true;
    event.delivered = true;
    event.onDelivered?.({ sessionId: session.id, shard: [...session.shard], at: Date.now() });
  }

  private send(socket: WebSocket, payload: { op: number; d?: unknown }): void {
    if (socket.readyState !== WS_OPEN) return;
    socket.send(JSON.stringify({ op: payload.op, d: payload.d ?? null, s: null, t: null }));
  }

  private close(socket: WebSocket, code: number, reason: string): void {
    this.closedByFake.add(socket);
    socket.close(code, reason);
  }
}

function isConnected(session: GatewaySession): boolean {
  return session.socket?.readyState === WS_OPEN;
}

function rawDataToText(raw: RawData): string {
  if (Buffer.isBuffer(raw)) return raw.toString('utf8');
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  return Buffer.from(raw).toString('utf8');
}

// ---------------------------------------------------------------------------------------------
// REST routing
// ---------------------------------------------------------------------------------------------

interface RouteContext {
  request: RecordedRequest;
  params: Record<string, string>;
  body: Record<string, any>;
  files: RecordedFile[];
}

type RouteHandler = (context: RouteContext) => Reply | Promise<Reply>;

interface Route {
  method: string;
  segments: string[];
  auth: boolean;
  handle: RouteHandler;
}

function matchSegments(templateSegments: string[], pathSegments: string[]): Record<string, string> | undefined {
  if (templateSegments.length !== pathSegments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, template] of templateSegments.entries()) {
    const actual = pathSegments[index] ?? '';
    if (template.startsWith(':')) {
      if (actual === '') return undefined;
      params[template.slice(1)] = actual;
    } else if (template !== actual) {
      return undefined;
    }
  }
  return params;
}

function decodePath(path: string): string {
  return path
    .split('/')
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .join('/');
}

/** Segments of an already decoded path. */
function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '');
}

interface Fault {
  match: FaultMatch;
  remaining: number;
  reply: (request: RecordedRequest) => Reply;
}

/** An invocation's place and installation, defaults filled in (see `FakeDiscord.resolvePlace`). */
interface Place {
  installation: 'guild' | 'user';
  context: 'guild' | 'bot_dm' | 'private_channel';
  /** null in DMs and private channels. */
  guildId: string | null;
  /** undefined only for the bot's DM when the test named none (one DM channel per user). */
  channelId: string | undefined;
  /** Whether the bot is in `guildId` (false outside guilds). */
  botInGuild: boolean;
  forceEphemeral: boolean;
}

interface StoredFile {
  id: string;
  filename: string;
  data: Buffer;
  contentType?: string;
}

// ---------------------------------------------------------------------------------------------
// FakeDiscord
// ---------------------------------------------------------------------------------------------

export class FakeDiscord {
  readonly apiUrl: string;
  readonly gatewayUrl: string;
  readonly applicationId: string;
  readonly guildId: string;
  readonly channelId: string;
  readonly botUserId: string;
  /**
   * A server the bot is not in: where `installation: 'user'` interactions happen unless a test
   * names another guild (or says `botInGuild: true`). Its text channel is `channelWithoutBotId`.
   */
  readonly guildWithoutBotId = snowflake();
  readonly channelWithoutBotId = snowflake();
  /** The user invoking interactions unless a test says otherwise. */
  readonly defaultUserId = snowflake();
  readonly requests: RecordedRequest[] = [];
  /** Messages created via POST /channels/:id/messages. */
  readonly channelMessages: FakeMessage[] = [];
  /** Every user pinged by a new message, in order (see the header comment for the rule). */
  readonly notifications: FakeNotification[] = [];
  interactions: FakeInteraction[] = [];

  private readonly botToken: string;
  private readonly deadlineMs: number;
  private readonly tokenLifetimeMs: number;
  private readonly attachmentUrlLifetimeMs: number;
  private readonly recommendedShards: number;
  private readonly baseUrl: string;
  private readonly ownerUserId = snowflake();
  private readonly botRoleId = snowflake();
  private readonly joinedAt = iso(Date.now());
  private readonly routes: Route[] = [];
  private readonly faults: Fault[] = [];
  private readonly commands = new Map<string, any[]>();
  private readonly interactionsById = new Map<string, FakeInteraction>();
  private readonly interactionsByToken = new Map<string, FakeInteraction>();
  private readonly storedFiles = new Map<string, StoredFile>();
  /** Channels that exist: the guild's text channel, plus any channel or DM an interaction came from or named. */
  private readonly channels = new Map<string, Record<string, any>>();
  /** Roles made by `createRole()` (or picked in a role option), besides @everyone and the bot's role. */
  private readonly guildRoles = new Map<string, { id: string; name: string; position: number; permissions: bigint }>();
  /** Guilds interactions said the bot is in (the fake's guild, and any a server install was used in). */
  private readonly guildsWithBot = new Set<string>();
  /** Guilds user installs said the bot is not in: their routes and channels are 403 50001 for the bot. */
  private readonly guildsWithoutBot = new Map<string, { defaultChannelId: string }>();
  /** Group DMs and DMs between users the app was used in: the bot token cannot reach them (403 50001). */
  private readonly privateChannelIds = new Set<string>();
  private readonly gateway: FakeGateway;
  private readonly signal = new ChangeSignal();
  private closed = false;

  private constructor(
    options: FakeDiscordOptions,
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    port: number,
  ) {
    this.botToken = options.botToken;
    this.applicationId = options.applicationId ?? snowflake();
    this.guildId = options.guildId ?? snowflake();
    this.channelId = options.channelId ?? snowflake();
    this.botUserId = snowflake();
    this.deadlineMs = options.interactionResponseDeadlineMs ?? 3000;
    this.tokenLifetimeMs = options.interactionTokenLifetimeMs ?? 15 * 60_000;
    this.attachmentUrlLifetimeMs = options.attachmentUrlLifetimeMs ?? 24 * 3_600_000;
    this.recommendedShards = options.recommendedShards ?? 1;
    if (!Number.isInteger(this.recommendedShards) || this.recommendedShards < 1) {
      throw new RangeError(`FakeDiscord: recommendedShards must be a positive integer, got ${String(options.recommendedShards)}`);
    }
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.apiUrl = `${this.baseUrl}/api`;
    this.gatewayUrl = `ws://127.0.0.1:${port}`;
    this.gateway = new FakeGateway({
      botToken: options.botToken,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250,
      // The fake's guild is the one guild announced at READY; others are known from interactions only.
      guildIds: () => [this.guildId],
      readyPayload: (sessionId, shard, guildIds) => this.readyPayload(sessionId, shard, guildIds),
      guildCreatePayload: () => this.guildCreatePayload(),
      onReady: () => this.signal.notify(),
      onChange: () => this.signal.notify(),
    });
    this.channels.set(this.channelId, this.textChannelJson(this.channelId, this.guildId));
    this.guildsWithBot.add(this.guildId);
    this.guildsWithoutBot.set(this.guildWithoutBotId, { defaultChannelId: this.channelWithoutBotId });
    this.channels.set(this.channelWithoutBotId, this.textChannelJson(this.channelWithoutBotId, this.guildWithoutBotId));
    this.registerRoutes();
  }

  static async start(options: FakeDiscordOptions): Promise<FakeDiscord> {
    const server = createServer();
    const wss = new WebSocketServer({ server });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const fake = new FakeDiscord(options, server, wss, port);
    server.on('request', (request, response) => void fake.handleHttp(request, response));
    wss.on('connection', (socket) => fake.gateway.accept(socket));
    return fake;
  }

  // --- counters and waiting -------------------------------------------------------------------

  get identifies(): number {
    return this.gateway.identifies;
  }

  get resumes(): number {
    return this.gateway.resumes;
  }

  /** Whether any client currently holds an open, authenticated gateway connection. */
  get gatewayConnected(): boolean {
    return this.gateway.connected;
  }

  /** The gateway sessions Discord keeps, in the order they identified (see the header comment). */
  gatewaySessions(): GatewaySessionInfo[] {
    return this.gateway.sessionsInfo();
  }

  /** Resolves once a client identified and READY (+ GUILD_CREATE) were sent. */
  whenReady(timeoutMs = 10_000): Promise<void> {
    return this.signal.wait(
      () => this.gateway.readyCount > 0,
      timeoutMs,
      () =>
        `No client identified with the fake gateway within ${timeoutMs} ms ` +
        `(identifies=${this.identifies}, requests so far: ${this.describeRequests(this.requests) || 'none'})`,
    );
  }

  /** Resolves when `predicate(this)` holds; re-checked after every request, dispatch and gateway event. */
  waitFor(predicate: (fake: FakeDiscord) => boolean, timeoutMs = 10_000, description = 'condition'): Promise<void> {
    return this.signal.wait(
      () => predicate(this),
      timeoutMs,
      () =>
        `Timed out after ${timeoutMs} ms waiting for ${description}. Last requests:\n` +
        this.describeRequests(this.requests.slice(-15), '\n'),
    );
  }

  private describeRequests(requests: RecordedRequest[], separator = ', '): string {
    return requests.map((request) => `${request.method} ${request.route} → ${request.status}`).join(separator);
  }

  // --- commands -----------------------------------------------------------------------------------

  /** What PUT/POST registered: guild commands for `guildId`, global ones without it. */
  registeredCommands(guildId?: string): any[] {
    return this.commands.get(guildId ?? 'global') ?? [];
  }

  // --- attachments -----------------------------------------------------------------------------

  /** Makes a file downloadable from this fake and returns the APIAttachment describing it. */
  addAttachment(input: AttachmentInput): any {
    const filename = discordFilename(input.filename);
    const contentType = input.contentType === null ? undefined : input.contentType ?? contentTypeFor(filename);
    const stored = this.storeFile(filename, input.data, contentType);
    return {
      id: stored.id,
      filename,
      size: input.size ?? input.data.length,
      url: this.fileUrl(stored),
      proxy_url: this.fileUrl(stored),
      ...(contentType === undefined ? {} : { content_type: contentType }),
      ...imageDimensions(input.data),
    };
  }

  // --- interactions ------------------------------------------------------------------------------

  interaction(id: string): FakeInteraction | undefined {
    return this.interactionsById.get(id);
  }

  /** Dispatches a slash command (APPLICATION_COMMAND, type 2) like a user typed it. */
  async chatInput(options: ChatInputOptions): Promise<FakeInteraction> {
    const place = this.resolvePlace(options);
    const command = this.findCommand(options.name, place);
    const { commandOptions, resolved } = this.buildCommandOptions(command, { ...options, guildId: place.guildId });
    const data = {
      id: command?.id ?? snowflake(),
      name: options.name,
      type: 1,
      ...(command?.guild_id ? { guild_id: command.guild_id } : {}),
      ...(commandOptions.length > 0 ? { options: commandOptions } : {}),
      ...(resolved ? { resolved } : {}),
    };
    return this.createInteraction(InteractionType.ApplicationCommand, data, options, undefined, { place, command });
  }

  /** Dispatches an autocomplete request (type 4); the `focused` option carries `focused: true`. */
  async autocomplete(options: AutocompleteOptions): Promise<FakeInteraction> {
    const place = this.resolvePlace(options);
    const command = this.findCommand(options.name, place);
    const withFocused = { ...options, guildId: place.guildId, options: { [options.focused]: '', ...options.options } };
    const { commandOptions } = this.buildCommandOptions(command, withFocused, options.focused);
    const data = {
      id: command?.id ?? snowflake(),
      name: options.name,
      type: 1,
      ...(command?.guild_id ? { guild_id: command.guild_id } : {}),
      options: commandOptions,
    };
    return this.createInteraction(InteractionType.Autocomplete, data, options, undefined, { place, command });
  }

  /**
   * Dispatches a component interaction (type 3), e.g. a button press on `message`. On a message a
   * user install created, the press happens through that installation in the same place (options
   * may say otherwise), and `authorizing_integration_owners` names the user who installed the
   * app and ran the command, not the user pressing, as on Discord.
   */
  async component(options: ComponentOptions): Promise<FakeInteraction> {
    const data = {
      custom_id: options.customId,
      component_type: options.componentType ?? BUTTON_TYPE,
      ...(options.values ? { values: options.values } : {}),
    };
    const invocation = {
      ...this.userInstallPlaceOf(options.message),
      ...options,
      channelId: options.channelId ?? options.message.channel_id,
    };
    return this.createInteraction(InteractionType.MessageComponent, data, invocation, options.message);
  }

  /**
   * Dispatches a modal submit (type 5) as the user who filled in the modal `openedBy`'s callback 9
   * opened: by default the same user, in the same place, as `openedBy`. `values` are what the user
   * entered; everything else keeps what the modal prefilled, as when the user only presses Submit.
   * Opened from a component, the submit carries that component's message, which callbacks 6/7
   * then refer to. Throws when no user could send this: no modal, an unknown custom id, or a value
   * the modal's own rules (required, lengths, options, min/max values) would not let through.
   */
  async submitModal(openedBy: FakeInteraction, options: ModalSubmitOptions = {}): Promise<FakeInteraction> {
    const modal = openedBy.modal;
    if (!modal) {
      throw new Error(
        `submitModal: interaction ${openedBy.id} opened no modal (callbacks: ${JSON.stringify(openedBy.callbacks.map((c) => c.type))})`,
      );
    }
    const { values = {}, ...invocation } = options;
    const fieldIds = modalFields(modal).map((field) => field.custom_id);
    const unknown = Object.keys(values).filter((customId) => !fieldIds.includes(customId));
    if (unknown.length > 0) {
      throw new Error(
        `submitModal: modal ${modal.custom_id} has no component ${unknown.map((id) => `"${id}"`).join(', ')} ` +
          `(it has ${fieldIds.map((id) => `"${id}"`).join(', ')})`,
      );
    }
    const data = { custom_id: modal.custom_id, components: modal.components.map((entry: any) => submittedEntry(entry, values)) };
    const interaction = this.createInteraction(
      InteractionType.ModalSubmit,
      data,
      { ...openedBy.invocation, ...invocation },
      openedBy.sourceMessage,
    );
    interaction.modalOpenedBy = openedBy;
    return interaction;
  }

  /** The users pinged so far, by which messages. */
  notificationsFor(userId: string): FakeNotification[] {
    return this.notifications.filter((notification) => notification.userId === userId);
  }

  /**
   * Sends any gateway dispatch (e.g. GUILD_DELETE) to the bot: to the sessions of the shard of the
   * guild it names (`guild_id`, or `id` for GUILD_CREATE/UPDATE/DELETE); without one, to shard 0.
   */
  dispatchEvent(t: string, d: unknown): void {
    this.gateway.dispatch(t, d, () => this.signal.notify());
  }

  /**
   * Creates a role in the fake's guild, as a server admin would: the bot is told with
   * GUILD_ROLE_CREATE, and every later GUILD_CREATE (after a reconnect or restart) includes it.
   * Returns the role id, for `roles` and role options.
   */
  createRole(input: RoleInput = {}): string {
    return this.addGuildRole(snowflake(), input);
  }

  /** The roles of the fake's guild (@everyone, the bot's managed role, then created roles), as Discord sends them. */
  guildRolesJson(): Record<string, unknown>[] {
    return [
      this.roleJson({ id: this.guildId, name: '@everyone', position: 0, permissions: DEFAULT_MEMBER_PERMISSIONS, managed: false }),
      this.roleJson({
        id: this.botRoleId,
        name: 'Pika',
        position: 1,
        permissions: DEFAULT_APP_PERMISSIONS,
        managed: true,
        tags: { bot_id: this.botUserId },
      }),
      ...[...this.guildRoles.values()].map((role) => this.roleJson({ ...role, managed: false })),
    ];
  }

  /** Makes the interaction token invalid (50027) for webhook routes, as after 15 minutes. */
  expireToken(interaction: FakeInteraction): void {
    interaction.tokenRevoked = true;
    interaction.changed();
  }

  /** Deletes @original as a user or moderator would; later edits get 404 10008. */
  deleteOriginal(interaction: FakeInteraction): void {
    if (!interaction.original) throw new Error(`Interaction ${interaction.id} has no @original message to delete`);
    interaction.original.deleted = true;
    interaction.changed();
  }

  // --- fault injection -------------------------------------------------------------------------

  /** The next `times` requests matching `match` get `response` instead of being handled. */
  failNext(
    match: FaultMatch,
    response: { status: number; body?: unknown; headers?: Record<string, string> },
    times = 1,
  ): void {
    const body = response.body ?? { message: `${response.status}: ${STATUS_CODES[response.status] ?? 'Error'}`, code: 0 };
    this.faults.push({ match, remaining: times, reply: () => ({ status: response.status, body, headers: response.headers }) });
  }

  /**
   * Every matching request gets `status` (default 503) until the returned `end()` is called: an
   * outage. Matching requests are still recorded, so a test can count what hit it.
   */
  startOutage(match: FaultMatch, status = 503): { end(): void } {
    const fault = {
      match,
      remaining: Infinity,
      reply: () => ({ status, body: { message: `${status}: ${STATUS_CODES[status] ?? 'Error'}`, code: 0 }, headers: undefined }),
    };
    this.faults.push(fault);
    return {
      end: () => {
        const index = this.faults.indexOf(fault);
        if (index !== -1) this.faults.splice(index, 1);
      },
    };
  }

  /** The next `times` matching requests get a per-route 429 like Discord's. */
  rateLimitNext(match: FaultMatch, retryAfterSeconds: number, times = 1): void {
    this.faults.push({ match, remaining: times, reply: (request) => rateLimitReply(request.route, retryAfterSeconds) });
  }

  /**
   * Closes the socket of every connected gateway session, or only of those on shard `shardId`
   * (default code 4000, resumable), so the clients reconnect and resume.
   */
  disconnectGateway(closeCode = 4000, shardId?: number): void {
    this.gateway.disconnect(closeCode, shardId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const reason = 'FakeDiscord was closed';
    this.signal.cancelAll(reason);
    for (const interaction of this.interactions) interaction.cancelWaits(reason);
    this.gateway.closeAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ===============================================================================================
  // HTTP plumbing
  // ===============================================================================================

  private async handleHttp(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.baseUrl);
    const isApi = url.pathname.startsWith(`${API_PREFIX}/`);
    const record: RecordedRequest = {
      at: Date.now(),
      method: (request.method ?? 'GET').toUpperCase(),
      // Decoded, so '%40original' reads (and matches fault patterns) as '@original'.
      route: decodePath(isApi ? url.pathname.slice(API_PREFIX.length) : url.pathname),
      query: Object.fromEntries(url.searchParams),
      headers: flattenHeaders(request),
      json: undefined,
      files: [],
      status: 0,
    };
    this.requests.push(record);

    let reply: Reply;
    try {
      const parsed = await parseBody(await readBody(request), record.headers['content-type']);
      record.json = parsed.json;
      record.files = parsed.files;
      reply = await this.route(record, isApi);
    } catch (error) {
      reply = error instanceof DiscordHttpError ? error.toReply() : internalError(error);
    }
    record.status = reply.status;
    if (!response.destroyed) writeReply(response, reply);
    // Notified only now, so waiters that look at `requests` see the final status.
    this.interactionForRoute(record.route)?.changed();
    this.signal.notify();
  }

  /** The interaction an /interactions/:id/... or /webhooks/:appId/:token/... route belongs to. */
  private interactionForRoute(route: string): FakeInteraction | undefined {
    const [resource, first, second] = splitPath(route);
    if (resource === 'interactions' && first) return this.interactionsById.get(first);
    if (resource === 'webhooks' && second) return this.interactionsByToken.get(second);
    return undefined;
  }

  private async route(request: RecordedRequest, isApi: boolean): Promise<Reply> {
    const fault = this.takeFault(request);
    if (fault) return fault;
    if (!isApi) return this.serveFile(request);

    const pathSegments = splitPath(request.route);
    let methodMismatch = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, pathSegments);
      if (!params) continue;
      if (route.method !== request.method) {
        methodMismatch = true;
        continue;
      }
      if (route.auth && request.headers.authorization !== `Bot ${this.botToken}`) throw fail.unauthorized();
      const body = isPlainObject(request.json) ? request.json : {};
      return route.handle({ request, params, body, files: request.files });
    }
    throw methodMismatch ? fail.methodNotAllowed() : fail.notFound();
  }

  private takeFault(request: RecordedRequest): Reply | undefined {
    const index = this.faults.findIndex(
      (fault) =>
        (!fault.match.method || fault.match.method.toUpperCase() === request.method) &&
        (!fault.match.route || fault.match.route.test(request.route)),
    );
    const fault = this.faults[index];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault.reply(request);
  }

  private addRoute(method: string, template: string, auth: boolean, handle: RouteHandler): void {
    this.routes.push({ method, segments: splitPath(template), auth, handle });
  }

  private registerRoutes(): void {
    const AUTH = true;
    const NO_AUTH = false;

    this.addRoute('GET', '/gateway', NO_AUTH, () => ok({ url: this.gatewayUrl }));
    this.addRoute('GET', '/gateway/bot', AUTH, () =>
      ok({
        url: this.gatewayUrl,
        shards: this.recommendedShards,
        // Discord's value for large bots: every shard may identify at once, where with 1 discord.js
        // would wait 5 s between the shards of one process.
        session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 16 },
      }),
    );
    this.addRoute('GET', '/applications/@me', AUTH, () => ok(this.applicationJson()));
    this.addRoute('GET', '/oauth2/applications/@me', AUTH, () => ok(this.applicationJson()));
    this.addRoute('GET', '/users/@me', AUTH, () => ok(this.botUserJson()));
    this.addRoute('GET', '/guilds/:guildId', AUTH, ({ params }) => ok(this.guildJsonFor(params.guildId!)));
    this.addRoute('GET', '/guilds/:guildId/roles', AUTH, ({ params }) => {
      this.guildJsonFor(params.guildId!);
      return ok(this.guildRolesJson());
    });
    this.addRoute('GET', '/channels/:channelId', AUTH, ({ params }) => ok(this.channelJson(params.channelId!)));
    this.addRoute('POST', '/channels/:channelId/typing', AUTH, ({ params }) => {
      this.channelJson(params.channelId!);
      return noContent();
    });

    for (const scope of ['/applications/:appId', '/applications/:appId/guilds/:guildId']) {
      this.addRoute('GET', `${scope}/commands`, AUTH, (context) => ok(this.commandList(context).map((command) => listedCommand(command, context.request))));
      this.addRoute('PUT', `${scope}/commands`, AUTH, (context) => this.overwriteCommands(context));
      this.addRoute('POST', `${scope}/commands`, AUTH, (context) => this.createCommand(context));
      this.addRoute('GET', `${scope}/commands/:commandId`, AUTH, (context) => ok(this.findCommandById(context).command));
      this.addRoute('PATCH', `${scope}/commands/:commandId`, AUTH, (context) => this.editCommand(context));
      this.addRoute('DELETE', `${scope}/commands/:commandId`, AUTH, (context) => this.deleteCommand(context));
    }

    this.addRoute('POST', '/interactions/:id/:token/callback', NO_AUTH, (context) => this.handleCallback(context));

    this.addRoute('POST', '/webhooks/:appId/:token', NO_AUTH, (context) => this.createFollowup(context));
    this.addRoute('GET', '/webhooks/:appId/:token/messages/:messageId', NO_AUTH, (context) =>
      ok(this.toApiMessage(this.webhookMessage(context))),
    );
    this.addRoute('PATCH', '/webhooks/:appId/:token/messages/:messageId', NO_AUTH, (context) =>
      this.editWebhookMessage(context),
    );
    this.addRoute('DELETE', '/webhooks/:appId/:token/messages/:messageId', NO_AUTH, (context) =>
      this.deleteWebhookMessage(context),
    );

    this.addRoute('POST', '/channels/:channelId/messages', AUTH, (context) => this.createChannelMessage(context));
    this.addRoute('GET', '/channels/:channelId/messages/:messageId', AUTH, (context) =>
      ok(this.toApiMessage(this.channelMessage(context))),
    );
    this.addRoute('PATCH', '/channels/:channelId/messages/:messageId', AUTH, (context) => {
      const message = this.channelMessage(context);
      assertValidEdit(context.body, context.files, TEN_MIB, message);
      this.applyEdit(message, context.body, context.files);
      return ok(this.toApiMessage(message));
    });
    this.addRoute('DELETE', '/channels/:channelId/messages/:messageId', AUTH, (context) => {
      this.channelMessage(context).deleted = true;
      return noContent();
    });
  }

  // ===============================================================================================
  // Route handlers: interaction callbacks
  // ===============================================================================================

  private handleCallback({ request, params, body, files }: RouteContext): Reply {
    const interaction = this.interactionsById.get(params.id!);
    if (!interaction || interaction.token !== params.token) throw fail.unknownInteraction();
    if (interaction.acknowledged) throw fail.alreadyAcknowledged();
    if (Date.now() - interaction.dispatchedAt > this.deadlineMs) throw fail.unknownInteraction();

    const type = Number(body.type);
    const allowed = ALLOWED_CALLBACKS[interaction.type] ?? [];
    if (!allowed.includes(type)) {
      const errors = new FormErrors();
      errors.add(['type'], 'BASE_TYPE_CHOICES', `Value must be one of (${allowed.join(', ')}).`);
      errors.throwIfAny();
    }
    const data = isPlainObject(body.data) ? body.data : undefined;
    this.applyCallback(interaction, type, data ?? {}, files);

    interaction.callbacks.push({ at: Date.now(), type, data, files });
    return request.query.with_response === 'true' ? ok(this.callbackResponse(interaction, type)) : noContent();
  }

  /** Validates the callback and applies its effect; throws (leaving the interaction unacknowledged) if invalid. */
  private applyCallback(interaction: FakeInteraction, type: number, data: Record<string, any>, files: RecordedFile[]): void {
    switch (type) {
      case CallbackType.ChannelMessage: {
        assertValidNewMessage(data, files, { at: ['data'], uploadLimit: interaction.attachmentSizeLimit });
        interaction.original = this.messageFromPayload(this.withForcedFlags(interaction, data), files, {
          channelId: interaction.payload.channel_id,
          type: this.responseMessageType(interaction),
          webhookId: this.applicationId,
          interactionMetadata: this.interactionMetadata(interaction),
        });
        this.recordNotifications(interaction.original);
        return;
      }
      case CallbackType.DeferredChannelMessage: {
        const ephemeral = Number(this.withForcedFlags(interaction, data).flags ?? 0) & MessageFlag.Ephemeral;
        interaction.original = this.newMessage({
          channel_id: interaction.payload.channel_id,
          flags: MessageFlag.Loading | ephemeral,
          type: this.responseMessageType(interaction),
          webhookId: this.applicationId,
          interactionMetadata: this.interactionMetadata(interaction),
        });
        return;
      }
      case CallbackType.DeferredUpdate:
        interaction.original = interaction.sourceMessage;
        return;
      case CallbackType.UpdateMessage: {
        const target = interaction.sourceMessage;
        assertValidEdit(data, files, interaction.attachmentSizeLimit, target);
        if (target) this.applyEdit(target, data, files);
        interaction.original = target;
        return;
      }
      case CallbackType.AutocompleteResult: {
        const errors = new FormErrors();
        validateAutocompleteChoices(data, errors);
        errors.throwIfAny();
        return;
      }
      case CallbackType.Modal: {
        const errors = new FormErrors();
        validateModal(data, errors);
        errors.throwIfAny();
        interaction.modal = { ...data, components: numberComponents(data.components) };
        return;
      }
      default:
        return;
    }
  }

  /**
   * A new message's payload as Discord creates it: with the ephemeral flag added when Discord
   * forces this interaction's responses to be ephemeral (`InvocationOptions.forceEphemeral`).
   */
  private withForcedFlags(interaction: FakeInteraction, body: Record<string, any>): Record<string, any> {
    if (!interaction.invocation.forceEphemeral) return body;
    return { ...body, flags: Number(body.flags ?? 0) | MessageFlag.Ephemeral };
  }

  /** The `?with_response=true` body: an InteractionCallbackResponse. */
  private callbackResponse(interaction: FakeInteraction, type: number): unknown {
    const message = type === CallbackType.AutocompleteResult || type === CallbackType.Modal ? undefined : interaction.original;
    return {
      interaction: {
        id: interaction.id,
        type: interaction.type,
        activity_instance_id: null,
        ...(message
          ? {
              response_message_id: message.id,
              response_message_loading: (message.flags & MessageFlag.Loading) !== 0,
              response_message_ephemeral: (message.flags & MessageFlag.Ephemeral) !== 0,
            }
          : {}),
      },
      resource: { type, ...(message ? { message: this.toApiMessage(message) } : {}) },
    };
  }

  // ===============================================================================================
  // Route handlers: interaction webhooks (follow-ups and @original)
  // ===============================================================================================

  private webhookInteraction({ params }: RouteContext): FakeInteraction {
    if (params.appId !== this.applicationId) throw fail.unknownWebhook();
    const interaction = this.interactionsByToken.get(params.token!);
    if (!interaction) throw fail.unknownWebhook();
    const expired = interaction.tokenRevoked || Date.now() - interaction.dispatchedAt + (interaction.invocation?.createdAgoMs ?? 0) > this.tokenLifetimeMs;
    if (expired) throw fail.invalidWebhookToken();
    // Discord creates the interaction's webhook with the first callback.
    if (!interaction.acknowledged) throw fail.unknownWebhook();
    return interaction;
  }

  private webhookMessage(context: RouteContext): FakeMessage {
    const interaction = this.webhookInteraction(context);
    const id = context.params.messageId!;
    const message =
      id === '@original'
        ? interaction.original
        : [interaction.original, ...interaction.followups].find((candidate) => candidate?.id === id);
    if (!message || message.deleted) throw fail.unknownMessage();
    return message;
  }

  private editWebhookMessage(context: RouteContext): Reply {
    const interaction = this.webhookInteraction(context);
    const message = this.webhookMessage(context);
    assertValidEdit(context.body, context.files, interaction.attachmentSizeLimit, message);
    this.applyEdit(message, context.body, context.files);
    return ok(this.toApiMessage(message));
  }

  private deleteWebhookMessage(context: RouteContext): Reply {
    this.webhookMessage(context).deleted = true;
    return noContent();
  }

  private createFollowup(context: RouteContext): Reply {
    const interaction = this.webhookInteraction(context);
    const { body, files } = context;
    assertValidNewMessage(body, files, { uploadLimit: interaction.attachmentSizeLimit });

    let message: FakeMessage;
    const original = interaction.original;
    if (original && !original.deleted && original.flags & MessageFlag.Loading) {
      // Discord: the first follow-up after a deferral edits the loading @original (keeping its
      // ephemeral state) instead of creating a new message.
      this.applyEdit(original, body, files);
      message = original;
    } else {
      message = this.messageFromPayload(this.withForcedFlags(interaction, body), files, {
        channelId: interaction.payload.channel_id,
        type: this.responseMessageType(interaction),
        webhookId: this.applicationId,
        interactionMetadata: { ...this.interactionMetadata(interaction), original_response_message_id: original?.id },
      });
      interaction.followups.push(message);
      this.recordNotifications(message);
    }
    return context.request.query.wait === 'true' ? ok(this.toApiMessage(message)) : noContent();
  }

  // ===============================================================================================
  // Route handlers: channel messages
  // ===============================================================================================

  private createChannelMessage({ params, body, files }: RouteContext): Reply {
    const channelId = params.channelId!;
    this.channelJson(channelId);
    const reference = isPlainObject(body.message_reference) ? body.message_reference : undefined;
    const referenced = reference?.message_id ? this.findVisibleMessage(channelId, String(reference.message_id)) : undefined;

    assertValidNewMessage(body, files, {
      uploadLimit: TEN_MIB,
      extraErrors: (errors) => {
        if (typeof body.nonce === 'string') errors.maxLength(['nonce'], body.nonce, 25);
        if (reference?.message_id && !referenced && reference.fail_if_not_exists !== false) {
          errors.add(['message_reference'], 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE', 'Unknown message');
        }
      },
    });

    const nonce = body.nonce == null ? undefined : String(body.nonce);
    if (nonce !== undefined && body.enforce_nonce === true) {
      // Discord returns the earlier message instead of creating a duplicate.
      const earlier = this.channelMessages.find(
        (message) => message.nonce === nonce && !message.deleted && Date.now() - message.createdAt < NONCE_REUSE_WINDOW_MS,
      );
      if (earlier) return ok(this.toApiMessage(earlier));
    }

    const message = this.messageFromPayload(body, files, { channelId, type: referenced ? 19 : 0 });
    if (referenced) {
      message.message_reference = { type: 0, channel_id: channelId, message_id: referenced.id, guild_id: this.guildId };
    }
    message.nonce = nonce;
    this.channelMessages.push(message);
    this.recordNotifications(message);
    return ok(this.toApiMessage(message));
  }

  private channelMessage({ params }: RouteContext): FakeMessage {
    this.channelJson(params.channelId!);
    const message = this.findVisibleMessage(params.channelId!, params.messageId!);
    if (!message) throw fail.unknownMessage();
    return message;
  }

  /** Messages anyone in the channel can see: channel messages and non-ephemeral interaction responses. */
  private findVisibleMessage(channelId: string, messageId: string): FakeMessage | undefined {
    const interactionMessages = this.interactions.flatMap((interaction) => [interaction.original, ...interaction.followups]);
    return [...this.channelMessages, ...interactionMessages].find(
      (message) =>
        message !== undefined &&
        message.id === messageId &&
        message.channel_id === channelId &&
        !message.deleted &&
        !(message.flags & MessageFlag.Ephemeral),
    );
  }

  // ===============================================================================================
  // Route handlers: application commands
  // ===============================================================================================

  /** Checks the :appId / :guildId of a commands route and returns the store key. */
  private commandScope({ params }: RouteContext): string {
    if (params.appId !== this.applicationId) throw fail.missingAccess();
    if (params.guildId !== undefined && params.guildId !== this.guildId) throw fail.missingAccess();
    return params.guildId ?? 'global';
  }

  private commandList(context: RouteContext): any[] {
    return this.commands.get(this.commandScope(context)) ?? [];
  }

  private overwriteCommands(context: RouteContext): Reply {
    const scope = this.commandScope(context);
    const definitions: unknown = context.request.json;
    const errors = new FormErrors();
    if (!Array.isArray(definitions)) {
      errors.add([], 'BASE_TYPE_ARRAY', 'Must be an array');
      errors.throwIfAny();
      return ok([]);
    }
    definitions.forEach((definition, index) => validateCommand(definition, errors, [index]));
    const keys = definitions.map((definition) => `${definition?.type ?? 1}:${definition?.name}`);
    keys.forEach((key, index) => {
      if (keys.indexOf(key) !== index) {
        errors.add([index, 'name'], 'APPLICATION_COMMANDS_DUPLICATE_NAME', 'Application command names must be unique');
      }
    });
    errors.throwIfAny();

    const existing = this.commands.get(scope) ?? [];
    const stored = definitions.map((definition) =>
      this.buildCommand(definition, scope, existing.find((command) => sameCommand(command, definition))),
    );
    this.commands.set(scope, stored);
    return ok(stored);
  }

  private createCommand(context: RouteContext): Reply {
    const scope = this.commandScope(context);
    const errors = new FormErrors();
    validateCommand(context.body, errors, []);
    errors.throwIfAny();
    const list = this.commands.get(scope) ?? [];
    const existing = list.find((command) => sameCommand(command, context.body));
    const command = this.buildCommand(context.body, scope, existing);
    this.commands.set(scope, existing ? list.map((item) => (item === existing ? command : item)) : [...list, command]);
    // Discord upserts by name: 200 when it replaced a command, 201 when it created one.
    return { status: existing ? 200 : 201, body: command };
  }

  private findCommandById(context: RouteContext): { scope: string; command: any } {
    const scope = this.commandScope(context);
    const command = (this.commands.get(scope) ?? []).find((item) => item.id === context.params.commandId);
    if (!command) throw fail.unknownCommand();
    return { scope, command };
  }

  private editCommand(context: RouteContext): Reply {
    const { scope, command } = this.findCommandById(context);
    const merged = { ...command, ...context.body };
    const errors = new FormErrors();
    validateCommand(merged, errors, []);
    errors.throwIfAny();
    const updated = this.buildCommand(merged, scope, command);
    this.commands.set(scope, (this.commands.get(scope) ?? []).map((item) => (item === command ? updated : item)));
    return ok(updated);
  }

  private deleteCommand(context: RouteContext): Reply {
    const { scope, command } = this.findCommandById(context);
    this.commands.set(scope, (this.commands.get(scope) ?? []).filter((item) => item !== command));
    return noContent();
  }

  private buildCommand(definition: any, scope: string, existing?: any): any {
    const guildId = scope === 'global' ? undefined : scope;
    return {
      id: existing?.id ?? snowflake(),
      application_id: this.applicationId,
      version: snowflake(),
      default_member_permissions: definition.default_member_permissions ?? null,
      type: definition.type ?? 1,
      name: definition.name,
      name_localizations: definition.name_localizations ?? null,
      description: definition.description ?? '',
      description_localizations: definition.description_localizations ?? null,
      ...(guildId ? { guild_id: guildId } : { dm_permission: definition.dm_permission ?? true }),
      contexts: definition.contexts ?? null,
      integration_types: definition.integration_types ?? [0],
      nsfw: definition.nsfw ?? false,
      ...(definition.options ? { options: definition.options } : {}),
    };
  }

  /**
   * The registered command a user can run there. Through a server install, guild commands shadow
   * global ones, as in the Discord client, and an unknown command is dispatched all the same.
   * Through a user install only global commands exist, and only those whose `integration_types`
   * include 1 (USER_INSTALL) and whose `contexts` (absent: all) include the place: anything else
   * no user could run, so it is a bug in the test and throws.
   */
  private findCommand(name: string, place: Place): any {
    const sameName = (command: any): boolean => command.name === name && (command.type ?? 1) === 1;
    if (place.installation === 'guild') {
      const guildCommands = place.guildId === null ? [] : this.registeredCommands(place.guildId);
      return guildCommands.find(sameName) ?? this.registeredCommands().find(sameName);
    }
    const where = `through a user install (context ${place.context})`;
    const command = this.registeredCommands().find(sameName);
    if (!command) {
      const guildScopes = [...this.commands.entries()]
        .filter(([scope, list]) => scope !== 'global' && list.some(sameName))
        .map(([scope]) => scope);
      throw new Error(
        guildScopes.length > 0
          ? `FakeDiscord: /${name} cannot be run ${where}: it is a guild command (of ${guildScopes.join(', ')}), and ` +
              'guild commands belong to the server-installed app in that guild; register it globally with integration_types [0, 1]'
          : `FakeDiscord: /${name} cannot be run ${where}: no global command of that name is registered`,
      );
    }
    const integrationTypes: number[] = command.integration_types ?? [0];
    if (!integrationTypes.includes(1)) {
      throw new Error(
        `FakeDiscord: /${name} cannot be run ${where}: its integration_types are ${JSON.stringify(integrationTypes)}, without 1 (USER_INSTALL)`,
      );
    }
    const contexts: number[] | null = command.contexts;
    if (contexts && !contexts.includes(InteractionContext[place.context])) {
      throw new Error(
        `FakeDiscord: /${name} cannot be run ${where}: its contexts are ${JSON.stringify(contexts)}, ` +
          `without ${InteractionContext[place.context]} (${place.context.toUpperCase()})`,
      );
    }
    return command;
  }

  /**
   * Where an interaction happens and through which installation, with the defaults filled in;
   * throws for a combination Discord cannot produce (a bug in the test).
   */
  private resolvePlace(options: InvocationOptions): Place {
    const refuse = (why: string): never => {
      throw new Error(`FakeDiscord: impossible invocation: ${why}`);
    };
    const installation = options.installation ?? 'guild';
    if (installation !== 'guild' && installation !== 'user') refuse(`installation "${String(installation)}"`);
    const context = options.context ?? (options.guildId === null ? 'bot_dm' : 'guild');
    if (!(context in InteractionContext)) refuse(`context "${String(context)}"`);
    if (context === 'guild' && options.guildId === null) refuse("context 'guild' with guildId: null (a DM)");
    if (context !== 'guild' && typeof options.guildId === 'string') refuse(`a ${context} has no guild, but guildId is ${options.guildId}`);
    if (context === 'private_channel' && installation === 'guild') {
      refuse("a server-installed app cannot be used in a private channel (group DM or DM between users); use installation: 'user'");
    }
    if (options.privateChannelType !== undefined && context !== 'private_channel') refuse(`privateChannelType in a ${context}`);
    if (options.botInGuild !== undefined && context !== 'guild') refuse(`botInGuild in a ${context}`);
    if (options.botInGuild === false && installation === 'guild') {
      refuse("botInGuild: false with a server install (a server-installed app is in its server); use installation: 'user'");
    }
    const botInGuild = context === 'guild' && (installation === 'guild' || options.botInGuild === true);
    if (options.forceEphemeral && !(context === 'guild' && !botInGuild)) {
      refuse('forceEphemeral: Discord forces ephemeral responses only on a user-installed app in a server the bot is not in');
    }
    const base = { installation, context, botInGuild, forceEphemeral: options.forceEphemeral === true };

    if (context === 'bot_dm') {
      if (options.channelId !== undefined && this.privateChannelIds.has(options.channelId)) {
        refuse(`channel ${options.channelId} is a private channel, not the DM with the bot`);
      }
      return { ...base, guildId: null, channelId: options.channelId };
    }
    if (context === 'private_channel') {
      const channelId = options.channelId ?? snowflake();
      const existing = this.channels.get(channelId);
      if (existing && !this.privateChannelIds.has(channelId)) refuse(`channel ${channelId} is not a private channel`);
      return { ...base, guildId: null, channelId };
    }
    const guildId = options.guildId ?? (botInGuild ? this.guildId : this.guildWithoutBotId);
    if (botInGuild) {
      if (this.guildsWithoutBot.has(guildId)) refuse(`an earlier interaction said the bot is not in guild ${guildId}`);
      const channelId = options.channelId ?? this.channelId;
      if (this.privateChannelIds.has(channelId)) refuse(`channel ${channelId} is a private channel, not a channel of guild ${guildId}`);
      return { ...base, guildId, channelId };
    }
    if (this.guildsWithBot.has(guildId)) {
      refuse(
        `the bot is in guild ${guildId}: say botInGuild: true, or leave guildId out for a server without the bot (guildWithoutBotId)`,
      );
    }
    const channelId = options.channelId ?? this.guildsWithoutBot.get(guildId)?.defaultChannelId ?? snowflake();
    const existing = this.channels.get(channelId);
    if (existing && existing.guild_id !== guildId) refuse(`channel ${channelId} is not a channel of guild ${guildId}`);
    return { ...base, guildId, channelId };
  }

  /** For a message a user-install interaction created: where that interaction happened, and how. */
  private userInstallPlaceOf(message: FakeMessage): InvocationOptions {
    const source = this.interactions.find(
      (interaction) => interaction.original === message || interaction.followups.includes(message),
    );
    const invocation = source?.invocation;
    if (invocation?.installation !== 'user') return {};
    const place = this.resolvePlace(invocation);
    return {
      installation: 'user',
      context: place.context,
      ...(place.guildId !== null ? { guildId: place.guildId } : {}),
      ...(invocation.botInGuild !== undefined ? { botInGuild: invocation.botInGuild } : {}),
      ...(invocation.privateChannelType !== undefined ? { privateChannelType: invocation.privateChannelType } : {}),
      ...(invocation.forceEphemeral !== undefined ? { forceEphemeral: invocation.forceEphemeral } : {}),
    };
  }

  // ===============================================================================================
  // Building interactions
  // ===============================================================================================

  private createInteraction(
    type: number,
    data: unknown,
    invocation: InvocationOptions,
    sourceMessage?: FakeMessage,
    resolved: { place?: Place; command?: any } = {},
  ): FakeInteraction {
    const place = resolved.place ?? this.resolvePlace(invocation);
    const id = snowflake(Date.now() - (invocation.createdAgoMs ?? 0));
    const token = interactionToken(id);
    const payload = {
      id,
      application_id: this.applicationId,
      type,
      token,
      version: 1,
      data,
      ...this.invocationContext(invocation, place, resolved.command, sourceMessage),
      entitlements: [],
      ...(sourceMessage ? { message: this.toApiMessage(sourceMessage) } : {}),
    };
    const interaction = new FakeInteraction(id, token, payload, () =>
      this.requests.filter((request) => request.route.includes(token) || request.route.includes(`/interactions/${id}/`)),
    );
    interaction.sourceMessage = sourceMessage;
    // A private channel made up for this interaction is where its modal submits come from too.
    interaction.invocation = place.context === 'private_channel' ? { ...invocation, channelId: place.channelId } : invocation;
    this.interactions.push(interaction);
    this.interactionsById.set(id, interaction);
    this.interactionsByToken.set(token, interaction);
    this.gateway.dispatch('INTERACTION_CREATE', payload, (delivery) => {
      interaction.recordDelivery(delivery);
      this.signal.notify();
    });
    return interaction;
  }

  /** Who invoked the interaction, and where: the guild/DM-specific part of the payload. */
  private invocationContext(
    options: InvocationOptions,
    place: Place,
    command: any,
    sourceMessage: FakeMessage | undefined,
  ): Record<string, unknown> {
    const username = options.username ?? 'tester';
    const user = {
      id: options.userId ?? this.defaultUserId,
      username,
      discriminator: '0',
      global_name: username,
      avatar: null,
      public_flags: 0,
      avatar_decoration_data: null,
    };
    const defaultAppPermissions =
      place.context === 'private_channel'
        ? PRIVATE_CHANNEL_APP_PERMISSIONS
        : place.context === 'guild' && !place.botInGuild
          ? EXTERNAL_APP_PERMISSIONS
          : DEFAULT_APP_PERMISSIONS;
    const appPermissions = String(options.appPermissions ?? defaultAppPermissions);
    const locale = options.locale ?? 'en-US';
    const common = { app_permissions: appPermissions, locale, attachment_size_limit: options.attachmentSizeLimit ?? TEN_MIB };
    const owners = this.authorizingOwners(place, user.id, command, sourceMessage);

    if (place.context === 'bot_dm') {
      const channel = this.dmChannelFor(user, place.channelId);
      return {
        ...common,
        user,
        channel,
        channel_id: channel.id,
        context: InteractionContext.bot_dm,
        authorizing_integration_owners: owners,
      };
    }
    if (place.context === 'private_channel') {
      const channel = this.privateChannel(place.channelId!, user, options.privateChannelType ?? 'group_dm');
      return {
        ...common,
        user,
        channel,
        channel_id: channel.id,
        context: InteractionContext.private_channel,
        authorizing_integration_owners: owners,
      };
    }
    const guildId = place.guildId!;
    const channelId = place.channelId!;
    if (place.botInGuild) this.guildsWithBot.add(guildId);
    else if (!this.guildsWithoutBot.has(guildId)) this.guildsWithoutBot.set(guildId, { defaultChannelId: channelId });
    return {
      ...common,
      guild_id: guildId,
      guild: { id: guildId, locale: options.guildLocale ?? 'en-US', features: [] },
      guild_locale: options.guildLocale ?? 'en-US',
      channel: { ...this.guildChannel(channelId, guildId), permissions: appPermissions },
      channel_id: channelId,
      member: {
        user,
        roles: [...(options.roles ?? [])],
        permissions: String(options.memberPermissions ?? DEFAULT_MEMBER_PERMISSIONS),
        joined_at: this.joinedAt,
        premium_since: null,
        nick: null,
        avatar: null,
        banner: null,
        communication_disabled_until: null,
        deaf: false,
        mute: false,
        flags: 0,
        pending: false,
      },
      context: InteractionContext.guild,
      authorizing_integration_owners: owners,
    };
  }

  /**
   * `authorizing_integration_owners`: `"0"` (the guild id, or "0" in the bot's DM) when the app is
   * installed to the server and the command supports that; `"1"` (the user who installed the app)
   * for a user install. On a component of a message a user install created, `"1"` stays the user
   * who ran that command, whoever presses.
   */
  private authorizingOwners(place: Place, userId: string, command: any, sourceMessage: FakeMessage | undefined): Record<string, string> {
    if (place.installation === 'guild') return { '0': place.guildId ?? '0' };
    const owners: Record<string, string> = {};
    const supportsGuildInstall = !command || (command.integration_types ?? [0]).includes(0);
    if (place.botInGuild && supportsGuildInstall) owners['0'] = place.guildId!;
    const sourceOwners = sourceMessage?.interactionMetadata?.authorizing_integration_owners as Record<string, string> | undefined;
    owners['1'] = sourceOwners?.['1'] ?? userId;
    return owners;
  }

  /** A group DM (type 3) or a DM between two users (type 1) the app is used in; the bot is not in it. */
  private privateChannel(channelId: string, user: Record<string, unknown>, kind: 'group_dm' | 'dm'): Record<string, any> {
    const existing = this.channels.get(channelId);
    if (existing) return existing;
    const friend = userStub(snowflake());
    const channel =
      kind === 'dm'
        ? { id: channelId, type: 1, recipients: [friend], flags: 0, last_message_id: null }
        : {
            id: channelId,
            type: 3,
            name: null,
            icon: null,
            owner_id: user.id,
            recipients: [user, friend],
            flags: 0,
            last_message_id: null,
          };
    this.channels.set(channelId, channel);
    this.privateChannelIds.add(channelId);
    return channel;
  }

  /**
   * Builds `data.options` (nested under a subcommand / group when given) and `data.resolved`.
   * Option types come from the registered command; unknown options are inferred from the JS value.
   */
  private buildCommandOptions(
    command: any,
    options: Pick<ChatInputOptions, 'subcommand' | 'options' | 'attachments' | 'guildId' | 'memberPermissions'>,
    focused?: string,
  ): { commandOptions: any[]; resolved?: Record<string, Record<string, unknown>> } {
    const path = options.subcommand?.trim().split(/\s+/) ?? [];
    const definitions = optionDefinitionsAt(command?.options, path);
    const resolved: Record<string, Record<string, unknown>> = {};
    const leaf: any[] = [];

    for (const [name, value] of Object.entries(options.options ?? {})) {
      const type = definitions?.find((definition: any) => definition.name === name)?.type ?? inferOptionType(value);
      const isFocused = name === focused;
      // Discord sends the partially typed text of the focused option as a string.
      leaf.push(
        isFocused
          ? { name, type, value: String(value), focused: true }
          : { name, type, value: coerceOptionValue(type, value) },
      );
      if (!isFocused) this.resolveOption(resolved, type, String(value), options);
    }
    for (const [name, input] of Object.entries(options.attachments ?? {})) {
      const attachment = { ...this.addAttachment(input), ephemeral: true };
      leaf.push({ name, type: OptionType.Attachment, value: attachment.id });
      (resolved.attachments ??= {})[attachment.id] = attachment;
    }

    const commandOptions = wrapInSubcommands(path, leaf);
    return { commandOptions, ...(Object.keys(resolved).length > 0 ? { resolved } : {}) };
  }

  /** Adds what Discord puts in `data.resolved` for a user, channel, role or mentionable option. */
  private resolveOption(
    resolved: Record<string, Record<string, unknown>>,
    type: number,
    id: string,
    invocation: Pick<InvocationOptions, 'guildId' | 'memberPermissions'>,
  ): void {
    const guildId = invocation.guildId ?? this.guildId;
    const isRole = type === OptionType.Role || (type === OptionType.Mentionable && this.isGuildRole(id));
    if (isRole) {
      (resolved.roles ??= {})[id] = this.guildRoleJson(id);
    } else if (type === OptionType.User || type === OptionType.Mentionable) {
      (resolved.users ??= {})[id] = userStub(id);
    } else if (type === OptionType.Channel) {
      // `permissions` are the invoking member's permissions in that channel.
      const permissions = String(invocation.memberPermissions ?? DEFAULT_MEMBER_PERMISSIONS);
      (resolved.channels ??= {})[id] = { ...this.guildChannel(id, guildId), permissions };
    }
  }

  private interactionMetadata(interaction: FakeInteraction): Record<string, unknown> {
    const payload = interaction.payload;
    return {
      id: interaction.id,
      type: interaction.type,
      user: payload.member?.user ?? payload.user,
      authorizing_integration_owners: payload.authorizing_integration_owners,
      ...(payload.data?.name ? { name: payload.data.name, command_type: payload.data.type ?? 1 } : {}),
      ...(interaction.type === InteractionType.MessageComponent && interaction.sourceMessage
        ? { interacted_message_id: interaction.sourceMessage.id }
        : {}),
      // A modal submit names the interaction that opened the modal instead.
      ...(interaction.modalOpenedBy
        ? { triggering_interaction_metadata: this.interactionMetadata(interaction.modalOpenedBy) }
        : {}),
    };
  }

  private responseMessageType(interaction: FakeInteraction): number {
    return interaction.type === InteractionType.ApplicationCommand ? 20 : 19;
  }

  // ===============================================================================================
  // Messages
  // ===============================================================================================

  /** Called for each newly created message (never for edits): records whom it pings. */
  private recordNotifications(message: FakeMessage): void {
    if (message.flags & MessageFlag.Ephemeral) return;
    for (const userId of pingedUserIds(message.content, message.allowed_mentions)) {
      this.notifications.push({ userId, messageId: message.id, channelId: message.channel_id, at: message.createdAt });
    }
  }

  private newMessage(fields: Partial<FakeMessage> & { channel_id: string }): FakeMessage {
    return {
      id: snowflake(),
      content: '',
      embeds: [],
      components: [],
      attachments: [],
      flags: 0,
      edits: 0,
      deleted: false,
      type: 0,
      createdAt: Date.now(),
      editedAt: null,
      ...fields,
    };
  }

  /** A new message from an already validated create payload. */
  private messageFromPayload(
    body: Record<string, any>,
    files: RecordedFile[],
    init: { channelId: string; type: number; webhookId?: string; interactionMetadata?: Record<string, unknown> },
  ): FakeMessage {
    return this.newMessage({
      channel_id: init.channelId,
      content: body.content == null ? '' : String(body.content),
      embeds: Array.isArray(body.embeds) ? body.embeds : [],
      components: Array.isArray(body.components) ? body.components : [],
      attachments: this.storeUploads(files, body.attachments),
      flags: Number(body.flags ?? 0) & CREATABLE_FLAGS,
      ...(body.allowed_mentions !== undefined ? { allowed_mentions: body.allowed_mentions } : {}),
      type: init.type,
      ...(init.webhookId ? { webhookId: init.webhookId } : {}),
      ...(init.interactionMetadata ? { interactionMetadata: init.interactionMetadata } : {}),
    });
  }

  /**
   * Applies an edit like Discord: only fields present change; `attachments`, when present, lists
   * every attachment to keep (existing by id) and new uploads are added; an edit that leaves the
   * message empty is 50006. Completes a loading (deferred) message.
   */
  private applyEdit(message: FakeMessage, body: Record<string, any>, files: RecordedFile[]): void {
    const next = {
      content: 'content' in body ? (body.content == null ? '' : String(body.content)) : message.content,
      embeds: 'embeds' in body ? (Array.isArray(body.embeds) ? body.embeds : []) : message.embeds,
      components: 'components' in body ? (Array.isArray(body.components) ? body.components : []) : message.components,
      attachments: this.editedAttachments(message.attachments, body.attachments, files),
    };
    const hasContent = hasMessageContent({ ...next, attachmentCount: next.attachments.length });
    if (!hasContent) throw fail.emptyMessage();

    Object.assign(message, next);
    if ('allowed_mentions' in body) message.allowed_mentions = body.allowed_mentions;
    if (body.flags != null) {
      // Only SUPPRESS_EMBEDS can be toggled by an edit; IS_COMPONENTS_V2 can be added, not removed.
      const requested = Number(body.flags);
      message.flags =
        (message.flags & ~MessageFlag.SuppressEmbeds) |
        (requested & MessageFlag.SuppressEmbeds) |
        (requested & MessageFlag.IsComponentsV2);
    }
    message.flags &= ~MessageFlag.Loading;
    message.edits += 1;
    message.editedAt = Date.now();
  }

  private editedAttachments(existing: FakeAttachment[], keepList: unknown, files: RecordedFile[]): FakeAttachment[] {
    const uploaded = this.storeUploads(files, keepList);
    if (keepList === undefined) return [...existing, ...uploaded];
    const keepIds = new Set(Array.isArray(keepList) ? keepList.map((entry: any) => String(entry?.id)) : []);
    return [...existing.filter((attachment) => keepIds.has(attachment.id)), ...uploaded];
  }

  /** Stores uploaded `files[n]` parts; metadata comes from the payload's `attachments` entry with id n. */
  private storeUploads(files: RecordedFile[], attachmentEntries: unknown): FakeAttachment[] {
    const entries: any[] = Array.isArray(attachmentEntries) ? attachmentEntries : [];
    return files.map((file, index) => {
      const slot = /^files\[(\d+)\]$/.exec(file.field)?.[1] ?? String(index);
      const entry = entries.find((candidate) => String(candidate?.id) === slot);
      const filename = discordFilename(typeof entry?.filename === 'string' ? entry.filename : file.filename);
      const contentType = contentTypeFor(filename, file.contentType);
      const stored = this.storeFile(filename, file.data, contentType);
      return {
        id: stored.id,
        filename,
        size: file.data.length,
        ...(contentType ? { content_type: contentType } : {}),
        url: this.fileUrl(stored),
        proxy_url: this.fileUrl(stored),
        ...(typeof entry?.description === 'string' ? { description: entry.description } : {}),
        ...(typeof entry?.title === 'string' ? { title: entry.title } : {}),
        data: file.data,
      };
    });
  }

  /** The message object as Discord's API returns it. */
  toApiMessage(message: FakeMessage): Record<string, unknown> {
    const metadata = message.interactionMetadata;
    return {
      id: message.id,
      type: message.type,
      channel_id: message.channel_id,
      author: this.botUserJson(),
      content: message.content,
      timestamp: iso(message.createdAt),
      edited_timestamp: message.editedAt === null ? null : iso(message.editedAt),
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: message.attachments.map(({ data, ...attachment }) => ({ ...attachment, ...imageDimensions(data) })),
      embeds: message.embeds.map((embed) => ({ type: 'rich', ...embed })),
      pinned: false,
      flags: message.flags,
      components: message.components,
      ...(message.nonce !== undefined ? { nonce: message.nonce } : {}),
      ...(message.message_reference ? { message_reference: message.message_reference } : {}),
      ...(message.webhookId ? { webhook_id: message.webhookId, application_id: this.applicationId } : {}),
      ...(metadata
        ? {
            interaction_metadata: metadata,
            interaction: { id: metadata.id, type: metadata.type, name: metadata.name, user: metadata.user },
          }
        : {}),
    };
  }

  // ===============================================================================================
  // Files served by the fake's "CDN"
  // ===============================================================================================

  private storeFile(filename: string, data: Buffer, contentType?: string): StoredFile {
    const stored: StoredFile = { id: snowflake(), filename, data, ...(contentType ? { contentType } : {}) };
    this.storedFiles.set(stored.id, stored);
    return stored;
  }

  /** Discord CDN URLs are signed with ex/is/hm query parameters; mimic the shape. */
  private fileUrl(file: StoredFile): string {
    const expires = Math.ceil((Date.now() + this.attachmentUrlLifetimeMs) / 1000);
    const signature = createHash('sha256').update(file.id).digest('hex');
    const query = `ex=${expires.toString(16)}&is=${(expires - 86_400).toString(16)}&hm=${signature}&`;
    return `${this.baseUrl}/attachments/${file.id}/${encodeURIComponent(file.filename)}?${query}`;
  }

  private serveFile(request: RecordedRequest): Reply {
    const [prefix, id, filename] = splitPath(request.route);
    const file = id ? this.storedFiles.get(id) : undefined;
    const expired = request.query.ex !== undefined && Number.parseInt(request.query.ex, 16) * 1000 < Date.now();
    if (request.method !== 'GET' || prefix !== 'attachments' || !file || file.filename !== filename || expired) {
      return { status: 404, body: Buffer.from('This content is no longer available.'), headers: { 'content-type': 'text/plain' } };
    }
    return { status: 200, body: file.data, headers: { 'content-type': file.contentType ?? 'application/octet-stream' } };
  }

  // ===============================================================================================
  // Static Discord objects
  // ===============================================================================================

  private botUserJson(): Record<string, unknown> {
    return {
      id: this.botUserId,
      username: 'Pika',
      discriminator: '0',
      global_name: null,
      avatar: null,
      bot: true,
      flags: 0,
      public_flags: 0,
      avatar_decoration_data: null,
    };
  }

  private applicationJson(): Record<string, unknown> {
    return {
      id: this.applicationId,
      name: 'Pika',
      icon: null,
      description: '',
      summary: '',
      type: null,
      bot_public: true,
      bot_require_code_grant: false,
      verify_key: createHash('sha256').update(this.applicationId).digest('hex'),
      flags: 0,
      team: null,
      owner: { id: this.ownerUserId, username: 'owner', discriminator: '0', global_name: 'Owner', avatar: null, public_flags: 0 },
      bot: this.botUserJson(),
      approximate_guild_count: 1,
      redirect_uris: [],
      interactions_endpoint_url: null,
      integration_types_config: { '0': {} },
      tags: [],
    };
  }

  private readyPayload(sessionId: string, shard: GatewayShard, guildIds: string[]): Record<string, unknown> {
    return {
      v: 10,
      user_settings: {},
      user: { ...this.botUserJson(), verified: true, mfa_enabled: false, email: null },
      session_type: 'normal',
      session_id: sessionId,
      resume_gateway_url: this.gatewayUrl,
      relationships: [],
      private_channels: [],
      presences: [],
      guilds: guildIds.map((id) => ({ id, unavailable: true })),
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
      application: { id: this.applicationId, flags: 0 },
      shard,
      _trace: ['["fake-discord",{"micros":0}]'],
    };
  }

  private isGuildRole(id: string): boolean {
    return id === this.guildId || id === this.botRoleId || this.guildRoles.has(id);
  }

  /** Stores a role in the guild and tells the connected (or next) client with GUILD_ROLE_CREATE. */
  private addGuildRole(id: string, input: RoleInput = {}): string {
    const role = {
      id,
      name: input.name ?? `role-${id.slice(-4)}`,
      // New roles go above the existing ones (@everyone is 0, the bot's role 1).
      position: this.guildRoles.size + 2,
      permissions: input.permissions ?? 0n,
    };
    this.guildRoles.set(id, role);
    this.dispatchEvent('GUILD_ROLE_CREATE', { guild_id: this.guildId, role: this.guildRoleJson(id) });
    return id;
  }

  /** A role of the guild as Discord sends it; a role id the fake does not know yet is created. */
  private guildRoleJson(id: string): Record<string, unknown> {
    if (!this.isGuildRole(id)) this.addGuildRole(id);
    return this.guildRolesJson().find((role) => role.id === id)!;
  }

  private roleJson(fields: {
    id: string;
    name: string;
    position: number;
    permissions: bigint;
    managed: boolean;
    tags?: unknown;
  }): Record<string, unknown> {
    return {
      id: fields.id,
      name: fields.name,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position: fields.position,
      permissions: String(fields.permissions),
      managed: fields.managed,
      mentionable: false,
      flags: 0,
      ...(fields.tags ? { tags: fields.tags } : {}),
    };
  }

  /** The guild as GET /guilds/:id returns it. */
  private guildJson(): Record<string, unknown> {
    return {
      id: this.guildId,
      name: 'Fake Guild',
      icon: null,
      icon_hash: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: this.ownerUserId,
      afk_channel_id: null,
      afk_timeout: 300,
      widget_enabled: false,
      widget_channel_id: null,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: this.guildRolesJson(),
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: this.channelId,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      max_presences: null,
      max_members: 500_000,
      max_video_channel_users: 25,
      max_stage_video_channel_users: 50,
      vanity_url_code: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      preferred_locale: 'en-US',
      nsfw_level: 0,
      nsfw: false,
      premium_progress_bar_enabled: false,
      incidents_data: null,
    };
  }

  private guildJsonFor(guildId: string): Record<string, unknown> {
    if (guildId !== this.guildId) throw fail.missingAccess();
    return this.guildJson();
  }

  private guildCreatePayload(): Record<string, unknown> {
    return {
      ...this.guildJson(),
      joined_at: this.joinedAt,
      large: false,
      unavailable: false,
      member_count: 2,
      lazy: true,
      voice_states: [],
      members: [
        {
          user: this.botUserJson(),
          roles: [this.botRoleId],
          joined_at: this.joinedAt,
          premium_since: null,
          nick: null,
          avatar: null,
          banner: null,
          communication_disabled_until: null,
          deaf: false,
          mute: false,
          flags: 0,
          pending: false,
        },
      ],
      channels: [this.textChannelJson(this.channelId, this.guildId)],
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      embedded_activities: [],
    };
  }

  private textChannelJson(channelId: string, guildId: string): Record<string, unknown> {
    return {
      id: channelId,
      type: 0,
      guild_id: guildId,
      name: channelId === this.channelId ? 'general' : `channel-${channelId.slice(-4)}`,
      position: 0,
      permission_overwrites: [],
      nsfw: false,
      parent_id: null,
      topic: null,
      last_message_id: null,
      rate_limit_per_user: 0,
      flags: 0,
    };
  }

  /**
   * A text channel of the guild an interaction was invoked in or names in a channel option;
   * invoking somewhere (or picking a channel) makes that channel exist for later routes.
   */
  private guildChannel(channelId: string, guildId: string): Record<string, any> {
    const existing = this.channels.get(channelId);
    if (existing) return existing;
    const channel = this.textChannelJson(channelId, guildId);
    this.channels.set(channelId, channel);
    return channel;
  }

  /** The bot's DM channel with `user` (one per user, as on Discord). */
  private dmChannelFor(user: { id: string }, channelId?: string): Record<string, any> {
    const isDmWithUser = (channel: Record<string, any>): boolean =>
      channel.type === 1 && channel.recipients?.[0]?.id === user.id && !this.privateChannelIds.has(channel.id);
    const existing = [...this.channels.values()].find(isDmWithUser);
    if (existing && (channelId === undefined || existing.id === channelId)) return existing;
    const channel = { id: channelId ?? snowflake(), type: 1, recipients: [user], flags: 0, last_message_id: null };
    this.channels.set(channel.id, channel);
    return channel;
  }

  /**
   * A channel as the bot token reaches it (GET /channels/:id and every channel route): 404 10003
   * when unknown, 403 50001 in a private channel or a guild the bot is not in.
   */
  private channelJson(channelId: string): Record<string, unknown> {
    const channel = this.channels.get(channelId);
    if (!channel) throw fail.unknownChannel();
    const inGuildWithoutBot = typeof channel.guild_id === 'string' && this.guildsWithoutBot.has(channel.guild_id);
    if (inGuildWithoutBot || this.privateChannelIds.has(channelId)) throw fail.missingAccess();
    return channel;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers used by FakeDiscord
// ---------------------------------------------------------------------------------------------

function ok(body: unknown): Reply {
  return { status: 200, body };
}

function noContent(): Reply {
  return { status: 204 };
}

function internalError(error: unknown): Reply {
  // A crash here is a bug in the fake, not in the bot: make it loud in the test output.
  console.error('[FakeDiscord] internal error:', error);
  return { status: 500, body: { message: `FakeDiscord internal error: ${String(error)}`, code: 0 } };
}

function rateLimitReply(route: string, retryAfterSeconds: number): Reply {
  const nowSeconds = Date.now() / 1000;
  const bucket = createHash('sha1').update(route.replace(/\d{17,19}/g, ':id')).digest('hex').slice(0, 32);
  return {
    status: 429,
    body: { message: 'You are being rate limited.', retry_after: retryAfterSeconds, global: false },
    headers: {
      'retry-after': String(retryAfterSeconds),
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': (nowSeconds + retryAfterSeconds).toFixed(3),
      'x-ratelimit-reset-after': retryAfterSeconds.toFixed(3),
      'x-ratelimit-bucket': bucket,
      'x-ratelimit-scope': 'user',
    },
  };
}

function sameCommand(command: any, definition: any): boolean {
  return command.name === definition?.name && (command.type ?? 1) === (definition?.type ?? 1);
}

/** The option definitions at a subcommand path ('group', 'sub'), or undefined when unknown. */
function optionDefinitionsAt(options: any[] | undefined, path: string[]): any[] | undefined {
  let level = options;
  for (const name of path) {
    level = level?.find((option: any) => option.name === name)?.options;
    if (!level) return undefined;
  }
  return level;
}

/** Nests leaf options under subcommand group / subcommand entries like Discord does. */
function wrapInSubcommands(path: string[], leaf: any[]): any[] {
  if (path.length === 0) return leaf;
  const [group, subcommand] = path;
  if (path.length === 1) return [{ name: group, type: OptionType.Subcommand, options: leaf }];
  return [
    {
      name: group,
      type: OptionType.SubcommandGroup,
      options: [{ name: subcommand, type: OptionType.Subcommand, options: leaf }],
    },
  ];
}

function inferOptionType(value: string | number | boolean): number {
  if (typeof value === 'boolean') return OptionType.Boolean;
  if (typeof value === 'number') return Number.isInteger(value) ? OptionType.Integer : OptionType.Number;
  return OptionType.String;
}

function coerceOptionValue(type: number, value: string | number | boolean): string | number | boolean {
  if ((type === OptionType.Integer || type === OptionType.Number) && typeof value === 'string') return Number(value);
  if (type === OptionType.String && typeof value !== 'string') return String(value);
  return value;
}

/** The users a message's content mentions that its `allowed_mentions` lets Discord ping. */
function pingedUserIds(content: string, allowedMentions: unknown): string[] {
  const mentioned = [...new Set([...content.matchAll(/<@!?(\d+)>/g)].map((match) => match[1]!))];
  if (!isPlainObject(allowedMentions)) return mentioned;
  if (Array.isArray(allowedMentions.parse) && allowedMentions.parse.includes('users')) return mentioned;
  const allowed = new Set(Array.isArray(allowedMentions.users) ? allowedMentions.users.map(String) : []);
  return mentioned.filter((id) => allowed.has(id));
}

/** The text inputs and selects of a modal, in order. */
function modalFields(modal: any): any[] {
  return modal.components.flatMap((entry: any) =>
    entry.type === ComponentType.ActionRow ? entry.components : entry.type === ComponentType.Label ? [entry.component] : [],
  );
}

/** One top-level component of a modal submit, in Discord's shape. */
function submittedEntry(entry: any, values: Record<string, string | string[]>): any {
  switch (entry.type) {
    case ComponentType.ActionRow:
      return { type: entry.type, id: entry.id, components: entry.components.map((input: any) => submittedField(input, values)) };
    case ComponentType.Label:
      return { type: entry.type, id: entry.id, component: submittedField(entry.component, values) };
    default:
      // Text displays carry nothing to submit; Discord still lists them.
      return { type: entry.type, id: entry.id };
  }
}

/** A text input's value or a select's chosen values: given, or else what the modal prefilled. */
function submittedField(field: any, values: Record<string, string | string[]>): any {
  const customId: string = field.custom_id;
  const given = values[customId];
  const refuse = (why: string): never => {
    const how = given === undefined ? 'left as the modal prefilled it' : `as ${JSON.stringify(given)}`;
    throw new Error(`submitModal: no user could submit "${customId}" ${how}: ${why}`);
  };
  if (field.type === ComponentType.TextInput) {
    if (Array.isArray(given)) refuse('it is a text input, which takes a string');
    const value: string = (given as string | undefined) ?? field.value ?? '';
    const length = textLength(value);
    const minLength = field.min_length ?? 0;
    const maxLength = textInputMaxLength(field);
    if (length === 0) {
      if (field.required !== false) refuse('it is required and would be empty');
    } else if (length < minLength || length > maxLength) {
      refuse(`it takes ${minLength}–${maxLength} characters, not ${length}`);
    }
    return { type: field.type, id: field.id, custom_id: customId, value };
  }
  if (typeof given === 'string') refuse('it is a select, which takes an array of option values');
  const optionValues: string[] = field.options.map((option: any) => option.value);
  const chosen: string[] =
    (given as string[] | undefined) ??
    field.options.filter((option: any) => option.default === true).map((option: any) => option.value);
  const notOffered = chosen.filter((value) => !optionValues.includes(value));
  if (notOffered.length > 0) refuse(`${JSON.stringify(notOffered)} not among its options ${JSON.stringify(optionValues)}`);
  if (new Set(chosen).size !== chosen.length) refuse('an option can be chosen only once');
  const [minValues, maxValues] = [selectMinValues(field), selectMaxValues(field)];
  const skipped = chosen.length === 0 && field.required === false;
  if (!skipped && (chosen.length < minValues || chosen.length > maxValues)) {
    refuse(`it takes ${minValues}–${maxValues} values, not ${chosen.length}`);
  }
  return { type: field.type, id: field.id, custom_id: customId, values: chosen };
}

function userStub(id: string): Record<string, unknown> {
  return { id, username: `user${id.slice(-4)}`, discriminator: '0', global_name: null, avatar: null, public_flags: 0 };
}

import { PermissionFlagsBits } from 'discord.js';
import { DEFAULT_MEMBER_PERMISSIONS, type FakeInteraction } from '../fakes/discord.js';
import { waitSettled, type World } from './world.js';

export const MODERATOR_PERMISSIONS = DEFAULT_MEMBER_PERMISSIONS | PermissionFlagsBits.ManageGuild;

let nextUser = 0n;
/** A fresh user id, so tests don't share allowances by accident. */
export function newUserId(): string {
  nextUser++;
  return String(200_000_000_000_000_000n + nextUser * 1000n + BigInt(process.pid % 1000));
}

/** The text of an interaction's first response (ephemeral answers live there). */
export async function firstAnswer(interaction: FakeInteraction): Promise<string> {
  await interaction.waitFor((i) => i.callbacks.length > 0, 10_000);
  return String(interaction.callbacks[0]!.data?.content ?? '');
}

/** Runs `/pika-admin <subcommand>` as a moderator and returns the ephemeral answer. */
export async function admin(world: World, subcommand: string, options: Record<string, string | number | boolean> = {}, guildId?: string): Promise<string> {
  const interaction = await world.discord.chatInput({
    name: 'pika-admin',
    subcommand,
    options,
    memberPermissions: MODERATOR_PERMISSIONS,
    ...(guildId ? { guildId } : {}),
  });
  const answer = await firstAnswer(interaction);
  if (!interaction.ephemeral) throw new Error(`/pika-admin ${subcommand} answered publicly: ${answer}`);
  return answer;
}

export async function quota(world: World, userId: string): Promise<string> {
  return firstAnswer(await world.discord.chatInput({ name: 'pika', subcommand: 'quota', userId }));
}

/** `/pika text` by `userId`; resolves once the command is answered (not when the video is done). */
export function askForVideo(world: World, userId: string, prompt = 'a quiet lake at dawn', guildId?: string): Promise<FakeInteraction> {
  return world.discord.chatInput({ name: 'pika', subcommand: 'text', options: { prompt }, userId, ...(guildId ? { guildId } : {}) });
}

export async function videoFor(world: World, userId: string, prompt?: string): Promise<FakeInteraction> {
  const interaction = await askForVideo(world, userId, prompt);
  await interaction.waitFor((i) => i.callbacks.length > 0, 10_000);
  if (interaction.callbacks[0]!.type === 5) await waitSettled(interaction);
  return interaction;
}

/**
 * Draws docs/pika-in-use.png: the bot's real progress and delivery messages (rendered by
 * src/discord/messages.ts), laid out the way Discord shows them. Needs Chromium:
 *   apt-get install chromium && node --import tsx docs/screenshot.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIEmbed } from 'discord.js';
import { renderDelivery, renderNotice, renderProgress, toDisplayRequest, type MessageBody } from '../src/discord/messages.js';
import { checkGenerationOptions } from '../src/pika/request.js';
/** A job id as the bot makes them (a UUID). */
const JOB_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

const defaults = { model: '1.5', aspectRatio: '16:9', frameRate: 24, guidanceScale: 12, motion: 1, ingredientsMode: 'precise' } as const;
const request = toDisplayRequest(
  checkGenerationOptions('text', { prompt: 'A red fox leaps over a frozen stream at dawn, cinematic', model: '2.0', pikaffect: 'Levitate', camera: 'zoom_in', images: [] }, defaults, 1),
);
const progress = renderProgress(request, { status: 'generating', progress: 64, posterUrl: undefined }, 52_000, 'en-US');
const done = renderDelivery(request, '1', { seed: 3183047765, durationSeconds: 5, resultUrl: 'https://cdn.example/v.mp4', sizeBytes: 2_400_000, attachmentName: 'pika-3183047765.mp4' }, 94_000, 'en-US', JOB_ID);

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
/** Discord hides the backslash of an escape; so does this preview. */
const shown = (text: string) => escape(text.replace(/\\(.)/g, '$1')).replace(/`([^`]+)`/g, '<code>$1</code>');

function embedHtml(embed: APIEmbed): string {
  const fields = (embed.fields ?? [])
    .map((f) => `<div class="field${f.inline ? ' inline' : ''}"><b>${shown(f.name)}</b><div>${shown(f.value)}</div></div>`)
    .join('');
  const color = `#${(embed.color ?? 0).toString(16).padStart(6, '0')}`;
  return `<div class="embed" style="border-color:${color}"><div class="title">${shown(embed.title ?? '')}</div><div class="desc">${shown(embed.description ?? '')}</div><div class="fields">${fields}</div></div>`;
}

function buttonsHtml(body: MessageBody): string {
  const buttons = body.components.flatMap((row) => row.components);
  if (buttons.length === 0) return '';
  return `<div class="buttons">${buttons.map((b) => `<span class="btn">${'emoji' in b && b.emoji?.name ? `${b.emoji.name} ` : ''}${escape('label' in b ? (b.label ?? '') : '')}</span>`).join('')}</div>`;
}

function message(body: MessageBody, extra = ''): string {
  const content = escape(body.content).replace('&lt;@1>', '<span class="mention">@ana</span>').replace(/(https:\/\/\S+)/, '<span class="link">$1</span>');
  return `<div class="msg"><div class="avatar">P</div><div><div class="who">Pika <span class="tag">APP</span></div>${content ? `<div>${content}</div>` : ''}${body.embeds.map(embedHtml).join('')}${extra}${buttonsHtml(body)}</div></div>`;
}

const video = '<div class="video">▶ pika-3183047765.mp4 · 2.3 MB</div>';
const notice = renderNotice('1', { outcome: 'ready', messageUrl: 'https://discord.com/channels/1/2/3' }, 'en-US');
const html = `<!doctype html><meta charset="utf-8"><style>
body{margin:0;background:#313338;color:#dbdee1;font:15px/1.4 "DejaVu Sans",sans-serif;padding:16px;width:640px}
.cmd{color:#949ba4;font-size:13px;margin:0 0 4px 56px}.msg{display:flex;gap:16px;margin-bottom:18px}
.avatar{width:40px;height:40px;border-radius:50%;background:#5865f2;color:#fff;display:flex;align-items:center;justify-content:center;font-weight:bold;flex:none}
.who{color:#f2f3f5;font-weight:600}.tag{background:#5865f2;color:#fff;font-size:10px;padding:1px 4px;border-radius:3px}
.embed{background:#2b2d31;border-left:4px solid;border-radius:4px;padding:10px 14px;margin-top:6px;max-width:520px}
.title{color:#f2f3f5;font-weight:600;margin-bottom:6px}.desc{margin-bottom:8px}.fields{display:flex;flex-wrap:wrap;gap:6px 18px}
.field{flex:1 1 100%}.field.inline{flex:0 0 auto;min-width:110px}.field b{color:#f2f3f5;font-size:13px}
code{background:#1e1f22;padding:0 3px;border-radius:3px}.mention{background:#3c4270;color:#c9cdfb;border-radius:3px;padding:0 2px}
.buttons{display:flex;gap:8px;margin-top:8px}.btn{background:#4e5058;color:#fff;border-radius:4px;padding:4px 12px;font-size:14px}
.link{color:#00a8fc}
.video{margin-top:6px;background:#000;color:#fff;width:360px;height:120px;border-radius:6px;display:flex;align-items:center;justify-content:center}
</style>
<div class="cmd">ana used /pika text</div>${message(progress)}
<div class="cmd">…a minute later, the same reply, with buttons to re-roll, remix, delete or see the details:</div>${message(done, video)}
<div class="cmd">…and a new message, so that ana is notified wherever she is:</div>${message(notice)}`;

const dir = mkdtempSync(join(tmpdir(), 'pika-shot-'));
const page = join(dir, 'page.html');
writeFileSync(page, html);
const out = fileURLToPath(new URL('pika-in-use.png', import.meta.url));
execFileSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'profile')}`, `--screenshot=${out}`, '--window-size=672,860', `file://${page}`], { stdio: 'ignore' });
console.log(`wrote ${out}`);

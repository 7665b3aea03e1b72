// The bare bot `npm run bench` measures pika-discord against: the least a discord.js bot can do
// for `/pika text` (defer, one generate call, poll the feed, edit the reply) and nothing else: no
// limits, no records, no moderation, no upload. Plain JavaScript, so it runs without a compiler,
// as the project's compiled bot does. Interaction routes are exempt from Discord's global rate
// limit; the REST client's own global cap is lifted here as the project lifts it for them.
import { Client, Events, GatewayIntentBits } from 'discord.js';
import { request } from 'undici';

const env = process.env;
const pollIntervalMs = Number(env.POLL_INTERVAL_MS ?? 5000);
const pika = (method, path, body) =>
  request(`${env.PIKA_API_URL}${path}`, {
    method,
    headers: { authorization: `Bearer ${env.PIKA_API_KEY}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  }).then((response) => response.body.json());

const client = new Client({
  intents: [GatewayIntentBits.Guilds],
  rest: { api: env.DISCORD_API_URL, globalRequestsPerSecond: Number.POSITIVE_INFINITY },
});

client.on(Events.InteractionCreate, async (interaction) => {
  if (!interaction.isChatInputCommand()) return;
  try {
    await interaction.deferReply();
    const { id } = await pika('POST', '/pika/generate', {
      pikaffect: '',
      promptText: interaction.options.getString('prompt', true),
      model: '1.5',
      options: { aspectRatio: 16 / 9, frameRate: 24, camera: {}, parameters: { guidanceScale: 12, motion: 1, negativePrompt: '' }, extend: false },
    });
    let shown = -1;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
      const video = (await pika('GET', `/pika/feed/${id}`)).videos?.[0];
      if (video?.status === 'finished') {
        await interaction.editReply({ embeds: [{ title: '✅ Done', description: video.resultUrl, fields: [{ name: 'Seed', value: String(video.seed) }] }] });
        return;
      }
      if (video && video.progress !== shown) {
        shown = video.progress;
        await interaction.editReply({ embeds: [{ title: `⏳ ${shown}%` }] });
      }
    }
  } catch (error) {
    await interaction.editReply({ embeds: [{ title: '❌ Failed' }] }).catch(() => {});
    console.error(error);
  }
});

client.once(Events.ClientReady, async (ready) => {
  await ready.application.commands.set(
    [{ name: 'pika', description: 'Make a video', options: [{ type: 1, name: 'text', description: 'From a prompt', options: [{ type: 3, name: 'prompt', description: 'What to show', required: true }] }] }],
    env.DEV_GUILD_ID,
  );
  console.log('bare bot ready');
});

process.on('SIGTERM', () => void client.destroy().then(() => process.exit(0)));
await client.login(env.DISCORD_TOKEN);

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Routes } from 'discord.js';
import { isInteractionRoute } from '../../src/discord/rest.js';

const APP = '1098765432109876543';
const TOKEN = 'aW50ZXJhY3Rpb246MTA5ODc2NTQzMjEwOTg3NjU0Mzp0b2tlbg.abc-DEF_123';

describe('isInteractionRoute', () => {
  test('interaction callbacks are interaction routes', () => {
    assert.equal(isInteractionRoute('/interactions/123/tok/callback'), true);
    assert.equal(isInteractionRoute(Routes.interactionCallback(APP, TOKEN)), true);
  });

  test('interaction webhooks (original response and follow-ups) are interaction routes', () => {
    assert.equal(isInteractionRoute(Routes.webhook(APP, TOKEN)), true);
    assert.equal(isInteractionRoute(Routes.webhookMessage(APP, TOKEN)), true); // @original
    assert.equal(isInteractionRoute(Routes.webhookMessage(APP, TOKEN, '1234567890123456789')), true);
    assert.equal(isInteractionRoute(`/webhooks/${APP}/${TOKEN}/messages/@original`), true);
  });

  test('bot-authenticated routes are not', () => {
    for (const route of [
      Routes.channelMessages('123456789012345678'),
      Routes.channelMessage('123456789012345678', '223456789012345678'),
      Routes.applicationCommands(APP),
      Routes.applicationGuildCommands(APP, '323456789012345678'),
      Routes.user('@me'),
      Routes.gatewayBot(),
      Routes.channelWebhooks('123456789012345678'),
      Routes.guildWebhooks('123456789012345678'),
      `/webhooks/${APP}`, // a webhook by id alone is fetched with the bot token
      '/interactions/123/tok', // no callback
      '/interactions/abc/tok/callback', // not a snowflake
      '/api/v10/interactions/123/tok/callback', // routes are relative to the versioned base
      '',
    ]) {
      assert.equal(isInteractionRoute(route), false, route);
    }
  });
});

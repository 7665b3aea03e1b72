import type { ComponentHandler } from '../src/discord/component.js';
import { answerInPlace } from '../src/discord/ephemeral-answer.js';
import { historyView } from '../src/discord/history-view.js';

/** ◀ Newer / Older ▶ on a history page: the same ephemeral message shows the page asked for. */
export const historyPage: ComponentHandler<'history'> = {
  action: 'history',
  async button(interaction, { userId, page }, ctx) {
    await answerInPlace(interaction, historyView(interaction, ctx, userId, page));
  },
};

import type { ComponentHandler } from '../src/discord/component.js';
import { cancel } from './cancel.js';
import { deleteVideo } from './delete.js';
import { details } from './details.js';
import { historyPage } from './history.js';
import { remix } from './remix.js';
import { reroll } from './reroll.js';

/** Every button (and modal) the bot answers, by the action its custom id names. */
export const components: readonly ComponentHandler<any>[] = [reroll, remix, deleteVideo, details, historyPage, cancel];

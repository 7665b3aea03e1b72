import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageFlags, type MessageComponentInteraction, type RepliableInteraction } from 'discord.js';
import { answerEphemerally, answerInPlace } from '../../src/discord/ephemeral-answer.js';

/** What the answer sent to Discord, in order. */
function recordingInteraction(ageMs = 0) {
  const calls: Array<[method: string, options: unknown]> = [];
  const record = (method: string) => async (options: unknown) => void calls.push([method, options]);
  const interaction = {
    createdTimestamp: Date.now() - ageMs,
    reply: record('reply'),
    deferReply: record('deferReply'),
    editReply: record('editReply'),
    update: record('update'),
    deferUpdate: record('deferUpdate'),
  } as unknown as RepliableInteraction & MessageComponentInteraction;
  return { interaction, calls };
}

describe('answerEphemerally', () => {
  test('an answer ready in time is the first response itself, ephemeral, pinging no one', async () => {
    const { interaction, calls } = recordingInteraction();
    await answerEphemerally(interaction, sleep(5).then(() => 'Today: 3 videos'), 200);
    assert.deepEqual(calls, [['reply', { content: 'Today: 3 videos', flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } }]]);
  });

  test('a slow answer is deferred ephemerally first, then edited in', async () => {
    const { interaction, calls } = recordingInteraction();
    let deferredBeforeTheAnswer = false;
    const answer = sleep(120).then(() => {
      deferredBeforeTheAnswer = calls.some(([method]) => method === 'deferReply');
      return 'Today: 3 videos';
    });
    await answerEphemerally(interaction, answer, 20);
    assert.equal(deferredBeforeTheAnswer, true);
    assert.deepEqual(calls, [
      ['deferReply', { flags: MessageFlags.Ephemeral }],
      ['editReply', { content: 'Today: 3 videos', allowedMentions: { parse: [] } }],
    ]);
  });

  test('a message of its own (a page with buttons) goes as it is, in time or after the deferral, with its own mentions', async () => {
    const page = { content: 'Your videos', embeds: [{ title: 'Page 1' }], components: [], allowedMentions: { parse: [], users: ['42'] } };
    const quick = recordingInteraction();
    await answerEphemerally(quick.interaction, Promise.resolve(page), 200);
    assert.deepEqual(quick.calls, [['reply', { ...page, flags: MessageFlags.Ephemeral }]]);

    const slow = recordingInteraction();
    await answerEphemerally(slow.interaction, sleep(80).then(() => page), 20);
    assert.deepEqual(slow.calls, [
      ['deferReply', { flags: MessageFlags.Ephemeral }],
      ['editReply', page],
    ]);
  });

  test('the time the interaction took to arrive counts: an old one is deferred sooner', async () => {
    const { interaction, calls } = recordingInteraction(1000);
    // An answer 200 ms away is in time with 1.1 s allowed, but not for an interaction already 1 s old.
    await answerEphemerally(interaction, sleep(200).then(() => 'Today: 3 videos'), 1100);
    assert.deepEqual(calls.map(([method]) => method), ['deferReply', 'editReply']);
  });

  test('a failure rejects as the answer does, before the deferral (nothing sent) or after it', async () => {
    const early = recordingInteraction();
    await assert.rejects(answerEphemerally(early.interaction, Promise.reject(new Error('refused')), 200), /refused/);
    assert.deepEqual(early.calls, []);

    const late = recordingInteraction();
    await assert.rejects(answerEphemerally(late.interaction, sleep(80).then(() => Promise.reject(new Error('store down'))), 20), /store down/);
    assert.deepEqual(late.calls, [['deferReply', { flags: MessageFlags.Ephemeral }]]);
  });
});

describe('answerInPlace', () => {
  const page = { content: 'Your videos', embeds: [{ title: 'Page 2' }], components: [], allowedMentions: { parse: [] } };

  test('a page ready in time is the button’s answer itself: the message it is on shows it', async () => {
    const { interaction, calls } = recordingInteraction();
    await answerInPlace(interaction, sleep(5).then(() => page), 200);
    assert.deepEqual(calls, [['update', page]]);
  });

  test('a slow page defers the update first, then edits the message in place', async () => {
    const { interaction, calls } = recordingInteraction();
    let deferredBeforeThePage = false;
    const answer = sleep(120).then(() => {
      deferredBeforeThePage = calls.some(([method]) => method === 'deferUpdate');
      return page;
    });
    await answerInPlace(interaction, answer, 20);
    assert.equal(deferredBeforeThePage, true);
    assert.deepEqual(calls, [
      ['deferUpdate', undefined],
      ['editReply', page],
    ]);
  });

  test('a failure rejects as the page does, before the deferral (nothing sent) or after it', async () => {
    const early = recordingInteraction();
    await assert.rejects(answerInPlace(early.interaction, Promise.reject(new Error('not yours')), 200), /not yours/);
    assert.deepEqual(early.calls, []);

    const late = recordingInteraction();
    await assert.rejects(answerInPlace(late.interaction, sleep(80).then(() => Promise.reject(new Error('store down'))), 20), /store down/);
    assert.deepEqual(late.calls, [['deferUpdate', undefined]]);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkPolicy,
  containsBannedWord,
  emptyModeration,
  normalizeBannedWord,
  roleEffect,
  sameBannedWord,
  type ModerationSettings,
  type Requester,
  type RoleRule,
} from '../../src/moderation/policy.js';

const USER = '100';
const ROLE = '200';
const CHANNEL = '300';
const OTHER_CHANNEL = '301';
const THREAD = '302';

const requester = (fields: Partial<Requester> = {}): Requester => ({
  userId: USER,
  roleIds: [],
  channelId: CHANNEL,
  parentChannelId: null,
  ...fields,
});

const settings = (fields: Partial<ModerationSettings> = {}): ModerationSettings => ({ ...emptyModeration(), ...fields });

/** Settings where every rule refuses the default requester with a banned-word prompt. */
const EVERY_RULE = settings({
  blocked: { [USER]: { reason: 'spam', by: '1', at: 0 } },
  requiredRoleId: ROLE,
  allowedChannelIds: [OTHER_CHANNEL],
  bannedWords: ['cat'],
});

/** `containsBannedWord` with the words as a moderator typed them (stored normalized, like `/pika-admin words add`). */
const banned = (text: string, ...words: string[]) => containsBannedWord(text, words.map(normalizeBannedWord));

describe('checkPolicy', () => {
  test('nothing set: everyone, everywhere, any text', () => {
    assert.equal(checkPolicy(emptyModeration(), requester(), ['a cat', 'anything']), null);
    assert.equal(checkPolicy(emptyModeration(), requester()), null);
  });

  test('the rules apply in order: blocked, required role, channel, banned words', () => {
    const texts = ['a cat'];
    assert.deepEqual(checkPolicy(EVERY_RULE, requester(), texts), { rule: 'blocked', reason: 'spam' });
    const unblocked = { ...EVERY_RULE, blocked: {} };
    assert.deepEqual(checkPolicy(unblocked, requester(), texts), { rule: 'required-role', roleId: ROLE });
    assert.deepEqual(checkPolicy(unblocked, requester({ roleIds: [ROLE] }), texts), { rule: 'channel', allowedChannelIds: [OTHER_CHANNEL] });
    assert.deepEqual(checkPolicy(unblocked, requester({ roleIds: [ROLE], channelId: OTHER_CHANNEL }), texts), { rule: 'banned-word' });
    assert.equal(checkPolicy(unblocked, requester({ roleIds: [ROLE], channelId: OTHER_CHANNEL }), ['a dog']), null);
  });

  test('blocked: with or without a reason; only that user', () => {
    const withReason = settings({ blocked: { [USER]: { reason: 'spam', by: '1', at: 0 } } });
    assert.deepEqual(checkPolicy(withReason, requester()), { rule: 'blocked', reason: 'spam' });
    assert.equal(checkPolicy(withReason, requester({ userId: '101' })), null);
    const noReason = settings({ blocked: { [USER]: { reason: null, by: '1', at: 0 } } });
    assert.deepEqual(checkPolicy(noReason, requester()), { rule: 'blocked', reason: null });
  });

  test('required role: refused without it, allowed with it among others', () => {
    const required = settings({ requiredRoleId: ROLE });
    assert.deepEqual(checkPolicy(required, requester({ roleIds: ['201', '202'] })), { rule: 'required-role', roleId: ROLE });
    assert.equal(checkPolicy(required, requester({ roleIds: ['201', ROLE] })), null);
    assert.equal(checkPolicy(settings({ requiredRoleId: null }), requester()), null);
  });

  test('channels: allowed ones and their threads only; an empty list allows everywhere', () => {
    const allowed = settings({ allowedChannelIds: [CHANNEL, '303'] });
    assert.equal(checkPolicy(allowed, requester({ channelId: CHANNEL })), null);
    assert.equal(checkPolicy(allowed, requester({ channelId: '303' })), null);
    assert.deepEqual(checkPolicy(allowed, requester({ channelId: OTHER_CHANNEL })), { rule: 'channel', allowedChannelIds: [CHANNEL, '303'] });
    // A thread of an allowed channel is allowed; a thread of another channel is not.
    assert.equal(checkPolicy(allowed, requester({ channelId: THREAD, parentChannelId: CHANNEL })), null);
    assert.deepEqual(checkPolicy(allowed, requester({ channelId: THREAD, parentChannelId: OTHER_CHANNEL })), {
      rule: 'channel',
      allowedChannelIds: [CHANNEL, '303'],
    });
    // An allowed thread itself is allowed, whatever its parent.
    assert.equal(checkPolicy(settings({ allowedChannelIds: [THREAD] }), requester({ channelId: THREAD, parentChannelId: OTHER_CHANNEL })), null);
    assert.equal(checkPolicy(settings({ allowedChannelIds: [] }), requester({ channelId: OTHER_CHANNEL })), null);
  });

  test('banned words: every text is checked (prompt and negative prompt); empty texts pass', () => {
    const words = settings({ bannedWords: ['cat'] });
    assert.deepEqual(checkPolicy(words, requester(), ['a dog', 'no CAT please']), { rule: 'banned-word' });
    assert.deepEqual(checkPolicy(words, requester(), ['Cat!', '']), { rule: 'banned-word' });
    assert.equal(checkPolicy(words, requester(), ['concatenate', '']), null);
    assert.equal(checkPolicy(words, requester(), ['', '']), null);
    assert.equal(checkPolicy(words, requester(), []), null);
  });

  test('does not change the settings it is given', () => {
    const before = structuredClone(EVERY_RULE);
    checkPolicy(EVERY_RULE, requester(), ['a cat']);
    assert.deepEqual(EVERY_RULE, before);
  });
});

describe('containsBannedWord', () => {
  test('no banned words: nothing matches', () => {
    assert.equal(containsBannedWord('anything at all', []), false);
  });

  test('whole words only, any case', () => {
    assert.equal(banned('A CAT runs', 'Cat'), true);
    assert.equal(banned('cat', 'cat'), true);
    assert.equal(banned('Cat!', 'cat'), true);
    assert.equal(banned('(cat)', 'cat'), true);
    assert.equal(banned('cat-dog', 'cat'), true);
    assert.equal(banned('a cat.', 'cat'), true);
    assert.equal(banned('concatenate', 'cat'), false);
    assert.equal(banned('cats', 'cat'), false);
    assert.equal(banned('tomcat', 'cat'), false);
    assert.equal(banned('cat1', 'cat'), false, 'digits are word characters');
    assert.equal(banned('cat_dog', 'cat'), false, 'underscore is a word character');
  });

  test('any of several words', () => {
    assert.equal(banned('a dog and a bird', 'cat', 'bird'), true);
    assert.equal(banned('a dog and a fish', 'cat', 'bird'), false);
  });

  test('NFKC: fullwidth and compatibility forms match, in the text and in the word', () => {
    assert.equal(banned('ＣＡＴ', 'cat'), true);
    assert.equal(banned('a ｃａｔ runs', 'cat'), true);
    assert.equal(banned('a cat runs', 'ｃａｔ'), true);
    assert.equal(banned('\u212Aelvin', 'kelvin'), true, 'KELVIN SIGN is K');
    assert.equal(banned('ﬁsh', 'fish'), true, 'the fi ligature');
  });

  test('multi-word phrases match across any whitespace, but not glued together', () => {
    assert.equal(banned('a Bad   Phrase here', 'bad phrase'), true);
    assert.equal(banned('bad\n\tphrase', 'bad phrase'), true);
    assert.equal(banned('bad phrase', '  Bad   PHRASE  '), true);
    assert.equal(banned('badphrase', 'bad phrase'), false);
    assert.equal(banned('bad phrases', 'bad phrase'), false);
    assert.equal(banned('bad', 'bad phrase'), false);
  });

  test('regex special characters in words are literal', () => {
    assert.equal(banned('I like C++.', 'c++'), true);
    assert.equal(banned('c++', 'c++'), true);
    assert.equal(banned('I like c', 'c++'), false);
    assert.equal(banned('abc++', 'c++'), false);
    assert.equal(banned('a.b', 'a.b'), true);
    assert.equal(banned('axb', 'a.b'), false, '. is not a wildcard');
    assert.equal(banned('(x)', '(x)'), true);
    assert.equal(banned('x', '(x)'), false);
    assert.equal(banned('a|b', 'a|b'), true);
    assert.equal(banned('a', 'a|b'), false, '| is not an alternation');
    assert.equal(banned('$5 [deal]', '$5'), true);
    assert.equal(banned('5', '$5'), false);
    assert.equal(banned('a\\b', 'a\\b'), true);
    assert.equal(banned('x*', 'x*'), true);
    assert.equal(banned('xx', 'x*'), false);
    assert.equal(banned('^up', '^up'), true);
    assert.equal(banned('up', '^up'), false);
    assert.doesNotThrow(() => banned('text', '[', '(', '?', '{2}', '\\'));
    assert.equal(banned('text', '[', '(', '?', '{2}', '\\'), false);
  });

  test('Unicode letters are word characters', () => {
    assert.equal(banned('un café, merci', 'café'), true);
    assert.equal(banned('UN CAFÉ', 'café'), true);
    assert.equal(banned('cafés', 'café'), false);
    assert.equal(banned('décafé', 'café'), false);
    assert.equal(banned('café', 'caf'), false, 'é continues the word');
    assert.equal(banned('cafe\u0301', 'café'), true, 'a decomposed é is composed first');
    assert.equal(banned('кошка', 'кошк'), false);
    assert.equal(banned('Большая КОШКА', 'кошка'), true);
    assert.equal(banned('猫です', '猫'), false, 'CJK letters are word characters too');
    assert.equal(banned('猫 です', '猫'), true);
    assert.equal(banned('Straße', 'STRASSE'.toLowerCase()), false, 'no full case folding');
  });

  test(
    'a word whose lower case is longer than itself (İ) still matches itself',
    {},
    () => {
      assert.equal(banned('İstanbul', 'İstanbul'), true);
    },
  );

  test(
    'invisible format characters do not hide a banned word',
    {},
    () => {
      assert.equal(banned('c\u200Bat', 'cat'), true);
      assert.equal(banned('c\u00ADat', 'cat'), true);
      assert.equal(banned('\uFEFFc\u2060a\u200Dt\u200C', 'cat'), true);
      assert.equal(banned('bad \u200Bphrase', 'bad phrase'), true);
      // In the word as typed too.
      assert.equal(banned('a cat', 'c\u200Bat'), true);
      // Removed, not turned into a boundary: what reads as one longer word is not the banned one.
      assert.equal(banned('con\u200Bcat\u200Benate', 'cat'), false);
    },
  );
});

describe('normalizeBannedWord', () => {
  test('NFKC, invisible format characters removed, trimmed, inner whitespace collapsed to one space, case kept', () => {
    assert.equal(normalizeBannedWord('  Cat  '), 'Cat');
    assert.equal(normalizeBannedWord('ＣＡＴ'), 'CAT');
    assert.equal(normalizeBannedWord('Bad \t\n  Phrase'), 'Bad Phrase');
    assert.equal(normalizeBannedWord('CAFÉ'), 'CAFÉ');
    assert.equal(normalizeBannedWord('cafe\u0301'), 'café');
    assert.equal(normalizeBannedWord('C++'), 'C++');
    assert.equal(normalizeBannedWord('\u3000cat\u3000'), 'cat', 'ideographic spaces');
    assert.equal(normalizeBannedWord('İstanbul'), 'İstanbul', 'İ is not lower-cased to i + combining dot');
    assert.equal(normalizeBannedWord('c\u200Ba\u00ADt'), 'cat', 'zero-width space and soft hyphen');
    assert.equal(normalizeBannedWord('\uFEFF bad \u2060 phrase \u200D'), 'bad phrase', 'removed before trimming and collapsing');
  });

  test('blank words normalize to the empty string', () => {
    assert.equal(normalizeBannedWord(''), '');
    assert.equal(normalizeBannedWord(' \t\n '), '');
    assert.equal(normalizeBannedWord('\u200B'), '');
    assert.equal(normalizeBannedWord(' \u200B\u00AD '), '');
  });

  test('is idempotent, so a stored word stays as stored', () => {
    for (const word of ['  Cat ', 'ＢＡＤ　phrase', 'C++', 'Café', 'a.b', 'İstanbul', 'c\u200Bat']) {
      const once = normalizeBannedWord(word);
      assert.equal(normalizeBannedWord(once), once, word);
    }
    assert.equal(normalizeBannedWord('bad  phrase'), normalizeBannedWord('bad phrase'));
    assert.equal(normalizeBannedWord('ＣＡＴ'), normalizeBannedWord('CAT'));
    // Case is not normalized away: sameBannedWord decides that two spellings are one word.
    assert.notEqual(normalizeBannedWord('CAT'), normalizeBannedWord('cat'));
  });

  test('a normalized word still matches what the moderator typed', () => {
    for (const word of ['Cat', 'Bad  Phrase', 'C++', 'Café', 'ＣＡＴ', 'İstanbul', 'c\u200Bat']) {
      assert.equal(containsBannedWord(word, [normalizeBannedWord(word)]), true, word);
    }
  });
});

describe('sameBannedWord', () => {
  test('case is ignored: the same word in another case is a duplicate, and removes it', () => {
    assert.equal(sameBannedWord('cat', 'cat'), true);
    assert.equal(sameBannedWord('Cat', 'cAT'), true);
    assert.equal(sameBannedWord('CAFÉ', 'café'), true);
    assert.equal(sameBannedWord('Bad Phrase', 'bad phrase'), true);
    assert.equal(sameBannedWord('İSTANBUL', 'İstanbul'), true);
    assert.equal(sameBannedWord('КОШКА', 'кошка'), true);
  });

  test('anything but case makes another word', () => {
    assert.equal(sameBannedWord('cafe', 'café'), false, 'accents count');
    assert.equal(sameBannedWord('cat', 'cats'), false);
    assert.equal(sameBannedWord('cat', 'dog'), false);
    assert.equal(sameBannedWord('bad phrase', 'badphrase'), false);
    assert.equal(sameBannedWord('a.b', 'ab'), false);
    assert.equal(sameBannedWord('c++', 'c+'), false);
    assert.equal(sameBannedWord('cat', ''), false);
  });

  test('on normalized words, agrees with matching: one word exactly when each matches the other', () => {
    const words = ['Cat', 'cAT', 'CAT', 'cats', 'Café', 'CAFÉ', 'cafe', 'Bad Phrase', 'bad phrase', 'badphrase', 'İstanbul', 'İSTANBUL', 'C++', 'c++', 'c+'];
    for (const a of words.map(normalizeBannedWord)) {
      for (const b of words.map(normalizeBannedWord)) {
        const matches = containsBannedWord(a, [b]) && containsBannedWord(b, [a]);
        assert.equal(sameBannedWord(a, b), matches, `${a} / ${b}`);
      }
    }
  });
});

describe('roleEffect', () => {
  const roles: Record<string, RoleRule> = {
    three: { dailyLimit: 3 },
    five: { dailyLimit: 5, weeklyLimit: 10 },
    unlimited: { dailyLimit: null },
    weeklyUnlimited: { weeklyLimit: null },
    exempt: { exempt: true },
    notExempt: { exempt: false, dailyLimit: 2 },
    empty: {},
  };

  test('no roles, or roles without rules: no effect', () => {
    const none = { exempt: false, dailyLimit: undefined, weeklyLimit: undefined };
    assert.deepEqual(roleEffect(roles, []), none);
    assert.deepEqual(roleEffect(roles, ['nobody', 'nothing']), none);
    assert.deepEqual(roleEffect(roles, ['empty']), none);
    assert.deepEqual(roleEffect({}, ['three']), none);
  });

  test('one role: its own allowance', () => {
    assert.deepEqual(roleEffect(roles, ['three']), { exempt: false, dailyLimit: 3, weeklyLimit: undefined });
    assert.deepEqual(roleEffect(roles, ['five', 'nobody']), { exempt: false, dailyLimit: 5, weeklyLimit: 10 });
  });

  test('several roles: the most generous daily and weekly, each on its own', () => {
    assert.deepEqual(roleEffect(roles, ['three', 'five']), { exempt: false, dailyLimit: 5, weeklyLimit: 10 });
    assert.deepEqual(roleEffect(roles, ['five', 'three']), { exempt: false, dailyLimit: 5, weeklyLimit: 10 });
    assert.deepEqual(roleEffect(roles, ['three', 'notExempt']), { exempt: false, dailyLimit: 3, weeklyLimit: undefined });
    // A role that sets only the weekly allowance leaves the daily one to the others.
    assert.deepEqual(roleEffect(roles, ['three', 'weeklyUnlimited']), { exempt: false, dailyLimit: 3, weeklyLimit: null });
    assert.deepEqual(roleEffect(roles, ['empty', 'three']), { exempt: false, dailyLimit: 3, weeklyLimit: undefined });
  });

  test('unlimited (null) beats any number, in any order', () => {
    assert.equal(roleEffect(roles, ['three', 'unlimited', 'five']).dailyLimit, null);
    assert.equal(roleEffect(roles, ['unlimited', 'five']).dailyLimit, null);
    assert.equal(roleEffect(roles, ['five', 'weeklyUnlimited']).weeklyLimit, null);
  });

  test('0 is an allowance, not "unset": a more generous role wins, alone it is 0', () => {
    const zero = { zero: { dailyLimit: 0 }, three: { dailyLimit: 3 } };
    assert.equal(roleEffect(zero, ['zero']).dailyLimit, 0);
    assert.equal(roleEffect(zero, ['zero', 'three']).dailyLimit, 3);
  });

  test('exempt when any role is exempt', () => {
    assert.equal(roleEffect(roles, ['exempt']).exempt, true);
    assert.equal(roleEffect(roles, ['three', 'exempt']).exempt, true);
    assert.equal(roleEffect(roles, ['notExempt', 'exempt']).exempt, true);
    assert.equal(roleEffect(roles, ['notExempt']).exempt, false);
    assert.deepEqual(roleEffect(roles, ['exempt', 'five']), { exempt: true, dailyLimit: 5, weeklyLimit: 10 });
  });

  test('the same role twice counts once', () => {
    assert.deepEqual(roleEffect(roles, ['three', 'three']), { exempt: false, dailyLimit: 3, weeklyLimit: undefined });
  });
});

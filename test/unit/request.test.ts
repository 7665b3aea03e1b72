import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ASPECT_RATIOS, type AspectRatio, type GenerationDefaults } from '../../src/config.js';
import { describeOptionProblem } from '../../src/discord/refusals.js';
import {
  aspectRatioValue,
  buildGenerateBody,
  checkGenerationOptions,
  checkImage,
  formatBytes,
  InvalidOptions,
  MAX_INGREDIENTS,
  NEGATIVE_PROMPT_MAX_LENGTH,
  PROMPT_MAX_LENGTH,
  type GenerationKind,
  type ImageAttachment,
  type RawGenerationOptions,
} from '../../src/pika/request.js';
import type { PikaGenerateBody } from '../../src/pika/types.js';

const DEFAULTS: GenerationDefaults = {
  model: '1.5',
  aspectRatio: '16:9',
  frameRate: 24,
  guidanceScale: 12,
  motion: 1,
  ingredientsMode: 'precise',
};
const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

function image(n = 1, overrides: Partial<ImageAttachment> = {}): ImageAttachment {
  return {
    optionName: n === 0 ? 'image' : `image${n}`,
    url: `https://cdn.discordapp.com/attachments/1/${n}/photo${n}.png?ex=abc`,
    filename: `photo${n}.png`,
    contentType: 'image/png',
    size: 1000 + n,
    ...overrides,
  };
}

function images(count: number): ImageAttachment[] {
  return Array.from({ length: count }, (_, i) => image(i + 1));
}

function check(kind: GenerationKind, raw: Partial<RawGenerationOptions>, defaults = DEFAULTS, maxImageBytes = MAX_IMAGE_BYTES) {
  return checkGenerationOptions(kind, { images: [], ...raw }, defaults, maxImageBytes);
}

/** Checks then builds the body, with image refs standing in for what resolveImageRefs returns. */
function body(kind: GenerationKind, raw: Partial<RawGenerationOptions>, defaults = DEFAULTS): PikaGenerateBody {
  const request = check(kind, raw, defaults);
  return buildGenerateBody(request, request.images.map((_, i) => `ref-${i + 1}`));
}

/** Asserts that `fn` throws InvalidOptions (a problem as data) whose English words match every pattern. */
function assertUserError(fn: () => unknown, ...patterns: RegExp[]): InvalidOptions {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof InvalidOptions, `expected InvalidOptions, got ${caught === undefined ? 'no error' : String(caught)}`);
  assert.equal(caught.name, 'InvalidOptions');
  const words = describeOptionProblem(caught.problem, 'en-US');
  for (const pattern of patterns) assert.match(words, pattern);
  return caught;
}

describe('buildGenerateBody: text to video', () => {
  test('every option is mapped to the exact API body', () => {
    const actual = body('text', {
      prompt: 'a red fox runs through snow',
      negative_prompt: 'blurry, text',
      model: '2.0',
      aspect_ratio: '9:16',
      frame_rate: 12,
      guidance_scale: 7.5,
      motion: 3,
      pikaffect: 'Melt',
      camera: 'rotate_ccw',
    });
    assert.deepStrictEqual(actual, {
      pikaffect: 'Melt',
      promptText: 'a red fox runs through snow',
      model: '2.0',
      options: {
        aspectRatio: 0.5625,
        frameRate: 12,
        camera: { rotate: 'ccw' },
        parameters: { guidanceScale: 7.5, motion: 3, negativePrompt: 'blurry, text' },
        extend: false,
      },
    });
  });

  test('defaults only give exactly the shape of the pika-api.md example', () => {
    assert.deepStrictEqual(body('text', { prompt: 'moving' }), {
      pikaffect: '',
      promptText: 'moving',
      model: '1.5',
      options: {
        aspectRatio: 1.7777777777777777,
        frameRate: 24,
        camera: {},
        parameters: { guidanceScale: 12, motion: 1, negativePrompt: '' },
        extend: false,
      },
    });
  });

  test('null options (as discord.js gives for unset ones) are the same as absent ones', () => {
    const withNulls = body('text', {
      prompt: 'moving',
      negative_prompt: null,
      model: null,
      aspect_ratio: null,
      frame_rate: null,
      guidance_scale: null,
      motion: null,
      pikaffect: null,
      camera: null,
      mode: null,
    });
    assert.deepStrictEqual(withNulls, body('text', { prompt: 'moving' }));
  });

  test('the operator defaults are used when the user sets nothing', () => {
    const defaults: GenerationDefaults = { model: '2.0', aspectRatio: '1:1', frameRate: 16, guidanceScale: 20, motion: 0, ingredientsMode: 'creative' };
    assert.deepStrictEqual(body('text', { prompt: 'p' }, defaults), {
      pikaffect: '',
      promptText: 'p',
      model: '2.0',
      options: {
        aspectRatio: 1,
        frameRate: 16,
        camera: {},
        parameters: { guidanceScale: 20, motion: 0, negativePrompt: '' },
        extend: false,
      },
    });
  });

  test('a text body has neither `image` nor `ingredient` nor an ingredients mode', () => {
    const actual = body('text', { prompt: 'p', mode: 'creative' });
    assert.ok(!('image' in actual), "!('image' in actual)");
    assert.ok(!('ingredient' in actual), "!('ingredient' in actual)");
    assert.ok(!('ingredients-mode' in actual.options), "!('ingredients-mode' in actual.options)");
  });

  test('every camera move maps to its single-axis object', () => {
    const expected = {
      zoom_in: { zoom: 'in' },
      zoom_out: { zoom: 'out' },
      pan_left: { pan: 'left' },
      pan_right: { pan: 'right' },
      tilt_up: { tilt: 'up' },
      tilt_down: { tilt: 'down' },
      rotate_cw: { rotate: 'cw' },
      rotate_ccw: { rotate: 'ccw' },
    };
    for (const [move, camera] of Object.entries(expected)) {
      assert.deepStrictEqual(body('text', { prompt: 'p', camera: move }).options.camera, camera, move);
    }
  });

  test('the camera object is a copy: changing one body does not change the next', () => {
    const first = body('text', { prompt: 'p', camera: 'zoom_in' });
    (first.options.camera as Record<string, string>).zoom = 'out';
    assert.deepStrictEqual(body('text', { prompt: 'p', camera: 'zoom_in' }).options.camera, { zoom: 'in' });
  });

  test('an empty camera string means no camera move', () => {
    assert.deepStrictEqual(body('text', { prompt: 'p', camera: '' }).options.camera, {});
  });

  test('pikaffect is trimmed; unknown effects are allowed since the provider adds new ones', () => {
    assert.equal(body('text', { prompt: 'p', pikaffect: '  Melt ' }).pikaffect, 'Melt');
    assert.equal(body('text', { prompt: 'p', pikaffect: 'Brand-New-Effect' }).pikaffect, 'Brand-New-Effect');
  });
});

describe('buildGenerateBody: image to video', () => {
  test('the `image` key holds the ref and there is no aspectRatio key at all', () => {
    const actual = body('image', { prompt: 'make it move', images: [image(0)] });
    assert.deepStrictEqual(actual, {
      pikaffect: '',
      promptText: 'make it move',
      model: '1.5',
      image: 'ref-1',
      options: {
        frameRate: 24,
        camera: {},
        parameters: { guidanceScale: 12, motion: 1, negativePrompt: '' },
        extend: false,
      },
    });
    assert.ok(!('aspectRatio' in actual.options), "!('aspectRatio' in actual.options)");
    assert.ok(!('ingredient' in actual), "!('ingredient' in actual)");
  });

  test('aspect_ratio chosen by the user is ignored for an image', () => {
    const actual = body('image', { prompt: 'p', aspect_ratio: '9:16', images: [image(0)] });
    assert.ok(!('aspectRatio' in actual.options), "!('aspectRatio' in actual.options)");
    assert.equal(check('image', { aspect_ratio: '9:16', images: [image(0)] }).aspectRatio, undefined);
  });

  test('the prompt is optional: absent, null or empty gives an empty promptText', () => {
    for (const prompt of [undefined, null, '']) {
      const actual = body('image', { ...(prompt === undefined ? {} : { prompt }), images: [image(0)] });
      assert.equal(actual.promptText, '');
      assert.equal(actual.image, 'ref-1');
    }
  });

  test('a whitespace-only prompt is accepted for an image and sent as typed', () => {
    assert.equal(body('image', { prompt: '   ', images: [image(0)] }).promptText, '   ');
  });

  test('every other option still applies', () => {
    const actual = body('image', {
      prompt: 'Melt it',
      pikaffect: 'Melt',
      model: '2.0',
      camera: 'pan_left',
      frame_rate: 8,
      guidance_scale: 25,
      motion: 0,
      negative_prompt: 'people',
      images: [image(0, { url: 'https://x/y.png' })],
    });
    assert.deepStrictEqual(actual, {
      pikaffect: 'Melt',
      promptText: 'Melt it',
      model: '2.0',
      image: 'ref-1',
      options: {
        frameRate: 8,
        camera: { pan: 'left' },
        parameters: { guidanceScale: 25, motion: 0, negativePrompt: 'people' },
        extend: false,
      },
    });
  });

  test('the ref given is used verbatim (URL or base64)', () => {
    const request = check('image', { images: [image(0)] });
    const base64 = Buffer.from('png bytes').toString('base64');
    assert.equal(buildGenerateBody(request, [base64]).image, base64);
    assert.equal(buildGenerateBody(request, ['https://cdn.example/a.png?x=1&y=2']).image, 'https://cdn.example/a.png?x=1&y=2');
  });
});

describe('buildGenerateBody: ingredients', () => {
  test('ingredient array in order, no `image`, model 2.0, precise by default, aspectRatio present', () => {
    const actual = body('ingredients', { prompt: 'pick it', images: images(3) });
    assert.deepStrictEqual(actual, {
      pikaffect: '',
      promptText: 'pick it',
      model: '2.0',
      options: {
        aspectRatio: 1.7777777777777777,
        frameRate: 24,
        camera: {},
        parameters: { guidanceScale: 12, motion: 1, negativePrompt: '' },
        extend: false,
        'ingredients-mode': 'precise',
      },
      ingredient: ['ref-1', 'ref-2', 'ref-3'],
    });
    assert.ok(!('image' in actual), "!('image' in actual)");
  });

  test('model is 2.0 even when the defaults and the user say 1.5', () => {
    assert.equal(body('ingredients', { prompt: 'p', model: '1.5', images: images(2) }, { ...DEFAULTS, model: '1.5' }).model, '2.0');
    assert.equal(check('ingredients', { prompt: 'p', model: '1.5', images: images(2) }).model, '2.0');
  });

  test('creative when asked, or when the operator default says so', () => {
    assert.equal(body('ingredients', { prompt: 'p', mode: 'creative', images: images(2) }).options['ingredients-mode'], 'creative');
    assert.equal(
      body('ingredients', { prompt: 'p', images: images(2) }, { ...DEFAULTS, ingredientsMode: 'creative' }).options['ingredients-mode'],
      'creative',
    );
    assert.equal(
      body('ingredients', { prompt: 'p', mode: 'precise', images: images(2) }, { ...DEFAULTS, ingredientsMode: 'creative' }).options['ingredients-mode'],
      'precise',
    );
  });

  test('the ingredient array keeps the refs in the order given, up to the maximum', () => {
    const request = check('ingredients', { prompt: 'p', images: images(MAX_INGREDIENTS) });
    const refs = ['f', 'e', 'd', 'c', 'b', 'a'].slice(0, MAX_INGREDIENTS);
    assert.deepStrictEqual(buildGenerateBody(request, refs).ingredient, refs);
    assert.deepStrictEqual(request.images.map((i) => i.optionName), images(MAX_INGREDIENTS).map((i) => i.optionName));
  });

  test('the ingredient array is a copy of the refs', () => {
    const refs = ['a', 'b'];
    const built = buildGenerateBody(check('ingredients', { prompt: 'p', images: images(2) }), refs);
    refs.push('c');
    assert.deepStrictEqual(built.ingredient, ['a', 'b']);
  });

  test('aspect ratio is the user choice for ingredients', () => {
    assert.equal(body('ingredients', { prompt: 'p', aspect_ratio: '4:5', images: images(2) }).options.aspectRatio, 0.8);
  });
});

describe('checkGenerationOptions: the prompt is sent exactly as typed', () => {
  const asTyped = [
    '@everyone look at this <@123456789012345678>',
    '**bold** _italic_ `code` [link](https://example.com) # heading',
    'zero\u200bwidth\u200djoiner\ufeff',
    '  leading and trailing spaces  ',
    'multi\nline\tprompt',
    'emoji 🦊🎬 and accents é à ü',
  ];
  for (const prompt of asTyped) {
    test(`prompt ${JSON.stringify(prompt)}`, () => {
      assert.equal(body('text', { prompt }).promptText, prompt);
      assert.equal(body('ingredients', { prompt, images: images(2) }).promptText, prompt);
      assert.equal(body('image', { prompt, images: [image(0)] }).promptText, prompt);
    });
  }

  test(`a prompt of exactly ${PROMPT_MAX_LENGTH} characters is accepted`, () => {
    const prompt = 'a'.repeat(PROMPT_MAX_LENGTH);
    assert.equal(PROMPT_MAX_LENGTH, 2000);
    assert.equal(body('text', { prompt }).promptText, prompt);
  });

  test(`a prompt of ${PROMPT_MAX_LENGTH + 1} characters is refused, saying how long it is and the maximum`, () => {
    for (const kind of ['text', 'image', 'ingredients'] as const) {
      assertUserError(
        () => check(kind, { prompt: 'a'.repeat(2001), images: kind === 'text' ? [] : kind === 'image' ? [image(0)] : images(2) }),
        /`prompt`/,
        /2001/,
        /2000/,
      );
    }
  });

  test('negative prompt: 1000 characters ok, 1001 refused', () => {
    assert.equal(NEGATIVE_PROMPT_MAX_LENGTH, 1000);
    assert.equal(body('text', { prompt: 'p', negative_prompt: 'n'.repeat(1000) }).options.parameters.negativePrompt, 'n'.repeat(1000));
    assertUserError(() => check('text', { prompt: 'p', negative_prompt: 'n'.repeat(1001) }), /`negative_prompt`/, /1001/, /1000/);
  });

  test('negative prompt is sent as typed too', () => {
    assert.equal(body('text', { prompt: 'p', negative_prompt: '  **no** @here ' }).options.parameters.negativePrompt, '  **no** @here ');
  });
});

describe('checkGenerationOptions: refusals are problems as data, worded helpfully at the edge', () => {
  for (const prompt of [undefined, null, '', '   ', '\n\t ']) {
    test(`text and ingredients refuse the empty prompt ${JSON.stringify(prompt)}`, () => {
      const raw = prompt === undefined ? {} : { prompt };
      assertUserError(() => check('text', raw), /`prompt`/, /empty/);
      assertUserError(() => check('ingredients', { ...raw, images: images(2) }), /`prompt`/, /empty/);
    });
  }

  test(
    'a prompt made only of invisible characters is refused like an empty one',
    {},
    () => {
      assertUserError(() => check('text', { prompt: '\u200b\u200d\ufeff' }), /`prompt`/);
    },
  );

  const badNumbers: Array<[keyof RawGenerationOptions, number, RegExp]> = [
    ['frame_rate', 7, /`frame_rate` must be a whole number from 8 to 24/],
    ['frame_rate', 25, /`frame_rate` must be a whole number from 8 to 24/],
    ['frame_rate', 12.5, /`frame_rate` must be a whole number from 8 to 24/],
    ['guidance_scale', 4.99, /`guidance_scale` must be a number from 5 to 25/],
    ['guidance_scale', 25.5, /`guidance_scale` must be a number from 5 to 25/],
    ['guidance_scale', Number.NaN, /`guidance_scale` must be a number from 5 to 25/],
    ['guidance_scale', Number.POSITIVE_INFINITY, /`guidance_scale` must be a number from 5 to 25/],
    ['motion', -1, /`motion` must be a whole number from 0 to 4/],
    ['motion', 5, /`motion` must be a whole number from 0 to 4/],
    ['motion', 1.5, /`motion` must be a whole number from 0 to 4/],
  ];
  for (const [name, value, message] of badNumbers) {
    test(`${name} = ${value} is refused`, () => {
      assertUserError(() => check('text', { prompt: 'p', [name]: value }), message);
    });
  }

  test('number bounds are inclusive', () => {
    const low = check('text', { prompt: 'p', frame_rate: 8, guidance_scale: 5, motion: 0 });
    const high = check('text', { prompt: 'p', frame_rate: 24, guidance_scale: 25, motion: 4 });
    assert.deepStrictEqual([low.frameRate, low.guidanceScale, low.motion], [8, 5, 0]);
    assert.deepStrictEqual([high.frameRate, high.guidanceScale, high.motion], [24, 25, 4]);
  });

  test('unknown model is refused, listing the choices', () => {
    assertUserError(() => check('text', { prompt: 'p', model: '3.0' }), /`model` must be one of: 1\.5, 2\.0/);
    assertUserError(() => check('image', { model: '2', images: [image(0)] }), /`model`/);
  });

  test('unknown aspect ratio is refused, listing the choices', () => {
    assertUserError(() => check('text', { prompt: 'p', aspect_ratio: '21:9' }), /`aspect_ratio` must be one of: 16:9, 9:16, 1:1, 4:5, 4:3, 3:4, 5:2/);
    assertUserError(() => check('ingredients', { prompt: 'p', aspect_ratio: '16/9', images: images(2) }), /`aspect_ratio`/);
  });

  test('unknown camera move is refused, listing the choices', () => {
    assertUserError(() => check('text', { prompt: 'p', camera: 'spin' }), /`camera` must be one of: zoom_in, .*rotate_ccw/);
    assertUserError(() => check('text', { prompt: 'p', camera: 'rotate counter-clockwise' }), /`camera`/);
  });

  test('unknown ingredients mode is refused', () => {
    assertUserError(() => check('ingredients', { prompt: 'p', mode: 'loose', images: images(2) }), /`mode` must be one of: precise, creative/);
  });

  test('pikaffect longer than 50 characters or with control/format characters is refused', () => {
    assertUserError(() => check('text', { prompt: 'p', pikaffect: 'x'.repeat(51) }), /`pikaffect`/, /51/, /50/);
    assert.equal(check('text', { prompt: 'p', pikaffect: 'x'.repeat(50) }).pikaffect, 'x'.repeat(50));
    assertUserError(() => check('text', { prompt: 'p', pikaffect: 'Me\u200blt' }), /`pikaffect`/);
    assertUserError(() => check('text', { prompt: 'p', pikaffect: 'Melt\u0007' }), /`pikaffect`/);
  });
});

describe('checkGenerationOptions: images', () => {
  for (const contentType of ['image/gif', 'application/pdf', 'image/svg+xml', 'text/plain']) {
    test(`content type ${contentType} is refused, naming the option and the accepted types`, () => {
      assertUserError(
        () => check('image', { images: [image(0, { contentType, filename: 'x.png' })] }),
        /`image` must be a PNG, JPEG or WebP image/,
      );
    });
  }

  test('accepted content types, case and parameters ignored', () => {
    for (const [contentType, type] of [
      ['image/png', 'image/png'],
      ['image/jpeg', 'image/jpeg'],
      ['image/webp', 'image/webp'],
      ['IMAGE/JPEG', 'image/jpeg'],
      ['image/png; charset=binary', 'image/png'],
    ] as const) {
      assert.equal(check('image', { images: [image(0, { contentType, filename: 'noext' })] }).images[0]!.type, type, contentType);
    }
  });

  test('a declared content type wins over the extension', () => {
    assertUserError(() => check('image', { images: [image(0, { contentType: 'image/gif', filename: 'x.png' })] }), /PNG, JPEG or WebP/);
    assert.equal(check('image', { images: [image(0, { contentType: 'image/webp', filename: 'x.gif' })] }).images[0]!.type, 'image/webp');
  });

  test('without a content type the extension decides, case-insensitively', () => {
    const cases: Array<[string, string]> = [
      ['x.PNG', 'image/png'],
      ['photo.jpg', 'image/jpeg'],
      ['photo.JPEG', 'image/jpeg'],
      ['a.b.webp', 'image/webp'],
    ];
    for (const [filename, type] of cases) {
      for (const contentType of [null, undefined, '']) {
        assert.equal(check('image', { images: [image(0, { contentType, filename })] }).images[0]!.type, type, `${filename} / ${contentType}`);
      }
    }
  });

  test('without a content type an unknown extension is refused', () => {
    for (const filename of ['x.txt', 'x.gif', 'x.png.exe', 'x']) {
      assertUserError(() => check('image', { images: [image(0, { contentType: null, filename })] }), /`image` must be a PNG, JPEG or WebP image/);
    }
  });

  test('a file name without an extension is not taken as one ("png" is not a .png file)', () => {
    for (const filename of ['png', 'JPEG', 'webp']) {
      assertUserError(() => check('image', { images: [image(0, { contentType: null, filename })] }), /PNG, JPEG or WebP/);
    }
  });

  test('an empty file is refused', () => {
    assertUserError(() => check('image', { images: [image(0, { size: 0 })] }), /`image` is an empty file/);
  });

  test('a file over maxImageBytes is refused, with both sizes in readable units', () => {
    assertUserError(
      () => checkGenerationOptions('image', { images: [image(0, { size: 5 * 1024 * 1024 + 1 })] }, DEFAULTS, 5 * 1024 * 1024),
      /`image` is 5\.0 MiB; images may be at most 5\.0 MiB/,
    );
    assert.equal(checkGenerationOptions('image', { images: [image(0, { size: 5 * 1024 * 1024 })] }, DEFAULTS, 5 * 1024 * 1024).images.length, 1);
  });

  test('the offending ingredient is named', () => {
    const list = images(3);
    list[2] = image(3, { contentType: 'image/gif' });
    assertUserError(() => check('ingredients', { prompt: 'p', images: list }), /`image3`/);
  });

  test('checkImage keeps the attachment and adds its type', () => {
    const attachment = image(1, { contentType: 'image/webp' });
    assert.deepStrictEqual(checkImage(attachment, MAX_IMAGE_BYTES), { ...attachment, type: 'image/webp' });
  });

  test('too few images', () => {
    assertUserError(() => check('image', {}), /Please attach an image in `image`/);
    assertUserError(() => check('ingredients', { prompt: 'p' }), /at least two images/);
    assertUserError(() => check('ingredients', { prompt: 'p', images: images(1) }), /at least two images/);
  });

  test('too many images', () => {
    assertUserError(() => check('text', { prompt: 'p', images: images(1) }), /more images than `\/pika text` takes/);
    assertUserError(() => check('image', { images: images(2) }), /more images than `\/pika image` takes/);
    assertUserError(() => check('ingredients', { prompt: 'p', images: images(MAX_INGREDIENTS + 1) }), /more images than `\/pika ingredients` takes/);
  });

  test('2 to 6 ingredients are accepted', () => {
    for (let n = 2; n <= MAX_INGREDIENTS; n++) {
      assert.equal(check('ingredients', { prompt: 'p', images: images(n) }).images.length, n);
    }
  });
});

describe('aspectRatioValue', () => {
  test('is width / height for every ratio', () => {
    const expected: Record<AspectRatio, number> = {
      '16:9': 1.7777777777777777,
      '9:16': 0.5625,
      '1:1': 1,
      '4:5': 0.8,
      '4:3': 1.3333333333333333,
      '3:4': 0.75,
      '5:2': 2.5,
    };
    assert.deepStrictEqual(Object.keys(expected).sort(), [...ASPECT_RATIOS].sort());
    for (const ratio of ASPECT_RATIOS) assert.equal(aspectRatioValue(ratio), expected[ratio], ratio);
  });

  test('every value is within the documented 0.4–2.5 range', () => {
    for (const ratio of ASPECT_RATIOS) {
      const value = aspectRatioValue(ratio);
      assert.ok(value >= 0.4 && value <= 2.5, `${ratio} → ${value}`);
    }
  });
});

describe('formatBytes', () => {
  test('bytes, KiB and MiB with one decimal', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1), '1 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1024), '1.0 KiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(1024 * 1024), '1.0 MiB');
    assert.equal(formatBytes(10 * 1024 * 1024), '10.0 MiB');
    assert.equal(formatBytes(25 * 1024 * 1024 + 512 * 1024), '25.5 MiB');
    assert.equal(formatBytes(2048 * 1024 * 1024), '2048.0 MiB');
  });
});

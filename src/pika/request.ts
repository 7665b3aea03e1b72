import {
  ASPECT_RATIOS,
  INGREDIENTS_MODES,
  MODELS,
  PARAMETER_RANGES,
  type AspectRatio,
  type GenerationDefaults,
  type IngredientsMode,
  type Model,
} from '../config.js';
import type { PikaCamera, PikaGenerateBody } from './types.js';

export type GenerationKind = 'text' | 'image' | 'ingredients';

/** Longest prompt the command accepts; declared on the option so Discord enforces it too. */
export const PROMPT_MAX_LENGTH = 2000;
export const NEGATIVE_PROMPT_MAX_LENGTH = 1000;
export const PIKAFFECT_MAX_LENGTH = 50;
export const MAX_INGREDIENTS = 6;

/** Effects the API documents; suggestions only, since the provider adds new ones. */
export const KNOWN_PIKAFFECTS = [
  'Levitate', 'Decapitate', 'Eye-pop', 'Ta-da', 'Deflate', 'Crumble', 'Dissolve', 'Squish',
  'Inflate', 'Melt', 'Crush', 'Cake-ify', 'Explode', 'Peel', 'Poke', 'Tear',
] as const;
export type KnownPikaffect = (typeof KNOWN_PIKAFFECTS)[number];

/** Camera choices: the value users pick, and the object the API expects (labels are in the catalogs). */
export const CAMERA_MOVES = {
  zoom_in: { camera: { zoom: 'in' } },
  zoom_out: { camera: { zoom: 'out' } },
  pan_left: { camera: { pan: 'left' } },
  pan_right: { camera: { pan: 'right' } },
  tilt_up: { camera: { tilt: 'up' } },
  tilt_down: { camera: { tilt: 'down' } },
  rotate_cw: { camera: { rotate: 'cw' } },
  rotate_ccw: { camera: { rotate: 'ccw' } },
} as const satisfies Record<string, { camera: PikaCamera }>;
export type CameraMove = keyof typeof CAMERA_MOVES;

export const ACCEPTED_IMAGE_TYPES = {
  'image/png': ['png'],
  'image/jpeg': ['jpg', 'jpeg'],
  'image/webp': ['webp'],
} as const satisfies Record<string, readonly string[]>;
export type ImageType = keyof typeof ACCEPTED_IMAGE_TYPES;

/**
 * What is wrong with a command's options, as data (option names as the user typed them, sizes in
 * bytes): the Discord edge words it in the requester's language.
 */
export type OptionProblem =
  | { code: 'prompt_empty' }
  | { code: 'too_long'; option: string; length: number; max: number }
  | { code: 'pikaffect_characters' }
  | { code: 'image_missing' }
  | { code: 'images_missing' }
  | { code: 'too_many_images'; kind: GenerationKind }
  | { code: 'image_type'; option: string }
  | { code: 'image_empty'; option: string }
  | { code: 'image_too_large'; option: string; sizeBytes: number; maxBytes: number }
  | { code: 'not_a_choice'; option: string; choices: readonly string[] }
  | { code: 'out_of_range'; option: string; integer: boolean; min: number; max: number };

/** A request the checks refuse; shown to the requester, never logged as a failure. */
export class InvalidOptions extends Error {
  override readonly name = 'InvalidOptions';
  constructor(readonly problem: OptionProblem) {
    super(`invalid options: ${problem.code}`);
  }
}

/** An image the user attached, as Discord describes it (nothing downloaded yet). */
export interface ImageAttachment {
  optionName: string;
  url: string;
  filename: string;
  contentType: string | null | undefined;
  size: number;
}

export interface CheckedImage extends ImageAttachment {
  type: ImageType;
}

/** The options of a command as typed, before any check. */
export interface RawGenerationOptions {
  prompt?: string | null;
  negative_prompt?: string | null;
  model?: string | null;
  aspect_ratio?: string | null;
  frame_rate?: number | null;
  guidance_scale?: number | null;
  motion?: number | null;
  pikaffect?: string | null;
  camera?: string | null;
  mode?: string | null;
  images: ImageAttachment[];
}

/** A request that passed every check: safe to bill. */
export interface GenerationRequest {
  kind: GenerationKind;
  prompt: string;
  negativePrompt: string;
  model: Model;
  /** Absent for image-to-video, where the API takes the image's own ratio. */
  aspectRatio: AspectRatio | undefined;
  frameRate: number;
  guidanceScale: number;
  motion: number;
  pikaffect: string;
  camera: CameraMove | undefined;
  ingredientsMode: IngredientsMode | undefined;
  images: CheckedImage[];
}

/**
 * Checks the options of one command and fills in the operator's defaults. Throws InvalidOptions
 * with the first problem; Discord enforces most bounds already, but a client can send anything.
 */
export function checkGenerationOptions(
  kind: GenerationKind,
  raw: RawGenerationOptions,
  defaults: GenerationDefaults,
  maxImageBytes: number,
): GenerationRequest {
  const prompt = raw.prompt ?? '';
  if (kind !== 'image' && isBlank(prompt)) {
    throw new InvalidOptions({ code: 'prompt_empty' });
  }
  checkLength('prompt', prompt, PROMPT_MAX_LENGTH);
  const negativePrompt = raw.negative_prompt ?? '';
  checkLength('negative_prompt', negativePrompt, NEGATIVE_PROMPT_MAX_LENGTH);
  const pikaffect = (raw.pikaffect ?? '').trim();
  checkLength('pikaffect', pikaffect, PIKAFFECT_MAX_LENGTH);
  if (/[\p{Cc}\p{Cf}]/u.test(pikaffect)) {
    throw new InvalidOptions({ code: 'pikaffect_characters' });
  }

  const images = raw.images.map((image) => checkImage(image, maxImageBytes));
  const expectedImages = kind === 'text' ? 0 : kind === 'image' ? 1 : 2;
  if (images.length < expectedImages) {
    throw new InvalidOptions({ code: kind === 'image' ? 'image_missing' : 'images_missing' });
  }
  if (images.length > (kind === 'ingredients' ? MAX_INGREDIENTS : expectedImages)) {
    throw new InvalidOptions({ code: 'too_many_images', kind });
  }

  return {
    kind,
    prompt,
    negativePrompt,
    model: kind === 'ingredients' ? '2.0' : choice('model', raw.model, MODELS, defaults.model),
    aspectRatio: kind === 'image' ? undefined : choice('aspect_ratio', raw.aspect_ratio, ASPECT_RATIOS, defaults.aspectRatio),
    frameRate: inRange('frame_rate', raw.frame_rate, PARAMETER_RANGES.frameRate, defaults.frameRate, true),
    guidanceScale: inRange('guidance_scale', raw.guidance_scale, PARAMETER_RANGES.guidanceScale, defaults.guidanceScale, false),
    motion: inRange('motion', raw.motion, PARAMETER_RANGES.motion, defaults.motion, true),
    pikaffect,
    camera: raw.camera ? choice('camera', raw.camera, Object.keys(CAMERA_MOVES) as CameraMove[], undefined) : undefined,
    ingredientsMode: kind === 'ingredients' ? choice('mode', raw.mode, INGREDIENTS_MODES, defaults.ingredientsMode) : undefined,
    images,
  };
}

/** Accepts png, jpeg and webp by declared type, or by extension when Discord declares none. */
export function checkImage(image: ImageAttachment, maxImageBytes: number): CheckedImage {
  const type = imageTypeOf(image);
  if (!type) {
    throw new InvalidOptions({ code: 'image_type', option: image.optionName });
  }
  if (image.size <= 0) {
    throw new InvalidOptions({ code: 'image_empty', option: image.optionName });
  }
  if (image.size > maxImageBytes) {
    throw new InvalidOptions({ code: 'image_too_large', option: image.optionName, sizeBytes: image.size, maxBytes: maxImageBytes });
  }
  return { ...image, type };
}

function imageTypeOf(image: ImageAttachment): ImageType | undefined {
  const declared = image.contentType?.split(';')[0]?.trim().toLowerCase();
  if (declared) return declared in ACCEPTED_IMAGE_TYPES ? (declared as ImageType) : undefined;
  const extension = /\.([^.]+)$/.exec(image.filename)?.[1]?.toLowerCase() ?? '';
  for (const [type, extensions] of Object.entries(ACCEPTED_IMAGE_TYPES)) {
    if ((extensions as readonly string[]).includes(extension)) return type as ImageType;
  }
  return undefined;
}

/**
 * The exact body of `POST /pika/generate` for a checked request. `imageRefs` are the images as
 * the API receives them (URLs or base64), in the request's order.
 */
export function buildGenerateBody(request: GenerationRequest, imageRefs: readonly string[]): PikaGenerateBody {
  const options: PikaGenerateBody['options'] = {
    ...(request.aspectRatio === undefined ? {} : { aspectRatio: aspectRatioValue(request.aspectRatio) }),
    frameRate: request.frameRate,
    camera: request.camera ? { ...CAMERA_MOVES[request.camera].camera } : {},
    parameters: {
      guidanceScale: request.guidanceScale,
      motion: request.motion,
      negativePrompt: request.negativePrompt,
    },
    extend: false,
  };
  const base = { pikaffect: request.pikaffect, promptText: request.prompt, model: request.model };
  switch (request.kind) {
    case 'text':
      return { ...base, options };
    case 'image':
      return { ...base, options, image: imageRefs[0] ?? '' };
    case 'ingredients':
      return {
        ...base,
        model: '2.0',
        options: { ...options, 'ingredients-mode': request.ingredientsMode ?? 'precise' },
        ingredient: [...imageRefs],
      };
  }
}

/** `16:9` → 1.7777777777777777, the width / height the API expects. */
export function aspectRatioValue(ratio: AspectRatio): number {
  const [width, height] = ratio.split(':').map(Number) as [number, number];
  return width / height;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const kib = (bytes / 1024).toFixed(1);
  if (Number(kib) < 1024) return `${kib} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** True when nothing visible is left once spaces and invisible characters are removed. */
export function isBlank(text: string): boolean {
  return text.replace(/[\s\p{Cf}\p{Cc}]/gu, '') === '';
}

function checkLength(name: string, value: string, max: number): void {
  if (value.length > max) {
    throw new InvalidOptions({ code: 'too_long', option: name, length: value.length, max });
  }
}

function choice<T extends string, F extends T | undefined>(name: string, value: string | null | undefined, choices: readonly T[], fallback: F): T | F {
  if (value === null || value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) {
    throw new InvalidOptions({ code: 'not_a_choice', option: name, choices });
  }
  return value as T;
}

function inRange(
  name: string,
  value: number | null | undefined,
  range: { min: number; max: number },
  fallback: number,
  integer: boolean,
): number {
  if (value === null || value === undefined) return fallback;
  if (!Number.isFinite(value) || value < range.min || value > range.max || (integer && !Number.isInteger(value))) {
    throw new InvalidOptions({ code: 'out_of_range', option: name, integer, min: range.min, max: range.max });
  }
  return value;
}

import { messagesFor, type Locale } from '../i18n/index.js';
import type { GenerationKind } from '../pika/request.js';

/** The catalog entry naming each option of /pika, by the option's canonical (English) name. */
const OPTION_NAME_KEYS = {
  prompt: 'cmdPikaPromptName',
  negative_prompt: 'cmdPikaNegativePromptName',
  model: 'cmdPikaModelName',
  aspect_ratio: 'cmdPikaAspectRatioName',
  frame_rate: 'cmdPikaFrameRateName',
  guidance_scale: 'cmdPikaGuidanceScaleName',
  motion: 'cmdPikaMotionName',
  pikaffect: 'cmdPikaPikaffectName',
  camera: 'cmdPikaCameraName',
  mode: 'cmdPikaModeName',
  image: 'cmdPikaImageOptionName',
} as const;

const SUBCOMMAND_NAME_KEYS = { text: 'cmdPikaTextName', image: 'cmdPikaImageName', ingredients: 'cmdPikaIngredientsName' } as const;

/**
 * An option's name as the reader's client shows it: Discord always sends the canonical name,
 * but a Chinese client lists `提示词`, not `prompt`.
 */
export function optionLabel(option: string, locale: Locale): string {
  const t = messagesFor(locale);
  const ingredient = /^image(\d)$/.exec(option);
  if (ingredient) return t.cmdPikaIngredientName({ number: Number(ingredient[1]) });
  const key = OPTION_NAME_KEYS[option as keyof typeof OPTION_NAME_KEYS];
  return key ? t[key] : option;
}

/** `/pika <subcommand>` as the reader's client shows it. */
export function commandLabel(kind: GenerationKind, locale: Locale): string {
  const t = messagesFor(locale);
  return `/${t.cmdPikaName} ${t[SUBCOMMAND_NAME_KEYS[kind]]}`;
}

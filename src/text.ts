/** Cuts within `max` UTF-16 units, never inside a surrogate pair or an escape sequence. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  let trailingSlashes = 0;
  while (cut[cut.length - 1 - trailingSlashes] === '\\') trailingSlashes++;
  if (trailingSlashes % 2 === 1) cut = cut.slice(0, -1);
  return `${cut}…`;
}

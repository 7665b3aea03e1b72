import type { Dispatcher } from 'undici';
import { DownloadError, downloadBounded, type DownloadFailure } from '../download.js';
import type { ImageTransport } from '../config.js';
import type { CheckedImage, ImageType } from './request.js';

const SIGNATURES: Record<ImageType, (bytes: Buffer) => boolean> = {
  'image/png': (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/webp': (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
};

/** An attached image could not be used: which one, and why (words are the Discord edge's). */
export class ImageUnreadableError extends Error {
  override readonly name = 'ImageUnreadableError';
  constructor(
    readonly optionName: string,
    readonly problem: DownloadFailure | 'wrong_content',
    options?: { cause?: unknown },
  ) {
    super(`image option ${optionName} could not be used: ${problem}`, options);
  }
}

/** True when the bytes start like an image of `type`. */
export function matchesImageType(bytes: Buffer, type: ImageType): boolean {
  return SIGNATURES[type](bytes);
}

export interface ImageResolverOptions {
  transport: ImageTransport;
  maxImageBytes: number;
  downloadTimeoutMs: number;
  /** The media dispatcher (see `createMediaDispatcher`): decides which hosts images may come from. */
  dispatcher: Dispatcher;
}

/**
 * Turns checked attachments into what the API's `image` / `ingredient` fields take: the
 * attachment's CDN URL, or its bytes base64-encoded after a bounded download and a check that
 * they really are the declared kind of image.
 */
export async function resolveImageRefs(images: readonly CheckedImage[], options: ImageResolverOptions): Promise<string[]> {
  if (options.transport === 'url') return images.map((image) => image.url);
  return Promise.all(
    images.map(async (image) => {
      let data: Buffer;
      try {
        ({ data } = await downloadBounded(image.url, {
          maxBytes: options.maxImageBytes,
          timeoutMs: options.downloadTimeoutMs,
          dispatcher: options.dispatcher,
        }));
      } catch (error) {
        throw new ImageUnreadableError(image.optionName, error instanceof DownloadError ? error.reason : 'network', { cause: error });
      }
      if (!matchesImageType(data, image.type)) throw new ImageUnreadableError(image.optionName, 'wrong_content');
      return data.toString('base64');
    }),
  );
}

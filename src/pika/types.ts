/** Request and response shapes of the Pika proxy API, as in ../shared/pika-api.md. */

/** Camera movement: each axis optional; `{}` means none. */
export interface PikaCamera {
  zoom?: 'in' | 'out';
  pan?: 'left' | 'right';
  tilt?: 'up' | 'down';
  rotate?: 'cw' | 'ccw';
}

export interface PikaOptions {
  /** Width / height. Absent when an image is sent. */
  aspectRatio?: number;
  frameRate: number;
  camera: PikaCamera;
  parameters: { guidanceScale: number; motion: number; negativePrompt: string };
  extend: boolean;
  'ingredients-mode'?: 'precise' | 'creative';
}

/** Body of `POST /pika/generate`. `image` and `ingredient` are mutually exclusive. */
export interface PikaGenerateBody {
  pikaffect: string;
  promptText: string;
  model: '1.5' | '2.0';
  options: PikaOptions;
  image?: string;
  ingredient?: string[];
}

export interface PikaVideo {
  id: string;
  status: string;
  seed?: number;
  resultUrl?: string;
  sharingUrl?: string;
  videoPoster?: string;
  imageThumb?: string;
  duration?: number;
  error?: string;
  progress?: number;
}

export interface PikaFeed {
  id: string;
  promptText?: string;
  videos: PikaVideo[];
}

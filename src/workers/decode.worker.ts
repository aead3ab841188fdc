/**
 * Decode worker: the comlink endpoint behind `WorkerPool` (see decode-api.ts for the method
 * conventions). Methods are plain, usually synchronous loops; the pool cancels a job by
 * terminating the worker, so there is no cancellation plumbing in here.
 */
import * as Comlink from 'comlink';
import type { GaussianScene } from '../formats/gaussian-scene.ts';
import { bakeStaticAt, writeGaussian4dPly, writeInriaPly } from '../formats/gaussian4d-ply.ts';
import { FILE_KIND_LABELS, IMAGE_KINDS, imageDimensions, sniffFile } from '../formats/sniff.ts';
import type { DecodeApi, DecodedImage, ProgressFn } from './decode-api.ts';
import { progressReporter } from './progress.ts';

/** Largest source image decodeImage accepts (the browser decodes it whole before scaling). */
const MAX_SOURCE_PIXELS = 1 << 28; // 16384 x 16384
/** Canvas side limit (Chromium's is 32767; Safari's area limit is lower). */
const MAX_SIDE = 16384;
/** Bytes read to find an image's dimensions (JPEG EXIF blocks can be up to 64 KiB). */
const HEADER_BYTES = 64 * 1024;

/** A result object with the buffers of its typed arrays (one level deep) marked for transfer. */
function transferResult<T extends object>(result: T): T {
  const buffers = new Set<ArrayBuffer>();
  const visit = (value: unknown): void => {
    if (value instanceof ArrayBuffer) buffers.add(value);
    else if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) buffers.add(value.buffer);
  };
  visit(result);
  for (const value of Object.values(result)) {
    if (Array.isArray(value)) value.forEach(visit);
    else visit(value);
  }
  return Comlink.transfer(result, [...buffers]);
}

function sniff(bytes: ArrayBuffer, name?: string, size?: number) {
  const head = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : ArrayBuffer.isView(bytes as unknown) ? new Uint8Array((bytes as ArrayBufferView).buffer, (bytes as ArrayBufferView).byteOffset, (bytes as ArrayBufferView).byteLength) : null;
  if (!head) throw new TypeError("expected an ArrayBuffer of the file's first bytes");
  return sniffFile(head, name, size ?? head.length);
}

async function decodeImage(blob: Blob, maxPixels: number, onProgress?: ProgressFn): Promise<DecodedImage> {
  const progress = progressReporter(onProgress);
  try {
    if (!(blob instanceof Blob)) throw new TypeError('expected a Blob or File');
    if (!(maxPixels >= 1) || !Number.isFinite(maxPixels)) throw new RangeError(`maxPixels must be a finite number >= 1, got ${maxPixels}`);
    const name = blob instanceof File ? blob.name : undefined;
    const what = name ? `"${name}"` : 'the file';
    if (blob.size === 0) throw new Error(`${what} is empty (0 bytes), not an image`);
    progress.force(0, 'reading header');

    const head = new Uint8Array(await blob.slice(0, HEADER_BYTES).arrayBuffer());
    const kind = sniffFile(head, name, blob.size);
    if (kind !== 'unknown' && !IMAGE_KINDS.includes(kind)) {
      throw new Error(`${what} is a ${FILE_KIND_LABELS[kind]}, not an image (PNG, JPEG, WebP, GIF or BMP)`);
    }
    const header = imageDimensions(head);
    if (header) checkSourceSize(header.width, header.height, what);

    progress.force(0.1, 'decoding');
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image' });
    } catch (e) {
      const type = blob.type ? ` (${blob.type})` : '';
      const looks = kind === 'unknown' ? 'is not an image the browser can decode' : `looks like a ${FILE_KIND_LABELS[kind]} but could not be decoded (corrupt or truncated?)`;
      throw new Error(`${what}${type} ${looks}: ${(e as Error)?.message ?? e}`);
    }
    try {
      const originalWidth = bitmap.width;
      const originalHeight = bitmap.height;
      checkSourceSize(originalWidth, originalHeight, what);
      const { width, height } = fitPixels(originalWidth, originalHeight, maxPixels);
      const scaled = width !== originalWidth || height !== originalHeight;
      progress.force(0.6, scaled ? `scaling ${originalWidth}x${originalHeight} to ${width}x${height}` : 'reading pixels');

      const canvas = new OffscreenCanvas(width, height);
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      if (!ctx) throw new Error('OffscreenCanvas 2D context unavailable in this worker');
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(bitmap, 0, 0, width, height);
      const pixels = ctx.getImageData(0, 0, width, height).data;
      progress.force(1, 'done');
      return transferResult({ width, height, pixels, scaled, originalWidth, originalHeight });
    } finally {
      bitmap.close();
    }
  } finally {
    progress.close();
  }
}

function checkSourceSize(width: number, height: number, what: string): void {
  if (!(width > 0 && height > 0)) throw new Error(`${what} is a ${width}x${height} image: nothing to decode`);
  if (width * height > MAX_SOURCE_PIXELS) {
    throw new Error(`${what} is ${width}x${height} (${((width * height) / 1e6).toFixed(0)} megapixels), more than the ${MAX_SOURCE_PIXELS / 1e6 | 0} megapixels this app decodes; downscale it first`);
  }
}

/** The largest size with width * height <= maxPixels and sides <= MAX_SIDE, aspect kept (at least 1x1). */
function fitPixels(width: number, height: number, maxPixels: number): { width: number; height: number } {
  const scale = Math.min(1, Math.sqrt(maxPixels / (width * height)), MAX_SIDE / width, MAX_SIDE / height);
  if (scale >= 1) return { width, height };
  let w = Math.max(1, Math.floor(width * scale));
  let h = Math.max(1, Math.floor(height * scale));
  // Floating point can leave the product one row over.
  while (w * h > maxPixels && (w > 1 || h > 1)) {
    if (w / width >= h / height && w > 1) w--;
    else h--;
  }
  return { width: w, height: h };
}

function exportScene(scene: GaussianScene, format: '4d-ply' | 'static-ply', t: number): Uint8Array {
  const bytes = format === '4d-ply' ? writeGaussian4dPly(scene) : writeInriaPly(bakeStaticAt(scene, t));
  return Comlink.transfer(bytes, [bytes.buffer as ArrayBuffer]);
}

function spin(ms: number, onProgress?: ProgressFn): number {
  const progress = progressReporter(onProgress, 10);
  try {
    const start = performance.now();
    let loops = 0;
    for (let now = start; now - start < ms; now = performance.now()) {
      loops++;
      progress.report((now - start) / ms, 'spinning');
    }
    progress.force(1, 'done');
    return loops;
  } finally {
    progress.close();
  }
}

function fail(message: string): never {
  throw new Error(message);
}

const api: DecodeApi = {
  sniff,
  decodeImage,
  exportScene,
  'selfTest.spin': spin,
  'selfTest.fail': fail,
};

Comlink.expose(api);

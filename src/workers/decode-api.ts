/**
 * The decode worker's interface, shared by the endpoint (decode.worker.ts) and the pool
 * (pool.ts). Types only, no DOM and no code that runs.
 *
 * Conventions for methods (others add format decoders here and in decode.worker.ts):
 * - A method may take a progress callback as its LAST parameter, `onProgress?: ProgressFn`.
 *   The pool appends it right after the arguments a caller passes, so parameters before it
 *   must not be optional: declare them `x: T | undefined` (the pool's types enforce this).
 * - Inputs: ArrayBuffer / Blob / File. Blobs are passed by reference (no copy); ArrayBuffers
 *   are copied unless the caller lists them in `transfer`.
 * - Results: plain objects of numbers, strings and typed arrays; the endpoint transfers the
 *   typed arrays' buffers back (no copy).
 * - Errors: throw an Error whose message says what is wrong with the input; the pool prefixes
 *   the method name.
 */
import type { GaussianScene } from '../formats/gaussian-scene.ts';
import type { FileKind } from '../formats/sniff.ts';

export type { FileKind, GaussianScene };

/** Progress: `fraction` in [0, 1], non-decreasing within a job; `message` says what runs. */
export type ProgressFn = (fraction: number, message?: string) => void;

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA8, row-major, top row first, not premultiplied; `width * height * 4` bytes. */
  pixels: Uint8ClampedArray;
  /** True when the image was downscaled to fit `maxPixels`. */
  scaled: boolean;
  originalWidth: number;
  originalHeight: number;
}

export interface DecodeApi {
  /** The kind of a file from its first bytes (`SNIFF_BYTES` is enough) and its name. */
  sniff(bytes: ArrayBuffer, name?: string, size?: number): FileKind;
  /**
   * Decodes an image (PNG, JPEG, WebP, GIF, BMP, whatever the browser decodes) to RGBA8,
   * downscaled so that width * height <= maxPixels (aspect kept).
   */
  decodeImage(blob: Blob, maxPixels: number, onProgress?: ProgressFn): Promise<DecodedImage>;
  /**
   * Writes a scene as a file: '4d-ply' is the suite's documented 4D layout (any kind),
   * 'static-ply' a standard INRIA 3DGS .ply baked at time `t` (readable by other viewers).
   */
  exportScene(scene: GaussianScene, format: '4d-ply' | 'static-ply', t: number): Uint8Array;

  /** Test hook: busy-loops for `ms` like a synchronous decoder, reporting progress; returns the loop count. */
  'selfTest.spin'(ms: number, onProgress?: ProgressFn): number;
  /** Test hook: throws an Error with `message`. */
  'selfTest.fail'(message: string): never;
}

/** Methods of an API object (its keys whose values are functions). */
export type MethodKey<Api> = { [K in keyof Api]: Api[K] extends (...args: never[]) => unknown ? K : never }[keyof Api] & string;

/** True when the method's last parameter is a progress callback. */
export type TakesProgress<F> = F extends (...args: infer P) => unknown
  ? Required<P> extends [...unknown[], infer Last]
    ? [Last] extends [ProgressFn]
      ? [ProgressFn] extends [Last]
        ? true
        : false
      : false
    : false
  : false;

/** The arguments a caller passes: the parameters without the trailing progress callback. */
export type JobArgs<F> = F extends (...args: infer P) => unknown
  ? TakesProgress<F> extends true
    ? P extends [...infer Head, ProgressFn?]
      ? Head extends Required<Head>
        ? Head
        : ['error: parameters before onProgress must not be optional; declare them `x: T | undefined`']
      : never
    : P
  : never;

/** What a job resolves to. */
export type JobResult<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never;

/**
 * What every splat viewer runner of the benchmark shares: the options and result shapes,
 * an 800×600 canvas at device pixel ratio 1, the requestAnimationFrame loop that moves
 * the camera and times presented frames, a capture of the last frame (coverage: did it
 * really draw splats; PSNR against our image at the same pose), and abort plumbing so a
 * stuck peer can be torn down.
 *
 * Frame time = the time between consecutive requestAnimationFrame callbacks while the
 * viewer renders one frame per callback: what a user sees as frame pacing. On SwiftShader
 * the compositor only begins a new frame after the previous one was drawn, so this
 * includes GPU work. As a check, each pass also reports a "synced" mean: the window from
 * the first measured frame to the end of a pixel readback of the last one (which waits
 * for all GPU work), divided by the frames in it.
 */
import type { CameraPose } from '../../../ui/orbit-controls.ts';

export interface CameraPath {
  /** e.g. 'moving camera'. */
  name: string;
  pose(frame: number): CameraPose;
}

export interface PeerOptions {
  width: number;
  height: number;
  /** Frames rendered before timing (more while the canvas shows no splats yet). */
  warmupFrames: number;
  /** Frame intervals measured per pass (fewer if maxMeasureMs runs out first, at least 3). */
  frames: number;
  /** Time cap of one pass's measured window. */
  maxMeasureMs: number;
  /** Camera paths measured one after the other on the same loaded scene. */
  paths: CameraPath[];
  signal: AbortSignal;
  /** Which device a runner with several uses ('webgpu' | 'webgl2' for PlayCanvas). */
  variant?: string;
  /** The suite's shared WebGPU device (our own runner renders with it). */
  device?: GPUDevice;
}

export interface PassResult {
  path: string;
  /** Milliseconds between consecutive presented frames. */
  frameMs: number[];
  /** Mean ms per frame up to the end of a readback of the last frame. */
  syncedMeanMs: number;
  /** Fraction of the last frame's pixels that differ from the black background. */
  coverage: number;
  /** The last frame, 4× downscaled (RGBA), to compare viewers' images at the same pose. */
  image?: FrameImage;
  /** Frames rendered before timing started. */
  warmupFrames: number;
  /** Sorts the viewer finished during the timed window, where it can tell. */
  sorts?: number;
}

export interface PeerResult {
  passes: PassResult[];
  /** From the runner's start until the scene was loaded (before the first frame). */
  loadMs: number;
  note?: string;
}

export type RunPeer = (container: HTMLElement, plyBytes: Uint8Array, opts: PeerOptions) => Promise<PeerResult>;

/** Below this coverage a frame counts as "nothing drawn yet". */
export const MIN_COVERAGE = 0.01;
/** Unmeasured frames between the warm-up's last readback and the timed window. */
const SETTLE_FRAMES = 2;
/** Warm-up gives up when no splats show after this long. */
const WARMUP_LIMIT_MS = 60_000;

/** A canvas of exactly width×height pixels shown at 1 CSS px per pixel, appended to `container`. */
export function makeCanvas(container: HTMLElement, width: number, height: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  Object.assign(canvas.style, { width: `${width}px`, height: `${height}px`, display: 'block' });
  container.appendChild(canvas);
  return canvas;
}

/** Rejects with the signal's reason when it aborts first. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

export const nextFrame = (): Promise<number> => new Promise((resolve) => requestAnimationFrame(resolve));

export interface FrameImage {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

/**
 * A 4×-downscaled copy of the canvas over black. Call it in the same task as the render
 * (WebGL drawing buffers and WebGPU canvas textures are only readable until the frame is
 * presented); it waits for the GPU.
 */
export function captureFrame(canvas: HTMLCanvasElement): FrameImage | null {
  const width = Math.max(1, canvas.width >> 2);
  const height = Math.max(1, canvas.height >> 2);
  const probe = document.createElement('canvas');
  probe.width = width;
  probe.height = height;
  const ctx = probe.getContext('2d', { willReadFrequently: true });
  if (!ctx) return null;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(canvas, 0, 0, width, height);
  return { width, height, rgba: ctx.getImageData(0, 0, width, height).data };
}

/** Fraction of pixels brighter than the black background. */
export function coverageOf(image: FrameImage | null): number {
  if (!image) return NaN;
  const px = image.rgba;
  let lit = 0;
  for (let i = 0; i < px.length; i += 4) if (Math.max(px[i], px[i + 1], px[i + 2]) > 12) lit++;
  return lit / (image.width * image.height);
}

/** PSNR (dB, RGB) between two captures of the same size; NaN when the sizes differ. */
export function imagePsnr(a: FrameImage, b: FrameImage): number {
  if (a.width !== b.width || a.height !== b.height) return NaN;
  let sum = 0;
  for (let i = 0; i < a.rgba.length; i += 4) for (let c = 0; c < 3; c++) sum += (a.rgba[i + c] - b.rgba[i + c]) ** 2;
  const mse = sum / (a.width * a.height * 3);
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/**
 * One timed pass: renders a frame per animation frame with `render(pose, now)`, first
 * warming up (at least `warmupFrames`, until the canvas shows splats, and then at least
 * SETTLE_FRAMES more), then timing
 * `frames` intervals with the camera on `path`. The path restarts at frame 0 when timing
 * starts, so every viewer sees the same poses.
 */
export async function timedPass(
  canvas: HTMLCanvasElement,
  path: CameraPath,
  opts: PeerOptions,
  render: (pose: CameraPose, now: number) => void,
  sortsDone?: () => number,
): Promise<PassResult> {
  const { signal } = opts;
  let warm = 0;
  const warmStart = performance.now();
  const frame = async () => {
    signal.throwIfAborted();
    const now = await nextFrame();
    signal.throwIfAborted();
    render(path.pose(warm), now);
    warm++;
  };
  // Warm-up, part 1: until the canvas shows splats (checked by a readback every frame).
  for (;;) {
    await frame();
    const c = coverageOf(captureFrame(canvas));
    if (c >= MIN_COVERAGE) break;
    if (performance.now() - warmStart > WARMUP_LIMIT_MS) throw new Error(`nothing drawn after ${warm} frames (${(c * 100).toFixed(2)}% of pixels lit)`);
  }
  // Part 2: the readback drained the GPU queue, so the next frames would come back faster
  // than the steady state: refill the pipeline (and reach warmupFrames) before timing.
  for (let settled = 0; settled < SETTLE_FRAMES || warm < opts.warmupFrames; settled++) await frame();
  const stamps: number[] = [];
  let start = 0;
  let last: FrameImage | null = null;
  let end = 0;
  let sortsBefore = 0;
  for (let i = 0; ; i++) {
    signal.throwIfAborted();
    const now = await nextFrame();
    signal.throwIfAborted();
    if (i === 0) {
      start = now;
      sortsBefore = sortsDone?.() ?? 0;
    }
    stamps.push(now);
    render(path.pose(i), now);
    const intervals = stamps.length - 1;
    const outOfTime = performance.now() - start > opts.maxMeasureMs && intervals >= 3;
    if (intervals >= opts.frames || outOfTime) {
      last = captureFrame(canvas);
      end = performance.now();
      break;
    }
  }
  const frameMs = stamps.slice(1).map((t, i) => t - stamps[i]);
  const result: PassResult = { path: path.name, frameMs, syncedMeanMs: (end - start) / stamps.length, coverage: coverageOf(last), warmupFrames: warm, image: last ?? undefined };
  if (sortsDone) result.sorts = sortsDone() - sortsBefore;
  return result;
}

/** Runs cleanup steps in reverse order, each even if an earlier one throws. */
export class Teardown {
  private readonly steps: (() => unknown)[] = [];

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (e) {
        console.warn('bench teardown step failed', e);
      }
    }
  }
}

/** Drops a WebGL context now instead of waiting for garbage collection (browsers cap live contexts). */
export function loseWebGlContext(gl: WebGLRenderingContext | WebGL2RenderingContext | null | undefined): void {
  gl?.getExtension('WEBGL_lose_context')?.loseContext();
}

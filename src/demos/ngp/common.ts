/**
 * What the lab's four apps share: the app interface the element drives, the blit of an f32
 * image buffer into the output texture, a clear, camera rays, and the training pacing.
 */
import type { TemplateResult } from 'lit';
import displayWgsl from '../../../shaders/ngp_app_display.wgsl?raw';
import type { FileKind } from '../../formats/sniff.ts';
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { computePipeline, workgroups } from '../../gpu/shader.ts';
import { LossReadback } from '../../nn/ngp/loss.ts';
import { UniformArena } from '../../nn/ngp/gpu-util.ts';
import type { CameraPose } from '../../ui/orbit-controls.ts';

export type AppName = 'gia' | 'nsdf' | 'nerf' | 'nvr';
export const APP_NAMES: readonly AppName[] = ['gia', 'nsdf', 'nerf', 'nvr'];
export const APP_TITLES: Record<AppName, string> = {
  gia: 'GIA (image)',
  nsdf: 'NSDF (signed distance)',
  nerf: 'NeRF (radiance field)',
  nvr: 'NVR (volume)',
};

export interface AppFrame {
  encoder: GPUCommandEncoder;
  output: GPUTexture;
  profiler: GpuProfiler;
  /** Training steps to record this frame (0 while paused). */
  steps: number;
  afterSubmit(callback: () => void): void;
}

export interface CurvePoint {
  step: number;
  value: number;
}

export interface AppSettings {
  seed: number;
  /** Rows (samples / rays x samples) per training step. */
  batch: number;
  /** Fully fused MLP (true) or the unfused baseline. */
  fused: boolean;
  /** The adapter is a CPU implementation (SwiftShader, lavapipe...): smaller defaults. */
  cpu: boolean;
  params: URLSearchParams;
}

/** Default log2 hash table size: instant-ngp's 2^19, or 2^16 on CPU adapters (Adam walks every entry each step). */
export function defaultLog2T(settings: AppSettings): number {
  return intParam(settings.params, 'log2T', settings.cpu ? 16 : 19, 3, 30);
}

export interface NgpApp {
  readonly name: AppName;
  /** One line on what is being fitted (honest about built-in content). */
  note: string;
  /** Training steps done. */
  readonly step: number;
  /** Loss readbacks: latest and first loss since the last reset, the plotted curve, steps/s. */
  readonly stats: TrainingStats;
  /** Latest PSNR in dB, where the app has one. */
  readonly psnr: number | null;
  /** What the plot shows. */
  readonly curveLabel: string;
  /** Is a camera used (orbit controls apply)? */
  readonly camera: boolean;
  encode(frame: AppFrame): void;
  setCamera?(pose: CameraPose): void;
  defaultPose?(): CameraPose;
  /** File kinds this app opens. */
  readonly accepts: readonly FileKind[];
  load?(blob: Blob, kind: FileKind, name: string, signal: AbortSignal, progress: (fraction: number | null, label: string) => void): Promise<void>;
  /** App-specific stats (merged into the element's). */
  extraStats(): Record<string, unknown>;
  /** App-specific controls. */
  controls?(requestUpdate: () => void): TemplateResult | null;
  reset(): void;
  destroy(): void;
}

/** Draws an f32 RGB image buffer into a rectangle of the output. */
export class Display {
  private readonly pipeline: GPUComputePipeline;
  private readonly uniforms: UniformArena;

  constructor(private readonly device: GPUDevice) {
    this.pipeline = computePipeline(device, 'ngp display', displayWgsl, 'main');
    this.uniforms = new UniformArena(device, 'ngp display', 16);
  }

  encode(
    encoder: GPUCommandEncoder,
    output: GPUTexture,
    src: GPUBuffer,
    srcSize: { width: number; height: number; stride: number },
    rect: { x: number; y: number; width: number; height: number },
    profiler?: GpuProfiler,
  ): void {
    if (rect.width <= 0 || rect.height <= 0) return;
    const u = new Uint32Array([srcSize.width, srcSize.height, srcSize.stride, 0, rect.x, rect.y, rect.width, rect.height]);
    const uniform = this.uniforms.bind(u.buffer);
    const group = this.device.createBindGroup({
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: uniform },
        { binding: 1, resource: { buffer: src } },
        { binding: 2, resource: output.createView() },
      ],
    });
    const pass = profiler ? profiler.computePass(encoder, 'render') : encoder.beginComputePass({ label: 'render' });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(workgroups(rect.width, 8), workgroups(rect.height, 8));
    pass.end();
  }

  destroy(): void {
    this.uniforms.destroy();
  }
}

/** Clears the output texture to a colour (render pass; the output has RENDER_ATTACHMENT). */
export function clearOutput(encoder: GPUCommandEncoder, output: GPUTexture, colour: [number, number, number] = [0.06, 0.07, 0.09]): void {
  const pass = encoder.beginRenderPass({
    label: 'ngp clear',
    colorAttachments: [{ view: output.createView(), loadOp: 'clear', storeOp: 'store', clearValue: { r: colour[0], g: colour[1], b: colour[2], a: 1 } }],
  });
  pass.end();
}

/** The largest rectangle of aspect w:h centred in the box. */
export function fitRect(w: number, h: number, box: { x: number; y: number; width: number; height: number }): { x: number; y: number; width: number; height: number } {
  const scale = Math.min(box.width / w, box.height / h);
  const width = Math.max(1, Math.floor(w * scale));
  const height = Math.max(1, Math.floor(h * scale));
  return { x: box.x + Math.floor((box.width - width) / 2), y: box.y + Math.floor((box.height - height) / 2), width, height };
}

/**
 * Camera uniform block (64 bytes) for the ray kernels: origin, then right / up / forward with
 * the half-extent of the image plane folded into right and up. World = field coordinates - 0.5.
 */
export function cameraBlock(pose: CameraPose, width: number, height: number): Float32Array {
  const [px, py, pz] = pose.position;
  const f = normalize([pose.target[0] - px, pose.target[1] - py, pose.target[2] - pz]);
  const r = normalize(cross(f, pose.up));
  const u = cross(r, f);
  const tanY = Math.tan((pose.fovYDeg * Math.PI) / 360);
  const tanX = (tanY * width) / height;
  return new Float32Array([px, py, pz, 0, r[0] * tanX, r[1] * tanX, r[2] * tanX, 0, u[0] * tanY, u[1] * tanY, u[2] * tanY, 0, f[0], f[1], f[2], 0]);
}

export type Vec3 = [number, number, number];
export function cross(a: readonly number[], b: readonly number[]): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
export function normalize(a: readonly number[]): Vec3 {
  const l = Math.hypot(a[0], a[1], a[2]) || 1;
  return [a[0] / l, a[1] / l, a[2] / l];
}

/** An orbit pose around the origin at `distance`, yaw/pitch in radians. */
export function orbitPose(yaw: number, pitch: number, distance: number, fovYDeg = 45): CameraPose {
  return {
    position: [distance * Math.cos(pitch) * Math.sin(yaw), distance * Math.sin(pitch), distance * Math.cos(pitch) * Math.cos(yaw)],
    target: [0, 0, 0],
    up: [0, 1, 0],
    fovYDeg,
  };
}

/** Size of a 3D app's internal render: the output scaled so that it has at most `maxRays` pixels. */
export function renderSize(output: GPUTexture, maxRays: number): { width: number; height: number } {
  const scale = Math.min(1, Math.sqrt(maxRays / (output.width * output.height)));
  return { width: Math.max(8, Math.round(output.width * scale)), height: Math.max(8, Math.round(output.height * scale)) };
}

/**
 * Training statistics: loss readback (non-blocking), steps/s, and a curve of a value per
 * step, capped in length (older points thinned).
 */
export class TrainingStats {
  loss: number | null = null;
  firstLoss: number | null = null;
  readonly curve: CurvePoint[] = [];
  stepsPerSecond = 0;
  private readonly readback: LossReadback;
  private lastCount = -1;
  private rateStart = { time: 0, step: 0 };

  constructor(device: GPUDevice) {
    this.readback = new LossReadback(device);
  }

  /** Copies the loss stats (after this frame's training) and updates when it maps. */
  encode(encoder: GPUCommandEncoder, stats: GPUBuffer, step: number, afterSubmit: (c: () => void) => void, curveValue: ((loss: number) => number) | null): void {
    const done = this.readback.encode(encoder, stats);
    afterSubmit(() => {
      done();
    });
    const latest = this.readback.latest;
    if (latest && latest.count !== this.lastCount && latest.count > 0 && Number.isFinite(latest.last)) {
      this.lastCount = latest.count;
      this.loss = latest.last;
      if (this.firstLoss === null) this.firstLoss = latest.last;
      if (curveValue) this.push({ step: latest.count, value: curveValue(latest.last) });
    }
    const now = performance.now();
    if (!this.rateStart.time) this.rateStart = { time: now, step };
    else if (now - this.rateStart.time > 1000) {
      this.stepsPerSecond = ((step - this.rateStart.step) * 1000) / (now - this.rateStart.time);
      this.rateStart = { time: now, step };
    }
  }

  push(p: CurvePoint): void {
    this.curve.push(p);
    if (this.curve.length > 400) {
      // keep every other point of the older half
      const half = this.curve.splice(0, 200).filter((_, i) => i % 2 === 0);
      this.curve.unshift(...half);
    }
  }

  reset(): void {
    this.loss = null;
    this.firstLoss = null;
    this.curve.length = 0;
    this.lastCount = -1;
    this.rateStart = { time: 0, step: 0 };
    this.stepsPerSecond = 0;
  }

  /** Ignore readbacks that were in flight across a reset. */
  resetPending(count: number): void {
    this.lastCount = count;
  }

  destroy(): void {
    this.readback.destroy();
  }
}

/** Positive integer URL parameter within [lo, hi], or the fallback. */
export function intParam(params: URLSearchParams, key: string, fallback: number, lo: number, hi: number): number {
  const raw = params.get(key);
  const v = raw === null ? NaN : Number(raw);
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.round(v))) : fallback;
}

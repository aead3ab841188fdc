/**
 * MobileR2L on the nn runtime: the ray/positional-encoding kernel, the network (head, body,
 * SR tail exactly as snap-research/MobileR2L model/R2L.py, BatchNorm folded at load, GELU,
 * residual adds and the output sigmoid fused into the conv epilogues), and the WGSL teacher.
 * Each is a plain class: built with a GPUDevice, records into a caller's encoder, destroy().
 */
import encodeWgsl from '../../../shaders/nelf_encode.wgsl?raw';
import teacherWgsl from '../../../shaders/nelf_teacher.wgsl?raw';
import { foldBatchNorm, StageRecorder, StateDictReader } from '../../nn/graph.ts';
import { NarrowConv2d, NARROW_MAX_CHANNELS } from '../../nn/ops/conv-narrow.ts';
import type { Activation } from '../../nn/ops/common.ts';
import { cachedPipeline, linearGroups, OpResources } from '../../nn/ops/common.ts';
import type { Conv2d, Precision } from '../../nn/ops/conv2d.ts';
import type { ConvTranspose2d } from '../../nn/ops/conv-transpose2d.ts';
import { Binary } from '../../nn/ops/elementwise.ts';
import type { Shape, Tensor, TensorPool } from '../../nn/tensor.ts';
import type { Tensor as FileTensor } from '../../formats/tensor.ts';
import type { Mat4 } from './camera.ts';
import { r2lConfig, type R2LConfig } from './weights.ts';

/** Profiler stage names (stats.gpuMs keys). */
export const STAGES = { encode: 'rays+pe', body: 'head+body', tail: 'tail (upsampling)', teacher: 'teacher', view: 'view+psnr' } as const;

/** The three rows of a row-major 4x4 as the shaders' vec4 rows (rotation | translation). */
function poseRows(c2w: Mat4): number[] {
  return c2w.slice(0, 12);
}

export interface RayParams {
  c2w: Mat4;
  /** Low-res grid. */
  height: number;
  width: number;
  /** Focal length on the low-res grid (focal_out * height / out_height). */
  focal: number;
  samples: number;
  multires: number;
  near: number;
  far: number;
  ndc?: boolean;
  /** Near plane of the NDC shift (NeRF's ndc_rays near = 1). */
  ndcNear?: number;
}

/** Rays + samples + positional encoding -> network input [1, 3*S*(2L+1), H, W]. */
export class RayEncoder {
  private readonly resources: OpResources;

  constructor(private readonly device: GPUDevice) {
    this.resources = new OpResources(device, 'nelf rays+pe');
  }

  outputShape(p: Pick<RayParams, 'height' | 'width' | 'samples' | 'multires'>): Shape {
    return [1, 3 * p.samples * (2 * p.multires + 1), p.height, p.width];
  }

  encode(pass: GPUComputePassEncoder, p: RayParams, out: Tensor): void {
    const shape = this.outputShape(p);
    if (out.c !== shape[1] || out.h !== p.height || out.w !== p.width) throw new RangeError(`rays+pe: output must be [${shape.join(', ')}], got [${out.shape.join(', ')}]`);
    const items = p.height * p.width * p.samples * 3;
    const [gx, gy] = linearGroups(this.device, items, 64);
    // struct Params of nelf_encode.wgsl: f32 pose rows, then mixed u32/f32 fields.
    const words = new Uint32Array(24);
    const f = new Float32Array(words.buffer);
    f.set(poseRows(p.c2w), 0);
    words.set([p.height, p.width, p.samples, p.multires], 12);
    f.set([p.focal, p.near, p.far], 16);
    words[19] = p.ndc ? 1 : 0;
    f[20] = p.ndcNear ?? 1;
    words[21] = gx;
    const pipeline = cachedPipeline(this.device, 'nelf-encode', 'nelf rays+pe', () => encodeWgsl);
    this.resources.dispatch(pass, pipeline, [this.resources.uniform(words), out.buffer], gx, gy);
  }

  destroy(): void {
    this.resources.destroy();
  }
}

/** The WGSL port of tools/nelf/teacher.py: NCHW [1, 3, H, W] RGB. */
export class TeacherRenderer {
  private readonly resources: OpResources;

  constructor(private readonly device: GPUDevice) {
    this.resources = new OpResources(device, 'nelf teacher');
  }

  encode(pass: GPUComputePassEncoder, c2w: Mat4, focal: number, out: Tensor): void {
    if (out.c !== 3) throw new RangeError(`teacher: output must have 3 channels, got [${out.shape.join(', ')}]`);
    const [gx, gy] = linearGroups(this.device, out.h * out.w, 64);
    const words = new Uint32Array(16);
    const f = new Float32Array(words.buffer);
    f.set(poseRows(c2w), 0);
    words.set([out.h, out.w], 12);
    f[14] = focal;
    words[15] = gx;
    const pipeline = cachedPipeline(this.device, 'nelf-teacher', 'nelf teacher', () => teacherWgsl);
    this.resources.dispatch(pass, pipeline, [this.resources.uniform(words), out.buffer], gx, gy);
  }

  destroy(): void {
    this.resources.destroy();
  }
}

/** A 1x1 conv of the network: the tiled GEMM, or the narrow kernel for few output channels. */
type Pointwise = Conv2d | NarrowConv2d;
type TailOp = { kind: 'up'; conv: ConvTranspose2d } | { kind: 'block'; a: Pointwise; b: Pointwise } | { kind: 'out'; conv: Pointwise };

export interface MobileR2LOptions {
  /** GEMM tile precision: 'auto' uses f16 where the device has shader-f16 (default 'f32'). */
  precision?: Precision;
  /**
   * Kernels for the SR tail's narrow layers (<= 32 channels, always at a pixel count divisible
   * by 4): 'narrow' (default) runs its 1x1 convs with one invocation per 4 pixels and all
   * channels in registers, and its transposed convs with the gather kernel, which beat the
   * tiled GEMM there (3-15x on SwiftShader); 'gemm' keeps the GEMM everywhere.
   */
  tailKernels?: 'narrow' | 'gemm';
}

/** MobileR2L's R2L network from a state dict with the official key names. */
export class MobileR2L {
  readonly config: R2LConfig;
  private readonly head: Conv2d;
  private readonly body: { a: Pointwise; b: Pointwise }[] = [];
  private readonly tail: TailOp[] = [];
  private readonly skipAdd: Binary;

  constructor(
    device: GPUDevice,
    tensors: Map<string, FileTensor>,
    metadata: Record<string, string> = {},
    options: MobileR2LOptions = {},
  ) {
    this.config = r2lConfig(tensors, metadata);
    const cfg = this.config;
    const sd = new StateDictReader(tensors);
    const precision = options.precision ?? 'f32';
    const act = cfg.activation;
    const made: { destroy(): void }[] = [];
    const keep = <T extends { destroy(): void }>(x: T): T => (made.push(x), x);
    const narrowTail = (options.tailKernels ?? 'narrow') === 'narrow';
    const narrow = (prefix: string, bn: string | null, activation: Activation): NarrowConv2d => {
      const w = sd.get(`${prefix}.weight`);
      const b = sd.get(`${prefix}.bias`, [w.shape[0]]).data;
      let f = { weight: w.data, bias: b };
      if (bn) {
        const c = [w.shape[0]];
        f = foldBatchNorm(w.data, b, sd.get(`${bn}.weight`, c).data, sd.get(`${bn}.bias`, c).data, sd.get(`${bn}.running_mean`, c).data, sd.get(`${bn}.running_var`, c).data);
      }
      return new NarrowConv2d(device, { inChannels: w.shape[1], outChannels: w.shape[0], weight: f.weight, bias: f.bias, activation, label: prefix });
    };
    const pointwise = (inTail: boolean, channels: number, prefix: string, bn: string | null, activation: Activation): Pointwise =>
      keep(inTail && narrowTail && channels <= NARROW_MAX_CHANNELS ? narrow(prefix, bn, activation) : sd.conv2d(device, prefix, { batchNorm: bn ?? undefined, activation, precision }));
    const block = (p: string, inTail = false, channels = cfg.width) => ({
      a: pointwise(inTail, channels, `${p}.conv_block.0`, `${p}.conv_block.1`, act),
      b: pointwise(inTail, channels, `${p}.conv_block.3`, `${p}.conv_block.4`, 'none'),
    });
    try {
      this.head = keep(sd.conv2d(device, 'head.0', { activation: act, precision }));
      for (let i = 0; i < cfg.blocks; i++) this.body.push(block(`body.${i}`));
      for (const t of cfg.tail) {
        if (t.kind === 'block') this.tail.push({ kind: 'block', ...block(`tail.${t.index}`, true, t.channels) });
        else if (t.kind === 'up') {
          const impl = narrowTail && t.outC <= NARROW_MAX_CHANNELS ? 'gather' : 'gemm';
          this.tail.push({ kind: 'up', conv: keep(sd.convTranspose2d(device, `tail.${t.index}`, { stride: t.stride, padding: t.padding, precision, impl })) });
        } else this.tail.push({ kind: 'out', conv: pointwise(true, 3, `tail.${t.index}`, null, 'sigmoid') });
      }
      this.skipAdd = keep(new Binary(device, { op: 'add', label: 'body skip' }));
    } catch (e) {
      for (const m of made) m.destroy();
      throw e;
    }
  }

  outputShape(input: Shape): Shape {
    const u = this.config.upscale;
    return [input[0], 3, input[2] * u, input[3] * u];
  }

  /** Multiply-accumulates per frame at a low-res size. */
  macs(height: number, width: number): number {
    let shape: Shape = [1, this.config.inputDim, height, width];
    let total = this.head.macs(shape);
    shape = this.head.outputShape(shape);
    for (const b of this.body) total += b.a.macs(shape) + b.b.macs(shape);
    for (const t of this.tail) {
      if (t.kind === 'block') total += t.a.macs(shape) + t.b.macs(shape);
      else {
        const c = t.conv;
        if (t.kind === 'up') {
          const out = (c as ConvTranspose2d).outputShape(shape);
          total += shape[1] * out[1] * shape[2] * shape[3] * c.kernel * c.kernel;
          shape = out;
        } else {
          total += (c as Pointwise).macs(shape);
          shape = (c as Pointwise).outputShape(shape);
        }
      }
    }
    return total;
  }

  /**
   * Records the network on `input` [1, inputDim, H, W] into the recorder's encoder (stages
   * 'head+body' and 'tail (upsampling)'); returns the output [1, 3, uH, uW] (`output` if given,
   * else a pool tensor the caller destroys).
   */
  run(rec: StageRecorder, input: Tensor, pool: TensorPool, output?: Tensor): Tensor {
    if (input.c !== this.config.inputDim) throw new RangeError(`MobileR2L: input has ${input.c} channels, the network takes ${this.config.inputDim}`);
    const block = (stage: string, x: Tensor, a: Pointwise, b: Pointwise, out?: Tensor): Tensor => {
      const t = pool.acquire(a.outputShape(x.shape));
      const y = out ?? pool.acquire(b.outputShape(t.shape));
      rec.run(stage, (pass) => {
        a.encode(pass, x, t);
        b.encode(pass, t, y, { skip: x });
      });
      t.destroy();
      return y;
    };
    const h = pool.acquire(this.head.outputShape(input.shape));
    rec.run(STAGES.body, (pass) => this.head.encode(pass, input, h));
    let x = h;
    for (const b of this.body) {
      const y = block(STAGES.body, x, b.a, b.b);
      if (x !== h) x.destroy();
      x = y;
    }
    // Global skip: body(h) + h.
    const sum = pool.acquire(h.shape);
    const lhs = x;
    rec.run(STAGES.body, (pass) => this.skipAdd.encode(pass, lhs, h, sum));
    if (x !== h) x.destroy();
    h.destroy();
    x = sum;
    for (let i = 0; i < this.tail.length; i++) {
      const t = this.tail[i];
      let y: Tensor;
      if (t.kind === 'block') y = block(STAGES.tail, x, t.a, t.b);
      else {
        const conv = t.conv;
        y = i === this.tail.length - 1 && output ? output : pool.acquire(conv.outputShape(x.shape));
        const inT = x;
        rec.run(STAGES.tail, (pass) => conv.encode(pass, inT, y));
      }
      x.destroy();
      x = y;
    }
    return x;
  }

  destroy(): void {
    this.head.destroy();
    for (const b of this.body) {
      b.a.destroy();
      b.b.destroy();
    }
    for (const t of this.tail) {
      if (t.kind === 'block') {
        t.a.destroy();
        t.b.destroy();
      } else t.conv.destroy();
    }
    this.skipAdd.destroy();
  }
}

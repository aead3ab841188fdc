/**
 * Resampling ops (shaders/nn_resize.wgsl): `Upsample` (F.interpolate, nearest or bilinear with
 * align_corners true/false, to the output tensor's size: an integer scale or any target size,
 * like DM-VTON's FPN `F.upsample(x, size=(H, W))`) and `AdaptiveAvgPool2d` (general bins; the
 * 1x1 global pool is the case the models use). Both read and write channel slices if asked.
 */
import resizeWgsl from '../../../shaders/nn_resize.wgsl?raw';
import type { Shape, Tensor } from '../tensor.ts';
import { cachedPipeline, checkChannels, inPass, linearGroups, OpResources, type EncodeTarget } from './common.ts';

export type UpsampleMode = 'nearest' | 'bilinear';

export interface ResizeEncodeOptions {
  inChannelOffset?: number;
  channels?: number;
  outChannelOffset?: number;
}

abstract class ResizeOp {
  protected readonly resources: OpResources;

  constructor(
    protected readonly device: GPUDevice,
    readonly label: string,
    private readonly entry: 'upsample' | 'avgpool',
  ) {
    this.resources = new OpResources(device, label);
  }

  protected record(target: EncodeTarget, input: Tensor, output: Tensor, options: ResizeEncodeOptions, mode: number, align: boolean): void {
    const inOff = options.inChannelOffset ?? 0;
    const channels = options.channels ?? input.c - inOff;
    const outOff = options.outChannelOffset ?? 0;
    checkChannels(`${this.label} input`, input, inOff, channels);
    checkChannels(`${this.label} output`, output, outOff, channels);
    if (input.n !== output.n) throw new RangeError(`${this.label}: batch sizes differ`);
    if (input.buffer === output.buffer) throw new RangeError(`${this.label}: input and output must be different tensors`);
    const [gx, gy] = linearGroups(this.device, output.n * channels * output.h * output.w, 64);
    const u = this.resources.uniform([input.n, channels, input.h, input.w, output.h, output.w, input.c, inOff, output.c, outOff, mode, align ? 1 : 0, gx, 0, 0, 0]);
    const pipeline = cachedPipeline(this.device, 'nn-resize', 'nn resize', () => resizeWgsl, this.entry);
    inPass(target, this.label, (pass) => this.resources.dispatch(pass, pipeline, [u, input.buffer, output.buffer], gx, gy));
  }

  destroy(): void {
    this.resources.destroy();
  }
}

export class Upsample extends ResizeOp {
  readonly mode: UpsampleMode;
  readonly alignCorners: boolean;

  constructor(device: GPUDevice, params: { mode?: UpsampleMode; alignCorners?: boolean; label?: string } = {}) {
    const mode = params.mode ?? 'nearest';
    super(device, params.label ?? `upsample ${mode}${params.alignCorners ? ' align' : ''}`, 'upsample');
    if (mode !== 'nearest' && mode !== 'bilinear') throw new RangeError(`upsample mode '${mode}' is not supported (nearest, bilinear)`);
    if (mode === 'nearest' && params.alignCorners) throw new RangeError('align_corners only applies to bilinear upsampling');
    this.mode = mode;
    this.alignCorners = params.alignCorners ?? false;
  }

  /** Output shape for an integer scale factor, or an explicit size. */
  static outputShape(input: Shape, to: { scale: number } | { size: [number, number] }): Shape {
    if ('scale' in to) return [input[0], input[1], Math.floor(input[2] * to.scale), Math.floor(input[3] * to.scale)];
    return [input[0], input[1], to.size[0], to.size[1]];
  }

  /** Resamples `input` to the spatial size of `output`. */
  encode(target: EncodeTarget, input: Tensor, output: Tensor, options: ResizeEncodeOptions = {}): void {
    this.record(target, input, output, options, this.mode === 'nearest' ? 0 : 1, this.alignCorners);
  }
}

export class AdaptiveAvgPool2d extends ResizeOp {
  constructor(device: GPUDevice, params: { label?: string } = {}) {
    super(device, params.label ?? 'adaptive_avg_pool', 'avgpool');
  }

  /** Pools `input` to the spatial size of `output` (1x1 for a global average). */
  encode(target: EncodeTarget, input: Tensor, output: Tensor, options: ResizeEncodeOptions = {}): void {
    this.record(target, input, output, options, 0, false);
  }
}

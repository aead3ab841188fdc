/**
 * Conv2d (PyTorch semantics, square kernels, NCHW f32) with a fused epilogue: bias, activation,
 * residual add before or after the activation, and output/input channel offsets so a conv can
 * read a slice of a tensor and write into a slice of a concat buffer.
 *
 * Implementations (chosen by `impl: 'auto'`):
 *   - 'gemm': tiled GEMM (shaders/nn_conv_gemm.wgsl) for groups = 1. 1x1 stride-1 convs read
 *     pixels as vec4 rows (the MobileR2L hot path); other kernels gather im2col columns on the
 *     fly. f16 tiles when `precision` asks for it and the device has `shader-f16`.
 *   - 'depthwise': groups = in = out channels (MobileNetV2), 4 outputs per invocation.
 *   - 'direct': one invocation per output value; any groups and dilation. The fallback, and
 *     the naive baseline in the timing test.
 */
import convWgsl from '../../../shaders/nn_conv.wgsl?raw';
import gemmWgsl from '../../../shaders/nn_conv_gemm.wgsl?raw';
import type { Shape, Tensor } from '../tensor.ts';
import {
  activationWords,
  cachedPipeline,
  checkChannels,
  epilogueFlags,
  inPass,
  linearGroups,
  OpResources,
  weightBuffer,
  type ActivationSpec,
  type EncodeTarget,
  type ResidualOrder,
} from './common.ts';

export type ConvImpl = 'auto' | 'gemm' | 'direct' | 'depthwise';
export type Precision = 'f32' | 'f16' | 'auto';

export interface Conv2dParams extends ActivationSpec {
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  /** [outChannels, inChannels / groups, kernel, kernel], PyTorch layout (fold BN first: graph.ts). */
  weight: Float32Array;
  bias?: Float32Array;
  /** Where a skip passed to encode is added (default 'after': act(conv) + skip). */
  residualOrder?: ResidualOrder;
  impl?: ConvImpl;
  /** 'auto' picks f16 GEMM tiles when the device has shader-f16; default 'f32'. */
  precision?: Precision;
  label?: string;
}

export interface ConvEncodeOptions {
  /** Residual of the conv's output shape [N, outChannels, Ho, Wo]; must not be the output tensor. */
  skip?: Tensor;
  /** First channel of the input tensor the conv reads (default 0). */
  inChannelOffset?: number;
  /** First channel of the output tensor the conv writes (default 0): concat for free. */
  outChannelOffset?: number;
}

export function convOutputSize(size: number, kernel: number, stride = 1, padding = 0, dilation = 1): number {
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Whether `device` can run the f16 GEMM variant. */
export function hasF16(device: GPUDevice): boolean {
  return device.features.has('shader-f16');
}

export interface GemmVariant {
  /** 0: 1x1 with vec4 pixel rows, 1: 1x1 scalar edges, 2: implicit GEMM (im2col), 3: transposed-conv sub-pixel class. */
  mode: 0 | 1 | 2 | 3;
  /** Output-channel rows per tile (pixels per tile = 4096 / bm). */
  bm: 16 | 32 | 64;
  f16: boolean;
  /**
   * Per-slice partial sums added to f32 accumulators (what the f16 variant does; default =
   * f16). Settable with f32 tiles so devices without shader-f16 test that code path.
   */
  partialSums?: boolean;
}

/** Tile shape of a GEMM variant: BM x BN outputs, BK-deep slices, and the workgroup bytes it uses. */
export function gemmTile(bm: 16 | 32 | 64, f16: boolean): { bm: number; bn: number; bk: number; workgroupBytes: number } {
  const bn = 4096 / bm;
  const bk = bm === 16 ? 8 : 16;
  return { bm, bn, bk, workgroupBytes: (bm + bn) * bk * (f16 ? 2 : 4) };
}

/** WGSL of a GEMM variant and its cache key. */
export function gemmKernel(v: GemmVariant): { code: string; key: string } {
  const { bm, bn, bk } = gemmTile(v.bm, v.f16);
  const partial = v.partialSums ?? v.f16;
  const header = [
    v.f16 ? 'enable f16;' : '',
    `alias T = ${v.f16 ? 'f16' : 'f32'};`,
    `const BM: u32 = ${bm}u;`,
    `const BN: u32 = ${bn}u;`,
    `const BK: u32 = ${bk}u;`,
    `const MODE: u32 = ${v.mode}u;`,
    `const ACC_F16: bool = ${partial};`,
  ]
    .filter(Boolean)
    .join('\n');
  return { code: `${header}\n${gemmWgsl}`, key: `nn-conv-gemm:m${v.mode}:bm${bm}:${v.f16 ? 'f16' : 'f32'}${partial && !v.f16 ? ':partial' : ''}` };
}

/** Fields of the GEMM kernel's uniform block (struct Gemm), in order, alpha excluded. */
export interface GemmUniform {
  M: number;
  N: number;
  K: number;
  Kp: number;
  Cin: number;
  inOff: number;
  H: number;
  W: number;
  Wo: number;
  k: number;
  stride: number;
  pad: number;
  Ctot: number;
  outOff: number;
  flags: number;
  act: number;
  plane: number;
  wOff?: number;
  Wq?: number;
  ry?: number;
  rx?: number;
  dy0?: number;
  dx0?: number;
  Ty?: number;
  Tx?: number;
  /** Row length of the k-major weight matrix (M rounded up to 64). */
  Mp: number;
}

/** The GEMM kernel's uniform block (struct Gemm, 28 words): u32 fields, alpha as f32 bits, i32 offsets. */
export function gemmUniform(u: GemmUniform, alpha: number): Uint32Array {
  const words = new Uint32Array(28);
  words.set([u.M, u.N, u.K, u.Kp, u.Cin, u.inOff, u.H, u.W, u.Wo, u.k, u.stride, u.pad, u.Ctot, u.outOff, u.flags, u.act]);
  new Float32Array(words.buffer)[16] = alpha;
  const i32 = new Int32Array(words.buffer);
  words.set([u.plane, u.wOff ?? 0, u.Wq ?? 0, u.ry ?? 0, u.rx ?? 0], 17);
  i32[22] = u.dy0 ?? 0;
  i32[23] = u.dx0 ?? 0;
  words.set([u.Ty ?? 0, u.Tx ?? 0, u.Mp], 24);
  return words;
}

/** [rows][K] row-major weights -> k-major [Kp][M rounded up to 64], zero padded (the GEMM's A layout). */
export function kMajor(weight: Float32Array, rows: number, K: number, Kp: number): Float32Array {
  const mp = Math.ceil(rows / 64) * 64;
  const out = new Float32Array(Kp * mp);
  for (let m = 0; m < rows; m++) for (let k = 0; k < K; k++) out[k * mp + m] = weight[m * K + k];
  return out;
}

/** Smallest tile height that covers `outChannels` (64 for wide layers). */
export function gemmRows(outChannels: number): 16 | 32 | 64 {
  return outChannels <= 16 ? 16 : outChannels <= 32 ? 32 : 64;
}

export class Conv2d {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly groups: number;
  readonly impl: Exclude<ConvImpl, 'auto'>;
  readonly precision: 'f32' | 'f16';
  readonly label: string;
  private readonly spec: ActivationSpec;
  private readonly order: ResidualOrder;
  private weights!: GPUBuffer;
  private biasBuffer!: GPUBuffer;
  private readonly resources: OpResources;
  /** Padded weight row length (GEMM). */
  private readonly kPadded: number;

  constructor(
    private readonly device: GPUDevice,
    params: Conv2dParams,
  ) {
    this.inChannels = params.inChannels;
    this.outChannels = params.outChannels;
    this.kernel = params.kernel;
    this.stride = params.stride ?? 1;
    this.padding = params.padding ?? 0;
    this.dilation = params.dilation ?? 1;
    this.groups = params.groups ?? 1;
    this.label = params.label ?? `conv ${this.inChannels}->${this.outChannels} k${this.kernel}`;
    this.spec = { activation: params.activation, alpha: params.alpha };
    activationWords(this.spec); // validates
    this.order = params.residualOrder ?? 'after';
    const { inChannels: cin, outChannels: cout, groups } = this;
    if (![cin, cout, this.kernel, this.stride, this.dilation, groups].every((v) => Number.isInteger(v) && v >= 1) || !Number.isInteger(this.padding) || this.padding < 0) {
      throw new RangeError(`${this.label}: channels, kernel, stride, dilation and groups must be positive integers, padding a non-negative one`);
    }
    if (cin % groups || cout % groups) throw new RangeError(`${this.label}: ${cin} in and ${cout} out channels must both divide by groups = ${groups}`);
    const depthwise = groups === cin && groups === cout;
    let impl = params.impl ?? 'auto';
    if (impl === 'auto') impl = groups === 1 && this.dilation === 1 ? 'gemm' : depthwise ? 'depthwise' : 'direct';
    if (impl === 'gemm' && (groups !== 1 || this.dilation !== 1)) throw new RangeError(`${this.label}: the GEMM path needs groups = 1 and dilation = 1`);
    if (impl === 'depthwise' && !depthwise) throw new RangeError(`${this.label}: the depthwise path needs groups = in = out channels`);
    this.impl = impl;
    const precision = params.precision ?? 'f32';
    if (precision === 'f16' && !hasF16(device)) throw new Error(`${this.label}: f16 precision needs the shader-f16 feature, which this device lacks`);
    this.precision = impl === 'gemm' && (precision === 'f16' || (precision === 'auto' && hasF16(device))) ? 'f16' : 'f32';
    this.kPadded = Math.ceil((cin * this.kernel * this.kernel) / 16) * 16;
    this.resources = new OpResources(device, this.label);
    this.setWeights(params.weight, params.bias);
  }

  /** Replaces weights and bias (same shapes). */
  setWeights(weight: Float32Array, bias?: Float32Array): void {
    const { outChannels: cout, inChannels: cin, groups, kernel: k } = this;
    const perOut = (cin / groups) * k * k;
    if (weight.length !== cout * perOut) throw new RangeError(`${this.label}: weight has ${weight.length} values, expected ${cout}x${cin / groups}x${k}x${k} = ${cout * perOut}`);
    if (bias && bias.length !== cout) throw new RangeError(`${this.label}: bias has ${bias.length} values, expected ${cout}`);
    this.weights?.destroy();
    this.biasBuffer?.destroy();
    const rows = Math.ceil(cout / 64) * 64;
    if (this.impl === 'gemm') {
      this.weights = weightBuffer(this.device, `${this.label} weight`, kMajor(weight, cout, perOut, this.kPadded));
    } else {
      this.weights = weightBuffer(this.device, `${this.label} weight`, weight);
    }
    this.biasBuffer = weightBuffer(this.device, `${this.label} bias`, bias ?? new Float32Array(cout), rows);
  }

  outputShape(input: Shape): Shape {
    const { kernel: k, stride: s, padding: p, dilation: d } = this;
    return [input[0], this.outChannels, convOutputSize(input[2], k, s, p, d), convOutputSize(input[3], k, s, p, d)];
  }

  /** Records output[:, off:off+outChannels] = epilogue(conv(input[:, inOff:inOff+inChannels])). */
  encode(target: EncodeTarget, input: Tensor, output: Tensor, options: ConvEncodeOptions = {}): void {
    const inOff = options.inChannelOffset ?? 0;
    const outOff = options.outChannelOffset ?? 0;
    checkChannels(`${this.label} input`, input, inOff, this.inChannels);
    const [n, cout, ho, wo] = this.outputShape(input.shape);
    if (ho < 1 || wo < 1) throw new RangeError(`${this.label}: input ${input.h}x${input.w} is smaller than the kernel`);
    if (output.n !== n || output.h !== ho || output.w !== wo) throw new RangeError(`${this.label}: output must be [${n}, >=${cout}, ${ho}, ${wo}], got [${output.shape.join(', ')}]`);
    checkChannels(`${this.label} output`, output, outOff, cout);
    const skip = options.skip;
    if (skip) {
      if (skip.n !== n || skip.c !== cout || skip.h !== ho || skip.w !== wo) throw new RangeError(`${this.label}: skip must be [${n}, ${cout}, ${ho}, ${wo}], got [${skip.shape.join(', ')}]`);
      if (skip.buffer === output.buffer) throw new RangeError(`${this.label}: skip and output must be different tensors`);
    }
    if (input.buffer === output.buffer) throw new RangeError(`${this.label}: input and output must be different tensors`);
    const { act, alpha } = activationWords(this.spec);
    const flags = epilogueFlags(!!skip, this.order);
    const skipBuffer = skip?.buffer ?? input.buffer;
    inPass(target, this.label, (pass) => {
      if (this.impl === 'gemm') {
        const pointwise = this.kernel === 1 && this.stride === 1 && this.padding === 0;
        const mode = pointwise ? ((input.h * input.w) % 4 === 0 ? 0 : 1) : 2;
        const bm = gemmRows(cout);
        const { code, key } = gemmKernel({ mode, bm, f16: this.precision === 'f16' });
        const pipeline = cachedPipeline(this.device, key, 'nn conv gemm', () => code);
        const { bn } = gemmTile(bm, this.precision === 'f16');
        const K = this.inChannels * this.kernel * this.kernel;
        const u = this.resources.uniform(
          gemmUniform({ M: cout, N: ho * wo, K, Kp: this.kPadded, Cin: input.c, inOff, H: input.h, W: input.w, Wo: wo, k: this.kernel, stride: this.stride, pad: this.padding, Ctot: output.c, outOff, flags, act, plane: ho * wo, Mp: Math.ceil(cout / 64) * 64 }, alpha),
        );
        this.resources.dispatch(pass, pipeline, [u, input.buffer, this.weights, this.biasBuffer, skipBuffer, output.buffer], Math.ceil((ho * wo) / bn), Math.ceil(cout / bm), n);
        return;
      }
      const entry = this.impl === 'depthwise' ? 'depthwise' : 'direct';
      const pipeline = cachedPipeline(this.device, 'nn-conv', 'nn conv', () => convWgsl, entry, entry === 'depthwise' ? { DW_K: this.kernel } : {});
      const items = this.impl === 'depthwise' ? n * cout * ho * Math.ceil(wo / 4) : n * cout * ho * wo;
      const [gx, gy] = linearGroups(this.device, items, 64);
      const g = this.groups;
      const u = this.resources.uniform(
        [n, input.c, input.h, input.w, cout, ho, wo, output.c, this.kernel, this.stride, this.padding, this.dilation, this.inChannels / g, cout / g, inOff, outOff, flags, act, gx],
        [alpha],
      );
      this.resources.dispatch(pass, pipeline, [u, input.buffer, this.weights, this.biasBuffer, skipBuffer, output.buffer], gx, gy);
    });
  }

  /** Multiply-accumulates of one call at `input` (for reports). */
  macs(input: Shape): number {
    const [n, c, h, w] = this.outputShape(input);
    return n * c * h * w * (this.inChannels / this.groups) * this.kernel * this.kernel;
  }

  destroy(): void {
    this.weights.destroy();
    this.biasBuffer.destroy();
    this.resources.destroy();
  }
}

/**
 * ConvTranspose2d (PyTorch semantics, groups 1, square kernels) with the conv epilogue: bias,
 * activation, optional residual, output channel offset (DM-VTON writes `dconvN(x)` straight
 * after the skip half of its concat buffer). Covers MobileR2L's k4 s2 p1 and k3 s3 p0, DM-VTON's
 * k4 s2 p1 decoder, and any kernel/stride/padding/output_padding. Two implementations:
 *   - 'gemm' (default): split into stride^2 sub-pixel convs, each run by the tiled GEMM kernel
 *     (shaders/nn_conv_gemm.wgsl MODE 3) with its own re-laid-out weight matrix;
 *   - 'gather': one invocation per (pixel, 4 output channels) summing the contributing taps
 *     (shaders/nn_conv_transpose.wgsl).
 */
import convTWgsl from '../../../shaders/nn_conv_transpose.wgsl?raw';
import { gemmKernel, gemmRows, gemmTile, gemmUniform, hasF16, type Precision } from './conv2d.ts';
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

export interface ConvTranspose2dParams extends ActivationSpec {
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride?: number;
  padding?: number;
  outputPadding?: number;
  /** [inChannels, outChannels, kernel, kernel], PyTorch's ConvTranspose2d layout. */
  weight: Float32Array;
  bias?: Float32Array;
  residualOrder?: ResidualOrder;
  impl?: 'auto' | 'gemm' | 'gather';
  /** GEMM tiles in f16 ('auto': when the device has shader-f16); default 'f32'. */
  precision?: Precision;
  label?: string;
}

/** One sub-pixel class (ry, rx) of a transposed conv: its taps, input offsets and weight block. */
interface SubPixelClass {
  ry: number;
  rx: number;
  ty: number;
  tx: number;
  dy0: number;
  dx0: number;
  K: number;
  Kp: number;
  wOff: number;
}

export interface ConvTransposeEncodeOptions {
  skip?: Tensor;
  outChannelOffset?: number;
}

export function convTransposeOutputSize(size: number, kernel: number, stride = 1, padding = 0, outputPadding = 0): number {
  return (size - 1) * stride - 2 * padding + kernel + outputPadding;
}

export class ConvTranspose2d {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: number;
  readonly padding: number;
  readonly outputPadding: number;
  readonly label: string;
  private readonly spec: ActivationSpec;
  private readonly order: ResidualOrder;
  private weights!: GPUBuffer;
  private biasBuffer!: GPUBuffer;
  private readonly resources: OpResources;
  readonly impl: 'gemm' | 'gather';
  readonly precision: 'f32' | 'f16';
  private classes: SubPixelClass[] = [];

  constructor(
    private readonly device: GPUDevice,
    params: ConvTranspose2dParams,
  ) {
    this.inChannels = params.inChannels;
    this.outChannels = params.outChannels;
    this.kernel = params.kernel;
    this.stride = params.stride ?? 1;
    this.padding = params.padding ?? 0;
    this.outputPadding = params.outputPadding ?? 0;
    this.label = params.label ?? `conv_transpose ${this.inChannels}->${this.outChannels} k${this.kernel} s${this.stride}`;
    this.spec = { activation: params.activation, alpha: params.alpha };
    activationWords(this.spec);
    this.order = params.residualOrder ?? 'after';
    if (![this.inChannels, this.outChannels, this.kernel, this.stride].every((v) => Number.isInteger(v) && v >= 1)) throw new RangeError(`${this.label}: channels, kernel and stride must be positive integers`);
    if (!Number.isInteger(this.padding) || this.padding < 0) throw new RangeError(`${this.label}: padding must be a non-negative integer`);
    if (!Number.isInteger(this.outputPadding) || this.outputPadding < 0 || this.outputPadding >= this.stride) throw new RangeError(`${this.label}: output_padding must be smaller than stride`);
    this.resources = new OpResources(device, this.label);
    this.impl = params.impl === 'gather' ? 'gather' : 'gemm';
    const precision = params.precision ?? 'f32';
    if (precision === 'f16' && !hasF16(device)) throw new Error(`${this.label}: f16 precision needs the shader-f16 feature, which this device lacks`);
    this.precision = this.impl === 'gemm' && (precision === 'f16' || (precision === 'auto' && hasF16(device))) ? 'f16' : 'f32';
    this.setWeights(params.weight, params.bias);
  }

  /** Sub-pixel classes and their weight matrices (k-major [Kp][ceil(out/64)*64] each, concatenated). */
  private subPixelWeights(weight: Float32Array): Float32Array {
    const { inChannels: cin, outChannels: cout, kernel: k, stride: s, padding: p } = this;
    const rows = Math.ceil(cout / 64) * 64;
    this.classes = [];
    let words = 0;
    for (let ry = 0; ry < s; ry++) {
      for (let rx = 0; rx < s; rx++) {
        const ky0 = (ry + p) % s;
        const kx0 = (rx + p) % s;
        const ty = ky0 < k ? Math.ceil((k - ky0) / s) : 0;
        const tx = kx0 < k ? Math.ceil((k - kx0) / s) : 0;
        const K = cin * ty * tx;
        const Kp = Math.ceil(K / 16) * 16;
        this.classes.push({ ry, rx, ty, tx, dy0: (ry + p - ky0) / s, dx0: (rx + p - kx0) / s, K, Kp, wOff: words });
        words += rows * Kp;
      }
    }
    const laid = new Float32Array(Math.max(4, words));
    for (const c of this.classes) {
      const ky0 = (c.ry + p) % s;
      const kx0 = (c.rx + p) % s;
      for (let co = 0; co < cout; co++) {
        for (let ci = 0; ci < cin; ci++) {
          for (let a = 0; a < c.ty; a++) {
            for (let b = 0; b < c.tx; b++) {
              const ky = ky0 + a * s;
              const kx = kx0 + b * s;
              laid[c.wOff + ((ci * c.ty + a) * c.tx + b) * rows + co] = weight[((ci * cout + co) * k + ky) * k + kx];
            }
          }
        }
      }
    }
    return laid;
  }

  setWeights(weight: Float32Array, bias?: Float32Array): void {
    const { inChannels: cin, outChannels: cout, kernel: k } = this;
    if (weight.length !== cin * cout * k * k) throw new RangeError(`${this.label}: weight has ${weight.length} values, expected ${cin}x${cout}x${k}x${k}`);
    if (bias && bias.length !== cout) throw new RangeError(`${this.label}: bias has ${bias.length} values, expected ${cout}`);
    const m4 = Math.ceil(cout / 4);
    let laid: Float32Array;
    if (this.impl === 'gemm') {
      laid = this.subPixelWeights(weight);
    } else {
      // [ci][co][ky][kx] -> [ky][kx][ci][co padded to 4 * m4]
      laid = new Float32Array(k * k * cin * m4 * 4);
      for (let ci = 0; ci < cin; ci++) {
        for (let co = 0; co < cout; co++) {
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) laid[((ky * k + kx) * cin + ci) * m4 * 4 + co] = weight[((ci * cout + co) * k + ky) * k + kx];
          }
        }
      }
    }
    this.weights?.destroy();
    this.biasBuffer?.destroy();
    this.weights = weightBuffer(this.device, `${this.label} weight`, laid);
    this.biasBuffer = weightBuffer(this.device, `${this.label} bias`, bias ?? new Float32Array(cout), Math.ceil(cout / 64) * 64);
  }

  outputShape(input: Shape): Shape {
    const { kernel: k, stride: s, padding: p, outputPadding: op } = this;
    return [input[0], this.outChannels, convTransposeOutputSize(input[2], k, s, p, op), convTransposeOutputSize(input[3], k, s, p, op)];
  }

  encode(target: EncodeTarget, input: Tensor, output: Tensor, options: ConvTransposeEncodeOptions = {}): void {
    if (input.c !== this.inChannels) throw new RangeError(`${this.label}: input has ${input.c} channels, expected ${this.inChannels}`);
    const [n, cout, ho, wo] = this.outputShape(input.shape);
    if (ho < 1 || wo < 1) throw new RangeError(`${this.label}: output would be empty`);
    if (output.n !== n || output.h !== ho || output.w !== wo) throw new RangeError(`${this.label}: output must be [${n}, >=${cout}, ${ho}, ${wo}], got [${output.shape.join(', ')}]`);
    const outOff = options.outChannelOffset ?? 0;
    checkChannels(`${this.label} output`, output, outOff, cout);
    const skip = options.skip;
    if (skip && (skip.n !== n || skip.c !== cout || skip.h !== ho || skip.w !== wo || skip.buffer === output.buffer)) {
      throw new RangeError(`${this.label}: skip must be a separate [${n}, ${cout}, ${ho}, ${wo}] tensor`);
    }
    if (input.buffer === output.buffer) throw new RangeError(`${this.label}: input and output must be different tensors`);
    const { act, alpha } = activationWords(this.spec);
    const flags = epilogueFlags(!!skip, this.order);
    const skipBuffer = skip?.buffer ?? input.buffer;
    if (this.impl === 'gemm') {
      const bm = gemmRows(cout);
      const f16 = this.precision === 'f16';
      const { code, key } = gemmKernel({ mode: 3, bm, f16 });
      const pipeline = cachedPipeline(this.device, key, 'nn conv gemm', () => code);
      const { bn } = gemmTile(bm, f16);
      const s = this.stride;
      inPass(target, this.label, (pass) => {
        for (const c of this.classes) {
          const hq = Math.ceil((ho - c.ry) / s);
          const wq = Math.ceil((wo - c.rx) / s);
          if (hq <= 0 || wq <= 0) continue;
          const u = this.resources.uniform(
            gemmUniform(
              {
                M: cout, N: hq * wq, K: c.K, Kp: c.Kp, Cin: input.c, inOff: 0, H: input.h, W: input.w, Wo: wo, k: this.kernel, stride: s, pad: this.padding,
                Ctot: output.c, outOff, flags, act, plane: ho * wo, wOff: c.wOff, Wq: wq, ry: c.ry, rx: c.rx, dy0: c.dy0, dx0: c.dx0, Ty: c.ty, Tx: c.tx, Mp: Math.ceil(cout / 64) * 64,
              },
              alpha,
            ),
          );
          this.resources.dispatch(pass, pipeline, [u, input.buffer, this.weights, this.biasBuffer, skipBuffer, output.buffer], Math.ceil((hq * wq) / bn), Math.ceil(cout / bm), n);
        }
      });
      return;
    }
    const m4 = Math.ceil(cout / 4);
    const [gx, gy] = linearGroups(this.device, n * m4 * ho * wo, 64);
    const u = this.resources.uniform(
      [n, this.inChannels, input.h, input.w, cout, ho, wo, output.c, this.kernel, this.stride, this.padding, m4, outOff, flags, act, gx],
      [alpha, 0, 0, 0],
    );
    const pipeline = cachedPipeline(this.device, 'nn-conv-transpose', 'nn conv transpose', () => convTWgsl);
    inPass(target, this.label, (pass) => {
      this.resources.dispatch(pass, pipeline, [u, input.buffer, this.weights, this.biasBuffer, skipBuffer, output.buffer], gx, gy);
    });
  }

  destroy(): void {
    this.weights.destroy();
    this.biasBuffer.destroy();
    this.resources.destroy();
  }
}

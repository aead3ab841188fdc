/**
 * ConvTranspose2d (PyTorch semantics, groups 1, square kernels) as a gather kernel
 * (shaders/nn_conv_transpose.wgsl) with the conv epilogue: bias, activation, optional residual,
 * output channel offset (DM-VTON writes `dconvN(x)` straight after the skip half of its concat
 * buffer). Covers MobileR2L's k4 s2 p1 and k3 s3 p0 and DM-VTON's k4 s2 p1 decoder, and any
 * kernel/stride/padding/output_padding.
 */
import convTWgsl from '../../../shaders/nn_conv_transpose.wgsl?raw';
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
  label?: string;
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
    this.setWeights(params.weight, params.bias);
  }

  setWeights(weight: Float32Array, bias?: Float32Array): void {
    const { inChannels: cin, outChannels: cout, kernel: k } = this;
    if (weight.length !== cin * cout * k * k) throw new RangeError(`${this.label}: weight has ${weight.length} values, expected ${cin}x${cout}x${k}x${k}`);
    if (bias && bias.length !== cout) throw new RangeError(`${this.label}: bias has ${bias.length} values, expected ${cout}`);
    const m4 = Math.ceil(cout / 4);
    // [ci][co][ky][kx] -> [ky][kx][ci][co padded to 4 * m4]
    const laid = new Float32Array(k * k * cin * m4 * 4);
    for (let ci = 0; ci < cin; ci++) {
      for (let co = 0; co < cout; co++) {
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) laid[((ky * k + kx) * cin + ci) * m4 * 4 + co] = weight[((ci * cout + co) * k + ky) * k + kx];
        }
      }
    }
    this.weights?.destroy();
    this.biasBuffer?.destroy();
    this.weights = weightBuffer(this.device, `${this.label} weight`, laid);
    this.biasBuffer = weightBuffer(this.device, `${this.label} bias`, bias ?? new Float32Array(cout), m4 * 4);
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
    const m4 = Math.ceil(cout / 4);
    const [gx, gy] = linearGroups(this.device, n * m4 * ho * wo, 64);
    const u = this.resources.uniform(
      [n, this.inChannels, input.h, input.w, cout, ho, wo, output.c, this.kernel, this.stride, this.padding, m4, outOff, epilogueFlags(!!skip, this.order), act, gx],
      [alpha, 0, 0, 0],
    );
    const pipeline = cachedPipeline(this.device, 'nn-conv-transpose', 'nn conv transpose', () => convTWgsl);
    inPass(target, this.label, (pass) => {
      this.resources.dispatch(pass, pipeline, [u, input.buffer, this.weights, this.biasBuffer, skip?.buffer ?? input.buffer, output.buffer], gx, gy);
    });
  }

  destroy(): void {
    this.weights.destroy();
    this.biasBuffer.destroy();
    this.resources.destroy();
  }
}

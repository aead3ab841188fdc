/**
 * 1x1 conv with few output channels (at most 16), stride 1, no padding, whole tensors (no
 * channel offsets), H*W a multiple of 4: one invocation per 4 pixels holds every output
 * channel (shaders/nn_conv_narrow.wgsl). Same epilogue as Conv2d (bias, activation, residual).
 * For MobileR2L's full-resolution SR blocks and output conv, where the tiled GEMM's workgroup
 * staging and barriers cost more than the multiply-adds (measured on SwiftShader).
 */
import narrowWgsl from '../../../shaders/nn_conv_narrow.wgsl?raw';
import type { Shape, Tensor } from '../tensor.ts';
import { activationWords, cachedPipeline, epilogueFlags, inPass, linearGroups, OpResources, weightBuffer, type ActivationSpec, type EncodeTarget, type ResidualOrder } from './common.ts';

export const NARROW_MAX_CHANNELS = 32;

export interface NarrowConvParams extends ActivationSpec {
  inChannels: number;
  outChannels: number;
  /** [outChannels, inChannels, 1, 1] (BN folded). */
  weight: Float32Array;
  bias?: Float32Array;
  residualOrder?: ResidualOrder;
  label?: string;
}

/** Whether the narrow kernel can run this conv at this input. */
export function narrowApplies(outChannels: number, kernel: number, stride: number, padding: number, input?: Shape): boolean {
  return outChannels <= NARROW_MAX_CHANNELS && kernel === 1 && stride === 1 && padding === 0 && (!input || (input[2] * input[3]) % 4 === 0);
}

export class NarrowConv2d {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel = 1;
  readonly label: string;
  private readonly spec: ActivationSpec;
  private readonly order: ResidualOrder;
  private readonly weights: GPUBuffer;
  private readonly biasBuffer: GPUBuffer;
  private readonly resources: OpResources;

  constructor(
    private readonly device: GPUDevice,
    p: NarrowConvParams,
  ) {
    this.inChannels = p.inChannels;
    this.outChannels = p.outChannels;
    this.label = p.label ?? `narrow conv ${p.inChannels}->${p.outChannels}`;
    if (!(p.outChannels >= 1 && p.outChannels <= NARROW_MAX_CHANNELS) || !(p.inChannels >= 1)) throw new RangeError(`${this.label}: needs 1..${NARROW_MAX_CHANNELS} output channels`);
    if (p.weight.length !== p.inChannels * p.outChannels) throw new RangeError(`${this.label}: weight has ${p.weight.length} values, expected ${p.outChannels}x${p.inChannels}x1x1`);
    if (p.bias && p.bias.length !== p.outChannels) throw new RangeError(`${this.label}: bias has ${p.bias.length} values, expected ${p.outChannels}`);
    this.spec = { activation: p.activation, alpha: p.alpha };
    activationWords(this.spec);
    this.order = p.residualOrder ?? 'after';
    this.weights = weightBuffer(device, `${this.label} weight`, p.weight);
    this.biasBuffer = weightBuffer(device, `${this.label} bias`, p.bias ?? new Float32Array(p.outChannels));
    this.resources = new OpResources(device, this.label);
  }

  outputShape(input: Shape): Shape {
    return [input[0], this.outChannels, input[2], input[3]];
  }

  macs(input: Shape): number {
    return input[0] * input[2] * input[3] * this.inChannels * this.outChannels;
  }

  encode(target: EncodeTarget, input: Tensor, output: Tensor, options: { skip?: Tensor } = {}): void {
    const [n, , h, w] = input.shape;
    if (input.c !== this.inChannels) throw new RangeError(`${this.label}: input has ${input.c} channels, expected ${this.inChannels}`);
    if ((h * w) % 4) throw new RangeError(`${this.label}: H*W = ${h * w} is not a multiple of 4`);
    if (output.n !== n || output.c !== this.outChannels || output.h !== h || output.w !== w) throw new RangeError(`${this.label}: output must be [${n}, ${this.outChannels}, ${h}, ${w}], got [${output.shape.join(', ')}]`);
    const skip = options.skip;
    if (skip && (skip.n !== n || skip.c !== this.outChannels || skip.h !== h || skip.w !== w)) throw new RangeError(`${this.label}: skip must be [${n}, ${this.outChannels}, ${h}, ${w}], got [${skip.shape.join(', ')}]`);
    if (input.buffer === output.buffer || skip?.buffer === output.buffer) throw new RangeError(`${this.label}: the output must not alias the input or skip`);
    const { act, alpha } = activationWords(this.spec);
    const quads = (h * w) / 4;
    const [gx, gy] = linearGroups(this.device, quads * n, 64);
    const words = new Uint32Array(8);
    words.set([this.inChannels, quads, epilogueFlags(!!skip, this.order), act]);
    new Float32Array(words.buffer)[4] = alpha;
    words.set([gx, n], 5);
    const m = this.outChannels;
    const pipeline = cachedPipeline(this.device, `nn-conv-narrow:m${m}`, 'nn conv narrow', () => `const M: u32 = ${m}u;\n${narrowWgsl}`);
    inPass(target, this.label, (pass) =>
      this.resources.dispatch(pass, pipeline, [this.resources.uniform(words), input.buffer, this.weights, this.biasBuffer, (skip ?? input).buffer, output.buffer], gx, gy),
    );
  }

  destroy(): void {
    this.weights.destroy();
    this.biasBuffer.destroy();
    this.resources.destroy();
  }
}

/**
 * DM-VTON's cost volume (shaders/nn_correlation.wgsl): 49 channels, channel (dy+3)*7 + (dx+3),
 * the channel mean of first(y, x) * second(y+dy, x+dx) with zeros outside, and an optional fused
 * activation (AFlowNet applies leaky_relu(0.1) right after it). Output [N, 49, H, W], or a
 * 49-channel slice of a wider tensor.
 */
import corrWgsl from '../../../shaders/nn_correlation.wgsl?raw';
import type { Tensor } from '../tensor.ts';
import { activationWords, cachedPipeline, checkChannels, inPass, OpResources, type ActivationSpec, type EncodeTarget } from './common.ts';

export const CORRELATION_CHANNELS = 49;

export class Correlation {
  readonly label: string;
  private readonly resources: OpResources;

  constructor(
    private readonly device: GPUDevice,
    private readonly params: ActivationSpec & { label?: string } = {},
  ) {
    activationWords(params);
    this.label = params.label ?? 'correlation';
    this.resources = new OpResources(device, this.label);
  }

  encode(target: EncodeTarget, first: Tensor, second: Tensor, output: Tensor, options: { outChannelOffset?: number } = {}): void {
    if (first.n !== second.n || first.c !== second.c || first.h !== second.h || first.w !== second.w) {
      throw new RangeError(`${this.label}: first [${first.shape.join(', ')}] and second [${second.shape.join(', ')}] differ`);
    }
    const outOff = options.outChannelOffset ?? 0;
    if (output.n !== first.n || output.h !== first.h || output.w !== first.w) throw new RangeError(`${this.label}: output must be [${first.n}, 49, ${first.h}, ${first.w}]`);
    checkChannels(`${this.label} output`, output, outOff, CORRELATION_CHANNELS);
    if (output.buffer === first.buffer || output.buffer === second.buffer) throw new RangeError(`${this.label}: output must not alias an input`);
    const { act, alpha } = activationWords(this.params);
    const u = this.resources.uniform([first.n, first.c, first.h, first.w, output.c, outOff, act, 0], [alpha, 0, 0, 0]);
    const pipeline = cachedPipeline(this.device, 'nn-correlation', 'nn correlation', () => corrWgsl);
    inPass(target, this.label, (pass) =>
      this.resources.dispatch(pass, pipeline, [u, first.buffer, second.buffer, output.buffer], Math.ceil(first.w / 8), Math.ceil(first.h / 4), first.n),
    );
  }

  destroy(): void {
    this.resources.destroy();
  }
}

/**
 * Draws a tensor (try-on, warped garment, warped edge, inputs) into the demo's output texture
 * (shaders/tryon_display.wgsl), fitted with its aspect kept. `displayReference` is the CPU
 * reference the kernel test compares against.
 */
import displayWgsl from '../../../shaders/tryon_display.wgsl?raw';
import { computePipeline } from '../../gpu/shader.ts';
import type { Tensor } from '../../nn/tensor.ts';

export type DisplayMode = 'rgb' | 'gray';

export const BACKGROUND: readonly [number, number, number] = [0.11, 0.11, 0.13];

/** Integer-free fit: scale = min(dst/src), centred offsets. */
export function fitView(srcW: number, srcH: number, dstW: number, dstH: number): { scale: number; offX: number; offY: number } {
  const scale = Math.min(dstW / srcW, dstH / srcH);
  return { scale, offX: (dstW - srcW * scale) / 2, offY: (dstH - srcH * scale) / 2 };
}

/** CPU reference of the kernel: RGBA8 pixels of the view. */
export function displayReference(src: Float32Array, srcW: number, srcH: number, dstW: number, dstH: number, mode: DisplayMode): Uint8ClampedArray {
  const { scale, offX, offY } = fitView(srcW, srcH, dstW, dstH);
  const f = Math.fround;
  const out = new Uint8ClampedArray(dstW * dstH * 4);
  const plane = srcW * srcH;
  const unorm = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);
  for (let y = 0; y < dstH; y++) {
    for (let x = 0; x < dstW; x++) {
      const sx = Math.floor(f(f(x + 0.5 - f(offX)) / f(scale)));
      const sy = Math.floor(f(f(y + 0.5 - f(offY)) / f(scale)));
      let c: number[] = [...BACKGROUND];
      if (sx >= 0 && sy >= 0 && sx < srcW && sy < srcH) {
        const i = sy * srcW + sx;
        c = mode === 'rgb' ? [0, 1, 2].map((k) => (src[k * plane + i] + 1) * 0.5) : [src[i], src[i], src[i]];
      }
      const o = (y * dstW + x) * 4;
      out[o] = unorm(c[0]);
      out[o + 1] = unorm(c[1]);
      out[o + 2] = unorm(c[2]);
      out[o + 3] = 255;
    }
  }
  return out;
}

export class TensorView {
  private readonly pipeline: GPUComputePipeline;
  private readonly uniform: GPUBuffer;
  private group: { buffer: GPUBuffer; target: GPUTexture; group: GPUBindGroup } | null = null;

  constructor(private readonly device: GPUDevice) {
    this.pipeline = computePipeline(device, 'tryon display', displayWgsl, 'main');
    this.uniform = device.createBuffer({ label: 'tryon display view', size: 64, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  }

  /** Records the draw of `tensor` (channels 0..2 or 0) into `target` (rgba8unorm, storage binding). */
  encode(encoder: GPUCommandEncoder, tensor: Tensor, target: GPUTexture, mode: DisplayMode, timestampWrites?: GPUComputePassTimestampWrites): void {
    if (mode === 'rgb' && tensor.c < 3) throw new RangeError(`an RGB view needs 3 channels, the tensor has ${tensor.c}`);
    const { scale, offX, offY } = fitView(tensor.w, tensor.h, target.width, target.height);
    const words = new ArrayBuffer(64);
    new Uint32Array(words, 0, 6).set([tensor.w, tensor.h, target.width, target.height, mode === 'rgb' ? 0 : 1, 0]);
    new Float32Array(words, 24, 6).set([offX, offY, scale, 0, 0, 0]);
    new Float32Array(words, 48, 4).set([...BACKGROUND, 1]);
    this.device.queue.writeBuffer(this.uniform, 0, words);
    if (!this.group || this.group.buffer !== tensor.buffer || this.group.target !== target) {
      const group = this.device.createBindGroup({
        label: 'tryon display',
        layout: this.pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: this.uniform } },
          { binding: 1, resource: { buffer: tensor.buffer } },
          { binding: 2, resource: target.createView() },
        ],
      });
      this.group = { buffer: tensor.buffer, target, group };
    }
    const pass = encoder.beginComputePass(timestampWrites ? { label: 'tryon display', timestampWrites } : { label: 'tryon display' });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.group.group);
    pass.dispatchWorkgroups(Math.ceil(target.width / 8), Math.ceil(target.height / 8));
    pass.end();
  }

  destroy(): void {
    this.uniform.destroy();
    this.group = null;
  }
}

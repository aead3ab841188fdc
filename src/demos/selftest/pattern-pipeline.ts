import hashWgsl from '../../../shaders/lib/hash.wgsl?raw';
import patternWgsl from '../../../shaders/selftest_pattern.wgsl?raw';
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { computePipeline, wgsl, workgroups } from '../../gpu/shader.ts';

/** The self-test demo's compute pass: a seeded pattern, optionally showing an uploaded image. */
export class PatternPipeline {
  private readonly pipeline: GPUComputePipeline;
  private readonly uniforms: GPUBuffer;
  private readonly sampler: GPUSampler;
  private readonly placeholder: GPUTexture;
  private image: GPUTexture | null = null;
  private bindGroup: GPUBindGroup | null = null;
  private boundOutput: GPUTexture | null = null;

  constructor(private readonly device: GPUDevice) {
    this.pipeline = computePipeline(device, 'selftest pattern', wgsl(hashWgsl, patternWgsl), 'main');
    this.uniforms = device.createBuffer({ label: 'pattern params', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.sampler = device.createSampler({ magFilter: 'linear', minFilter: 'linear' });
    this.placeholder = device.createTexture({ label: 'no image', size: [1, 1], format: 'rgba8unorm', usage: GPUTextureUsage.TEXTURE_BINDING });
  }

  /** Uploads RGBA8 pixels as the shown image. Throws (keeping the old image) if the device cannot hold it. */
  setImage(pixels: Uint8ClampedArray, width: number, height: number): void {
    const max = this.device.limits.maxTextureDimension2D;
    if (width > max || height > max) throw new Error(`The image is ${width}x${height}; this GPU holds at most ${max}x${max}`);
    const texture = this.device.createTexture({ label: 'selftest image', size: [width, height], format: 'rgba8unorm', usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST });
    this.device.queue.writeTexture({ texture }, pixels as Uint8ClampedArray<ArrayBuffer>, { bytesPerRow: width * 4 }, { width, height });
    this.image?.destroy();
    this.image = texture;
    this.bindGroup = null;
  }

  get hasImage(): boolean {
    return this.image !== null;
  }

  encode(encoder: GPUCommandEncoder, output: GPUTexture, time: number, seed: number, profiler?: GpuProfiler): void {
    this.device.queue.writeBuffer(this.uniforms, 0, new Float32Array([time]));
    this.device.queue.writeBuffer(this.uniforms, 4, new Uint32Array([seed, this.image ? 1 : 0]));
    if (!this.bindGroup || this.boundOutput !== output) {
      this.boundOutput = output;
      this.bindGroup = this.device.createBindGroup({
        layout: this.pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: this.uniforms } },
          { binding: 1, resource: output.createView() },
          { binding: 2, resource: (this.image ?? this.placeholder).createView() },
          { binding: 3, resource: this.sampler },
        ],
      });
    }
    const pass = profiler ? profiler.computePass(encoder, 'pattern') : encoder.beginComputePass({ label: 'pattern' });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(workgroups(output.width, 8), workgroups(output.height, 8));
    pass.end();
  }

  destroy(): void {
    this.uniforms.destroy();
    this.placeholder.destroy();
    this.image?.destroy();
    this.image = null;
    this.bindGroup = null;
  }
}

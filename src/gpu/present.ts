import blitWgsl from '../../shaders/blit.wgsl?raw';
import { shaderModule } from './shader.ts';

/**
 * Draws an rgba8unorm output texture onto a canvas texture of any format, texel for texel.
 * Demos render into their own output texture so a snapshot never depends on the canvas.
 */
export class Presenter {
  private readonly pipeline: GPURenderPipeline;
  private bindGroup: GPUBindGroup | null = null;
  private source: GPUTexture | null = null;

  constructor(
    private readonly device: GPUDevice,
    readonly format: GPUTextureFormat,
  ) {
    const module = shaderModule(device, 'blit', blitWgsl);
    this.pipeline = device.createRenderPipeline({
      label: 'present',
      layout: 'auto',
      vertex: { module, entryPoint: 'vs' },
      fragment: { module, entryPoint: 'fs', targets: [{ format }] },
      primitive: { topology: 'triangle-list' },
    });
  }

  encode(encoder: GPUCommandEncoder, source: GPUTexture, target: GPUTexture, timestampWrites?: GPURenderPassTimestampWrites): void {
    if (this.source !== source) {
      this.source = source;
      this.bindGroup = this.device.createBindGroup({ layout: this.pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: source.createView() }] });
    }
    const pass = encoder.beginRenderPass({
      label: 'present',
      colorAttachments: [{ view: target.createView(), loadOp: 'clear', storeOp: 'store', clearValue: [0, 0, 0, 1] }],
      ...(timestampWrites ? { timestampWrites } : {}),
    });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup!);
    pass.draw(3);
    pass.end();
  }

  /** Nothing to free: the pipeline and bind group are garbage collected with the device. */
  destroy(): void {
    this.bindGroup = null;
    this.source = null;
  }
}

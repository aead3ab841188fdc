/**
 * Progressive volume ray marching of a neural field (NeRF and NVR), shaders/ngp_app_volume.wgsl:
 * each frame evaluates `slices` of every ray's `samples` and composites them front to back;
 * a finished pass replaces the shown image. A camera change restarts the pass. CPU reference:
 * `volumeReference` in render-reference.ts.
 */
import boxCameraWgsl from '../../../shaders/lib/box_camera.wgsl?raw';
import volumeWgsl from '../../../shaders/ngp_app_volume.wgsl?raw';
import { BindCache } from '../../gpu/bind-cache.ts';
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { computePipeline, wgsl, workgroups } from '../../gpu/shader.ts';
import { flatGroups, storageBuffer } from '../../nn/ngp/gpu-util.ts';
import type { CameraPose } from '../../ui/orbit-controls.ts';
import { cameraBlock, Display, type Vec3 } from './common.ts';

/** A field the renderer can evaluate: raw outputs [n][outputStride] from positions (and view directions). */
export interface VolumeField {
  readonly outputStride: number;
  /** positions, directions f32 [n][3] in [0,1]^3 (directions as d * 0.5 + 0.5) -> outputs f32 [n][outputStride]. */
  encodeForward(encoder: GPUCommandEncoder, positions: GPUBuffer, outputs: GPUBuffer, n: number, directions?: GPUBuffer): void;
}

export interface VolumeStyle {
  /** 0: NeRF activations; 1: NVR transfer function. */
  mode: 0 | 1;
  /** NVR: 0 learned colour, 1 warm map, 2 cool map. */
  colourMap: number;
  /** NVR: density -> extinction scale. */
  opacity: number;
  /** NVR: densities below this are transparent. */
  threshold: number;
  background: Vec3;
}

export class VolumeRenderer {
  width = 0;
  height = 0;
  /** Completed passes since the last camera change. */
  passes = 0;
  private readonly positionsPipeline: GPUComputePipeline;
  private readonly compositePipeline: GPUComputePipeline;
  private readonly uniforms: GPUBuffer;
  private readonly display: Display;
  /** Bind groups over the current buffers (made once, not per frame). */
  private readonly binds: BindCache;
  private readonly emptyOccupancy: GPUBuffer;
  private buffers: { positions: GPUBuffer; directions: GPUBuffer; outputs: GPUBuffer; state: GPUBuffer; image: GPUBuffer; rows: number } | null = null;
  private cursor = 0;
  private pose: CameraPose | null = null;
  occupancy: GPUBuffer | null = null;
  /** Whether any pass has finished (until then partial passes are shown). */
  private completed = false;

  constructor(
    private readonly device: GPUDevice,
    private readonly samples: number,
  ) {
    this.positionsPipeline = computePipeline(device, 'ngp volume', wgsl(boxCameraWgsl, volumeWgsl), 'make_positions');
    this.compositePipeline = computePipeline(device, 'ngp volume', wgsl(boxCameraWgsl, volumeWgsl), 'composite');
    this.uniforms = device.createBuffer({ label: 'ngp volume params', size: 128, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.display = new Display(device);
    this.binds = new BindCache(device, 8);
    this.emptyOccupancy = storageBuffer(device, 'no occupancy', 16);
  }

  setCamera(pose: CameraPose): void {
    this.pose = pose;
    this.cursor = 0;
    this.passes = 0;
  }

  /** Restarts the pass (the field changed a lot, e.g. after reset). */
  restart(): void {
    this.cursor = 0;
  }

  /** The last finished pass (partial passes until one finishes), f32 RGBA per ray, row-major; null before the first encode. */
  get image(): GPUBuffer | null {
    return this.buffers?.image ?? null;
  }

  private ensure(width: number, height: number, slices: number, stride: number) {
    const rays = width * height;
    const rows = rays * slices;
    if (this.buffers && this.width === width && this.height === height && this.buffers.rows >= rows) return this.buffers;
    if (this.buffers) for (const b of [this.buffers.positions, this.buffers.directions, this.buffers.outputs, this.buffers.state, this.buffers.image]) b.destroy();
    this.binds.clear(); // they bound the buffers just destroyed
    this.width = width;
    this.height = height;
    this.cursor = 0;
    this.completed = false;
    this.buffers = {
      rows,
      positions: storageBuffer(this.device, 'volume sample positions', rows * 3 * 4),
      directions: storageBuffer(this.device, 'volume sample directions', rows * 3 * 4),
      outputs: storageBuffer(this.device, 'volume sample outputs', rows * stride * 4),
      state: storageBuffer(this.device, 'volume ray state', rays * 16),
      image: storageBuffer(this.device, 'volume image', rays * 16),
    };
    return this.buffers;
  }

  /** Evaluates up to `slices` more slices and shows the latest finished image in the output. */
  encode(encoder: GPUCommandEncoder, output: GPUTexture, field: VolumeField, size: { width: number; height: number }, slices: number, style: VolumeStyle, profiler: GpuProfiler | null): void {
    if (!this.pose) return;
    const k = Math.max(1, Math.min(slices, this.samples - this.cursor));
    const b = this.ensure(size.width, size.height, Math.min(slices, this.samples), field.outputStride);
    const rays = size.width * size.height;
    const data = new ArrayBuffer(128);
    new Float32Array(data, 0, 16).set(cameraBlock(this.pose, size.width, size.height));
    new Uint32Array(data, 64, 8).set([size.width, size.height, this.samples, this.cursor, k, style.mode, style.colourMap, this.occupancy ? 1 : 0]);
    new Float32Array(data, 96, 8).set([style.opacity, style.threshold, 0, 0, ...style.background, 1]);
    new Uint32Array(data, 104, 1)[0] = this.completed ? 0 : 1;
    this.device.queue.writeBuffer(this.uniforms, 0, data);
    const computePass = () => (profiler ? profiler.computePass(encoder, 'render') : encoder.beginComputePass({ label: 'render' }));
    let pass = computePass();
    pass.setPipeline(this.positionsPipeline);
    pass.setBindGroup(0, this.binds.get(this.positionsPipeline, { 0: this.uniforms, 1: b.positions, 6: b.directions }));
    pass.dispatchWorkgroups(...flatGroups(this.device, rays * k, 64));
    pass.end();
    field.encodeForward(encoder, b.positions, b.outputs, rays * k, b.directions);
    pass = computePass();
    pass.setPipeline(this.compositePipeline);
    pass.setBindGroup(
      0,
      this.binds.get(this.compositePipeline, { 0: this.uniforms, 1: b.positions, 2: b.outputs, 3: b.state, 4: b.image, 5: this.occupancy ?? this.emptyOccupancy }),
    );
    pass.dispatchWorkgroups(workgroups(rays, 64, this.device));
    pass.end();
    this.cursor += k;
    if (this.cursor >= this.samples) {
      this.cursor = 0;
      this.passes++;
      this.completed = true;
    }
    this.display.encode(encoder, output, b.image, { width: size.width, height: size.height, stride: 4 }, { x: 0, y: 0, width: output.width, height: output.height }, profiler ?? undefined);
  }

  destroy(): void {
    if (this.buffers) for (const b of [this.buffers.positions, this.buffers.directions, this.buffers.outputs, this.buffers.state, this.buffers.image]) b.destroy();
    this.buffers = null;
    this.uniforms.destroy();
    this.emptyOccupancy.destroy();
    this.display.destroy();
  }
}

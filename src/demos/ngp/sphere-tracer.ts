/**
 * Sphere tracing of a learned signed distance field (NSDF), shaders/ngp_app_sdf.wgsl: every ray
 * starts where it enters the box [-0.5, 0.5]^3, and each march iteration evaluates the field at
 * every ray's point and advances it by 0.9 x the distance (hit below `epsilon`, miss past the
 * box). After `marchSteps` iterations the field is evaluated at 4 tetrahedral probes around
 * each point and the hits are shaded with that finite-difference normal. Iterations can be
 * spread over frames; the output shows the last finished trace. CPU reference:
 * `sphereTraceReference` in render-reference.ts.
 */
import boxCameraWgsl from '../../../shaders/lib/box_camera.wgsl?raw';
import sdfWgsl from '../../../shaders/ngp_app_sdf.wgsl?raw';
import { BindCache } from '../../gpu/bind-cache.ts';
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { computePipeline, wgsl, workgroups } from '../../gpu/shader.ts';
import { storageBuffer } from '../../nn/ngp/gpu-util.ts';
import type { CameraPose } from '../../ui/orbit-controls.ts';
import { cameraBlock, Display, type Vec3 } from './common.ts';

/** A field the tracer can evaluate: positions f32 [n][3] in [0,1]^3 -> distances in outputs f32 [n][4] (x). */
export interface SdfField {
  readonly outputStride: number;
  encodeForward(encoder: GPUCommandEncoder, positions: GPUBuffer, outputs: GPUBuffer, n: number): void;
}

export interface SphereTraceStyle {
  /** Distance below which a ray has hit the surface. */
  epsilon: number;
  /** Offset of the 4 normal probes from the hit point. */
  normalStep: number;
  background: Vec3;
}

export const SPHERE_TRACE_STYLE: SphereTraceStyle = { epsilon: 0.0015, normalStep: 0.012, background: [0.12, 0.14, 0.18] };

type Entry = 'init' | 'march' | 'normal_positions' | 'shade';
/** Bindings each entry point uses: 0 params, 1 positions, 2 field, 3 state, 4 image. */
const BINDINGS: Record<Entry, number[]> = { init: [0, 1, 3], march: [0, 1, 2, 3], normal_positions: [0, 1, 3], shade: [0, 2, 3, 4] };

export class SphereTracer {
  width = 0;
  height = 0;
  /** Whether a trace has finished since the buffers were (re)made. */
  traced = false;
  /** March iterations done in the current trace. */
  private cursor = 0;
  private pose: CameraPose | null = null;
  private readonly pipelines: Record<Entry, GPUComputePipeline>;
  private readonly uniforms: GPUBuffer;
  private readonly display: Display;
  /** Bind groups of the four entry points over the current buffers (made once, not per frame). */
  private readonly binds: BindCache;
  private buffers: { positions: GPUBuffer; outputs: GPUBuffer; state: GPUBuffer; image: GPUBuffer } | null = null;

  constructor(
    private readonly device: GPUDevice,
    readonly marchSteps: number,
    private readonly style: SphereTraceStyle = SPHERE_TRACE_STYLE,
  ) {
    const code = wgsl(boxCameraWgsl, sdfWgsl);
    const pipe = (entry: Entry) => computePipeline(device, 'ngp sdf', code, entry);
    this.pipelines = { init: pipe('init'), march: pipe('march'), normal_positions: pipe('normal_positions'), shade: pipe('shade') };
    this.uniforms = device.createBuffer({ label: 'sphere trace params', size: 112, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.display = new Display(device);
    this.binds = new BindCache(device, 8);
  }

  /** A new camera starts a new trace (the previous image stays shown until it finishes). */
  setCamera(pose: CameraPose): void {
    this.pose = pose;
    this.cursor = 0;
  }

  /** Restarts the trace (the field changed a lot, e.g. after reset). */
  restart(): void {
    this.cursor = 0;
  }

  /** The last finished trace, f32 RGBA per ray, row-major (null before the first encode). */
  get image(): GPUBuffer | null {
    return this.buffers?.image ?? null;
  }

  private ensure(width: number, height: number) {
    if (this.buffers && this.width === width && this.height === height) return this.buffers;
    this.destroyBuffers();
    const rays = width * height;
    this.width = width;
    this.height = height;
    this.cursor = 0;
    this.traced = false;
    // Positions and outputs hold 4 rows per ray for the normal probes.
    this.buffers = {
      positions: storageBuffer(this.device, 'sphere trace positions', rays * 4 * 12),
      outputs: storageBuffer(this.device, 'sphere trace field', rays * 4 * 16),
      state: storageBuffer(this.device, 'sphere trace state', rays * 16),
      image: storageBuffer(this.device, 'sphere trace image', rays * 16),
    };
    return this.buffers;
  }

  private dispatch(encoder: GPUCommandEncoder, profiler: GpuProfiler | null, entry: Entry, rays: number): void {
    const b = this.buffers!;
    const pipeline = this.pipelines[entry];
    const buffers = [this.uniforms, b.positions, b.outputs, b.state, b.image];
    const group = this.binds.get(pipeline, Object.fromEntries(BINDINGS[entry].map((binding) => [binding, buffers[binding]])));
    const pass = profiler ? profiler.computePass(encoder, 'render') : encoder.beginComputePass({ label: 'render' });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(workgroups(rays, 64, this.device));
    pass.end();
  }

  /**
   * Runs up to `iterations` march iterations of the current trace (finishing and shading it when
   * it reaches `marchSteps`) and draws the last finished image into `output`.
   */
  encode(encoder: GPUCommandEncoder, output: GPUTexture, field: SdfField, size: { width: number; height: number }, iterations: number, profiler: GpuProfiler | null): void {
    if (!this.pose) return;
    if (field.outputStride !== 4) throw new Error(`the sphere tracer reads one distance per 4 floats, not per ${field.outputStride}`);
    const b = this.ensure(size.width, size.height);
    const rays = size.width * size.height;
    const data = new ArrayBuffer(112);
    new Float32Array(data, 0, 16).set(cameraBlock(this.pose, size.width, size.height));
    new Uint32Array(data, 64, 4).set([size.width, size.height, 0, 0]);
    new Float32Array(data, 80, 8).set([this.style.epsilon, this.style.normalStep, 0, 0, ...this.style.background, 1]);
    this.device.queue.writeBuffer(this.uniforms, 0, data);
    for (let k = 0; k < iterations; k++) {
      if (this.cursor === 0) this.dispatch(encoder, profiler, 'init', rays);
      field.encodeForward(encoder, b.positions, b.outputs, rays);
      this.dispatch(encoder, profiler, 'march', rays);
      this.cursor++;
      if (this.cursor >= this.marchSteps) {
        this.dispatch(encoder, profiler, 'normal_positions', rays);
        field.encodeForward(encoder, b.positions, b.outputs, rays * 4);
        this.dispatch(encoder, profiler, 'shade', rays);
        this.cursor = 0;
        this.traced = true;
        break;
      }
    }
    this.display.encode(encoder, output, b.image, { width: size.width, height: size.height, stride: 4 }, { x: 0, y: 0, width: output.width, height: output.height }, profiler ?? undefined);
  }

  private destroyBuffers(): void {
    if (this.buffers) for (const b of Object.values(this.buffers)) b.destroy();
    this.buffers = null;
    this.binds.clear(); // they bind the buffers just destroyed
  }

  destroy(): void {
    this.destroyBuffers();
    this.uniforms.destroy();
    this.display.destroy();
  }
}

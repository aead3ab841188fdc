/**
 * The 4D Gaussian player's GPU path: a scene uploaded once (`GpuScene`), then per frame
 * one compute pass that slices at t and projects (survivors appended with an atomic
 * counter), the suite's radix sort on the GPU count, and one indirect draw of the sorted
 * splats. Nothing is read back inside a frame; the visible count comes back a frame or
 * two late through a ring of mappable buffers.
 */
import { vec3 } from 'gl-matrix';
import blendWgsl from '../../../shaders/splat_blend.wgsl?raw';
import drawArgsWgsl from '../../../shaders/splat_draw_args.wgsl?raw';
import projectWgsl from '../../../shaders/splat_project.wgsl?raw';
import type { GaussianScene } from '../../formats/gaussian-scene.ts';
import { BindCache } from '../../gpu/bind-cache.ts';
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { RadixSort } from '../../gpu/radix-sort.ts';
import { computePipeline, shaderModule } from '../../gpu/shader.ts';
import type { CameraPose } from '../../ui/orbit-controls.ts';
import { GEOMETRY_FLOATS, packScene, shStrideWords, shWords, type PackedScene } from './pack.ts';

/** Per-frame bytes per Gaussian: splat record (48), key and value (8), alive index (4), sort scratch (~10). */
export const FRAME_BYTES_PER_SPLAT = 48 + 8 + 4 + 10;

const KIND_CODE = { static: 0, yang4d: 1, rotor4d: 2 } as const;

/** A pinhole camera in the 3DGS convention: x right, y down, z forward, pixel i centred at i. */
export interface Camera {
  /** World to camera, column-major 4×4. */
  view: Float32Array;
  position: [number, number, number];
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  width: number;
  height: number;
  tanFovX: number;
  tanFovY: number;
}

/** The camera of an orbit pose for an image of width×height (square pixels, vertical fov). */
export function cameraFromPose(pose: CameraPose, width: number, height: number): Camera {
  const eye = vec3.fromValues(...pose.position);
  const forward = vec3.normalize(vec3.create(), vec3.sub(vec3.create(), vec3.fromValues(...pose.target), eye));
  const right = vec3.normalize(vec3.create(), vec3.cross(vec3.create(), forward, vec3.fromValues(...pose.up)));
  const down = vec3.cross(vec3.create(), forward, right);
  const rows = [right, down, forward];
  const view = new Float32Array(16);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) view[c * 4 + r] = rows[r][c];
    view[12 + r] = -vec3.dot(rows[r], eye);
  }
  view[15] = 1;
  const tanFovY = Math.tan((pose.fovYDeg * Math.PI) / 360);
  const fy = height / (2 * tanFovY);
  return { view, position: [...pose.position], fx: fy, fy, cx: (width - 1) / 2, cy: (height - 1) / 2, width, height, tanFovX: width / (2 * fy), tanFovY };
}

/** A scene on the GPU: geometry (64 B per Gaussian) and SH as f16 (K·3·2 B per Gaussian). */
export class GpuScene {
  readonly count: number;
  readonly kind: GaussianScene['kind'];
  readonly shDegree: number;
  readonly shDegreeT: number;
  /** u32 words of SH per Gaussian (pack.ts shStrideWords). */
  readonly shStride: number;
  readonly duration: number;
  readonly geometry: GPUBuffer;
  readonly sh: GPUBuffer;
  readonly bytes: number;

  constructor(device: GPUDevice, scene: GaussianScene, packed?: PackedScene) {
    this.count = scene.count;
    this.kind = scene.kind;
    this.shDegree = scene.shDegree;
    this.shDegreeT = scene.kind === 'yang4d' ? scene.shDegreeT : 0;
    this.shStride = shStrideWords(scene);
    this.duration = scene.timeRange ? scene.timeRange[1] - scene.timeRange[0] : 1;
    const geometryBytes = Math.max(16, scene.count * GEOMETRY_FLOATS * 4);
    const shBytes = shWords(scene) * 4;
    const limit = device.limits.maxStorageBufferBindingSize;
    for (const [what, bytes] of [['geometry', geometryBytes], ['SH coefficients', shBytes]] as const) {
      if (bytes > limit) {
        throw new Error(`${scene.count.toLocaleString('en-US')} Gaussians need ${(bytes / 2 ** 20).toFixed(0)} MiB of ${what}; this GPU binds at most ${(limit / 2 ** 20).toFixed(0)} MiB`);
      }
    }
    // Packing 1M Gaussians takes ~0.5 s: the scene workers do it (`packed`); device-loss rebuilds pack here.
    const { geometry, sh: halves } = packed ?? packScene(scene);
    this.geometry = device.createBuffer({ label: 'gaussians', size: geometryBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(this.geometry, 0, geometry);
    this.sh = device.createBuffer({ label: 'gaussian SH', size: shBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(this.sh, 0, halves);
    this.bytes = geometryBytes + shBytes;
  }

  destroy(): void {
    this.geometry.destroy();
    this.sh.destroy();
  }
}

export interface RenderOptions {
  /** Highest SH degree evaluated (the scene's degree caps it). */
  shDegree: number;
  background: [number, number, number];
}

const PARAMS_BYTES = 128;

interface ProjectVariant {
  /** null for static scenes (no cull pass). */
  cull: GPUComputePipeline | null;
  project: GPUComputePipeline;
}
const READ_RING = 3;

export class GaussianRenderer {
  /** Whether the latest encode() projected and sorted (false: inputs unchanged, blend only). */
  resorted = false;
  /** Splats drawn by the latest frame whose count has come back (a frame or two late). */
  visible = 0;
  /** Called when a new visible count arrives. */
  onVisible: ((count: number) => void) | null = null;
  private scene: GpuScene | null = null;
  private readonly params: GPUBuffer;
  private readonly frameUniform: GPUBuffer;
  /** CPU staging of the two uniforms, reused every frame. */
  private readonly uniformData = (() => {
    const data = new ArrayBuffer(PARAMS_BYTES);
    return { f: new Float32Array(data), u: new Uint32Array(data), frame: new Float32Array(4) };
  })();
  private readonly counter: GPUBuffer;
  private readonly drawArgs: GPUBuffer;
  /** What the splats on the GPU were last projected and sorted for. */
  private sortedScene: GpuScene | null = null;
  /** view (16), fx, fy, cx, cy, width, height, t (0 for static scenes), SH degree. */
  private readonly sortedInputs = new Float64Array(24).fill(NaN);
  private readonly frameInputs = new Float64Array(24);
  /** project (+ cull for 4D scenes) pipelines per (kind, SH degree, temporal SH terms), made on first use. */
  private readonly projectVariants = new Map<string, ProjectVariant>();
  private readonly argsPipeline: GPUComputePipeline;
  private readonly projectArgsPipeline: GPUComputePipeline;
  private readonly projectArgs: GPUBuffer;
  private readonly projectArgsBind: GPUBindGroup;
  private readonly blendPipeline: GPURenderPipeline;
  private readonly argsBind: GPUBindGroup;
  private capacity = 0;
  private splats: GPUBuffer | null = null;
  private keys: GPUBuffer | null = null;
  private values: GPUBuffer | null = null;
  private alive: GPUBuffer | null = null;
  private sorter: RadixSort | null = null;
  /** Bind groups of the cull/project pipelines. */
  private readonly projectBinds: BindCache;
  private blendBind: GPUBindGroup | null = null;
  private readonly ring: { buffer: GPUBuffer; busy: boolean }[] = [];
  private pendingRead: { buffer: GPUBuffer; busy: boolean } | null = null;
  private destroyed = false;

  constructor(
    private readonly device: GPUDevice,
    options: { maxCount?: number } = {},
  ) {
    this.params = device.createBuffer({ label: 'splat params', size: PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.frameUniform = device.createBuffer({ label: 'splat frame', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.counter = device.createBuffer({ label: 'splat count', size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.drawArgs = device.createBuffer({ label: 'splat draw args', size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.INDIRECT });
    this.projectBinds = new BindCache(device, 64);
    this.argsPipeline = computePipeline(device, 'splat draw args', drawArgsWgsl, 'draw_args_main');
    this.projectArgsPipeline = computePipeline(device, 'splat draw args', drawArgsWgsl, 'project_args_main');
    this.projectArgs = device.createBuffer({ label: 'splat project args', size: 12, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.INDIRECT });
    this.projectArgsBind = device.createBindGroup({
      layout: this.projectArgsPipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.counter } },
        { binding: 1, resource: { buffer: this.projectArgs } },
      ],
    });
    this.argsBind = device.createBindGroup({
      layout: this.argsPipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.counter } },
        { binding: 1, resource: { buffer: this.drawArgs } },
      ],
    });
    const module = shaderModule(device, 'splat blend', blendWgsl);
    this.blendPipeline = device.createRenderPipeline({
      label: 'splat blend',
      layout: 'auto',
      vertex: { module, entryPoint: 'vs' },
      fragment: {
        module,
        entryPoint: 'fs',
        targets: [{ format: 'rgba8unorm', blend: { color: { srcFactor: 'one', dstFactor: 'one-minus-src-alpha' }, alpha: { srcFactor: 'one', dstFactor: 'one-minus-src-alpha' } } }],
      },
      primitive: { topology: 'triangle-list' },
    });
    for (let i = 0; i < READ_RING; i++) {
      this.ring.push({ buffer: device.createBuffer({ label: 'splat count read', size: 4, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ }), busy: false });
    }
    this.reserve(Math.max(1, options.maxCount ?? 1));
  }

  /** Grows the per-frame buffers to hold `count` survivors (all Gaussians, worst case). */
  private reserve(count: number): void {
    if (count <= this.capacity) return;
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (count * 48 > limit) throw new Error(`${count.toLocaleString('en-US')} splats need ${((count * 48) / 2 ** 20).toFixed(0)} MiB of per-frame records; this GPU binds at most ${(limit / 2 ** 20).toFixed(0)} MiB`);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const splats = this.device.createBuffer({ label: 'splats', size: count * 48, usage });
    const keys = this.device.createBuffer({ label: 'splat keys', size: count * 4, usage });
    const values = this.device.createBuffer({ label: 'splat order', size: count * 4, usage });
    const alive = this.device.createBuffer({ label: 'gaussians alive at t', size: count * 4, usage: GPUBufferUsage.STORAGE });
    const sorter = new RadixSort(this.device, { maxCount: count });
    this.releaseFrameBuffers();
    Object.assign(this, { splats, keys, values, alive, sorter, capacity: count, blendBind: null });
    this.projectBinds.clear(); // they bind the buffers just released
  }

  private releaseFrameBuffers(): void {
    this.splats?.destroy();
    this.keys?.destroy();
    this.values?.destroy();
    this.alive?.destroy();
    this.sorter?.destroy();
  }

  /** Shows `scene` from the next frame on (the caller owns and destroys it). */
  setScene(scene: GpuScene): void {
    this.reserve(Math.max(1, scene.count));
    this.scene = scene;
    this.sortedScene = null;
  }

  encode(encoder: GPUCommandEncoder, output: GPUTexture, camera: Camera, t: number, options: RenderOptions, profiler?: GpuProfiler): void {
    const scene = this.scene;
    const count = scene?.count ?? 0;
    this.writeParams(camera, t, scene);
    // Same scene, view, size, SH degree and (for 4D scenes) time as the frame before: the
    // sorted splats on the GPU are still exact, so only the blend runs.
    const next = this.frameInputs;
    next.set(camera.view);
    next.set([camera.fx, camera.fy, camera.cx, camera.cy, camera.width, camera.height, scene?.kind === 'static' ? 0 : t, options.shDegree], 16);
    const unchanged = scene !== null && scene === this.sortedScene && next.every((v, k) => v === this.sortedInputs[k]);
    this.sortedInputs.set(next);
    this.sortedScene = scene;
    this.resorted = !unchanged;
    if (!unchanged) encoder.clearBuffer(this.counter);
    if (scene && count > 0 && !unchanged) {
      const resources = [this.params, scene.geometry, scene.sh, this.splats!, this.keys!, this.values!, this.counter, this.alive!];
      const bind = (pipeline: GPUComputePipeline, bindings: number[]) => this.projectBinds.get(pipeline, Object.fromEntries(bindings.map((b) => [b, resources[b]])));
      const variant = this.projectVariant(scene, options.shDegree);
      const pass = profiler ? profiler.computePass(encoder, 'slice+project') : encoder.beginComputePass({ label: 'slice+project' });
      const groups = Math.ceil(count / 256);
      const x = Math.min(groups, this.device.limits.maxComputeWorkgroupsPerDimension);
      if (scene.kind === 'static') {
        pass.setPipeline(variant.project);
        pass.setBindGroup(0, bind(variant.project, [0, 1, 2, 3, 4, 5, 6, 7]));
        pass.dispatchWorkgroups(x, Math.ceil(groups / x));
      } else {
        pass.setPipeline(variant.cull!);
        pass.setBindGroup(0, bind(variant.cull!, [0, 1, 6, 7]));
        pass.dispatchWorkgroups(x, Math.ceil(groups / x));
        pass.setPipeline(this.projectArgsPipeline);
        pass.setBindGroup(0, this.projectArgsBind);
        pass.dispatchWorkgroups(1);
        pass.setPipeline(variant.project);
        pass.setBindGroup(0, bind(variant.project, [0, 1, 2, 3, 4, 5, 6, 7]));
        pass.dispatchWorkgroupsIndirect(this.projectArgs, 0);
      }
      pass.end();
      this.sorter!.encode(encoder, { keys: this.keys!, values: this.values!, countBuffer: this.counter }, profiler);
    }
    const args = encoder.beginComputePass({ label: 'splat draw args' });
    args.setPipeline(this.argsPipeline);
    args.setBindGroup(0, this.argsBind);
    args.dispatchWorkgroups(1);
    args.end();

    this.blendBind ??= this.device.createBindGroup({
      layout: this.blendPipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.frameUniform } },
        { binding: 1, resource: { buffer: this.splats! } },
        { binding: 2, resource: { buffer: this.values! } },
      ],
    });
    const [r, g, b] = options.background;
    const timestampWrites = profiler?.timestamps('blend');
    const pass = encoder.beginRenderPass({
      label: 'splat blend',
      colorAttachments: [{ view: output.createView(), loadOp: 'clear', storeOp: 'store', clearValue: [r, g, b, 1] }],
      ...(timestampWrites ? { timestampWrites } : {}),
    });
    pass.setPipeline(this.blendPipeline);
    pass.setBindGroup(0, this.blendBind);
    pass.drawIndirect(this.drawArgs, 0);
    pass.end();
    this.readVisible(encoder);
  }

  /** The sorted view depths of the latest frame, farthest first (for tests: reads back). */
  async readDrawOrder(): Promise<Float32Array> {
    const { readU32, readF32 } = await import('../../gpu/readback.ts');
    const n = (await readU32(this.device, this.counter, 0, 1))[0];
    if (n === 0) return new Float32Array(0);
    const order = await readU32(this.device, this.values!, 0, n);
    const splats = await readF32(this.device, this.splats!, 0, n * 12);
    return Float32Array.from(order, (s) => splats[s * 12 + 11]);
  }

  /** The cull/project pipelines specialised for `scene` drawn at SH degree `shDegree` (see splat_project.wgsl). */
  private projectVariant(scene: GpuScene, shDegree: number): ProjectVariant {
    const degree = Math.max(0, Math.min(shDegree, scene.shDegree));
    const temporal = scene.kind === 'yang4d' && scene.shDegree === 3 && degree === 3 ? scene.shDegreeT : 0;
    const constants = { KIND: KIND_CODE[scene.kind], SH_DEGREE: degree, SH_TEMPORAL: temporal };
    const key = `${constants.KIND}/${degree}/${temporal}`;
    let variant = this.projectVariants.get(key);
    if (!variant) {
      variant = {
        // Static scenes skip the cull pass.
        cull: scene.kind === 'static' ? null : computePipeline(this.device, 'splat project', projectWgsl, 'cull', constants),
        project: computePipeline(this.device, 'splat project', projectWgsl, 'project', constants),
      };
      this.projectVariants.set(key, variant);
    }
    return variant;
  }

  private writeParams(camera: Camera, t: number, scene: GpuScene | null): void {
    const { f, u, frame } = this.uniformData;
    f.set(camera.view, 0);
    f.set(camera.position, 16);
    f.set([camera.fx, camera.fy, camera.cx, camera.cy, camera.width, camera.height, camera.tanFovX, camera.tanFovY, t, scene?.duration ?? 1], 20);
    u.set([scene?.count ?? 0, scene?.shStride ?? 1], 30);
    this.device.queue.writeBuffer(this.params, 0, f);
    frame[0] = camera.width;
    frame[1] = camera.height;
    this.device.queue.writeBuffer(this.frameUniform, 0, frame);
  }

  private readVisible(encoder: GPUCommandEncoder): void {
    if (this.pendingRead) return;
    const slot = this.ring.find((s) => !s.busy);
    if (!slot) return;
    slot.busy = true;
    encoder.copyBufferToBuffer(this.counter, 0, slot.buffer, 0, 4);
    this.pendingRead = slot;
  }

  /** Call after submitting the frame's encoder: starts the non-blocking read of the visible count. */
  afterSubmit(): void {
    const slot = this.pendingRead;
    this.pendingRead = null;
    slot?.buffer.mapAsync(GPUMapMode.READ).then(
      () => {
        if (this.destroyed) return;
        this.visible = new Uint32Array(slot.buffer.getMappedRange())[0];
        slot.buffer.unmap();
        slot.busy = false;
        this.onVisible?.(this.visible);
      },
      () => (slot.busy = false),
    );
  }

  destroy(): void {
    this.destroyed = true;
    this.releaseFrameBuffers();
    this.params.destroy();
    this.frameUniform.destroy();
    this.counter.destroy();
    this.drawArgs.destroy();
    this.projectArgs.destroy();
    for (const s of this.ring) s.buffer.destroy();
  }
}

/**
 * NeRF as instant-ngp trains it, on a built-in synthetic scene: the suite renders coloured
 * spheres and a box (analytic, opaque, Lambert-shaded with a fixed light) from known poses on a
 * sphere: `views` training views plus 5 held out, at `res`^2 pixels.
 *
 * Network (src/nn/ngp/nerf-network.ts, instant-ngp configs/nerf/base.json): 3D hash grid
 * (8 levels x 4 features) -> density MLP (64 wide, 1 hidden layer, 16 outputs, output 0 the
 * log-density; sigma = exp, trained as truncated exp) -> colour MLP (64 wide, 2 hidden layers)
 * on the 16 density outputs + degree-4 spherical harmonics of the view direction; colour =
 * sigmoid. Both MLPs fully fused (unless `?fused=0`). Trained on random rays with the
 * volume-rendering L2 loss (shaders/ngp_app_nerf.wgsl), backward through both MLPs and the grid.
 *
 * Occupancy grid (32^3) as instant-ngp keeps it: every `occEvery` steps the density MLP is
 * evaluated at a random point of every cell, the per-cell density (as optical thickness over
 * instant-ngp's minimum step) is updated as an EMA (max(0.95 old, new)), and the bitfield marks
 * cells above min(0.01, mean). Training rays and their samples are placed on the GPU
 * (nerf-rays.ts): random view and pixel per ray, and of 2S evenly spaced, jittered candidates
 * along it only those in occupied cells are kept (at most S); the renderer skips empty cells too
 * and stops a ray once its transmittance is below 1e-3 (early termination). PSNR is measured on
 * a fixed set of rays of the held-out views, sampled like training rays (occupied cells only;
 * `?heldRays=N`, default 4096 on GPUs, 512 on software adapters).
 *
 * Differences from instant-ngp: L2 rather than Huber loss; a fixed number of samples per ray
 * (unused ones get delta 0) rather than a compacted sample stream; all cells are refreshed on
 * each update (instant-ngp samples a subset after warm-up); targets are 8-bit like photographs.
 */
import nerfWgsl from '../../../shaders/ngp_app_nerf.wgsl?raw';
import type { FileKind } from '../../formats/sniff.ts';
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { computePipeline, workgroups } from '../../gpu/shader.ts';
import { perLevelScaleFor } from '../../nn/ngp/config.ts';
import { pcg, seededRandom } from '../../nn/random.ts';
import { BindCache } from '../../gpu/bind-cache.ts';
import { flatGroups, maxStorageBytes, storageBuffer, UniformArena } from '../../nn/ngp/gpu-util.ts';
import { NerfNetwork, NERF_DENSITY_OUTPUTS } from '../../nn/ngp/nerf-network.ts';
import { LossReadback } from '../../nn/ngp/loss.ts';
import { psnrFromMse } from '../../nn/ngp/model.ts';
import type { CameraPose } from '../../ui/orbit-controls.ts';
import { defaultLog2T, cameraBlock, intParam, normalize, orbitPose, renderSize, TrainingStats, type AppFrame, type AppSettings, type NgpApp, type Vec3 } from './common.ts';
import { MAX_STEPS_PER_FRAME } from './gia.ts';
import { NerfRaySampler, packRgba8, type RayBuffers } from './nerf-rays.ts';
import { VolumeRenderer, type VolumeStyle } from './volume-renderer.ts';

const OCC = 32;
const BACKGROUND: Vec3 = [1, 1, 1];
const HELD_OUT = 5;
/** instant-ngp NERF_MIN_OPTICAL_THICKNESS: a cell is empty below min(this, mean). */
const MIN_OPTICAL_THICKNESS = 0.01;
/** instant-ngp's density-grid EMA decay. */
const OCC_DECAY = 0.95;

interface Sphere {
  c: Vec3;
  r: number;
  colour: Vec3;
}

/** The built-in scene: spheres and an axis-aligned box inside [-0.4, 0.4]^3. */
export function syntheticScene(seed: number): { spheres: Sphere[]; box: { lo: Vec3; hi: Vec3; colour: Vec3 } } {
  const random = seededRandom(seed * 31337 + 11);
  const spheres: Sphere[] = [
    { c: [0, 0.02, 0], r: 0.2, colour: [0.9, 0.3, 0.2] },
    { c: [0.24, -0.12, 0.12], r: 0.11, colour: [0.2, 0.6, 0.95] },
    { c: [-0.22, -0.1, 0.16], r: 0.12, colour: [0.25, 0.85, 0.35] },
    { c: [-0.08, 0.22, -0.2], r: 0.1, colour: [0.95, 0.8, 0.2] },
  ];
  for (const s of spheres) for (let k = 0; k < 3; k++) s.c[k] += (random() - 0.5) * 0.06;
  return { spheres, box: { lo: [-0.38, -0.38, -0.38], hi: [0.38, -0.24, 0.38], colour: [0.75, 0.7, 0.8] } };
}

/** Ray-traced colour of the scene (background where nothing is hit). */
function traceScene(scene: ReturnType<typeof syntheticScene>, o: Vec3, d: Vec3): Vec3 {
  let best = Infinity;
  let colour: Vec3 = BACKGROUND;
  let normal: Vec3 = [0, 1, 0];
  for (const s of scene.spheres) {
    const oc: Vec3 = [o[0] - s.c[0], o[1] - s.c[1], o[2] - s.c[2]];
    const b = oc[0] * d[0] + oc[1] * d[1] + oc[2] * d[2];
    const c = oc[0] * oc[0] + oc[1] * oc[1] + oc[2] * oc[2] - s.r * s.r;
    const h = b * b - c;
    if (h < 0) continue;
    const t = -b - Math.sqrt(h);
    if (t > 0 && t < best) {
      best = t;
      colour = s.colour;
      normal = normalize([o[0] + t * d[0] - s.c[0], o[1] + t * d[1] - s.c[1], o[2] + t * d[2] - s.c[2]]);
    }
  }
  const { lo, hi } = scene.box;
  let tmin = -Infinity;
  let tmax = Infinity;
  let axis = 0;
  for (let k = 0; k < 3; k++) {
    const a = (lo[k] - o[k]) / d[k];
    const b = (hi[k] - o[k]) / d[k];
    const near = Math.min(a, b);
    if (near > tmin) (tmin = near), (axis = k);
    tmax = Math.min(tmax, Math.max(a, b));
  }
  if (tmin <= tmax && tmin > 0 && tmin < best) {
    best = tmin;
    colour = scene.box.colour;
    normal = [0, 0, 0];
    normal[axis] = d[axis] > 0 ? -1 : 1;
  }
  if (best === Infinity) return BACKGROUND;
  const light = normalize([0.5, 0.8, 0.3]);
  const lambert = 0.35 + 0.65 * Math.max(0, normal[0] * light[0] + normal[1] * light[1] + normal[2] * light[2]);
  return [colour[0] * lambert, colour[1] * lambert, colour[2] * lambert];
}

function rayOf(camera: Float32Array, res: number, x: number, y: number): { o: Vec3; d: Vec3 } {
  const nx = ((x + 0.5) / res) * 2 - 1;
  const ny = 1 - ((y + 0.5) / res) * 2;
  const d = normalize([
    camera[12] + nx * camera[4] + ny * camera[8],
    camera[13] + nx * camera[5] + ny * camera[9],
    camera[14] + nx * camera[6] + ny * camera[10],
  ]);
  return { o: [camera[0], camera[1], camera[2]], d };
}

export class NerfApp implements NgpApp {
  readonly name = 'nerf' as const;
  readonly accepts: readonly FileKind[] = [];
  readonly camera = true;
  readonly curveLabel = 'held-out PSNR (dB) vs step';
  note: string;
  readonly style: VolumeStyle = { mode: 0, colourMap: 0, opacity: 1, threshold: 0, background: BACKGROUND };
  psnr: number | null = null;
  private readonly field: NerfNetwork;
  private readonly renderer: VolumeRenderer;
  readonly stats: TrainingStats;
  private readonly heldReadback: LossReadback;
  private readonly lossPipeline: GPUComputePipeline;
  private readonly finishPipeline: GPUComputePipeline;
  private readonly occEmaPipeline: GPUComputePipeline;
  private readonly occBitsPipeline: GPUComputePipeline;
  /** Loss and occupancy parameters (three fixed contents: training, held-out, occupancy). */
  private readonly uniforms: UniformArena;
  private readonly binds: BindCache;
  private readonly sampler: NerfRaySampler;
  /** One training batch: the steps of a frame run in order in one encoder, so they share it. */
  private readonly batch: RayBuffers;
  private readonly rayLoss: GPUBuffer;
  private readonly held: RayBuffers & { outputs: GPUBuffer; stats: GPUBuffer; rays: number; seed: number };
  private readonly occ: { positions: GPUBuffer; outputs: GPUBuffer; density: GPUBuffer; bits: GPUBuffer; read: GPUBuffer; busy: boolean };
  /** Occupancy updates since the start (seeds the probe points). */
  private occUpdates = 0;
  /** Latest copy of the occupancy bits, for the occupied-cell count only. */
  private occupancyCpu: Uint32Array | null = null;
  private readonly res: number;
  private readonly samples: number;
  private readonly rays: number;
  private readonly maxRays: number;
  private readonly occEvery: number;
  private heldCount = -1;

  constructor(
    private readonly device: GPUDevice,
    private readonly settings: AppSettings,
    profiler: () => GpuProfiler | null,
  ) {
    const params = settings.params;
    this.res = intParam(params, 'res', 64, 8, 512);
    this.samples = intParam(params, 'samples', 32, 4, 256);
    this.rays = Math.max(1, Math.floor(settings.batch / this.samples));
    this.maxRays = intParam(params, 'rays', settings.cpu ? 48 * 48 : 96 * 96, 64, 1 << 20);
    this.occEvery = intParam(params, 'occEvery', 16, 1, 100000);
    const trainViews = intParam(params, 'views', 30, 1, 300);
    // The views live on the GPU (4 bytes a pixel) for the ray sampler: checked before anything is allocated.
    const imageBytes = (trainViews + HELD_OUT) * this.res * this.res * 4;
    if (imageBytes > maxStorageBytes(device)) {
      throw new Error(`NeRF: ${trainViews + HELD_OUT} views at ${this.res}x${this.res} need ${(imageBytes / 2 ** 20).toFixed(1)} MiB, over this device's ${(maxStorageBytes(device) / 2 ** 20).toFixed(0)} MiB storage limit; lower res or views`);
    }
    const log2T = defaultLog2T(settings);
    this.field = new NerfNetwork(
      device,
      {
        grid: { dims: 3, levels: 8, featuresPerLevel: 4, log2HashmapSize: log2T, baseResolution: 16, perLevelScale: perLevelScaleFor(512, 16, 8) },
        maxBatch: this.rays * this.samples,
        seed: settings.seed,
        fused: settings.fused,
      },
      profiler(),
    );
    // The dataset: known poses on a sphere (Fibonacci spiral), rendered here as 8-bit images.
    const scene = syntheticScene(settings.seed);
    const total = trainViews + HELD_OUT;
    const cameras = new Float32Array(total * 16);
    const images = new Uint32Array(total * this.res * this.res);
    for (let v = 0; v < total; v++) {
      const y = 1 - ((v + 0.5) / total) * 1.6; // avoid the poles
      const yaw = v * 2.399963;
      const pose = orbitPose(yaw, Math.asin(Math.max(-0.95, Math.min(0.95, y))) * 0.8, 1.5, 45);
      const camera = cameraBlock(pose, this.res, this.res);
      cameras.set(camera, v * 16);
      for (let py = 0; py < this.res; py++) {
        for (let px = 0; px < this.res; px++) {
          const { o, d } = rayOf(camera, this.res, px, py);
          images[(v * this.res + py) * this.res + px] = packRgba8(...traceScene(scene, o, d));
        }
      }
    }
    this.note = `Built-in synthetic scene (spheres and a box, rendered by the suite): ${trainViews} training + ${HELD_OUT} held-out views at ${this.res}x${this.res}, known poses`;

    const pipe = (entry: string) => computePipeline(device, 'ngp nerf', nerfWgsl, entry);
    this.lossPipeline = pipe('loss');
    this.finishPipeline = pipe('finish');
    this.occEmaPipeline = pipe('occupancy_ema');
    this.occBitsPipeline = pipe('occupancy_bits');
    const rows = this.rays * this.samples;
    this.batch = {
      positions: storageBuffer(device, 'nerf batch positions', rows * 12),
      deltas: storageBuffer(device, 'nerf batch deltas', rows * 4),
      directions: storageBuffer(device, 'nerf batch directions', rows * 12),
      targets: storageBuffer(device, 'nerf batch targets', this.rays * 12),
    };
    this.uniforms = new UniformArena(device, 'nerf', 8);
    this.binds = new BindCache(device);
    // Held-out rays: fixed seeded pixels of the held-out views; their samples follow the
    // occupancy grid as training's do (inference only, every 8th step). Two different sets of
    // 512 rays read up to 2 dB apart on the same field (4096: about 0.5 dB), so GPUs, where it
    // is cheap, use 4096; software adapters 512 (there it costs several training steps).
    const heldRays = intParam(params, 'heldRays', settings.cpu ? 512 : 4096, 64, 1 << 16);
    this.rayLoss = storageBuffer(device, 'nerf ray losses', Math.max(this.rays, heldRays) * 4);
    this.held = {
      rays: heldRays,
      seed: pcg(settings.seed + 99),
      positions: storageBuffer(device, 'nerf held-out positions', heldRays * this.samples * 12),
      directions: storageBuffer(device, 'nerf held-out directions', heldRays * this.samples * 12),
      deltas: storageBuffer(device, 'nerf held-out deltas', heldRays * this.samples * 4),
      targets: storageBuffer(device, 'nerf held-out targets', heldRays * 12),
      outputs: storageBuffer(device, 'nerf held-out outputs', heldRays * this.samples * 16),
      stats: storageBuffer(device, 'nerf held-out stats', 16),
    };
    // Occupancy grid: all cells occupied at first; density EMA starts at zero.
    const cells = OCC * OCC * OCC;
    this.occ = {
      positions: storageBuffer(device, 'nerf occupancy sample positions', cells * 12),
      outputs: storageBuffer(device, 'nerf occupancy density outputs', cells * NERF_DENSITY_OUTPUTS * 4),
      density: storageBuffer(device, 'nerf occupancy density grid', cells * 4),
      bits: storageBuffer(device, 'nerf occupancy bits', cells / 8),
      read: device.createBuffer({ label: 'nerf occupancy readback', size: cells / 8, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ }),
      busy: false,
    };
    device.queue.writeBuffer(this.occ.bits, 0, new Uint32Array(cells / 32).fill(0xffffffff));
    this.sampler = new NerfRaySampler(device, { res: this.res, trainViews, heldViews: HELD_OUT, cameras, images }, this.occ.bits, MAX_STEPS_PER_FRAME + 2);
    this.renderer = new VolumeRenderer(device, intParam(params, 'renderSamples', 64, 4, 512));
    this.renderer.occupancy = this.occ.bits;
    this.stats = new TrainingStats(device);
    this.heldReadback = new LossReadback(device);
  }

  get step(): number {
    return this.field.step;
  }

  defaultPose(): CameraPose {
    return orbitPose(0.4, 0.3, 1.5, 45);
  }

  setCamera(pose: CameraPose): void {
    this.renderer.setCamera(pose);
  }

  extraStats(): Record<string, unknown> {
    let occupied: number | undefined;
    if (this.occupancyCpu) {
      occupied = 0;
      for (const w of this.occupancyCpu) for (let b = w; b; b &= b - 1) occupied++;
    }
    return {
      stepsPerSecond: Number(this.stats.stepsPerSecond.toFixed(2)),
      raysPerStep: this.rays,
      samplesPerRay: this.samples,
      occupiedCells: occupied,
      trainPsnr: this.stats.loss === null ? undefined : Number(psnrFromMse(this.stats.loss).toFixed(2)),
      render: `${this.renderer.width}x${this.renderer.height}`,
      params: this.field.paramCount,
    };
  }

  private uniform(rays: number, writeGrad: boolean, gradScale: number, invCount: number): GPUBufferBinding {
    const data = new ArrayBuffer(48);
    new Uint32Array(data, 0, 4).set([rays, this.samples, writeGrad ? 1 : 0, OCC]);
    new Float32Array(data, 16, 8).set([gradScale, invCount, MIN_OPTICAL_THICKNESS, OCC_DECAY, ...BACKGROUND, 1]);
    return this.uniforms.bind(data);
  }

  private encodeLoss(encoder: GPUCommandEncoder, profiler: GpuProfiler, uniform: GPUBufferBinding, raw: GPUBuffer, deltas: GPUBuffer, targets: GPUBuffer, stats: GPUBuffer, rays: number): void {
    const pass = profiler.computePass(encoder, 'loss+adam');
    pass.setPipeline(this.lossPipeline);
    pass.setBindGroup(0, this.binds.get(this.lossPipeline, { 0: uniform, 1: raw, 2: deltas, 3: targets, 4: this.field.dOutputs, 5: this.rayLoss }));
    pass.dispatchWorkgroups(workgroups(rays, 64, this.device));
    pass.setPipeline(this.finishPipeline);
    pass.setBindGroup(0, this.binds.get(this.finishPipeline, { 0: uniform, 5: this.rayLoss, 6: stats }));
    pass.dispatchWorkgroups(1);
    pass.end();
  }

  encode(frame: AppFrame): void {
    const { encoder, profiler } = frame;
    const steps = Math.min(frame.steps, MAX_STEPS_PER_FRAME);
    const S = this.samples;
    const b = this.batch;
    let occupancyDue = false;
    for (let i = 0; i < steps; i++) {
      const pass = profiler.computePass(encoder, 'rays');
      // A fresh hash seed per step: deterministic from the app seed and the step.
      this.sampler.encodeRays(pass, { rays: this.rays, samples: S, seed: Math.imul(this.settings.seed, 0x9e3779b1) + this.field.step, held: false, cells: OCC }, b);
      pass.end();
      const n = this.rays * S;
      const scale = this.rays * 3;
      this.field.encodeTrainForward(encoder, b.positions, b.directions, n);
      this.encodeLoss(encoder, profiler, this.uniform(this.rays, true, scale / (this.rays * 3), 1 / (this.rays * 3)), this.field.predictions, b.deltas, b.targets, this.field.lossStats, this.rays);
      this.field.encodeBackward(encoder, b.positions, n, scale);
      if (this.field.step % this.occEvery === 0 && this.field.step >= 2 * this.occEvery) occupancyDue = true;
    }
    this.stats.encode(encoder, this.field.lossStats, this.field.step, frame.afterSubmit, null);
    // Held-out PSNR every few steps (fixed rays, inference only).
    if (steps > 0 && (this.field.step % 8 === 0 || this.psnr === null)) {
      const h = this.held;
      const pass = profiler.computePass(encoder, 'rays');
      this.sampler.encodeRays(pass, { rays: h.rays, samples: S, seed: h.seed, held: true, cells: OCC }, h);
      pass.end();
      this.field.encodeForward(encoder, h.positions, h.outputs, h.rays * S, h.directions);
      this.encodeLoss(encoder, profiler, this.uniform(h.rays, false, 0, 1 / (h.rays * 3)), h.outputs, h.deltas, h.targets, h.stats, h.rays);
      const done = this.heldReadback.encode(encoder, h.stats);
      frame.afterSubmit(done);
    }
    const latest = this.heldReadback.latest;
    if (latest && latest.count !== this.heldCount && Number.isFinite(latest.last) && latest.count > 0) {
      this.heldCount = latest.count;
      this.psnr = psnrFromMse(latest.last);
      this.stats.push({ step: this.field.step, value: this.psnr });
    }
    if (occupancyDue) this.encodeOccupancy(encoder, profiler, frame.afterSubmit);
    const slices = Math.max(4, 4 * Math.max(1, frame.steps));
    this.renderer.encode(encoder, frame.output, this.field, renderSize(frame.output, this.maxRays), slices, this.style, profiler);
  }

  /**
   * Occupancy update: density at a random point of every cell -> EMA -> bitfield; a CPU copy
   * of the bits (for the occupied-cell count) follows without stalling.
   */
  private encodeOccupancy(encoder: GPUCommandEncoder, profiler: GpuProfiler, afterSubmit: (c: () => void) => void): void {
    const cells = OCC * OCC * OCC;
    const o = this.occ;
    const probes = profiler.computePass(encoder, 'occupancy');
    this.sampler.encodeProbes(probes, OCC, Math.imul(this.settings.seed + 7, 0x85ebca6b) + this.occUpdates++, o.positions);
    probes.end();
    this.field.encodeDensity(encoder, o.positions, o.outputs, cells);
    const uniform = this.uniform(0, false, 0, 0);
    const pass = profiler.computePass(encoder, 'occupancy');
    pass.setPipeline(this.occEmaPipeline);
    pass.setBindGroup(0, this.binds.get(this.occEmaPipeline, { 0: uniform, 1: o.outputs, 8: o.density }));
    pass.dispatchWorkgroups(...flatGroups(this.device, cells, 64));
    pass.setPipeline(this.occBitsPipeline);
    pass.setBindGroup(0, this.binds.get(this.occBitsPipeline, { 0: uniform, 7: o.bits, 8: o.density }));
    pass.dispatchWorkgroups(1);
    pass.end();
    if (o.busy) return;
    o.busy = true;
    encoder.copyBufferToBuffer(o.bits, 0, o.read, 0, cells / 8);
    afterSubmit(() => {
      o.read.mapAsync(GPUMapMode.READ).then(
        () => {
          this.occupancyCpu = new Uint32Array(o.read.getMappedRange().slice(0));
          o.read.unmap();
          o.busy = false;
        },
        () => (o.busy = false),
      );
    });
  }

  reset(): void {
    this.field.reset(this.settings.seed);
    this.stats.reset();
    this.psnr = null;
    this.occupancyCpu = null;
    this.occUpdates = 0;
    this.device.queue.writeBuffer(this.occ.bits, 0, new Uint32Array((OCC * OCC * OCC) / 32).fill(0xffffffff));
    this.device.queue.writeBuffer(this.occ.density, 0, new Float32Array(OCC * OCC * OCC));
    this.renderer.restart();
  }

  destroy(): void {
    this.field.destroy();
    this.renderer.destroy();
    this.stats.destroy();
    this.heldReadback.destroy();
    this.sampler.destroy();
    this.uniforms.destroy();
    this.binds.clear();
    for (const b of [this.batch.positions, this.batch.deltas, this.batch.directions, this.batch.targets, this.rayLoss]) b.destroy();
    for (const b of [this.held.positions, this.held.directions, this.held.deltas, this.held.targets, this.held.outputs, this.held.stats]) b.destroy();
    for (const b of [this.occ.positions, this.occ.outputs, this.occ.density, this.occ.bits, this.occ.read]) b.destroy();
  }
}

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
 * cells above min(0.01, mean). Training samples skip empty cells (of 2S evenly spaced candidates
 * along a ray only those in occupied cells are kept, at most S); the renderer skips them too and
 * stops a ray once its transmittance is below 1e-3 (early termination). PSNR is measured on a
 * fixed set of rays of the held-out views, sampled like training rays (occupied cells only).
 *
 * Differences from instant-ngp: L2 rather than Huber loss; sample placement on the CPU from a
 * non-stalling copy of the bitfield rather than a GPU ray-marching compaction kernel; all cells
 * are refreshed on each update (instant-ngp samples a subset after warm-up).
 */
import nerfWgsl from '../../../shaders/ngp_app_nerf.wgsl?raw';
import type { FileKind } from '../../formats/sniff.ts';
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { computePipeline, workgroups } from '../../gpu/shader.ts';
import { perLevelScaleFor } from '../../nn/ngp/config.ts';
import { seededRandom } from '../../nn/random.ts';
import { flatGroups, storageBuffer } from '../../nn/ngp/gpu-util.ts';
import { NerfNetwork, NERF_DENSITY_OUTPUTS } from '../../nn/ngp/nerf-network.ts';
import { LossReadback } from '../../nn/ngp/loss.ts';
import { psnrFromMse } from '../../nn/ngp/model.ts';
import type { CameraPose } from '../../ui/orbit-controls.ts';
import { defaultLog2T, cameraBlock, intParam, normalize, orbitPose, renderSize, TrainingStats, type AppFrame, type AppSettings, type NgpApp, type Vec3 } from './common.ts';
import { MAX_STEPS_PER_FRAME } from './gia.ts';
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

interface View {
  camera: Float32Array;
  rgb: Float32Array;
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

function boxHit(o: Vec3, d: Vec3): [number, number] {
  let near = 0;
  let far = Infinity;
  for (let k = 0; k < 3; k++) {
    const a = (-0.5 - o[k]) / d[k];
    const b = (0.5 - o[k]) / d[k];
    near = Math.max(near, Math.min(a, b));
    far = Math.min(far, Math.max(a, b));
  }
  return [near, far];
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
  private readonly stats: TrainingStats;
  private readonly heldReadback: LossReadback;
  private readonly lossPipeline: GPUComputePipeline;
  private readonly finishPipeline: GPUComputePipeline;
  private readonly occEmaPipeline: GPUComputePipeline;
  private readonly occBitsPipeline: GPUComputePipeline;
  private readonly uniforms: GPUBuffer[] = [];
  private readonly batchPositions: GPUBuffer[] = [];
  private readonly batchDeltas: GPUBuffer[] = [];
  private readonly batchDirections: GPUBuffer[] = [];
  private readonly batchTargets: GPUBuffer[] = [];
  private readonly rayLoss: GPUBuffer;
  private readonly held: { positions: GPUBuffer; directions: GPUBuffer; deltas: GPUBuffer; targets: GPUBuffer; outputs: GPUBuffer; stats: GPUBuffer; rays: number };
  /** Held-out pixels (view, x, y), fixed; their samples follow the occupancy grid like training's. */
  private readonly heldPixels: [number, number, number][] = [];
  /** The occupancy copy changed since the held-out samples were placed. */
  private heldStale = false;
  private readonly occ: { positions: GPUBuffer; outputs: GPUBuffer; density: GPUBuffer; bits: GPUBuffer; read: GPUBuffer; busy: boolean };
  private occRandom: () => number;
  private occupancyCpu: Uint32Array | null = null;
  private readonly views: View[] = [];
  private readonly res: number;
  private readonly samples: number;
  private readonly rays: number;
  private readonly maxRays: number;
  private readonly occEvery: number;
  private random: () => number;
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
    // The dataset: known poses on a sphere (Fibonacci spiral), rendered here.
    const scene = syntheticScene(settings.seed);
    const total = trainViews + HELD_OUT;
    for (let v = 0; v < total; v++) {
      const y = 1 - ((v + 0.5) / total) * 1.6; // avoid the poles
      const yaw = v * 2.399963;
      const pose = orbitPose(yaw, Math.asin(Math.max(-0.95, Math.min(0.95, y))) * 0.8, 1.5, 45);
      const camera = cameraBlock(pose, this.res, this.res);
      const rgb = new Float32Array(this.res * this.res * 3);
      for (let py = 0; py < this.res; py++) {
        for (let px = 0; px < this.res; px++) {
          const { o, d } = rayOf(camera, this.res, px, py);
          rgb.set(traceScene(scene, o, d), (py * this.res + px) * 3);
        }
      }
      this.views.push({ camera, rgb });
    }
    this.note = `Built-in synthetic scene (spheres and a box, rendered by the suite): ${trainViews} training + ${HELD_OUT} held-out views at ${this.res}x${this.res}, known poses`;

    const pipe = (entry: string) => computePipeline(device, 'ngp nerf', nerfWgsl, entry);
    this.lossPipeline = pipe('loss');
    this.finishPipeline = pipe('finish');
    this.occEmaPipeline = pipe('occupancy_ema');
    this.occBitsPipeline = pipe('occupancy_bits');
    const rows = this.rays * this.samples;
    for (let i = 0; i < MAX_STEPS_PER_FRAME; i++) {
      this.batchPositions.push(storageBuffer(device, 'nerf batch positions', rows * 12));
      this.batchDeltas.push(storageBuffer(device, 'nerf batch deltas', rows * 4));
      this.batchDirections.push(storageBuffer(device, 'nerf batch directions', rows * 12));
      this.batchTargets.push(storageBuffer(device, 'nerf batch targets', this.rays * 12));
    }
    for (let i = 0; i < MAX_STEPS_PER_FRAME + 2; i++) this.uniforms.push(device.createBuffer({ label: 'nerf params', size: 48, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }));
    // Held-out rays: a fixed seeded subset of the held-out views' pixels.
    // 512 rays whatever the batch: fewer make a noisy PSNR (inference only, every 8th step).
    const heldRays = 512;
    const heldRandom = seededRandom(settings.seed + 99);
    for (let r = 0; r < heldRays; r++) this.heldPixels.push([trainViews + (r % HELD_OUT), Math.floor(heldRandom() * this.res), Math.floor(heldRandom() * this.res)]);
    this.rayLoss = storageBuffer(device, 'nerf ray losses', Math.max(this.rays, heldRays) * 4);
    this.held = {
      rays: heldRays,
      positions: storageBuffer(device, 'nerf held-out positions', heldRays * this.samples * 12),
      directions: storageBuffer(device, 'nerf held-out directions', heldRays * this.samples * 12),
      deltas: storageBuffer(device, 'nerf held-out deltas', heldRays * this.samples * 4),
      targets: storageBuffer(device, 'nerf held-out targets', heldRays * 12),
      outputs: storageBuffer(device, 'nerf held-out outputs', heldRays * this.samples * 16),
      stats: storageBuffer(device, 'nerf held-out stats', 16),
    };
    this.placeHeldSamples();
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
    this.renderer = new VolumeRenderer(device, intParam(params, 'renderSamples', 64, 4, 512));
    this.renderer.occupancy = this.occ.bits;
    this.stats = new TrainingStats(device);
    this.heldReadback = new LossReadback(device);
    this.random = seededRandom(settings.seed);
    this.occRandom = seededRandom(settings.seed + 7);
  }

  get step(): number {
    return this.field.step;
  }
  get loss(): number | null {
    return this.stats.loss;
  }
  get firstLoss(): number | null {
    return this.stats.firstLoss;
  }
  get curve() {
    return this.stats.curve;
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

  private occupied(x: number, y: number, z: number): boolean {
    const bits = this.occupancyCpu;
    if (!bits) return true;
    const cx = Math.min(OCC - 1, Math.max(0, Math.floor(x * OCC)));
    const cy = Math.min(OCC - 1, Math.max(0, Math.floor(y * OCC)));
    const cz = Math.min(OCC - 1, Math.max(0, Math.floor(z * OCC)));
    const cell = (cz * OCC + cy) * OCC + cx;
    return (bits[cell >>> 5] & (1 << (cell & 31))) !== 0;
  }

  /**
   * Samples of ray (px, py) of a view into row `r`: with `occupancy`, of 2S evenly spaced,
   * jittered candidates the ones in occupied cells (at most S; unused samples get delta 0);
   * without, S uniform midpoints.
   */
  private fillRay(view: View, px: number, py: number, r: number, pos: Float32Array, dirs: Float32Array, deltas: Float32Array, targets: Float32Array, random: (() => number) | null, occupancy: boolean): void {
    const S = this.samples;
    const { o, d } = rayOf(view.camera, this.res, px, py);
    const [near, far] = boxHit(o, d);
    targets.set(view.rgb.subarray((py * this.res + px) * 3, (py * this.res + px) * 3 + 3), r * 3);
    const base = r * S;
    for (let k = 0; k < S; k++) dirs.set([d[0] * 0.5 + 0.5, d[1] * 0.5 + 0.5, d[2] * 0.5 + 0.5], (base + k) * 3);
    let j = 0;
    if (far > near) {
      const candidates = occupancy ? 2 * S : S;
      const dt = (far - near) / candidates;
      const jitter = random ? random() : 0.5;
      for (let k = 0; k < candidates && j < S; k++) {
        const t = near + (k + jitter) * dt;
        const x = o[0] + t * d[0] + 0.5;
        const y = o[1] + t * d[1] + 0.5;
        const z = o[2] + t * d[2] + 0.5;
        if (occupancy && !this.occupied(x, y, z)) continue;
        pos[(base + j) * 3] = Math.min(1, Math.max(0, x));
        pos[(base + j) * 3 + 1] = Math.min(1, Math.max(0, y));
        pos[(base + j) * 3 + 2] = Math.min(1, Math.max(0, z));
        deltas[base + j] = dt;
        j++;
      }
    }
    for (; j < S; j++) {
      pos.fill(0.5, (base + j) * 3, (base + j) * 3 + 3);
      deltas[base + j] = 0;
    }
  }

  /**
   * Samples of the held-out rays, placed as training places them (occupied cells of 2S
   * candidates, no jitter) and as the renderer marches: samples in cells the grid calls empty
   * are never trained, so evaluating them would measure untrained density.
   */
  private placeHeldSamples(): void {
    const S = this.samples;
    const n = this.heldPixels.length;
    const pos = new Float32Array(n * S * 3);
    const dirs = new Float32Array(n * S * 3);
    const deltas = new Float32Array(n * S);
    const targets = new Float32Array(n * 3);
    this.heldPixels.forEach(([v, px, py], r) => this.fillRay(this.views[v], px, py, r, pos, dirs, deltas, targets, null, true));
    const q = this.device.queue;
    q.writeBuffer(this.held.positions, 0, pos);
    q.writeBuffer(this.held.directions, 0, dirs);
    q.writeBuffer(this.held.deltas, 0, deltas);
    q.writeBuffer(this.held.targets, 0, targets);
    this.heldStale = false;
  }

  private uniform(i: number, rays: number, writeGrad: boolean, gradScale: number, invCount: number): GPUBuffer {
    const data = new ArrayBuffer(48);
    new Uint32Array(data, 0, 4).set([rays, this.samples, writeGrad ? 1 : 0, OCC]);
    new Float32Array(data, 16, 8).set([gradScale, invCount, MIN_OPTICAL_THICKNESS, OCC_DECAY, ...BACKGROUND, 1]);
    this.device.queue.writeBuffer(this.uniforms[i], 0, data);
    return this.uniforms[i];
  }

  private group(pipeline: GPUComputePipeline, entries: [number, GPUBuffer][]): GPUBindGroup {
    return this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: entries.map(([binding, buffer]) => ({ binding, resource: { buffer } })) });
  }

  private encodeLoss(encoder: GPUCommandEncoder, profiler: GpuProfiler, uniform: GPUBuffer, raw: GPUBuffer, deltas: GPUBuffer, targets: GPUBuffer, stats: GPUBuffer, rays: number): void {
    const pass = profiler.computePass(encoder, 'loss+adam');
    pass.setPipeline(this.lossPipeline);
    pass.setBindGroup(0, this.group(this.lossPipeline, [[0, uniform], [1, raw], [2, deltas], [3, targets], [4, this.field.dOutputs], [5, this.rayLoss]]));
    pass.dispatchWorkgroups(workgroups(rays, 64, this.device));
    pass.setPipeline(this.finishPipeline);
    pass.setBindGroup(0, this.group(this.finishPipeline, [[0, uniform], [5, this.rayLoss], [6, stats]]));
    pass.dispatchWorkgroups(1);
    pass.end();
  }

  encode(frame: AppFrame): void {
    const { encoder, profiler } = frame;
    const steps = Math.min(frame.steps, MAX_STEPS_PER_FRAME);
    const S = this.samples;
    const trainViews = this.views.length - HELD_OUT;
    let occupancyDue = false;
    for (let i = 0; i < steps; i++) {
      const pos = new Float32Array(this.rays * S * 3);
      const deltas = new Float32Array(this.rays * S);
      const dirs = new Float32Array(this.rays * S * 3);
      const targets = new Float32Array(this.rays * 3);
      for (let r = 0; r < this.rays; r++) {
        const view = this.views[Math.floor(this.random() * trainViews)];
        this.fillRay(view, Math.floor(this.random() * this.res), Math.floor(this.random() * this.res), r, pos, dirs, deltas, targets, this.random, true);
      }
      this.device.queue.writeBuffer(this.batchPositions[i], 0, pos);
      this.device.queue.writeBuffer(this.batchDeltas[i], 0, deltas);
      this.device.queue.writeBuffer(this.batchDirections[i], 0, dirs);
      this.device.queue.writeBuffer(this.batchTargets[i], 0, targets);
      const n = this.rays * S;
      const scale = this.rays * 3;
      this.field.encodeTrainForward(encoder, this.batchPositions[i], this.batchDirections[i], n);
      this.encodeLoss(encoder, profiler, this.uniform(i, this.rays, true, scale / (this.rays * 3), 1 / (this.rays * 3)), this.field.predictions, this.batchDeltas[i], this.batchTargets[i], this.field.lossStats, this.rays);
      this.field.encodeBackward(encoder, this.batchPositions[i], n, scale);
      if (this.field.step % this.occEvery === 0 && this.field.step >= 2 * this.occEvery) occupancyDue = true;
    }
    this.stats.encode(encoder, this.field.lossStats, this.field.step, frame.afterSubmit, null);
    // Held-out PSNR every few steps (fixed rays, inference only).
    if (steps > 0 && (this.field.step % 8 === 0 || this.psnr === null)) {
      if (this.heldStale) this.placeHeldSamples();
      const h = this.held;
      this.field.encodeForward(encoder, h.positions, h.outputs, h.rays * S, h.directions);
      this.encodeLoss(encoder, profiler, this.uniform(MAX_STEPS_PER_FRAME, h.rays, false, 0, 1 / (h.rays * 3)), h.outputs, h.deltas, h.targets, h.stats, h.rays);
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
   * Occupancy update: density at a random point of every cell -> EMA -> bitfield; the CPU copy
   * of the bits (training sample placement) follows without stalling.
   */
  private encodeOccupancy(encoder: GPUCommandEncoder, profiler: GpuProfiler, afterSubmit: (c: () => void) => void): void {
    const cells = OCC * OCC * OCC;
    const o = this.occ;
    const points = new Float32Array(cells * 3);
    for (let i = 0; i < cells; i++) {
      points[i * 3] = ((i % OCC) + this.occRandom()) / OCC;
      points[i * 3 + 1] = ((Math.floor(i / OCC) % OCC) + this.occRandom()) / OCC;
      points[i * 3 + 2] = (Math.floor(i / (OCC * OCC)) + this.occRandom()) / OCC;
    }
    this.device.queue.writeBuffer(o.positions, 0, points);
    this.field.encodeDensity(encoder, o.positions, o.outputs, cells);
    const uniform = this.uniform(MAX_STEPS_PER_FRAME + 1, 0, false, 0, 0);
    const pass = profiler.computePass(encoder, 'occupancy');
    pass.setPipeline(this.occEmaPipeline);
    pass.setBindGroup(0, this.group(this.occEmaPipeline, [[0, uniform], [1, o.outputs], [8, o.density]]));
    pass.dispatchWorkgroups(...flatGroups(this.device, cells, 64));
    pass.setPipeline(this.occBitsPipeline);
    pass.setBindGroup(0, this.group(this.occBitsPipeline, [[0, uniform], [7, o.bits], [8, o.density]]));
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
          this.heldStale = true;
          o.busy = false;
        },
        () => (o.busy = false),
      );
    });
  }

  reset(): void {
    this.field.reset(this.settings.seed);
    this.random = seededRandom(this.settings.seed);
    this.stats.reset();
    this.psnr = null;
    this.occupancyCpu = null;
    this.placeHeldSamples();
    this.occRandom = seededRandom(this.settings.seed + 7);
    this.device.queue.writeBuffer(this.occ.bits, 0, new Uint32Array((OCC * OCC * OCC) / 32).fill(0xffffffff));
    this.device.queue.writeBuffer(this.occ.density, 0, new Float32Array(OCC * OCC * OCC));
    this.renderer.restart();
  }

  destroy(): void {
    this.field.destroy();
    this.renderer.destroy();
    this.stats.destroy();
    this.heldReadback.destroy();
    for (const b of [...this.batchPositions, ...this.batchDeltas, ...this.batchDirections, ...this.batchTargets, ...this.uniforms, this.rayLoss]) b.destroy();
    for (const b of [this.held.positions, this.held.directions, this.held.deltas, this.held.targets, this.held.outputs, this.held.stats]) b.destroy();
    for (const b of [this.occ.positions, this.occ.outputs, this.occ.density, this.occ.bits, this.occ.read]) b.destroy();
  }
}

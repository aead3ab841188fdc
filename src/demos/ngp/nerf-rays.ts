/**
 * NeRF ray sampling on the GPU (shaders/ngp_nerf_rays.wgsl): training and held-out rays with
 * their samples placed in the occupancy grid's occupied cells, and the occupancy update's probe
 * points, all from a counter-based hash so nothing proportional to the batch runs on the CPU.
 * `sampleRaysReference` is the same computation in f64 for tests.
 */
import boxCameraWgsl from '../../../shaders/lib/box_camera.wgsl?raw';
import hashWgsl from '../../../shaders/lib/hash.wgsl?raw';
import raysWgsl from '../../../shaders/ngp_nerf_rays.wgsl?raw';
import { computePipeline, wgsl } from '../../gpu/shader.ts';
import { pcg } from '../../nn/random.ts';
import { BindCache } from '../../gpu/bind-cache.ts';
import { flatGroups, storageBuffer, UniformArena } from '../../nn/ngp/gpu-util.ts';
import { boxHit, cameraRay } from './render-reference.ts';

const pick = (h: number, n: number) => ((h >>> 16) * n) >>> 16;
const unit = (h: number) => (h >>> 8) / 16777216;

/** The dataset as the sampler reads it: per view a camera block (cameraBlock: origin, right·tanX, up·tanY, forward) and rgba8 pixels. */
export interface RayDataset {
  res: number;
  trainViews: number;
  heldViews: number;
  /** 16 floats per view. */
  cameras: Float32Array<ArrayBuffer>;
  /** res·res rgba8 words per view (r in the low byte). */
  images: Uint32Array<ArrayBuffer>;
}

export interface RaySampling {
  rays: number;
  samples: number;
  seed: number;
  /** Held-out rays: view trainViews + ray % heldViews, candidates without jitter. */
  held: boolean;
  /** Occupancy grid resolution (cells^3 cells). */
  cells: number;
}

/** Where a batch of rays goes: 3 floats per sample (positions, directions), 1 (deltas), 3 per ray (targets). */
export interface RayBuffers {
  positions: GPUBuffer;
  directions: GPUBuffer;
  deltas: GPUBuffer;
  targets: GPUBuffer;
}

export class NerfRaySampler {
  private readonly cameras: GPUBuffer;
  private readonly images: GPUBuffer;
  private readonly raysPipeline: GPUComputePipeline;
  private readonly probesPipeline: GPUComputePipeline;
  /** One slot per distinct sampling of a submit (each training step has its own seed). */
  private readonly uniforms: UniformArena;
  private readonly binds: BindCache;

  constructor(
    private readonly device: GPUDevice,
    private readonly data: RayDataset,
    private readonly occupancy: GPUBuffer,
    /** Most distinct samplings (seeds) recorded into one submit. */
    samplingsPerSubmit = 32,
  ) {
    this.images = storageBuffer(device, 'nerf view images', data.images.byteLength);
    this.cameras = storageBuffer(device, 'nerf view cameras', data.cameras.byteLength);
    device.queue.writeBuffer(this.cameras, 0, data.cameras);
    device.queue.writeBuffer(this.images, 0, data.images);
    const code = wgsl(hashWgsl, boxCameraWgsl, raysWgsl);
    this.raysPipeline = computePipeline(device, 'nerf rays', code, 'rays');
    this.probesPipeline = computePipeline(device, 'nerf occupancy probes', code, 'probes');
    this.uniforms = new UniformArena(device, 'nerf rays', samplingsPerSubmit);
    this.binds = new BindCache(device);
  }

  private params(s: RaySampling, useOccupancy: boolean): GPUBufferBinding {
    const d = this.data;
    return this.uniforms.bind(new Uint32Array([s.rays, s.samples, d.res, d.trainViews, d.heldViews, s.held ? 1 : 0, s.seed >>> 0, s.cells, useOccupancy ? 1 : 0, 0, 0, 0]).buffer);
  }

  /** Records the rays and their samples into `out` (sized for s.rays · s.samples). */
  encodeRays(pass: GPUComputePassEncoder, s: RaySampling, out: RayBuffers, useOccupancy = true): void {
    pass.setPipeline(this.raysPipeline);
    pass.setBindGroup(0, this.binds.get(this.raysPipeline, { 0: this.params(s, useOccupancy), 1: this.cameras, 2: this.images, 3: this.occupancy, 4: out.positions, 5: out.directions, 6: out.deltas, 7: out.targets }));
    pass.dispatchWorkgroups(...flatGroups(this.device, s.rays, 64));
  }

  /** Records one hashed random point per occupancy cell (3 floats each) into `positions`. */
  encodeProbes(pass: GPUComputePassEncoder, cells: number, seed: number, positions: GPUBuffer): void {
    pass.setPipeline(this.probesPipeline);
    pass.setBindGroup(0, this.binds.get(this.probesPipeline, { 0: this.params({ rays: 0, samples: 0, seed, held: false, cells }, false), 4: positions }));
    pass.dispatchWorkgroups(...flatGroups(this.device, cells ** 3, 64));
  }

  destroy(): void {
    this.cameras.destroy();
    this.images.destroy();
    this.uniforms.destroy();
    this.binds.clear();
  }
}

export interface ReferenceRays {
  positions: Float64Array;
  directions: Float64Array;
  deltas: Float64Array;
  targets: Float64Array;
  /** Per ray: a candidate lies within `margin` cells of a cell face, so f32 may decide its occupancy otherwise. */
  borderline: boolean[];
}

/** CPU reference of the `rays` kernel (f64); `occupancy` null means every cell occupied. */
export function sampleRaysReference(data: RayDataset, s: RaySampling, occupancy: Uint32Array | null, margin = 1e-3): ReferenceRays {
  const { res } = data;
  const S = s.samples;
  const out: ReferenceRays = {
    positions: new Float64Array(s.rays * S * 3).fill(0.5),
    directions: new Float64Array(s.rays * S * 3),
    deltas: new Float64Array(s.rays * S),
    targets: new Float64Array(s.rays * 3),
    borderline: [],
  };
  const n = s.cells;
  const occupied = (p: number[]) => {
    if (!occupancy) return true;
    const c = p.map((v) => Math.min(n - 1, Math.max(0, Math.floor(v * n))));
    const cell = (c[2] * n + c[1]) * n + c[0];
    return (occupancy[cell >>> 5] & (1 << (cell & 31))) !== 0;
  };
  for (let ray = 0; ray < s.rays; ray++) {
    const h0 = pcg((ray + pcg(s.seed)) >>> 0);
    const h1 = pcg(h0);
    const h2 = pcg(h1);
    let view = pick(h0, data.trainViews);
    let jitter = unit(pcg(h2));
    if (s.held) {
      view = data.trainViews + (ray % data.heldViews);
      jitter = 0.5;
    }
    const px = pick(h1, res);
    const py = pick(h2, res);
    const rgba = data.images[(view * res + py) * res + px];
    for (let c = 0; c < 3; c++) out.targets[ray * 3 + c] = ((rgba >>> (8 * c)) & 255) / 255;
    const { o, d } = cameraRay(data.cameras.subarray(view * 16, view * 16 + 16), res, res, py * res + px);
    const [near, far] = boxHit(o, d);
    const base = ray * S;
    for (let k = 0; k < S; k++) for (let c = 0; c < 3; c++) out.directions[(base + k) * 3 + c] = d[c] * 0.5 + 0.5;
    let borderline = false;
    if (far > near) {
      const candidates = occupancy ? 2 * S : S;
      const dt = (far - near) / candidates;
      for (let k = 0, j = 0; k < candidates && j < S; k++) {
        const t = near + (k + jitter) * dt;
        const p = [0, 1, 2].map((c) => o[c] + t * d[c] + 0.5);
        if (occupancy && p.some((v) => Math.abs(v * n - Math.round(v * n)) < margin)) borderline = true;
        if (!occupied(p)) continue;
        for (let c = 0; c < 3; c++) out.positions[(base + j) * 3 + c] = Math.min(1, Math.max(0, p[c]));
        out.deltas[base + j] = dt;
        j++;
      }
    }
    out.borderline.push(borderline);
  }
  return out;
}

/** CPU reference of the `probes` kernel. */
export function probePointsReference(cells: number, seed: number): Float64Array {
  const out = new Float64Array(cells ** 3 * 3);
  for (let cell = 0; cell < cells ** 3; cell++) {
    const h0 = pcg((cell + pcg(seed)) >>> 0);
    const h1 = pcg(h0);
    const h2 = pcg(h1);
    const c = [cell % cells, Math.floor(cell / cells) % cells, Math.floor(cell / (cells * cells))];
    [h0, h1, h2].forEach((h, k) => (out[cell * 3 + k] = (c[k] + unit(h)) / cells));
  }
  return out;
}

/** rgba8 word of a colour in [0, 1] (r in the low byte, alpha 255). */
export function packRgba8(r: number, g: number, b: number): number {
  const q = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);
  return (q(r) | (q(g) << 8) | (q(b) << 16) | (255 << 24)) >>> 0;
}

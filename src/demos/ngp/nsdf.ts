/**
 * NSDF (neural signed distance function, instant-ngp's SDF app): a 3D hash grid + MLP fitted to
 * the signed distance of a shape with L2 on points near the surface and uniform in the box,
 * rendered by sphere tracing the learned field (shaders/ngp_app_sdf.wgsl) with normals from
 * the field's finite differences; the camera orbits.
 *
 * Default content: the Stanford bunny (npm `bunny`: 1839 vertices, 3674 triangles; the npm
 * package is marked public domain, the scan is from the Stanford 3D Scanning Repository),
 * normalised into the unit cube. Its sample pool is computed in the background (chunks that
 * yield to the page) while the first frames render; training starts when it is ready.
 * `?shape=procedural` uses a procedural shape made here instead (analytic SDF, no start-up
 * cost). A dropped .obj or binary .ply mesh is normalised into the box and sampled once: a
 * fixed pool of points (half near the surface, half uniform) gets exact signed distances on the
 * CPU (closest triangle; sign by winding number), with the pool shrunk for big meshes so that
 * takes bounded time.
 */
import { parseObj, type TriangleMesh } from '../../formats/obj.ts';
import { findProperty, readPly, readPlyColumns, readPlyList, requireElement, requireProperties } from '../../formats/ply.ts';
import type { FileKind } from '../../formats/sniff.ts';
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { perLevelScaleFor } from '../../nn/ngp/config.ts';
import { seededRandom } from '../../nn/random.ts';
import { storageBuffer } from '../../nn/ngp/gpu-util.ts';
import { NgpModel } from '../../nn/ngp/model.ts';
import type { CameraPose } from '../../ui/orbit-controls.ts';
import { defaultLog2T, intParam, orbitPose, renderSize, TrainingStats, type AppFrame, type AppSettings, type NgpApp } from './common.ts';
import { MAX_STEPS_PER_FRAME } from './gia.ts';
import { builtinShapeSdf, meshSdf, normalizeMesh, triangleSoup } from './sdf-geometry.ts';
import { SphereTracer } from './sphere-tracer.ts';

/** Most point-triangle pairs the CPU SDF of a dropped mesh may evaluate (bounds its time). */
const MESH_SDF_BUDGET = 1.5e8;
/** The same for the built-in bunny, computed at start-up: ~8k points. */
const BUNNY_SDF_BUDGET = 3e7;
const BUNNY_NOTE = 'Stanford bunny (Stanford 3D Scanning Repository; npm "bunny", public domain)';

/** The Stanford bunny from npm `bunny` as a TriangleMesh (loaded on demand: ~110 KB). */
export async function loadBunny(): Promise<TriangleMesh> {
  const mod = await import('bunny');
  const data = mod.positions ? mod : mod.default;
  const positions = new Float32Array(data.positions.length * 3);
  data.positions.forEach((p, i) => positions.set(p, i * 3));
  const indices = new Uint32Array(data.cells.length * 3);
  data.cells.forEach((c, i) => indices.set(c, i * 3));
  return { positions, indices };
}

/** A mesh from an OBJ or a binary PLY (vertex x/y/z + face vertex_indices). */
export function meshFromPly(bytes: Uint8Array, name: string): TriangleMesh {
  try {
    return readPlyMesh(bytes, name);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(message.startsWith(`${name}: `) ? message : `${name}: ${message}`);
  }
}

function readPlyMesh(bytes: Uint8Array, name: string): TriangleMesh {
  const ply = readPly(bytes);
  const vertex = requireElement(ply, 'vertex');
  requireProperties(vertex, ['x', 'y', 'z'], 'mesh vertices');
  const face = ply.elements.find((e) => e.name === 'face');
  if (!face || face.count === 0) throw new Error(`${name}: the PLY has ${vertex.count} vertices but no faces; a surface mesh is needed (a point cloud or Gaussian scene cannot be fitted as an SDF)`);
  const listName = findProperty(face, 'vertex_indices') ? 'vertex_indices' : findProperty(face, 'vertex_index') ? 'vertex_index' : null;
  if (!listName) throw new Error(`${name}: the PLY face element has no vertex_indices list`);
  const positions = new Float32Array(vertex.count * 3);
  readPlyColumns(ply, vertex, ['x', 'y', 'z'].map((property, offset) => ({ property, out: positions, stride: 3, offset })));
  const { offsets, values } = readPlyList(ply, face, listName);
  const tris: number[] = [];
  for (let f = 0; f < face.count; f++) {
    const a = offsets[f];
    const n = offsets[f + 1] - a;
    if (n < 3) throw new Error(`${name}: face ${f} has ${n} vertices (at least 3 needed)`);
    for (let k = 0; k < n; k++) {
      const v = values[a + k];
      if (!Number.isInteger(v) || v < 0 || v >= vertex.count) throw new Error(`${name}: face ${f} refers to vertex ${v}, out of range (${vertex.count} vertices)`);
    }
    for (let k = 1; k + 1 < n; k++) tris.push(values[a], values[a + k], values[a + k + 1]);
  }
  if (tris.length === 0) throw new Error(`${name}: the mesh has no faces`);
  return { positions, indices: Uint32Array.from(tris) };
}

interface SamplePool {
  points: Float32Array;
  sdf: Float32Array;
}

export class NsdfApp implements NgpApp {
  readonly name = 'nsdf' as const;
  readonly accepts: readonly FileKind[] = ['obj', 'ply'];
  readonly camera = true;
  readonly curveLabel = 'log10 loss vs step';
  readonly psnr = null;
  note: string;
  private field: NgpModel;
  readonly stats: TrainingStats;
  private readonly inputs: GPUBuffer[] = [];
  private readonly targets: GPUBuffer[] = [];
  private readonly tracer: SphereTracer;
  private pool: SamplePool | null = null;
  /** The built-in bunny's pool while it is being computed (training waits for it). */
  private pending: AbortController | null = null;
  private random: () => number;
  private readonly batch: number;
  private readonly maxRays: number;

  constructor(
    private readonly device: GPUDevice,
    private readonly settings: AppSettings,
    private readonly profiler: () => GpuProfiler | null,
  ) {
    this.batch = settings.batch;
    this.field = this.makeField();
    for (let i = 0; i < MAX_STEPS_PER_FRAME; i++) {
      this.inputs.push(storageBuffer(device, 'nsdf batch positions', this.batch * 12));
      this.targets.push(storageBuffer(device, 'nsdf batch targets', this.batch * 4));
    }
    this.stats = new TrainingStats(device);
    this.maxRays = intParam(settings.params, 'rays', settings.cpu ? 48 * 48 : 128 * 128, 64, 1 << 20);
    this.tracer = new SphereTracer(device, intParam(settings.params, 'marchSteps', 48, 2, 1000));
    this.tracer.setCamera(this.defaultPose());
    this.random = seededRandom(settings.seed);
    if (settings.params.get('shape') === 'procedural') {
      this.note = 'Built-in procedural shape (smooth union of a torus, spheres and a box; analytic SDF)';
    } else {
      this.note = `${BUNNY_NOTE}: computing its signed distances…`;
      const pending = (this.pending = new AbortController());
      loadBunny()
        .then((mesh) => this.usePool(mesh, BUNNY_NOTE, pending.signal, () => {}, BUNNY_SDF_BUDGET))
        .catch((e: Error) => {
          if (pending.signal.aborted) return;
          this.note = `The Stanford bunny could not be loaded (${e.message}); fitting the procedural shape instead`;
        })
        .finally(() => {
          if (this.pending === pending) this.pending = null;
        });
    }
  }

  private makeField(): NgpModel {
    return new NgpModel(this.device, {
      grid: { dims: 3, levels: 16, featuresPerLevel: 2, log2HashmapSize: defaultLog2T(this.settings), baseResolution: 16, perLevelScale: perLevelScaleFor(512, 16, 16) },
      mlp: { width: 64, hiddenLayers: 2, outputDims: 1, outputActivation: 'none' },
      maxBatch: this.batch,
      seed: this.settings.seed,
      fused: this.settings.fused,
      profiler: this.profiler() ?? undefined,
    });
  }

  get step(): number {
    return this.field.step;
  }

  defaultPose(): CameraPose {
    return orbitPose(0.5, 0.35, 1.5);
  }

  setCamera(pose: CameraPose): void {
    this.tracer.setCamera(pose);
  }

  extraStats(): Record<string, unknown> {
    return {
      stepsPerSecond: Number(this.stats.stepsPerSecond.toFixed(2)),
      batch: this.batch,
      samplePool: this.pool ? this.pool.sdf.length : 'analytic',
      render: this.tracer.width ? `${this.tracer.width}x${this.tracer.height}` : '',
      params: this.field.paramCount,
    };
  }

  /** Training batch: from the mesh's sample pool, or fresh samples of the analytic shape. */
  private fillBatch(i: number): void {
    const n = this.batch;
    const r = this.random;
    const pos = new Float32Array(n * 3);
    const tgt = new Float32Array(n);
    const pool = this.pool;
    for (let k = 0; k < n; k++) {
      if (pool) {
        const j = Math.floor(r() * pool.sdf.length);
        pos.set(pool.points.subarray(j * 3, j * 3 + 3), k * 3);
        tgt[k] = pool.sdf[j];
        continue;
      }
      let x = r() - 0.5;
      let y = r() - 0.5;
      let z = r() - 0.5;
      if (k % 2 === 0) {
        // near the surface: project onto it along the gradient, then jitter
        for (let it = 0; it < 3; it++) {
          const d = builtinShapeSdf(x, y, z);
          const e = 1e-3;
          const gx = builtinShapeSdf(x + e, y, z) - d;
          const gy = builtinShapeSdf(x, y + e, z) - d;
          const gz = builtinShapeSdf(x, y, z + e) - d;
          const g = Math.hypot(gx, gy, gz) / e || 1;
          x -= (d * gx) / e / g / g;
          y -= (d * gy) / e / g / g;
          z -= (d * gz) / e / g / g;
        }
        const sigma = k % 4 === 0 ? 0.005 : 0.03;
        x += gauss(r) * sigma;
        y += gauss(r) * sigma;
        z += gauss(r) * sigma;
        x = Math.min(0.5, Math.max(-0.5, x));
        y = Math.min(0.5, Math.max(-0.5, y));
        z = Math.min(0.5, Math.max(-0.5, z));
      }
      pos[k * 3] = x + 0.5;
      pos[k * 3 + 1] = y + 0.5;
      pos[k * 3 + 2] = z + 0.5;
      tgt[k] = builtinShapeSdf(x, y, z);
    }
    this.device.queue.writeBuffer(this.inputs[i], 0, pos);
    this.device.queue.writeBuffer(this.targets[i], 0, tgt);
  }

  encode(frame: AppFrame): void {
    const { encoder, profiler, output } = frame;
    // No training while the bunny's pool is being computed (the untrained field still renders).
    const steps = this.pending ? 0 : Math.min(frame.steps, MAX_STEPS_PER_FRAME);
    for (let i = 0; i < steps; i++) {
      this.fillBatch(i);
      this.field.encodeTrainStep(encoder, this.inputs[i], this.targets[i], this.batch, 'l2');
    }
    this.stats.encode(encoder, this.field.loss.stats, this.field.step, frame.afterSubmit, (loss) => Math.log10(Math.max(loss, 1e-12)));
    // Sphere tracing: the first trace runs whole (an image at once), later ones a few iterations per frame.
    const iterations = this.tracer.traced ? Math.max(4, 4 * Math.max(1, frame.steps)) : this.tracer.marchSteps;
    this.tracer.encode(encoder, output, this.field, renderSize(output, this.maxRays), iterations, profiler);
  }

  async load(blob: Blob, kind: FileKind, name: string, signal: AbortSignal, progress: (f: number | null, label: string) => void): Promise<void> {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    const mesh = kind === 'obj' ? parseObj(bytes, name) : meshFromPly(bytes, name);
    // A dropped mesh replaces the bunny, also while the bunny's pool is still being computed.
    this.pending?.abort();
    this.pending = null;
    await this.usePool(mesh, name, signal, progress, MESH_SDF_BUDGET);
  }

  /** Normalises `mesh` into the box, computes its sample pool and restarts training on it. */
  private async usePool(input: TriangleMesh, name: string, signal: AbortSignal, progress: (f: number | null, label: string) => void, budget: number): Promise<void> {
    const mesh = normalizeMesh(input);
    const soup = triangleSoup(mesh);
    const triangles = soup.length / 9;
    const count = Math.max(2048, Math.min(1 << 15, Math.floor(budget / triangles)));
    // Sample pool: half on the surface (area-weighted) plus noise, half uniform.
    const random = seededRandom(this.settings.seed + 5);
    const areas = new Float64Array(triangles + 1);
    for (let t = 0; t < triangles; t++) {
      const o = t * 9;
      const ux = soup[o + 3] - soup[o], uy = soup[o + 4] - soup[o + 1], uz = soup[o + 5] - soup[o + 2];
      const vx = soup[o + 6] - soup[o], vy = soup[o + 7] - soup[o + 1], vz = soup[o + 8] - soup[o + 2];
      areas[t + 1] = areas[t] + 0.5 * Math.hypot(uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx);
    }
    if (!(areas[triangles] > 0)) throw new Error(`${name}: every face of the mesh has zero area`);
    const points = new Float32Array(count * 3);
    for (let i = 0; i < count; i++) {
      let x: number, y: number, z: number;
      if (i % 2 === 0) {
        const target = random() * areas[triangles];
        let lo = 0;
        let hi = triangles - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (areas[mid + 1] < target) lo = mid + 1;
          else hi = mid;
        }
        let a = random();
        let b = random();
        if (a + b > 1) (a = 1 - a), (b = 1 - b);
        const o = lo * 9;
        const sigma = i % 4 === 0 ? 0.005 : 0.03;
        x = soup[o] + a * (soup[o + 3] - soup[o]) + b * (soup[o + 6] - soup[o]) + gauss(random) * sigma;
        y = soup[o + 1] + a * (soup[o + 4] - soup[o + 1]) + b * (soup[o + 7] - soup[o + 1]) + gauss(random) * sigma;
        z = soup[o + 2] + a * (soup[o + 5] - soup[o + 2]) + b * (soup[o + 8] - soup[o + 2]) + gauss(random) * sigma;
      } else {
        x = random() - 0.5;
        y = random() - 0.5;
        z = random() - 0.5;
      }
      points[i * 3] = Math.min(0.5, Math.max(-0.5, x));
      points[i * 3 + 1] = Math.min(0.5, Math.max(-0.5, y));
      points[i * 3 + 2] = Math.min(0.5, Math.max(-0.5, z));
    }
    let last = performance.now();
    const sdf = await meshSdf(soup, points, async (done) => {
      if (signal.aborted) throw new DOMException('mesh loading was cancelled', 'AbortError');
      if (performance.now() - last > 30) {
        progress(done / count, `Exact SDF of ${name}: ${done} / ${count} points x ${triangles} triangles`);
        await new Promise((r) => setTimeout(r, 0));
        last = performance.now();
      }
    });
    if (signal.aborted) throw new DOMException('mesh loading was cancelled', 'AbortError');
    for (let i = 0; i < points.length; i++) points[i] += 0.5;
    this.pool = { points, sdf };
    this.field.reset(this.settings.seed);
    this.random = seededRandom(this.settings.seed);
    this.stats.reset();
    this.tracer.restart();
    this.note = `${name}: ${mesh.positions.length / 3} vertices, ${triangles} triangles; ${count} training points with exact signed distances`;
  }

  reset(): void {
    this.field.reset(this.settings.seed);
    this.random = seededRandom(this.settings.seed);
    this.stats.reset();
    this.tracer.restart();
  }

  destroy(): void {
    this.pending?.abort();
    this.pending = null;
    this.field.destroy();
    this.stats.destroy();
    this.tracer.destroy();
    for (const b of [...this.inputs, ...this.targets]) b.destroy();
  }
}

function gauss(random: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(1e-12, random()))) * Math.cos(2 * Math.PI * random());
}

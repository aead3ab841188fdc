/**
 * Multiresolution hash/dense grid encoding on the GPU with tiny-cuda-nn `GridEncoding`
 * semantics (layouts and the level table: config.ts; kernels: shaders/ngp_grid.wgsl).
 *
 * - `params`: f32 table, `(level.offset + index) * F + f`; initialised U(-1e-4, 1e-4) as tcnn.
 * - `encodeForward`: positions f32 [N][D] in [0,1]^D -> features f32 [N][outputStride].
 * - `encodeBackward`: dL/dfeatures [N][outputStride] -> `grads`, accumulated (+=) as
 *   fixed-point i32: value = grads[i] / fixedPointScale. Deterministic (integer atomics);
 *   each contribution is rounded to 1 / fixedPointScale and clamped to +-2^24 units, and a
 *   parameter's summed gradient must stay below 2^31 / fixedPointScale in magnitude. Clear
 *   `grads` with `encodeClearGrads`, or let the Adam kernel zero them as it consumes them.
 *   Position gradients are not computed.
 */
import gridWgsl from '../../../shaders/ngp_grid.wgsl?raw';
import { computePipeline, wgsl } from '../../gpu/shader.ts';
import { gridLayout, initGridParams, MAX_GRID_LEVELS, type GridConfig, type GridLayout } from './config.ts';
import { BindCache } from '../../gpu/bind-cache.ts';
import { flatGroups, inPass, maxStorageBytes, storageBuffer, UniformArena, type BufferLike, type EncodeTarget } from './gpu-util.ts';

export interface GridEncodingOptions {
  /** Fixed-point units per 1.0 of gradient (default 2^16). */
  fixedPointScale?: number;
  /** Seed of the U(-1e-4, 1e-4) initialisation. */
  seed?: number;
  /** Invocations per workgroup (default 64). */
  workgroupSize?: number;
}

/** WGSL prelude for D and F: the structural constants ngp_grid.wgsl expects. */
export function gridPrelude(dims: number, features: number): string {
  const featT = features === 1 ? 'f32' : features === 2 ? 'vec2<f32>' : 'vec4<f32>';
  const fw = Math.min(features, 4);
  return [
    `const D: u32 = ${dims}u;`,
    `const F: u32 = ${features}u;`,
    `alias FeatT = ${featT};`,
    `const FV: u32 = ${features / fw}u;`,
    `const FW: u32 = ${fw}u;`,
    features === 1 ? 'fn featComp(v: FeatT, i: u32) -> f32 { return v; }' : 'fn featComp(v: FeatT, i: u32) -> f32 { return v[i]; }',
  ].join('\n');
}

export class GridEncoding {
  readonly config: GridConfig;
  readonly layout: GridLayout;
  /** f32 parameters. */
  readonly params: GPUBuffer;
  /** i32 fixed-point gradient accumulators, same indexing as `params`. */
  readonly grads: GPUBuffer;
  readonly fixedPointScale: number;
  readonly workgroupSize: number;
  private readonly forwardPipeline: GPUComputePipeline;
  private readonly backwardPipeline: GPUComputePipeline;
  private readonly uniforms: UniformArena;
  private readonly levelTable: GPUBuffer;
  private readonly binds: BindCache;

  constructor(
    private readonly device: GPUDevice,
    config: GridConfig,
    options: GridEncodingOptions = {},
  ) {
    this.config = { interpolation: 'linear', ...config };
    this.layout = gridLayout(this.config);
    const bytes = this.layout.paramCount * 4;
    if (bytes > maxStorageBytes(device)) {
      throw new RangeError(
        `grid table of ${this.layout.paramCount} parameters (${(bytes / 2 ** 20).toFixed(1)} MiB: ${config.levels} levels, F=${config.featuresPerLevel}, ` +
          `T=2^${config.log2HashmapSize}) is over this device's storage binding limit of ${(maxStorageBytes(device) / 2 ** 20).toFixed(1)} MiB; lower log2HashmapSize`,
      );
    }
    this.fixedPointScale = options.fixedPointScale ?? 2 ** 16;
    this.workgroupSize = options.workgroupSize ?? 64;
    this.params = storageBuffer(device, 'ngp grid params', bytes);
    this.grads = storageBuffer(device, 'ngp grid grads', bytes);
    const code = wgsl(gridPrelude(config.dims, config.featuresPerLevel), gridWgsl);
    const constants = { WG: this.workgroupSize, SMOOTHSTEP: this.config.interpolation === 'smoothstep' ? 1 : 0 };
    this.forwardPipeline = computePipeline(device, 'ngp grid', code, 'forward', constants);
    this.backwardPipeline = computePipeline(device, 'ngp grid', code, 'backward', constants);
    this.uniforms = new UniformArena(device, 'ngp grid');
    const table = new ArrayBuffer(MAX_GRID_LEVELS * 16);
    const tu = new Uint32Array(table);
    const tf = new Float32Array(table);
    this.layout.levels.forEach((lv, i) => {
      tu[i * 4] = lv.offset;
      tu[i * 4 + 1] = lv.size;
      tu[i * 4 + 2] = lv.resolution;
      tf[i * 4 + 3] = lv.scale;
    });
    this.levelTable = device.createBuffer({ label: 'ngp grid levels', size: table.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(this.levelTable, 0, table);
    this.binds = new BindCache(device);
    this.setParams(initGridParams(this.layout, options.seed ?? 1337));
  }

  /** Encoded features per position (levels * F). */
  get outputDims(): number {
    return this.layout.outputDims;
  }

  /** Floats per row of the features buffer (outputDims rounded up to 4; padding is zero). */
  get outputStride(): number {
    return this.layout.outputStride;
  }

  setParams(values: Float32Array<ArrayBuffer>): void {
    if (values.length !== this.layout.paramCount) throw new RangeError(`grid expects ${this.layout.paramCount} parameters, got ${values.length}`);
    this.device.queue.writeBuffer(this.params, 0, values);
  }

  private uniform(n: number): GPUBufferBinding {
    const data = new ArrayBuffer(16);
    const u = new Uint32Array(data);
    u[0] = n;
    u[1] = this.layout.outputStride;
    u[2] = this.config.levels;
    new Float32Array(data)[3] = this.fixedPointScale;
    return this.uniforms.bind(data);
  }

  /** Rows over dispatch x and y, levels on z. */
  private groups(n: number): [number, number, number] {
    return [...flatGroups(this.device, n, this.workgroupSize), this.config.levels];
  }

  /** positions f32 [n][D] -> features f32 [n][outputStride]. */
  encodeForward(target: EncodeTarget, positions: BufferLike, features: BufferLike, n: number): void {
    if (n <= 0) return;
    const [x, y, z] = this.groups(n);
    const group = this.binds.get(this.forwardPipeline, { 0: this.uniform(n), 1: positions, 2: this.params, 3: features, 6: this.levelTable });
    inPass(target, 'ngp grid forward', (pass) => {
      pass.setPipeline(this.forwardPipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(x, y, z);
    });
  }

  /** dL/dfeatures f32 [n][outputStride] -> grads += fixed-point dL/dparams. */
  encodeBackward(target: EncodeTarget, positions: BufferLike, dFeatures: BufferLike, n: number): void {
    if (n <= 0) return;
    const [x, y, z] = this.groups(n);
    const group = this.binds.get(this.backwardPipeline, { 0: this.uniform(n), 1: positions, 4: dFeatures, 5: this.grads, 6: this.levelTable });
    inPass(target, 'ngp grid backward', (pass) => {
      pass.setPipeline(this.backwardPipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(x, y, z);
    });
  }

  encodeClearGrads(encoder: GPUCommandEncoder): void {
    encoder.clearBuffer(this.grads);
  }

  /** Fixed-point gradients as floats (for tests and inspection). */
  gradsToFloat(raw: Int32Array): Float32Array {
    const out = new Float32Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw[i] / this.fixedPointScale;
    return out;
  }

  destroy(): void {
    this.params.destroy();
    this.grads.destroy();
    this.uniforms.destroy();
    this.levelTable.destroy();
    this.binds.clear();
  }
}

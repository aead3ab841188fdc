/**
 * Fully fused MLP in one dispatch per pass (forward, training forward, backward), after
 * tiny-cuda-nn's FullyFusedMLP, for WebGPU without tensor cores: f32 (or f16 with
 * `shader-f16`) FMAs on per-thread register tiles. Kernels: shaders/ngp_mlp_fused.wgsl, with
 * the register-tile functions generated unrolled by `fusedTileFunctions`.
 *
 * Block configuration (`chooseFusedBlock`): a workgroup holds R rows of activations in
 * workgroup memory (R x max(width, input) x 4 bytes in f32, 2 in f16) through all layers and
 * runs T = R / TR * width / (4 CV) threads, each computing a TR-row x 4CV-column register tile
 * of every hidden layer (16 x 4 preferred: 16 vec4 accumulators). R and the tile are the
 * largest that fit `maxComputeWorkgroupStorageSize` and `maxComputeInvocationsPerWorkgroup`
 * with at least 64 threads where possible. At WebGPU's default limits (16 KiB, 256
 * invocations) a 64-wide f32 MLP gets R = 64, 16x4 tiles, T = 64; 128-wide f32 gets R = 32.
 * CPU implementations of WebGPU (SwiftShader) get the smallest blocks instead: R = 16, 8x8
 * tiles, 8-16 threads, which they run about twice as fast.
 * Weights are read from storage (a layer's few KiB stay in cache); staging them in workgroup
 * memory per layer is an option (`cacheWeights`), slower on SwiftShader.
 *
 * Forward reads a transposed copy of the weights ([in][out] per layer, so a thread's 4
 * columns are one vec4) that `encodePrepare` derives from the master f32 weights; backward
 * reads the canonical [out][in] layout. The training forward stores each hidden layer's
 * post-ReLU activations ([hiddenLayers][n][width], f32 or f16) for the backward, which goes
 * through the layers in reverse per block: dW += g^T a_in, g <- (g W) * relu'(a_in).
 * Weight gradients: each of G workgroups loops over blocks and accumulates its blocks' g^T a
 * into its own slice of a partial buffer (no atomics, deterministic); a second small kernel
 * sums the G slices into `grads`. G is at most `maxPartialGroups` (default 256, and partial
 * bytes <= 32 MiB).
 */
import fusedWgsl from '../../../shaders/ngp_mlp_fused.wgsl?raw';
import { isCpuDevice } from '../../gpu/device.ts';
import { computePipeline, wgsl, workgroups } from '../../gpu/shader.ts';
import { initMlpWeights, mlpLayout, OUTPUT_ACTIVATIONS, type MlpConfig, type MlpLayout, type MlpPrecision } from './config.ts';
import { BindCache } from '../../gpu/bind-cache.ts';
import { cappedGroups, inPass, maxStorageBytes, storageBuffer, UniformArena, type BufferLike, type EncodeTarget } from './gpu-util.ts';
import { checkBatch, type MlpBackwardBuffers, type MlpKernels, type MlpOptions } from './mlp.ts';

export interface FusedBlock {
  /** Rows per workgroup block. */
  rows: number;
  /** Rows per thread tile. */
  tileRows: number;
  /** Column vec4s per thread tile (4 * tileCols columns). */
  tileCols: number;
  /** Rows per thread tile of the output layer. */
  outputTileRows: number;
  /** Rows per thread tile of dL/dinput. */
  inputTileRows: number;
  /** Input vec4s per weight-gradient tile. */
  gradTileCols: number;
  /** Threads per workgroup. */
  threads: number;
  /** Weights staged in workgroup memory. */
  cacheWeights: boolean;
  /** Workgroup memory the kernels declare, bytes. */
  workgroupBytes: number;
}

export interface FusedMlpOptions extends MlpOptions {
  /** Force rows per block (power of two, 16..128). */
  rowsPerBlock?: number;
  /** Stage each layer's weights in workgroup memory (when they fit beside the activations); off by default. */
  cacheWeights?: boolean;
  /** Force rows per thread tile. */
  tileRows?: number;
  /** Force column vec4s per thread tile. */
  tileCols?: number;
  /** Force input vec4s per weight-gradient tile. */
  gradTileCols?: number;
  /** Most backward workgroups (partial gradient slices). */
  maxPartialGroups?: number;
}

interface Limits {
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
}

export interface FusedBlockForce {
  /** Prefer the shapes that run fastest on CPU implementations (see chooseFusedBlock). */
  cpu?: boolean;
  rows?: number;
  cacheWeights?: boolean;
  tileRows?: number;
  tileCols?: number;
  gradTileCols?: number;
}

/** Picks rows per block, register tile shape and weight caching for the device's limits. */
export function chooseFusedBlock(limits: Limits, layout: MlpLayout, width: number, precision: MlpPrecision, force: FusedBlockForce = {}): FusedBlock {
  const bytes = precision === 'f16' ? 2 : 4;
  const actWidth = Math.max(width, layout.inputPadded);
  const maxLayer = Math.max(...layout.layers.map((l) => l.inputs * l.outputs));
  const maxThreads = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const w4 = width / 4;
  const out4 = layout.outputPadded / 4;
  // Register tiles, preferred first: big tiles amortise loads (and, on CPU-backed
  // implementations such as SwiftShader, per-invocation overhead); at most 16 vec4
  // accumulators per thread. 16 x 4 also keeps a GPU warp's activation reads on 2 rows (few
  // bank conflicts); 8 x 8 and 4 x 16 measured about as fast on SwiftShader. Workgroups of at
  // least 64 threads where possible (32, then any).
  //
  // CPU implementations (SwiftShader) are the exception: there the same work takes longer the
  // more invocations a workgroup has (64-wide f32 inference at 2^16 rows: 620 ms with 64
  // rows / 64 threads, 300 ms with 16 rows / 16 threads, and the unfused GEMM's tile follows
  // the same rule), so they get the smallest blocks with 8 x 8 tiles.
  const first: [number, number][] = force.cpu ? [[8, 2], [16, 1]] : [[16, 1], [8, 2]];
  const tiles: [number, number][] = force.tileRows || force.tileCols ? [[force.tileRows ?? 8, force.tileCols ?? 1]] : [...first, [8, 1], [4, 2], [4, 1], [2, 1], [1, 1]];
  const rowOptions = force.rows ? [force.rows] : force.cpu ? [16, 32, 64, 128] : [64, 128, 32, 16];
  for (const minThreads of force.cpu ? [1] : [64, 32, 1]) {
    for (const [tileRows, tileCols] of tiles) {
      for (const rows of rowOptions) {
        const actBytes = rows * actWidth * bytes;
        if (actBytes > limits.maxComputeWorkgroupStorageSize) continue;
        if (rows % tileRows !== 0 || w4 % tileCols !== 0) continue;
        const threads = (rows / tileRows) * (w4 / tileCols);
        if (threads > maxThreads || threads < minThreads) continue;
        // Narrow layers (output, dL/dinput): fewer, bigger tiles beat one-row tiles, which
        // spend more on loads than on FMAs.
        const narrowTile = (cols4: number, minTiles: number) => {
          let tr = tileRows;
          while (tr > 1 && (rows / tr) * cols4 < minTiles) tr /= 2;
          return tr;
        };
        const outputTileRows = narrowTile(out4, threads / 4);
        const inputTileRows = narrowTile(layout.inputPadded / 4, threads / 2);
        const gradTileCols = force.gradTileCols ?? [4, 2, 1].find((kv) => kv === 1 || w4 * Math.ceil(w4 / kv) >= threads) ?? 1;
        // Staging weights in workgroup memory measured slower on SwiftShader (and GPUs cache
        // a layer's few KiB in L1), so it is opt-in.
        const cacheWeights = Boolean(force.cacheWeights) && actBytes + maxLayer * bytes <= limits.maxComputeWorkgroupStorageSize;
        return { rows, tileRows, tileCols, outputTileRows, inputTileRows, gradTileCols, threads, cacheWeights, workgroupBytes: actBytes + (cacheWeights ? maxLayer * bytes : 0) };
      }
    }
  }
  throw new RangeError(
    `fused MLP (width ${width}, input ${layout.inputPadded}, ${precision}) does not fit ${limits.maxComputeWorkgroupStorageSize} bytes of workgroup memory / ${maxThreads} invocations` +
      (force.rows ? ` with ${force.rows} rows per block` : ''),
  );
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * The register-tile functions of ngp_mlp_fused.wgsl, unrolled for the block's tile sizes:
 * every accumulator is a named variable (arrays indexed in loops would live in memory on
 * compilers that do not unroll, such as SwiftShader's).
 */
export function fusedTileFunctions(b: Pick<FusedBlock, 'tileRows' | 'tileCols' | 'outputTileRows' | 'inputTileRows' | 'gradTileCols' | 'cacheWeights'>, maxLayer: number): string {
  const TR = range(b.tileRows);
  const CV = range(b.tileCols);
  const KV = range(b.gradTileCols);
  const J = range(4);
  const out: string[] = [];
  if (b.cacheWeights) {
    out.push(`var<workgroup> wc: array<h4, ${maxLayer / 4}>;`);
    for (const [name, src] of [['T', 'wT'], ['C', 'wC']]) {
      out.push(
        `fn cache${name}(l: u32, lid: u32) {`,
        '  let off4 = layerOffset(l) / 4u;',
        '  for (var i = lid; i < layerIn(l) * layerOut(l) / 4u; i += T) { wc[i] = ' + src + '[off4 + i]; }',
        '}',
        `fn read${name}(off4: u32, i: u32) -> h4 { return wc[i]; }`,
      );
    }
  } else {
    out.push('fn cacheT(l: u32, lid: u32) {}', 'fn cacheC(l: u32, lid: u32) {}');
    out.push('fn readT(off4: u32, i: u32) -> h4 { return wT[off4 + i]; }', 'fn readC(off4: u32, i: u32) -> h4 { return wC[off4 + i]; }');
  }
  out.push('');
  const fma4 = (x: string, w: (j: number) => string, acc: string, cast = 'h4') =>
    `${acc} = fma(${cast}(${x}.x), ${w(0)}, fma(${cast}(${x}.y), ${w(1)}, fma(${cast}(${x}.z), ${w(2)}, fma(${cast}(${x}.w), ${w(3)}, ${acc}))));`;

  for (const kind of ['forward', 'backward'] as const) {
    const fwd = kind === 'forward';
    out.push(
      fwd
        ? 'fn forwardLayer(l: u32, K4: u32, off4: u32, r0: u32, cg: u32, row0: u32, train: bool) {'
        : 'fn backwardLayer(l: u32, C4: u32, off4: u32, r0: u32, cg: u32, row0: u32) {',
    );
    for (const i of TR) for (const v of CV) out.push(`  var a${i}_${v} = h4(0.0);`);
    out.push(fwd ? '  for (var k4 = 0u; k4 < K4; k4++) {' : '  for (var k4 = 0u; k4 < C4; k4++) {');
    out.push('    let wb = k4 * 4u * W4 + cg;');
    for (const v of CV) for (const j of J) out.push(`    let w${j}_${v} = ${fwd ? 'readT' : 'readC'}(off4, wb + ${j}u * W4 + ${v}u * NCG);`);
    for (const i of TR) {
      out.push(`    let x${i} = act[(r0 + ${i}u) * AW4 + k4];`);
      for (const v of CV) out.push(`    ${fma4(`x${i}`, (j) => `w${j}_${v}`, `a${i}_${v}`)}`);
    }
    out.push('  }');
    out.push('  workgroupBarrier();');
    for (const i of TR) {
      out.push(`  let q${i} = row0 + r0 + ${i}u;`);
      for (const v of CV) {
        out.push(`  let c${i}_${v} = cg + ${v}u * NCG;`);
        if (fwd) {
          out.push(`  let y${i}_${v} = max(a${i}_${v}, h4(0.0));`);
          out.push(`  act[(r0 + ${i}u) * AW4 + c${i}_${v}] = y${i}_${v};`);
          out.push(`  if (train && q${i} < P.n) { hidden[(l * P.n + q${i}) * W4 + c${i}_${v}] = y${i}_${v}; }`);
        } else {
          out.push(`  var y${i}_${v} = h4(0.0);`);
          out.push(`  if (q${i} < P.n) { y${i}_${v} = select(h4(0.0), a${i}_${v}, hiddenIn[((l - 1u) * P.n + q${i}) * W4 + c${i}_${v}] > h4(0.0)); }`);
          out.push(`  act[(r0 + ${i}u) * AW4 + c${i}_${v}] = y${i}_${v};`);
        }
      }
    }
    out.push('}', '');
  }

  // Output layer and dL/dinput: TRO / TRI rows x one vec4 column.
  for (const kind of ['output', 'input'] as const) {
    const o = kind === 'output';
    const TRO = range(o ? b.outputTileRows : b.inputTileRows);
    out.push(o ? 'fn outputLayer(off4: u32, rr: u32, c: u32, row0: u32) {' : 'fn inputGradient(rr: u32, c: u32, row0: u32) {');
    for (const i of TRO) out.push(`  var a${i} = h4(0.0);`);
    out.push('  for (var k4 = 0u; k4 < W4; k4++) {');
    out.push(o ? '    let wb = k4 * 4u * OUT4 + c;' : '    let wb = k4 * 4u * IN4 + c;');
    for (const j of J) out.push(o ? `    let w${j} = readT(off4, wb + ${j}u * OUT4);` : `    let w${j} = readC(0u, wb + ${j}u * IN4);`);
    for (const i of TRO) {
      out.push(`    let x${i} = act[(rr + ${i}u) * AW4 + k4];`);
      out.push(`    ${fma4(`x${i}`, (j) => `w${j}`, `a${i}`)}`);
    }
    out.push('  }');
    for (const i of TRO) {
      out.push(`  let q${i} = row0 + rr + ${i}u;`);
      out.push(o ? `  if (q${i} < P.n) { output[q${i} * OUT4 + c] = outAct(vec4<f32>(a${i})); }` : `  if (q${i} < P.n) { dInput[q${i} * IN4 + c] = vec4<f32>(a${i}); }`);
    }
    out.push('}', '');
  }

  // Weight gradient tile: 4 outputs (ci) x KV input vec4s from kj, summed over the block's rows.
  out.push('fn weightGradientTile(l: u32, K4: u32, ci: u32, kj: u32, row0: u32, rows: u32, base: u32, first: bool) {');
  for (const v of KV) out.push(`  let k${v} = min(kj + ${v}u, K4 - 1u);`);
  for (const j of J) for (const v of KV) out.push(`  var s${j}_${v} = vec4<f32>(0.0);`);
  out.push('  for (var r = 0u; r < rows; r++) {');
  out.push('    let g = vec4<f32>(act[r * AW4 + ci]);');
  for (const v of KV) {
    out.push(`    let a${v} = layerInput(l, row0 + r, k${v});`);
    for (const j of J) out.push(`    s${j}_${v} = fma(vec4<f32>(g.${'xyzw'[j]}), a${v}, s${j}_${v});`);
  }
  out.push('  }');
  out.push('  let o = base + ci * 4u * K4 + kj;');
  for (const v of KV) {
    out.push(`  if (kj + ${v}u < K4) {`);
    for (const j of J) out.push(`    storePartial(o + ${v}u + ${j}u * K4, s${j}_${v}, first);`);
    out.push('  }');
  }
  out.push('}', '');
  return out.join('\n');
}

/** The complete WGSL of a fused MLP: structural prelude, unrolled tile functions, kernels. */
export function fusedMlpWgsl(config: MlpConfig, precision: MlpPrecision, block: FusedBlock): string {
  const { width } = config;
  const { inputPadded, outputPadded, layers, paramCount } = mlpLayout(config);
  const f16 = precision === 'f16';
  const maxLayer = Math.max(...layers.map((l) => l.inputs * l.outputs));
  const prelude = [
    f16 ? 'enable f16;' : '',
    `alias hT = ${f16 ? 'f16' : 'f32'};`,
    'alias h4 = vec4<hT>;',
    `const W: u32 = ${width}u;`,
    `const IN: u32 = ${inputPadded}u;`,
    `const OUT: u32 = ${outputPadded}u;`,
    `const NL: u32 = ${layers.length}u;`,
    `const R: u32 = ${block.rows}u;`,
    `const TR: u32 = ${block.tileRows}u;`,
    `const CV: u32 = ${block.tileCols}u;`,
    `const TRO: u32 = ${block.outputTileRows}u;`,
    `const TRI: u32 = ${block.inputTileRows}u;`,
    `const KV: u32 = ${block.gradTileCols}u;`,
    `const T: u32 = ${block.threads}u;`,
    `const AW: u32 = ${Math.max(width, inputPadded)}u;`,
    `const CACHE: bool = ${block.cacheWeights};`,
    `const OUT_ACT: u32 = ${OUTPUT_ACTIVATIONS[config.outputActivation ?? 'none']}u;`,
    `const PARAMS: u32 = ${paramCount}u;`,
    `const F16_COPY: bool = ${f16};`,
  ].join('\n');
  return wgsl(prelude, fusedTileFunctions(block, maxLayer), fusedWgsl);
}

export class FusedMlp implements MlpKernels {
  readonly config: MlpConfig;
  readonly layout: MlpLayout;
  readonly precision: MlpPrecision;
  readonly block: FusedBlock;
  readonly maxBatch: number;
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  /** Largest number of backward workgroups. */
  readonly maxPartialGroups: number;
  private readonly weightsT: GPUBuffer;
  private readonly weightsC: GPUBuffer;
  private readonly hidden: GPUBuffer;
  private readonly partial: GPUBuffer;
  private readonly dummy: GPUBuffer;
  private readonly pipelines: Record<'forward' | 'backward' | 'reduce' | 'prepare', GPUComputePipeline>;
  private readonly uniforms: UniformArena;
  private readonly binds: BindCache;

  constructor(
    private readonly device: GPUDevice,
    config: MlpConfig,
    options: FusedMlpOptions,
  ) {
    this.config = { outputActivation: 'none', ...config };
    this.layout = mlpLayout(this.config);
    this.precision = options.precision ?? 'f32';
    if (this.precision === 'f16' && !device.features.has('shader-f16')) throw new Error('f16 MLP needs the shader-f16 feature, which this device lacks');
    this.maxBatch = options.maxBatch;
    this.block = chooseFusedBlock(device.limits, this.layout, config.width, this.precision, {
      cpu: options.cpu ?? isCpuDevice(device),
      rows: options.rowsPerBlock,
      cacheWeights: options.cacheWeights,
      tileRows: options.tileRows,
      tileCols: options.tileCols,
      gradTileCols: options.gradTileCols,
    });
    const P = this.layout.paramCount;
    const hBytes = this.precision === 'f16' ? 2 : 4;
    const partialBudget = Math.min(32 * 2 ** 20, maxStorageBytes(device));
    this.maxPartialGroups = Math.max(1, Math.min(options.maxPartialGroups ?? 256, Math.floor(partialBudget / (P * 4))));

    this.params = storageBuffer(device, 'ngp mlp params', P * 4);
    this.grads = storageBuffer(device, 'ngp mlp grads', P * 4);
    this.weightsT = storageBuffer(device, 'ngp mlp weights (transposed)', P * hBytes);
    this.weightsC = this.precision === 'f16' ? storageBuffer(device, 'ngp mlp weights (f16)', P * hBytes) : this.params;
    const hiddenCount = (this.layout.layers.length - 1) * config.width * this.maxBatch;
    this.hidden = storageBuffer(device, 'ngp mlp stored activations', hiddenCount * hBytes);
    const blocksMax = Math.ceil(this.maxBatch / this.block.rows);
    this.partial = storageBuffer(device, 'ngp mlp partial gradients', Math.max(1, Math.min(this.maxPartialGroups, blocksMax)) * P * 4);
    this.dummy = storageBuffer(device, 'ngp mlp unused binding', 16);

    const code = this.shader();
    const pipe = (entry: string) => computePipeline(device, `ngp fused mlp ${this.key}`, code, entry);
    this.pipelines = { forward: pipe('forward'), backward: pipe('backward'), reduce: pipe('reduce'), prepare: pipe('prepare') };
    this.uniforms = new UniformArena(device, 'ngp fused mlp');
    this.binds = new BindCache(device);
    this.setWeights(initMlpWeights(this.config, options.seed ?? 1337));
  }

  /** Cache key of the generated WGSL structure. */
  get key(): string {
    const c = this.config;
    const b = this.block;
    return `w${c.width} in${this.layout.inputPadded} out${this.layout.outputPadded} h${c.hiddenLayers} ${c.outputActivation} ${this.precision} r${b.rows} t${b.tileRows}x${b.tileCols} o${b.outputTileRows} i${b.inputTileRows} g${b.gradTileCols}${b.cacheWeights ? ' cache' : ''}`;
  }

  private shader(): string {
    return fusedMlpWgsl(this.config, this.precision, this.block);
  }

  setWeights(weights: Float32Array<ArrayBuffer>): void {
    if (weights.length !== this.layout.paramCount) throw new RangeError(`MLP expects ${this.layout.paramCount} weights, got ${weights.length}`);
    this.device.queue.writeBuffer(this.params, 0, weights);
    const encoder = this.device.createCommandEncoder({ label: 'ngp mlp set weights' });
    this.encodePrepare(encoder);
    this.device.queue.submit([encoder.finish()]);
  }

  private uniform(n: number, groups: number, flags: number): GPUBufferBinding {
    return this.uniforms.bind(new Uint32Array([n, Math.ceil(n / this.block.rows), groups, flags]).buffer);
  }

  encodePrepare(target: EncodeTarget): void {
    const pipeline = this.pipelines.prepare;
    const entries: Record<number, GPUBuffer> = { 13: this.params, 14: this.weightsT };
    entries[15] = this.precision === 'f16' ? this.weightsC : this.dummy;
    const group = this.binds.get(pipeline, entries);
    inPass(target, 'ngp mlp prepare', (pass) => {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(workgroups(this.layout.paramCount, 64, this.device));
    });
  }

  private forwardCall(target: EncodeTarget, input: BufferLike, output: BufferLike, n: number, train: boolean): void {
    if (n <= 0) return;
    const pipeline = this.pipelines.forward;
    const group = this.binds.get(pipeline, { 0: this.uniform(n, 0, train ? 1 : 0), 1: input, 2: this.weightsT, 3: output, 4: this.hidden });
    inPass(target, train ? 'ngp mlp train forward' : 'ngp mlp forward', (pass) => {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(cappedGroups(this.device, Math.ceil(n / this.block.rows)));
    });
  }

  encodeForward(target: EncodeTarget, input: BufferLike, output: BufferLike, n: number): void {
    this.forwardCall(target, input, output, n, false);
  }

  encodeTrainForward(target: EncodeTarget, input: BufferLike, output: BufferLike, n: number): void {
    checkBatch(n, this.maxBatch, 'fused MLP training forward');
    this.forwardCall(target, input, output, n, true);
  }

  encodeBackward(target: EncodeTarget, buffers: MlpBackwardBuffers, n: number): void {
    checkBatch(n, this.maxBatch, 'fused MLP backward');
    if (n <= 0) return;
    const groups = Math.min(Math.ceil(n / this.block.rows), this.maxPartialGroups);
    const uniform = this.uniform(n, groups, buffers.dInput ? 2 : 0);
    const pipeline = this.pipelines.backward;
    const group = this.binds.get(pipeline, {
      0: uniform,
      1: buffers.input,
      5: this.weightsC,
      6: buffers.output,
      7: buffers.dOutput,
      8: this.hidden,
      9: this.partial,
      10: buffers.dInput ?? this.dummy,
    });
    const reduce = this.binds.get(this.pipelines.reduce, { 0: uniform, 11: this.partial, 12: this.grads });
    inPass(target, 'ngp mlp backward', (pass) => {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(groups);
      pass.setPipeline(this.pipelines.reduce);
      pass.setBindGroup(0, reduce);
      pass.dispatchWorkgroups(workgroups(this.layout.paramCount / 4, 64, this.device));
    });
  }

  destroy(): void {
    for (const b of [this.params, this.grads, this.weightsT, this.hidden, this.partial, this.dummy]) b.destroy();
    if (this.weightsC !== this.params) this.weightsC.destroy();
    this.uniforms.destroy();
    this.binds.clear();
  }
}

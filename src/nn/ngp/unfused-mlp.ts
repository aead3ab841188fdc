/**
 * Unfused MLP baseline for the fused-vs-unfused comparison: the same network and weight
 * layout as FusedMlp, run the way a framework runs it, one dispatch per op (tiled GEMM +
 * fused activation per layer; activations round-trip through storage buffers). Kernels:
 * shaders/ngp_mlp_unfused.wgsl.
 *
 * Dispatches: forward = one GEMM per layer. Backward = output-activation derivative, then per
 * layer (last to first) a split-K GEMM for dW (g^T a_in over the batch, in up to 64 row
 * slices) + a slice reduction into `grads`, and a GEMM with ReLU-derivative epilogue for the
 * gradient of the layer below (or dL/dinput for the first layer, when asked).
 */
import unfusedWgsl from '../../../shaders/ngp_mlp_unfused.wgsl?raw';
import { isCpuDevice } from '../../gpu/device.ts';
import { computePipeline, workgroups } from '../../gpu/shader.ts';
import { initMlpWeights, mlpLayout, OUTPUT_ACTIVATIONS, type MlpConfig, type MlpLayout } from './config.ts';
import { BindCache } from '../../gpu/bind-cache.ts';
import { flatGroups, inPass, storageBuffer, UniformArena, type BufferLike, type EncodeTarget } from './gpu-util.ts';
import { checkBatch, type MlpBackwardBuffers, type MlpKernels, type MlpOptions } from './mlp.ts';

const MAX_SLICES = 64;

/** Split-K: reduction rows per slice (multiple of 16) and the number of slices that covers K. */
function splitK(K: number, slices: number): { kChunk: number; count: number } {
  const kChunk = Math.max(16, Math.ceil(K / slices / 16) * 16);
  return { kChunk, count: Math.max(1, Math.ceil(K / kChunk)) };
}

interface Gemm {
  M: number;
  N: number;
  K: number;
  /** A(m, k) = A[aOff + m sam + k sak] */
  a: BufferLike;
  aOff?: number;
  sam: number;
  sak: number;
  /** B(k, n) = B[bOff + k sbk + n sbn] */
  b: BufferLike;
  bOff?: number;
  sbk: number;
  sbn: number;
  c: BufferLike;
  cOff?: number;
  /** 0 none, 1 relu, 2 sigmoid, 3 exp, 4 mask */
  mode: number;
  mask?: BufferLike;
  slices?: number;
}

export class UnfusedMlp implements MlpKernels {
  readonly config: MlpConfig;
  readonly layout: MlpLayout;
  readonly maxBatch: number;
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  /** Per hidden layer activations [n][width], kept for backward. */
  private readonly activations: GPUBuffer[];
  private readonly gradA: GPUBuffer;
  private readonly gradB: GPUBuffer;
  private readonly partial: GPUBuffer;
  private readonly dummy: GPUBuffer;
  private readonly pipelines: Record<'gemm' | 'reduceSlices' | 'outputGrad', GPUComputePipeline>;
  private readonly uniforms: UniformArena;
  private readonly binds: BindCache;
  /** GEMM output tile (TILE x TILE per workgroup): 64 on GPUs, 16 on CPU implementations. */
  readonly tile: number;

  constructor(
    private readonly device: GPUDevice,
    config: MlpConfig,
    options: MlpOptions,
  ) {
    if (options.precision === 'f16') throw new Error('the unfused MLP baseline runs in f32 only');
    // CPU implementations run the same work faster in smaller workgroups (fused-mlp.ts).
    this.tile = (options.cpu ?? isCpuDevice(device)) ? 16 : 64;
    this.config = { outputActivation: 'none', ...config };
    this.layout = mlpLayout(this.config);
    // Inference also uses the activation buffers between layers: at least one tile of rows.
    this.maxBatch = options.maxBatch;
    const rows = Math.max(this.maxBatch, 1);
    const P = this.layout.paramCount;
    this.params = storageBuffer(device, 'ngp unfused mlp params', P * 4);
    this.grads = storageBuffer(device, 'ngp unfused mlp grads', P * 4);
    this.activations = Array.from({ length: config.hiddenLayers }, (_, i) => storageBuffer(device, `ngp unfused mlp activations ${i}`, rows * config.width * 4));
    const widest = Math.max(config.width, this.layout.inputPadded, this.layout.outputPadded);
    this.gradA = storageBuffer(device, 'ngp unfused mlp grad A', rows * widest * 4);
    this.gradB = storageBuffer(device, 'ngp unfused mlp grad B', rows * widest * 4);
    const maxLayer = Math.max(...this.layout.layers.map((l) => l.inputs * l.outputs));
    this.partial = storageBuffer(device, 'ngp unfused mlp partial', MAX_SLICES * maxLayer * 4);
    this.dummy = storageBuffer(device, 'ngp unfused mlp unused', 16);
    const pipe = (entry: string) => computePipeline(device, 'ngp unfused mlp', unfusedWgsl, entry, entry === 'gemm' ? { TILE: this.tile } : {});
    this.pipelines = { gemm: pipe('gemm'), reduceSlices: pipe('reduceSlices'), outputGrad: pipe('outputGrad') };
    this.uniforms = new UniformArena(device, 'ngp unfused mlp', 128);
    this.binds = new BindCache(device, 512);
    this.setWeights(initMlpWeights(this.config, options.seed ?? 1337));
  }

  setWeights(weights: Float32Array<ArrayBuffer>): void {
    if (weights.length !== this.layout.paramCount) throw new RangeError(`MLP expects ${this.layout.paramCount} weights, got ${weights.length}`);
    this.device.queue.writeBuffer(this.params, 0, weights);
  }

  /** Nothing to refresh: the GEMMs read the master weights directly. */
  encodePrepare(target: EncodeTarget): void {
    void target;
  }

  private uniform(g: Partial<Gemm> & { M: number; N: number }, kChunk = 0, mTile0 = 0): GPUBufferBinding {
    const u = new Uint32Array(16);
    u.set([g.M, g.N, g.K ?? 0, kChunk, g.sam ?? 0, g.sak ?? 0, g.sbk ?? 0, g.sbn ?? 0, g.mode ?? 0, g.aOff ?? 0, g.bOff ?? 0, g.cOff ?? 0, g.slices ?? 0, mTile0]);
    return this.uniforms.bind(u.buffer);
  }

  private gemm(pass: GPUComputePassEncoder, g: Gemm): void {
    const { kChunk, count } = splitK(g.K, g.slices ?? 1);
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    const tiles = Math.ceil(g.M / this.tile);
    pass.setPipeline(this.pipelines.gemm);
    // Row tiles past the per-dimension limit go to further dispatches starting at mTile0.
    for (let t0 = 0; t0 < tiles; t0 += max) {
      const group = this.binds.get(this.pipelines.gemm, { 0: this.uniform(g, kChunk, t0), 1: g.a, 2: g.b, 3: g.c, 4: g.mask ?? this.dummy });
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(workgroups(g.N, this.tile, this.device), Math.min(max, tiles - t0), count);
    }
  }

  private forwardLayers(pass: GPUComputePassEncoder, input: BufferLike, output: BufferLike, n: number): void {
    const { layers } = this.layout;
    const act = OUTPUT_ACTIVATIONS[this.config.outputActivation ?? 'none'];
    layers.forEach((layer, l) => {
      const last = l === layers.length - 1;
      this.gemm(pass, {
        M: n,
        N: layer.outputs,
        K: layer.inputs,
        a: l === 0 ? input : this.activations[l - 1],
        sam: layer.inputs,
        sak: 1,
        // B(k, n) = W[n][k]
        b: this.params,
        bOff: layer.offset,
        sbk: 1,
        sbn: layer.inputs,
        c: last ? output : this.activations[l],
        mode: last ? act : 1,
      });
    });
  }

  encodeForward(target: EncodeTarget, input: BufferLike, output: BufferLike, n: number): void {
    if (n <= 0) return;
    checkBatch(n, Math.max(this.maxBatch, 0), 'unfused MLP forward (its activation buffers hold maxBatch rows)');
    inPass(target, 'ngp unfused mlp forward', (pass) => this.forwardLayers(pass, input, output, n));
  }

  encodeTrainForward(target: EncodeTarget, input: BufferLike, output: BufferLike, n: number): void {
    this.encodeForward(target, input, output, n);
  }

  encodeBackward(target: EncodeTarget, buffers: MlpBackwardBuffers, n: number): void {
    checkBatch(n, this.maxBatch, 'unfused MLP backward');
    if (n <= 0) return;
    const { layers } = this.layout;
    const act = OUTPUT_ACTIVATIONS[this.config.outputActivation ?? 'none'];
    const slices = Math.max(1, Math.min(MAX_SLICES, Math.ceil(n / 256)));
    inPass(target, 'ngp unfused mlp backward', (pass) => {
      const out = this.layout.outputPadded;
      const g0 = this.binds.get(this.pipelines.outputGrad, { 0: this.uniform({ M: n, N: out, mode: act }), 1: buffers.dOutput, 2: buffers.output, 3: this.gradA });
      pass.setPipeline(this.pipelines.outputGrad);
      pass.setBindGroup(0, g0);
      pass.dispatchWorkgroups(...flatGroups(this.device, n * out, 64));
      let g: BufferLike = this.gradA;
      let spare: BufferLike = this.gradB;
      for (let l = layers.length - 1; l >= 0; l--) {
        const layer = layers[l];
        const aIn = l === 0 ? buffers.input : this.activations[l - 1];
        // dW[o][k] = sum_r g[r][o] aIn[r][k]: M = outputs, N = inputs, K = n (split over slices).
        this.gemm(pass, { M: layer.outputs, N: layer.inputs, K: n, a: g, sam: 1, sak: layer.outputs, b: aIn, sbk: layer.inputs, sbn: 1, c: this.partial, mode: 0, slices });
        const count = layer.outputs * layer.inputs;
        const reduce = this.binds.get(this.pipelines.reduceSlices, {
          0: this.uniform({ M: layer.outputs, N: layer.inputs, cOff: layer.offset, slices: splitK(n, slices).count }),
          1: this.partial,
          3: this.grads,
        });
        pass.setPipeline(this.pipelines.reduceSlices);
        pass.setBindGroup(0, reduce);
        pass.dispatchWorkgroups(...flatGroups(this.device, count, 64));
        if (l === 0 && !buffers.dInput) break;
        // g_below[r][k] = sum_o g[r][o] W[o][k], times relu'(aIn) for hidden inputs.
        const dst: BufferLike = l === 0 ? buffers.dInput! : spare;
        this.gemm(pass, {
          M: n,
          N: layer.inputs,
          K: layer.outputs,
          a: g,
          sam: layer.outputs,
          sak: 1,
          b: this.params,
          bOff: layer.offset,
          sbk: layer.inputs,
          sbn: 1,
          c: dst,
          mode: l === 0 ? 0 : 4,
          mask: l === 0 ? undefined : aIn,
        });
        spare = g;
        g = dst;
      }
    });
  }

  destroy(): void {
    for (const b of [this.params, this.grads, this.gradA, this.gradB, this.partial, this.dummy, ...this.activations]) b.destroy();
    this.uniforms.destroy();
    this.binds.clear();
  }
}

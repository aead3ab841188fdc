/**
 * Helpers to build conv nets from PyTorch state dicts and record them into one encoder.
 *
 *  - `foldBatchNorm`: eval-mode BatchNorm2d folded into the conv before it (at load).
 *  - `StateDictReader`: shape-checked access to a state dict by PyTorch key, and `conv2d` /
 *    `convTranspose2d` that build ops from `prefix.weight` / `prefix.bias` (plus an optional
 *    BatchNorm prefix to fold), inferring channels and kernel from the weight shape.
 *  - `StageRecorder`: compute passes grouped by named profiler stages (consecutive work of one
 *    stage shares a pass; each pass is timed under its stage where timestamps exist).
 *  - `Sequential`: named layers (and residual groups) run on pooled intermediates in one
 *    encoder, each under a profiler stage.
 */
import type { GpuProfiler } from '../gpu/profiler.ts';
import type { EncodeTarget } from './ops/common.ts';
import { Conv2d, type Conv2dParams } from './ops/conv2d.ts';
import { ConvTranspose2d, type ConvTranspose2dParams } from './ops/conv-transpose2d.ts';
import type { Shape, Tensor, TensorPool } from './tensor.ts';

/**
 * Folds eval-mode BatchNorm2d into the preceding conv:
 *   scale = gamma / sqrt(running_var + eps)
 *   W'[o] = W[o] * scale[o]                                  (o: a Conv2d weight's leading axis)
 *   b'[o] = (b[o] - running_mean[o]) * scale[o] + beta[o]    (b = 0 for a conv without bias)
 */
export function foldBatchNorm(
  convWeight: Float32Array,
  convBias: Float32Array | undefined,
  bnWeight: Float32Array,
  bnBias: Float32Array,
  runningMean: Float32Array,
  runningVar: Float32Array,
  eps = 1e-5,
): { weight: Float32Array; bias: Float32Array } {
  const channels = checkBn(convWeight, convBias, bnWeight, bnBias, runningMean, runningVar);
  const scale = bnScale(bnWeight, runningVar, eps);
  const per = convWeight.length / channels;
  const weight = new Float32Array(convWeight.length);
  for (let o = 0; o < channels; o++) for (let i = 0; i < per; i++) weight[o * per + i] = convWeight[o * per + i] * scale[o];
  return { weight, bias: foldedBias(convBias, bnBias, runningMean, scale) };
}

/** foldBatchNorm for a ConvTranspose2d weight [in, out, k, k] (output channels on axis 1). */
export function foldBatchNormTransposed(
  convWeight: Float32Array,
  inChannels: number,
  convBias: Float32Array | undefined,
  bnWeight: Float32Array,
  bnBias: Float32Array,
  runningMean: Float32Array,
  runningVar: Float32Array,
  eps = 1e-5,
): { weight: Float32Array; bias: Float32Array } {
  const channels = checkBn(convWeight, convBias, bnWeight, bnBias, runningMean, runningVar);
  const kk = convWeight.length / (inChannels * channels);
  if (!Number.isInteger(kk)) throw new RangeError(`conv_transpose weight of ${convWeight.length} values is not [${inChannels}, ${channels}, k, k]`);
  const scale = bnScale(bnWeight, runningVar, eps);
  const weight = new Float32Array(convWeight.length);
  for (let i = 0; i < convWeight.length; i++) weight[i] = convWeight[i] * scale[Math.floor(i / kk) % channels];
  return { weight, bias: foldedBias(convBias, bnBias, runningMean, scale) };
}

function checkBn(w: Float32Array, b: Float32Array | undefined, gamma: Float32Array, beta: Float32Array, mean: Float32Array, variance: Float32Array): number {
  const channels = gamma.length;
  for (const [name, a] of [['bias', beta], ['running_mean', mean], ['running_var', variance]] as const) {
    if (a.length !== channels) throw new RangeError(`BatchNorm ${name} has ${a.length} values, its weight ${channels}`);
  }
  if (b && b.length !== channels) throw new RangeError(`conv bias has ${b.length} values, BatchNorm ${channels}`);
  if (channels === 0 || w.length % channels) throw new RangeError(`conv weight of ${w.length} values does not split into ${channels} output channels`);
  return channels;
}

function bnScale(gamma: Float32Array, variance: Float32Array, eps: number): Float64Array {
  return Float64Array.from(gamma, (g, o) => g / Math.sqrt(variance[o] + eps));
}

function foldedBias(b: Float32Array | undefined, beta: Float32Array, mean: Float32Array, scale: Float64Array): Float32Array {
  return Float32Array.from(beta, (be, o) => ((b ? b[o] : 0) - mean[o]) * scale[o] + be);
}

/** What a state dict entry must offer: the checkpoint readers' Tensor (src/formats/tensor.ts) fits. */
export interface WeightSource {
  readonly shape: readonly number[];
  toFloat32(): Float32Array;
}

export type StateDictLike = ReadonlyMap<string, WeightSource> | Readonly<Record<string, WeightSource>>;

/** Conv2d options a state dict does not hold. */
export type ConvOptions = Omit<Conv2dParams, 'inChannels' | 'outChannels' | 'kernel' | 'weight' | 'bias'> & {
  /** Prefix of a BatchNorm2d to fold (`prefix.weight`, `.bias`, `.running_mean`, `.running_var`). */
  batchNorm?: string;
  eps?: number;
};

export type ConvTransposeOptions = Omit<ConvTranspose2dParams, 'inChannels' | 'outChannels' | 'kernel' | 'weight' | 'bias'> & { batchNorm?: string; eps?: number };

/** Shape-checked reads of a PyTorch state dict, and ops built from its keys. */
export class StateDictReader {
  /** Keys read so far (to report checkpoint entries a model left unused). */
  readonly used = new Set<string>();

  constructor(private readonly dict: StateDictLike) {}

  private entry(key: string): WeightSource | undefined {
    return this.dict instanceof Map ? this.dict.get(key) : (this.dict as Readonly<Record<string, WeightSource>>)[key];
  }

  keys(): string[] {
    return this.dict instanceof Map ? [...this.dict.keys()] : Object.keys(this.dict);
  }

  has(key: string): boolean {
    return this.entry(key) !== undefined;
  }

  /** Values of `key` as f32; throws when missing or (with `shape`) shaped differently (-1 matches any size). */
  get(key: string, shape?: readonly number[]): { data: Float32Array; shape: readonly number[] } {
    const e = this.entry(key);
    if (!e) throw new Error(`state dict has no '${key}'`);
    if (shape && (shape.length !== e.shape.length || shape.some((d, i) => d !== -1 && d !== e.shape[i]))) {
      throw new RangeError(`'${key}' has shape [${e.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    this.used.add(key);
    return { data: e.toFloat32(), shape: e.shape };
  }

  optional(key: string, shape?: readonly number[]): Float32Array | undefined {
    return this.has(key) ? this.get(key, shape).data : undefined;
  }

  /** Keys never read (e.g. BN num_batches_tracked, or a mismatch between model and checkpoint). */
  unused(): string[] {
    return this.keys().filter((k) => !this.used.has(k));
  }

  private folded(weight: Float32Array, bias: Float32Array | undefined, out: number, bn: string | undefined, eps: number, transposedIn?: number) {
    if (!bn) return { weight, bias };
    const shape = [out];
    const args = [this.get(`${bn}.weight`, shape).data, this.get(`${bn}.bias`, shape).data, this.get(`${bn}.running_mean`, shape).data, this.get(`${bn}.running_var`, shape).data] as const;
    if (this.has(`${bn}.num_batches_tracked`)) this.used.add(`${bn}.num_batches_tracked`);
    return transposedIn === undefined ? foldBatchNorm(weight, bias, ...args, eps) : foldBatchNormTransposed(weight, transposedIn, bias, ...args, eps);
  }

  /** Conv2d from `prefix.weight` [out, in/groups, k, k] and `prefix.bias` if present, BN folded if named. */
  conv2d(device: GPUDevice, prefix: string, options: ConvOptions = {}): Conv2d {
    const { batchNorm, eps, ...params } = options;
    const w = this.get(`${prefix}.weight`);
    if (w.shape.length !== 4 || w.shape[2] !== w.shape[3]) throw new RangeError(`'${prefix}.weight' [${w.shape.join(', ')}] is not a square conv kernel`);
    const [out, inPerGroup, k] = w.shape;
    const groups = params.groups ?? 1;
    const bias = this.optional(`${prefix}.bias`, [out]);
    const f = this.folded(w.data, bias, out, batchNorm, eps ?? 1e-5);
    return new Conv2d(device, { ...params, label: params.label ?? prefix, inChannels: inPerGroup * groups, outChannels: out, kernel: k, weight: f.weight, bias: f.bias });
  }

  /** ConvTranspose2d from `prefix.weight` [in, out, k, k] and `prefix.bias`. */
  convTranspose2d(device: GPUDevice, prefix: string, options: ConvTransposeOptions = {}): ConvTranspose2d {
    const { batchNorm, eps, ...params } = options;
    const w = this.get(`${prefix}.weight`);
    if (w.shape.length !== 4 || w.shape[2] !== w.shape[3]) throw new RangeError(`'${prefix}.weight' [${w.shape.join(', ')}] is not a square kernel`);
    const [inC, out, k] = w.shape;
    const bias = this.optional(`${prefix}.bias`, [out]);
    const f = this.folded(w.data, bias, out, batchNorm, eps ?? 1e-5, inC);
    return new ConvTranspose2d(device, { ...params, label: params.label ?? prefix, inChannels: inC, outChannels: out, kernel: k, weight: f.weight, bias: f.bias });
  }
}

/**
 * Compute passes by profiler stage. `run(stage, fn)` records `fn` in the open pass when it
 * belongs to the same stage, else ends that pass and opens one timed under `stage`.
 * Call `finish()` before using the encoder for anything else (copies, other passes).
 */
export class StageRecorder {
  private pass: GPUComputePassEncoder | null = null;
  private current: string | null = null;

  constructor(
    readonly encoder: GPUCommandEncoder,
    private readonly profiler?: GpuProfiler,
  ) {}

  run(stage: string, fn: (pass: GPUComputePassEncoder) => void): void {
    if (this.pass && this.current === stage) {
      fn(this.pass);
      return;
    }
    this.finish();
    this.pass = this.profiler ? this.profiler.computePass(this.encoder, stage) : this.encoder.beginComputePass({ label: stage });
    this.current = stage;
    fn(this.pass);
  }

  finish(): void {
    this.pass?.end();
    this.pass = null;
    this.current = null;
  }
}

/** A layer of a Sequential: a shape function and an encode into a given output. */
export interface Layer {
  outputShape(input: Shape): Shape;
  encode(target: EncodeTarget, input: Tensor, output: Tensor): void;
  destroy(): void;
}

/** A layer whose epilogue can add a residual (Conv2d, ConvTranspose2d). */
export interface SkipLayer {
  outputShape(input: Shape): Shape;
  encode(target: EncodeTarget, input: Tensor, output: Tensor, options: { skip?: Tensor }): void;
  destroy(): void;
}

type Item =
  | { kind: 'layer'; name: string; stage?: string; layer: Layer }
  | { kind: 'residual'; name: string; stage?: string; body: Layer[]; last: SkipLayer };

export interface SequentialEncodeOptions {
  profiler?: GpuProfiler;
  /** Where the last layer writes (default: a tensor from the pool, returned). */
  output?: Tensor;
  /** Stage of items that name none (default: the Sequential's name). */
  stage?: string;
  /** Record into this recorder (sharing its passes) instead of opening a new one. */
  recorder?: StageRecorder;
}

/**
 * Named layers run in order on intermediates from a TensorPool, all into one command encoder:
 * each intermediate returns to the pool as soon as the next layer has consumed it. A residual
 * group runs its body and adds the group's input in the last layer's epilogue (MobileR2L's
 * ResnetBlock: conv-BN-GELU-conv-BN + x, with BN folded).
 */
export class Sequential implements Layer {
  private readonly items: Item[] = [];

  constructor(readonly name: string) {}

  add(name: string, layer: Layer, stage?: string): this {
    this.items.push({ kind: 'layer', name, stage, layer });
    return this;
  }

  /** out = last(body(x)) + x (the add fused into `last`). */
  addResidual(name: string, body: Layer[], last: SkipLayer, stage?: string): this {
    this.items.push({ kind: 'residual', name, stage, body, last });
    return this;
  }

  get names(): string[] {
    return this.items.map((i) => i.name);
  }

  outputShape(input: Shape): Shape {
    let s = input;
    for (const item of this.items) {
      if (item.kind === 'layer') s = item.layer.outputShape(s);
      else {
        const inShape = s;
        for (const l of item.body) s = l.outputShape(s);
        s = item.last.outputShape(s);
        if (s.some((d, i) => d !== inShape[i])) throw new RangeError(`${this.name}/${item.name}: a residual group must keep its shape, [${inShape.join(', ')}] -> [${s.join(', ')}]`);
      }
    }
    return s;
  }

  /** Layer interface: a Sequential needs a pool, so it runs through `run` (also when nested in another Sequential). */
  encode(): void {
    throw new Error(`${this.name}: a Sequential needs a TensorPool; call run(encoder, input, pool)`);
  }

  /** Records every layer into `encoder`; returns the output tensor (the pool's, or options.output). */
  run(encoder: GPUCommandEncoder, input: Tensor, pool: TensorPool, options: SequentialEncodeOptions = {}): Tensor {
    const rec = options.recorder ?? new StageRecorder(encoder, options.profiler);
    const defaultStage = options.stage ?? this.name;
    let x = input;
    const done = (t: Tensor) => {
      if (t !== input && t !== options.output) t.destroy();
    };
    this.items.forEach((item, index) => {
      const last = index === this.items.length - 1;
      const stage = item.stage ?? defaultStage;
      if (item.kind === 'layer') {
        const output = last ? options.output : undefined;
        let out: Tensor;
        if (item.layer instanceof Sequential) {
          // Nested: shares this recorder and pool; its items default to this item's stage.
          out = item.layer.run(encoder, x, pool, { recorder: rec, stage, output });
        } else {
          out = output ?? pool.acquire(item.layer.outputShape(x.shape));
          const layer = item.layer;
          const inT = x;
          rec.run(stage, (pass) => layer.encode(pass, inT, out));
        }
        done(x);
        x = out;
        return;
      }
      const blockIn = x;
      let y = x;
      for (const l of item.body) {
        const out = pool.acquire(l.outputShape(y.shape));
        rec.run(stage, (pass) => l.encode(pass, y, out));
        if (y !== blockIn) done(y);
        y = out;
      }
      const out = last && options.output ? options.output : pool.acquire(item.last.outputShape(y.shape));
      rec.run(stage, (pass) => item.last.encode(pass, y, out, { skip: blockIn }));
      if (y !== blockIn) done(y);
      done(blockIn);
      x = out;
    });
    if (!options.recorder) rec.finish();
    return x;
  }

  destroy(): void {
    for (const item of this.items) {
      if (item.kind === 'layer') item.layer.destroy();
      else {
        for (const l of item.body) l.destroy();
        item.last.destroy();
      }
    }
  }
}

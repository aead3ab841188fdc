/**
 * Configurations and memory layouts of the neural graphics lab kernels (instant-ngp /
 * tiny-cuda-nn semantics). This file is the single source of truth for every layout the
 * GPU classes, the WGSL kernels and the CPU references share:
 *
 * Grid encoding (tcnn `GridEncodingTemplated`, hash type CoherentPrime):
 * - level l: scale = exp2(l * log2(per_level_scale)) * base_resolution - 1 (f32 maths),
 *   resolution = ceil(scale) + 1;
 * - entries in level l = min(next_multiple(resolution^D, 8), 2^log2_hashmap_size); the level is
 *   dense when resolution^D fits (x-fastest strides), hashed otherwise with
 *   (x * 1) ^ (y * 2654435761) ^ (z * 805459861) in wrapping u32 maths; both take `% entries`;
 * - parameters: one flat f32 buffer, levels concatenated; feature f of entry i of level l is at
 *   `(level.offset + i) * F + f` (tcnn's `grid[offset_table[l] * F + index * F + f]`);
 * - positions: f32 `[N][D]` row-major, expected in [0,1]^D;
 * - features (encoding output = MLP input): f32 `[N][outputStride]` row-major, feature
 *   `level * F + f`; columns from `levels * F` to `outputStride` (a multiple of 4) are zero.
 *
 * MLP (tcnn `FullyFusedMLP`: no biases, ReLU hidden activations):
 * - `hiddenLayers` hidden layers of `width` neurons = hiddenLayers + 1 weight matrices
 *   (input -> hidden, hidden -> hidden x (hiddenLayers - 1), hidden -> output);
 * - input and output widths padded to multiples of 4 (`inputPadded`, `outputPadded`);
 * - weights: one flat f32 buffer, layer after layer, each row-major `[out][in]` (PyTorch
 *   `nn.Linear.weight`), offsets in `MlpLayout.layers[i].offset`; padded rows/columns are zero;
 * - inputs f32 `[N][inputPadded]`, outputs f32 `[N][outputPadded]` (after the output activation).
 */
import { seededRandom } from '../random.ts';

export type Interpolation = 'linear' | 'smoothstep';

export interface GridConfig {
  /** Input dimensions D (2 for images, 3 for SDF/NeRF/volumes). */
  dims: 2 | 3;
  /** Number of levels L (1..16). */
  levels: number;
  /** Features per level F. */
  featuresPerLevel: 1 | 2 | 4 | 8;
  /** log2 of the most entries one level may hold (T = 2^log2HashmapSize). */
  log2HashmapSize: number;
  /** Resolution of the coarsest level (N_min). */
  baseResolution: number;
  /** Growth factor b between levels. */
  perLevelScale: number;
  /** tcnn `interpolation`: Linear (default) or Smoothstep. */
  interpolation?: Interpolation;
}

export interface GridLevel {
  /** First entry of the level in the table (multiply by F for the float offset). */
  offset: number;
  /** Entries in the level (the modulus of every index). */
  size: number;
  /** Grid vertices per axis. */
  resolution: number;
  /** Position scale (f32). */
  scale: number;
  /** True when resolution^D fits, so indices are x-fastest strides rather than hashes. */
  dense: boolean;
}

export interface GridLayout {
  levels: GridLevel[];
  /** Entries in all levels. */
  entries: number;
  /** f32 parameters = entries * F. */
  paramCount: number;
  /** Encoded features per position = levels * F. */
  outputDims: number;
  /** Row stride of the encoding output = outputDims rounded up to a multiple of 4. */
  outputStride: number;
}

export const MAX_GRID_LEVELS = 16;
export const HASH_PRIMES = [1, 2654435761, 805459861] as const;

const f32 = Math.fround;

export function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/** instant-ngp's automatic per-level scale: exp(ln(finest / base) / (levels - 1)). */
export function perLevelScaleFor(finestResolution: number, baseResolution: number, levels: number): number {
  return levels > 1 ? Math.exp(Math.log(finestResolution / baseResolution) / (levels - 1)) : 1;
}

export function validateGridConfig(config: GridConfig): void {
  const { dims, levels, featuresPerLevel, log2HashmapSize, baseResolution, perLevelScale } = config;
  if (dims !== 2 && dims !== 3) throw new RangeError(`grid dims must be 2 or 3, not ${dims}`);
  if (!Number.isInteger(levels) || levels < 1 || levels > MAX_GRID_LEVELS) throw new RangeError(`grid levels must be 1..${MAX_GRID_LEVELS}, not ${levels}`);
  if (![1, 2, 4, 8].includes(featuresPerLevel)) throw new RangeError(`featuresPerLevel must be 1, 2, 4 or 8, not ${featuresPerLevel}`);
  if (!Number.isInteger(log2HashmapSize) || log2HashmapSize < 3 || log2HashmapSize > 30) throw new RangeError(`log2HashmapSize must be 3..30, not ${log2HashmapSize}`);
  if (!Number.isInteger(baseResolution) || baseResolution < 1) throw new RangeError(`baseResolution must be a positive integer, not ${baseResolution}`);
  if (!(perLevelScale >= 1) || !Number.isFinite(perLevelScale)) throw new RangeError(`perLevelScale must be >= 1, not ${perLevelScale}`);
}

/** Level table exactly as tcnn's GridEncodingTemplated constructor computes it. */
export function gridLayout(config: GridConfig): GridLayout {
  validateGridConfig(config);
  const { dims, levels: count, featuresPerLevel: F, log2HashmapSize, baseResolution, perLevelScale } = config;
  const log2Scale = f32(Math.log2(f32(perLevelScale)));
  const maxParams = 0x7fffffff; // uint32 max / 2
  const levels: GridLevel[] = [];
  let offset = 0;
  for (let l = 0; l < count; l++) {
    const scale = f32(f32(f32(2 ** f32(l * log2Scale)) * baseResolution) - 1);
    const resolution = Math.ceil(scale) + 1;
    const dense = resolution ** dims;
    let size = dense > maxParams ? maxParams : dense;
    size = roundUp(size, 8);
    size = Math.min(size, 2 ** log2HashmapSize);
    levels.push({ offset, size, resolution, scale, dense: dense <= size });
    offset += size;
  }
  const outputDims = count * F;
  return { levels, entries: offset, paramCount: offset * F, outputDims, outputStride: roundUp(outputDims, 4) };
}

/** tcnn fast_hash with the CoherentPrime factors, wrapping u32 maths. */
export function gridHash(p: ArrayLike<number>, dims: number): number {
  let h = 0;
  for (let d = 0; d < dims; d++) h ^= Math.imul(p[d], HASH_PRIMES[d]);
  return h >>> 0;
}

/** tcnn grid_index (without the feature part): entry index within the level. */
export function gridIndex(p: ArrayLike<number>, dims: number, level: GridLevel): number {
  const { size, resolution } = level;
  let stride = 1;
  let index = 0;
  for (let d = 0; d < dims && stride <= size; d++) {
    index = (index + Math.imul(p[d], stride)) >>> 0;
    stride = Math.imul(stride, resolution) >>> 0;
  }
  if (size < stride) index = gridHash(p, dims);
  return index % size;
}

// ---------------------------------------------------------------------------------------------
// MLP

export type OutputActivation = 'none' | 'relu' | 'sigmoid' | 'exp';
export type MlpPrecision = 'f32' | 'f16';
export const MLP_WIDTHS = [16, 32, 64, 128] as const;
export type MlpWidth = (typeof MLP_WIDTHS)[number];

export interface MlpConfig {
  /** Input features (e.g. the encoding's levels * F); padded to a multiple of 4. */
  inputDims: number;
  /** Output values, 1..16; padded to a multiple of 4. */
  outputDims: number;
  /** Hidden width: 16, 32, 64 or 128 (tcnn FullyFusedMLP widths). */
  width: MlpWidth;
  /** Hidden layers, 1..8. */
  hiddenLayers: number;
  outputActivation?: OutputActivation;
}

export interface MlpLayer {
  /** Padded input / output widths of this matrix. */
  inputs: number;
  outputs: number;
  /** First float of the matrix in the flat weight buffer. */
  offset: number;
}

export interface MlpLayout {
  inputPadded: number;
  outputPadded: number;
  layers: MlpLayer[];
  paramCount: number;
}

export const OUTPUT_ACTIVATIONS: Record<OutputActivation, number> = { none: 0, relu: 1, sigmoid: 2, exp: 3 };

export function validateMlpConfig(config: MlpConfig): void {
  const { inputDims, outputDims, width, hiddenLayers } = config;
  if (!Number.isInteger(inputDims) || inputDims < 1 || inputDims > 256) throw new RangeError(`MLP inputDims must be 1..256, not ${inputDims}`);
  if (!Number.isInteger(outputDims) || outputDims < 1 || outputDims > 16) throw new RangeError(`MLP outputDims must be 1..16, not ${outputDims}`);
  if (!MLP_WIDTHS.includes(width)) throw new RangeError(`MLP width must be one of ${MLP_WIDTHS.join(', ')}, not ${width}`);
  if (!Number.isInteger(hiddenLayers) || hiddenLayers < 1 || hiddenLayers > 8) throw new RangeError(`MLP hiddenLayers must be 1..8, not ${hiddenLayers}`);
  const act = config.outputActivation ?? 'none';
  if (!(act in OUTPUT_ACTIVATIONS)) throw new RangeError(`unknown output activation ${act}`);
}

export function mlpLayout(config: MlpConfig): MlpLayout {
  validateMlpConfig(config);
  const inputPadded = roundUp(config.inputDims, 4);
  const outputPadded = roundUp(config.outputDims, 4);
  const widths = [inputPadded, ...Array<number>(config.hiddenLayers).fill(config.width), outputPadded];
  const layers: MlpLayer[] = [];
  let offset = 0;
  for (let i = 0; i + 1 < widths.length; i++) {
    layers.push({ inputs: widths[i], outputs: widths[i + 1], offset });
    offset += widths[i] * widths[i + 1];
  }
  return { inputPadded, outputPadded, layers, paramCount: offset };
}

/**
 * tcnn's MLP initialisation: every matrix Xavier-uniform, U(-s, s) with
 * s = sqrt(6 / (fan_in + fan_out)), where tcnn's fans are its padded matrix sizes (input and
 * output padded to multiples of 16). Rows and columns that only exist because of our padding
 * to 4 stay zero, so they never influence the real outputs.
 */
export function initMlpWeights(config: MlpConfig, seed = 1337): Float32Array<ArrayBuffer> {
  const layout = mlpLayout(config);
  const random = seededRandom(seed);
  const weights = new Float32Array(layout.paramCount);
  const last = layout.layers.length - 1;
  layout.layers.forEach((layer, i) => {
    const realIn = i === 0 ? config.inputDims : config.width;
    const realOut = i === last ? config.outputDims : config.width;
    const fanIn = i === 0 ? roundUp(config.inputDims, 16) : config.width;
    const fanOut = i === last ? roundUp(config.outputDims, 16) : config.width;
    const s = Math.sqrt(6 / (fanIn + fanOut));
    for (let o = 0; o < realOut; o++) {
      for (let k = 0; k < realIn; k++) weights[layer.offset + o * layer.inputs + k] = (random() * 2 - 1) * s;
    }
  });
  return weights;
}

/** tcnn grid initialisation: U(-1e-4, 1e-4) for every parameter. */
export function initGridParams(layout: GridLayout, seed = 1337): Float32Array<ArrayBuffer> {
  const random = seededRandom(seed);
  const params = new Float32Array(layout.paramCount);
  for (let i = 0; i < params.length; i++) params[i] = (random() * 2 - 1) * 1e-4;
  return params;
}

// ---------------------------------------------------------------------------------------------
// Optimiser and losses

export interface AdamConfig {
  /** instant-ngp uses 1e-2 for every app. */
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** L2 regularisation added to matrix (MLP) gradients only, as tcnn; instant-ngp uses 1e-6. */
  l2Reg?: number;
}

/** instant-ngp's Adam settings (configs/*\/base.json): lr 1e-2, beta1 0.9, beta2 0.99, eps 1e-15, l2 1e-6. */
export const INSTANT_NGP_ADAM: Required<AdamConfig> = { learningRate: 1e-2, beta1: 0.9, beta2: 0.99, epsilon: 1e-15, l2Reg: 1e-6 };

/**
 * tcnn losses: `l2` value (p - t)^2, gradient 2 (p - t); `relative_l2` value
 * (p - t)^2 / (p^2 + 0.01), gradient 2 (p - t) / (p^2 + 0.01) (the denominator is treated as a
 * constant, following Noise2Noise). Values and gradients are divided by N * outputDims, and
 * gradients are multiplied by the loss scale.
 */
export type LossKind = 'l2' | 'relative_l2';
export const LOSS_KINDS: Record<LossKind, number> = { l2: 0, relative_l2: 1 };

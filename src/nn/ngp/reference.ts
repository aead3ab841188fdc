/**
 * CPU references of the neural graphics lab kernels: plain loops in f64 over the layouts of
 * config.ts. Used by the tests and nothing else.
 */
import { gridIndex, gridLayout, type GridConfig, type GridLayout, type LossKind, type MlpConfig, type MlpLayout, mlpLayout, type OutputActivation } from './config.ts';

interface Corner {
  /** Float index of feature 0 of the corner's entry in the parameter table. */
  index: number;
  weight: number;
}

/** The 2^D (index, weight) pairs one position interpolates on one level (tcnn kernel_grid). */
export function gridCorners(config: GridConfig, layout: GridLayout, level: number, pos: ArrayLike<number>): Corner[] {
  const D = config.dims;
  const F = config.featuresPerLevel;
  const lv = layout.levels[level];
  const grid: number[] = [];
  const frac: number[] = [];
  for (let d = 0; d < D; d++) {
    // fmaf(scale, x, 0.5): one rounding, as the kernel's fma.
    const p = Math.fround(lv.scale * Math.fround(pos[d]) + 0.5);
    const fl = Math.floor(p);
    grid.push(fl >>> 0);
    let t = p - fl;
    if (config.interpolation === 'smoothstep') t = t * t * (3 - 2 * t);
    frac.push(t);
  }
  const corners: Corner[] = [];
  const local = new Array<number>(D);
  for (let c = 0; c < 1 << D; c++) {
    let weight = 1;
    for (let d = 0; d < D; d++) {
      if (c & (1 << d)) {
        weight *= frac[d];
        local[d] = (grid[d] + 1) >>> 0;
      } else {
        weight *= 1 - frac[d];
        local[d] = grid[d];
      }
    }
    corners.push({ index: (lv.offset + gridIndex(local, D, lv)) * F, weight });
  }
  return corners;
}

/** Encoding forward: positions [N][D] -> features [N][outputStride] (padding columns zero). */
export function gridForward(config: GridConfig, params: ArrayLike<number>, positions: ArrayLike<number>, n: number): Float64Array {
  const layout = gridLayout(config);
  const F = config.featuresPerLevel;
  const D = config.dims;
  const out = new Float64Array(n * layout.outputStride);
  for (let i = 0; i < n; i++) {
    const pos = Array.from({ length: D }, (_, d) => positions[i * D + d]);
    for (let l = 0; l < config.levels; l++) {
      for (const { index, weight } of gridCorners(config, layout, l, pos)) {
        for (let f = 0; f < F; f++) out[i * layout.outputStride + l * F + f] += weight * params[index + f];
      }
    }
  }
  return out;
}

/**
 * Encoding backward: dL/dfeatures [N][outputStride] -> dL/dparams (the table's layout). With
 * `fixedPointScale`, every contribution is rounded to 1 / fixedPointScale as the GPU's
 * fixed-point atomics do.
 */
export function gridBackward(config: GridConfig, positions: ArrayLike<number>, dFeatures: ArrayLike<number>, n: number, fixedPointScale?: number): Float64Array {
  const layout = gridLayout(config);
  const F = config.featuresPerLevel;
  const D = config.dims;
  const grads = new Float64Array(layout.paramCount);
  for (let i = 0; i < n; i++) {
    const pos = Array.from({ length: D }, (_, d) => positions[i * D + d]);
    for (let l = 0; l < config.levels; l++) {
      for (const { index, weight } of gridCorners(config, layout, l, pos)) {
        for (let f = 0; f < F; f++) {
          const g = weight * dFeatures[i * layout.outputStride + l * F + f];
          grads[index + f] += fixedPointScale ? Math.round(g * fixedPointScale) / fixedPointScale : g;
        }
      }
    }
  }
  return grads;
}

/** How many (position, corner) contributions each table entry receives: bounds fixed-point error. */
export function gridContributionCounts(config: GridConfig, positions: ArrayLike<number>, n: number): Uint32Array {
  const layout = gridLayout(config);
  const F = config.featuresPerLevel;
  const counts = new Uint32Array(layout.paramCount);
  for (let i = 0; i < n; i++) {
    const pos = Array.from({ length: config.dims }, (_, d) => positions[i * config.dims + d]);
    for (let l = 0; l < config.levels; l++) {
      for (const { index } of gridCorners(config, layout, l, pos)) for (let f = 0; f < F; f++) counts[index + f]++;
    }
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// MLP

export function applyOutputActivation(kind: OutputActivation, x: number): number {
  switch (kind) {
    case 'relu':
      return Math.max(0, x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'exp':
      return Math.exp(x);
    default:
      return x;
  }
}

/** Derivative of the output activation from its output y. */
export function outputActivationDerivative(kind: OutputActivation, y: number): number {
  switch (kind) {
    case 'relu':
      return y > 0 ? 1 : 0;
    case 'sigmoid':
      return y * (1 - y);
    case 'exp':
      return y;
    default:
      return 1;
  }
}

export interface MlpForwardResult {
  /** Outputs [N][outputPadded] after the output activation. */
  output: Float64Array;
  /** Post-ReLU activations of each hidden layer, [N][width] each. */
  hidden: Float64Array[];
}

export function mlpForward(config: MlpConfig, weights: ArrayLike<number>, input: ArrayLike<number>, n: number): MlpForwardResult {
  const layout = mlpLayout(config);
  const act = config.outputActivation ?? 'none';
  const hidden: Float64Array[] = [];
  let x: ArrayLike<number> = input;
  let output = new Float64Array(0);
  layout.layers.forEach((layer, li) => {
    const last = li === layout.layers.length - 1;
    const y = new Float64Array(n * layer.outputs);
    for (let r = 0; r < n; r++) {
      for (let o = 0; o < layer.outputs; o++) {
        let s = 0;
        for (let k = 0; k < layer.inputs; k++) s += weights[layer.offset + o * layer.inputs + k] * x[r * layer.inputs + k];
        y[r * layer.outputs + o] = last ? applyOutputActivation(act, s) : Math.max(0, s);
      }
    }
    if (last) output = y;
    else hidden.push(y);
    x = y;
  });
  return { output, hidden };
}

export interface MlpBackwardResult {
  /** dL/dweights in the weight layout, summed over the batch. */
  dWeights: Float64Array;
  /** dL/dinput [N][inputPadded]. */
  dInput: Float64Array;
}

/** Backward from dL/doutput [N][outputPadded] (gradient w.r.t. the activated outputs). */
export function mlpBackward(config: MlpConfig, weights: ArrayLike<number>, input: ArrayLike<number>, dOutput: ArrayLike<number>, n: number): MlpBackwardResult {
  const layout: MlpLayout = mlpLayout(config);
  const act = config.outputActivation ?? 'none';
  const { output, hidden } = mlpForward(config, weights, input, n);
  const dWeights = new Float64Array(layout.paramCount);
  let g = new Float64Array(n * layout.outputPadded);
  for (let i = 0; i < g.length; i++) g[i] = dOutput[i] * outputActivationDerivative(act, output[i]);
  for (let li = layout.layers.length - 1; li >= 0; li--) {
    const layer = layout.layers[li];
    const a: ArrayLike<number> = li === 0 ? input : hidden[li - 1];
    for (let o = 0; o < layer.outputs; o++) {
      for (let k = 0; k < layer.inputs; k++) {
        let s = 0;
        for (let r = 0; r < n; r++) s += g[r * layer.outputs + o] * a[r * layer.inputs + k];
        dWeights[layer.offset + o * layer.inputs + k] = s;
      }
    }
    const dIn = new Float64Array(n * layer.inputs);
    for (let r = 0; r < n; r++) {
      for (let k = 0; k < layer.inputs; k++) {
        let s = 0;
        for (let o = 0; o < layer.outputs; o++) s += g[r * layer.outputs + o] * weights[layer.offset + o * layer.inputs + k];
        // ReLU derivative from the post-activation value of the layer below.
        dIn[r * layer.inputs + k] = li === 0 || a[r * layer.inputs + k] > 0 ? s : 0;
      }
    }
    g = dIn;
  }
  return { dWeights, dInput: g };
}

// ---------------------------------------------------------------------------------------------
// Loss and Adam

export interface LossResult {
  /** Sum over the batch of the per-element values (the mean loss). */
  loss: number;
  /** dL/dpred [N][stride] (padding columns zero), times lossScale. */
  gradient: Float64Array;
}

/** tcnn L2 / RelativeL2: predictions [N][stride], targets [N][dims]. */
export function lossReference(kind: LossKind, pred: ArrayLike<number>, target: ArrayLike<number>, n: number, dims: number, stride: number, lossScale = 1): LossResult {
  const total = n * dims;
  const gradient = new Float64Array(n * stride);
  let loss = 0;
  for (let r = 0; r < n; r++) {
    for (let d = 0; d < dims; d++) {
      const p = pred[r * stride + d];
      const diff = p - target[r * dims + d];
      const denom = kind === 'relative_l2' ? p * p + 0.01 : 1;
      loss += (diff * diff) / denom / total;
      gradient[r * stride + d] = (lossScale * 2 * diff) / denom / total;
    }
  }
  return { loss, gradient };
}

export interface AdamState {
  params: Float64Array;
  m: Float64Array;
  v: Float64Array;
  /** Per-parameter step counters (tcnn's param_steps). */
  steps: Uint32Array;
}

export interface AdamReferenceOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  l2Reg: number;
  /** Matrix parameters get L2 regularisation and are always stepped; others skip zero gradients. */
  matrix: boolean;
  /** Gradients are divided by this (tcnn's loss_scale). */
  lossScale?: number;
}

/** One tcnn adam_step over every parameter, in place. */
export function adamReference(state: AdamState, gradients: ArrayLike<number>, o: AdamReferenceOptions): void {
  const { beta1, beta2, epsilon } = o;
  for (let i = 0; i < state.params.length; i++) {
    let g = gradients[i] / (o.lossScale ?? 1);
    if (!o.matrix && g === 0) continue;
    const w = state.params[i];
    if (o.matrix) g += o.l2Reg * w;
    const m = (state.m[i] = beta1 * state.m[i] + (1 - beta1) * g);
    const v = (state.v[i] = beta2 * state.v[i] + (1 - beta2) * g * g);
    const t = ++state.steps[i];
    const lr = (o.learningRate * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
    state.params[i] = w - (lr / (Math.sqrt(v) + epsilon)) * m;
  }
}

// ---------------------------------------------------------------------------------------------
// instant-ngp NeRF network

/**
 * tcnn SphericalHarmonics encoding, degree 4 (16 coefficients), of a direction given in [0,1]^3
 * (tcnn maps it back with 2 x - 1); constants as in tcnn's encodings/spherical_harmonics.h.
 */
export function shEncode4(dx01: number, dy01: number, dz01: number): number[] {
  const x = dx01 * 2 - 1;
  const y = dy01 * 2 - 1;
  const z = dz01 * 2 - 1;
  const xy = x * y, xz = x * z, yz = y * z, x2 = x * x, y2 = y * y, z2 = z * z;
  return [
    0.28209479177387814, // 1/(2 sqrt(pi))
    -0.48860251190291987 * y,
    0.48860251190291987 * z,
    -0.48860251190291987 * x,
    1.0925484305920792 * xy,
    -1.0925484305920792 * yz,
    0.94617469575755997 * z2 - 0.31539156525251999,
    -1.0925484305920792 * xz,
    0.54627421529603959 * x2 - 0.54627421529603959 * y2,
    0.59004358992664352 * y * (-3 * x2 + y2),
    2.8906114426405538 * xy * z,
    0.45704579946446572 * y * (1 - 5 * z2),
    0.3731763325901154 * z * (5 * z2 - 3),
    0.45704579946446572 * x * (1 - 5 * z2),
    1.4453057213202769 * z * (x2 - y2),
    0.59004358992664352 * x * (-x2 + 3 * y2),
  ];
}

export interface NerfNetworkWeights {
  grid: GridConfig;
  gridParams: ArrayLike<number>;
  density: MlpConfig;
  densityWeights: ArrayLike<number>;
  colour: MlpConfig;
  colourWeights: ArrayLike<number>;
}

/**
 * The NeRF network of nerf-network.ts: grid -> density MLP (16 outputs) -> colour MLP on
 * [density outputs, SH4(direction)]; raw [N][4] = (log-density, rgb logits). With `dRaw`
 * ([N][4]), also the backward pass: weight gradients of both MLPs and dL/dfeatures.
 */
export function nerfNetworkReference(w: NerfNetworkWeights, positions: ArrayLike<number>, directions: ArrayLike<number>, n: number, dRaw?: ArrayLike<number>) {
  const features = gridForward(w.grid, w.gridParams, positions, n);
  const dens = mlpForward(w.density, w.densityWeights, features, n).output;
  const dStride = mlpLayout(w.density).outputPadded;
  const cIn = mlpLayout(w.colour).inputPadded;
  const cOut = mlpLayout(w.colour).outputPadded;
  const rgbIn = new Float64Array(n * cIn);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < 16; k++) rgbIn[r * cIn + k] = dens[r * dStride + k];
    rgbIn.set(shEncode4(directions[r * 3], directions[r * 3 + 1], directions[r * 3 + 2]), r * cIn + 16);
  }
  const rgb = mlpForward(w.colour, w.colourWeights, rgbIn, n).output;
  const raw = new Float64Array(n * 4);
  for (let r = 0; r < n; r++) raw.set([dens[r * dStride], rgb[r * cOut], rgb[r * cOut + 1], rgb[r * cOut + 2]], r * 4);
  if (!dRaw) return { features, dens, rgbIn, raw };
  const dRgbOut = new Float64Array(n * cOut);
  for (let r = 0; r < n; r++) for (let c = 0; c < 3; c++) dRgbOut[r * cOut + c] = dRaw[r * 4 + 1 + c];
  const colourBack = mlpBackward(w.colour, w.colourWeights, rgbIn, dRgbOut, n);
  const dDens = new Float64Array(n * dStride);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < 16; k++) dDens[r * dStride + k] = colourBack.dInput[r * cIn + k];
    dDens[r * dStride] += dRaw[r * 4];
  }
  const densityBack = mlpBackward(w.density, w.densityWeights, features, dDens, n);
  return { features, dens, rgbIn, raw, dDens, dColourWeights: colourBack.dWeights, dDensityWeights: densityBack.dWeights, dFeatures: densityBack.dInput };
}

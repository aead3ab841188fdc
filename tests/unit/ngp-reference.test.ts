import { describe, expect, test } from 'vitest';
import { gridHash, gridIndex, gridLayout, initMlpWeights, mlpLayout, perLevelScaleFor, type GridConfig, type MlpConfig } from '../../src/nn/ngp/config.ts';
import { seededRandom } from '../../src/nn/random.ts';
import { chooseFusedBlock, fusedMlpWgsl } from '../../src/nn/ngp/fused-mlp.ts';
import { adamReference, gridBackward, gridForward, lossReference, mlpBackward, mlpForward, shEncode4 } from '../../src/nn/ngp/reference.ts';

describe('grid layout follows tcnn GridEncodingTemplated', () => {
  test('instant-ngp SDF config: levels 0-4 dense, 5-15 hashed, 2^19 entries', () => {
    const b = perLevelScaleFor(2048, 16, 16);
    expect(b).toBeCloseTo(1.3819, 4);
    const layout = gridLayout({ dims: 3, levels: 16, featuresPerLevel: 2, log2HashmapSize: 19, baseResolution: 16, perLevelScale: b });
    expect(layout.levels.map((l) => l.dense)).toEqual([...Array(5).fill(true), ...Array(11).fill(false)]);
    expect(layout.levels[0]).toMatchObject({ offset: 0, resolution: 16, size: 4096, scale: 15 });
    for (const l of layout.levels.slice(5)) expect(l.size).toBe(2 ** 19);
    // research notes: about 12.2M parameters
    expect(layout.paramCount / 1e6).toBeCloseTo(12.2, 1);
    expect(layout.outputDims).toBe(32);
  });

  test('dense sizes are rounded up to a multiple of 8; resolution = ceil(scale) + 1', () => {
    const layout = gridLayout({ dims: 2, levels: 3, featuresPerLevel: 1, log2HashmapSize: 12, baseResolution: 3, perLevelScale: 1.5 });
    // scales 2, 3.5, 5.75 -> resolutions 3, 5, 7 -> 9, 25, 49 -> 16, 32, 56
    expect(layout.levels.map((l) => l.resolution)).toEqual([3, 5, 7]);
    expect(layout.levels.map((l) => l.size)).toEqual([16, 32, 56]);
    expect(layout.levels.map((l) => l.offset)).toEqual([0, 16, 48]);
    expect(layout.levels.every((l) => l.dense)).toBe(true);
  });

  test('hash: CoherentPrime, wrapping u32, x passes through', () => {
    expect(gridHash([5, 0, 0], 3)).toBe(5);
    expect(gridHash([0, 1], 2)).toBe(2654435761);
    expect(gridHash([3, 7, 11], 3)).toBe((3 ^ Number(BigInt.asUintN(32, 7n * 2654435761n)) ^ Number(BigInt.asUintN(32, 11n * 805459861n))) >>> 0);
    const level = { offset: 0, size: 1 << 10, resolution: 100, scale: 99, dense: false };
    expect(gridIndex([3, 7], 2, level)).toBe(gridHash([3, 7], 2) % 1024);
    const dense = { offset: 0, size: 104, resolution: 10, scale: 9, dense: true };
    expect(gridIndex([3, 7], 2, dense)).toBe(73);
    expect(gridIndex([10, 9], 2, dense)).toBe(100); // wraparound at x = resolution stays in-range via %
    expect(gridIndex([10, 10], 2, dense)).toBe(110 % 104);
  });
});

function finiteDifferenceCheck(f: (x: Float64Array) => number, x: Float64Array, analytic: ArrayLike<number>, indices: number[], h = 1e-4): number {
  let worst = 0;
  for (const i of indices) {
    const saved = x[i];
    x[i] = saved + h;
    const up = f(x);
    x[i] = saved - h;
    const down = f(x);
    x[i] = saved;
    const numeric = (up - down) / (2 * h);
    worst = Math.max(worst, Math.abs(numeric - analytic[i]) / Math.max(1e-3, Math.abs(numeric)));
  }
  return worst;
}

describe('CPU backward passes match finite differences', () => {
  const cases: GridConfig[] = [
    { dims: 2, levels: 4, featuresPerLevel: 2, log2HashmapSize: 8, baseResolution: 4, perLevelScale: 2 },
    { dims: 3, levels: 3, featuresPerLevel: 4, log2HashmapSize: 9, baseResolution: 3, perLevelScale: 1.7, interpolation: 'smoothstep' },
  ];
  for (const config of cases) {
    test(`grid ${config.dims}D F=${config.featuresPerLevel} ${config.interpolation ?? 'linear'}`, () => {
      const random = seededRandom(7);
      const layout = gridLayout(config);
      const n = 40;
      const positions = Float64Array.from({ length: n * config.dims }, random);
      const params = Float64Array.from({ length: layout.paramCount }, () => random() * 2 - 1);
      const weights = Float64Array.from({ length: n * layout.outputStride }, () => random() * 2 - 1);
      const loss = (p: Float64Array) => gridForward(config, p, positions, n).reduce((s, v, i) => s + v * weights[i], 0);
      const grads = gridBackward(config, positions, weights, n);
      const touched = [...grads.keys()].filter((i) => grads[i] !== 0);
      expect(touched.length).toBeGreaterThan(10);
      expect(finiteDifferenceCheck(loss, params, grads, touched.slice(0, 60))).toBeLessThan(1e-6);
    });
  }

  for (const act of ['none', 'sigmoid', 'exp', 'relu'] as const) {
    test(`MLP weights and input, output activation ${act}`, () => {
      const config: MlpConfig = { inputDims: 6, outputDims: 3, width: 16, hiddenLayers: 2, outputActivation: act };
      const layout = mlpLayout(config);
      const random = seededRandom(3);
      const n = 5;
      const weights = Float64Array.from(initMlpWeights(config, 11));
      const input = new Float64Array(n * layout.inputPadded);
      for (let r = 0; r < n; r++) for (let k = 0; k < config.inputDims; k++) input[r * layout.inputPadded + k] = random() * 2 - 1;
      const dOut = new Float64Array(n * layout.outputPadded);
      for (let r = 0; r < n; r++) for (let o = 0; o < config.outputDims; o++) dOut[r * layout.outputPadded + o] = random() * 2 - 1;
      const objective = (w: Float64Array, x: Float64Array) => mlpForward(config, w, x, n).output.reduce((s, v, i) => s + v * dOut[i], 0);
      const { dWeights, dInput } = mlpBackward(config, weights, input, dOut, n);
      const realWeights = [...dWeights.keys()].filter((i) => weights[i] !== 0);
      expect(finiteDifferenceCheck((w) => objective(w, input), weights, dWeights, realWeights.filter((_, j) => j % 7 === 0), 1e-5)).toBeLessThan(1e-4);
      const realInputs = [...input.keys()].filter((i) => i % layout.inputPadded < config.inputDims);
      expect(finiteDifferenceCheck((x) => objective(weights, x), input, dInput, realInputs, 1e-5)).toBeLessThan(1e-4);
    });
  }
});

describe('losses and Adam follow tcnn', () => {
  test('L2 and RelativeL2 values and gradients', () => {
    const pred = [0.5, 0.2, 9, 1, -1, 9];
    const target = [0.25, 0.4, 0, 1];
    const l2 = lossReference('l2', pred, target, 2, 2, 3);
    expect(l2.loss).toBeCloseTo((0.0625 + 0.04 + 1 + 4) / 4, 12);
    expect(Array.from(l2.gradient)).toEqual([(2 * 0.25) / 4, (2 * -0.2) / 4, 0, (2 * 1) / 4, (2 * -2) / 4, 0].map((v) => expect.closeTo(v, 12)));
    const rel = lossReference('relative_l2', pred, target, 2, 2, 3, 8);
    expect(rel.loss).toBeCloseTo((0.0625 / 0.26 + 0.04 / 0.05 + 1 / 1.01 + 4 / 1.01) / 4, 12);
    expect(rel.gradient[0]).toBeCloseTo((8 * 2 * 0.25) / 0.26 / 4, 12);
  });

  test('Adam: bias-corrected step, L2 on matrix params, zero gradients skipped elsewhere', () => {
    const opts = { learningRate: 1e-2, beta1: 0.9, beta2: 0.99, epsilon: 1e-15, l2Reg: 0, matrix: false };
    const state = { params: Float64Array.of(1, 2), m: new Float64Array(2), v: new Float64Array(2), steps: new Uint32Array(2) };
    adamReference(state, [0.5, 0], opts);
    // first step moves by lr * sign(g) exactly
    expect(state.params[0]).toBeCloseTo(1 - 1e-2, 10);
    expect(state.params[1]).toBe(2);
    expect(Array.from(state.steps)).toEqual([1, 0]);
    const matrix = { params: Float64Array.of(1), m: new Float64Array(1), v: new Float64Array(1), steps: new Uint32Array(1) };
    adamReference(matrix, [0], { ...opts, matrix: true, l2Reg: 1e-3 });
    expect(matrix.params[0]).toBeCloseTo(1 - 1e-2, 10); // gradient = l2 * w > 0
  });
});

describe('fused MLP block choice and generated WGSL', () => {
  const limitsDefault = { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256 };
  const limitsSwiftShader = { ...limitsDefault, maxComputeWorkgroupStorageSize: 32768 };
  for (const limits of [limitsDefault, limitsSwiftShader]) {
    for (const width of [16, 32, 64, 128] as const) {
      for (const precision of ['f32', 'f16'] as const) {
        for (const [inputDims, cpu] of [[8, false], [32, false], [128, false], [8, true], [32, true], [128, true]] as const) {
          test(`${limits.maxComputeWorkgroupStorageSize} B, width ${width}, input ${inputDims}, ${precision}${cpu ? ', CPU shapes' : ''}: fits and tiles exactly`, () => {
            const config: MlpConfig = { inputDims, outputDims: 3, width, hiddenLayers: 2 };
            const layout = mlpLayout(config);
            const b = chooseFusedBlock(limits, layout, width, precision, { cpu });
            expect(b.workgroupBytes).toBeLessThanOrEqual(limits.maxComputeWorkgroupStorageSize);
            expect(b.threads).toBeLessThanOrEqual(256);
            expect(b.threads).toBe((b.rows / b.tileRows) * (width / 4 / b.tileCols));
            expect(b.tileRows * b.tileCols).toBeLessThanOrEqual(16);
            expect(b.rows % b.outputTileRows).toBe(0);
            expect(b.rows % b.inputTileRows).toBe(0);
            const code = fusedMlpWgsl(config, precision, b);
            expect(code.startsWith('enable f16;')).toBe(precision === 'f16');
            expect(code).toContain(`alias hT = ${precision};`);
            for (const fn of ['forwardLayer', 'backwardLayer', 'outputLayer', 'inputGradient', 'weightGradientTile', 'readT', 'readC']) expect(code).toContain(`fn ${fn}(`);
          });
        }
      }
    }
  }
  test('a 64-wide f32 MLP at default limits: 64 rows, 16x4 tiles, 64 threads', () => {
    const layout = mlpLayout({ inputDims: 32, outputDims: 3, width: 64, hiddenLayers: 2 });
    expect(chooseFusedBlock(limitsDefault, layout, 64, 'f32')).toMatchObject({ rows: 64, tileRows: 16, tileCols: 1, threads: 64, cacheWeights: false, workgroupBytes: 16384 });
    expect(() => chooseFusedBlock({ ...limitsDefault, maxComputeWorkgroupStorageSize: 1024 }, layout, 64, 'f32')).toThrow(/does not fit 1024 bytes/);
  });
  test('on a CPU implementation: 16 rows, 8x8 tiles, 16 threads (64 wide), 8 threads (32 wide)', () => {
    const layout = mlpLayout({ inputDims: 32, outputDims: 3, width: 64, hiddenLayers: 2 });
    expect(chooseFusedBlock(limitsDefault, layout, 64, 'f32', { cpu: true })).toMatchObject({ rows: 16, tileRows: 8, tileCols: 2, threads: 16 });
    const narrow = mlpLayout({ inputDims: 32, outputDims: 3, width: 32, hiddenLayers: 2 });
    expect(chooseFusedBlock(limitsDefault, narrow, 32, 'f32', { cpu: true })).toMatchObject({ rows: 16, tileRows: 8, tileCols: 2, threads: 8 });
  });
});

describe('tcnn spherical harmonics (degree 4)', () => {
  test('is orthonormal over the sphere (so the 16 constants are the real SH normalisations)', () => {
    // Midpoint quadrature in (cos theta, phi): exact enough for degree <= 8 products.
    const nu = 200;
    const np = 400;
    const gram = new Float64Array(256);
    for (let i = 0; i < nu; i++) {
      const z = -1 + ((i + 0.5) * 2) / nu;
      const s = Math.sqrt(1 - z * z);
      for (let j = 0; j < np; j++) {
        const phi = ((j + 0.5) * 2 * Math.PI) / np;
        const x = s * Math.cos(phi);
        const y = s * Math.sin(phi);
        const sh = shEncode4(x * 0.5 + 0.5, y * 0.5 + 0.5, z * 0.5 + 0.5);
        for (let a = 0; a < 16; a++) for (let b = 0; b < 16; b++) gram[a * 16 + b] += sh[a] * sh[b];
      }
    }
    const dA = (2 / nu) * ((2 * Math.PI) / np);
    for (let a = 0; a < 16; a++) for (let b = 0; b < 16; b++) expect(gram[a * 16 + b] * dA).toBeCloseTo(a === b ? 1 : 0, 3);
  });

  test('matches the closed forms tcnn documents for an axis direction', () => {
    // +z: only the m = 0 terms survive: Y00, Y10, Y20, Y30.
    const sh = shEncode4(0.5, 0.5, 1);
    const c = 1 / (2 * Math.sqrt(Math.PI));
    expect(sh[0]).toBeCloseTo(c, 12);
    expect(sh[2]).toBeCloseTo(Math.sqrt(3) * c, 12);
    expect(sh[6]).toBeCloseTo(Math.sqrt(5) * c, 12);
    expect(sh[12]).toBeCloseTo(Math.sqrt(7) * c, 12);
    for (const k of [1, 3, 4, 5, 7, 8, 9, 10, 11, 13, 14, 15]) expect(sh[k]).toBeCloseTo(0, 12);
  });
});

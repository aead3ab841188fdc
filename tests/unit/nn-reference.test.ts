import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { foldBatchNorm, foldBatchNormTransposed, StateDictReader, type WeightSource } from '../../src/nn/graph.ts';
import { gemmKernel, gemmTile } from '../../src/nn/ops/conv2d.ts';
import * as ref from '../../src/nn/reference.ts';
import { seededRandom as rng } from '../../src/nn/random.ts';

function randomArray(length: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length }, () => (r() * 2 - 1) * scale);
}

function random(shape: ref.HostShape, seed: number, scale = 1): ref.HostTensor {
  return { data: randomArray(shape[0] * shape[1] * shape[2] * shape[3], seed, scale), shape };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

describe('erf and activations', () => {
  test('double-precision erf matches known values', () => {
    // Abramowitz & Stegun table 7.1 / high-precision values
    expect(ref.erf(0)).toBe(0);
    expect(ref.erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(ref.erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(ref.erf(2)).toBeCloseTo(0.9953222650189527, 14);
    expect(ref.erf(3.5)).toBeCloseTo(0.9999992569016276, 14);
    expect(ref.erf(-1.3)).toBeCloseTo(-ref.erf(1.3), 15);
    expect(ref.erf(7)).toBe(1);
  });

  test("the WGSL erf's coefficients (shaders/nn_common.wgsl), evaluated in f32, stay within 1e-6 of erf", () => {
    const src = readFileSync(new URL('../../shaders/nn_common.wgsl', import.meta.url), 'utf8');
    const body = src.slice(src.indexOf('fn nn_erf'), src.indexOf('fn nn_tanh'));
    const numbers = (line: string) => [...line.matchAll(/-?\d+\.\d+e-\d+/g)].map((m) => Number(m[0]));
    const lines = body.split('\n');
    const pLines = lines.filter((l) => /\bp = fma|var p = fma/.test(l));
    const qLines = lines.filter((l) => /\bq = fma|var q = fma/.test(l));
    const p = pLines.flatMap(numbers); // highest degree first
    const q = qLines.flatMap(numbers);
    expect(p).toHaveLength(7);
    expect(q).toHaveLength(5);
    const f = Math.fround;
    const erf32 = (v: number) => {
      const x = f(Math.min(4, Math.max(-4, v)));
      const x2 = f(x * x);
      let pp = f(f(x2 * f(p[0])) + f(p[1]));
      for (const c of p.slice(2)) pp = f(f(x2 * pp) + f(c));
      pp = f(x * pp);
      let qq = f(f(x2 * f(q[0])) + f(q[1]));
      for (const c of q.slice(2)) qq = f(f(x2 * qq) + f(c));
      return f(pp / qq);
    };
    let worst = 0;
    for (let x = -8; x <= 8; x += 1 / 1024) worst = Math.max(worst, Math.abs(erf32(x) - ref.erf(x)));
    expect(worst).toBeLessThan(1e-6);
    // GELU built on it: error bounded by |x| / 2 * 1e-6
    let geluWorst = 0;
    for (let x = -10; x <= 10; x += 1 / 256) geluWorst = Math.max(geluWorst, Math.abs(0.5 * x * (1 + erf32(x * Math.SQRT1_2)) - ref.activate(x, 'gelu')));
    expect(geluWorst).toBeLessThan(5e-6);
  });

  test('activations', () => {
    expect(ref.activate(-2, 'relu')).toBe(0);
    expect(ref.activate(7, 'relu6')).toBe(6);
    expect(ref.activate(-2, 'leaky_relu', 0.1)).toBeCloseTo(-0.2, 15);
    expect(ref.activate(0, 'sigmoid')).toBe(0.5);
    expect(ref.activate(1, 'gelu')).toBeCloseTo(0.8413447460685429, 14);
  });
});

describe('BatchNorm folding', () => {
  test('conv then BN equals the folded conv (with and without conv bias, grouped and depthwise)', () => {
    const configs = [
      { cin: 6, cout: 8, k: 3, groups: 1, bias: true, pad: 1 },
      { cin: 6, cout: 8, k: 1, groups: 1, bias: false, pad: 0 },
      { cin: 8, cout: 8, k: 3, groups: 8, bias: false, pad: 1 },
      { cin: 6, cout: 9, k: 3, groups: 3, bias: true, pad: 0 },
    ];
    let seed = 1;
    for (const c of configs) {
      const x = random([2, c.cin, 7, 5], seed++);
      const w = randomArray(c.cout * (c.cin / c.groups) * c.k * c.k, seed++);
      const b = c.bias ? randomArray(c.cout, seed++) : undefined;
      const gamma = randomArray(c.cout, seed++, 2);
      const beta = randomArray(c.cout, seed++);
      const mean = randomArray(c.cout, seed++);
      const variance = Float32Array.from(randomArray(c.cout, seed++), (v) => Math.abs(v) + 0.05);
      const eps = 1e-5;
      const want = ref.batchNorm(ref.conv2d(x, w, b, c.cout, c.k, { padding: c.pad, groups: c.groups }), gamma, beta, mean, variance, eps);
      const folded = foldBatchNorm(w, b, gamma, beta, mean, variance, eps);
      const got = ref.conv2d(x, folded.weight, folded.bias, c.cout, c.k, { padding: c.pad, groups: c.groups });
      expect(ref.maxRelativeError(got.data, want.data)).toBeLessThan(1e-5);
    }
  });

  test('conv_transpose then BN equals the folded conv_transpose', () => {
    const x = random([1, 5, 4, 3], 40);
    const w = randomArray(5 * 6 * 16, 41);
    const b = randomArray(6, 42);
    const gamma = randomArray(6, 43);
    const beta = randomArray(6, 44);
    const mean = randomArray(6, 45);
    const variance = Float32Array.from(randomArray(6, 46), (v) => v * v + 0.1);
    const want = ref.batchNorm(ref.convTranspose2d(x, w, b, 6, 4, { stride: 2, padding: 1 }), gamma, beta, mean, variance);
    const f = foldBatchNormTransposed(w, 5, b, gamma, beta, mean, variance);
    const got = ref.convTranspose2d(x, f.weight, f.bias, 6, 4, { stride: 2, padding: 1 });
    expect(ref.maxRelativeError(got.data, want.data)).toBeLessThan(1e-5);
  });

  test('mismatched BN shapes are refused', () => {
    const one = new Float32Array(4);
    expect(() => foldBatchNorm(new Float32Array(12), undefined, one, one, one, new Float32Array(3))).toThrow(/running_var/);
    expect(() => foldBatchNorm(new Float32Array(10), undefined, one, one, one, one)).toThrow(/does not split/);
  });
});

describe('state dict reader', () => {
  const entry = (shape: number[], seed: number): WeightSource => {
    const data = randomArray(shape.reduce((a, b) => a * b, 1), seed);
    return { shape, toFloat32: () => data };
  };
  test('shape-checked reads, optional keys, unused keys', () => {
    const sd = new Map<string, WeightSource>([
      ['conv.weight', entry([8, 4, 3, 3], 1)],
      ['conv.bias', entry([8], 2)],
      ['bn.num_batches_tracked', entry([], 3)],
    ]);
    const r = new StateDictReader(sd);
    expect(r.get('conv.weight', [8, -1, 3, 3]).shape).toEqual([8, 4, 3, 3]);
    expect(() => r.get('conv.weight', [8, 4, 1, 1])).toThrow(/expected \[8, 4, 1, 1\]/);
    expect(() => r.get('missing')).toThrow(/no 'missing'/);
    expect(r.optional('conv.nope')).toBeUndefined();
    expect(r.unused()).toEqual(['conv.bias', 'bn.num_batches_tracked']);
    const plain = new StateDictReader({ 'a.weight': entry([2], 4) });
    expect(plain.get('a.weight').data).toHaveLength(2);
  });
});

describe('CPU references', () => {
  test('conv2d: identity kernel, grouped conv equals per-group convs, output sizes', () => {
    const x = random([1, 3, 5, 6], 50);
    const id = new Float32Array(3 * 3 * 9);
    for (let c = 0; c < 3; c++) id[(c * 3 + c) * 9 + 4] = 1;
    expect(ref.conv2d(x, id, undefined, 3, 3, { padding: 1 }).data).toEqual(x.data);
    const w = randomArray(4 * 2 * 9, 51);
    const x4 = random([1, 4, 5, 5], 52);
    const grouped = ref.conv2d(x4, w, undefined, 4, 3, { groups: 2, padding: 1 });
    const g0 = ref.conv2d(ref.sliceChannels(x4, 0, 2), w.subarray(0, 36), undefined, 2, 3, { padding: 1 });
    const g1 = ref.conv2d(ref.sliceChannels(x4, 2, 2), w.subarray(36), undefined, 2, 3, { padding: 1 });
    expect(ref.maxRelativeError(grouped.data, ref.concat([g0, g1]).data)).toBeLessThan(1e-6);
    expect(ref.convOutSize(256, 3, 2, 1)).toBe(128);
    expect(ref.convTransposeOutSize(100, 4, 2, 1)).toBe(200);
    expect(ref.convTransposeOutSize(25, 3, 3, 0)).toBe(75);
  });

  test('conv_transpose2d is the adjoint of conv2d with the same weight', () => {
    for (const [k, s, p, op, h] of [[4, 2, 1, 0, 8], [3, 3, 0, 0, 9], [3, 2, 1, 1, 8], [5, 1, 2, 0, 6]] as const) {
      const cin = 3;
      const cout = 4;
      const w = randomArray(cout * cin * k * k, 60 + k); // conv: [cout, cin, k, k] = conv_transpose: [in = cout, out = cin, k, k]
      const x = random([1, cin, h, h], 61);
      const y0 = ref.conv2d(x, w, undefined, cout, k, { stride: s, padding: p });
      const y = random(y0.shape, 62);
      const xt = ref.convTranspose2d(y, w, undefined, cin, k, { stride: s, padding: p, outputPadding: op });
      expect(xt.shape).toEqual(x.shape);
      const lhs = dot(y0.data, y.data);
      expect(Math.abs(lhs - dot(x.data, xt.data))).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs)));
    }
  });

  test('grid_sample: identity grids reproduce the input; zeros padding fades outside; border clamps', () => {
    const x = random([1, 2, 4, 5], 70);
    const zero = ref.hostTensor([1, 2, 4, 5]);
    const gridAlign = ref.applyOffset(zero); // align_corners=True pixel grid
    expect(ref.maxRelativeError(ref.gridSample(x, gridAlign, { alignCorners: true }).data, x.data)).toBeLessThan(1e-6);
    const gridCenters = ref.hostTensor([1, 4, 5, 2], (i) => {
      const d = i % 2;
      const p = Math.floor(i / 2);
      const px = p % 5;
      const py = Math.floor(p / 5);
      return d === 0 ? ((px + 0.5) / 5) * 2 - 1 : ((py + 0.5) / 4) * 2 - 1;
    });
    expect(ref.maxRelativeError(ref.gridSample(x, gridCenters, { alignCorners: false }).data, x.data)).toBeLessThan(1e-6);
    const far = ref.hostTensor([1, 1, 1, 2], (i) => (i === 0 ? 3 : -3));
    expect(Array.from(ref.gridSample(x, far, { padding: 'zeros', alignCorners: true }).data)).toEqual([0, 0]);
    // border: far top-right -> input (0, W-1)
    const b = ref.gridSample(x, far, { padding: 'border', alignCorners: true });
    expect(b.data[0]).toBeCloseTo(x.data[4], 6);
    expect(b.data[1]).toBeCloseTo(x.data[20 + 4], 6);
  });

  test('correlation: the zero displacement channel is the channel mean of the product', () => {
    const a = random([1, 3, 4, 4], 80);
    const out = ref.correlation(a, a);
    for (let p = 0; p < 16; p++) {
      const want = (a.data[p] ** 2 + a.data[16 + p] ** 2 + a.data[32 + p] ** 2) / 3;
      expect(out.data[24 * 16 + p]).toBeCloseTo(want, 6);
    }
    // displacement (dy=-3, dx=-3) at pixel (0, 0) reads outside: zero
    expect(out.data[0]).toBe(0);
  });

  test('upsample and pooling', () => {
    const x = random([1, 1, 2, 3], 90);
    const near = ref.upsample(x, 4, 6, 'nearest');
    expect(near.data[0]).toBe(x.data[0]);
    expect(near.data[7]).toBe(x.data[0]);
    expect(near.data[23]).toBe(x.data[5]);
    const al = ref.upsample(x, 5, 7, 'bilinear', true);
    expect(al.data[0]).toBeCloseTo(x.data[0], 6);
    expect(al.data[34]).toBeCloseTo(x.data[5], 6);
    const mean = x.data.reduce((s, v) => s + v, 0) / 6;
    expect(ref.adaptiveAvgPool(x, 1, 1).data[0]).toBeCloseTo(mean, 6);
  });

  test('try-on composite: the mask picks cloth or rendered person', () => {
    const gen = ref.hostTensor([1, 4, 1, 2], (i) => (i === 6 ? 50 : i === 7 ? -50 : 0.5));
    const cloth = ref.hostTensor([1, 3, 1, 2], 0.25);
    const edge = ref.hostTensor([1, 1, 1, 2], 1);
    const { tryOn } = ref.tryOnComposite(gen, cloth, edge);
    expect(tryOn.data[0]).toBeCloseTo(0.25, 6); // m = 1: cloth
    expect(tryOn.data[1]).toBeCloseTo(Math.tanh(0.5), 6); // m = 0: rendered
  });
});

describe('GEMM kernel variants', () => {
  test('every tile fits WebGPU default limits (16 KiB workgroup storage, 256 invocations)', () => {
    for (const bm of [16, 32, 64] as const) {
      for (const f16 of [false, true]) {
        const t = gemmTile(bm, f16);
        expect(t.workgroupBytes).toBeLessThanOrEqual(16384);
        expect((t.bm / 4) * (t.bn / 4)).toBe(256);
        expect(t.bk % 4).toBe(0);
        const { code, key } = gemmKernel({ mode: 0, bm, f16 });
        expect(code.startsWith(f16 ? 'enable f16;' : 'alias T = f32;')).toBe(true);
        expect(key).toContain(f16 ? 'f16' : 'f32');
      }
    }
  });
});

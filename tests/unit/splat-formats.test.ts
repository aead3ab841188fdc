/**
 * Gaussian scene readers and writers against files from an independent writer
 * (tests/fixtures/make_splat_fixtures.py: numpy/struct packing from the format descriptions,
 * torch.save for the checkpoints), with tolerances fitting each format's quantisation;
 * exact 4D PLY round trips; bakeStaticAt against brute-force 4D densities built from the
 * official covariance formulas; and bad inputs, each a clear Error.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SH_C0, shCoefficients, validateScene, type GaussianScene } from '../../src/formats/gaussian-scene.ts';
import { bakeStaticAt, covariance4, readGaussian4dPly, symmetricEigen3, writeGaussian4dPly, writeInriaPly } from '../../src/formats/gaussian4d-ply.ts';
import { MAX_PLY_HEADER_BYTES, readPly, readPlyColumns, readPlyList, requireElement, writePly } from '../../src/formats/ply.ts';
import { decodeGaussianScene } from '../../src/formats/scene-loader.ts';
import { readSplat, writeSplat } from '../../src/formats/splat.ts';
import { readSplatPly } from '../../src/formats/splat-ply.ts';
import { readSpz } from '../../src/formats/spz.ts';

const PYTHON = process.env.SPLAT_PYTHON ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../fixtures/make_splat_fixtures.py', import.meta.url));

type Expected = Record<string, number | string | number[] | Record<string, unknown>> & {
  count: number;
  positions: number[];
  scales: number[];
  opacities: number[];
  sh: number[];
  rotations?: number[];
  tol?: Record<string, number>;
  decoded?: Record<string, number[]>;
};

let dir = '';
let expected: Record<string, Expected> & { all_types: { values: Record<string, number[]>; lists: number[][]; ids: number[]; w: number[] }; bake: Record<'yang' | 'rotor', Expected & { sigma: number[]; folded?: Record<string, number[]> }> };
const file = (name: string): Uint8Array => {
  if (!existsSync(join(dir, name))) {
    throw new Error(`fixture ${name} was not written: the checkpoint fixtures need PyTorch importable by ${PYTHON} (Debian's python3-torch)`);
  }
  return new Uint8Array(readFileSync(join(dir, name)));
};
const has = (name: string): boolean => existsSync(join(dir, name));

beforeAll(() => {
  const probe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    throw new Error(`${PYTHON} cannot import numpy (${(probe.error?.message ?? probe.stderr ?? '').trim().split('\n').pop()}): install Debian's python3-numpy (python3-torch for the checkpoint fixtures)`);
  }
  dir = mkdtempSync(join(tmpdir(), 'splat-fixtures-'));
  try {
    execFileSync(PYTHON, [SCRIPT, dir], { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`make_splat_fixtures.py failed: ${err.stderr || err.message}`);
  }
  expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
}, 180_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---- comparison helpers -------------------------------------------------------------------

/** Every |a−e| ≤ abs + rel·|e|; reports the first failure with its index. */
function expectClose(actual: ArrayLike<number>, want: ArrayLike<number>, abs: number, rel: number, label: string): void {
  expect(actual.length, `${label}: length`).toBe(want.length);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(actual[i] - want[i]) - rel * Math.abs(want[i]);
    if (!(err <= abs) && (worst < 0 || err > worstErr || Number.isNaN(err))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0) expect.fail(`${label}[${worst}] = ${actual[worst]}, expected ${want[worst]} (±${abs} + ${rel}·|e|)`);
}

/** Quaternions equal up to sign. */
function expectQuaternions(actual: ArrayLike<number>, want: ArrayLike<number>, abs: number, label: string): void {
  expect(actual.length).toBe(want.length);
  const flipped = Array.from(want);
  for (let i = 0; i < want.length; i += 4) {
    let dot = 0;
    for (let c = 0; c < 4; c++) dot += actual[i + c] * want[i + c];
    if (dot < 0) for (let c = 0; c < 4; c++) flipped[i + c] = -want[i + c];
  }
  expectClose(actual, flipped, abs, 0, label);
}

/** Full-precision comparison of a reader's scene with a float32-exact expectation. */
function expectScene(scene: GaussianScene, e: Expected, rel = 2e-7): void {
  validateScene(scene);
  expect(scene.kind).toBe(e.kind);
  expect(scene.count).toBe(e.count);
  expect(scene.shDegree).toBe(e.shDegree);
  expect(scene.shDegreeT).toBe(e.shDegreeT);
  expectClose(scene.positions, e.positions, 1e-7, rel, 'positions');
  expectClose(scene.scales, e.scales, 1e-30, 1e-6, 'scales');
  expectClose(scene.opacities, e.opacities, 1e-7, 1e-6, 'opacities');
  expectClose(scene.sh, e.sh, 1e-7, rel, 'sh');
  if (e.rotations) expectClose(scene.rotations, e.rotations, 1e-6, 0, 'rotations');
}

/** A reader's scene against quantised data: exact decode tightly, the original within tolerance. */
function expectQuantised(scene: GaussianScene, e: Expected): void {
  validateScene(scene);
  const d = e.decoded!;
  const tol = e.tol!;
  expect(scene.count).toBe(e.count);
  expect(scene.shDegree).toBe(e.shDegree);
  expectClose(scene.positions, d.positions, 1e-5, 1e-6, 'decoded positions');
  expectClose(scene.scales, d.scales, 1e-9, 1e-5, 'decoded scales');
  expectQuaternions(scene.rotations, d.rotations, 1e-5, 'decoded rotations');
  expectClose(scene.opacities, d.opacities, 1e-6, 0, 'decoded opacities');
  expectClose(scene.sh, d.sh, 1e-5, 1e-6, 'decoded sh');
  // Against the original values, within the quantisation steps.
  expectClose(scene.positions, e.positions, tol.positions, 0, 'positions');
  expectClose(Array.from(scene.scales, Math.log), e.scales.map(Math.log), tol.log_scales, 0, 'log scales');
  if (tol.rotations) expectQuaternions(scene.rotations, e.rotations!, tol.rotations, 'rotations');
  if (tol.opacities) expectClose(scene.opacities, e.opacities, tol.opacities, 0, 'opacities');
  const k = shCoefficients(scene);
  const dc = (a: ArrayLike<number>) => Array.from({ length: scene.count * 3 }, (_, j) => a[Math.floor(j / 3) * k * 3 + (j % 3)]);
  const rest = (a: ArrayLike<number>) => Array.from(a).filter((_, j) => j % (k * 3) >= 3);
  expectClose(dc(scene.sh), dc(e.sh), tol.dc, 0, 'f_dc');
  if (k > 1) expectClose(rest(scene.sh), rest(e.sh), tol.sh, 0, 'f_rest');
}

function sceneFromExpected(e: Expected): GaussianScene {
  const f = (k: string) => (e[k] ? Float32Array.from(e[k] as number[]) : undefined);
  const scene: GaussianScene = {
    kind: e.kind as GaussianScene['kind'],
    count: e.count,
    shDegree: e.shDegree as number,
    shDegreeT: e.shDegreeT as number,
    positions: f('positions')!,
    scales: f('scales')!,
    rotations: f('rotations') ?? new Float32Array(0),
    opacities: f('opacities')!,
    sh: f('sh')!,
    source: 'fixture',
  };
  if (e.times) scene.times = f('times');
  if (e.timeScales) scene.timeScales = f('timeScales');
  if (e.rotationsRight) scene.rotationsRight = f('rotationsRight');
  if (e.rotors) scene.rotors = f('rotors');
  if (e.timeRange) scene.timeRange = e.timeRange as unknown as [number, number];
  return scene;
}

/** Runs fn, expecting an Error whose message matches `pattern`. */
function expectError(fn: () => unknown, pattern: RegExp): Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected an error matching ${pattern}`).toBeInstanceOf(Error);
  expect((caught as Error).message).toMatch(pattern);
  return caught as Error;
}

const latin1 = (b: Uint8Array, n = b.length) => Array.from(b.subarray(0, n), (c) => String.fromCharCode(c)).join('');
/** Replaces text in a PLY header (same length keeps the body aligned). */
function patchHeader(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const end = latin1(bytes, 4096).indexOf('end_header\n') + 11;
  const head = latin1(bytes, end);
  expect(head.includes(from), `header has ${from}`).toBe(true);
  const patched = head.replace(from, to);
  const out = new Uint8Array(patched.length + bytes.length - end);
  for (let i = 0; i < patched.length; i++) out[i] = patched.charCodeAt(i);
  out.set(bytes.subarray(end), patched.length);
  return out;
}

// ---- readers against the independent writer ----------------------------------------------------

describe('INRIA 3DGS PLY', () => {
  test.each([0, 1, 2, 3])('SH degree %i detected from the f_rest count, values activated and transposed', (degree) => {
    const name = `inria_sh${degree}.ply`;
    const scene = decodeGaussianScene(file(name), name);
    expect(scene.source).toContain(name);
    expectScene(scene, expected[name]);
  });

  test('big-endian, shuffled property order, double positions, extra properties and a face element with lists', () => {
    expectScene(decodeGaussianScene(file('inria_sh3_be.ply'), 'inria_sh3_be.ply'), expected['inria_sh3_be.ply']);
  });

  test('nerfstudio export (SH 3) and its SH-0 colors quirk (one uchar declared, three written)', () => {
    const s3 = decodeGaussianScene(file('nerfstudio_sh3.ply'), 'nerfstudio_sh3.ply');
    expectScene(s3, expected['nerfstudio_sh3.ply']);
    expect(s3.source).toContain('nerfstudio');
    const s0 = decodeGaussianScene(file('nerfstudio_sh0_colors.ply'), 'nerfstudio_sh0_colors.ply');
    expectScene(s0, expected['nerfstudio_sh0_colors.ply'], 1e-6);
  });

  test('progress is reported every 64k Gaussians, non-decreasing, ending at 1', () => {
    const n = 200_000;
    const scene: GaussianScene = {
      kind: 'static',
      count: n,
      shDegree: 0,
      shDegreeT: 0,
      positions: new Float32Array(n * 3).map((_, i) => i * 0.001),
      scales: new Float32Array(n * 3).fill(0.01),
      rotations: new Float32Array(n * 4).map((_, i) => (i % 4 === 0 ? 1 : 0)),
      opacities: new Float32Array(n).fill(0.5),
      sh: new Float32Array(n * 3).fill(0.25),
      source: 'synthetic',
    };
    const fractions: number[] = [];
    const read = decodeGaussianScene(writeInriaPly(scene), 'big.ply', (f) => fractions.push(f));
    expect(read.count).toBe(n);
    expect(fractions.length).toBeGreaterThanOrEqual(4);
    expect(fractions.at(-1)).toBe(1);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]);
  });
});

describe('generic PLY reader', () => {
  test.each(['le', 'be'])('every scalar type and list properties (%s)', (endian) => {
    const ply = readPly(file(`all_types_${endian}.ply`));
    expect(ply.littleEndian).toBe(endian === 'le');
    const thing = requireElement(ply, 'thing');
    const want = expected.all_types;
    for (const [name, values] of Object.entries(want.values)) {
      const out = new Float64Array(thing.count);
      readPlyColumns(ply, thing, [{ property: name, out }]);
      expect(Array.from(out), name).toEqual(values);
    }
    const poly = requireElement(ply, 'poly');
    expect(poly.rowBytes).toBe(-1);
    const idx = readPlyList(ply, poly, 'idx');
    expect(Array.from({ length: poly.count }, (_, i) => Array.from(idx.values.subarray(idx.offsets[i], idx.offsets[i + 1])))).toEqual(want.lists);
    expect(Array.from(readPlyList(ply, poly, 'id').values)).toEqual(want.ids);
    expect(Array.from(readPlyList(ply, poly, 'w').values)).toEqual(want.w);
    expect(ply.trailingBytes).toBe(0);
  });

  test('writePly output reads back through readPly (all types, both byte orders)', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 20 }), fc.boolean(), (vals, le) => {
        const n = vals.length;
        const ints = vals.map((_, i) => (i * 37) % 120);
        const bytes = writePly([{ name: 'v', count: n, properties: [{ name: 'f', type: 'float32', data: vals }, { name: 'd', type: 'float64', data: vals }, { name: 'c', type: 'int8', data: ints }, { name: 'u', type: 'uint32', data: ints }] }], { littleEndian: le, comments: ['hello'] });
        const ply = readPly(bytes);
        expect(ply.comments).toEqual(['hello']);
        const v = requireElement(ply, 'v');
        const f = new Float32Array(n);
        const d = new Float64Array(n);
        const c = new Int8Array(n);
        readPlyColumns(ply, v, [{ property: 'f', out: f }, { property: 'd', out: d }, { property: 'c', out: c }]);
        expect(Array.from(f)).toEqual(vals.map(Math.fround));
        expect(Array.from(d)).toEqual(vals);
        expect(Array.from(c)).toEqual(ints);
      }),
      { numRuns: 50 },
    );
  });
});

describe('PlayCanvas compressed PLY', () => {
  test('18-float chunks with an SH degree 2 element', () => {
    const scene = decodeGaussianScene(file('compressed_sh2.ply'), 'compressed_sh2.ply');
    expect(scene.source).toContain('compressed');
    expectQuantised(scene, expected['compressed_sh2.ply']);
  });
  test('12-float chunks (no colour range), no SH element', () => {
    const scene = decodeGaussianScene(file('compressed_12.ply'), 'compressed_12.ply');
    expect(scene.shDegree).toBe(0);
    expectQuantised(scene, expected['compressed_12.ply']);
  });
});

describe('antimatter15 .splat', () => {
  test('reads convert.py output (truncating quantisation)', () => {
    const e = expected['scene.splat'];
    const scene = decodeGaussianScene(file('scene.splat'), 'scene.splat');
    validateScene(scene);
    expect(scene.count).toBe(e.count);
    expectClose(scene.positions, e.positions, 0, 1e-7, 'positions');
    expectClose(scene.scales, e.scales, 0, 1e-6, 'scales');
    expectClose(scene.opacities, e.opacities, e.tol!.opacities, 0, 'opacities');
    expectClose(scene.sh, e.sh, e.tol!.dc, 0, 'f_dc');
    expectQuaternions(scene.rotations, e.rotations!, e.tol!.rotations, 'rotations');
  });

  test('writer: sorted like convert.py, reads back within one quantisation step', () => {
    const original = readSplat(file('scene.splat'));
    const again = readSplat(writeSplat(original, { sort: false }));
    expect(again.positions).toEqual(original.positions);
    expect(again.scales).toEqual(original.scales);
    expectClose(again.sh, original.sh, 1e-6, 0, 'f_dc');
    expectClose(again.opacities, original.opacities, 1e-7, 0, 'opacity');
    expectQuaternions(again.rotations, original.rotations, 0.02, 'rotations');
    const shuffled = writeSplat({ ...original, positions: original.positions.slice(), opacities: original.opacities.slice().reverse() }, { sort: true });
    const reread = readSplat(shuffled);
    for (let i = 1; i < reread.count; i++) {
      const v = (j: number) => reread.scales[j * 3] * reread.scales[j * 3 + 1] * reread.scales[j * 3 + 2] * reread.opacities[j];
      expect(v(i)).toBeLessThanOrEqual(v(i - 1) * (1 + 1e-2) + 1e-6);
    }
  });
});

describe('Niantic SPZ', () => {
  test.each(['scene_v1.spz', 'scene_v2.spz', 'scene_v3.spz', 'scene_v4.spz', 'scene_v4_sh0.spz', 'scene_v4_rdf.spz'])('%s', (name) => {
    const scene = decodeGaussianScene(file(name), name);
    expectQuantised(scene, expected[name]);
  });

  test('SH degree 4 is read with the degree-4 band dropped', () => {
    const scene = decodeGaussianScene(file('scene_v4_sh4.spz'), 'scene_v4_sh4.spz');
    expect(scene.shDegree).toBe(3);
    expect(scene.source).toMatch(/degree 4 dropped/);
    expectQuantised(scene, expected['scene_v4_sh4.spz']);
  });

  test('v4 streams compressed by the zstd tool (when the fixture machine has it)', (ctx) => {
    if (!has('scene_v4_zstdcli.spz')) ctx.skip();
    expectQuantised(readSpz(file('scene_v4_zstdcli.spz')), expected['scene_v4_zstdcli.spz']);
  });

  test('a gzip SPZ under another name is still recognised', () => {
    expect(decodeGaussianScene(file('scene_v3.spz'), 'download.gz').count).toBe(expected['scene_v3.spz'].count);
  });
});

// ---- PyTorch checkpoints ---------------------------------------------------------------------

describe('PyTorch checkpoints', () => {
  test('Yang chkpnt*.pth capture tuple → yang4d, activations applied, time range guessed', () => {
    const scene = decodeGaussianScene(file('chkpnt7000.pth'), 'chkpnt7000.pth');
    const e = expected['chkpnt7000.pth'];
    expectScene(scene, e);
    expectClose(scene.rotationsRight!, e.rotationsRight as number[], 1e-6, 0, 'rotationsRight');
    expectClose(scene.times!, e.times as number[], 0, 0, 'times');
    expectClose(scene.timeScales!, e.timeScales as number[], 0, 1e-6, 'timeScales');
    expect(scene.timeRange).toEqual([0, 10]);
    expect(scene.source).toMatch(/guessed/);
  });

  test('4D-Rotor step-*.ckpt → rotor4d with raw (unnormalised) rotors', () => {
    const scene = decodeGaussianScene(file('step-000029999.ckpt'), 'step-000029999.ckpt');
    const e = expected['step-000029999.ckpt'];
    expectScene(scene, e);
    expect(Array.from(scene.rotors!)).toEqual((e.rotors as number[]).map(Math.fround));
    expect(scene.timeRange).toEqual([0, 1]);
  });

  test('a 3D capture tuple and a nerfstudio splatfacto checkpoint → static scenes', () => {
    expectScene(decodeGaussianScene(file('chkpnt_3d.pth'), 'chkpnt_3d.pth'), expected['chkpnt_3d.pth']);
    expectScene(decodeGaussianScene(file('splatfacto.ckpt'), 'splatfacto.ckpt'), expected['splatfacto.ckpt']);
  });

  test('a model trained without rot_4d is refused with the reason', () => {
    expectError(() => decodeGaussianScene(file('chkpnt_no_rot4d.pth'), 'chkpnt_no_rot4d.pth'), /^chkpnt_no_rot4d\.pth: .*rot_4d = False/);
  });
});

// ---- 4D PLY round trip and baking ------------------------------------------------------------

describe('gaussian4d PLY', () => {
  const arrays = ['positions', 'scales', 'rotations', 'opacities', 'sh', 'times', 'timeScales', 'rotationsRight', 'rotors'] as const;
  const expectSame = (a: GaussianScene, b: GaussianScene) => {
    expect(a.kind).toBe(b.kind);
    expect(a.count).toBe(b.count);
    expect([a.shDegree, a.shDegreeT]).toEqual([b.shDegree, b.shDegreeT]);
    expect(a.timeRange).toEqual(b.timeRange);
    for (const k of arrays) {
      if (b[k] === undefined || (k === 'rotations' && b.kind === 'rotor4d')) continue;
      expect(a[k], k).toEqual(b[k]);
    }
  };

  test.each(['yang', 'rotor'] as const)('%s: scene → file → scene is exact, and file → scene → file identical', (which) => {
    const scene = sceneFromExpected(expected.bake[which]);
    // Exactly unit quaternions in float32 are what a reader produces; use the reader's own normalisation.
    const bytes = writeGaussian4dPly(scene, { source: 'round trip test' });
    const read = decodeGaussianScene(bytes, `${which}.ply`);
    validateScene(read);
    expectSame(read, scene);
    expect(read.source).toBe(`${which}.ply: round trip test`);
    expect(writeGaussian4dPly(read, { source: 'round trip test' })).toEqual(bytes);
  });

  test('random scenes, including opacity 0/1 and zero scales, round-trip exactly', () => {
    const f32 = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });
    const pos = fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(1e-30), max: 1e6 });
    const unitF = fc.float({ noNaN: true, min: 0, max: 1 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.constantFrom('yang4d', 'rotor4d'), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 }), fc.integer(), (n, kind, d, dtRaw, seed) => {
        const dt = kind === 'yang4d' ? dtRaw : 0;
        const k = (d + 1) ** 2 * (dt + 1);
        const rnd = fc.sample(fc.tuple(fc.array(f32, { minLength: n * (3 + 8 + k * 3 + 1), maxLength: n * (3 + 8 + k * 3 + 1) }), fc.array(pos, { minLength: n * 4, maxLength: n * 4 }), fc.array(unitF, { minLength: n, maxLength: n })), { seed, numRuns: 1 })[0];
        const [free, scalesRaw, ops] = rnd;
        let at = 0;
        const take = (m: number) => Float32Array.from(free.slice(at, (at += m)));
        const q = (m: number) => {
          const a = take(m * 4);
          for (let i = 0; i < m; i++) {
            const l = Math.hypot(a[i * 4], a[i * 4 + 1], a[i * 4 + 2], a[i * 4 + 3]);
            if (l === 0) a.set([1, 0, 0, 0], i * 4);
            else for (let c = 0; c < 4; c++) a[i * 4 + c] /= l;
          }
          // What a reader produces: normalised, then rounded to float32 (stable under re-reading).
          return a;
        };
        const scales = Float32Array.from(scalesRaw.slice(0, n * 3));
        scales[0] = 0;
        const opacities = Float32Array.from(ops);
        opacities[0] = 1;
        if (n > 1) opacities[1] = 0;
        const scene: GaussianScene = {
          kind: kind as 'yang4d' | 'rotor4d',
          count: n,
          shDegree: d,
          shDegreeT: dt,
          positions: take(n * 3),
          scales,
          rotations: kind === 'yang4d' ? q(n) : new Float32Array(0),
          opacities,
          sh: take(n * k * 3),
          times: take(n),
          timeScales: Float32Array.from(scalesRaw.slice(n * 3)),
          timeRange: [-1.5, 2.25],
          source: 'random',
        };
        if (kind === 'yang4d') scene.rotationsRight = q(n);
        else scene.rotors = take(n * 8);
        const once = readGaussian4dPly(writeGaussian4dPly(scene));
        const twice = readGaussian4dPly(writeGaussian4dPly(once));
        expectSame(twice, once);
        for (const key of ['positions', 'scales', 'opacities', 'sh', 'times', 'timeScales', 'rotors'] as const) {
          if (scene[key]) expect(once[key], key).toEqual(scene[key]);
        }
        if (kind === 'yang4d') expectClose(once.rotations, scene.rotations, 2e-7, 0, 'rotations');
      }),
      { numRuns: 60 },
    );
  });

  test('a missing time range, an unknown kind and an SH count that fits no degree are clear errors', () => {
    const bytes = writeGaussian4dPly(sceneFromExpected(expected.bake.rotor));
    expectError(() => decodeGaussianScene(patchHeader(bytes, 'comment time_range 0 1', 'comment xxxx_range 0 1'), 'x.ply'), /no 'comment time_range/);
    expectError(() => decodeGaussianScene(patchHeader(bytes, 'kind rotor4d', 'kind rotor5d'), 'x.ply'), /unknown kind 'rotor5d'/);
    expectError(() => decodeGaussianScene(patchHeader(bytes, 'sh_degree 3', 'sh_degree 2'), 'x.ply'), /SH degree 2\/0 but there are 16 coefficients/);
  });
});

describe('bakeStaticAt', () => {
  /** Inverse of a symmetric positive definite 4×4 by Gauss-Jordan (test-only, doubles). */
  function inverse(m: number[], size: number): number[] {
    const a = Array.from({ length: size }, (_, r) => [...m.slice(r * size, r * size + size), ...Array.from({ length: size }, (_, c) => (r === c ? 1 : 0))]);
    for (let c = 0; c < size; c++) {
      let p = c;
      for (let r = c + 1; r < size; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
      [a[c], a[p]] = [a[p], a[c]];
      const inv = 1 / a[c][c];
      for (let j = 0; j < 2 * size; j++) a[c][j] *= inv;
      for (let r = 0; r < size; r++) {
        if (r === c) continue;
        const f = a[r][c];
        for (let j = 0; j < 2 * size; j++) a[r][j] -= f * a[c][j];
      }
    }
    return a.flatMap((row) => row.slice(size));
  }
  const quad = (inv: number[], v: number[]) => v.reduce((s, vi, r) => s + vi * v.reduce((t, vj, c) => t + inv[r * v.length + c] * vj, 0), 0);
  /** INRIA build_rotation(q) · diag(s²) · build_rotation(q)ᵀ, independent of the code under test. */
  function cov3(q: ArrayLike<number>, s: ArrayLike<number>): number[] {
    const [w, x, y, z] = [q[0], q[1], q[2], q[3]];
    const R = [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y), 2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x), 2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)];
    const out: number[] = [];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) out.push(R[r * 3] * R[c * 3] * s[0] ** 2 + R[r * 3 + 1] * R[c * 3 + 1] * s[1] ** 2 + R[r * 3 + 2] * R[c * 3 + 2] * s[2] ** 2);
    return out;
  }

  test.each(['yang', 'rotor'] as const)('%s: 4D covariance equals the official formula (numpy)', (which) => {
    const e = expected.bake[which];
    const scene = sceneFromExpected(e);
    for (let i = 0; i < scene.count; i++) {
      const sigma = covariance4(scene, i);
      const want = e.sigma.slice(i * 16, i * 16 + 16);
      const scale = Math.max(...want.map(Math.abs));
      expectClose(sigma, want, 2e-6 * scale, 0, `Σ of Gaussian ${i}`);
    }
  });

  test.each([
    ['yang', 0],
    ['yang', 2.5],
    ['yang', 7.25],
    ['rotor', 0.1],
    ['rotor', 0.6],
    ['rotor', 2.5],
  ] as const)('%s at t=%s: density × opacity equals the 4D density at t; culling; folded SH', (which, t) => {
    const e = expected.bake[which];
    const scene = sceneFromExpected(e);
    const baked = bakeStaticAt(scene, t);
    validateScene(baked);
    expect(baked.kind).toBe('static');
    expect(baked.shDegree).toBe(3);
    let o = 0;
    let rng = 12345;
    const rand = () => ((rng = (rng * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    for (let i = 0; i < scene.count; i++) {
      const S = e.sigma.slice(i * 16, i * 16 + 16);
      const dt = t - scene.times![i];
      const tshift = (0.5 * dt * dt) / S[15];
      const alive = which === 'yang' ? Math.exp(-tshift) > 0.05 : tshift < 16;
      if (!alive) continue;
      const inv4 = inverse(S, 4);
      const mean = [0, 1, 2].map((c) => baked.positions[o * 3 + c]);
      const C = cov3(baked.rotations.subarray(o * 4, o * 4 + 4), baked.scales.subarray(o * 3, o * 3 + 3));
      const inv3 = inverse(C, 3);
      const spread = Math.sqrt(Math.max(C[0], C[4], C[8]));
      for (let p = 0; p < 8; p++) {
        const x = mean.map((m) => m + rand() * spread * 1.5);
        const g4 = scene.opacities[i] * Math.exp(-0.5 * quad(inv4, [x[0] - scene.positions[i * 3], x[1] - scene.positions[i * 3 + 1], x[2] - scene.positions[i * 3 + 2], dt]));
        const g3 = baked.opacities[o] * Math.exp(-0.5 * quad(inv3, [x[0] - mean[0], x[1] - mean[1], x[2] - mean[2]]));
        expect(Math.abs(g3 - g4), `Gaussian ${i} point ${p}: baked ${g3} vs 4D ${g4}`).toBeLessThanOrEqual(2e-4 * Math.max(g4, 1e-3) + 1e-7);
      }
      if (which === 'yang') {
        const folded = e.folded![String(t)];
        expectClose(baked.sh.subarray(o * 48, o * 48 + 48), folded.slice(i * 48, i * 48 + 48), 1e-5, 1e-5, `folded SH of Gaussian ${i}`);
      } else {
        expectClose(baked.sh.subarray(o * 48, o * 48 + 48), e.sh.slice(i * 48, i * 48 + 48), 0, 0, `SH of Gaussian ${i}`);
      }
      o++;
    }
    expect(baked.count).toBe(o);
    expect(o).toBeGreaterThan(0);
    // Yang's 0.05 cull drops some at every one of these times; 4D-Rotor's e^-16 only far away.
    if (which === 'yang' || t > 2) expect(o).toBeLessThan(scene.count);
  });

  test('the baked scene as an INRIA PLY reads back as the same static scene', () => {
    const baked = bakeStaticAt(sceneFromExpected(expected.bake.yang), 2.5);
    const read = readSplatPly(writeInriaPly(baked));
    expect(read.count).toBe(baked.count);
    expectClose(read.positions, baked.positions, 0, 0, 'positions');
    expectClose(read.scales, baked.scales, 1e-30, 1e-6, 'scales');
    expectClose(read.opacities, baked.opacities, 1e-7, 1e-6, 'opacities');
    expectClose(read.sh, baked.sh, 0, 0, 'sh');
    expectQuaternions(read.rotations, baked.rotations, 1e-6, 'rotations');
  });

  test('a static scene is returned as is; 4D scenes need baking before writeInriaPly', () => {
    const s = readSplat(file('scene.splat'));
    expect(bakeStaticAt(s, 3)).toBe(s);
    expectError(() => writeInriaPly(sceneFromExpected(expected.bake.yang)), /bake it at a time first/);
  });

  test('symmetricEigen3 reconstructs the matrix with a proper rotation', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: 9, maxLength: 9 }), (v) => {
        const a = new Float64Array([v[0] * v[0] + v[1] * v[1] + 0.1, v[2], v[3], v[2], v[4] * v[4] + 0.2, v[5], v[3], v[5], v[6] * v[6] + 0.3]);
        // Make it SPD: AᵀA + I.
        const m = new Float64Array(9);
        for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) m[r * 3 + c] += a[k * 3 + r] * a[k * 3 + c];
        for (let i = 0; i < 3; i++) m[i * 4] += 0.01;
        const values = new Float64Array(3);
        const vectors = new Float64Array(9);
        symmetricEigen3(m, values, vectors);
        const det = vectors[0] * (vectors[4] * vectors[8] - vectors[5] * vectors[7]) - vectors[1] * (vectors[3] * vectors[8] - vectors[5] * vectors[6]) + vectors[2] * (vectors[3] * vectors[7] - vectors[4] * vectors[6]);
        expect(det).toBeCloseTo(1, 9);
        for (let r = 0; r < 3; r++) {
          for (let c = 0; c < 3; c++) {
            let s = 0;
            for (let k = 0; k < 3; k++) s += vectors[r * 3 + k] * values[k] * vectors[c * 3 + k];
            expect(s).toBeCloseTo(m[r * 3 + c], 9);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

// ---- bad inputs ------------------------------------------------------------------------------

describe('bad input: clear errors', () => {
  const cutPoints = (length: number, count = 40): number[] => {
    const out = new Set<number>([0, 1, 2, 3, 4, 7, 15, 16, 31, 33, length - 1, length - 2, length - 17]);
    for (let i = 0; i < count; i++) out.add(Math.floor(((i + 0.5) / count) * length));
    return [...out].filter((c) => c >= 0 && c < length).sort((a, b) => a - b);
  };
  const TRUNCATED = /truncated|not a whole number|shorter than|runs past|ends before|is empty|corrupt|not an SPZ|not a Gaussian scene|no end_header|holds no/;

  test.each(['inria_sh3.ply', 'inria_sh3_be.ply', 'compressed_sh2.ply', 'scene.splat', 'scene_v2.spz', 'scene_v3.spz', 'scene_v4.spz', 'nerfstudio_sh0_colors.ply'])('%s truncated at many points', (name) => {
    const bytes = file(name);
    for (const cut of cutPoints(bytes.length)) {
      if (name.endsWith('.splat') && cut > 0 && cut % 32 === 0) continue; // a shorter valid file
      const err = expectError(() => decodeGaussianScene(bytes.subarray(0, cut), name), TRUNCATED);
      expect(err.message.startsWith(`${name}: `)).toBe(true);
    }
  });

  test('4D PLY truncated at many points', () => {
    const bytes = writeGaussian4dPly(sceneFromExpected(expected.bake.yang));
    for (const cut of cutPoints(bytes.length)) expectError(() => decodeGaussianScene(bytes.subarray(0, cut), 'x.ply'), TRUNCATED);
  });

  test('a header claiming 10^9 vertices on a small file is rejected at once, before allocating', () => {
    const bytes = patchHeader(file('inria_sh0.ply'), 'element vertex 257', 'element vertex 1000000000');
    const t0 = performance.now();
    expectError(() => decodeGaussianScene(bytes, 'huge.ply'), /truncated: element 'vertex' declares 1000000000 rows of 68 bytes/);
    expect(performance.now() - t0).toBeLessThan(50);
    // Compressed and list elements too.
    expectError(() => decodeGaussianScene(patchHeader(file('compressed_sh2.ply'), 'element vertex 600', 'element vertex 999999999'), 'c.ply'), /truncated/);
    expectError(() => decodeGaussianScene(patchHeader(file('inria_sh3_be.ply'), 'element face 7', 'element face 9999999999'), 'f.ply'), /truncated: element 'face' declares 9999999999 rows/);
  });

  test('missing and duplicate properties name the property', () => {
    expectError(() => decodeGaussianScene(patchHeader(file('inria_sh1.ply'), 'float opacity', 'float opacitx'), 'a.ply'), /missing property 'opacity'/);
    expectError(() => decodeGaussianScene(patchHeader(file('inria_sh1.ply'), 'float scale_1', 'float scale_0'), 'a.ply'), /duplicate property 'scale_0' in element 'vertex'/);
    expectError(() => decodeGaussianScene(patchHeader(file('inria_sh1.ply'), 'float f_rest_4\n', 'float f_rest_x\n'), 'a.ply'), /no 'f_rest_4'/);
    expectError(() => decodeGaussianScene(patchHeader(file('inria_sh1.ply'), 'float f_rest_8\n', 'float g_rest_8\n'), 'a.ply'), /8 f_rest_\* properties; a 3DGS PLY has 0, 9, 24 or 45/);
    expectError(() => decodeGaussianScene(patchHeader(file('compressed_sh2.ply'), 'element chunk 3', 'element chunk 2'), 'c.ply'), /truncated|2 chunks for 600 splats/);
  });

  test('NaN and Inf values: an error naming the property and the row', () => {
    const bytes = file('inria_sh0.ply');
    const end = latin1(bytes, 4096).indexOf('end_header\n') + 11;
    const nan = bytes.slice();
    new DataView(nan.buffer).setFloat32(end + 5 * 68 + 0, NaN, true); // row 5, x
    expectError(() => decodeGaussianScene(nan, 'nan.ply'), /element 'vertex' row 5: property 'x' is NaN/);
    const inf = bytes.slice();
    // INRIA order: x y z nx ny nz f_dc_0..2 opacity scale_0 → byte 40 is scale_0.
    new DataView(inf.buffer).setFloat32(end + 9 * 68 + 40, -Infinity, true);
    expectError(() => decodeGaussianScene(inf, 'inf.ply'), /row 9: property 'scale_0' is -Infinity/);
    const big = bytes.slice();
    new DataView(big.buffer).setFloat32(end + 2 * 68 + 44, 1000, true); // scale_1 = 1000: exp overflows
    expectError(() => decodeGaussianScene(big, 'big.ply'), /Gaussian 2 has log-scale 1000, whose exp overflows/);
    const names = ['x', 'y', 'z', 'opacity', 'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3', 'f_dc_0', 'f_dc_1', 'f_dc_2'];
    const doubles = writePly([{ name: 'vertex', count: 2, properties: names.map((p) => ({ name: p, type: 'float64' as const, data: p === 'y' ? [0, 1e300] : [0.5, 0.5] })) }]);
    expectError(() => decodeGaussianScene(doubles, 'd.ply'), /row 1: property 'y' = 1e\+300 is beyond the float32 range/);
    const splat = file('scene.splat').slice();
    new DataView(splat.buffer).setFloat32(3 * 32 + 16, NaN, true);
    expectError(() => decodeGaussianScene(splat, 'nan.splat'), /splat 3 has NaN scale_1/);
  });

  test('ASCII PLY, an oversized header and unknown header lines', () => {
    const ascii = new TextEncoder().encode('ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1.0\n');
    expectError(() => decodeGaussianScene(ascii, 'a.ply'), /ASCII PLY is not supported; convert to binary/);
    const long = new TextEncoder().encode(`ply\nformat binary_little_endian 1.0\n${'comment padding padding padding\n'.repeat(MAX_PLY_HEADER_BYTES / 16)}`);
    expectError(() => decodeGaussianScene(long, 'long.ply'), /header is larger than 64 KiB/);
    const weird = new TextEncoder().encode('ply\nformat binary_little_endian 1.0\nelement vertex 0\nbogus line\nend_header\n');
    expectError(() => decodeGaussianScene(weird, 'w.ply'), /header line 4: unknown line "bogus line"/);
    const noFormat = new TextEncoder().encode('ply\nelement vertex 0\nend_header\n');
    expectError(() => decodeGaussianScene(noFormat, 'n.ply'), /no 'format' line/);
    const badType = new TextEncoder().encode('ply\nformat binary_little_endian 1.0\nelement vertex 0\nproperty float16 x\nend_header\n');
    expectError(() => decodeGaussianScene(badType, 'b.ply'), /unknown property type "float16"/);
  });

  test('SPZ: wrong versions, absurd counts, corrupt gzip and zstd', () => {
    const v4 = file('scene_v4.spz');
    const v5 = v4.slice();
    new DataView(v5.buffer).setUint32(4, 5, true);
    expectError(() => decodeGaussianScene(v5, 'v5.spz'), /unsupported version 5/);
    const v2inNgsp = v4.slice();
    new DataView(v2inNgsp.buffer).setUint32(4, 2, true);
    expectError(() => decodeGaussianScene(v2inNgsp, 'v2.spz'), /unsupported version 2: an uncompressed NGSP header must be version 4/);
    const huge = v4.slice();
    new DataView(huge.buffer).setUint32(8, 2_000_000_000, true);
    const t0 = performance.now();
    expectError(() => decodeGaussianScene(huge, 'huge.spz'), /claims 2000000000 Gaussians, more than a \d+-byte file can hold/);
    expect(performance.now() - t0).toBeLessThan(50);
    const more = v4.slice();
    new DataView(more.buffer).setUint32(8, 151, true);
    expectError(() => decodeGaussianScene(more, 'more.spz'), /decompresses to \d+ bytes; 151 Gaussians need/);
    // A raw block header turned into the reserved block type 3.
    const badZstd = v4.slice();
    const tocEnd = 32 + 6 * 16;
    badZstd[tocEnd + 9] |= 0x06;
    expectError(() => decodeGaussianScene(badZstd, 'z.spz'), /zstd stream 'positions' is corrupt/);
    // Legacy: version 7 inside gzip, and corrupted deflate data.
    const gz = file('scene_v3.spz');
    const inner = spawnSync(PYTHON, ['-c', 'import gzip,sys; d=bytearray(gzip.decompress(sys.stdin.buffer.read())); d[4]=7; sys.stdout.buffer.write(gzip.compress(bytes(d)))'], { input: gz });
    expectError(() => decodeGaussianScene(new Uint8Array(inner.stdout), 'v7.spz'), /unsupported version 7 \(this reader handles versions 1-4\)/);
    const corrupt = gz.slice();
    for (let i = 20; i < 60; i++) corrupt[i] ^= 0xa5;
    expectError(() => decodeGaussianScene(corrupt, 'c.spz'), /gzip data is corrupt|decompresses|inflates|truncated|unsupported|no NGSP/);
    const notSpz = spawnSync(PYTHON, ['-c', 'import gzip,sys; sys.stdout.buffer.write(gzip.compress(b"hello world, not a scene"))']);
    expectError(() => decodeGaussianScene(new Uint8Array(notSpz.stdout), 'hello.gz'), /does not hold an SPZ scene/);
  });

  test('files that are not scenes say what they are', () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
    expectError(() => decodeGaussianScene(png, 'photo.png'), /^photo\.png: this is a PNG image \(\.png\), not a Gaussian scene/);
    expectError(() => decodeGaussianScene(new Uint8Array(0), 'empty.ply'), /^empty\.ply: the file is empty/);
    expectError(() => decodeGaussianScene(new Uint8Array(100).fill(7), 'x.splat'), /not a whole number of 32-byte splats/);
    expectError(() => decodeGaussianScene(new Uint8Array(100).fill(7), 'mystery.bin'), /not a PyTorch checkpoint/);
    expectError(() => decodeGaussianScene(new Uint8Array(100).fill(7), 'mystery.xyz'), /not a Gaussian scene this player reads/);
  });
});

describe('SH_C0', () => {
  test('matches the constant the formats use', () => {
    expect(SH_C0).toBe(0.28209479177387814);
  });
});

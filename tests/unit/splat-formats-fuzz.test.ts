/**
 * Fuzzing the Gaussian scene readers: random bytes, random PLY headers, and mutated real
 * files (from tests/fixtures/make_splat_fixtures.py). Every input must give a valid scene
 * with finite values or throw an Error with a message of our own, quickly, and never trip
 * an engine limit (a failed allocation, an invalid typed-array length or an out-of-bounds
 * DataView read means a length was trusted before it was checked).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { GaussianScene } from '../../src/formats/gaussian-scene.ts';
import { writeGaussian4dPly } from '../../src/formats/gaussian4d-ply.ts';
import { decodeGaussianScene } from '../../src/formats/scene-loader.ts';

const PYTHON = process.env.SPLAT_PYTHON ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../fixtures/make_splat_fixtures.py', import.meta.url));

let dir = '';
const files = new Map<string, Uint8Array>();

const FIXTURES = [
  'inria_sh1.ply',
  'inria_sh3_be.ply',
  'nerfstudio_sh0_colors.ply',
  'compressed_sh2.ply',
  'compressed_12.ply',
  'scene.splat',
  'scene_v1.spz',
  'scene_v2.spz',
  'scene_v3.spz',
  'scene_v4.spz',
  'scene_v4_rdf.spz',
  'chkpnt7000.pth',
  'step-000029999.ckpt',
];

beforeAll(() => {
  const probe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${PYTHON} cannot import numpy: install Debian's python3-numpy (python3-torch for the checkpoint fixtures)`);
  dir = mkdtempSync(join(tmpdir(), 'splat-fuzz-'));
  try {
    execFileSync(PYTHON, [SCRIPT, dir], { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`make_splat_fixtures.py failed: ${err.stderr || err.message}`);
  }
  for (const name of FIXTURES) {
    if (!existsSync(join(dir, name))) throw new Error(`fixture ${name} was not written (the checkpoint fixtures need PyTorch importable by ${PYTHON}: Debian's python3-torch)`);
    files.set(name, new Uint8Array(readFileSync(join(dir, name))));
  }
  // A 4D PLY from our writer (tiny, with temporal SH).
  const n = 5;
  const k = 4 * 2;
  const scene: GaussianScene = {
    kind: 'yang4d',
    count: n,
    shDegree: 1,
    shDegreeT: 1,
    positions: new Float32Array(n * 3).map((_, i) => i * 0.1),
    scales: new Float32Array(n * 3).fill(0.1),
    rotations: new Float32Array(n * 4).map((_, i) => (i % 4 === 0 ? 1 : 0)),
    rotationsRight: new Float32Array(n * 4).map((_, i) => (i % 4 === 1 ? 1 : 0)),
    opacities: new Float32Array(n).fill(0.7),
    sh: new Float32Array(n * k * 3).map((_, i) => Math.sin(i)),
    times: new Float32Array(n).map((_, i) => i),
    timeScales: new Float32Array(n).fill(0.5),
    timeRange: [0, 5],
    source: 'fuzz',
  };
  files.set('4d.ply', writeGaussian4dPly(scene));
}, 180_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ENGINE_LIMIT = /allocation failed|Invalid typed array length|Invalid array buffer length|Array buffer allocation|Maximum call stack|Invalid array length|Invalid string length|outside the bounds|out of bounds|Cannot read properties|is not a function|is not iterable|undefined/;

/** One input: a valid, finite scene, or an Error of our own (a hang fails by the test timeout). */
function survives(bytes: Uint8Array, name: string): void {
  let scene: GaussianScene | null = null;
  try {
    scene = decodeGaussianScene(bytes, name);
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    const msg = (e as Error).message;
    expect(msg.startsWith(`${name}: `), msg).toBe(true);
    expect(msg.length).toBeGreaterThan(name.length + 4);
    expect(msg).not.toMatch(ENGINE_LIMIT);
  }
  if (scene) {
    for (const key of ['positions', 'scales', 'rotations', 'opacities', 'sh', 'times', 'timeScales', 'rotationsRight', 'rotors'] as const) {
      const a: Float32Array | undefined = scene[key];
      if (!a) continue;
      for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) expect.fail(`${name}: ${key}[${i}] = ${a[i]} after a successful read`);
    }
    for (let i = 0; i < scene.count; i++) expect(scene.opacities[i] >= 0 && scene.opacities[i] <= 1, `opacity ${scene.opacities[i]}`).toBe(true);
  }
}

const NAMES = ['scene.ply', 'scene.splat', 'scene.spz', 'model.pth', 'step.ckpt', 'scene.gz', 'scene.bin', 'noext'];
const enc = new TextEncoder();
const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

describe('random bytes', () => {
  test('any bytes under any name', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.constantFrom(...NAMES), (bytes, name) => survives(bytes, name)),
      { numRuns: 400 },
    );
  });

  test('random bytes behind each magic', () => {
    const magics = [
      enc.encode('ply\nformat binary_little_endian 1.0\n'),
      enc.encode('ply\nformat binary_big_endian 1.0\nelement vertex 3\n'),
      Uint8Array.from([0x4e, 0x47, 0x53, 0x50, 4, 0, 0, 0]),
      Uint8Array.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3]),
      Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd]),
      Uint8Array.from([0x50, 0x4b, 0x03, 0x04]),
    ];
    fc.assert(
      fc.property(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 2048 }), fc.constantFrom('a.ply', 'a.spz', 'a.pth'), (magic, rest, name) => survives(concat(magic, rest), name)),
      { numRuns: 400 },
    );
  });
});

describe('random PLY headers', () => {
  const types = ['char', 'uchar', 'short', 'ushort', 'int', 'uint', 'float', 'double', 'float16', 'int64'];
  const names = ['x', 'y', 'z', 't', 'opacity', 'scale_0', 'scale_1', 'scale_2', 'scale_t', 'rot_0', 'rot_1', 'rot_2', 'rot_3', 'f_dc_0', 'f_dc_1', 'f_dc_2', 'f_rest_0', 'red', 'colors', 'packed_position', 'packed_rotation', 'packed_scale', 'packed_color', 'min_x', 'rot_r_0', 'rotor_0'];
  const property = fc.oneof(
    fc.tuple(fc.constantFrom(...types), fc.constantFrom(...names)).map(([t, n]) => `property ${t} ${n}`),
    fc.tuple(fc.constantFrom(...types), fc.constantFrom(...types), fc.constantFrom(...names)).map(([c, t, n]) => `property list ${c} ${t} ${n}`),
  );
  const element = fc.tuple(fc.constantFrom('vertex', 'chunk', 'sh', 'face'), fc.oneof(fc.nat(300), fc.constantFrom(0, 1, 256, 1e9, 4294967296, 1e15, 1e20)), fc.array(property, { maxLength: 20 })).map(([n, c, p]) => [`element ${n} ${c}`, ...p].join('\n'));
  const comment = fc.constantFrom('comment gaussian4d 1', 'comment gaussian4d kind yang4d', 'comment gaussian4d kind rotor4d', 'comment time_range 0 10', 'comment sh_degree 1 sh_degree_t 1', 'comment hello', 'obj_info x');
  test('random elements, properties, counts and bodies', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('binary_little_endian', 'binary_big_endian', 'ascii', 'binary_middle_endian'),
        fc.array(comment, { maxLength: 4 }),
        fc.array(element, { minLength: 1, maxLength: 3 }),
        fc.uint8Array({ maxLength: 3000 }),
        (format, comments, elements, body) => {
          const header = ['ply', `format ${format} 1.0`, ...comments, ...elements, 'end_header', ''].join('\n');
          survives(concat(enc.encode(header), body), 'fuzz.ply');
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('mutated real files', () => {
  const mutate = (bytes: Uint8Array, edits: [number, number][], cut: number | null, insert: [number, Uint8Array] | null): Uint8Array => {
    let out: Uint8Array = bytes.slice();
    for (const [at, v] of edits) out[at % out.length] = v;
    if (insert) {
      const at = insert[0] % (out.length + 1);
      out = concat(out.subarray(0, at), insert[1], out.subarray(at));
    }
    if (cut !== null) out = out.subarray(0, cut % (out.length + 1));
    return out;
  };
  const edit = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 });

  test.each([...FIXTURES, '4d.ply'])('%s', (name) => {
    const bytes = files.get(name)!;
    const runs = name.endsWith('.pth') || name.endsWith('.ckpt') ? 60 : 250;
    fc.assert(
      fc.property(edit, fc.option(fc.nat(), { nil: null }), fc.option(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })), { nil: null }), (edits, cut, insert) => {
        survives(mutate(bytes, edits, cut, insert), name);
      }),
      { numRuns: runs },
    );
  });

  test('header-targeted edits of PLY files (counts, types, names)', () => {
    const plys = ['inria_sh1.ply', 'compressed_sh2.ply', '4d.ply', 'inria_sh3_be.ply'];
    const swaps: [string, string][] = [
      ['float', 'double'],
      ['float', 'uchar'],
      ['uint', 'int'],
      ['uchar', 'float'],
      ['vertex 257', 'vertex 4294967295'],
      ['vertex 600', 'vertex 601'],
      ['chunk 3', 'chunk 0'],
      ['element sh', 'element xx'],
      ['opacity', 'opaque'],
      ['f_rest_0', 'f_rest_9'],
      ['time_range 0 5', 'time_range 5 0'],
      ['sh_degree_t 1', 'sh_degree_t 9'],
      ['kind yang4d', 'kind rotor4d'],
      ['binary_big_endian', 'binary_little_endian'],
      ['end_header', 'end_headex'],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...plys), fc.subarray(swaps, { minLength: 1, maxLength: 3 }), (name, chosen) => {
        const bytes = files.get(name)!;
        const text = Array.from(bytes.subarray(0, Math.min(bytes.length, 8192)), (c) => String.fromCharCode(c)).join('');
        const end = text.indexOf('end_header\n') + 11;
        let head = text.slice(0, end);
        for (const [a, b] of chosen) head = head.split(a).join(b);
        survives(concat(Uint8Array.from(head, (c) => c.charCodeAt(0)), bytes.subarray(end)), name);
      }),
      { numRuns: 300 },
    );
  });
});

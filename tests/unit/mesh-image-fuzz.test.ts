/**
 * Fuzzing the mesh readers (OBJ, binary PLY meshes for the NSDF app) and the image header
 * probe: random and mutated inputs give a valid mesh / plausible dimensions or an Error of
 * our own, never an engine error from trusting a length, and never an allocation the file
 * cannot justify (a header claiming 10^9 faces on a few bytes is refused before reading).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseObj, type TriangleMesh } from '../../src/formats/obj.ts';
import { writePly } from '../../src/formats/ply.ts';
import { imageDimensions } from '../../src/formats/sniff.ts';
import { meshFromPly } from '../../src/demos/ngp/nsdf.ts';

const ENGINE_LIMIT = /allocation failed|Invalid typed array length|Invalid array buffer length|Array buffer allocation|Maximum call stack|Invalid array length|Invalid string length|outside the bounds|out of bounds|Cannot read properties|is not a function|is not iterable/;

function validMesh(mesh: TriangleMesh): void {
  const vertices = mesh.positions.length / 3;
  expect(Number.isInteger(vertices)).toBe(true);
  expect(mesh.indices.length % 3).toBe(0);
  expect(mesh.indices.length).toBeGreaterThan(0);
  for (const i of mesh.indices) expect(i).toBeLessThan(vertices);
  for (const p of mesh.positions) expect(Number.isFinite(p)).toBe(true);
}

function survives(read: () => TriangleMesh, name: string): void {
  let mesh: TriangleMesh | null = null;
  try {
    mesh = read();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    const msg = (e as Error).message;
    expect(msg).toContain(name);
    expect(msg).not.toMatch(ENGINE_LIMIT);
  }
  if (mesh) validMesh(mesh);
}

const CUBE = ['v 0 0 0', 'v 1 0 0', 'v 1 1 0', 'v 0 1 0', 'v 0 0 1', 'v 1 0 1', 'v 1 1 1', 'v 0 1 1', 'f 1 2 3 4', 'f 5 8 7 6', 'f 1 5 6 2', 'f 2/1 6/2 7/3 3/4', 'f 3//1 7//1 8//1 4//1', 'f -8 -4 -1 -5', 'vt 0 0', 'vn 0 0 1', '# comment', 'usemtl x'].join('\n');

describe('OBJ', () => {
  test('random statements from the OBJ vocabulary', () => {
    const token = fc.constantFrom('v', 'f', 'vt', 'vn', 'o', 'g', '#', '1', '2', '-1', '0', '3.5', '1e308', '1e309', 'nan', 'inf', '-0', '1/2', '1//3', '2/3/4', '/', '//', ' ', '\t', '\r', '999999999999', '-999999999');
    const line = fc.array(token, { maxLength: 8 }).map((t) => t.join(' '));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 40 }), (lines) => survives(() => parseObj(lines.join('\n'), 'fuzz.obj'), 'fuzz.obj')),
      { numRuns: 600, seed: 11 },
    );
  });

  test('mutated valid OBJ (byte edits, cuts, insertions)', () => {
    const base = new TextEncoder().encode(CUBE);
    validMesh(parseObj(base, 'cube.obj'));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(base.length), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(base.length), (edits, cut) => {
        const bytes = base.slice(0, Math.max(1, cut));
        for (const [at, byte] of edits) if (at < bytes.length) bytes[at] = byte;
        survives(() => parseObj(bytes, 'cube.obj'), 'cube.obj');
      }),
      { numRuns: 600, seed: 12 },
    );
  });

  test('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => survives(() => parseObj(bytes, 'bytes.obj'), 'bytes.obj')), { numRuns: 400, seed: 13 });
  });
});

describe('PLY meshes', () => {
  const enc = new TextEncoder();
  const header = (vertices: number, faces: number, listType = 'uchar int') =>
    enc.encode(`ply\nformat binary_little_endian 1.0\nelement vertex ${vertices}\nproperty float x\nproperty float y\nproperty float z\nelement face ${faces}\nproperty list ${listType} vertex_indices\nend_header\n`);
  const concat = (a: Uint8Array, b: Uint8Array) => {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  const tetra = writePly([
    { name: 'vertex', count: 4, properties: [{ name: 'x', type: 'float32', data: new Float32Array([0, 1, 0, 0]) }, { name: 'y', type: 'float32', data: new Float32Array([0, 0, 1, 0]) }, { name: 'z', type: 'float32', data: new Float32Array([0, 0, 0, 1]) }] },
  ]);

  test('headers claiming more vertices or faces than the bytes hold are refused', () => {
    for (const [v, f] of [[1e9, 1], [3, 1e9], [2 ** 31, 2 ** 31]]) {
      survives(() => meshFromPly(concat(header(v, f), new Uint8Array(64)), 'huge.ply'), 'huge.ply');
      expect(() => meshFromPly(concat(header(v, f), new Uint8Array(64)), 'huge.ply')).toThrow();
    }
  });

  test('random counts, list types and bodies', () => {
    const listType = fc.constantFrom('uchar int', 'uchar uint', 'int int', 'ushort int', 'uchar float', 'char short');
    fc.assert(
      fc.property(fc.nat(40), fc.nat(40), listType, fc.uint8Array({ maxLength: 1024 }), (v, f, lt, body) => survives(() => meshFromPly(concat(header(v, f, lt), body), 'mesh.ply'), 'mesh.ply')),
      { numRuns: 600, seed: 14 },
    );
  });

  test('a point cloud without faces is refused by name', () => {
    expect(() => meshFromPly(tetra, 'points.ply')).toThrow(/points\.ply.*no faces/);
  });
});

describe('image headers', () => {
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 1, 0, 0, 0, 0, 200, 8, 6, 0, 0, 0]);

  test('random bytes behind each image magic never throw and give whole, non-negative sizes', () => {
    const magic = fc.constantFrom(png.slice(0, 8), Uint8Array.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61]), Uint8Array.from([0x42, 0x4d]), Uint8Array.from([0xff, 0xd8, 0xff]), new TextEncoder().encode('RIFF\0\0\0\0WEBP'), new Uint8Array(0));
    fc.assert(
      fc.property(magic, fc.uint8Array({ maxLength: 300 }), (head, rest) => {
        const bytes = new Uint8Array(head.length + rest.length);
        bytes.set(head);
        bytes.set(rest, head.length);
        const dims = imageDimensions(bytes);
        if (dims) for (const d of [dims.width, dims.height]) expect(Number.isInteger(d) && d >= 0).toBe(true);
      }),
      { numRuns: 2000, seed: 15 },
    );
  });

  test('a PNG header is read exactly; one claiming 2^31 pixels a side is reported as such (the decoder refuses it before decoding)', () => {
    expect(imageDimensions(png)).toEqual({ width: 256, height: 200 });
    const huge = png.slice();
    huge.set([0x80, 0, 0, 0], 16);
    expect(imageDimensions(huge)).toEqual({ width: 2 ** 31, height: 200 });
  });
});

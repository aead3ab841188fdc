import { describe, expect, it } from 'vitest';
import { parseObj } from '../../src/formats/obj.ts';

describe('parseObj', () => {
  it('reads vertices and triangulates polygons (fans), ignoring other records', () => {
    const mesh = parseObj(
      ['# a quad and a triangle', 'mtllib x.mtl', 'o thing', 'v 0 0 0', 'v 1 0 0 1.0', 'v 1 1 0', 'v 0 1 0', 'vt 0 0', 'vn 0 0 1', 's off', 'f 1/1/1 2/1/1 3/1/1 4/1/1', 'f 1//1 3//1 4//1  # tail'].join('\r\n'),
    );
    expect(Array.from(mesh.positions)).toEqual([0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0]);
    expect(Array.from(mesh.indices)).toEqual([0, 1, 2, 0, 2, 3, 0, 2, 3]);
  });

  it('resolves negative indices relative to the vertices read so far', () => {
    const mesh = parseObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nf -3 -2 -1\nv 0 0 1\nf -1 -2 -4\n');
    expect(Array.from(mesh.indices)).toEqual([0, 1, 2, 3, 2, 0]);
  });

  it('reads bytes as UTF-8 and grows past its initial buffers', () => {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(`v ${i} ${i * 2} ${-i}`);
    for (let i = 1; i + 2 <= 3000; i++) lines.push(`f ${i} ${i + 1} ${i + 2}`);
    const mesh = parseObj(new TextEncoder().encode(lines.join('\n')));
    expect(mesh.positions.length).toBe(9000);
    expect(mesh.indices.length).toBe(2998 * 3);
    expect(mesh.positions[2999 * 3 + 1]).toBe(5998);
  });

  it('refuses meshes without faces or vertices, and bad records, naming the line', () => {
    expect(() => parseObj('v 0 0 0\nv 1 0 0\nv 0 1 0\n', 'pts.obj')).toThrow(/pts\.obj: .*no faces/);
    expect(() => parseObj('# nothing\n', 'empty.obj')).toThrow(/no vertices/);
    expect(() => parseObj('')).toThrow(/no vertices/);
    expect(() => parseObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n')).toThrow(/line 4: face index 4 is out of range/);
    expect(() => parseObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n')).toThrow(/index 0/);
    expect(() => parseObj('v 0 0 0\nv 1 0 0\nf 1 2\n')).toThrow(/at least 3 vertices/);
    expect(() => parseObj('v 0 nan 0\n')).toThrow(/line 1: .*not a finite number/);
    expect(() => parseObj('v 0 0\n')).toThrow(/needs x y z/);
    expect(() => parseObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 x\n')).toThrow(/not an integer/);
    expect(() => parseObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nf -4 1 2\n')).toThrow(/out of range/);
  });

  it('enforces limits', () => {
    expect(() => parseObj('v 0 0 0\nv 1 0 0\nv 0 1 0\n', 'x', { maxVertices: 2 })).toThrow(/more than 2 vertices/);
    expect(() => parseObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3 4\n', 'x', { maxTriangles: 1 })).toThrow(/more than 1 triangles/);
  });

  it('never throws anything but Error on random bytes', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const alphabet = 'vf 0123456789-/.#\n\r\teE+x';
    for (let trial = 0; trial < 300; trial++) {
      let s = '';
      const n = Math.floor(random() * 200);
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(random() * alphabet.length)];
      try {
        const mesh = parseObj(s);
        for (const i of mesh.indices) expect(i).toBeLessThan(mesh.positions.length / 3);
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
      }
    }
  });
});

describe('mesh signed distance (NSDF targets)', async () => {
  const { meshSdf, normalizeMesh, triangleSoup, builtinShapeSdf } = await import('../../src/demos/ngp/sdf-geometry.ts');
  const cube = () =>
    parseObj(['v -1 -1 -1', 'v 1 -1 -1', 'v 1 1 -1', 'v -1 1 -1', 'v -1 -1 1', 'v 1 -1 1', 'v 1 1 1', 'v -1 1 1', 'f 1 4 3 2', 'f 5 6 7 8', 'f 1 2 6 5', 'f 2 3 7 6', 'f 3 4 8 7', 'f 4 1 5 8'].join('\n'));

  it('gives exact signed distances to a cube (inside negative), either face orientation', async () => {
    for (const flip of [false, true]) {
      const mesh = normalizeMesh(cube(), 0.4); // half side 0.4
      if (flip) for (let i = 0; i < mesh.indices.length; i += 3) [mesh.indices[i + 1], mesh.indices[i + 2]] = [mesh.indices[i + 2], mesh.indices[i + 1]];
      const points = new Float32Array([0, 0, 0, 0.3, 0, 0, 0.45, 0, 0, 0.5, 0.5, 0, 0, -0.39, 0]);
      const sdf = await meshSdf(triangleSoup(mesh), points);
      expect(sdf[0]).toBeCloseTo(-0.4, 5);
      expect(sdf[1]).toBeCloseTo(-0.1, 5);
      expect(sdf[2]).toBeCloseTo(0.05, 5);
      expect(sdf[3]).toBeCloseTo(Math.hypot(0.1, 0.1), 5);
      expect(sdf[4]).toBeCloseTo(-0.01, 5);
    }
  });

  it('refuses a degenerate mesh; the built-in shape is inside at its centre and outside at the corners', () => {
    expect(() => normalizeMesh(parseObj('v 1 1 1\nv 1 1 1\nv 1 1 1\nf 1 2 3\n'))).toThrow(/no extent/);
    expect(builtinShapeSdf(0, 0.1, 0)).toBeLessThan(0);
    expect(builtinShapeSdf(0.5, 0.5, 0.5)).toBeGreaterThan(0.2);
  });
});

import { expect, test } from 'vitest';
import { orbitPose, ORBIT_DISTANCE, syntheticPly, syntheticScene } from '../../src/app/bench/synthetic-scene.ts';
import { decodeGaussianScene } from '../../src/formats/scene-loader.ts';
import { parsePlyHeader } from '../../src/formats/ply.ts';

const INRIA_SH3 = [
  'x', 'y', 'z', 'nx', 'ny', 'nz', 'f_dc_0', 'f_dc_1', 'f_dc_2',
  ...Array.from({ length: 45 }, (_, i) => `f_rest_${i}`),
  'opacity', 'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3',
];

test('the benchmark .ply is a standard INRIA SH3 binary little-endian file, 248 bytes per Gaussian', () => {
  const bytes = syntheticPly(1000, 7);
  const header = parsePlyHeader(bytes);
  expect(header.format).toBe('binary_little_endian');
  expect(header.elements.map((e) => e.name)).toEqual(['vertex']);
  const vertex = header.elements[0];
  expect(vertex.count).toBe(1000);
  expect(vertex.properties.map((p) => p.name)).toEqual(INRIA_SH3);
  expect(vertex.properties.every((p) => p.type === 'float32')).toBe(true);
  expect(bytes.length - header.headerBytes).toBe(1000 * 248);
});

test('same seed, same bytes; another seed, another scene', () => {
  const a = syntheticPly(500, 3);
  expect(syntheticPly(500, 3)).toEqual(a);
  expect(syntheticPly(500, 4)).not.toEqual(a);
});

test('the .ply reads back as the scene it was written from, framed for the orbit camera', () => {
  const scene = syntheticScene(2000, 5);
  const back = decodeGaussianScene(syntheticPly(2000, 5), 'bench.ply');
  expect(back.count).toBe(2000);
  expect(back.shDegree).toBe(3);
  for (let i = 0; i < 2000 * 3; i++) expect(back.positions[i]).toBeCloseTo(scene.positions[i], 5);
  for (let i = 0; i < 2000 * 48; i += 97) expect(back.sh[i]).toBeCloseTo(scene.sh[i], 5);
  for (let i = 0; i < 2000; i++) {
    expect(back.opacities[i]).toBeCloseTo(scene.opacities[i], 4);
    const r = Math.hypot(back.positions[i * 3], back.positions[i * 3 + 1], back.positions[i * 3 + 2]);
    // Everything stays well inside what the orbit camera sees.
    expect(r).toBeLessThan(1.5);
  }
  const pose = orbitPose(123, 20);
  expect(Math.hypot(...pose.position)).toBeCloseTo(ORBIT_DISTANCE, 6);
  expect(pose.target).toEqual([0, 0, 0]);
});

import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { focalFromAngle, lookAt, spherePose, toMat4 } from '../../src/demos/nelf/camera.ts';

const poses = JSON.parse(readFileSync(new URL('../../public/models/nelf/poses.json', import.meta.url), 'utf8')) as {
  focal_output: number;
  output_size: [number, number];
  poses: { azimuth_deg: number; elevation_deg: number; c2w: number[][] }[];
};

describe('light-field cameras (tools/nelf/rays.py conventions)', () => {
  test('spherePose reproduces the held-out poses PyTorch wrote', () => {
    for (const p of poses.poses) {
      const got = spherePose((p.azimuth_deg * Math.PI) / 180, (p.elevation_deg * Math.PI) / 180);
      const want = p.c2w.flat();
      for (let i = 0; i < 16; i++) expect(Math.abs(got[i] - want[i]), `az ${p.azimuth_deg} el ${p.elevation_deg} [${i}]`).toBeLessThan(2e-6);
    }
  });

  test('lookAt: orthonormal rotation, camera -z axis towards the origin', () => {
    const m = lookAt([1, -2, 3]);
    const col = (j: number) => [m[j], m[4 + j], m[8 + j]];
    const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) expect(dot(col(a), col(b))).toBeCloseTo(a === b ? 1 : 0, 6);
    const n = Math.hypot(1, -2, 3);
    expect(col(2)).toEqual([1 / n, -2 / n, 3 / n].map((v) => expect.closeTo(v, 6)));
  });

  test('focal and c2w validation', () => {
    expect(focalFromAngle(poses.output_size[1])).toBeCloseTo(poses.focal_output, 4);
    expect(toMat4([[1, 0, 0, 1], [0, 1, 0, 2], [0, 0, 1, 3]])).toEqual([1, 0, 0, 1, 0, 1, 0, 2, 0, 0, 1, 3, 0, 0, 0, 1]);
    expect(() => toMat4([1, 2, 3])).toThrow(/4x4 or 3x4/);
    expect(() => toMat4(new Array(16).fill(Number.NaN))).toThrow(/finite/);
  });
});

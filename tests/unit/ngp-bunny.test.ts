import { expect, test } from 'vitest';
import { loadBunny } from '../../src/demos/ngp/nsdf.ts';
import { meshSdf, normalizeMesh, triangleSoup } from '../../src/demos/ngp/sdf-geometry.ts';

test('the built-in Stanford bunny (npm bunny) loads, fits the unit cube and has an inside', async () => {
  const mesh = normalizeMesh(await loadBunny());
  expect(mesh.positions.length / 3).toBe(1839);
  expect(mesh.indices.length / 3).toBe(3674);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of mesh.positions) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  expect(lo).toBeGreaterThanOrEqual(-0.4 - 1e-6);
  expect(hi).toBeLessThanOrEqual(0.4 + 1e-6);
  // Body centre (the mesh is y-up; the body sits low and behind the head) is inside; corners outside.
  const soup = triangleSoup(mesh);
  const sdf = await meshSdf(soup, new Float32Array([0, -0.15, -0.05, 0.5, 0.5, 0.5, -0.5, -0.5, -0.5]));
  expect(sdf[0]).toBeLessThan(0);
  expect(sdf[1]).toBeGreaterThan(0.2);
  expect(sdf[2]).toBeGreaterThan(0.2);
});

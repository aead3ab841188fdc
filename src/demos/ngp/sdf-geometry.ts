/**
 * CPU geometry for NSDF training targets: the built-in procedural shape (analytic SDF), and
 * exact signed distances to a triangle mesh (closest point on each triangle; sign from the
 * generalised winding number, so slightly open meshes still get a sensible inside).
 * Pure TS, no DOM, no GPU.
 */
import type { TriangleMesh } from '../../formats/obj.ts';

/** Signed distance (world units, box [-0.5,0.5]^3) of the built-in shape. */
export function builtinShapeSdf(x: number, y: number, z: number): number {
  // torus around y, radius 0.24, tube 0.07
  const q = Math.hypot(x, z) - 0.24;
  const torus = Math.hypot(q, y) - 0.07;
  const s1 = Math.hypot(x, y - 0.1, z) - 0.17;
  const s2 = Math.hypot(x - 0.2, y + 0.16, z + 0.1) - 0.1;
  const s3 = Math.hypot(x + 0.16, y + 0.14, z - 0.16) - 0.09;
  const box = boxSdf(x, y - 0.3, z, 0.08, 0.05, 0.08);
  return smin(smin(smin(smin(torus, s1, 0.06), s2, 0.05), s3, 0.05), box, 0.04);
}

function boxSdf(x: number, y: number, z: number, bx: number, by: number, bz: number): number {
  const qx = Math.abs(x) - bx;
  const qy = Math.abs(y) - by;
  const qz = Math.abs(z) - bz;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0), Math.max(qz, 0)) + Math.min(Math.max(qx, qy, qz), 0);
}

/** Polynomial smooth minimum (a bound close to the true SDF of the blend). */
function smin(a: number, b: number, k: number): number {
  const h = Math.max(k - Math.abs(a - b), 0) / k;
  return Math.min(a, b) - h * h * k * 0.25;
}

/** Scales and centres a mesh into [-extent, extent]^3 (largest side), in place; returns it. */
export function normalizeMesh(mesh: TriangleMesh, extent = 0.4): TriangleMesh {
  const p = mesh.positions;
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < p.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      lo[k] = Math.min(lo[k], p[i + k]);
      hi[k] = Math.max(hi[k], p[i + k]);
    }
  }
  const size = Math.max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]);
  if (!(size > 0) || !Number.isFinite(size)) throw new Error('the mesh has no extent (all vertices coincide)');
  const scale = (2 * extent) / size;
  for (let i = 0; i < p.length; i += 3) for (let k = 0; k < 3; k++) p[i + k] = (p[i + k] - (lo[k] + hi[k]) / 2) * scale;
  return mesh;
}

/** Squared distance from p to triangle abc (Ericson, Real-Time Collision Detection 5.1.5). */
export function pointTriangleDistance2(px: number, py: number, pz: number, t: Float32Array, o: number): number {
  const ax = t[o], ay = t[o + 1], az = t[o + 2];
  const bx = t[o + 3], by = t[o + 4], bz = t[o + 5];
  const cx = t[o + 6], cy = t[o + 7], cz = t[o + 8];
  const abx = bx - ax, aby = by - ay, abz = bz - az;
  const acx = cx - ax, acy = cy - ay, acz = cz - az;
  const apx = px - ax, apy = py - ay, apz = pz - az;
  const d1 = abx * apx + aby * apy + abz * apz;
  const d2 = acx * apx + acy * apy + acz * apz;
  const dist2 = (x: number, y: number, z: number) => (px - x) ** 2 + (py - y) ** 2 + (pz - z) ** 2;
  if (d1 <= 0 && d2 <= 0) return dist2(ax, ay, az);
  const bpx = px - bx, bpy = py - by, bpz = pz - bz;
  const d3 = abx * bpx + aby * bpy + abz * bpz;
  const d4 = acx * bpx + acy * bpy + acz * bpz;
  if (d3 >= 0 && d4 <= d3) return dist2(bx, by, bz);
  const vc = d1 * d4 - d3 * d2;
  if (vc <= 0 && d1 >= 0 && d3 <= 0) {
    const v = d1 / (d1 - d3);
    return dist2(ax + v * abx, ay + v * aby, az + v * abz);
  }
  const cpx = px - cx, cpy = py - cy, cpz = pz - cz;
  const d5 = abx * cpx + aby * cpy + abz * cpz;
  const d6 = acx * cpx + acy * cpy + acz * cpz;
  if (d6 >= 0 && d5 <= d6) return dist2(cx, cy, cz);
  const vb = d5 * d2 - d1 * d6;
  if (vb <= 0 && d2 >= 0 && d6 <= 0) {
    const w = d2 / (d2 - d6);
    return dist2(ax + w * acx, ay + w * acy, az + w * acz);
  }
  const va = d3 * d6 - d5 * d4;
  if (va <= 0 && d4 - d3 >= 0 && d5 - d6 >= 0) {
    const w = (d4 - d3) / (d4 - d3 + (d5 - d6));
    return dist2(bx + w * (cx - bx), by + w * (cy - by), bz + w * (cz - bz));
  }
  const denom = 1 / (va + vb + vc);
  const v = vb * denom;
  const w = vc * denom;
  return dist2(ax + abx * v + acx * w, ay + aby * v + acy * w, az + abz * v + acz * w);
}

/** Solid angle of triangle (a, b, c) seen from p (Van Oosterom & Strackee), signed by orientation. */
function solidAngle(px: number, py: number, pz: number, t: Float32Array, o: number): number {
  const ax = t[o] - px, ay = t[o + 1] - py, az = t[o + 2] - pz;
  const bx = t[o + 3] - px, by = t[o + 4] - py, bz = t[o + 5] - pz;
  const cx = t[o + 6] - px, cy = t[o + 7] - py, cz = t[o + 8] - pz;
  const la = Math.hypot(ax, ay, az), lb = Math.hypot(bx, by, bz), lc = Math.hypot(cx, cy, cz);
  const det = ax * (by * cz - bz * cy) - ay * (bx * cz - bz * cx) + az * (bx * cy - by * cx);
  const div = la * lb * lc + (ax * bx + ay * by + az * bz) * lc + (ax * cx + ay * cy + az * cz) * lb + (bx * cx + by * cy + bz * cz) * la;
  return 2 * Math.atan2(det, div);
}

/** Triangles as a flat f32 [T][9] array (a, b, c corners). */
export function triangleSoup(mesh: TriangleMesh): Float32Array {
  const { positions: p, indices } = mesh;
  const out = new Float32Array(indices.length * 3);
  for (let i = 0; i < indices.length; i++) out.set(p.subarray(indices[i] * 3, indices[i] * 3 + 3), i * 3);
  return out;
}

/**
 * Exact signed distance from each point to the mesh (negative inside: generalised winding
 * number > 0.5). O(points x triangles); `onChunk` is called every `chunk` points so a caller
 * can yield, report progress and abort.
 */
export async function meshSdf(soup: Float32Array, points: Float32Array, onChunk?: (done: number) => Promise<void> | void, chunk = 256): Promise<Float32Array> {
  const n = points.length / 3;
  const tris = soup.length / 9;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const px = points[i * 3], py = points[i * 3 + 1], pz = points[i * 3 + 2];
    let best = Infinity;
    let winding = 0;
    for (let t = 0; t < tris; t++) {
      const d2 = pointTriangleDistance2(px, py, pz, soup, t * 9);
      if (d2 < best) best = d2;
      winding += solidAngle(px, py, pz, soup, t * 9);
    }
    const inside = Math.abs(winding) / (4 * Math.PI) > 0.5;
    out[i] = inside ? -Math.sqrt(best) : Math.sqrt(best);
    if (onChunk && (i + 1) % chunk === 0) await onChunk(i + 1);
  }
  return out;
}

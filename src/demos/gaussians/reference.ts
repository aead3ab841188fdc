/**
 * CPU reference renderer for small scenes, in f64: the same slicing (Yang / rotor / static),
 * EWA projection and SH colour as splat_project.wgsl, then the reference rasterizer's
 * per-pixel front-to-back loop (α = min(0.99, o·exp(power)), skip α < 1/255, stop when
 * T would drop below 1e-4). Tests compare GPU frames against it.
 */
import { covariance4 } from '../../formats/gaussian4d-ply.ts';
import { shCoefficients, type GaussianScene } from '../../formats/gaussian-scene.ts';
import { staticCovariance } from './pack.ts';
import type { Camera, RenderOptions } from './renderer.ts';

const C0 = 0.28209479177387814;
const C1 = 0.4886025119029199;
const C2 = [1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396];
const C3 = [-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154, -0.4570457994644658, 1.445305721320277, -0.5900435899266435];

/** The real SH basis up to degree 3 at direction d (3DGS constants and signs). */
export function shBasis(d: [number, number, number], degree: number): number[] {
  const [x, y, z] = d;
  const out = [C0];
  if (degree >= 1) out.push(-C1 * y, C1 * z, -C1 * x);
  if (degree >= 2) {
    const [xx, yy, zz] = [x * x, y * y, z * z];
    out.push(C2[0] * x * y, C2[1] * y * z, C2[2] * (2 * zz - xx - yy), C2[3] * x * z, C2[4] * (xx - yy));
    if (degree >= 3) {
      out.push(
        C3[0] * y * (3 * xx - yy),
        C3[1] * x * y * z,
        C3[2] * y * (4 * zz - xx - yy),
        C3[3] * z * (2 * zz - 3 * xx - 3 * yy),
        C3[4] * x * (4 * zz - xx - yy),
        C3[5] * z * (xx - yy),
        C3[6] * x * (xx - 3 * yy),
      );
    }
  }
  return out;
}

interface Splat {
  centre: [number, number];
  conic: [number, number, number];
  opacity: number;
  colour: [number, number, number];
  depth: number;
}

/** Slices and projects every Gaussian; returns the survivors in the order they were found. */
export function projectReference(scene: GaussianScene, camera: Camera, t: number, shDegreeCap: number): Splat[] {
  const out: Splat[] = [];
  const v = camera.view;
  const K = shCoefficients(scene);
  const degree = Math.min(shDegreeCap, scene.shDegree);
  const T = scene.timeRange ? scene.timeRange[1] - scene.timeRange[0] : 1;
  const sigma = new Float64Array(16);
  for (let i = 0; i < scene.count; i++) {
    const origin: [number, number, number] = [scene.positions[i * 3], scene.positions[i * 3 + 1], scene.positions[i * 3 + 2]];
    let mean = origin;
    let opacity = scene.opacities[i];
    let cov: number[][];
    let dt = 0;
    if (scene.kind === 'static') {
      const [xx, xy, xz, yy, yz, zz] = staticCovariance(scene, i);
      cov = [[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]];
    } else {
      covariance4(scene, i, sigma);
      dt = t - scene.times![i];
      const tt = sigma[15];
      const q = (0.5 * dt * dt) / tt;
      if (scene.kind === 'yang4d' ? Math.exp(-q) <= 0.05 : q >= 16) continue;
      opacity *= Math.exp(-q);
      const xt = [sigma[3], sigma[7], sigma[11]];
      mean = [origin[0] + (xt[0] * dt) / tt, origin[1] + (xt[1] * dt) / tt, origin[2] + (xt[2] * dt) / tt];
      cov = [0, 1, 2].map((r) => [0, 1, 2].map((c) => sigma[r * 4 + c] - (xt[r] * xt[c]) / tt));
    }
    // Camera space (view is column-major).
    const p = [0, 1, 2].map((r) => v[r] * mean[0] + v[4 + r] * mean[1] + v[8 + r] * mean[2] + v[12 + r]);
    if (p[2] <= 0.2) continue;
    const limX = 1.3 * camera.tanFovX;
    const limY = 1.3 * camera.tanFovY;
    const tx = Math.min(limX, Math.max(-limX, p[0] / p[2])) * p[2];
    const ty = Math.min(limY, Math.max(-limY, p[1] / p[2])) * p[2];
    const z2 = p[2] * p[2];
    const J = [
      [camera.fx / p[2], 0, (-camera.fx * tx) / z2],
      [0, camera.fy / p[2], (-camera.fy * ty) / z2],
    ];
    const W = [0, 1, 2].map((r) => [v[r], v[4 + r], v[8 + r]]);
    const M = J.map((row) => [0, 1, 2].map((c) => row[0] * W[0][c] + row[1] * W[1][c] + row[2] * W[2][c]));
    const MC = M.map((row) => [0, 1, 2].map((c) => row[0] * cov[0][c] + row[1] * cov[1][c] + row[2] * cov[2][c]));
    const cov2 = MC.map((row) => M.map((m) => row[0] * m[0] + row[1] * m[1] + row[2] * m[2]));
    const a = cov2[0][0] + 0.3;
    const b = cov2[0][1];
    const c = cov2[1][1] + 0.3;
    const det = a * c - b * b;
    if (det <= 0) continue;
    const centre: [number, number] = [(camera.fx * p[0]) / p[2] + camera.cx, (camera.fy * p[1]) / p[2] + camera.cy];
    const from = scene.kind === 'yang4d' ? origin : mean;
    const d = [from[0] - camera.position[0], from[1] - camera.position[1], from[2] - camera.position[2]];
    const n = Math.hypot(d[0], d[1], d[2]);
    const dir: [number, number, number] = [d[0] / n, d[1] / n, d[2] / n];
    const basis = shBasis(dir, degree);
    const colour: [number, number, number] = [0, 0, 0];
    const add = (offset: number, weight: number, terms: number[]) =>
      terms.forEach((y, k) => {
        for (let ch = 0; ch < 3; ch++) colour[ch] += weight * y * scene.sh[(i * K + offset + k) * 3 + ch];
      });
    add(0, 1, basis);
    if (scene.kind === 'yang4d' && scene.shDegree === 3 && degree === 3 && scene.shDegreeT > 0) {
      add(16, Math.cos((2 * Math.PI * -dt) / T), basis);
      if (scene.shDegreeT > 1) add(32, Math.cos((4 * Math.PI * -dt) / T), basis);
    }
    out.push({ centre, conic: [c / det, -b / det, a / det], opacity, colour: colour.map((x) => Math.max(0, x + 0.5)) as [number, number, number], depth: p[2] });
  }
  return out;
}

/** Renders RGB in [0, 1] (row-major, top row first) as the reference rasterizer would. */
export function renderReference(scene: GaussianScene, camera: Camera, t: number, options: RenderOptions): Float32Array {
  const splats = projectReference(scene, camera, t, options.shDegree).sort((p, q) => p.depth - q.depth);
  const { width, height } = camera;
  const out = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let T = 1;
      const C = [0, 0, 0];
      for (const s of splats) {
        const dx = s.centre[0] - x;
        const dy = s.centre[1] - y;
        const power = -0.5 * (s.conic[0] * dx * dx + s.conic[2] * dy * dy) - s.conic[1] * dx * dy;
        if (power > 0) continue;
        const alpha = Math.min(0.99, s.opacity * Math.exp(power));
        if (alpha < 1 / 255) continue;
        const next = T * (1 - alpha);
        if (next < 1e-4) break;
        for (let ch = 0; ch < 3; ch++) C[ch] += s.colour[ch] * alpha * T;
        T = next;
      }
      for (let ch = 0; ch < 3; ch++) out[(y * width + x) * 3 + ch] = C[ch] + T * options.background[ch];
    }
  }
  return out;
}

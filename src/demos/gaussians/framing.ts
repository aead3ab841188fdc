import type { GaussianScene } from '../../formats/gaussian-scene.ts';
import type { CameraPose } from '../../ui/orbit-controls.ts';

/**
 * A camera that frames a loaded scene: aimed at the median of the means, backed off so
 * the central 80% of Gaussians fit the view. Robust to the far-away floaters trained
 * scenes carry. Trained 3DGS scenes come from COLMAP, whose world is y-down, so `up`
 * defaults to −y.
 */
export function framingPose(scene: GaussianScene, up: [number, number, number] = [0, -1, 0], fovYDeg = 50): CameraPose {
  const n = scene.count;
  if (n === 0) return { position: [0, 0, -3], target: [0, 0, 0], up, fovYDeg };
  const stride = Math.max(1, Math.floor(n / 20000));
  const xs: number[] = [];
  const ys: number[] = [];
  const zs: number[] = [];
  for (let i = 0; i < n; i += stride) {
    xs.push(scene.positions[i * 3]);
    ys.push(scene.positions[i * 3 + 1]);
    zs.push(scene.positions[i * 3 + 2]);
  }
  const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
  const target: [number, number, number] = [median(xs), median(ys), median(zs)];
  const distances = xs.map((x, i) => Math.hypot(x - target[0], ys[i] - target[1], zs[i] - target[2])).sort((p, q) => p - q);
  const radius = Math.max(1e-3, distances[Math.floor(distances.length * 0.8)]);
  const distance = radius / Math.tan((fovYDeg * Math.PI) / 360) * 1.1;
  // Look from "behind" along −z (the COLMAP camera looks down +z), slightly above.
  const lift = 0.35 * distance;
  const position: [number, number, number] = [target[0] + up[0] * lift, target[1] + up[1] * lift, target[2] - distance];
  return { position, target, up, fovYDeg };
}

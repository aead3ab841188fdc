/**
 * CPU references of the light-field kernels, for the kernel tests: the network input (rays,
 * samples, positional encoding; tools/nelf/rays.py) and the procedural teacher
 * (tools/nelf/teacher.py), both computed from f32-rounded inputs in f64, and the whole network
 * with BatchNorm unfolded (model/R2L.py).
 */
import * as ref from '../../nn/reference.ts';
import type { Mat4 } from './camera.ts';
import type { RayParams } from './network.ts';
import type { R2LConfig } from './weights.ts';

const f32 = Math.fround;

function ray(c2w: Mat4, u: number, v: number, H: number, W: number, focal: number): { o: number[]; d: number[] } {
  const dc = [f32((u - 0.5 * W + 0.5) / focal), f32(-(v - 0.5 * H + 0.5) / focal), -1];
  const d = [0, 1, 2].map((i) => f32(c2w[i * 4] * dc[0] + c2w[i * 4 + 1] * dc[1] + c2w[i * 4 + 2] * dc[2]));
  const o = [c2w[3], c2w[7], c2w[11]].map(f32);
  return { o, d };
}

/** Network input [1, 3*S*(2L+1), H, W], channel (sample*3 + axis)*(2L+1) + k. */
export function encodeReference(p: RayParams): Float32Array {
  const { height: H, width: W, samples: S, multires: L } = p;
  const E = 2 * L + 1;
  const hw = H * W;
  const out = new Float32Array(3 * S * E * hw);
  for (let v = 0; v < H; v++) {
    for (let u = 0; u < W; u++) {
      let { o, d } = ray(p.c2w, u, v, H, W, p.focal);
      if (p.ndc) {
        const n = p.ndcNear ?? 1;
        const t = -(n + o[2]) / d[2];
        const oo = o.map((x, i) => x + t * d[i]);
        const ax = (-2 * p.focal) / W;
        const ay = (-2 * p.focal) / H;
        o = [(ax * oo[0]) / oo[2], (ay * oo[1]) / oo[2], 1 + (2 * n) / oo[2]];
        d = [ax * (d[0] / d[2] - oo[0] / oo[2]), ay * (d[1] / d[2] - oo[1] / oo[2]), (-2 * n) / oo[2]];
      }
      const pix = v * W + u;
      for (let s = 0; s < S; s++) {
        const t = S > 1 ? s / (S - 1) : 0;
        const z = f32(p.near * (1 - t) + p.far * t);
        for (let a = 0; a < 3; a++) {
          const x = f32(o[a] + f32(d[a] * z));
          const base = (s * 3 + a) * E;
          for (let k = 0; k < L; k++) {
            const y = f32(x * 2 ** k);
            out[(base + k) * hw + pix] = Math.sin(y);
            out[(base + L + k) * hw + pix] = Math.cos(y);
          }
          out[(base + 2 * L) * hw + pix] = x;
        }
      }
    }
  }
  return out;
}

const GROUND_Z = -0.5;
const GROUND_R = 2.0;
const CHECKER_A = [0.85, 0.85, 0.85];
const CHECKER_B = [0.3, 0.32, 0.38];
const SPHERES: [number[], number, number[]][] = [
  [[0.55, 0.35, 0.05], 0.55, [0.9, 0.22, 0.18]],
  [[-0.75, 0.55, -0.15], 0.35, [0.2, 0.4, 0.95]],
  [[-0.15, -0.65, 0.55], 0.25, [0.95, 0.8, 0.15]],
];
const BOX_MIN = [-0.45, -0.95, -0.5];
const BOX_MAX = [0.15, -0.35, 0.3];
const BOX_A = [0.25, 0.8, 0.35];
const LIGHT = [0.5, -0.4, 0.75];
const SKY_H = [0.92, 0.94, 0.98];
const SKY_Z = [0.45, 0.62, 0.9];

const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

function sphere(o: number[], dn: number[], c: number[], r: number): number {
  const oc = [o[0] - c[0], o[1] - c[1], o[2] - c[2]];
  const b = dot(oc, dn);
  const h = b * b - (dot(oc, oc) - r * r);
  const t = -b - Math.sqrt(Math.max(h, 0));
  return h >= 0 && t > 0 ? t : -1;
}

function box(o: number[], dn: number[]): { t: number; n: number[] } {
  const e = dn.map((x) => (Math.abs(x) >= 1e-8 ? x : 1e-8));
  const tn = [0, 1, 2].map((i) => Math.min((BOX_MIN[i] - o[i]) / e[i], (BOX_MAX[i] - o[i]) / e[i]));
  const tf = [0, 1, 2].map((i) => Math.max((BOX_MIN[i] - o[i]) / e[i], (BOX_MAX[i] - o[i]) / e[i]));
  const tNear = Math.max(tn[0], tn[1], tn[2]);
  const tFar = Math.min(tf[0], tf[1], tf[2]);
  const a = tn[0] >= tn[1] && tn[0] >= tn[2] ? 0 : tn[1] >= tn[2] ? 1 : 2;
  const n = [0, 0, 0];
  n[a] = e[a] >= 0 ? -1 : 1;
  return { t: tNear <= tFar && tNear > 0 ? tNear : -1, n };
}

/** One teacher ray (tools/nelf/teacher.py `trace`). */
export function teacherShade(o: number[], d: number[]): number[] {
  const len = Math.sqrt(dot(d, d));
  const dn = d.map((x) => x / len);
  let best = 1e30;
  let id = -1;
  if (dn[2] < 0) {
    const t = (GROUND_Z - o[2]) / dn[2];
    const px = o[0] + t * dn[0];
    const py = o[1] + t * dn[1];
    if (t > 0 && px * px + py * py <= GROUND_R * GROUND_R) [best, id] = [t, 0];
  }
  SPHERES.forEach(([c, r], i) => {
    const t = sphere(o, dn, c, r);
    if (t > 0 && t < best) [best, id] = [t, i + 1];
  });
  const bh = box(o, dn);
  if (bh.t > 0 && bh.t < best) [best, id] = [bh.t, 4];
  if (id < 0) {
    const s = Math.min(Math.max(dn[2], 0), 1);
    return SKY_H.map((h, i) => (1 - s) * h + s * SKY_Z[i]);
  }
  const p = o.map((x, i) => x + best * dn[i]);
  const ll = Math.sqrt(dot(LIGHT, LIGHT));
  const L = LIGHT.map((x) => x / ll);
  let n = [0, 0, 1];
  let albedo = BOX_A;
  let vis = 1;
  if (id === 0) {
    const s = Math.floor(2 * p[0]) + Math.floor(2 * p[1]);
    const k = s - 2 * Math.floor(s / 2);
    albedo = k === 0 ? CHECKER_A : CHECKER_B;
    const occluded = box(p, L).t > 0 || SPHERES.some(([c, r]) => sphere(p, L, c, r) > 0);
    if (occluded) vis = 0;
  } else if (id <= 3) {
    const [c, r, a] = SPHERES[id - 1];
    n = p.map((x, i) => (x - c[i]) / r);
    albedo = a;
  } else n = bh.n;
  const ndl = Math.max(dot(n, L), 0);
  return albedo.map((a) => Math.min(Math.max(a * (0.3 + 0.7 * ndl * vis), 0), 1));
}

/** Teacher image NCHW [1, 3, H, W]. */
export function teacherReference(c2w: Mat4, H: number, W: number, focal: number): Float32Array {
  const out = new Float32Array(3 * H * W);
  for (let v = 0; v < H; v++) {
    for (let u = 0; u < W; u++) {
      const { o, d } = ray(c2w, u, v, H, W, focal);
      const c = teacherShade(o, d);
      for (let ch = 0; ch < 3; ch++) out[ch * H * W + v * W + u] = c[ch];
    }
  }
  return out;
}

/**
 * The whole R2L forward pass on the CPU with unfolded BatchNorm (eval mode), from the same
 * state dict: head, body + global skip, SR tail, sigmoid (model/R2L.py `forward`).
 */
export function r2lReference(tensors: Map<string, { shape: readonly number[]; toFloat32(): Float32Array }>, config: R2LConfig, input: ref.HostTensor): ref.HostTensor {
  const w = (k: string) => tensors.get(k)!.toFloat32();
  const act = config.activation;
  const bn = (x: ref.HostTensor, p: string) => ref.batchNorm(x, w(`${p}.weight`), w(`${p}.bias`), w(`${p}.running_mean`), w(`${p}.running_var`));
  const conv = (x: ref.HostTensor, p: string) => {
    const s = tensors.get(`${p}.weight`)!.shape;
    return ref.conv2d(x, w(`${p}.weight`), w(`${p}.bias`), s[0], s[2]);
  };
  const block = (x: ref.HostTensor, p: string) => {
    const a = ref.activation(bn(conv(x, `${p}.conv_block.0`), `${p}.conv_block.1`), act);
    return ref.add(x, bn(conv(a, `${p}.conv_block.3`), `${p}.conv_block.4`));
  };
  const h = ref.activation(conv(input, 'head.0'), act);
  let x = h;
  for (let i = 0; i < config.blocks; i++) x = block(x, `body.${i}`);
  x = ref.add(x, h);
  for (const t of config.tail) {
    if (t.kind === 'block') x = block(x, `tail.${t.index}`);
    else if (t.kind === 'up') x = ref.convTranspose2d(x, w(`tail.${t.index}.weight`), w(`tail.${t.index}.bias`), t.outC, t.kernel, { stride: t.stride, padding: t.padding });
    else x = ref.activation(conv(x, `tail.${t.index}`), 'sigmoid');
  }
  return x;
}

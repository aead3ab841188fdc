/**
 * Building Yang et al.'s two-quaternion 4D Gaussians from a wanted motion: a 3D shape
 * (covariance C), a velocity v and a temporal standard deviation σt give the 4D
 * covariance Σ = [[C + vvᵀσt², vσt²], [vᵀσt², σt²]], whose slice at time t is C centred
 * at x + v·(t − μt) with opacity × exp(−½(t − μt)²/σt²). Σ is then factored the way the
 * official code stores it: Σ = A·diag(s²)·Aᵀ with A = flip(M_l(q_l)·M_r(q_r)).
 */
import { yangRotation4 } from '../../formats/gaussian4d-ply.ts';

export type Mat4 = number[][];

/** Yang's A as rows, from left (a,b,c,d) and right (p,q,r,s) quaternions (normalised here). */
export function yangRotation(ql: ArrayLike<number>, qr: ArrayLike<number>): Mat4 {
  const flat = yangRotation4(ql, qr);
  return [0, 1, 2, 3].map((r) => Array.from(flat.subarray(r * 4, r * 4 + 4)));
}

function normalise4(v: ArrayLike<number>): [number, number, number, number] {
  const n = Math.hypot(v[0], v[1], v[2], v[3]) || 1;
  return [v[0] / n, v[1] / n, v[2] / n, v[3] / n];
}

/**
 * The linear map X ↦ A for A = Σ_km X[k][m]·A(e_k, e_m): A is bilinear in (q_l, q_r), so
 * X = q_l·q_rᵀ determines it. Inverting this 16×16 map recovers q_l, q_r from any A in SO(4).
 */
let inverseBasis: number[][] | null = null;

function basisInverse(): number[][] {
  if (inverseBasis) return inverseBasis;
  const m: number[][] = Array.from({ length: 16 }, () => new Array(16).fill(0));
  for (let k = 0; k < 4; k++) {
    for (let j = 0; j < 4; j++) {
      const el = [0, 0, 0, 0];
      const er = [0, 0, 0, 0];
      el[k] = 1;
      er[j] = 1;
      const a = yangRotation(el, er);
      for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) m[r * 4 + c][k * 4 + j] = a[r][c];
    }
  }
  inverseBasis = invert(m);
  return inverseBasis;
}

function invert(m: number[][]): number[][] {
  const n = m.length;
  const a = m.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    if (Math.abs(a[pivot][col]) < 1e-12) throw new Error('singular basis');
    [a[col], a[pivot]] = [a[pivot], a[col]];
    const inv = 1 / a[col][col];
    for (let c = 0; c < 2 * n; c++) a[col][c] *= inv;
    for (let r = 0; r < n; r++) {
      if (r === col || a[r][col] === 0) continue;
      const f = a[r][col];
      for (let c = 0; c < 2 * n; c++) a[r][c] -= f * a[col][c];
    }
  }
  return a.map((row) => row.slice(n));
}

/** Left and right unit quaternions with yangRotation(q_l, q_r) = A, for A a proper 4D rotation. */
export function quaternionsOf(A: Mat4): { ql: number[]; qr: number[] } {
  const inv = basisInverse();
  const flat = A.flat();
  const x = inv.map((row) => row.reduce((sum, v, i) => sum + v * flat[i], 0)); // X = q_l q_rᵀ, row-major
  let best = 0;
  let bestNorm = -1;
  for (let k = 0; k < 4; k++) {
    const norm = Math.hypot(x[k * 4], x[k * 4 + 1], x[k * 4 + 2], x[k * 4 + 3]);
    if (norm > bestNorm) [best, bestNorm] = [k, norm];
  }
  const qr = normalise4(x.slice(best * 4, best * 4 + 4));
  const ql = normalise4([0, 1, 2, 3].map((k) => x[k * 4] * qr[0] + x[k * 4 + 1] * qr[1] + x[k * 4 + 2] * qr[2] + x[k * 4 + 3] * qr[3]));
  return { ql, qr };
}

/** Eigen-decomposition of a symmetric 4×4 matrix by cyclic Jacobi: Σ = V diag(λ) Vᵀ (V's columns). */
export function symmetricEigen4(sigma: Mat4): { values: number[]; vectors: Mat4 } {
  const a = sigma.map((r) => [...r]);
  const v: Mat4 = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < 4; p++) for (let q = p + 1; q < 4; q++) off += a[p][q] * a[p][q];
    if (off < 1e-30) break;
    for (let p = 0; p < 4; p++) {
      for (let q = p + 1; q < 4; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < 4; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < 4; k++) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < 4; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: [a[0][0], a[1][1], a[2][2], a[3][3]], vectors: v };
}

function det4(m: Mat4): number {
  const [a, b, c, d] = m;
  const s0 = a[0] * b[1] - b[0] * a[1];
  const s1 = a[0] * b[2] - b[0] * a[2];
  const s2 = a[0] * b[3] - b[0] * a[3];
  const s3 = a[1] * b[2] - b[1] * a[2];
  const s4 = a[1] * b[3] - b[1] * a[3];
  const s5 = a[2] * b[3] - b[2] * a[3];
  const c5 = c[2] * d[3] - d[2] * c[3];
  const c4 = c[1] * d[3] - d[1] * c[3];
  const c3 = c[1] * d[2] - d[1] * c[2];
  const c2 = c[0] * d[3] - d[0] * c[3];
  const c1 = c[0] * d[2] - d[0] * c[2];
  const c0 = c[0] * d[1] - d[0] * c[1];
  return s0 * c5 - s1 * c4 + s2 * c3 + s3 * c2 - s4 * c1 + s5 * c0;
}

/** Yang parameters (left/right quaternions, 3 spatial scales and the time scale) of a 4D covariance. */
export function factorYang(sigma: Mat4): { ql: number[]; qr: number[]; scales: [number, number, number]; scaleT: number } {
  const { values, vectors } = symmetricEigen4(sigma);
  const A = vectors.map((r) => [...r]);
  if (det4(A) < 0) for (let r = 0; r < 4; r++) A[r][0] = -A[r][0];
  const { ql, qr } = quaternionsOf(A);
  const s = values.map((v) => Math.sqrt(Math.max(v, 1e-20)));
  return { ql, qr, scales: [s[0], s[1], s[2]], scaleT: s[3] };
}

/** Σ of a 3D shape C (row-major 3×3) moving with velocity v, alive around its time centre with std σt. */
export function movingCovariance(c: number[], v: [number, number, number], sigmaT: number): Mat4 {
  const tt = sigmaT * sigmaT;
  const m: Mat4 = [0, 1, 2, 3].map(() => [0, 0, 0, 0]);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) m[i][j] = c[i * 3 + j] + v[i] * v[j] * tt;
    m[i][3] = m[3][i] = v[i] * tt;
  }
  m[3][3] = tt;
  return m;
}

/** Σ = A·diag(s²)·Aᵀ, the covariance the official code builds from stored parameters. */
export function yangCovariance(ql: ArrayLike<number>, qr: ArrayLike<number>, s: ArrayLike<number>): Mat4 {
  const A = yangRotation(ql, qr);
  return [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => A[i][0] * A[j][0] * s[0] ** 2 + A[i][1] * A[j][1] * s[1] ** 2 + A[i][2] * A[j][2] * s[2] ** 2 + A[i][3] * A[j][3] * s[3] ** 2));
}

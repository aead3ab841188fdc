import { expect, test } from 'vitest';
import { factorYang, movingCovariance, quaternionsOf, yangCovariance, yangRotation } from '../../src/demos/gaussians/four-d.ts';

function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

test('yangRotation is a proper rotation and equals the torch product flip(M_l·M_r)', () => {
  const r = random(1);
  for (let i = 0; i < 20; i++) {
    const l = [r(), r(), r(), r()];
    const q = [r(), r(), r(), r()];
    const A = yangRotation(l, q);
    const n = (v: number[]) => v.map((x) => x / Math.hypot(...v));
    const [a, b, c, d] = n(l);
    const [p, qq, rr, s] = n(q);
    const Ml = [[a, -b, -c, -d], [b, a, -d, c], [c, d, a, -b], [d, -c, b, a]];
    const Mr = [[p, qq, rr, s], [-qq, p, -s, rr], [-rr, s, p, -qq], [-s, -rr, qq, p]];
    const P = Ml.map((row) => [0, 1, 2, 3].map((j) => row.reduce((sum, v, k) => sum + v * Mr[k][j], 0)));
    for (let x = 0; x < 4; x++) for (let y = 0; y < 4; y++) expect(A[x][y]).toBeCloseTo(P[3 - x][3 - y], 12);
    for (let x = 0; x < 4; x++)
      for (let y = 0; y < 4; y++) expect(A[x].reduce((sum, v, k) => sum + v * A[y][k], 0)).toBeCloseTo(x === y ? 1 : 0, 12);
  }
});

test('quaternionsOf inverts yangRotation (up to the shared sign)', () => {
  const r = random(2);
  for (let i = 0; i < 50; i++) {
    const A = yangRotation([r(), r(), r(), r()], [r(), r(), r(), r()]);
    const { ql, qr } = quaternionsOf(A);
    const B = yangRotation(ql, qr);
    for (let x = 0; x < 4; x++) for (let y = 0; y < 4; y++) expect(B[x][y]).toBeCloseTo(A[x][y], 10);
  }
});

test('factorYang reproduces a moving covariance whose slice moves with the wanted velocity', () => {
  const r = random(3);
  for (let i = 0; i < 50; i++) {
    const m = [r(), r(), r(), r(), r(), r(), r(), r(), r()].map((x) => x * 0.2);
    const c = [0, 1, 2].flatMap((a) => [0, 1, 2].map((b) => m[a * 3] * m[b * 3] + m[a * 3 + 1] * m[b * 3 + 1] + m[a * 3 + 2] * m[b * 3 + 2] + (a === b ? 1e-3 : 0)));
    const v: [number, number, number] = [r() * 3, r() * 3, r() * 3];
    const sigmaT = 0.05 + Math.abs(r());
    const sigma = movingCovariance(c, v, sigmaT);
    const { ql, qr, scales, scaleT } = factorYang(sigma);
    const back = yangCovariance(ql, qr, [...scales, scaleT]);
    for (let x = 0; x < 4; x++) for (let y = 0; y < 4; y++) expect(back[x][y]).toBeCloseTo(sigma[x][y], 8);
    // Conditioning as the renderer does: velocity Σ_xt/Σ_tt and C = Σ_xx − Σ_xt Σ_txᵀ/Σ_tt.
    for (let k = 0; k < 3; k++) expect(back[k][3] / back[3][3]).toBeCloseTo(v[k], 6);
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) expect(back[a][b] - (back[a][3] * back[b][3]) / back[3][3]).toBeCloseTo(c[a * 3 + b], 7);
  }
});

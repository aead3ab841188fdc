/**
 * The in-memory form of a Gaussian splatting scene that every reader produces and the
 * 4D Gaussian player consumes. Structure of arrays, activations applied (so readers of
 * different files agree), except where the official renderer itself uses raw values
 * (4D-Rotor rotors are not normalised at render time).
 *
 * Variants (see shared research 4dgs.md §1):
 * - 'static': plain 3DGS. Σ = R S Sᵀ Rᵀ from `rotations` (w,x,y,z) and `scales`.
 * - 'yang4d': Yang et al. ICLR 2024. 4D Σ = A diag(s²) Aᵀ with A from the left quaternion
 *   `rotations` and the right quaternion `rotationsRight` (both normalised, scalar first),
 *   s = (scales, timeScales). Colour from 4D spherindrical SH: K = (deg+1)² · (degT+1)
 *   coefficients, index k + 16·j for spatial k and temporal term j (cos(2πjΔt/T)).
 * - 'rotor4d': Duan et al. SIGGRAPH 2024. 4D rotation from the 8 raw rotor components
 *   `rotors` = [a, bxy, bxz, byz, bxw, byw, bzw, pxyzw] exactly as stored; ordinary SH.
 */
export type GaussianKind = 'static' | 'yang4d' | 'rotor4d';

export interface GaussianScene {
  kind: GaussianKind;
  count: number;
  /** Spatial SH degree, 0..3. */
  shDegree: number;
  /** Temporal SH degree for 'yang4d' (0..2); 0 otherwise. */
  shDegreeT: number;
  /** Means, N×3. */
  positions: Float32Array;
  /** Activated (exp) spatial scales, N×3. */
  scales: Float32Array;
  /** Normalised quaternions (w, x, y, z), N×4: the rotation ('static') or left quaternion ('yang4d'). Unused for 'rotor4d'. */
  rotations: Float32Array;
  /** Activated (sigmoid) opacities, N. */
  opacities: Float32Array;
  /**
   * SH coefficients, N × K × 3 with K per channel ((shDegree+1)² · (shDegreeT+1)),
   * coefficient-major with RGB innermost: sh[(i·K + k)·3 + c]. Coefficient 0 is the raw
   * DC term (colour = 0.5 + SH_C0 · sh0 + ...), not a colour.
   */
  sh: Float32Array;
  /** Time centres μ_t, N ('yang4d', 'rotor4d'). */
  times?: Float32Array;
  /** Activated (exp) time scales, N ('yang4d', 'rotor4d'). */
  timeScales?: Float32Array;
  /** Normalised right quaternions (scalar first), N×4 ('yang4d'). */
  rotationsRight?: Float32Array;
  /** Raw rotors, N×8 ('rotor4d'). */
  rotors?: Float32Array;
  /** Scene time range [start, end]; T = end − start for the temporal SH terms. */
  timeRange?: [number, number];
  /** Where it came from, for the UI (format and notes). */
  source: string;
}

export const SH_C0 = 0.28209479177387814;

/** Coefficients per colour channel. */
export function shCoefficients(scene: Pick<GaussianScene, 'shDegree' | 'shDegreeT'>): number {
  return (scene.shDegree + 1) ** 2 * (scene.shDegreeT + 1);
}

/** Typed arrays a scene holds, for transferring it out of a worker. */
export function sceneBuffers(scene: GaussianScene): ArrayBuffer[] {
  const arrays = [scene.positions, scene.scales, scene.rotations, scene.opacities, scene.sh, scene.times, scene.timeScales, scene.rotationsRight, scene.rotors];
  return [...new Set(arrays.filter((a): a is Float32Array => a !== undefined).map((a) => a.buffer as ArrayBuffer))];
}

/** Throws a clear error when array lengths disagree with count/degrees or values are not finite. */
export function validateScene(scene: GaussianScene): void {
  const n = scene.count;
  if (!Number.isInteger(n) || n < 0) throw new Error(`Bad Gaussian count ${n}`);
  if (scene.shDegree < 0 || scene.shDegree > 3 || !Number.isInteger(scene.shDegree)) throw new Error(`SH degree ${scene.shDegree} is not 0..3`);
  const k = shCoefficients(scene);
  const expect = (name: string, a: Float32Array | undefined, per: number) => {
    if (!a) throw new Error(`The ${scene.kind} scene has no ${name}`);
    if (a.length !== n * per) throw new Error(`${name} holds ${a.length} values, expected ${n}×${per}`);
  };
  expect('positions', scene.positions, 3);
  expect('scales', scene.scales, 3);
  expect('opacities', scene.opacities, 1);
  expect('sh', scene.sh, k * 3);
  if (scene.kind !== 'rotor4d') expect('rotations', scene.rotations, 4);
  if (scene.kind !== 'static') {
    expect('times', scene.times, 1);
    expect('timeScales', scene.timeScales, 1);
    if (!scene.timeRange || !(scene.timeRange[1] > scene.timeRange[0])) throw new Error('A 4D scene needs a time range with end > start');
  }
  if (scene.kind === 'yang4d') expect('rotationsRight', scene.rotationsRight, 4);
  if (scene.kind === 'rotor4d') expect('rotors', scene.rotors, 8);
}

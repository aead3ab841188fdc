/**
 * MobileR2L cameras (Blender/NeRF transforms.json convention): c2w camera-to-world, OpenGL
 * (the camera looks down -z, +y up), world z-up, cameras on a sphere looking at the origin.
 * Mirrors tools/nelf/rays.py (`look_at`, `sphere_pose`, `focal_from_angle`).
 */

/** Blender's camera_angle_x, which the default model was trained with. */
export const BLENDER_CAMERA_ANGLE_X = 0.6911112070083618;

/** 4x4 row-major camera-to-world. */
export type Mat4 = number[];

export function focalFromAngle(width: number, cameraAngleX = BLENDER_CAMERA_ANGLE_X): number {
  return (0.5 * width) / Math.tan(0.5 * cameraAngleX);
}

function normalize(v: number[]): number[] {
  const n = Math.hypot(v[0], v[1], v[2]) + 1e-10;
  return [v[0] / n, v[1] / n, v[2] / n];
}

function cross(a: number[], b: number[]): number[] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/** c2w of a camera at `center` looking at the origin (MobileR2L's poses_utils.lookAt). */
export function lookAt(center: readonly number[]): Mat4 {
  const f = normalize([...center]);
  const r = normalize(cross(f, [0, 0, -1]));
  const u = normalize(cross(f, r));
  return [r[0], u[0], f[0], center[0], r[1], u[1], f[1], center[1], r[2], u[2], f[2], center[2], 0, 0, 0, 1];
}

/** Camera on the sphere of `radius` at azimuth/elevation (radians; elevation above z = 0). */
export function spherePose(azimuth: number, elevation: number, radius = 4): Mat4 {
  const ce = Math.cos(elevation);
  return lookAt([radius * ce * Math.cos(azimuth), radius * ce * Math.sin(azimuth), radius * Math.sin(elevation)]);
}

/** Checks and normalises a c2w given as 16 (4x4) or 12 (3x4) row-major numbers or nested rows. */
export function toMat4(c2w: readonly number[] | readonly (readonly number[])[]): Mat4 {
  const flat = (c2w as readonly unknown[]).flatMap((r) => (Array.isArray(r) ? (r as number[]) : [r as number]));
  if (flat.length !== 16 && flat.length !== 12) throw new RangeError(`c2w must be 4x4 or 3x4 (row-major), got ${flat.length} numbers`);
  if (!flat.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new RangeError('c2w must hold finite numbers');
  return flat.length === 16 ? flat : [...flat, 0, 0, 0, 1];
}

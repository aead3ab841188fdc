import { expect, test } from 'vitest';
import { OrbitControls, type CameraPose } from '../../src/ui/orbit-controls.ts';

const close = (a: number[], b: number[], eps = 1e-5) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i], -Math.log10(eps)));

function setup(pose: CameraPose) {
  const el = document.createElement('div');
  el.style.cssText = 'width:200px;height:100px';
  document.body.append(el);
  const poses: CameraPose[] = [];
  const controls = new OrbitControls(el, pose, (p) => poses.push(p));
  return { el, controls, poses };
}

test('pose round-trips through set() for y-up and y-down worlds', () => {
  for (const up of [[0, 1, 0], [0, -1, 0], [0, 0, 1]] as [number, number, number][]) {
    const pose: CameraPose = { position: [1, 2, 3], target: [0.5, -0.5, 0.25], up, fovYDeg: 40 };
    const { controls } = setup(pose);
    close(controls.pose().position, pose.position);
    close(controls.pose().target, pose.target);
    controls.destroy();
  }
});

test('orbit keeps the distance, zoom scales it, pan moves target and eye together, R resets', () => {
  const pose: CameraPose = { position: [0, 0, 5], target: [0, 0, 0], up: [0, 1, 0], fovYDeg: 50 };
  const { el, controls, poses } = setup(pose);
  controls.orbit(0.7, 0.3);
  const p = controls.pose().position;
  expect(Math.hypot(...p)).toBeCloseTo(5, 5);
  controls.zoom(0.5);
  expect(Math.hypot(...controls.pose().position)).toBeCloseTo(2.5, 5);
  const before = controls.pose();
  controls.pan(0.1, 0);
  const after = controls.pose();
  const dt = after.target.map((v, i) => v - before.target[i]);
  const dp = after.position.map((v, i) => v - before.position[i]);
  close(dt, dp);
  expect(Math.hypot(...dt)).toBeGreaterThan(0);
  el.dispatchEvent(new KeyboardEvent('keydown', { key: 'r' }));
  close(controls.pose().position, pose.position);
  expect(poses.length).toBeGreaterThan(3);
  controls.destroy();
});

test('pointer drag orbits and wheel zooms', () => {
  const pose: CameraPose = { position: [0, 0, 5], target: [0, 0, 0], up: [0, 1, 0], fovYDeg: 50 };
  const { el, controls } = setup(pose);
  el.dispatchEvent(new PointerEvent('pointerdown', { pointerId: 1, clientX: 10, clientY: 10, button: 0 }));
  el.dispatchEvent(new PointerEvent('pointermove', { pointerId: 1, clientX: 40, clientY: 10 }));
  el.dispatchEvent(new PointerEvent('pointerup', { pointerId: 1 }));
  expect(Math.abs(controls.pose().position[0])).toBeGreaterThan(0.5);
  el.dispatchEvent(new WheelEvent('wheel', { deltaY: 100, cancelable: true }));
  expect(Math.hypot(...controls.pose().position)).toBeGreaterThan(5);
  controls.destroy();
});

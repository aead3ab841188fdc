/**
 * The three.js side both three-based peers (GaussianSplats3D, Spark) share: a canvas of the
 * benchmark's size, a WebGLRenderer at pixel ratio 1 clearing to black, and a perspective
 * camera with the first pose's field of view. Teardown disposes the renderer and drops its
 * WebGL context at once (browsers cap live contexts).
 */
import * as THREE from 'three';
import { makeCanvas, type PeerOptions, type Teardown } from './peer-runner.ts';

export function threeSetup(container: HTMLElement, opts: PeerOptions, teardown: Teardown): { canvas: HTMLCanvasElement; renderer: THREE.WebGLRenderer; camera: THREE.PerspectiveCamera } {
  const canvas = makeCanvas(container, opts.width, opts.height);
  teardown.add(() => canvas.remove());
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: false, alpha: false, powerPreference: 'high-performance' });
  teardown.add(() => {
    renderer.dispose();
    renderer.forceContextLoss();
  });
  renderer.setPixelRatio(1);
  renderer.setSize(opts.width, opts.height, false);
  renderer.setClearColor(0x000000, 1);
  const camera = new THREE.PerspectiveCamera(opts.paths[0].pose(0).fovYDeg, opts.width / opts.height, 0.05, 100);
  return { canvas, renderer, camera };
}

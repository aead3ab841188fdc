import { expect } from 'vitest';
import type { GaussianScene, GaussianKind } from '../../src/formats/gaussian-scene.ts';
import { FRAME_BYTES_PER_SPLAT, GaussianRenderer, GpuScene, cameraFromPose, type Camera } from '../../src/demos/gaussians/renderer.ts';
import { renderReference, projectReference } from '../../src/demos/gaussians/reference.ts';
import { readTexture } from '../../src/gpu/readback.ts';
import { gpuTest, rng } from './harness.ts';

const W = 96;
const H = 64;
const BG: [number, number, number] = [0.1, 0.15, 0.2];

function randomScene(kind: GaussianKind, count: number, seed: number, shDegree = 3): GaussianScene {
  const r = rng(seed);
  const s = () => r() * 2 - 1;
  const unit = (n: number) => {
    const v = Array.from({ length: n }, s);
    const len = Math.hypot(...v);
    return v.map((x) => x / len);
  };
  const shDegreeT = kind === 'yang4d' ? 2 : 0;
  const K = (shDegree + 1) ** 2 * (shDegreeT + 1);
  const scene: GaussianScene = {
    kind,
    count,
    shDegree,
    shDegreeT,
    positions: Float32Array.from({ length: count * 3 }, (_, i) => (i % 3 === 2 ? s() * 1.5 : s() * 1.6)),
    scales: Float32Array.from({ length: count * 3 }, () => 0.02 + 0.18 * r() ** 2),
    rotations: new Float32Array(0),
    opacities: Float32Array.from({ length: count }, () => 0.2 + 0.8 * r()),
    sh: Float32Array.from({ length: count * K * 3 }, (_, i) => (i % (K * 3) < 3 ? s() * 1.5 : s() * 0.3)),
    source: 'test',
  };
  if (kind !== 'static') {
    scene.times = Float32Array.from({ length: count }, () => r());
    scene.timeScales = Float32Array.from({ length: count }, () => 0.1 + 0.4 * r());
    scene.timeRange = [0, 1];
  }
  if (kind === 'yang4d') scene.rotationsRight = Float32Array.from(Array.from({ length: count }, () => unit(4)).flat());
  if (kind === 'rotor4d') {
    // Raw rotors near unit length with time-mixing bivectors, as trained models have.
    scene.rotors = Float32Array.from(Array.from({ length: count }, () => [1 + 0.3 * s(), 0.4 * s(), 0.4 * s(), 0.4 * s(), 0.4 * s(), 0.4 * s(), 0.4 * s(), 0.1 * s()]).flat());
  }
  if (kind !== 'rotor4d') scene.rotations = Float32Array.from(Array.from({ length: count }, () => unit(4)).flat());
  return scene;
}

function psnr(gpu: ImageData, ref: Float32Array): number {
  let mse = 0;
  for (let p = 0; p < W * H; p++) {
    for (let c = 0; c < 3; c++) {
      const d = gpu.data[p * 4 + c] / 255 - Math.min(1, Math.max(0, ref[p * 3 + c]));
      mse += d * d;
    }
  }
  mse /= W * H * 3;
  return 10 * Math.log10(1 / Math.max(mse, 1e-12));
}

const POSE = { position: [0.3, -0.4, -4] as [number, number, number], target: [0, 0, 0] as [number, number, number], up: [0, -1, 0] as [number, number, number], fovYDeg: 45 };

async function renderGpu(device: GPUDevice, own: <T extends { destroy(): void }>(r: T) => T, scene: GaussianScene, camera: Camera, t: number, shDegree = 3) {
  const renderer = own(new GaussianRenderer(device));
  const gpuScene = own(new GpuScene(device, scene));
  renderer.setScene(gpuScene);
  const output = own(device.createTexture({ size: [W, H], format: 'rgba8unorm', usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC }));
  const encoder = device.createCommandEncoder();
  renderer.encode(encoder, output, camera, t, { shDegree, background: BG });
  device.queue.submit([encoder.finish()]);
  renderer.afterSubmit();
  const image = await readTexture(device, output);
  await new Promise((r) => setTimeout(r, 10));
  return { image, renderer };
}

for (const kind of ['static', 'yang4d', 'rotor4d'] as const) {
  gpuTest(`${kind}: GPU frames match the CPU reference renderer (PSNR >= 35 dB) at several t`, async ({ device, own }) => {
    const scene = randomScene(kind, 400, kind.length);
    const camera = cameraFromPose(POSE, W, H);
    for (const t of kind === 'static' ? [0] : [0.1, 0.45, 0.9]) {
      const { image, renderer } = await renderGpu(device, own, scene, camera, t);
      const ref = renderReference(scene, camera, t, { shDegree: 3, background: BG });
      const value = psnr(image, ref);
      console.info(`${kind} t=${t}: PSNR ${value.toFixed(2)} dB, ${renderer.visible} visible`);
      expect(value).toBeGreaterThanOrEqual(35);
      // The visible count is the reference's survivors that touch the frame.
      const alive = projectReference(scene, camera, t, 3).length;
      expect(renderer.visible).toBeGreaterThan(0);
      expect(renderer.visible).toBeLessThanOrEqual(alive);
      expect(renderer.visible).toBeGreaterThanOrEqual(alive * 0.8);
    }
  });
}

// SH degrees 0 and 2 store an odd number of halves per Gaussian (3 and 27): the upload pads
// each Gaussian to whole words and the projection reads coefficient pairs from there.
gpuTest('static scenes stored with SH degree 0, 1 and 2 match the CPU reference (odd halves per Gaussian padded)', async ({ device, own }) => {
  const camera = cameraFromPose(POSE, W, H);
  for (const degree of [0, 1, 2]) {
    const scene = randomScene('static', 301, 40 + degree, degree);
    const { image } = await renderGpu(device, own, scene, camera, 0);
    const value = psnr(image, renderReference(scene, camera, 0, { shDegree: 3, background: BG }));
    console.info(`static, stored SH degree ${degree}: PSNR ${value.toFixed(2)} dB`);
    expect(value).toBeGreaterThanOrEqual(35);
  }
});

gpuTest('SH degree cap changes colour; an empty scene renders the background', async ({ device, own }) => {
  const scene = randomScene('static', 300, 7);
  const camera = cameraFromPose(POSE, W, H);
  const full = await renderGpu(device, own, scene, camera, 0, 3);
  const dc = await renderGpu(device, own, scene, camera, 0, 0);
  expect(psnr(dc.image, renderReference(scene, camera, 0, { shDegree: 0, background: BG }))).toBeGreaterThanOrEqual(35);
  expect(psnr(full.image, renderReference(scene, camera, 0, { shDegree: 0, background: BG }))).toBeLessThan(35);
  const empty = await renderGpu(device, own, { ...scene, count: 0, positions: new Float32Array(0), scales: new Float32Array(0), rotations: new Float32Array(0), opacities: new Float32Array(0), sh: new Float32Array(0) }, camera, 0);
  expect(Array.from(empty.image.data.slice(0, 4))).toEqual([26, 38, 51, 255]);
});

gpuTest('one renderer switching SH degree and scene kind (a specialised projection per combination) matches the reference every frame', async ({ device, own }) => {
  const renderer = own(new GaussianRenderer(device));
  const output = own(device.createTexture({ size: [W, H], format: 'rgba8unorm', usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC }));
  const camera = cameraFromPose(POSE, W, H);
  const scenes = { static: randomScene('static', 300, 31), yang4d: randomScene('yang4d', 300, 32), rotor4d: randomScene('rotor4d', 300, 33) };
  const gpuScenes = { static: own(new GpuScene(device, scenes.static)), yang4d: own(new GpuScene(device, scenes.yang4d)), rotor4d: own(new GpuScene(device, scenes.rotor4d)) };
  const frames: [keyof typeof scenes, number][] = [['yang4d', 3], ['yang4d', 1], ['static', 2], ['rotor4d', 0], ['yang4d', 3], ['static', 3]];
  for (const [kind, shDegree] of frames) {
    renderer.setScene(gpuScenes[kind]);
    const encoder = device.createCommandEncoder();
    renderer.encode(encoder, output, camera, 0.4, { shDegree, background: BG });
    device.queue.submit([encoder.finish()]);
    const value = psnr(await readTexture(device, output), renderReference(scenes[kind], camera, 0.4, { shDegree, background: BG }));
    console.info(`${kind} SH${shDegree}: PSNR ${value.toFixed(2)} dB`);
    expect(value, `${kind} at SH degree ${shDegree}`).toBeGreaterThanOrEqual(35);
  }
});

gpuTest('draw order is back to front after every camera move (sorted on the GPU each frame)', async ({ device, own }) => {
  const scene = randomScene('yang4d', 2000, 11);
  const renderer = own(new GaussianRenderer(device));
  renderer.setScene(own(new GpuScene(device, scene)));
  const output = own(device.createTexture({ size: [W, H], format: 'rgba8unorm', usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC }));
  for (let step = 0; step < 4; step++) {
    const a = step * 1.3;
    const camera = cameraFromPose({ ...POSE, position: [4 * Math.sin(a), -0.5 + step * 0.3, -4 * Math.cos(a)] }, W, H);
    const encoder = device.createCommandEncoder();
    renderer.encode(encoder, output, camera, 0.2 * step, { shDegree: 3, background: BG });
    device.queue.submit([encoder.finish()]);
    const depths = await renderer.readDrawOrder();
    expect(depths.length).toBeGreaterThan(50);
    for (let i = 1; i < depths.length; i++) expect(depths[i]).toBeLessThanOrEqual(depths[i - 1]);
  }
});

gpuTest('frames with unchanged inputs skip projection and sort and still draw the same picture; any change re-sorts', async ({ device, own }) => {
  const renderer = own(new GaussianRenderer(device));
  const first = own(new GpuScene(device, randomScene('static', 600, 21)));
  const second = own(new GpuScene(device, randomScene('static', 600, 22)));
  const output = own(device.createTexture({ size: [W, H], format: 'rgba8unorm', usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC }));
  const cameraA = cameraFromPose(POSE, W, H);
  const cameraB = cameraFromPose({ ...POSE, position: [POSE.position[0] + 2, POSE.position[1], POSE.position[2]] }, W, H);
  let current: GpuScene | null = null;
  const frame = async (camera: Camera, scene: GpuScene, t = 0) => {
    if (scene !== current) {
      renderer.setScene(scene);
      current = scene;
    }
    const encoder = device.createCommandEncoder();
    renderer.encode(encoder, output, camera, t, { shDegree: 3, background: BG });
    device.queue.submit([encoder.finish()]);
    const { data } = await readTexture(device, output);
    return { pixels: Array.from(data), order: await renderer.readDrawOrder(), resorted: renderer.resorted };
  };
  const a = await frame(cameraA, first);
  const again = await frame(cameraA, first, 0.5); // a static scene ignores t
  expect(again.pixels).toEqual(a.pixels);
  expect([a.resorted, again.resorted]).toEqual([true, false]);
  const b = await frame(cameraB, first);
  expect(b.pixels).not.toEqual(a.pixels);
  expect(b.resorted).toBe(true);
  for (let i = 1; i < b.order.length; i++) expect(b.order[i]).toBeLessThanOrEqual(b.order[i - 1]);
  expect((await frame(cameraA, first)).pixels).toEqual(a.pixels);
  const other = await frame(cameraA, second);
  expect(other.pixels).not.toEqual(a.pixels);
});

gpuTest('a 1,000,000-Gaussian SH3 static scene renders at a reduced viewport', async ({ device, own }) => {
  const n = 1_000_000;
  const r = rng(3);
  const scene: GaussianScene = {
    kind: 'static',
    count: n,
    shDegree: 3,
    shDegreeT: 0,
    positions: Float32Array.from({ length: n * 3 }, () => r() * 4 - 2),
    scales: new Float32Array(n * 3).fill(0.01),
    rotations: Float32Array.from({ length: n * 4 }, (_, i) => (i % 4 === 0 ? 1 : 0)),
    opacities: new Float32Array(n).fill(0.5),
    sh: Float32Array.from({ length: n * 48 }, () => r() - 0.5),
    source: 'test',
  };
  const start = performance.now();
  const gpuScene = own(new GpuScene(device, scene));
  console.info(`1M SH3 upload: ${(performance.now() - start).toFixed(0)} ms, ${(gpuScene.bytes / n).toFixed(0)} GPU bytes per Gaussian (+${FRAME_BYTES_PER_SPLAT} of per-frame buffers)`);
  const renderer = own(new GaussianRenderer(device, { maxCount: n }));
  renderer.setScene(gpuScene);
  const output = own(device.createTexture({ size: [64, 48], format: 'rgba8unorm', usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC }));
  const t0 = performance.now();
  const encoder = device.createCommandEncoder();
  renderer.encode(encoder, output, cameraFromPose({ position: [0, 0, -6], target: [0, 0, 0], up: [0, -1, 0], fovYDeg: 50 }, 64, 48), 0, { shDegree: 3, background: BG });
  device.queue.submit([encoder.finish()]);
  renderer.afterSubmit();
  const image = await readTexture(device, output);
  console.info(`1M SH3 frame: ${(performance.now() - t0).toFixed(0)} ms`);
  await new Promise((res) => setTimeout(res, 20));
  expect(renderer.visible).toBeGreaterThan(500_000);
  expect(new Set(Array.from({ length: 64 * 48 }, (_, i) => image.data[i * 4])).size).toBeGreaterThan(10);
});

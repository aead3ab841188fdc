import { generateDefaultScene } from '../../demos/gaussians/default-scene.ts';
import { GaussianRenderer, GpuScene, cameraFromPose } from '../../demos/gaussians/renderer.ts';
import { DEFAULT_CAMERA } from '../../demos/gaussians/default-scene.ts';
import type { GaussianScene } from '../../formats/gaussian-scene.ts';
import { GpuProfiler } from '../../gpu/profiler.ts';
import { row, sample, type BenchContext, type BenchRow, type BenchSuite } from './harness.ts';

/**
 * What time slicing costs: the built-in 4D scene (Yang Gaussians, ~14% alive at a time)
 * against the same Gaussians as a static scene (all alive), same camera and viewport.
 * Per-stage GPU times (slice+project, sort, blend) go in the notes.
 */
export const gaussiansBench: BenchSuite = {
  name: 'gaussians',
  title: '4D slicing vs the same count rendered static',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    ctx.progress(0, 'generating the 4D scene');
    const fourD = generateDefaultScene({ seed: 1 });
    const asStatic: GaussianScene = { ...fourD, kind: 'static', times: undefined, timeScales: undefined, rotationsRight: undefined, timeRange: undefined, source: 'static copy' };
    const rows: BenchRow[] = [];
    const label = `${(fourD.count / 1000).toFixed(0)}k Gaussians, 800x600`;
    for (const [i, [scene, impl, ours]] of ([[fourD, 'ours: Yang 4D, sliced at t = 1', true], [asStatic, 'ours: same Gaussians as static 3DGS', false]] as const).entries()) {
      ctx.progress(0.1 + 0.45 * i, impl);
      rows.push(await frameTime(ctx.device, scene, label, impl, ours));
    }
    return rows;
  },
};

async function frameTime(device: GPUDevice, scene: GaussianScene, label: string, impl: string, ours: boolean): Promise<BenchRow> {
  const gpuScene = new GpuScene(device, scene);
  const renderer = new GaussianRenderer(device, { maxCount: scene.count });
  renderer.setScene(gpuScene);
  const profiler = new GpuProfiler(device, 1);
  const output = device.createTexture({ size: [800, 600], format: 'rgba8unorm', usage: GPUTextureUsage.RENDER_ATTACHMENT });
  const camera = cameraFromPose(DEFAULT_CAMERA, 800, 600);
  try {
    const samples = await sample(async () => {
      const encoder = device.createCommandEncoder();
      renderer.encode(encoder, output, camera, 1, { shDegree: 3, background: [0, 0, 0] }, profiler);
      const after = profiler.finish(encoder);
      device.queue.submit([encoder.finish()]);
      after();
      renderer.afterSubmit();
      await device.queue.onSubmittedWorkDone();
    }, 5);
    await new Promise((r) => setTimeout(r, 50));
    const stages = Object.entries(profiler.stages)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ');
    return row('gaussians', label, impl, ours, samples, { note: `${renderer.visible.toLocaleString('en-US')} drawn; GPU ms: ${stages}` });
  } finally {
    output.destroy();
    profiler.destroy();
    renderer.destroy();
    gpuScene.destroy();
  }
}

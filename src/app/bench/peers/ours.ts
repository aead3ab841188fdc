/**
 * Our row: the 4D Gaussian player's renderer (src/demos/gaussians/renderer.ts) on the
 * same .ply bytes, decoded by the suite's own reader, drawn the way the player draws a
 * frame (render into an rgba8unorm texture, blit it to the canvas, one command encoder
 * per frame, GPU sort in every frame whose view changed), on the suite's shared WebGPU device.
 */
import { GaussianRenderer, GpuScene, cameraFromPose } from '../../../demos/gaussians/renderer.ts';
import { decodeGaussianScene } from '../../../formats/scene-loader.ts';
import { GpuProfiler } from '../../../gpu/profiler.ts';
import { Presenter } from '../../../gpu/present.ts';
import { makeCanvas, timedPass, Teardown, type PeerOptions, type PeerResult } from './peer-runner.ts';

export async function runPeer(container: HTMLElement, plyBytes: Uint8Array, opts: PeerOptions): Promise<PeerResult> {
  const device = opts.device;
  if (!device) throw new Error('our runner needs the suite GPU device');
  const t0 = performance.now();
  const teardown = new Teardown();
  try {
    const canvas = makeCanvas(container, opts.width, opts.height);
    teardown.add(() => canvas.remove());
    const context = canvas.getContext('webgpu');
    if (!context) throw new Error('no WebGPU canvas context');
    const format = navigator.gpu.getPreferredCanvasFormat();
    context.configure({ device, format, alphaMode: 'opaque' });
    teardown.add(() => context.unconfigure());

    const scene = decodeGaussianScene(plyBytes, 'bench.ply');
    opts.signal.throwIfAborted();
    const gpuScene = new GpuScene(device, scene);
    teardown.add(() => gpuScene.destroy());
    const renderer = new GaussianRenderer(device, { maxCount: scene.count });
    teardown.add(() => renderer.destroy());
    renderer.setScene(gpuScene);
    const profiler = new GpuProfiler(device, 0.2);
    teardown.add(() => profiler.destroy());
    const presenter = new Presenter(device, format);
    teardown.add(() => presenter.destroy());
    const output = device.createTexture({
      label: 'bench output',
      size: [opts.width, opts.height],
      format: 'rgba8unorm',
      usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_SRC,
    });
    teardown.add(() => output.destroy());
    await device.queue.onSubmittedWorkDone();
    const loadMs = performance.now() - t0;

    const passes = [];
    let sorts = 0;
    for (const path of opts.paths) {
      passes.push(
        await timedPass(canvas, path, opts, (pose) => {
          const camera = cameraFromPose(pose, opts.width, opts.height);
          const encoder = device.createCommandEncoder({ label: 'bench frame' });
          renderer.encode(encoder, output, camera, 0, { shDegree: 3, background: [0, 0, 0] }, profiler);
          presenter.encode(encoder, output, context.getCurrentTexture(), profiler.timestamps('present'));
          const after = profiler.finish(encoder);
          device.queue.submit([encoder.finish()]);
          after();
          renderer.afterSubmit();
          if (renderer.resorted) sorts++;
        }, () => sorts),
      );
    }
    await device.queue.onSubmittedWorkDone();
    await new Promise((r) => setTimeout(r, 50));
    const stages = Object.entries(profiler.stages)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ');
    return { passes, loadMs, note: `GPU sort when the view changes, SH3; ${renderer.visible.toLocaleString('en-US')} drawn; GPU ms: ${stages}` };
  } finally {
    await teardown.run();
  }
}

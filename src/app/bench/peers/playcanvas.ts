/**
 * PlayCanvas engine (the `playcanvas` npm package) as a splat benchmark peer: an
 * Application on a WebGPU device (variant 'webgpu': GPU radix sort every frame, the
 * engine's WebGPU default since PR #8941) or a WebGL2 device (variant 'webgl2': sort on
 * the CPU in a worker, redone when the camera moves). The .ply is loaded as a `gsplat`
 * asset from a Blob URL (unified gsplat rendering, the engine default). We drive the
 * frames: the app's own requestAnimationFrame loop is switched off and `app.tick` is
 * called once per animation frame after moving the camera.
 */
import * as pc from 'playcanvas';
import { abortable, loseWebGlContext, makeCanvas, timedPass, Teardown, type PeerOptions, type PeerResult } from './peer-runner.ts';

const RENDERER_NAMES: Record<number, string> = {
  [pc.GSPLAT_RENDERER_RASTER_CPU_SORT]: 'raster, CPU sort',
  [pc.GSPLAT_RENDERER_RASTER_GPU_SORT]: 'raster, GPU sort',
  [pc.GSPLAT_RENDERER_COMPUTE]: 'compute',
};

export async function runPeer(container: HTMLElement, plyBytes: Uint8Array, opts: PeerOptions): Promise<PeerResult> {
  const deviceType = opts.variant === 'webgl2' ? pc.DEVICETYPE_WEBGL2 : pc.DEVICETYPE_WEBGPU;
  const t0 = performance.now();
  const teardown = new Teardown();
  try {
    const canvas = makeCanvas(container, opts.width, opts.height);
    teardown.add(() => canvas.remove());
    // createGraphicsDevice silently falls back to WebGL2; checked below.
    const device = await abortable(pc.createGraphicsDevice(canvas, { deviceTypes: [deviceType], antialias: false, alpha: false, powerPreference: 'high-performance' }), opts.signal);
    const gl = device instanceof pc.WebglGraphicsDevice ? device.gl : null;
    let app: pc.Application | null = null;
    teardown.add(() => {
      if (app) app.destroy();
      else device.destroy();
      loseWebGlContext(gl);
    });
    if (device.deviceType !== deviceType) throw new Error(`asked for a ${deviceType} device, got ${device.deviceType}`);
    device.maxPixelRatio = 1;
    app = new pc.Application(canvas, { graphicsDevice: device });
    app.setCanvasFillMode(pc.FILLMODE_NONE, opts.width, opts.height);
    app.setCanvasResolution(pc.RESOLUTION_FIXED, opts.width, opts.height);
    // We call app.tick ourselves, one per animation frame.
    app.requestAnimationFrame = () => undefined;

    const camera = new pc.Entity('camera');
    camera.addComponent('camera', { clearColor: new pc.Color(0, 0, 0, 1), fov: opts.paths[0].pose(0).fovYDeg, nearClip: 0.05, farClip: 100 });
    app.root.addChild(camera);

    const url = URL.createObjectURL(new Blob([plyBytes as Uint8Array<ArrayBuffer>]));
    teardown.add(() => URL.revokeObjectURL(url));
    const asset = new pc.Asset('bench.ply', 'gsplat', { url, filename: 'bench.ply' });
    app.assets.add(asset);
    await abortable(
      new Promise<void>((resolve, reject) => {
        asset.once('load', () => resolve());
        asset.once('error', (err: unknown) => reject(new Error(`PlayCanvas could not load the .ply: ${String(err)}`)));
        app!.assets.load(asset);
      }),
      opts.signal,
    );
    const splat = new pc.Entity('splat');
    splat.addComponent('gsplat', { asset });
    app.root.addChild(splat);
    app.start();
    const loadMs = performance.now() - t0;

    const passes = [];
    for (const path of opts.paths) {
      passes.push(
        await timedPass(canvas, path, opts, (pose, now) => {
          camera.setPosition(...pose.position);
          camera.lookAt(new pc.Vec3(...pose.target), new pc.Vec3(...pose.up));
          app!.tick(now);
        }),
      );
    }
    const renderer = RENDERER_NAMES[app.scene.gsplat.currentRenderer] ?? `renderer ${app.scene.gsplat.currentRenderer}`;
    return { passes, loadMs, note: `${device.deviceType}, unified gsplat, ${renderer}` };
  } finally {
    await teardown.run();
  }
}

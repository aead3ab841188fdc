/**
 * mkkellogg/GaussianSplats3D 0.4.7 (three.js, WebGL2) as a splat benchmark peer: its
 * `Viewer` with our own three.js renderer and camera, `selfDrivenMode: false` so we call
 * update() + render() once per animation frame, no SharedArrayBuffer (the page is not
 * cross-origin isolated), WASM SIMD integer sort in its worker, `gpuAcceleratedSort` left
 * at the library default (off), and SH degree 2, the highest it renders. The .ply is
 * loaded from a Blob URL. The viewer sorts in a worker when the view direction turned by
 * more than ~8° or the camera moved 1 unit since the last sort, and draws with whatever
 * order it has meanwhile.
 */
import * as GS3D from '@mkkellogg/gaussian-splats-3d';
import { abortable, timedPass, Teardown, type PeerOptions, type PeerResult } from './peer-runner.ts';
import { threeSetup } from './three-setup.ts';

export async function runPeer(container: HTMLElement, plyBytes: Uint8Array, opts: PeerOptions): Promise<PeerResult> {
  const t0 = performance.now();
  const teardown = new Teardown();
  try {
    const { canvas, renderer, camera } = threeSetup(container, opts, teardown);

    const viewer = new GS3D.Viewer({
      rootElement: container,
      renderer,
      camera,
      selfDrivenMode: false,
      useBuiltInControls: false,
      ignoreDevicePixelRatio: true,
      sharedMemoryForWorkers: false,
      integerBasedSort: true,
      sphericalHarmonicsDegree: 2,
      sceneRevealMode: GS3D.SceneRevealMode.Instant,
      logLevel: GS3D.LogLevel.None,
    });
    // dispose() waits for a running sort; the harness's grace period bounds that.
    teardown.add(() => viewer.dispose());

    const url = URL.createObjectURL(new Blob([plyBytes as Uint8Array<ArrayBuffer>]));
    teardown.add(() => URL.revokeObjectURL(url));
    await abortable(viewer.addSplatScene(url, { format: GS3D.SceneFormat.Ply, showLoadingUI: false, progressiveLoad: false, splatAlphaRemovalThreshold: 1 }), opts.signal);
    const loadMs = performance.now() - t0;

    let sorts = 0;
    viewer.sortWorker?.addEventListener('message', (e: MessageEvent<{ sortDone?: boolean }>) => {
      if (e.data?.sortDone) sorts++;
    });
    const passes = [];
    for (const path of opts.paths) {
      passes.push(
        await timedPass(
          canvas,
          path,
          opts,
          (pose) => {
            camera.position.set(...pose.position);
            camera.up.set(...pose.up);
            camera.lookAt(...pose.target);
            camera.updateMatrixWorld();
            viewer.update();
            viewer.render();
          },
          () => sorts,
        ),
      );
    }
    return { passes, loadMs, note: `WebGL2, WASM sort in a worker${viewer.gpuAcceleratedSort ? ' (GPU distances)' : ''}, SH2 (its maximum)` };
  } finally {
    await teardown.run();
  }
}

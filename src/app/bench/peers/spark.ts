/**
 * Spark 2.2 (World Labs, three.js, WebGL2) as a splat benchmark peer: a `SparkRenderer`
 * in a three.js scene with one `SplatMesh` built from the .ply bytes (its own PLY decoder,
 * in its worker pool), rendered with three's `WebGLRenderer` once per animation frame.
 * Spark computes sort distances on the GPU, reads them back and sorts in a worker; the
 * render does not wait for the sort (it draws with the latest finished order).
 */
import { SparkRenderer, SplatFileType, SplatMesh } from '@sparkjsdev/spark';
import * as THREE from 'three';
import { abortable, timedPass, Teardown, type PeerOptions, type PeerResult } from './peer-runner.ts';
import { threeSetup } from './three-setup.ts';

export async function runPeer(container: HTMLElement, plyBytes: Uint8Array, opts: PeerOptions): Promise<PeerResult> {
  const t0 = performance.now();
  const teardown = new Teardown();
  try {
    const { canvas, renderer, camera } = threeSetup(container, opts, teardown);
    const scene = new THREE.Scene();
    const spark = new SparkRenderer({ renderer });
    teardown.add(async () => {
      // Disposing mid-sort makes Spark's own sort promise reject unhandled: let it finish.
      for (let waited = 0; spark.sorting && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      spark.dispose();
    });
    scene.add(spark);

    // Spark transfers the bytes to its decode worker: give it a copy.
    const mesh = new SplatMesh({ fileBytes: plyBytes.slice(), fileType: SplatFileType.PLY, fileName: 'bench.ply' });
    teardown.add(() => mesh.dispose());
    await abortable(mesh.initialized, opts.signal);
    scene.add(mesh);
    const loadMs = performance.now() - t0;

    const passes = [];
    for (const path of opts.paths) {
      passes.push(
        await timedPass(canvas, path, opts, (pose) => {
          camera.position.set(...pose.position);
          camera.up.set(...pose.up);
          camera.lookAt(...pose.target);
          camera.updateMatrixWorld();
          renderer.render(scene, camera);
        }),
      );
    }
    return { passes, loadMs, note: `WebGL2, GPU distances + worker sort (async), SH${mesh.maxSh}` };
  } finally {
    await teardown.run();
  }
}

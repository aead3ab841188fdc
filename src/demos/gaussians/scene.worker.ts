import * as Comlink from 'comlink';
import { sceneBuffers, type GaussianScene } from '../../formats/gaussian-scene.ts';
import { decodeGaussianScene } from '../../formats/scene-loader.ts';
import { progressReporter } from '../../workers/progress.ts';
import { generateDefaultScene } from './default-scene.ts';
import { packScene } from './pack.ts';
import type { LoadedScene, SceneWorkerApi } from './scene-worker-api.ts';

function loaded(scene: GaussianScene): LoadedScene {
  const packed = packScene(scene);
  return Comlink.transfer({ scene, packed }, [...sceneBuffers(scene), packed.geometry.buffer, packed.sh.buffer]);
}

const api: SceneWorkerApi = {
  generateDefault(seed, onProgress) {
    return loaded(generateDefaultScene({ seed, onProgress: onProgress && ((f) => void onProgress(f, 'Generating the default scene')) }));
  },
  decode(bytes, name, onProgress) {
    const progress = progressReporter(onProgress);
    try {
      if (!(bytes instanceof ArrayBuffer)) throw new TypeError('expected an ArrayBuffer holding the scene file');
      progress.force(0, 'reading scene');
      const scene = decodeGaussianScene(new Uint8Array(bytes), String(name ?? 'scene'), (fraction, message) => progress.report(fraction * 0.9, message));
      progress.force(0.9, 'packing for the GPU');
      const result = loaded(scene);
      progress.force(1, 'done');
      return result;
    } finally {
      progress.close();
    }
  },
};

Comlink.expose(api);

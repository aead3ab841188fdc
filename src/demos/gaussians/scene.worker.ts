import * as Comlink from 'comlink';
import { sceneBuffers } from '../../formats/gaussian-scene.ts';
import { generateDefaultScene } from './default-scene.ts';
import type { SceneWorkerApi } from './scene-worker-api.ts';

const api: SceneWorkerApi = {
  generateDefault(seed, onProgress) {
    const scene = generateDefaultScene({ seed, onProgress: onProgress && ((f) => void onProgress(f, 'Generating the default scene')) });
    return Comlink.transfer(scene, sceneBuffers(scene));
  },
};

Comlink.expose(api);

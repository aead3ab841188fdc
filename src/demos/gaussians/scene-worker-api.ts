import type { GaussianScene } from '../../formats/gaussian-scene.ts';
import type { ProgressFn } from '../../workers/decode-api.ts';

/** The 4D player's own worker: builds the default scene off the main thread. */
export interface SceneWorkerApi {
  generateDefault(seed: number, onProgress?: ProgressFn): GaussianScene;
}

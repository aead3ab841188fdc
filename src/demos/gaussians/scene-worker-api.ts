import type { GaussianScene } from '../../formats/gaussian-scene.ts';
import type { ProgressFn } from '../../workers/decode-api.ts';
import type { PackedScene } from './pack.ts';

/** A scene as decoded, with its GPU layout already packed (so the upload is a copy). */
export interface LoadedScene {
  scene: GaussianScene;
  packed: PackedScene;
}

/** The 4D player's own worker: builds the default scene and decodes files off the main thread. */
export interface SceneWorkerApi {
  generateDefault(seed: number, onProgress?: ProgressFn): LoadedScene;
  decode(bytes: ArrayBuffer, name: string, onProgress?: ProgressFn): LoadedScene;
}

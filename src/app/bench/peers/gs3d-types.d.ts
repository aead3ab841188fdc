/**
 * The part of @mkkellogg/gaussian-splats-3d 0.4.7 the splat benchmark uses (the package
 * ships no type declarations).
 */
declare module '@mkkellogg/gaussian-splats-3d' {
  import type { PerspectiveCamera, WebGLRenderer } from 'three';

  export const SceneFormat: { readonly Splat: 0; readonly KSplat: 1; readonly Ply: 2; readonly Spz: 3 };
  export const SceneRevealMode: { readonly Default: 0; readonly Gradual: 1; readonly Instant: 2 };
  export const RenderMode: { readonly Always: 0; readonly OnChange: 1; readonly Never: 2 };
  export const LogLevel: { readonly None: 0; readonly Error: 1; readonly Warning: 2; readonly Info: 3; readonly Debug: 4 };

  export interface ViewerOptions {
    rootElement?: HTMLElement;
    renderer?: WebGLRenderer;
    camera?: PerspectiveCamera;
    selfDrivenMode?: boolean;
    useBuiltInControls?: boolean;
    ignoreDevicePixelRatio?: boolean;
    gpuAcceleratedSort?: boolean;
    sharedMemoryForWorkers?: boolean;
    integerBasedSort?: boolean;
    enableSIMDInSort?: boolean;
    sphericalHarmonicsDegree?: number;
    sceneRevealMode?: number;
    renderMode?: number;
    logLevel?: number;
    dynamicScene?: boolean;
  }

  export interface AddSplatSceneOptions {
    format?: number;
    showLoadingUI?: boolean;
    progressiveLoad?: boolean;
    splatAlphaRemovalThreshold?: number;
  }

  export class Viewer {
    constructor(options?: ViewerOptions);
    addSplatScene(path: string, options?: AddSplatSceneOptions): Promise<void>;
    update(): void;
    render(): void;
    dispose(): Promise<void>;
    splatRenderReady: boolean;
    splatRenderCount: number;
    gpuAcceleratedSort: boolean;
    sortWorker: Worker | null;
    lastSortTime: number;
  }
}

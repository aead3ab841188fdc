import type { AppSettings, NgpApp } from './common.ts';
import type { GpuProfiler } from '../../gpu/profiler.ts';

/** Placeholder until the app lands. */
export class NvrApp {
  [k: string]: never;
  constructor(_device: GPUDevice, _settings: AppSettings, _profiler: () => GpuProfiler | null) {
    throw new Error('the NVR app has not landed yet');
  }
}
export type _Unused = NgpApp;

import type { AppSettings, NgpApp } from './common.ts';
import type { GpuProfiler } from '../../gpu/profiler.ts';

/** Placeholder until the app lands. */
export class NsdfApp {
  [k: string]: never;
  constructor(_device: GPUDevice, _settings: AppSettings, _profiler: () => GpuProfiler | null) {
    throw new Error('the NSDF app has not landed yet');
  }
}
export type _Unused = NgpApp;

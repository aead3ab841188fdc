import { createContext } from '@lit/context';
import type { GpuContext } from '../gpu/device.ts';

/** The page's one GpuContext, provided by the suite shell and consumed by demos. */
export const gpuContext = createContext<GpuContext>(Symbol('gpu-context'));

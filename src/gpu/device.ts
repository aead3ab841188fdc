/**
 * One GPUDevice per page. `GpuContext` acquires it (optional features when present, the
 * limits demos need up to the adapter's maximum), reports why WebGPU is unavailable, and
 * re-acquires the device after loss, announcing each new device with a 'device' event.
 */
import { trackResources, type ResourceTracker } from './resources.ts';

export const OPTIONAL_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups', 'float32-filterable', 'float32-blendable'];

/** Limits raised to the adapter's maximum: big scenes and models need big bindings. */
export const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxTextureDimension2D',
] as const;

export type WebGpuMissing = 'no-api' | 'no-adapter' | 'no-device';

export class WebGpuUnavailableError extends Error {
  constructor(
    readonly missing: WebGpuMissing,
    detail: string,
  ) {
    super(detail);
    this.name = 'WebGpuUnavailableError';
  }
}

export interface GpuInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
}

export interface AcquireOptions {
  /** Request WebGPU's default limits only (how phones look); see `?limits=default`. */
  defaultLimits?: boolean;
  powerPreference?: GPUPowerPreference;
}

export async function requestGpu(options: AcquireOptions = {}): Promise<{ adapter: GPUAdapter; device: GPUDevice }> {
  if (typeof navigator === 'undefined' || !('gpu' in navigator) || !navigator.gpu) {
    throw new WebGpuUnavailableError('no-api', 'This browser does not expose navigator.gpu (WebGPU), or the page is not in a secure context.');
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' }).catch(() => null);
  if (!adapter) {
    throw new WebGpuUnavailableError('no-adapter', 'WebGPU is present but no GPU adapter was offered (blocklisted driver, disabled hardware acceleration, or no supported GPU).');
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  if (!options.defaultLimits) {
    for (const name of RAISED_LIMITS) {
      const value = adapter.limits[name];
      if (typeof value === 'number') requiredLimits[name] = value;
    }
  }
  try {
    const device = await adapter.requestDevice({ label: 'suite', requiredFeatures, requiredLimits });
    return { adapter, device };
  } catch (e) {
    throw new WebGpuUnavailableError('no-device', `The GPU adapter refused to create a device: ${(e as Error).message}`);
  }
}

/** Whether a device runs on a CPU implementation of WebGPU (SwiftShader, llvmpipe, a fallback adapter). */
export function isCpuDevice(device: GPUDevice): boolean {
  const info = device.adapterInfo as GPUAdapterInfo | undefined;
  if (!info) return false;
  return /swiftshader|llvmpipe|lavapipe|cpu/i.test(`${info.vendor} ${info.architecture} ${info.description} ${info.device}`) || Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter);
}

export function describeAdapter(adapter: GPUAdapter, device: GPUDevice): GpuInfo {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const key in device.limits) {
    const value = (device.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  return {
    vendor: info.vendor || 'unknown',
    architecture: info.architecture || 'unknown',
    device: info.device || '',
    description: info.description || '',
    isFallbackAdapter: Boolean((info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    features: [...device.features].sort(),
    limits,
  };
}

/** Fired on `GpuContext` when a (new) device is ready; `detail.generation` counts acquisitions. */
export type GpuDeviceEvent = CustomEvent<{ device: GPUDevice; generation: number }>;

export class GpuContext extends EventTarget {
  device: GPUDevice | null = null;
  adapter: GPUAdapter | null = null;
  info: GpuInfo | null = null;
  resources: ResourceTracker | null = null;
  /** Number of devices acquired so far; bumps after each recovery from loss. */
  generation = 0;
  /** Why WebGPU cannot be used here, when it cannot. */
  unavailable: WebGpuUnavailableError | null = null;
  lastLoss: string | null = null;
  private pending: Promise<GPUDevice> | null = null;
  private closed = false;

  constructor(readonly options: AcquireOptions = {}) {
    super();
  }

  /** Resolves with the current device, acquiring one if needed; shared by every caller. */
  acquire(): Promise<GPUDevice> {
    if (this.device) return Promise.resolve(this.device);
    this.pending ??= this.doAcquire().finally(() => (this.pending = null));
    return this.pending;
  }

  private async doAcquire(): Promise<GPUDevice> {
    try {
      const { adapter, device } = await requestGpu(this.options);
      this.unavailable = null;
      this.adapter = adapter;
      this.device = device;
      this.resources = trackResources(device);
      this.info = describeAdapter(adapter, device);
      this.generation++;
      device.lost.then((info) => this.onLost(device, info));
      this.dispatchEvent(new CustomEvent('device', { detail: { device, generation: this.generation } }));
      return device;
    } catch (e) {
      if (e instanceof WebGpuUnavailableError) {
        this.unavailable = e;
        this.dispatchEvent(new CustomEvent('unavailable', { detail: e }));
      }
      throw e;
    }
  }

  private onLost(device: GPUDevice, info: GPUDeviceLostInfo): void {
    if (this.device !== device || this.closed) return;
    this.device = null;
    this.resources = null;
    this.lastLoss = `${info.reason}: ${info.message}`;
    this.dispatchEvent(new CustomEvent('lost', { detail: info }));
    // Every loss is recovered from, including device.destroy() by a test or an extension:
    // the page itself never destroys the shared device while it is open.
    void this.acquire().catch(() => undefined);
  }

  /** Releases the device for good (page teardown); no recovery follows. */
  close(): void {
    this.closed = true;
    this.device?.destroy();
    this.device = null;
  }
}

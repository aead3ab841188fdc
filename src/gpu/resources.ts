/**
 * Live GPU memory accounting. Wraps one device's createBuffer/createTexture so every
 * resource is counted until destroyed: tests compare live bytes before and after a load.
 */
export interface ResourceTracker {
  readonly buffers: number;
  readonly textures: number;
  readonly bytes: number;
  snapshot(): { buffers: number; textures: number; bytes: number };
}

const BYTES_PER_TEXEL: Record<string, number> = {
  r8unorm: 1, rg8unorm: 2, rgba8unorm: 4, 'rgba8unorm-srgb': 4, bgra8unorm: 4, 'bgra8unorm-srgb': 4,
  r16float: 2, rg16float: 4, rgba16float: 8, r32float: 4, rg32float: 8, rgba32float: 16,
  r32uint: 4, rg32uint: 8, rgba32uint: 16, depth32float: 4, depth24plus: 4, 'depth24plus-stencil8': 4,
};

const trackers = new WeakMap<GPUDevice, ResourceTracker>();

function textureBytes(d: GPUTextureDescriptor): number {
  const size = d.size as GPUExtent3DDict | number[];
  const [w, h, l] = Array.isArray(size) ? [size[0], size[1] ?? 1, size[2] ?? 1] : [size.width, size.height ?? 1, size.depthOrArrayLayers ?? 1];
  const texel = BYTES_PER_TEXEL[d.format] ?? 4;
  const mips = d.mipLevelCount ?? 1;
  let total = 0;
  for (let m = 0; m < mips; m++) total += Math.max(1, w >> m) * Math.max(1, h >> m) * l * texel;
  return total * (d.sampleCount ?? 1);
}

export function trackResources(device: GPUDevice): ResourceTracker {
  const existing = trackers.get(device);
  if (existing) return existing;
  const live = { buffers: 0, textures: 0, bytes: 0 };
  const createBuffer = device.createBuffer.bind(device);
  const createTexture = device.createTexture.bind(device);
  device.createBuffer = (d: GPUBufferDescriptor) => {
    const buffer = createBuffer(d);
    live.buffers++;
    live.bytes += d.size;
    const destroy = buffer.destroy.bind(buffer);
    let alive = true;
    buffer.destroy = () => {
      if (alive) {
        alive = false;
        live.buffers--;
        live.bytes -= d.size;
      }
      destroy();
    };
    return buffer;
  };
  device.createTexture = (d: GPUTextureDescriptor) => {
    const texture = createTexture(d);
    const bytes = textureBytes(d);
    live.textures++;
    live.bytes += bytes;
    const destroy = texture.destroy.bind(texture);
    let alive = true;
    texture.destroy = () => {
      if (alive) {
        alive = false;
        live.textures--;
        live.bytes -= bytes;
      }
      destroy();
    };
    return texture;
  };
  const tracker: ResourceTracker = {
    get buffers() { return live.buffers; },
    get textures() { return live.textures; },
    get bytes() { return live.bytes; },
    snapshot: () => ({ ...live }),
  };
  trackers.set(device, tracker);
  return tracker;
}

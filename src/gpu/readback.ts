/** Readback helpers: for tests, snapshots and stats, never inside a frame. */

/** Copies `size` bytes of `buffer` from `offset` to a mappable buffer and returns them. */
export async function readBuffer(device: GPUDevice, buffer: GPUBuffer, offset = 0, size = buffer.size - offset): Promise<ArrayBuffer> {
  const aligned = Math.ceil(size / 4) * 4;
  const staging = device.createBuffer({ label: 'readback', size: Math.max(4, aligned), usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  try {
    const encoder = device.createCommandEncoder({ label: 'readback' });
    if (aligned > 0) encoder.copyBufferToBuffer(buffer, offset, staging, 0, aligned);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return staging.getMappedRange(0, aligned).slice(0, size);
  } finally {
    staging.destroy();
  }
}

export async function readU32(device: GPUDevice, buffer: GPUBuffer, offset = 0, count?: number): Promise<Uint32Array> {
  const bytes = count === undefined ? undefined : count * 4;
  return new Uint32Array(await readBuffer(device, buffer, offset, bytes));
}

export async function readF32(device: GPUDevice, buffer: GPUBuffer, offset = 0, count?: number): Promise<Float32Array> {
  const bytes = count === undefined ? undefined : count * 4;
  return new Float32Array(await readBuffer(device, buffer, offset, bytes));
}

/** Storage buffer initialised from a typed array (usage defaults suit kernel inputs and outputs). */
export function bufferFrom(
  device: GPUDevice,
  data: ArrayBufferView,
  usage: GPUBufferUsageFlags = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  label = 'data',
): GPUBuffer {
  const size = Math.max(4, Math.ceil(data.byteLength / 4) * 4);
  const buffer = device.createBuffer({ label, size, usage, mappedAtCreation: true });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}

/** A 4-byte-per-pixel colour texture as RGBA8 ImageData (bgra8unorm is swizzled, rows unpadded). */
export async function readTexture(device: GPUDevice, texture: GPUTexture): Promise<ImageData> {
  const { width, height, format } = texture;
  if (format !== 'rgba8unorm' && format !== 'bgra8unorm' && format !== 'rgba8unorm-srgb' && format !== 'bgra8unorm-srgb') {
    throw new Error(`readTexture supports 8-bit RGBA/BGRA textures, not ${format}`);
  }
  const bytesPerRow = Math.ceil((width * 4) / 256) * 256;
  const staging = device.createBuffer({ label: 'texture readback', size: bytesPerRow * height, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  try {
    const encoder = device.createCommandEncoder({ label: 'texture readback' });
    encoder.copyTextureToBuffer({ texture }, { buffer: staging, bytesPerRow }, { width, height });
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return unpadRows(new Uint8Array(staging.getMappedRange()), width, height, bytesPerRow, format.startsWith('bgra'));
  } finally {
    staging.destroy();
  }
}

/** Packed RGBA pixels from rows padded to `bytesPerRow`, swapping R and B for BGRA sources. */
export function unpadRows(src: Uint8Array, width: number, height: number, bytesPerRow: number, bgra: boolean): ImageData {
  const out = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    const row = src.subarray(y * bytesPerRow, y * bytesPerRow + width * 4);
    out.set(row, y * width * 4);
  }
  if (bgra) {
    for (let i = 0; i < out.length; i += 4) {
      const b = out[i];
      out[i] = out[i + 2];
      out[i + 2] = b;
    }
  }
  return new ImageData(out, width, height);
}

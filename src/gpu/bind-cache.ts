/** Bind groups of compute pipelines, cached by what they bind. */

/** Bind group over `entries` (binding number -> buffer or buffer binding) for `pipeline`'s group 0. */
function bindGroup(device: GPUDevice, pipeline: GPUComputePipeline, entries: Record<number, GPUBuffer | GPUBufferBinding>, label?: string): GPUBindGroup {
  return device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: Object.entries(entries).map(([binding, r]) => ({ binding: Number(binding), resource: 'buffer' in r ? r : { buffer: r } })),
  });
}

const ids = new WeakMap<object, number>();
let nextId = 1;
/** A stable number per object (pipelines, buffers) for cache keys. */
export function idOf(o: object): number {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = nextId++));
  return id;
}

/**
 * Bind groups cached by (pipeline, buffers, offsets): a training loop or a frame loop that
 * reuses its buffers creates each bind group once. Bounded; cleared when full.
 */
export class BindCache {
  private readonly cache = new Map<string, GPUBindGroup>();

  constructor(
    private readonly device: GPUDevice,
    private readonly limit = 256,
  ) {}

  get(pipeline: GPUComputePipeline, entries: Record<number, GPUBuffer | GPUBufferBinding>): GPUBindGroup {
    let key = String(idOf(pipeline));
    for (const [binding, r] of Object.entries(entries)) {
      key += 'buffer' in r ? `|${binding}:${idOf(r.buffer)}@${r.offset ?? 0}+${r.size ?? -1}` : `|${binding}:${idOf(r)}`;
    }
    let group = this.cache.get(key);
    if (!group) {
      if (this.cache.size >= this.limit) this.cache.clear();
      group = bindGroup(this.device, pipeline, entries, pipeline.label);
      this.cache.set(key, group);
    }
    return group;
  }

  clear(): void {
    this.cache.clear();
  }
}

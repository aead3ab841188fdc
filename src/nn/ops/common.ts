/**
 * Plumbing shared by the nn ops: activation codes (one table for WGSL and TS), pipelines
 * cached per device by a key, uniform blocks cached by content (so an op encoded at several
 * sizes in one encoder never overwrites a block a pending dispatch reads), bind groups cached
 * by buffer identity, and passes opened by the op or supplied by the caller.
 */
import commonWgsl from '../../../shaders/nn_common.wgsl?raw';
import { idOf } from '../../gpu/bind-cache.ts';
import { computePipeline, wgsl } from '../../gpu/shader.ts';
import type { Tensor } from '../tensor.ts';

/** Activations fused into kernels. `leaky_relu` takes its slope from `alpha` (PyTorch default 0.01). */
export type Activation = 'none' | 'relu' | 'relu6' | 'leaky_relu' | 'gelu' | 'tanh' | 'sigmoid';

/** Codes of shaders/nn_common.wgsl `activate`. */
export const ACTIVATION_CODE: Record<Activation, number> = { none: 0, relu: 1, relu6: 2, leaky_relu: 3, gelu: 4, tanh: 5, sigmoid: 6 };

export interface ActivationSpec {
  activation?: Activation;
  /** Slope of leaky_relu (default 0.01). */
  alpha?: number;
}

/**
 * Fused residual add: `'after'` computes act(conv(x) + b) + skip (MobileR2L and MobileNetV2
 * blocks add after the last BN with no activation, which is `'after'` with activation 'none');
 * `'before'` computes act(conv(x) + b + skip).
 */
export type ResidualOrder = 'after' | 'before';

/** Epilogue flags of nn_common.wgsl `finish`: bit 0 has skip, bit 1 add skip before the activation. */
export function epilogueFlags(skip: boolean, order: ResidualOrder): number {
  return (skip ? 1 : 0) | (skip && order === 'before' ? 2 : 0);
}

export { inPass, type EncodeTarget } from '../../gpu/shader.ts';

/** The WGSL chunk every nn kernel starts with (activations, erf, epilogue). */
export function withCommon(code: string): string {
  // `enable` directives must open the module: hoist them above the shared chunk.
  const enables = code.match(/^\s*enable [^;]+;\s*$/gm) ?? [];
  const body = code.replace(/^\s*enable [^;]+;\s*$/gm, '');
  return wgsl(...enables.map((e) => e.trim()), commonWgsl, body);
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** Pipeline of `code` (prefixed with nn_common) by `key`, built once per device. */
export function cachedPipeline(device: GPUDevice, key: string, label: string, code: () => string, entryPoint = 'main', constants: Record<string, number> = {}): GPUComputePipeline {
  let byKey = pipelines.get(device);
  if (!byKey) pipelines.set(device, (byKey = new Map()));
  const full = `${key}|${entryPoint}|${JSON.stringify(constants)}`;
  let p = byKey.get(full);
  if (!p) {
    p = computePipeline(device, label, withCommon(code()), entryPoint, constants);
    byKey.set(full, p);
  }
  return p;
}

type Resource = GPUBuffer | GPUBufferBinding;

/**
 * Per-op GPU state: uniform buffers by content (created once, never rewritten) and bind
 * groups by (pipeline, buffers). Both are small and bounded; an op that runs at the same
 * sizes every frame creates nothing after its first frame.
 */
export class OpResources {
  private readonly uniforms = new Map<string, GPUBuffer>();
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly retired: GPUBuffer[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
    private readonly maxUniforms = 64,
  ) {}

  /** A uniform buffer holding `words` (u32 or f32 bit patterns, written as given). */
  uniform(words: ArrayLike<number>, floats: readonly number[] = []): GPUBuffer {
    const data = new Uint32Array(Math.max(4, Math.ceil((words.length + floats.length) / 4) * 4));
    for (let i = 0; i < words.length; i++) data[i] = words[i] >>> 0;
    const f = new Float32Array(data.buffer);
    for (let i = 0; i < floats.length; i++) f[words.length + i] = floats[i];
    const key = Array.from(data).join(',');
    let buffer = this.uniforms.get(key);
    if (!buffer) {
      if (this.uniforms.size >= this.maxUniforms) {
        // An encoder not yet submitted may still bind the current blocks: retire them for one
        // generation, and free the generation retired before (maxUniforms distinct sizes ago).
        for (const b of this.retired) b.destroy();
        this.retired.length = 0;
        for (const b of this.uniforms.values()) this.retired.push(b);
        this.uniforms.clear();
        this.groups.clear();
      }
      buffer = this.device.createBuffer({ label: `${this.label} uniforms`, size: data.byteLength, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true });
      new Uint32Array(buffer.getMappedRange()).set(data);
      buffer.unmap();
      this.uniforms.set(key, buffer);
    }
    return buffer;
  }

  /** Bind group 0 of `pipeline`: binding i = entries[i]; null leaves binding i out. */
  bindGroup(pipeline: GPUComputePipeline, entries: readonly (Resource | null)[]): GPUBindGroup {
    let key = String(idOf(pipeline));
    for (const r of entries) key += r === null ? '|-' : 'buffer' in r ? `|${idOf(r.buffer)}@${r.offset ?? 0}+${r.size ?? -1}` : `|${idOf(r)}`;
    let group = this.groups.get(key);
    if (!group) {
      if (this.groups.size >= 256) this.groups.clear();
      group = this.device.createBindGroup({
        label: this.label,
        layout: pipeline.getBindGroupLayout(0),
        entries: entries.flatMap((r, binding) => (r === null ? [] : [{ binding, resource: 'buffer' in r ? r : { buffer: r } }])),
      });
      this.groups.set(key, group);
    }
    return group;
  }

  /** One dispatch: pipeline, bind group 0 over `entries` (binding i = entries[i]), workgroup counts. */
  dispatch(pass: GPUComputePassEncoder, pipeline: GPUComputePipeline, entries: readonly (Resource | null)[], x: number, y = 1, z = 1): void {
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) throw new RangeError(`${this.label}: ${x}x${y}x${z} workgroups exceed the device limit of ${max} per dimension`);
    if (x === 0 || y === 0 || z === 0) return;
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, this.bindGroup(pipeline, entries));
    pass.dispatchWorkgroups(x, y, z);
  }

  destroy(): void {
    for (const b of this.uniforms.values()) b.destroy();
    for (const b of this.retired) b.destroy();
    this.uniforms.clear();
    this.retired.length = 0;
    this.groups.clear();
  }
}

/** Workgroups along x for `items`, folded into y when x would pass the limit (kernels rebuild the linear index). */
export function linearGroups(device: GPUDevice, items: number, size: number): [number, number] {
  const groups = Math.ceil(items / size);
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/** Storage buffer holding `data`, padded with zeros to `length` floats (at least 4). */
export function weightBuffer(device: GPUDevice, label: string, data: Float32Array, length = data.length): GPUBuffer {
  const n = Math.max(4, Math.ceil(Math.max(length, data.length) / 4) * 4);
  const buffer = device.createBuffer({ label, size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
  new Float32Array(buffer.getMappedRange()).set(data);
  buffer.unmap();
  return buffer;
}

export function checkChannels(what: string, tensor: Tensor, offset: number, channels: number): void {
  if (offset < 0 || offset + channels > tensor.c) {
    throw new RangeError(`${what}: channels ${offset}..${offset + channels - 1} do not fit a tensor of ${tensor.c} channels`);
  }
}

export function sameSpatial(what: string, a: Tensor, b: Tensor): void {
  if (a.n !== b.n || a.h !== b.h || a.w !== b.w) throw new RangeError(`${what}: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ in N, H or W`);
}

export function activationWords(spec: ActivationSpec): { act: number; alpha: number } {
  const activation = spec.activation ?? 'none';
  const act = ACTIVATION_CODE[activation];
  if (act === undefined) throw new RangeError(`unknown activation '${activation}'`);
  return { act, alpha: spec.alpha ?? 0.01 };
}

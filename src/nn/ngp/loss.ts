/**
 * tiny-cuda-nn L2 and RelativeL2 losses (shaders/ngp_loss.wgsl): dL/dprediction for the
 * backward pass and the loss value reduced on the GPU into `stats` (16 bytes:
 * [last loss, sum of losses, number of calls, 0]), which a caller copies out when it likes
 * (`LossReadback`), never stalling the frame loop.
 *
 * Values are the mean over n * dims elements (tcnn divides by n_total = n * dims); gradients
 * are `lossScale * 2 (p - t) / (n dims)` (/ (p^2 + 0.01) for relative L2, the denominator held
 * constant). Predictions are [n][stride] (the MLP's padded outputs), targets [n][dims].
 */
import lossWgsl from '../../../shaders/ngp_loss.wgsl?raw';
import { computePipeline } from '../../gpu/shader.ts';
import { LOSS_KINDS, type LossKind } from './config.ts';
import { BindCache } from '../../gpu/bind-cache.ts';
import { inPass, storageBuffer, UniformArena, type EncodeTarget } from './gpu-util.ts';

const WG = 256;
const MAX_GROUPS = 256;

export interface LossBuffers {
  predictions: GPUBuffer;
  targets: GPUBuffer;
  /** Receives dL/dpredictions [n][stride]. */
  gradients: GPUBuffer;
}

export class Loss {
  /** [last loss, running sum, calls, 0] as f32. */
  readonly stats: GPUBuffer;
  private readonly partial: GPUBuffer;
  private readonly pipelines: Record<LossKind, { loss: GPUComputePipeline; finish: GPUComputePipeline }>;
  private readonly uniforms: UniformArena;
  private readonly binds: BindCache;

  constructor(device: GPUDevice) {
    this.stats = storageBuffer(device, 'ngp loss stats', 16);
    this.partial = storageBuffer(device, 'ngp loss partial sums', MAX_GROUPS * 4);
    const make = (kind: LossKind) => ({
      loss: computePipeline(device, 'ngp loss', lossWgsl, 'loss', { KIND: LOSS_KINDS[kind] }),
      finish: computePipeline(device, 'ngp loss', lossWgsl, 'finish', { KIND: LOSS_KINDS[kind] }),
    });
    this.pipelines = { l2: make('l2'), relative_l2: make('relative_l2') };
    this.uniforms = new UniformArena(device, 'ngp loss');
    this.binds = new BindCache(device);
  }

  /** Loss and its gradient for n rows of `dims` outputs (prediction rows `stride` floats apart). */
  encode(target: EncodeTarget, kind: LossKind, buffers: LossBuffers, n: number, dims: number, stride: number, lossScale = 1): void {
    if (n <= 0) return;
    if (!(kind in LOSS_KINDS)) throw new RangeError(`unknown loss ${kind}; expected ${Object.keys(LOSS_KINDS).join(' or ')}`);
    const groups = Math.min(MAX_GROUPS, Math.ceil((n * stride) / WG));
    const data = new ArrayBuffer(32);
    new Uint32Array(data, 0, 4).set([n, dims, stride, groups]);
    new Float32Array(data, 16, 2).set([lossScale / (n * dims), 1 / (n * dims)]);
    const uniform = this.uniforms.bind(data);
    const { loss, finish } = this.pipelines[kind];
    const g1 = this.binds.get(loss, { 0: uniform, 1: buffers.predictions, 2: buffers.targets, 3: buffers.gradients, 4: this.partial });
    const g2 = this.binds.get(finish, { 0: uniform, 4: this.partial, 5: this.stats });
    inPass(target, 'ngp loss', (pass) => {
      pass.setPipeline(loss);
      pass.setBindGroup(0, g1);
      pass.dispatchWorkgroups(groups);
      pass.setPipeline(finish);
      pass.setBindGroup(0, g2);
      pass.dispatchWorkgroups(1);
    });
  }

  /** Zeroes the running statistics. */
  encodeReset(encoder: GPUCommandEncoder): void {
    encoder.clearBuffer(this.stats);
  }

  destroy(): void {
    this.stats.destroy();
    this.partial.destroy();
    this.uniforms.destroy();
    this.binds.clear();
  }
}

export interface LossSample {
  /** Loss of the last step recorded before the copy. */
  last: number;
  /** Mean loss over the steps since the last reset. */
  mean: number;
  /** Steps since the last reset. */
  count: number;
}

/**
 * Non-blocking loss readback: `encode` copies the stats into a free mappable buffer of a small
 * ring (or does nothing when all are in flight) and returns a callback to run after submit;
 * `latest` updates when the map resolves, a frame or two later.
 */
export class LossReadback {
  latest: LossSample | null = null;
  private readonly ring: { buffer: GPUBuffer; busy: boolean }[] = [];

  constructor(device: GPUDevice, slots = 3) {
    for (let i = 0; i < slots; i++) {
      this.ring.push({ buffer: device.createBuffer({ label: 'ngp loss readback', size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ }), busy: false });
    }
  }

  encode(encoder: GPUCommandEncoder, stats: GPUBuffer): () => void {
    const slot = this.ring.find((s) => !s.busy);
    if (!slot) return () => undefined;
    slot.busy = true;
    encoder.copyBufferToBuffer(stats, 0, slot.buffer, 0, 16);
    return () => {
      slot.buffer.mapAsync(GPUMapMode.READ).then(
        () => {
          const [last, sum, count] = new Float32Array(slot.buffer.getMappedRange());
          this.latest = { last, mean: count > 0 ? sum / count : 0, count };
          slot.buffer.unmap();
          slot.busy = false;
        },
        () => (slot.busy = false),
      );
    };
  }

  destroy(): void {
    for (const s of this.ring) s.buffer.destroy();
  }
}

/**
 * The try-on pipeline: a loaded DM-VTON student plus its input and output tensors at one input
 * size. `setInputs` uploads prepared planes (queue writes, outside any frame encoder);
 * `encode` records the whole network into the caller's encoder; nothing is read back.
 */
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { emptyTensor, TensorPool, type Tensor } from '../../nn/tensor.ts';
import { DmVtonModel, type TryOnOutputs } from './model.ts';
import { binarizeAndMask } from './preprocess.ts';

export interface PlaneInputs {
  /** [3, H, W] in [-1, 1]. */
  person?: Float32Array;
  /** [3, H, W] in [-1, 1] (masked here by the binary edge). */
  garment?: Float32Array;
  /** [H, W] in [0, 1] (thresholded here at 0.5). */
  edge?: Float32Array;
}

export class TryOnPipeline {
  readonly pool: TensorPool;
  readonly person: Tensor;
  readonly garment: Tensor;
  readonly edge: Tensor;
  readonly outputs: TryOnOutputs;
  private rawGarment: Float32Array<ArrayBuffer>;
  private rawEdge: Float32Array<ArrayBuffer>;

  constructor(
    private readonly device: GPUDevice,
    /** The network (swapped when checkpoints load); null until one is loaded. */
    public model: DmVtonModel | null,
    readonly height: number,
    readonly width: number,
  ) {
    DmVtonModel.checkSize(height, width);
    this.pool = new TensorPool(device, 'tryon pool');
    const s = (c: number) => [1, c, height, width] as const;
    this.person = emptyTensor(device, s(3), 'tryon person');
    this.garment = emptyTensor(device, s(3), 'tryon garment');
    this.edge = emptyTensor(device, s(1), 'tryon edge');
    this.outputs = {
      tryOn: emptyTensor(device, s(3), 'tryon output'),
      warpedCloth: emptyTensor(device, s(3), 'tryon warped cloth'),
      warpedEdge: emptyTensor(device, s(1), 'tryon warped edge'),
      flow: emptyTensor(device, s(2), 'tryon flow'),
      gen: emptyTensor(device, s(4), 'tryon gen'),
    };
    this.rawGarment = new Float32Array(3 * height * width);
    this.rawEdge = new Float32Array(height * width);
  }

  setInputs(inputs: PlaneInputs): void {
    const hw = this.height * this.width;
    const check = (name: string, a: Float32Array | undefined, n: number) => {
      if (a && a.length !== n) throw new RangeError(`${name} has ${a.length} values; ${this.height}x${this.width} needs ${n}`);
    };
    check('person', inputs.person, 3 * hw);
    check('garment', inputs.garment, 3 * hw);
    check('edge', inputs.edge, hw);
    const q = this.device.queue;
    if (inputs.person) q.writeBuffer(this.person.buffer, 0, new Float32Array(inputs.person));
    if (inputs.garment) this.rawGarment = new Float32Array(inputs.garment);
    if (inputs.edge) this.rawEdge = new Float32Array(inputs.edge);
    if (inputs.garment || inputs.edge) {
      const { garment, edge } = binarizeAndMask(this.rawGarment, this.rawEdge);
      q.writeBuffer(this.garment.buffer, 0, garment);
      q.writeBuffer(this.edge.buffer, 0, edge);
    }
  }

  encode(encoder: GPUCommandEncoder, profiler?: GpuProfiler): void {
    if (!this.model) throw new Error('no try-on model is loaded');
    this.model.encode(encoder, this.pool, { person: this.person, garment: this.garment, edge: this.edge }, this.outputs, profiler);
  }

  /** GPU bytes this pipeline holds (inputs, outputs, pooled intermediates). */
  get bytes(): number {
    const own = [this.person, this.garment, this.edge, ...Object.values(this.outputs)].reduce((s, t) => s + t.buffer.size, 0);
    return own + this.pool.stats.bytes;
  }

  destroy(): void {
    for (const t of [this.person, this.garment, this.edge, ...Object.values(this.outputs)]) t.destroy();
    this.pool.destroy();
  }
}

/**
 * Element-wise ops (shaders/nn_elementwise.wgsl): add/mul with a fused activation, standalone
 * activations (in place when input and output are one tensor), channel concat by copies into
 * channel slices, a per-channel-range activation split (DM-VTON's tanh | sigmoid head), DM-VTON's
 * try-on composition, and apply_offset (pixel offsets -> normalized sampling grid).
 */
import ewWgsl from '../../../shaders/nn_elementwise.wgsl?raw';
import type { Shape, Tensor } from '../tensor.ts';
import { activationWords, cachedPipeline, checkChannels, inPass, linearGroups, OpResources, sameSpatial, type ActivationSpec, type EncodeTarget } from './common.ts';

type Entry = 'binary' | 'unary' | 'unaryInPlace' | 'copy' | 'split' | 'composite' | 'offsetGrid';

interface Words {
  count: number;
  C?: number;
  HW?: number;
  op?: number;
  act?: number;
  act2?: number;
  split?: number;
  Ctot?: number;
  outOff?: number;
  W?: number;
  H?: number;
  alpha?: number;
  alpha2?: number;
}

abstract class ElementwiseOp {
  protected readonly resources: OpResources;

  constructor(
    protected readonly device: GPUDevice,
    readonly label: string,
  ) {
    this.resources = new OpResources(device, label);
  }

  protected run(target: EncodeTarget, entry: Entry, w: Words, bindings: (GPUBuffer | null)[]): void {
    const [gx, gy] = linearGroups(this.device, w.count, 64);
    const u = this.resources.uniform(
      [w.count, w.C ?? 0, w.HW ?? 0, w.op ?? 0, w.act ?? 0, w.act2 ?? 0, w.split ?? 0, w.Ctot ?? 0, w.outOff ?? 0, w.W ?? 0, w.H ?? 0, gx],
      [w.alpha ?? 0, w.alpha2 ?? 0, 0, 0],
    );
    const pipeline = cachedPipeline(this.device, 'nn-elementwise', 'nn elementwise', () => ewWgsl, entry);
    inPass(target, this.label, (pass) => this.resources.dispatch(pass, pipeline, [u, ...bindings], gx, gy));
  }

  destroy(): void {
    this.resources.destroy();
  }
}

function sameShape(what: string, a: Tensor, b: Tensor): void {
  if (a.n !== b.n || a.c !== b.c || a.h !== b.h || a.w !== b.w) throw new RangeError(`${what}: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
}

function distinct(what: string, out: Tensor, ...inputs: Tensor[]): void {
  if (inputs.some((t) => t.buffer === out.buffer)) throw new RangeError(`${what}: the output must not alias an input`);
}

export type BinaryOp = 'add' | 'mul';

/** out = act(a + b) or act(a * b), same shapes. */
export class Binary extends ElementwiseOp {
  constructor(
    device: GPUDevice,
    private readonly params: ActivationSpec & { op?: BinaryOp; label?: string } = {},
  ) {
    super(device, params.label ?? params.op ?? 'add');
    activationWords(params);
    if (params.op && params.op !== 'add' && params.op !== 'mul') throw new RangeError(`unknown binary op '${params.op}'`);
  }

  encode(target: EncodeTarget, a: Tensor, b: Tensor, out: Tensor): void {
    sameShape(this.label, a, b);
    sameShape(this.label, a, out);
    distinct(this.label, out, a, b);
    const { act, alpha } = activationWords(this.params);
    this.run(target, 'binary', { count: a.size, op: this.params.op === 'mul' ? 1 : 0, act, alpha }, [a.buffer, b.buffer, null, out.buffer]);
  }
}

/** out = act(x); in place when `out` is `x` (or omitted). */
export class ActivationOp extends ElementwiseOp {
  constructor(
    device: GPUDevice,
    private readonly params: ActivationSpec & { label?: string },
  ) {
    super(device, params.label ?? params.activation ?? 'activation');
    activationWords(params);
  }

  outputShape(input: Shape): Shape {
    return input;
  }

  encode(target: EncodeTarget, x: Tensor, out: Tensor = x): void {
    sameShape(this.label, x, out);
    const { act, alpha } = activationWords(this.params);
    if (out.buffer === x.buffer) this.run(target, 'unaryInPlace', { count: x.size, act, alpha }, [null, null, null, out.buffer]);
    else this.run(target, 'unary', { count: x.size, act, alpha }, [x.buffer, null, null, out.buffer]);
  }
}

/**
 * torch.cat(inputs, dim=1) by copies into channel slices of `out`. Ops that write channel
 * offsets themselves (Conv2d, ConvTranspose2d, GridSample, Upsample, Correlation) make most
 * concats free; this covers the rest.
 */
export class Concat extends ElementwiseOp {
  constructor(device: GPUDevice, params: { label?: string } = {}) {
    super(device, params.label ?? 'concat');
  }

  static outputShape(inputs: readonly Shape[]): Shape {
    const [n, , h, w] = inputs[0];
    return [n, inputs.reduce((s, t) => s + t[1], 0), h, w];
  }

  /** Copies each input to the next channels of `out`, starting at `outChannelOffset`. */
  encode(target: EncodeTarget, inputs: readonly Tensor[], out: Tensor, outChannelOffset = 0): void {
    let off = outChannelOffset;
    for (const x of inputs) {
      this.encodeCopy(target, x, out, off);
      off += x.c;
    }
  }

  /** out[:, off:off + x.c] = x. */
  encodeCopy(target: EncodeTarget, x: Tensor, out: Tensor, outChannelOffset: number): void {
    sameSpatial(this.label, x, out);
    checkChannels(this.label, out, outChannelOffset, x.c);
    distinct(this.label, out, x);
    this.run(target, 'copy', { count: x.size, C: x.c, HW: x.h * x.w, Ctot: out.c, outOff: outChannelOffset }, [x.buffer, null, null, out.buffer]);
  }
}

/** out[:, c] = act(x[:, c]) for c < split, act2(x[:, c]) for c >= split. */
export class SplitActivation extends ElementwiseOp {
  constructor(
    device: GPUDevice,
    private readonly params: { split: number; first: ActivationSpec; second: ActivationSpec; label?: string },
  ) {
    super(device, params.label ?? 'split activation');
    activationWords(params.first);
    activationWords(params.second);
  }

  encode(target: EncodeTarget, x: Tensor, out: Tensor): void {
    sameShape(this.label, x, out);
    distinct(this.label, out, x);
    const a = activationWords(this.params.first);
    const b = activationWords(this.params.second);
    this.run(target, 'split', { count: x.size, C: x.c, HW: x.h * x.w, split: this.params.split, act: a.act, alpha: a.alpha, act2: b.act, alpha2: b.alpha }, [x.buffer, null, null, out.buffer]);
  }
}

/**
 * DM-VTON's last step in one kernel: p_rendered = tanh(gen[:, :3]), m = sigmoid(gen[:, 3]) *
 * warped_edge, p_tryon = warped_cloth * m + p_rendered * (1 - m).
 */
export class TryOnComposite extends ElementwiseOp {
  constructor(device: GPUDevice, params: { label?: string } = {}) {
    super(device, params.label ?? 'try-on composite');
  }

  encode(target: EncodeTarget, gen: Tensor, warpedCloth: Tensor, warpedEdge: Tensor, out: Tensor): void {
    if (gen.c !== 4 || warpedCloth.c !== 3 || warpedEdge.c !== 1 || out.c !== 3) throw new RangeError(`${this.label}: expects gen [N,4,H,W], cloth [N,3,H,W], edge [N,1,H,W], out [N,3,H,W]`);
    for (const t of [warpedCloth, warpedEdge, out]) sameSpatial(this.label, gen, t);
    distinct(this.label, out, gen, warpedCloth, warpedEdge);
    this.run(target, 'composite', { count: gen.n * gen.h * gen.w, HW: gen.h * gen.w }, [gen.buffer, warpedCloth.buffer, warpedEdge.buffer, out.buffer]);
  }
}

/**
 * DM-VTON apply_offset: offsets [N, 2, H, W] (pixels, x then y) -> grid [N, H, W, 2]
 * (align_corners=True normalization), or with `layout: 'nchw'` the grid permuted to [N, 2, H, W]
 * (AFlowNet's first level, which keeps that as its flow).
 */
export class ApplyOffset extends ElementwiseOp {
  readonly layout: 'nhwc' | 'nchw';

  constructor(device: GPUDevice, params: { label?: string; layout?: 'nhwc' | 'nchw' } = {}) {
    super(device, params.label ?? 'apply_offset');
    this.layout = params.layout ?? 'nhwc';
    if (this.layout !== 'nhwc' && this.layout !== 'nchw') throw new RangeError(`apply_offset layout '${String(this.layout)}' is not nhwc or nchw`);
  }

  static outputShape(offset: Shape, layout: 'nhwc' | 'nchw' = 'nhwc'): Shape {
    return layout === 'nchw' ? [offset[0], 2, offset[2], offset[3]] : [offset[0], offset[2], offset[3], 2];
  }

  encode(target: EncodeTarget, offset: Tensor, grid: Tensor): void {
    if (offset.c !== 2) throw new RangeError(`${this.label}: offsets must be [N, 2, H, W]`);
    const want = ApplyOffset.outputShape(offset.shape, this.layout);
    if (grid.shape.some((d, i) => d !== want[i])) throw new RangeError(`${this.label}: grid must be [${want.join(', ')}], got [${grid.shape.join(', ')}]`);
    distinct(this.label, grid, offset);
    this.run(target, 'offsetGrid', { count: offset.n * offset.h * offset.w, HW: offset.h * offset.w, W: offset.w, H: offset.h, op: this.layout === 'nchw' ? 1 : 0 }, [offset.buffer, null, null, grid.buffer]);
  }
}

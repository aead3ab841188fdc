/**
 * The DM-VTON student (KiseKloset/DM-VTON, `pipelines/dmvton_pipeline.py`) as WebGPU ops:
 *
 *   - `MobileAfwm` (`models/warp_modules/mobile_afwm.py`, test phase): two MobileNetV2 dynamic
 *     FPNs (`cond_mobile` on the person, `image_mobile` on the garment), then AFlowNet's
 *     coarse-to-fine cascade: 7x7 correlation + LeakyReLU(0.1) -> netMain[i] offsets, composed
 *     with the previous flow by grid sampling; the garment feature warped by that flow and
 *     concatenated with the person feature -> netRefine[i] offsets, composed again; the flow is
 *     then upsampled x2 (bilinear, align_corners=False). grid_sample everywhere is bilinear,
 *     border padding, align_corners=True (the edge warp uses zeros).
 *   - `MobileNetV2Unet(7, 4)` (`models/generators/mobile_unet.py`): MobileNetV2 encoder,
 *     transposed-conv decoder with [skip, up] concats and inverted residuals, nearest x2 and a
 *     final 3x3 conv; tanh | sigmoid split and the composition in one kernel.
 *
 * Modules are built from state dicts by the official key names (the module tree mirrors the
 * PyTorch one); BatchNorm is folded into the conv before it, ReLU6 / LeakyReLU are fused into
 * the conv epilogues, the FPN's upsample-add into the lateral conv (as its residual), apply_offset
 * into grid_sample (offset grids), the correlation's LeakyReLU into the correlation kernel.
 * Every width comes from the weights' shapes, so narrower models than the official one load too.
 */
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { foldBatchNorm, foldBatchNormTransposed, StageRecorder, type StateDictLike, type WeightSource } from '../../nn/graph.ts';
import type { Activation } from '../../nn/ops/common.ts';
import { Conv2d, type Precision } from '../../nn/ops/conv2d.ts';
import { ConvTranspose2d } from '../../nn/ops/conv-transpose2d.ts';
import { Correlation } from '../../nn/ops/correlation.ts';
import { ApplyOffset, Concat, TryOnComposite } from '../../nn/ops/elementwise.ts';
import { GridSample } from '../../nn/ops/grid-sample.ts';
import { AdaptiveAvgPool2d, Upsample } from '../../nn/ops/resize.ts';
import type { Tensor, TensorPool } from '../../nn/tensor.ts';

/** Stage names of the per-stage GPU timings. */
export const STAGES = { person: 'person FPN', garment: 'garment FPN', flow: 'flow cascade', generator: 'generator' } as const;

/** Error naming a checkpoint key (missing, extra, wrong shape). */
export class CheckpointKeyError extends Error {
  constructor(
    message: string,
    readonly key: string,
  ) {
    super(message);
    this.name = 'CheckpointKeyError';
  }
}

function getEntry(dict: StateDictLike, key: string): WeightSource | undefined {
  return dict instanceof Map ? dict.get(key) : (dict as Readonly<Record<string, WeightSource>>)[key];
}

function dictKeys(dict: StateDictLike): string[] {
  return dict instanceof Map ? [...dict.keys()] : Object.keys(dict);
}

interface ConvSpec {
  /** Input channels the previous layer produces (checked against the weight). */
  inChannels: number;
  kernel: number;
  stride?: number;
  padding?: number;
  depthwise?: boolean;
  /** Whether the official module has a bias (a missing one is an error, an unexpected one an extra key). */
  bias: boolean;
  batchNorm?: string;
  activation?: Activation;
  alpha?: number;
  /** Expected output channels, when the architecture fixes them. */
  outChannels?: number;
}

/**
 * Shape-checked reads of one module's keys: every key read is recorded, so `finish()` can
 * name the keys the checkpoint has but the model does not use. All errors name the key.
 */
export class Weights {
  private readonly used = new Set<string>();
  /** Ops built so far (destroyed when a later key fails). */
  private readonly built: { destroy(): void }[] = [];

  constructor(
    readonly device: GPUDevice,
    private readonly dict: StateDictLike,
    /** Prefix of every key in the dict (e.g. 'warp_model.'). */
    private readonly prefix: string,
    readonly what: string,
    readonly precision: Precision = 'f32',
  ) {}

  private entry(key: string, shape?: readonly number[]): WeightSource {
    const full = this.prefix + key;
    const e = getEntry(this.dict, full);
    if (!e) throw new CheckpointKeyError(`${this.what}: the checkpoint has no '${full}' (missing key)`, full);
    if (shape && (shape.length !== e.shape.length || shape.some((d, i) => d !== -1 && d !== e.shape[i]))) {
      throw new CheckpointKeyError(`${this.what}: '${full}' has shape [${e.shape.join(', ')}], expected [${shape.map((d) => (d < 0 ? '*' : d)).join(', ')}]`, full);
    }
    this.used.add(full);
    return e;
  }

  has(key: string): boolean {
    return getEntry(this.dict, this.prefix + key) !== undefined;
  }

  shape(key: string): readonly number[] {
    return this.entry(key).shape;
  }

  values(key: string, shape?: readonly number[]): Float32Array {
    const e = this.entry(key, shape);
    const data = e.toFloat32();
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new CheckpointKeyError(`${this.what}: '${this.prefix + key}' holds a non-finite value at index ${i}`, this.prefix + key);
    }
    return data;
  }

  /** Marks a key as belonging to the model without reading it. */
  touch(key: string): void {
    if (this.has(key)) this.used.add(this.prefix + key);
  }

  own<T extends { destroy(): void }>(op: T): T {
    this.built.push(op);
    return op;
  }

  conv(key: string, spec: ConvSpec): Conv2d {
    const w = this.entry(`${key}.weight`);
    const groupsIn = spec.depthwise ? 1 : spec.inChannels;
    const out = spec.depthwise ? spec.inChannels : (spec.outChannels ?? w.shape[0]);
    const weight = this.values(`${key}.weight`, [out, groupsIn, spec.kernel, spec.kernel]);
    let bias: Float32Array | undefined;
    if (spec.bias) bias = this.values(`${key}.bias`, [out]);
    let folded = { weight, bias };
    if (spec.batchNorm) {
      const bn = spec.batchNorm;
      const gamma = this.values(`${bn}.weight`, [out]);
      const beta = this.values(`${bn}.bias`, [out]);
      const mean = this.values(`${bn}.running_mean`, [out]);
      const variance = this.values(`${bn}.running_var`, [out]);
      this.touch(`${bn}.num_batches_tracked`);
      folded = foldBatchNorm(weight, bias, gamma, beta, mean, variance);
    }
    return this.own(
      new Conv2d(this.device, {
        label: this.prefix + key,
        inChannels: spec.inChannels,
        outChannels: out,
        kernel: spec.kernel,
        stride: spec.stride ?? 1,
        padding: spec.padding ?? (spec.kernel - 1) / 2,
        groups: spec.depthwise ? spec.inChannels : 1,
        weight: folded.weight,
        bias: folded.bias,
        activation: spec.activation,
        alpha: spec.alpha,
        precision: spec.depthwise ? 'f32' : this.precision,
      }),
    );
  }

  convTranspose(key: string, inChannels: number): ConvTranspose2d {
    const w = this.entry(`${key}.weight`, [inChannels, -1, 4, 4]);
    const out = w.shape[1];
    const weight = this.values(`${key}.weight`);
    const bias = this.values(`${key}.bias`, [out]);
    // (foldBatchNormTransposed is unused: the official decoder has no norm after its dconvs.)
    void foldBatchNormTransposed;
    return this.own(new ConvTranspose2d(this.device, { label: this.prefix + key, inChannels, outChannels: out, kernel: 4, stride: 2, padding: 1, weight, bias, precision: this.precision }));
  }

  /** Keys of the dict under this prefix that the model did not read. */
  unused(): string[] {
    return dictKeys(this.dict).filter((k) => k.startsWith(this.prefix) && !this.used.has(k));
  }

  /** Throws naming the first unexpected key (and how many there are); `ignore` skips keys another module owns. */
  finish(ignore: (key: string) => boolean = () => false): void {
    const extra = this.unused().filter((k) => !ignore(k));
    if (extra.length) {
      throw new CheckpointKeyError(`${this.what}: unexpected key '${extra[0]}'${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''}: not part of the DM-VTON student`, extra[0]);
    }
  }

  /** Frees the ops built so far (a failed load). */
  destroyBuilt(): void {
    for (const op of this.built) op.destroy();
    this.built.length = 0;
  }
}

/** Records `fn` under `stage` (one pass per consecutive stage). */
type Rec = StageRecorder;

/** An inverted residual block: [1x1 expand + BN + ReLU6], depthwise 3x3 + BN + ReLU6, 1x1 project + BN, residual when stride 1 and in = out. */
class InvertedResidual {
  readonly outChannels: number;
  private readonly residual: boolean;

  constructor(
    private readonly expand: Conv2d | null,
    private readonly dw: Conv2d,
    private readonly project: Conv2d,
    readonly stride: number,
    inChannels: number,
  ) {
    this.outChannels = project.outChannels;
    this.residual = stride === 1 && inChannels === this.outChannels;
  }

  /**
   * `conv.{0,1,3,4,6,7}` (expand, BN, dw, BN, project, BN) or, with `expandRatioOne` (the
   * torchvision-style t=1 block of the generator's encoder), `conv.{0,1,3,4}` (dw, BN, project, BN).
   */
  static load(w: Weights, key: string, inChannels: number, stride: number, expandRatioOne = false): InvertedResidual {
    let expand: Conv2d | null = null;
    let hidden = inChannels;
    let i = 0;
    if (!expandRatioOne) {
      expand = w.conv(`${key}.conv.0`, { inChannels, kernel: 1, bias: false, batchNorm: `${key}.conv.1`, activation: 'relu6' });
      hidden = expand.outChannels;
      i = 3;
    }
    const dw = w.conv(`${key}.conv.${i}`, { inChannels: hidden, kernel: 3, stride, padding: 1, depthwise: true, bias: false, batchNorm: `${key}.conv.${i + 1}`, activation: 'relu6' });
    const project = w.conv(`${key}.conv.${i + 3}`, { inChannels: hidden, kernel: 1, bias: false, batchNorm: `${key}.conv.${i + 4}` });
    return new InvertedResidual(expand, dw, project, stride, inChannels);
  }

  /** Runs the block on `x`; returns a pool tensor (x is left alone). With `into`, writes there at `outChannelOffset`. */
  run(rec: Rec, stage: string, pool: TensorPool, x: Tensor, into?: { tensor: Tensor; offset: number }): Tensor {
    let h = x;
    if (this.expand) {
      const e = pool.acquire(this.expand.outputShape(x.shape));
      const expand = this.expand;
      rec.run(stage, (p) => expand.encode(p, x, e));
      h = e;
    }
    const d = pool.acquire(this.dw.outputShape(h.shape));
    const hIn = h;
    rec.run(stage, (p) => this.dw.encode(p, hIn, d));
    if (h !== x) h.destroy();
    const out = into?.tensor ?? pool.acquire(this.project.outputShape(d.shape));
    rec.run(stage, (p) => this.project.encode(p, d, out, { skip: this.residual ? x : undefined, outChannelOffset: into?.offset ?? 0 }));
    d.destroy();
    return out;
  }

  macs(input: readonly [number, number, number, number]): number {
    let s = input;
    let m = 0;
    for (const c of [this.expand, this.dw, this.project]) {
      if (!c) continue;
      m += c.macs(s);
      s = c.outputShape(s);
    }
    return m;
  }

  destroy(): void {
    this.expand?.destroy();
    this.dw.destroy();
    this.project.destroy();
  }
}

/** MobileNetV2_dynamicFPN: strides of its seven inverted-residual stages. */
const FPN_STRIDES = [1, 2, 2, 2, 2, 2, 1];

export class MobileFpn {
  readonly first: Conv2d;
  readonly blocks: InvertedResidual[] = [];
  readonly laterals: Conv2d[] = [];
  readonly top: Conv2d;
  readonly smooth: Conv2d;
  readonly fpnChannels: number;
  private readonly pool: AdaptiveAvgPool2d;
  private readonly up: Upsample;

  constructor(w: Weights, key: string, inChannels: number) {
    this.first = w.conv(`${key}.first_layer.0`, { inChannels, kernel: 3, bias: false, batchNorm: `${key}.first_layer.1`, activation: 'relu6' });
    let c = this.first.outChannels;
    const lateralIn: number[] = [];
    FPN_STRIDES.forEach((stride, i) => {
      const block = InvertedResidual.load(w, `${key}.inverted_residual_blocks.${i}.0`, c, stride);
      this.blocks.push(block);
      c = block.outChannels;
      if (stride > 1) lateralIn.push(c);
    });
    this.top = w.conv(`${key}.top_layer`, { inChannels: c, kernel: 1, bias: true });
    this.fpnChannels = this.top.outChannels;
    lateralIn.forEach((cin, j) => this.laterals.push(w.conv(`${key}.lateral_layers.${j}`, { inChannels: cin, kernel: 1, bias: true, outChannels: this.fpnChannels })));
    // One conv shared by the five smooth_layers entries (list multiplication in the official code):
    // state dicts repeat it under five names; all must hold the same values.
    this.smooth = w.conv(`${key}.smooth_layers.0`, { inChannels: this.fpnChannels, kernel: 3, bias: true, outChannels: this.fpnChannels });
    const ref = [w.values(`${key}.smooth_layers.0.weight`), w.values(`${key}.smooth_layers.0.bias`)];
    for (let j = 1; j < this.laterals.length; j++) {
      for (const [s, part] of [['weight', 0], ['bias', 1]] as const) {
        const k = `${key}.smooth_layers.${j}.${s}`;
        if (!w.has(k)) continue; // stored once is fine (safetensors exports may de-duplicate)
        const v = w.values(k, part === 0 ? [this.fpnChannels, this.fpnChannels, 3, 3] : [this.fpnChannels]);
        const r = ref[part];
        for (let i = 0; i < v.length; i++) {
          if (v[i] !== r[i]) throw new CheckpointKeyError(`${w.what}: '${k}' differs from smooth_layers.0 at index ${i}: the official FPN shares one smooth conv`, k);
        }
      }
    }
    this.pool = w.own(new AdaptiveAvgPool2d(w.device, { label: `${key}.average_pool` }));
    this.up = w.own(new Upsample(w.device, { mode: 'bilinear', alignCorners: false, label: `${key} upsample_add` }));
  }

  /** The five pyramid levels, finest first (p_layers[::-1]); the caller destroys them. */
  run(rec: Rec, stage: string, pool: TensorPool, x: Tensor): Tensor[] {
    let h = pool.acquire(this.first.outputShape(x.shape));
    const h0 = h;
    rec.run(stage, (p) => this.first.encode(p, x, h0));
    const stageOuts: Tensor[] = [];
    this.blocks.forEach((block, i) => {
      const out = block.run(rec, stage, pool, h);
      if (!stageOuts.includes(h)) h.destroy();
      if (FPN_STRIDES[i] > 1 && stageOuts.length < this.laterals.length) stageOuts.push(out);
      h = out;
    });
    const last = h;
    const avg = pool.acquire([last.n, last.c, 1, 1]);
    rec.run(stage, (p) => this.pool.encode(p, last, avg));
    if (!stageOuts.includes(last)) last.destroy();
    let m = pool.acquire(this.top.outputShape(avg.shape));
    const m0 = m;
    rec.run(stage, (p) => this.top.encode(p, avg, m0));
    avg.destroy();
    const merged: Tensor[] = [];
    for (let j = this.laterals.length - 1; j >= 0; j--) {
      const lat = stageOuts[j];
      const up = pool.acquire([lat.n, this.fpnChannels, lat.h, lat.w]);
      const prev = m;
      rec.run(stage, (p) => this.up.encode(p, prev, up));
      if (!merged.includes(prev)) prev.destroy();
      const mj = pool.acquire(up.shape);
      const lateral = this.laterals[j];
      rec.run(stage, (p) => lateral.encode(p, lat, mj, { skip: up }));
      up.destroy();
      lat.destroy();
      merged.push(mj);
      m = mj;
    }
    // merged is coarse -> fine; smooth each and return fine -> coarse.
    const out: Tensor[] = [];
    for (let j = merged.length - 1; j >= 0; j--) {
      const mj = merged[j];
      const pj = pool.acquire(mj.shape);
      rec.run(stage, (p) => this.smooth.encode(p, mj, pj));
      out.push(pj);
    }
    for (const t of merged) t.destroy();
    return out;
  }

  macs(input: readonly [number, number, number, number]): number {
    let s = this.first.outputShape(input);
    let m = this.first.macs(input);
    const lat: (readonly [number, number, number, number])[] = [];
    this.blocks.forEach((b, i) => {
      m += b.macs(s);
      s = [s[0], b.outChannels, Math.floor((s[2] + 2 - 3) / FPN_STRIDES[i]) + 1, Math.floor((s[3] + 2 - 3) / FPN_STRIDES[i]) + 1];
      if (FPN_STRIDES[i] > 1) lat.push(s);
    });
    m += this.top.macs([1, s[1], 1, 1]);
    lat.forEach((l, j) => {
      m += this.laterals[j].macs(l);
      m += this.smooth.macs([l[0], this.fpnChannels, l[2], l[3]]);
    });
    return m;
  }

  destroy(): void {
    // Owned by the Weights that built it (destroyed through the model).
  }
}

const LEAKY = { activation: 'leaky_relu' as const, alpha: 0.1 };

/** netMain[i] / netRefine[i]: four 3x3 convs, LeakyReLU(0.1) after the first three; output 2 channels (pixel offsets). */
class FlowHead {
  readonly convs: Conv2d[] = [];

  constructor(w: Weights, key: string, inChannels: number) {
    let c = inChannels;
    for (const [i, j] of [[0, 0], [1, 2], [2, 4], [3, 6]]) {
      const last = i === 3;
      const conv = w.conv(`${key}.${j}`, { inChannels: c, kernel: 3, bias: true, ...(last ? { outChannels: 2 } : LEAKY) });
      this.convs.push(conv);
      c = conv.outChannels;
    }
  }

  run(rec: Rec, stage: string, pool: TensorPool, x: Tensor): Tensor {
    let h = x;
    for (const conv of this.convs) {
      const out = pool.acquire(conv.outputShape(h.shape));
      const inT = h;
      rec.run(stage, (p) => conv.encode(p, inT, out));
      if (h !== x) h.destroy();
      h = out;
    }
    return h;
  }

  macs(s: readonly [number, number, number, number]): number {
    return this.convs.reduce((m, c) => m + c.macs([s[0], c.inChannels, s[2], s[3]]), 0);
  }
}

export const PYRAMID_LEVELS = 5;

export class AFlowNet {
  readonly netMain: FlowHead[] = [];
  readonly netRefine: FlowHead[] = [];
  private readonly corr: Correlation;
  private readonly gsNchw: GridSample;
  private readonly gsOffset: GridSample;
  private readonly offsetNchw: ApplyOffset;
  private readonly up: Upsample;
  private readonly concat: Concat;

  constructor(w: Weights, key: string, fpnChannels: number) {
    for (let i = 0; i < PYRAMID_LEVELS; i++) {
      this.netMain.push(new FlowHead(w, `${key}.netMain.${i}`, 49));
      this.netRefine.push(new FlowHead(w, `${key}.netRefine.${i}`, 2 * fpnChannels));
    }
    const d = w.device;
    this.corr = w.own(new Correlation(d, { ...LEAKY, label: `${key} correlation` }));
    this.gsNchw = w.own(new GridSample(d, { padding: 'border', alignCorners: true, gridLayout: 'nchw', label: `${key} grid_sample` }));
    this.gsOffset = w.own(new GridSample(d, { padding: 'border', alignCorners: true, gridLayout: 'offset', label: `${key} grid_sample(apply_offset)` }));
    this.offsetNchw = w.own(new ApplyOffset(d, { layout: 'nchw', label: `${key} apply_offset` }));
    this.up = w.own(new Upsample(d, { mode: 'bilinear', alignCorners: false, label: `${key} flow x2` }));
    this.concat = w.own(new Concat(d, { label: `${key} concat` }));
  }

  /**
   * The test-phase cascade. `warps` (garment) and `conds` (person) are the FPN levels finest
   * first; returns last_flow [N, 2, 2*H0, 2*W0] (a normalized sampling grid, channel-first).
   */
  run(rec: Rec, stage: string, pool: TensorPool, warps: Tensor[], conds: Tensor[]): Tensor {
    let lastFlow: Tensor | null = null;
    for (let i = 0; i < PYRAMID_LEVELS; i++) {
      const xw = warps[PYRAMID_LEVELS - 1 - i];
      const xc = conds[PYRAMID_LEVELS - 1 - i];
      const [n, c, h, wd] = xw.shape;
      let xwa = xw;
      if (lastFlow) {
        const lf: Tensor = lastFlow;
        const t = pool.acquire(xw.shape);
        rec.run(stage, (p) => this.gsNchw.encode(p, xw, lf, t));
        xwa = t;
      }
      const corr = pool.acquire([n, 49, h, wd]);
      const first = xwa;
      rec.run(stage, (p) => this.corr.encode(p, first, xc, corr));
      if (xwa !== xw) xwa.destroy();
      const off = this.netMain[i].run(rec, stage, pool, corr);
      corr.destroy();
      const flow = pool.acquire([n, 2, h, wd]);
      if (lastFlow) {
        const lf: Tensor = lastFlow;
        rec.run(stage, (p) => this.gsOffset.encode(p, lf, off, flow));
        lastFlow.destroy();
      } else {
        rec.run(stage, (p) => this.offsetNchw.encode(p, off, flow));
      }
      off.destroy();
      const cat = pool.acquire([n, 2 * c, h, wd]);
      rec.run(stage, (p) => {
        this.gsNchw.encode(p, xw, flow, cat, { outChannelOffset: 0 });
        this.concat.encodeCopy(p, xc, cat, c);
      });
      const off2 = this.netRefine[i].run(rec, stage, pool, cat);
      cat.destroy();
      const refined = pool.acquire([n, 2, h, wd]);
      rec.run(stage, (p) => this.gsOffset.encode(p, flow, off2, refined));
      flow.destroy();
      off2.destroy();
      const next = pool.acquire([n, 2, 2 * h, 2 * wd]);
      rec.run(stage, (p) => this.up.encode(p, refined, next));
      refined.destroy();
      lastFlow = next;
    }
    return lastFlow!;
  }

  macs(levels: (readonly [number, number, number, number])[]): number {
    let m = 0;
    for (let i = 0; i < PYRAMID_LEVELS; i++) {
      const s = levels[PYRAMID_LEVELS - 1 - i];
      m += this.netMain[i].macs(s) + this.netRefine[i].macs(s);
    }
    return m;
  }

  destroy(): void {}
}

/** MobileAFWM(3): the warping module. */
export class MobileAfwm {
  readonly imageMobile: MobileFpn;
  readonly condMobile: MobileFpn;
  readonly aflowNet: AFlowNet;

  constructor(private readonly w: Weights) {
    this.imageMobile = new MobileFpn(w, 'image_mobile', 3);
    this.condMobile = new MobileFpn(w, 'cond_mobile', 3);
    if (this.imageMobile.fpnChannels !== this.condMobile.fpnChannels) {
      throw new CheckpointKeyError(`${w.what}: image_mobile has ${this.imageMobile.fpnChannels} FPN channels, cond_mobile ${this.condMobile.fpnChannels}: the correlation needs equal widths`, 'cond_mobile.top_layer.weight');
    }
    this.aflowNet = new AFlowNet(w, 'aflow_net', this.imageMobile.fpnChannels);
  }

  get fpnChannels(): number {
    return this.imageMobile.fpnChannels;
  }

  destroy(): void {
    this.w.destroyBuilt();
  }
}

/** MobileNetV2(7).features strides (index 1..7) and which outputs are skips. */
const GEN_STRIDES = [1, 2, 2, 2, 1, 2, 1];

/** MobileNetV2_unet(7, 4): the generator. */
export class MobileNetV2Unet {
  readonly features0: Conv2d;
  readonly blocks: InvertedResidual[] = [];
  readonly features8: Conv2d;
  readonly dconv: ConvTranspose2d[] = [];
  readonly invres: InvertedResidual[] = [];
  readonly convLast: Conv2d;
  readonly inChannels: number;
  private readonly concat: Concat;
  private readonly nearest: Upsample;

  constructor(private readonly w: Weights) {
    const first = w.shape('backbone.features.0.0.weight');
    this.inChannels = first[1];
    if (this.inChannels !== 7) throw new CheckpointKeyError(`${w.what}: 'backbone.features.0.0.weight' takes ${this.inChannels} input channels; the DM-VTON student generator takes 7 (person, warped garment, warped edge). A teacher generator (8 channels) does not fit.`, 'backbone.features.0.0.weight');
    this.features0 = w.conv('backbone.features.0.0', { inChannels: 7, kernel: 3, stride: 2, padding: 1, bias: false, batchNorm: 'backbone.features.0.1', activation: 'relu6' });
    let c = this.features0.outChannels;
    const skips: number[] = [];
    GEN_STRIDES.forEach((stride, i) => {
      const block = InvertedResidual.load(w, `backbone.features.${i + 1}`, c, stride, i === 0);
      this.blocks.push(block);
      c = block.outChannels;
      if (i === 0 || i === 1 || i === 2 || i === 4) skips.push(c); // x1, x2, x3, x4
    });
    this.features8 = w.conv('backbone.features.8.0', { inChannels: c, kernel: 1, bias: false, batchNorm: 'backbone.features.8.1', activation: 'relu6' });
    c = this.features8.outChannels;
    for (let k = 1; k <= 4; k++) {
      const d = w.convTranspose(`dconv${k}`, c);
      this.dconv.push(d);
      const skip = skips[4 - k];
      const ir = InvertedResidual.load(w, `invres${k}`, skip + d.outChannels, 1);
      this.invres.push(ir);
      c = ir.outChannels;
    }
    this.convLast = w.conv('conv_last', { inChannels: c, kernel: 3, bias: false, outChannels: 4 });
    this.concat = w.own(new Concat(w.device, { label: 'generator concat' }));
    this.nearest = w.own(new Upsample(w.device, { mode: 'nearest', label: 'generator nearest x2' }));
  }

  /** gen_outputs [N, 4, H, W] (before tanh/sigmoid) into `out`. */
  run(rec: Rec, stage: string, pool: TensorPool, x: Tensor, out: Tensor): void {
    let h = pool.acquire(this.features0.outputShape(x.shape));
    const h0 = h;
    rec.run(stage, (p) => this.features0.encode(p, x, h0));
    const skips: Tensor[] = [];
    this.blocks.forEach((block, i) => {
      const o = block.run(rec, stage, pool, h);
      if (!skips.includes(h)) h.destroy();
      h = o;
      if (i === 0 || i === 1 || i === 2 || i === 4) skips.push(o);
    });
    let top = pool.acquire(this.features8.outputShape(h.shape));
    const hIn = h;
    const t0 = top;
    rec.run(stage, (p) => this.features8.encode(p, hIn, t0));
    if (!skips.includes(h)) h.destroy();
    for (let k = 0; k < 4; k++) {
      const skip = skips[3 - k];
      const d = this.dconv[k];
      const cat = pool.acquire([skip.n, skip.c + d.outChannels, skip.h, skip.w]);
      const topIn = top;
      rec.run(stage, (p) => {
        this.concat.encodeCopy(p, skip, cat, 0);
        d.encode(p, topIn, cat, { outChannelOffset: skip.c });
      });
      top.destroy();
      skip.destroy();
      top = this.invres[k].run(rec, stage, pool, cat);
      cat.destroy();
    }
    const up = pool.acquire([top.n, top.c, top.h * 2, top.w * 2]);
    const topIn = top;
    rec.run(stage, (p) => this.nearest.encode(p, topIn, up));
    top.destroy();
    rec.run(stage, (p) => this.convLast.encode(p, up, out));
    up.destroy();
  }

  macs(input: readonly [number, number, number, number]): number {
    let s = this.features0.outputShape(input);
    let m = this.features0.macs(input);
    const skips: (readonly [number, number, number, number])[] = [];
    this.blocks.forEach((b, i) => {
      m += b.macs(s);
      s = [s[0], b.outChannels, Math.floor((s[2] - 1) / GEN_STRIDES[i]) + 1, Math.floor((s[3] - 1) / GEN_STRIDES[i]) + 1];
      if (i === 0 || i === 1 || i === 2 || i === 4) skips.push(s);
    });
    m += this.features8.macs(s);
    s = this.features8.outputShape(s);
    for (let k = 0; k < 4; k++) {
      const d = this.dconv[k];
      m += s[0] * s[1] * s[2] * s[3] * d.outChannels * 16; // k4 s2: every input pixel scatters a 4x4 tap per output channel
      const sk = skips[3 - k];
      const cat: [number, number, number, number] = [sk[0], sk[1] + d.outChannels, sk[2], sk[3]];
      m += this.invres[k].macs(cat);
      s = [sk[0], this.invres[k].outChannels, sk[2], sk[3]];
    }
    m += this.convLast.macs([s[0], s[1], s[2] * 2, s[3] * 2]);
    return m;
  }

  destroy(): void {
    this.w.destroyBuilt();
  }
}

/** Prefixes under which whole-pipeline state dicts store the two modules. */
const WARP_PREFIXES = ['', 'warp_model.', 'warp.', 'pf_warp.'];
const GEN_PREFIXES = ['', 'gen_model.', 'gen.', 'pf_gen.'];

export type CheckpointPart = 'warp' | 'gen';

/** Keys of the warp module / the generator (without a pipeline prefix). */
export function isWarpKey(key: string): boolean {
  return /^(image_mobile|cond_mobile|aflow_net)\./.test(key);
}
export function isGenKey(key: string): boolean {
  return /^(backbone\.|dconv\d\.|invres\d\.|conv_last\.)/.test(key);
}

/** A key without the pipeline prefix it may carry ('warp_model.', 'gen_model.', ...). */
export function stripPipelinePrefix(key: string): string {
  for (const p of [...WARP_PREFIXES, ...GEN_PREFIXES]) if (p && key.startsWith(p)) return key.slice(p.length);
  return key;
}

/** Which parts a state dict holds, by key, with their prefixes. */
export function detectParts(dict: StateDictLike): { warp?: string; gen?: string } {
  const keys = dictKeys(dict);
  const has = (k: string) => keys.includes(k);
  const found: { warp?: string; gen?: string } = {};
  for (const p of WARP_PREFIXES) if (has(`${p}image_mobile.first_layer.0.weight`) || has(`${p}cond_mobile.first_layer.0.weight`) || has(`${p}aflow_net.netMain.0.0.weight`)) found.warp ??= p;
  for (const p of GEN_PREFIXES) if (has(`${p}backbone.features.0.0.weight`) || has(`${p}conv_last.weight`)) found.gen ??= p;
  return found;
}

/** Explains a state dict that is not the DM-VTON student (teacher, PF-AFN, other models). */
export function describeForeign(dict: StateDictLike): string {
  const keys = dictKeys(dict);
  const sample = keys.slice(0, 3).join(', ');
  if (keys.some((k) => /(^|\.)image_features\.|(^|\.)image_FPN\.|(^|\.)cond_features\./.test(k))) return 'this looks like a PF-AFN / FS-VTON warp module (ResBlock feature encoders), not the DM-VTON student';
  if (keys.some((k) => /(^|\.)model\.\d+\.model\./.test(k) || /ResUnet|ngf/.test(k))) return 'this looks like a ResUnet generator (PF-AFN / FS-VTON teacher), not the DM-VTON student';
  if (keys.some((k) => /aflow_net\.netStyle|cond_style|image_style/.test(k))) return 'this looks like the StyleGAN-flow warp (a teacher or the unofficial CPU variant), not the DM-VTON student';
  return `no DM-VTON student keys found (the file holds ${keys.length} tensors${sample ? `, e.g. ${sample}` : ''})`;
}

/** The warp module from a state dict (throws naming the key on any mismatch; frees what it built). */
export function loadWarp(device: GPUDevice, dict: StateDictLike, prefix: string, what: string, precision: Precision = 'f32'): MobileAfwm {
  const w = new Weights(device, dict, prefix, what, precision);
  try {
    const m = new MobileAfwm(w);
    // In a combined file the generator's keys are the generator's business.
    w.finish((k) => isGenKey(stripPipelinePrefix(k)));
    return m;
  } catch (e) {
    w.destroyBuilt();
    throw e;
  }
}

/** The generator from a state dict. */
export function loadGen(device: GPUDevice, dict: StateDictLike, prefix: string, what: string, precision: Precision = 'f32'): MobileNetV2Unet {
  const w = new Weights(device, dict, prefix, what, precision);
  try {
    const m = new MobileNetV2Unet(w);
    w.finish((k) => isWarpKey(stripPipelinePrefix(k)));
    return m;
  } catch (e) {
    w.destroyBuilt();
    throw e;
  }
}

export interface TryOnOutputs {
  tryOn: Tensor;
  warpedCloth: Tensor;
  warpedEdge: Tensor;
  /** last_flow [N, 2, H, W]. */
  flow: Tensor;
  /** gen_outputs before tanh/sigmoid [N, 4, H, W]. */
  gen: Tensor;
}

export interface TryOnInputs {
  /** [N, 3, H, W] in [-1, 1]. */
  person: Tensor;
  /** [N, 3, H, W] in [-1, 1], already multiplied by the binary edge. */
  garment: Tensor;
  /** [N, 1, H, W], binary (edge > 0.5). */
  edge: Tensor;
}

/** Warp + generator + composition, recorded into one encoder. */
export class DmVtonModel {
  private readonly gsBorder: GridSample;
  private readonly gsZeros: GridSample;
  private readonly concat: Concat;
  private readonly composite: TryOnComposite;

  constructor(
    readonly device: GPUDevice,
    readonly warp: MobileAfwm,
    readonly gen: MobileNetV2Unet,
  ) {
    this.gsBorder = new GridSample(device, { padding: 'border', alignCorners: true, gridLayout: 'nchw', label: 'warp garment' });
    this.gsZeros = new GridSample(device, { padding: 'zeros', alignCorners: true, gridLayout: 'nchw', label: 'warp edge' });
    this.concat = new Concat(device, { label: 'generator input' });
    this.composite = new TryOnComposite(device);
  }

  /** Input heights and widths must be multiples of 32 (five stride-2 stages, then x2 flow steps). */
  static checkSize(height: number, width: number): void {
    if (!(height >= 64 && width >= 64 && height % 32 === 0 && width % 32 === 0)) throw new RangeError(`DM-VTON needs an input size that is a multiple of 32 in both directions (e.g. 256x192 or 128x96), got ${height}x${width}`);
  }

  /** Records the whole student; `outputs` tensors are written (allocated by the caller at the input size). */
  encode(encoder: GPUCommandEncoder, pool: TensorPool, inputs: TryOnInputs, outputs: TryOnOutputs, profiler?: GpuProfiler): void {
    const rec = new StageRecorder(encoder, profiler);
    const conds = this.warp.condMobile.run(rec, STAGES.person, pool, inputs.person);
    const warps = this.warp.imageMobile.run(rec, STAGES.garment, pool, inputs.garment);
    const flow = this.warp.aflowNet.run(rec, STAGES.flow, pool, warps, conds);
    for (const t of [...conds, ...warps]) t.destroy();
    const [n, , h, w] = inputs.person.shape;
    const genIn = pool.acquire([n, 7, h, w]);
    rec.run(STAGES.flow, (p) => {
      this.concat.encodeCopy(p, flow, outputs.flow, 0);
      this.gsBorder.encode(p, inputs.garment, flow, outputs.warpedCloth);
      this.gsZeros.encode(p, inputs.edge, flow, outputs.warpedEdge);
    });
    flow.destroy();
    rec.run(STAGES.generator, (p) => {
      this.concat.encodeCopy(p, inputs.person, genIn, 0);
      this.concat.encodeCopy(p, outputs.warpedCloth, genIn, 3);
      this.concat.encodeCopy(p, outputs.warpedEdge, genIn, 6);
    });
    this.gen.run(rec, STAGES.generator, pool, genIn, outputs.gen);
    genIn.destroy();
    rec.run(STAGES.generator, (p) => this.composite.encode(p, outputs.gen, outputs.warpedCloth, outputs.warpedEdge, outputs.tryOn));
    rec.finish();
  }

  /** Multiply-accumulates of the convs at an input size (GMAC = / 1e9). */
  macs(height: number, width: number): number {
    const levels: [number, number, number, number][] = [];
    let h = height;
    let w = width;
    for (let i = 0; i < PYRAMID_LEVELS; i++) {
      h = Math.floor((h - 1) / 2) + 1;
      w = Math.floor((w - 1) / 2) + 1;
      levels.push([1, this.warp.fpnChannels, h, w]);
    }
    return this.warp.imageMobile.macs([1, 3, height, width]) + this.warp.condMobile.macs([1, 3, height, width]) + this.warp.aflowNet.macs(levels) + this.gen.macs([1, 7, height, width]);
  }

  /** Destroys the helper ops (the modules are destroyed by their owner). */
  destroyOps(): void {
    this.gsBorder.destroy();
    this.gsZeros.destroy();
    this.concat.destroy();
    this.composite.destroy();
  }
}

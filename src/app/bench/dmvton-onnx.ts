/**
 * ONNX export of the DM-VTON student (the same state dict our WGSL network loads, BatchNorm
 * folded the same way) so onnxruntime-web can run the very same network beside ours. The CUDA
 * correlation becomes plain ops (zero Pad, 49 Slice x Mul x ReduceMean, Concat), apply_offset
 * an Add/Mul/Sub with a constant pixel grid; grid_sample is GridSample (opset 16+), bilinear
 * resizes are Resize(linear, half_pixel) and the generator's nearest x2 Resize(nearest,
 * asymmetric, floor): PyTorch's conventions.
 *
 * Inputs: person [1,3,H,W] in [-1,1], garment [1,3,H,W] (already multiplied by the edge),
 * edge [1,1,H,W] (binary). Outputs: tryon [1,3,H,W], warped_cloth [1,3,H,W].
 */
import { foldBatchNorm, type StateDictLike, type WeightSource } from '../../nn/graph.ts';
import { attribute, int64Tensor, Message, node, tensor, valueInfo, type AttributeValue } from './onnx-writer.ts';

type Act = 'none' | 'relu6' | 'leaky';

class GraphBuilder {
  private readonly nodes: Message[] = [];
  private readonly inits: Message[] = [];
  private n = 0;
  private readonly consts = new Map<string, string>();

  constructor(
    private readonly dicts: { warp: StateDictLike; gen: StateDictLike },
    private readonly prefixes: { warp: string; gen: string },
  ) {}

  private get(part: 'warp' | 'gen', key: string): WeightSource {
    const d = this.dicts[part];
    const full = this.prefixes[part] + key;
    const e = d instanceof Map ? d.get(full) : (d as Record<string, WeightSource>)[full];
    if (!e) throw new Error(`ONNX export: no '${full}'`);
    return e;
  }

  has(part: 'warp' | 'gen', key: string): boolean {
    const d = this.dicts[part];
    const full = this.prefixes[part] + key;
    return d instanceof Map ? d.has(full) : full in (d as Record<string, WeightSource>);
  }

  f32(part: 'warp' | 'gen', key: string): Float32Array {
    return this.get(part, key).toFloat32();
  }

  shape(part: 'warp' | 'gen', key: string): readonly number[] {
    return this.get(part, key).shape;
  }

  init(dims: number[], values: Float32Array, hint = 'c'): string {
    const name = `${hint}_${this.n++}`;
    this.inits.push(tensor(name, dims, values));
    return name;
  }

  i64(values: number[]): string {
    const key = `i64:${values.join(',')}`;
    let name = this.consts.get(key);
    if (!name) {
      name = `i64_${this.n++}`;
      this.inits.push(int64Tensor(name, [values.length], values));
      this.consts.set(key, name);
    }
    return name;
  }

  scalar(v: number): string {
    const key = `f:${v}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.init([], new Float32Array([v]), 's');
      this.consts.set(key, name);
    }
    return name;
  }

  op(type: string, inputs: string[], attrs: Record<string, AttributeValue> = {}, out?: string): string {
    const y = out ?? `${type.toLowerCase()}_${this.n++}`;
    const m = node(type, inputs, [y], `${type}_${this.n++}`);
    for (const [k, v] of Object.entries(attrs)) m.message(5, attribute(k, v));
    this.nodes.push(m);
    return y;
  }

  finish(inputs: [string, number[]][], outputs: [string, number[]][], opset: number): Uint8Array {
    const graph = new Message();
    for (const n of this.nodes) graph.message(1, n);
    graph.string(2, 'dmvton_student');
    for (const t of this.inits) graph.message(5, t);
    for (const [name, dims] of inputs) graph.message(11, valueInfo(name, dims));
    for (const [name, dims] of outputs) graph.message(12, valueInfo(name, dims));
    const model = new Message();
    model.int(1, 8);
    model.string(2, 'webgpu-suite onnx-writer');
    model.message(7, graph);
    model.message(8, new Message().string(1, '').int(2, opset));
    return model.finish();
  }
}

interface Net {
  g: GraphBuilder;
  part: 'warp' | 'gen';
}

function conv(net: Net, x: string, key: string, o: { stride?: number; bn?: string; act?: Act; depthwise?: boolean; channels?: number }): { y: string; out: number } {
  const { g, part } = net;
  const shape = g.shape(part, `${key}.weight`);
  const [out, inPer, k] = shape;
  let weight = g.f32(part, `${key}.weight`);
  let bias = g.has(part, `${key}.bias`) ? g.f32(part, `${key}.bias`) : undefined;
  if (o.bn) {
    const f = foldBatchNorm(weight, bias, g.f32(part, `${o.bn}.weight`), g.f32(part, `${o.bn}.bias`), g.f32(part, `${o.bn}.running_mean`), g.f32(part, `${o.bn}.running_var`));
    weight = f.weight;
    bias = f.bias;
  }
  const w = g.init([out, inPer, k, k], weight, 'w');
  const inputs = [x, w];
  if (bias) inputs.push(g.init([out], bias, 'b'));
  const p = (k - 1) / 2;
  let y = g.op('Conv', inputs, { kernel_shape: [k, k], strides: [o.stride ?? 1, o.stride ?? 1], pads: [p, p, p, p], group: o.depthwise ? out : 1 });
  if (o.act === 'relu6') y = g.op('Clip', [y, g.scalar(0), g.scalar(6)]);
  else if (o.act === 'leaky') y = g.op('LeakyRelu', [y], { alpha: { float: 0.1 } });
  return { y, out };
}

function invertedResidual(net: Net, x: string, inC: number, key: string, stride: number, expandOne = false): { y: string; out: number } {
  let h = x;
  let i = 0;
  if (!expandOne) {
    h = conv(net, h, `${key}.conv.0`, { bn: `${key}.conv.1`, act: 'relu6' }).y;
    i = 3;
  }
  h = conv(net, h, `${key}.conv.${i}`, { stride, bn: `${key}.conv.${i + 1}`, act: 'relu6', depthwise: true }).y;
  const p = conv(net, h, `${key}.conv.${i + 3}`, { bn: `${key}.conv.${i + 4}` });
  return stride === 1 && inC === p.out ? { y: net.g.op('Add', [x, p.y]), out: p.out } : p;
}

function resize(g: GraphBuilder, x: string, sizes: number[], mode: 'linear' | 'nearest'): string {
  return g.op(
    'Resize',
    [x, '', '', g.i64(sizes)],
    mode === 'linear' ? { mode: 'linear', coordinate_transformation_mode: 'half_pixel' } : { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
  );
}

/** MobileNetV2_dynamicFPN: levels finest first, with their [C, h, w]. */
function fpn(net: Net, x: string, key: string, H: number, W: number): { y: string; h: number; w: number }[] {
  const strides = [1, 2, 2, 2, 2, 2, 1];
  const first = conv(net, x, `${key}.first_layer.0`, { bn: `${key}.first_layer.1`, act: 'relu6' });
  let h = first.y;
  let c = first.out;
  let hh = H;
  let ww = W;
  const lats: { y: string; h: number; w: number }[] = [];
  strides.forEach((s, i) => {
    const r = invertedResidual(net, h, c, `${key}.inverted_residual_blocks.${i}.0`, s);
    h = r.y;
    c = r.out;
    if (s === 2) {
      hh = Math.floor((hh - 1) / 2) + 1;
      ww = Math.floor((ww - 1) / 2) + 1;
      if (lats.length < 5) lats.push({ y: conv(net, h, `${key}.lateral_layers.${lats.length}`, {}).y, h: hh, w: ww });
    }
  });
  const top = conv(net, net.g.op('GlobalAveragePool', [h]), `${key}.top_layer`, {});
  let m = top.y;
  const merged: { y: string; h: number; w: number }[] = [];
  for (let j = lats.length - 1; j >= 0; j--) {
    const l = lats[j];
    m = net.g.op('Add', [resize(net.g, m, [1, top.out, l.h, l.w], 'linear'), l.y]);
    merged.push({ y: m, h: l.h, w: l.w });
  }
  return merged.map((t) => ({ y: conv(net, t.y, `${key}.smooth_layers.0`, {}).y, h: t.h, w: t.w })).reverse();
}

function nhwc(g: GraphBuilder, x: string): string {
  return g.op('Transpose', [x], { perm: [0, 2, 3, 1] });
}

function gridSample(g: GraphBuilder, x: string, gridNhwc: string, padding: 'border' | 'zeros'): string {
  return g.op('GridSample', [x, gridNhwc], { align_corners: 1, mode: 'bilinear', padding_mode: padding });
}

/** apply_offset on channel-first offsets [1,2,h,w] -> channel-first grid. */
function applyOffset(g: GraphBuilder, off: string, h: number, w: number): string {
  const base = new Float32Array(2 * h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    base[y * w + x] = x;
    base[h * w + y * w + x] = y;
  }
  const scale = g.init([1, 2, 1, 1], new Float32Array([2 / (w - 1), 2 / (h - 1)]), 'scale');
  return g.op('Sub', [g.op('Mul', [g.op('Add', [off, g.init([1, 2, h, w], base, 'mesh')]), scale]), g.scalar(1)]);
}

function correlation(g: GraphBuilder, first: string, second: string, h: number, w: number): string {
  const padded = g.op('Pad', [second, g.i64([0, 0, 3, 3, 0, 0, 3, 3])], { mode: 'constant' });
  // Concats of 7 inputs per row, then of the 7 rows: WebGPU backends bind every input as a
  // storage buffer, and the default limit is 8 per shader stage.
  const rows: string[] = [];
  for (let dy = -3; dy <= 3; dy++) {
    const outs: string[] = [];
    for (let dx = -3; dx <= 3; dx++) {
      const s = g.op('Slice', [padded, g.i64([3 + dy, 3 + dx]), g.i64([3 + dy + h, 3 + dx + w]), g.i64([2, 3])]);
      outs.push(g.op('ReduceMean', [g.op('Mul', [first, s])], { axes: [1], keepdims: 1 }));
    }
    rows.push(g.op('Concat', outs, { axis: 1 }));
  }
  return g.op('LeakyRelu', [g.op('Concat', rows, { axis: 1 })], { alpha: { float: 0.1 } });
}

function flowHead(net: Net, x: string, key: string): string {
  let h = x;
  for (const j of [0, 2, 4]) h = conv(net, h, `${key}.${j}`, { act: 'leaky' }).y;
  return conv(net, h, `${key}.6`, {}).y;
}

export function dmvtonToOnnx(warp: StateDictLike, gen: StateDictLike, height: number, width: number, prefixes = { warp: '', gen: '' }, opset = 17): Uint8Array {
  const g = new GraphBuilder({ warp, gen }, prefixes);
  const wnet: Net = { g, part: 'warp' };
  const gnet: Net = { g, part: 'gen' };
  const conds = fpn(wnet, 'person', 'cond_mobile', height, width);
  const warps = fpn(wnet, 'garment', 'image_mobile', height, width);
  let last: string | null = null;
  for (let i = 0; i < 5; i++) {
    const xw = warps[4 - i];
    const xc = conds[4 - i];
    const xwa = last ? gridSample(g, xw.y, nhwc(g, last), 'border') : xw.y;
    const corr = correlation(g, xwa, xc.y, xw.h, xw.w);
    let flow = applyOffset(g, flowHead(wnet, corr, `aflow_net.netMain.${i}`), xw.h, xw.w);
    if (last) flow = gridSample(g, last, nhwc(g, flow), 'border');
    last = flow;
    const warped = gridSample(g, xw.y, nhwc(g, flow), 'border');
    const refineOff = flowHead(wnet, g.op('Concat', [warped, xc.y], { axis: 1 }), `aflow_net.netRefine.${i}`);
    const refined = gridSample(g, flow, nhwc(g, applyOffset(g, refineOff, xw.h, xw.w)), 'border');
    last = resize(g, refined, [1, 2, xw.h * 2, xw.w * 2], 'linear');
  }
  const grid = nhwc(g, last!);
  const warpedCloth = gridSample(g, 'garment', grid, 'border');
  const warpedEdge = gridSample(g, 'edge', grid, 'zeros');
  g.op('Identity', [warpedCloth], {}, 'warped_cloth');
  // Generator.
  const genIn = g.op('Concat', ['person', warpedCloth, warpedEdge], { axis: 1 });
  const f0 = conv(gnet, genIn, 'backbone.features.0.0', { stride: 2, bn: 'backbone.features.0.1', act: 'relu6' });
  let h = f0.y;
  let c = f0.out;
  const skips: { y: string; c: number }[] = [];
  [1, 2, 2, 2, 1, 2, 1].forEach((s, i) => {
    const r = invertedResidual(gnet, h, c, `backbone.features.${i + 1}`, s, i === 0);
    h = r.y;
    c = r.out;
    if (i === 0 || i === 1 || i === 2 || i === 4) skips.push({ y: h, c });
  });
  h = conv(gnet, h, 'backbone.features.8.0', { bn: 'backbone.features.8.1', act: 'relu6' }).y;
  for (let k = 1; k <= 4; k++) {
    const ws = g.shape('gen', `dconv${k}.weight`);
    const up = g.op('ConvTranspose', [h, g.init([...ws], g.f32('gen', `dconv${k}.weight`), 'dw'), g.init([ws[1]], g.f32('gen', `dconv${k}.bias`), 'db')], { kernel_shape: [4, 4], strides: [2, 2], pads: [1, 1, 1, 1] });
    const skip = skips[4 - k];
    h = invertedResidual(gnet, g.op('Concat', [skip.y, up], { axis: 1 }), skip.c + ws[1], `invres${k}`, 1).y;
  }
  const gc = g.shape('gen', 'conv_last.weight')[1];
  const out = conv(gnet, resize(g, h, [1, gc, height, width], 'nearest'), 'conv_last', {}).y;
  const rendered = g.op('Tanh', [g.op('Slice', [out, g.i64([0]), g.i64([3]), g.i64([1])])]);
  const m = g.op('Mul', [g.op('Sigmoid', [g.op('Slice', [out, g.i64([3]), g.i64([4]), g.i64([1])])]), warpedEdge]);
  g.op('Add', [g.op('Mul', [warpedCloth, m]), g.op('Mul', [rendered, g.op('Sub', [g.scalar(1), m])])], {}, 'tryon');
  return g.finish(
    [
      ['person', [1, 3, height, width]],
      ['garment', [1, 3, height, width]],
      ['edge', [1, 1, height, width]],
    ],
    [
      ['tryon', [1, 3, height, width]],
      ['warped_cloth', [1, 3, height, width]],
    ],
    opset,
  );
}

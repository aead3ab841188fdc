/**
 * CPU reference of the DM-VTON student's forward pass, written straight from the official
 * PyTorch code (BatchNorm applied, not folded; apply_offset and permutes explicit) on the nn
 * CPU references. Slow (float64 loops): tests run it on narrow random models at 128x96.
 */
import type { StateDictLike, WeightSource } from '../../nn/graph.ts';
import * as ref from '../../nn/reference.ts';
import type { HostTensor } from '../../nn/reference.ts';

type Dict = StateDictLike;

function get(dict: Dict, key: string): WeightSource {
  const e = dict instanceof Map ? dict.get(key) : (dict as Record<string, WeightSource>)[key];
  if (!e) throw new Error(`reference: no '${key}'`);
  return e;
}

function f32(dict: Dict, key: string): Float32Array {
  return get(dict, key).toFloat32();
}

function has(dict: Dict, key: string): boolean {
  return dict instanceof Map ? dict.has(key) : key in (dict as Record<string, WeightSource>);
}

function conv(dict: Dict, x: HostTensor, key: string, o: { stride?: number; padding?: number; depthwise?: boolean; act?: ref.RefActivation; alpha?: number } = {}): HostTensor {
  const w = get(dict, `${key}.weight`);
  const k = w.shape[2];
  return ref.conv2d(x, w.toFloat32(), has(dict, `${key}.bias`) ? f32(dict, `${key}.bias`) : undefined, w.shape[0], k, {
    stride: o.stride ?? 1,
    padding: o.padding ?? (k - 1) / 2,
    groups: o.depthwise ? x.shape[1] : 1,
    activation: o.act,
    alpha: o.alpha,
  });
}

function bn(dict: Dict, x: HostTensor, key: string, act: ref.RefActivation = 'none'): HostTensor {
  const y = ref.batchNorm(x, f32(dict, `${key}.weight`), f32(dict, `${key}.bias`), f32(dict, `${key}.running_mean`), f32(dict, `${key}.running_var`));
  return act === 'none' ? y : ref.activation(y, act);
}

function invertedResidual(dict: Dict, x: HostTensor, key: string, stride: number, expandOne = false): HostTensor {
  let h = x;
  let i = 0;
  if (!expandOne) {
    h = bn(dict, conv(dict, h, `${key}.conv.0`), `${key}.conv.1`, 'relu6');
    i = 3;
  }
  h = bn(dict, conv(dict, h, `${key}.conv.${i}`, { stride, padding: 1, depthwise: true }), `${key}.conv.${i + 1}`, 'relu6');
  h = bn(dict, conv(dict, h, `${key}.conv.${i + 3}`), `${key}.conv.${i + 4}`);
  return stride === 1 && x.shape[1] === h.shape[1] ? ref.add(x, h) : h;
}

/** MobileNetV2_dynamicFPN.forward: p_layers[::-1] (finest first). */
export function fpnReference(dict: Dict, key: string, x: HostTensor): HostTensor[] {
  const strides = [1, 2, 2, 2, 2, 2, 1];
  let h = bn(dict, conv(dict, x, `${key}.first_layer.0`), `${key}.first_layer.1`, 'relu6');
  const laterals: HostTensor[] = [];
  strides.forEach((s, i) => {
    h = invertedResidual(dict, h, `${key}.inverted_residual_blocks.${i}.0`, s);
    if (s > 1 && laterals.length < 5) laterals.push(conv(dict, h, `${key}.lateral_layers.${laterals.length}`));
  });
  const pooled = ref.adaptiveAvgPool(h, 1, 1);
  const m: HostTensor[] = [conv(dict, pooled, `${key}.top_layer`)];
  laterals.reverse();
  for (const lat of laterals) m.push(ref.add(ref.upsample(m[m.length - 1], lat.shape[2], lat.shape[3], 'bilinear', false), lat));
  const p = m.slice(1).map((t) => conv(dict, t, `${key}.smooth_layers.0`));
  return p.reverse();
}

function flowHead(dict: Dict, x: HostTensor, key: string): HostTensor {
  let h = x;
  for (const j of [0, 2, 4]) h = conv(dict, h, `${key}.${j}`, { act: 'leaky_relu', alpha: 0.1 });
  return conv(dict, h, `${key}.6`);
}

function toNchw(grid: HostTensor): HostTensor {
  const [n, h, w] = grid.shape;
  const out = ref.hostTensor([n, 2, h, w]);
  for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let d = 0; d < 2; d++) out.data[((b * 2 + d) * h + y) * w + x] = grid.data[((b * h + y) * w + x) * 2 + d];
  return out;
}

const BORDER = { padding: 'border' as const, alignCorners: true };

/** AFlowNet.forward(phase='test'): last_flow [N, 2, H, W]. */
export function aflowReference(dict: Dict, key: string, warps: HostTensor[], conds: HostTensor[]): HostTensor {
  let last: HostTensor | null = null;
  const L = warps.length;
  for (let i = 0; i < L; i++) {
    const xw = warps[L - 1 - i];
    const xc = conds[L - 1 - i];
    const xwa = last ? ref.gridSample(xw, ref.nchwGridToNhwc(last), BORDER) : xw;
    const corr = ref.correlation(xwa, xc, { activation: 'leaky_relu', alpha: 0.1 });
    let flow = ref.applyOffset(flowHead(dict, corr, `${key}.netMain.${i}`));
    const composed: HostTensor = last ? ref.gridSample(last, flow, BORDER) : toNchw(flow);
    last = composed;
    const warped = ref.gridSample(xw, ref.nchwGridToNhwc(composed), BORDER);
    flow = ref.applyOffset(flowHead(dict, ref.concat([warped, xc]), `${key}.netRefine.${i}`));
    const refined = ref.gridSample(composed, flow, BORDER);
    last = ref.upsample(refined, refined.shape[2] * 2, refined.shape[3] * 2, 'bilinear', false);
  }
  return last!;
}

/** MobileNetV2_unet.forward: gen_outputs [N, 4, H, W]. */
export function generatorReference(dict: Dict, x: HostTensor): HostTensor {
  const strides = [1, 2, 2, 2, 1, 2, 1];
  let h = bn(dict, conv(dict, x, 'backbone.features.0.0', { stride: 2, padding: 1 }), 'backbone.features.0.1', 'relu6');
  const skips: HostTensor[] = [];
  strides.forEach((s, i) => {
    h = invertedResidual(dict, h, `backbone.features.${i + 1}`, s, i === 0);
    if (i === 0 || i === 1 || i === 2 || i === 4) skips.push(h);
  });
  h = bn(dict, conv(dict, h, 'backbone.features.8.0'), 'backbone.features.8.1', 'relu6');
  for (let k = 1; k <= 4; k++) {
    const w = get(dict, `dconv${k}.weight`);
    const up = ref.convTranspose2d(h, w.toFloat32(), f32(dict, `dconv${k}.bias`), w.shape[1], 4, { stride: 2, padding: 1 });
    h = invertedResidual(dict, ref.concat([skips[4 - k], up]), `invres${k}`, 1);
  }
  h = ref.upsample(h, h.shape[2] * 2, h.shape[3] * 2, 'nearest');
  return conv(dict, h, 'conv_last');
}

export interface ReferenceOutputs {
  tryOn: HostTensor;
  warpedCloth: HostTensor;
  warpedEdge: HostTensor;
  flow: HostTensor;
  gen: HostTensor;
  personFpn: HostTensor[];
  garmentFpn: HostTensor[];
}

/**
 * DMVTONPipeline.forward: `person` and `garment` in [-1, 1], `edge` in [0, 1] (thresholded at
 * 0.5 here, and the garment masked with it, as the pipeline does).
 */
export function dmvtonReference(warp: Dict, gen: Dict, person: HostTensor, garment: HostTensor, edge: HostTensor): ReferenceOutputs {
  const e = ref.mapTensor(edge, (v) => (v > 0.5 ? 1 : 0));
  const [n, , h, w] = garment.shape;
  const g = ref.hostTensor(garment.shape, (i) => garment.data[i] * e.data[Math.floor(i / (3 * h * w)) * h * w + (i % (h * w))]);
  void n;
  const personFpn = fpnReference(warp, 'cond_mobile', person);
  const garmentFpn = fpnReference(warp, 'image_mobile', g);
  const flow = aflowReference(warp, 'aflow_net', garmentFpn, personFpn);
  const grid = ref.nchwGridToNhwc(flow);
  const warpedCloth = ref.gridSample(g, grid, BORDER);
  const warpedEdge = ref.gridSample(e, grid, { padding: 'zeros', alignCorners: true });
  const genOut = generatorReference(gen, ref.concat([person, warpedCloth, warpedEdge]));
  const { tryOn } = ref.tryOnComposite(genOut, warpedCloth, warpedEdge);
  return { tryOn, warpedCloth, warpedEdge, flow, gen: genOut, personFpn, garmentFpn };
}

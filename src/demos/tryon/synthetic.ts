/**
 * State dicts with the DM-VTON student's official key names at any width (random values,
 * BatchNorm statistics included), for key-mapping and kernel tests when no PyTorch fixture is
 * at hand. `OFFICIAL_WIDTHS` reproduces the shapes of the official checkpoints (checked against
 * the measured key lists in tests/fixtures/dmvton-keys/).
 */
import { seededRandom } from '../../nn/random.ts';

export interface Widths {
  /** Multiplier on every MobileNetV2 channel count. */
  mult: number;
  /** Expansion factor of the t=6 inverted residuals. */
  expand: number;
  /** FPN output channels (256 official). */
  fpn: number;
  /** Hidden widths of netMain/netRefine (128, 64, 32 official). */
  head: [number, number, number];
}

export const OFFICIAL_WIDTHS: Widths = { mult: 1, expand: 6, fpn: 256, head: [128, 64, 32] };
export const NARROW_WIDTHS: Widths = { mult: 0.25, expand: 2, fpn: 16, head: [16, 8, 8] };

export interface FakeTensor {
  shape: readonly number[];
  toFloat32(): Float32Array;
}

class Builder {
  readonly dict = new Map<string, FakeTensor>();
  private readonly rand: () => number;

  constructor(seed: number) {
    this.rand = seededRandom(seed);
  }

  put(key: string, shape: number[], fill: (r: () => number, fanIn: number) => number): void {
    const size = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length === 4 ? shape[1] * shape[2] * shape[3] : 1;
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = fill(this.rand, fanIn);
    this.dict.set(key, { shape, toFloat32: () => data });
  }

  conv(key: string, out: number, inPerGroup: number, k: number, bias: boolean): void {
    this.put(`${key}.weight`, [out, inPerGroup, k, k], (r, fan) => (r() * 2 - 1) * Math.sqrt(3 / fan));
    if (bias) this.put(`${key}.bias`, [out], (r) => (r() * 2 - 1) * 0.1);
  }

  bn(key: string, c: number): void {
    this.put(`${key}.weight`, [c], (r) => 0.8 + 0.4 * r());
    this.put(`${key}.bias`, [c], (r) => (r() * 2 - 1) * 0.1);
    this.put(`${key}.running_mean`, [c], (r) => (r() * 2 - 1) * 0.1);
    this.put(`${key}.running_var`, [c], (r) => 0.5 + r());
    this.dict.set(`${key}.num_batches_tracked`, { shape: [], toFloat32: () => new Float32Array([0]) });
  }

  /** FPN-style (always expands) or torchvision-style (t=1: no expand conv) inverted residual. */
  ir(key: string, inp: number, out: number, t: number, alwaysExpand: boolean): void {
    const hidden = Math.round(inp * t);
    let i = 0;
    if (alwaysExpand || t !== 1) {
      this.conv(`${key}.conv.0`, hidden, inp, 1, false);
      this.bn(`${key}.conv.1`, hidden);
      i = 3;
    }
    this.conv(`${key}.conv.${i}`, hidden, 1, 3, false);
    this.bn(`${key}.conv.${i + 1}`, hidden);
    this.conv(`${key}.conv.${i + 3}`, out, hidden, 1, false);
    this.bn(`${key}.conv.${i + 4}`, out);
  }
}

const ch = (c: number, w: Widths) => Math.max(2, Math.round(c * w.mult));

/** MobileAFWM(3) keys (BN folded nowhere: a training-style state dict). */
export function syntheticWarp(w: Widths, seed = 1, prefix = ''): Map<string, FakeTensor> {
  const b = new Builder(seed);
  for (const fpn of ['image_mobile', 'cond_mobile']) {
    const k = `${prefix}${fpn}`;
    let c = ch(32, w);
    b.conv(`${k}.first_layer.0`, c, 3, 3, false);
    b.bn(`${k}.first_layer.1`, c);
    const setting: [number, number][] = [[1, 16], [w.expand, 24], [w.expand, 32], [w.expand, 64], [w.expand, 96], [w.expand, 160], [w.expand, 320]];
    const lateral: number[] = [];
    setting.forEach(([t, out], i) => {
      const o = ch(out, w);
      b.ir(`${k}.inverted_residual_blocks.${i}.0`, c, o, t, true);
      c = o;
      if (i >= 1 && i <= 5) lateral.push(o);
    });
    b.conv(`${k}.top_layer`, w.fpn, c, 1, true);
    lateral.forEach((cin, j) => b.conv(`${k}.lateral_layers.${j}`, w.fpn, cin, 1, true));
    b.conv(`${k}.smooth_layers.0`, w.fpn, w.fpn, 3, true);
    const sw = b.dict.get(`${k}.smooth_layers.0.weight`)!;
    const sb = b.dict.get(`${k}.smooth_layers.0.bias`)!;
    for (let j = 1; j < 5; j++) {
      b.dict.set(`${k}.smooth_layers.${j}.weight`, sw);
      b.dict.set(`${k}.smooth_layers.${j}.bias`, sb);
    }
  }
  for (const net of ['netMain', 'netRefine']) {
    for (let i = 0; i < 5; i++) {
      let c = net === 'netMain' ? 49 : 2 * w.fpn;
      [...w.head, 2].forEach((out, j) => {
        b.conv(`${prefix}aflow_net.${net}.${i}.${2 * j}`, out, c, 3, true);
        c = out;
      });
    }
  }
  // Small final offsets keep the flow in a sensible range (a trained model's regime).
  for (const [key, t] of b.dict) {
    if (/aflow_net\.net(Main|Refine)\.\d\.6\./.test(key)) {
      const d = t.toFloat32();
      for (let i = 0; i < d.length; i++) d[i] *= 0.3;
    }
  }
  return b.dict;
}

/** MobileNetV2_unet(7, 4) keys. */
export function syntheticGen(w: Widths, seed = 2, prefix = ''): Map<string, FakeTensor> {
  const b = new Builder(seed);
  const k = `${prefix}backbone.features`;
  let c = ch(32, w);
  b.conv(`${k}.0.0`, c, 7, 3, false);
  b.bn(`${k}.0.1`, c);
  const setting: [number, number][] = [[1, 16], [w.expand, 24], [w.expand, 32], [w.expand, 64], [w.expand, 96], [w.expand, 160], [w.expand, 320]];
  const skips: number[] = [];
  setting.forEach(([t, out], i) => {
    const o = ch(out, w);
    b.ir(`${k}.${i + 1}`, c, o, t, false);
    c = o;
    if (i === 0 || i === 1 || i === 2 || i === 4) skips.push(o);
  });
  const top = ch(512, w);
  b.conv(`${k}.8.0`, top, c, 1, false);
  b.bn(`${k}.8.1`, top);
  c = top;
  for (let j = 1; j <= 4; j++) {
    const skip = skips[4 - j];
    const out = skip; // the official decoder mirrors the skip widths (96, 32, 24, 16)
    b.put(`${prefix}dconv${j}.weight`, [c, out, 4, 4], (r) => (r() * 2 - 1) * Math.sqrt(3 / (c * 4)));
    b.put(`${prefix}dconv${j}.bias`, [out], (r) => (r() * 2 - 1) * 0.1);
    b.ir(`${prefix}invres${j}`, skip + out, out, w.expand, false);
    c = out;
  }
  b.conv(`${prefix}conv_last`, 4, c, 3, false);
  return b.dict;
}

/**
 * Input preparation for the DM-VTON student, as the official data loader does it
 * (`dataloader/viton_dataset.py`): RGB to [-1, 1] (ToTensor + Normalize(0.5, 0.5)), the edge as
 * grey levels in [0, 1] (thresholded at 0.5 by the pipeline), the garment multiplied by the
 * binary edge. Plus what the studio adds: the crop of any image to the model's 4:3 portrait
 * aspect, and garment edge extraction when the user has no mask.
 *
 * Edge extraction (documented in the UI): the background colour is the median of the image's
 * border pixels; a pixel is garment when its colour differs from that by more than `threshold`
 * (max channel difference, 0..255). Cleanup: background regions not connected to the border
 * (holes inside the garment, e.g. a white print on a white background) become garment, and
 * garment specks of fewer than `minSpeck` pixels are dropped.
 */

/** Centre crop of a (srcW x srcH) image to the aspect of (dstW x dstH): the visible crop box. */
export function cropBox(srcW: number, srcH: number, dstW: number, dstH: number): { x: number; y: number; width: number; height: number } {
  const target = dstW / dstH;
  if (srcW / srcH > target) {
    const width = Math.max(1, Math.round(srcH * target));
    return { x: Math.floor((srcW - width) / 2), y: 0, width, height: srcH };
  }
  const height = Math.max(1, Math.round(srcW / target));
  return { x: 0, y: Math.floor((srcH - height) / 2), width: srcW, height };
}

/** RGBA8 pixels (w x h) -> planar RGB [3, h, w] in [-1, 1]. */
export function rgbaToPlanes(rgba: ArrayLike<number>, width: number, height: number): Float32Array {
  const hw = width * height;
  const out = new Float32Array(3 * hw);
  for (let i = 0; i < hw; i++) for (let c = 0; c < 3; c++) out[c * hw + i] = (rgba[i * 4 + c] / 255) * 2 - 1;
  return out;
}

/** RGBA8 pixels -> edge [h*w] in [0, 1] (PIL convert('L'): ITU-R 601 luma). */
export function rgbaToEdge(rgba: ArrayLike<number>, width: number, height: number): Float32Array {
  const hw = width * height;
  const out = new Float32Array(hw);
  for (let i = 0; i < hw; i++) {
    const l = (rgba[i * 4] * 299 + rgba[i * 4 + 1] * 587 + rgba[i * 4 + 2] * 114) / 1000;
    out[i] = Math.floor(l) / 255;
  }
  return out;
}

/** The pipeline's first two lines: edge = (edge > 0.5), garment = garment * edge. */
export function binarizeAndMask(garment: Float32Array, edge: Float32Array): { garment: Float32Array<ArrayBuffer>; edge: Float32Array<ArrayBuffer> } {
  const hw = edge.length;
  if (garment.length !== 3 * hw) throw new RangeError(`garment has ${garment.length} values, the edge ${hw} pixels`);
  const e = Float32Array.from(edge, (v) => (v > 0.5 ? 1 : 0));
  const g = new Float32Array(garment.length);
  for (let c = 0; c < 3; c++) for (let i = 0; i < hw; i++) g[c * hw + i] = garment[c * hw + i] * e[i];
  return { garment: g, edge: e };
}

export interface EdgeOptions {
  /** Max channel difference from the background colour that still counts as background (0..255). */
  threshold?: number;
  /** Garment components smaller than this many pixels are dropped. */
  minSpeck?: number;
}

export const DEFAULT_EDGE_THRESHOLD = 40;

/** Median background colour of the border pixels. */
export function borderColour(rgba: ArrayLike<number>, width: number, height: number): [number, number, number] {
  const vals: number[][] = [[], [], []];
  const push = (x: number, y: number) => {
    const i = (y * width + x) * 4;
    for (let c = 0; c < 3; c++) vals[c].push(rgba[i + c]);
  };
  for (let x = 0; x < width; x++) {
    push(x, 0);
    if (height > 1) push(x, height - 1);
  }
  for (let y = 1; y < height - 1; y++) {
    push(0, y);
    if (width > 1) push(width - 1, y);
  }
  return vals.map((v) => {
    v.sort((a, b) => a - b);
    return v[v.length >> 1];
  }) as [number, number, number];
}

/** Garment mask [h*w] of 0/1 from an RGBA garment photo on a plain background. */
export function extractEdge(rgba: ArrayLike<number>, width: number, height: number, options: EdgeOptions = {}): Float32Array {
  const threshold = options.threshold ?? DEFAULT_EDGE_THRESHOLD;
  const minSpeck = options.minSpeck ?? Math.max(4, Math.round(width * height * 0.0005));
  const bg = borderColour(rgba, width, height);
  const hw = width * height;
  const fg = new Uint8Array(hw);
  for (let i = 0; i < hw; i++) {
    let d = 0;
    for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs(rgba[i * 4 + c] - bg[c]));
    // Transparent pixels (PNG cut-outs) are background whatever their colour.
    fg[i] = rgba[i * 4 + 3] < 128 ? 0 : d > threshold ? 1 : 0;
  }
  // Background reachable from the border stays background; enclosed holes become garment.
  const reach = new Uint8Array(hw);
  const stack: number[] = [];
  const seed = (i: number) => {
    if (!fg[i] && !reach[i]) {
      reach[i] = 1;
      stack.push(i);
    }
  };
  for (let x = 0; x < width; x++) {
    seed(x);
    seed((height - 1) * width + x);
  }
  for (let y = 0; y < height; y++) {
    seed(y * width);
    seed(y * width + width - 1);
  }
  while (stack.length) {
    const i = stack.pop()!;
    const x = i % width;
    const y = (i - x) / width;
    if (x > 0) seed(i - 1);
    if (x < width - 1) seed(i + 1);
    if (y > 0) seed(i - width);
    if (y < height - 1) seed(i + width);
  }
  const mask = new Uint8Array(hw);
  for (let i = 0; i < hw; i++) mask[i] = reach[i] ? 0 : 1;
  // Drop small garment components (noise on the background).
  const label = new Int32Array(hw).fill(-1);
  const out = new Float32Array(hw);
  for (let s = 0; s < hw; s++) {
    if (!mask[s] || label[s] >= 0) continue;
    const comp: number[] = [s];
    label[s] = s;
    for (let k = 0; k < comp.length; k++) {
      const i = comp[k];
      const x = i % width;
      const y = (i - x) / width;
      const visit = (j: number) => {
        if (mask[j] && label[j] < 0) {
          label[j] = s;
          comp.push(j);
        }
      };
      if (x > 0) visit(i - 1);
      if (x < width - 1) visit(i + 1);
      if (y > 0) visit(i - width);
      if (y < height - 1) visit(i + width);
    }
    if (comp.length >= minSpeck) for (const i of comp) out[i] = 1;
  }
  return out;
}

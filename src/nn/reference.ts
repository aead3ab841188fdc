/**
 * CPU references of every nn op, written plainly (NCHW, float64 arithmetic, PyTorch
 * semantics). Kernel tests compare the WGSL ops against these; nothing here is fast.
 */

export type HostShape = readonly [n: number, c: number, h: number, w: number];

/** A CPU tensor: NCHW values and their shape. */
export interface HostTensor {
  data: Float32Array;
  shape: HostShape;
}

export type RefActivation = 'none' | 'relu' | 'relu6' | 'leaky_relu' | 'gelu' | 'tanh' | 'sigmoid';

export function hostTensor(shape: HostShape, fill: number | ((i: number) => number) = 0): HostTensor {
  const size = shape[0] * shape[1] * shape[2] * shape[3];
  const data = new Float32Array(size);
  if (typeof fill === 'function') for (let i = 0; i < size; i++) data[i] = fill(i);
  else if (fill !== 0) data.fill(fill);
  return { data, shape };
}

function at(t: HostTensor, n: number, c: number, y: number, x: number): number {
  const [, C, H, W] = t.shape;
  return t.data[((n * C + c) * H + y) * W + x];
}

/** erf in double precision: Maclaurin series below 3, continued fraction for erfc above. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    let sum = 0;
    let pow = ax;
    let fact = 1;
    for (let n = 0; n < 200; n++) {
      const term = ((n % 2 ? -1 : 1) * pow) / (fact * (2 * n + 1));
      sum += term;
      if (Math.abs(term) < 1e-17) break;
      pow *= ax * ax;
      fact *= n + 1;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    let f = 0;
    for (let k = 60; k >= 1; k--) f = k / 2 / (ax + f);
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  }
  return x < 0 ? -r : r;
}

export function activate(x: number, activation: RefActivation = 'none', alpha = 0.01): number {
  switch (activation) {
    case 'relu':
      return Math.max(x, 0);
    case 'relu6':
      return Math.min(Math.max(x, 0), 6);
    case 'leaky_relu':
      return x >= 0 ? x : x * alpha;
    case 'gelu':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'tanh':
      return Math.tanh(x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    default:
      return x;
  }
}

export interface RefEpilogue {
  activation?: RefActivation;
  alpha?: number;
  /** Residual added to the output (same shape as the output). */
  skip?: HostTensor;
  /** 'after': act(v) + skip; 'before': act(v + skip). */
  residualOrder?: 'after' | 'before';
}

function finish(v: number, i: number, e: RefEpilogue): number {
  const s = e.skip ? e.skip.data[i] : 0;
  if (e.skip && e.residualOrder === 'before') return activate(v + s, e.activation, e.alpha);
  return activate(v, e.activation, e.alpha) + s;
}

export interface RefConv2d extends RefEpilogue {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
}

/** Output size of a conv along one axis. */
export function convOutSize(size: number, kernel: number, stride: number, padding: number, dilation = 1): number {
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** torch.nn.functional.conv2d with weight [Cout, Cin/groups, k, k] (square kernels), then the epilogue. */
export function conv2d(x: HostTensor, weight: Float32Array, bias: Float32Array | undefined, outChannels: number, kernel: number, o: RefConv2d = {}): HostTensor {
  const [N, Cin, H, W] = x.shape;
  const stride = o.stride ?? 1;
  const pad = o.padding ?? 0;
  const dil = o.dilation ?? 1;
  const groups = o.groups ?? 1;
  if (Cin % groups || outChannels % groups) throw new RangeError('channels must divide by groups');
  const cinG = Cin / groups;
  const coutG = outChannels / groups;
  if (weight.length !== outChannels * cinG * kernel * kernel) throw new RangeError(`conv weight has ${weight.length} values, expected ${outChannels * cinG * kernel * kernel}`);
  const Ho = convOutSize(H, kernel, stride, pad, dil);
  const Wo = convOutSize(W, kernel, stride, pad, dil);
  const out = hostTensor([N, outChannels, Ho, Wo]);
  let i = 0;
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < outChannels; co++) {
      const g = Math.floor(co / coutG);
      for (let oy = 0; oy < Ho; oy++) {
        for (let ox = 0; ox < Wo; ox++, i++) {
          let s = bias ? bias[co] : 0;
          for (let ci = 0; ci < cinG; ci++) {
            for (let ky = 0; ky < kernel; ky++) {
              const iy = oy * stride - pad + ky * dil;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < kernel; kx++) {
                const ix = ox * stride - pad + kx * dil;
                if (ix < 0 || ix >= W) continue;
                s += at(x, n, g * cinG + ci, iy, ix) * weight[((co * cinG + ci) * kernel + ky) * kernel + kx];
              }
            }
          }
          out.data[i] = finish(s, i, o);
        }
      }
    }
  }
  return out;
}

export interface RefConvTranspose2d {
  stride?: number;
  padding?: number;
  outputPadding?: number;
  groups?: number;
  activation?: RefActivation;
  alpha?: number;
}

export function convTransposeOutSize(size: number, kernel: number, stride: number, padding: number, outputPadding = 0): number {
  return (size - 1) * stride - 2 * padding + kernel + outputPadding;
}

/**
 * torch.nn.functional.conv_transpose2d with weight [Cin, Cout/groups, k, k], as a scatter
 * (each input pixel adds its k x k footprint), then bias and activation.
 */
export function convTranspose2d(x: HostTensor, weight: Float32Array, bias: Float32Array | undefined, outChannels: number, kernel: number, o: RefConvTranspose2d = {}): HostTensor {
  const [N, Cin, H, W] = x.shape;
  const s = o.stride ?? 1;
  const p = o.padding ?? 0;
  const groups = o.groups ?? 1;
  const cinG = Cin / groups;
  const coutG = outChannels / groups;
  if (weight.length !== Cin * coutG * kernel * kernel) throw new RangeError(`conv_transpose weight has ${weight.length} values, expected ${Cin * coutG * kernel * kernel}`);
  const Ho = convTransposeOutSize(H, kernel, s, p, o.outputPadding ?? 0);
  const Wo = convTransposeOutSize(W, kernel, s, p, o.outputPadding ?? 0);
  const acc = new Float64Array(N * outChannels * Ho * Wo);
  for (let n = 0; n < N; n++) {
    for (let ci = 0; ci < Cin; ci++) {
      const g = Math.floor(ci / cinG);
      for (let iy = 0; iy < H; iy++) {
        for (let ix = 0; ix < W; ix++) {
          const v = at(x, n, ci, iy, ix);
          for (let cog = 0; cog < coutG; cog++) {
            const co = g * coutG + cog;
            for (let ky = 0; ky < kernel; ky++) {
              const oy = iy * s - p + ky;
              if (oy < 0 || oy >= Ho) continue;
              for (let kx = 0; kx < kernel; kx++) {
                const ox = ix * s - p + kx;
                if (ox < 0 || ox >= Wo) continue;
                acc[((n * outChannels + co) * Ho + oy) * Wo + ox] += v * weight[((ci * coutG + cog) * kernel + ky) * kernel + kx];
              }
            }
          }
        }
      }
    }
  }
  const out = hostTensor([N, outChannels, Ho, Wo]);
  for (let i = 0; i < acc.length; i++) {
    const co = Math.floor(i / (Ho * Wo)) % outChannels;
    out.data[i] = activate(acc[i] + (bias ? bias[co] : 0), o.activation, o.alpha);
  }
  return out;
}

/** Eval-mode BatchNorm2d: (x - mean) / sqrt(var + eps) * gamma + beta. */
export function batchNorm(x: HostTensor, gamma: Float32Array, beta: Float32Array, mean: Float32Array, variance: Float32Array, eps = 1e-5): HostTensor {
  const [, C, H, W] = x.shape;
  return hostTensor(x.shape, (i) => {
    const c = Math.floor(i / (H * W)) % C;
    return ((x.data[i] - mean[c]) / Math.sqrt(variance[c] + eps)) * gamma[c] + beta[c];
  });
}

export function mapTensor(x: HostTensor, f: (v: number, i: number) => number): HostTensor {
  return hostTensor(x.shape, (i) => f(x.data[i], i));
}

export function activation(x: HostTensor, act: RefActivation, alpha?: number): HostTensor {
  return mapTensor(x, (v) => activate(v, act, alpha));
}

export function add(a: HostTensor, b: HostTensor): HostTensor {
  return mapTensor(a, (v, i) => v + b.data[i]);
}

export function mul(a: HostTensor, b: HostTensor): HostTensor {
  return mapTensor(a, (v, i) => v * b.data[i]);
}

/** torch.cat(tensors, dim=1). */
export function concat(tensors: readonly HostTensor[]): HostTensor {
  const [N, , H, W] = tensors[0].shape;
  const C = tensors.reduce((s, t) => s + t.shape[1], 0);
  const out = hostTensor([N, C, H, W]);
  for (let n = 0; n < N; n++) {
    let c0 = 0;
    for (const t of tensors) {
      const chunk = t.shape[1] * H * W;
      out.data.set(t.data.subarray(n * chunk, (n + 1) * chunk), (n * C + c0) * H * W);
      c0 += t.shape[1];
    }
  }
  return out;
}

/** Channels [c0, c0 + count) of x. */
export function sliceChannels(x: HostTensor, c0: number, count: number): HostTensor {
  const [N, C, H, W] = x.shape;
  const out = hostTensor([N, count, H, W]);
  for (let n = 0; n < N; n++) out.data.set(x.data.subarray((n * C + c0) * H * W, (n * C + c0 + count) * H * W), n * count * H * W);
  return out;
}

export type GridPadding = 'zeros' | 'border';

export interface RefGridSample {
  padding?: GridPadding;
  alignCorners?: boolean;
}

function unnormalize(g: number, size: number, alignCorners: boolean): number {
  return alignCorners ? ((g + 1) / 2) * (size - 1) : ((g + 1) * size - 1) / 2;
}

/**
 * F.grid_sample(input, grid, mode='bilinear') with grid [N, Hg, Wg, 2] (x then y, in [-1, 1]).
 * Border padding clamps the unnormalized coordinate to the image; zeros padding lets corners
 * outside the image contribute nothing.
 */
export function gridSample(input: HostTensor, grid: HostTensor, o: RefGridSample = {}): HostTensor {
  const [N, C, H, W] = input.shape;
  const [, Hg, Wg] = grid.shape; // grid stored as [N, Hg, Wg, 2]
  const align = o.alignCorners ?? false;
  const border = (o.padding ?? 'zeros') === 'border';
  const out = hostTensor([N, C, Hg, Wg]);
  for (let n = 0; n < N; n++) {
    for (let y = 0; y < Hg; y++) {
      for (let x = 0; x < Wg; x++) {
        const gi = ((n * Hg + y) * Wg + x) * 2;
        let ix = unnormalize(grid.data[gi], W, align);
        let iy = unnormalize(grid.data[gi + 1], H, align);
        if (border) {
          ix = Math.min(Math.max(ix, 0), W - 1);
          iy = Math.min(Math.max(iy, 0), H - 1);
        }
        const x0 = Math.floor(ix);
        const y0 = Math.floor(iy);
        const fx = ix - x0;
        const fy = iy - y0;
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (const [cy, wy] of [[y0, 1 - fy], [y0 + 1, fy]] as const) {
            for (const [cx, wx] of [[x0, 1 - fx], [x0 + 1, fx]] as const) {
              if (cx < 0 || cx >= W || cy < 0 || cy >= H) continue;
              s += at(input, n, c, cy, cx) * wx * wy;
            }
          }
          out.data[((n * C + c) * Hg + y) * Wg + x] = s;
        }
      }
    }
  }
  return out;
}

/** Grid [N, H, W, 2] as a HostTensor of shape [N, H, W, 2] (the NCHW shape slots hold N, H, W, 2). */
export function nchwGridToNhwc(flow: HostTensor): HostTensor {
  const [N, , H, W] = flow.shape;
  const out = hostTensor([N, H, W, 2]);
  for (let n = 0; n < N; n++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let d = 0; d < 2; d++) out.data[((n * H + y) * W + x) * 2 + d] = at(flow, n, d, y, x);
  return out;
}

/**
 * DM-VTON apply_offset: pixel offsets [N, 2, H, W] (channel 0 = x, 1 = y) plus the pixel
 * meshgrid, normalized with align_corners=True: g / ((size - 1) / 2) - 1. Returns [N, H, W, 2].
 */
export function applyOffset(offset: HostTensor): HostTensor {
  const [N, , H, W] = offset.shape;
  const out = hostTensor([N, H, W, 2]);
  for (let n = 0; n < N; n++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const o = ((n * H + y) * W + x) * 2;
        out.data[o] = (x + at(offset, n, 0, y, x)) / ((W - 1) / 2) - 1;
        out.data[o + 1] = (y + at(offset, n, 1, y, x)) / ((H - 1) / 2) - 1;
      }
    }
  }
  return out;
}

/**
 * FlowNet2/PWC correlation as DM-VTON calls it (max displacement 3, stride 1): 49 channels,
 * out[(dy+3)*7 + (dx+3), y, x] = mean over c of first[c, y, x] * second[c, y+dy, x+dx], with
 * zeros outside `second`.
 */
export function correlation(first: HostTensor, second: HostTensor, o: { activation?: RefActivation; alpha?: number } = {}): HostTensor {
  const [N, C, H, W] = first.shape;
  const out = hostTensor([N, 49, H, W]);
  for (let n = 0; n < N; n++) {
    for (let dy = -3; dy <= 3; dy++) {
      for (let dx = -3; dx <= 3; dx++) {
        const oc = (dy + 3) * 7 + (dx + 3);
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            let s = 0;
            const y2 = y + dy;
            const x2 = x + dx;
            if (y2 >= 0 && y2 < H && x2 >= 0 && x2 < W) for (let c = 0; c < C; c++) s += at(first, n, c, y, x) * at(second, n, c, y2, x2);
            out.data[((n * 49 + oc) * H + y) * W + x] = activate(s / C, o.activation, o.alpha);
          }
        }
      }
    }
  }
  return out;
}

export type UpsampleMode = 'nearest' | 'bilinear';

/** F.interpolate to (outH, outW): nearest (floor(dst * in / out)) or bilinear with align_corners. */
export function upsample(x: HostTensor, outH: number, outW: number, mode: UpsampleMode, alignCorners = false): HostTensor {
  const [N, C, H, W] = x.shape;
  const out = hostTensor([N, C, outH, outW]);
  const src = (d: number, inSize: number, outSize: number): number => {
    if (alignCorners) return outSize > 1 ? (d * (inSize - 1)) / (outSize - 1) : 0;
    return Math.max(0, ((d + 0.5) * inSize) / outSize - 0.5);
  };
  let i = 0;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++, i++) {
          if (mode === 'nearest') {
            const sy = Math.min(Math.floor((oy * H) / outH), H - 1);
            const sx = Math.min(Math.floor((ox * W) / outW), W - 1);
            out.data[i] = at(x, n, c, sy, sx);
            continue;
          }
          const sy = src(oy, H, outH);
          const sx = src(ox, W, outW);
          const y0 = Math.min(Math.floor(sy), H - 1);
          const x0 = Math.min(Math.floor(sx), W - 1);
          const y1 = Math.min(y0 + 1, H - 1);
          const x1 = Math.min(x0 + 1, W - 1);
          const fy = sy - y0;
          const fx = sx - x0;
          out.data[i] =
            (1 - fy) * ((1 - fx) * at(x, n, c, y0, x0) + fx * at(x, n, c, y0, x1)) + fy * ((1 - fx) * at(x, n, c, y1, x0) + fx * at(x, n, c, y1, x1));
        }
      }
    }
  }
  return out;
}

/** nn.AdaptiveAvgPool2d((outH, outW)): bins [floor(i*H/oH), ceil((i+1)*H/oH)). */
export function adaptiveAvgPool(x: HostTensor, outH: number, outW: number): HostTensor {
  const [N, C, H, W] = x.shape;
  const out = hostTensor([N, C, outH, outW]);
  let i = 0;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let oy = 0; oy < outH; oy++) {
        const y0 = Math.floor((oy * H) / outH);
        const y1 = Math.ceil(((oy + 1) * H) / outH);
        for (let ox = 0; ox < outW; ox++, i++) {
          const x0 = Math.floor((ox * W) / outW);
          const x1 = Math.ceil(((ox + 1) * W) / outW);
          let s = 0;
          for (let y = y0; y < y1; y++) for (let xx = x0; xx < x1; xx++) s += at(x, n, c, y, xx);
          out.data[i] = s / ((y1 - y0) * (x1 - x0));
        }
      }
    }
  }
  return out;
}

/**
 * DM-VTON's output composition: p_rendered = tanh(gen[:, :3]), m = sigmoid(gen[:, 3]) * warped_edge,
 * p_tryon = warped_cloth * m + p_rendered * (1 - m).
 */
export function tryOnComposite(gen: HostTensor, warpedCloth: HostTensor, warpedEdge: HostTensor): { tryOn: HostTensor; mask: HostTensor; rendered: HostTensor } {
  const [N, , H, W] = gen.shape;
  const rendered = activation(sliceChannels(gen, 0, 3), 'tanh');
  const mask = mul(activation(sliceChannels(gen, 3, 1), 'sigmoid'), warpedEdge);
  const tryOn = hostTensor([N, 3, H, W]);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < H * W; p++) {
        const i = (n * 3 + c) * H * W + p;
        const m = mask.data[n * H * W + p];
        tryOn.data[i] = warpedCloth.data[i] * m + rendered.data[i] * (1 - m);
      }
    }
  }
  return { tryOn, mask, rendered };
}

/** Max |got - want| divided by max(|want|, floor): the relative error the kernel tests use. */
export function maxRelativeError(got: ArrayLike<number>, want: ArrayLike<number>, floor = 1e-5): number {
  let scale = floor;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    worst = Math.max(worst, Number.isNaN(d) ? Infinity : d / scale);
  }
  return worst;
}

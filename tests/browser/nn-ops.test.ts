import { expect } from 'vitest';
import { Conv2d, gemmKernel, gemmRows, gemmTile, gemmUniform, hasF16, kMajor, type ConvImpl } from '../../src/nn/ops/conv2d.ts';
import { ConvTranspose2d } from '../../src/nn/ops/conv-transpose2d.ts';
import { Correlation } from '../../src/nn/ops/correlation.ts';
import { ActivationOp, ApplyOffset, Binary, Concat, SplitActivation, TryOnComposite } from '../../src/nn/ops/elementwise.ts';
import { GridSample, type GridLayout } from '../../src/nn/ops/grid-sample.ts';
import { AdaptiveAvgPool2d, Upsample } from '../../src/nn/ops/resize.ts';
import { ACTIVATION_CODE, cachedPipeline, OpResources, weightBuffer, type Activation } from '../../src/nn/ops/common.ts';
import { requestGpu } from '../../src/gpu/device.ts';
import { withErrorScope } from '../../src/gpu/errors.ts';
import { GpuProfiler } from '../../src/gpu/profiler.ts';
import { Sequential, StateDictReader, type WeightSource } from '../../src/nn/graph.ts';
import * as ref from '../../src/nn/reference.ts';
import { emptyTensor, readTensor, tensorFrom, TensorPool, type Shape, type Tensor } from '../../src/nn/tensor.ts';
import { gpuTest, rng } from './harness.ts';

type Own = <T extends { destroy(): void }>(r: T) => T;

function randomArray(length: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length }, () => (r() * 2 - 1) * scale);
}

function randomHost(shape: Shape, seed: number, scale = 1): ref.HostTensor {
  return { data: randomArray(shape[0] * shape[1] * shape[2] * shape[3], seed, scale), shape };
}

function upload(device: GPUDevice, own: Own, t: ref.HostTensor): Tensor {
  return own(tensorFrom(device, t.data, t.shape));
}

async function expectClose(device: GPUDevice, got: Tensor, want: ref.HostTensor, label: string, tolerance = 1e-4): Promise<number> {
  expect(got.shape, label).toEqual(want.shape);
  const data = await readTensor(device, got);
  const err = ref.maxRelativeError(data, want.data);
  if (!(err < tolerance)) console.info(`${label}: max relative error ${err.toExponential(2)}`);
  expect(err, label).toBeLessThan(tolerance);
  return err;
}

interface ConvCase {
  n?: number;
  cin: number;
  cout: number;
  h: number;
  w: number;
  k: number;
  stride?: number;
  padding?: number;
  groups?: number;
  dilation?: number;
  activation?: Activation;
  alpha?: number;
  bias?: boolean;
  impl?: ConvImpl;
}

async function checkConv(device: GPUDevice, own: Own, c: ConvCase, seed: number): Promise<void> {
  const n = c.n ?? 1;
  const groups = c.groups ?? 1;
  const x = randomHost([n, c.cin, c.h, c.w], seed);
  const weight = randomArray(c.cout * (c.cin / groups) * c.k * c.k, seed + 1, 1 / Math.sqrt((c.cin / groups) * c.k * c.k));
  const bias = c.bias === false ? undefined : randomArray(c.cout, seed + 2, 0.5);
  const conv = own(
    new Conv2d(device, {
      inChannels: c.cin,
      outChannels: c.cout,
      kernel: c.k,
      stride: c.stride,
      padding: c.padding,
      groups,
      dilation: c.dilation,
      weight,
      bias,
      activation: c.activation,
      alpha: c.alpha,
      impl: c.impl,
    }),
  );
  const want = ref.conv2d(x, weight, bias, c.cout, c.k, { stride: c.stride, padding: c.padding, groups, dilation: c.dilation, activation: c.activation, alpha: c.alpha });
  const input = upload(device, own, x);
  const out = own(emptyTensor(device, conv.outputShape(input.shape)));
  const encoder = device.createCommandEncoder();
  conv.encode(encoder, input, out);
  device.queue.submit([encoder.finish()]);
  await expectClose(device, out, want, `conv ${JSON.stringify(c)} (${conv.impl})`);
}

gpuTest('conv2d 1x1 GEMM: aligned and odd pixel counts, tile-edge channels, batches, activations', async ({ device, own }) => {
  const cases: ConvCase[] = [
    { cin: 16, cout: 16, h: 4, w: 4, k: 1 },
    { cin: 37, cout: 70, h: 5, w: 7, k: 1, activation: 'gelu' },
    { cin: 64, cout: 65, h: 6, w: 6, k: 1, activation: 'relu6' },
    { cin: 31, cout: 3, h: 9, w: 9, k: 1, activation: 'sigmoid', n: 2 },
    { cin: 8, cout: 33, h: 12, w: 12, k: 1, activation: 'leaky_relu', alpha: 0.1, n: 2 },
    { cin: 20, cout: 24, h: 3, w: 5, k: 1, activation: 'tanh', bias: false },
    { cin: 12, cout: 18, h: 8, w: 4, k: 1, activation: 'relu' },
  ];
  let seed = 100;
  for (const c of cases) await checkConv(device, own, c, (seed += 10));
});

gpuTest('conv2d k x k: implicit GEMM, direct and depthwise, strides, padding, groups', async ({ device, own }) => {
  const cases: ConvCase[] = [
    { cin: 3, cout: 32, h: 11, w: 9, k: 3, padding: 1 },
    { cin: 7, cout: 32, h: 12, w: 10, k: 3, stride: 2, padding: 1, activation: 'relu6' },
    { cin: 32, cout: 2, h: 8, w: 6, k: 3, padding: 1 },
    { cin: 49, cout: 20, h: 7, w: 5, k: 3, padding: 1, activation: 'leaky_relu', alpha: 0.1 },
    { cin: 5, cout: 6, h: 9, w: 9, k: 5, stride: 3, padding: 2 },
    { cin: 5, cout: 6, h: 9, w: 9, k: 5, stride: 3, padding: 2, impl: 'direct' },
    { cin: 8, cout: 12, h: 7, w: 7, k: 3, padding: 1, groups: 4, activation: 'relu' },
    { cin: 4, cout: 4, h: 9, w: 9, k: 3, padding: 2, dilation: 2 },
    { cin: 24, cout: 24, h: 9, w: 11, k: 3, padding: 1, groups: 24, activation: 'relu6', bias: false },
    { cin: 24, cout: 24, h: 10, w: 13, k: 3, stride: 2, padding: 1, groups: 24, activation: 'relu6' },
    { cin: 16, cout: 16, h: 10, w: 13, k: 3, stride: 2, padding: 1, groups: 16, impl: 'direct' },
    { cin: 6, cout: 9, h: 6, w: 6, k: 1, stride: 2, n: 2 },
  ];
  let seed = 300;
  for (const c of cases) await checkConv(device, own, c, (seed += 10));
});

/** Best wall time of one encode (ms), from submit to onSubmittedWorkDone; fast devices repeat the encode inside one submit. */
async function timeGpu(device: GPUDevice, encode: (encoder: GPUCommandEncoder) => void, repeats = 2): Promise<number> {
  const run = async (count: number) => {
    const encoder = device.createCommandEncoder();
    for (let i = 0; i < count; i++) encode(encoder);
    const t0 = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / count;
  };
  const first = await run(1); // pipelines compiled, caches warm
  const inner = first < 20 ? 50 : 1; // a real GPU: amortize the submit
  let best = Infinity;
  for (let i = 0; i < repeats; i++) best = Math.min(best, await run(inner));
  return best;
}

gpuTest('timing: 1x1 conv 256->256 over 64x64 pixels, tiled GEMM vs naive direct kernel', async ({ device, own }) => {
  const C = 256;
  const x = randomHost([1, C, 64, 64], 7);
  const weight = randomArray(C * C, 8, 1 / 16);
  const bias = randomArray(C, 9, 0.1);
  const input = upload(device, own, x);
  const make = (impl: ConvImpl, precision: 'f32' | 'f16' = 'f32') => own(new Conv2d(device, { inChannels: C, outChannels: C, kernel: 1, weight, bias, activation: 'gelu', impl, precision }));
  const outGemm = own(emptyTensor(device, [1, C, 64, 64]));
  const outDirect = own(emptyTensor(device, [1, C, 64, 64]));
  const gemm = make('gemm');
  const direct = make('direct');
  const gemmMs = await timeGpu(device, (e) => gemm.encode(e, input, outGemm));
  const directMs = await timeGpu(device, (e) => direct.encode(e, input, outDirect), 1);
  const gflop = (2 * C * C * 64 * 64) / 1e9;
  const rate = (ms: number) => `${ms.toFixed(ms < 10 ? 3 : 1)} ms (${(gflop / (ms / 1000)).toFixed(2)} GFLOP/s)`;
  let line = `1x1 conv 256->256 @64x64 (${gflop.toFixed(2)} GFLOP): tiled GEMM ${rate(gemmMs)}, naive direct ${rate(directMs)}: GEMM ${(directMs / gemmMs).toFixed(1)}x faster`;
  if (hasF16(device)) {
    const half = make('gemm', 'f16');
    const outHalf = own(emptyTensor(device, [1, C, 64, 64]));
    const halfMs = await timeGpu(device, (e) => half.encode(e, input, outHalf));
    line += `; f16 GEMM ${rate(halfMs)}`;
    expect(ref.maxRelativeError(await readTensor(device, outHalf), await readTensor(device, outGemm))).toBeLessThan(1e-2);
  }
  console.info(line);
  const a = await readTensor(device, outGemm);
  const b = await readTensor(device, outDirect);
  expect(ref.maxRelativeError(a, b)).toBeLessThan(1e-4);
}, 600_000);

function submit(device: GPUDevice, record: (encoder: GPUCommandEncoder) => void): void {
  const encoder = device.createCommandEncoder();
  record(encoder);
  device.queue.submit([encoder.finish()]);
}

gpuTest('conv2d residual add (after and before the activation), input/output channel slices, concat by offsets', async ({ device, own }) => {
  const x = randomHost([2, 10, 6, 5], 1);
  const skip = randomHost([2, 8, 6, 5], 2);
  for (const impl of ['gemm', 'direct'] as const) {
    for (const order of ['after', 'before'] as const) {
      for (const k of [1, 3]) {
        const weight = randomArray(8 * 10 * k * k, 3 + k, 0.3);
        const bias = randomArray(8, 4, 0.3);
        const conv = own(new Conv2d(device, { inChannels: 10, outChannels: 8, kernel: k, padding: (k - 1) / 2, weight, bias, activation: 'gelu', residualOrder: order, impl }));
        const input = upload(device, own, x);
        const out = own(emptyTensor(device, [2, 8, 6, 5]));
        submit(device, (e) => conv.encode(e, input, out, { skip: upload(device, own, skip) }));
        const want = ref.conv2d(x, weight, bias, 8, k, { padding: (k - 1) / 2, activation: 'gelu', skip, residualOrder: order });
        await expectClose(device, out, want, `residual ${impl} ${order} k${k}`);
      }
    }
  }
  // Two convs read channel slices of one input and write the halves of one concat buffer.
  const big = randomHost([1, 12, 4, 8], 5);
  const wa = randomArray(6 * 5, 6);
  const wb = randomArray(4 * 7 * 9, 7);
  const a = own(new Conv2d(device, { inChannels: 5, outChannels: 6, kernel: 1, weight: wa, activation: 'relu' }));
  const b = own(new Conv2d(device, { inChannels: 7, outChannels: 4, kernel: 3, padding: 1, weight: wb }));
  const input = upload(device, own, big);
  const cat = own(emptyTensor(device, [1, 10, 4, 8]));
  submit(device, (e) => {
    a.encode(e, input, cat, { inChannelOffset: 0, outChannelOffset: 4 });
    b.encode(e, input, cat, { inChannelOffset: 5, outChannelOffset: 0 });
  });
  const want = ref.concat([
    ref.conv2d(ref.sliceChannels(big, 5, 7), wb, undefined, 4, 3, { padding: 1 }),
    ref.conv2d(ref.sliceChannels(big, 0, 5), wa, undefined, 6, 1, { activation: 'relu' }),
  ]);
  await expectClose(device, cat, want, 'concat by channel offsets');
});

gpuTest('conv2d f16 GEMM tiles (only where shader-f16 exists)', async ({ device, own }) => {
  if (!hasF16(device)) {
    console.info('shader-f16 not available on this adapter: f16 GEMM not exercised');
    return;
  }
  for (const [cin, cout, h, w, k] of [[64, 64, 8, 8, 1], [37, 70, 5, 7, 1], [16, 24, 9, 7, 3]] as const) {
    const x = randomHost([1, cin, h, w], cin);
    const weight = randomArray(cout * cin * k * k, cout, 1 / Math.sqrt(cin * k * k));
    const bias = randomArray(cout, 3, 0.2);
    const conv = own(new Conv2d(device, { inChannels: cin, outChannels: cout, kernel: k, padding: (k - 1) / 2, weight, bias, activation: 'gelu', precision: 'f16' }));
    expect(conv.precision).toBe('f16');
    const input = upload(device, own, x);
    const out = own(emptyTensor(device, conv.outputShape(input.shape)));
    submit(device, (e) => conv.encode(e, input, out));
    await expectClose(device, out, ref.conv2d(x, weight, bias, cout, k, { padding: (k - 1) / 2, activation: 'gelu' }), `f16 conv ${cin}->${cout} k${k}`, 1e-2);
  }
  const x = randomHost([1, 24, 5, 6], 91);
  const weight = randomArray(24 * 16 * 16, 92, 0.2);
  const bias = randomArray(16, 93, 0.2);
  const op = own(new ConvTranspose2d(device, { inChannels: 24, outChannels: 16, kernel: 4, stride: 2, padding: 1, weight, bias, precision: 'f16' }));
  expect(op.precision).toBe('f16');
  const input = upload(device, own, x);
  const out = own(emptyTensor(device, op.outputShape(input.shape)));
  submit(device, (e) => op.encode(e, input, out));
  await expectClose(device, out, ref.convTranspose2d(x, weight, bias, 16, 4, { stride: 2, padding: 1 }), 'f16 conv_transpose k4 s2', 1e-2);
});

gpuTest("one op encoded at several sizes in one encoder (DM-VTON's shared FPN smooth conv)", async ({ device, own }) => {
  const weight = randomArray(8 * 8 * 9, 61, 0.3);
  const bias = randomArray(8, 62);
  const conv = own(new Conv2d(device, { inChannels: 8, outChannels: 8, kernel: 3, padding: 1, weight, bias }));
  const sizes = [[8, 6], [4, 3], [16, 12], [2, 2]] as const;
  const xs = sizes.map(([h, w], i) => randomHost([1, 8, h, w], 70 + i));
  const outs = sizes.map(([h, w]) => own(emptyTensor(device, [1, 8, h, w])));
  submit(device, (e) => xs.forEach((x, i) => conv.encode(e, upload(device, own, x), outs[i])));
  for (let i = 0; i < sizes.length; i++) await expectClose(device, outs[i], ref.conv2d(xs[i], weight, bias, 8, 3, { padding: 1 }), `shared conv at ${sizes[i].join('x')}`);
});

gpuTest("GEMM partial-sum accumulation (the f16 variant's code path) run with f32 tiles", async ({ device, own }) => {
  for (const [cin, cout, h, w, k, mode] of [[37, 70, 5, 7, 1, 1], [64, 20, 8, 8, 1, 0], [9, 33, 7, 6, 3, 2]] as const) {
    const x = randomHost([1, cin, h, w], cin + k);
    const K = cin * k * k;
    const Kp = Math.ceil(K / 16) * 16;
    const Mp = Math.ceil(cout / 64) * 64;
    const weight = randomArray(cout * K, cout, 1 / Math.sqrt(K));
    const bias = randomArray(cout, 5, 0.3);
    const bm = gemmRows(cout);
    const { code, key } = gemmKernel({ mode, bm, f16: false, partialSums: true });
    expect(key).toMatch(/partial/);
    const pipeline = cachedPipeline(device, key, 'nn conv gemm', () => code);
    const res = own(new OpResources(device, 'partial sums'));
    const input = upload(device, own, x);
    const out = own(emptyTensor(device, [1, cout, h, w]));
    const pad = (k - 1) / 2;
    const u = res.uniform(
      gemmUniform({ M: cout, N: h * w, K, Kp, Cin: cin, inOff: 0, H: h, W: w, Wo: w, k, stride: 1, pad, Ctot: cout, outOff: 0, flags: 0, act: ACTIVATION_CODE.gelu, plane: h * w, Mp }, 0.01),
    );
    const wb = own(weightBuffer(device, 'w', kMajor(weight, cout, K, Kp)));
    const bb = own(weightBuffer(device, 'b', bias, Mp));
    submit(device, (e) => {
      const pass = e.beginComputePass();
      res.dispatch(pass, pipeline, [u, input.buffer, wb, bb, input.buffer, out.buffer], Math.ceil((h * w) / gemmTile(bm, false).bn), Math.ceil(cout / bm), 1);
      pass.end();
    });
    await expectClose(device, out, ref.conv2d(x, weight, bias, cout, k, { padding: pad, activation: 'gelu' }), `partial sums mode ${mode}`);
  }
});

gpuTest('conv_transpose2d: k4 s2 p1, k3 s3 p0, output_padding, batches, activation, channel offset', async ({ device, own }) => {
  const cases = [
    { cin: 16, cout: 8, h: 5, w: 7, k: 4, s: 2, p: 1, op: 0 },
    { cin: 8, cout: 6, h: 4, w: 3, k: 3, s: 3, p: 0, op: 0, act: 'sigmoid' as Activation },
    { cin: 5, cout: 3, h: 3, w: 4, k: 3, s: 2, p: 1, op: 1, n: 2 },
    { cin: 6, cout: 7, h: 4, w: 4, k: 2, s: 2, p: 0, op: 0, act: 'relu6' as Activation },
    { cin: 4, cout: 5, h: 5, w: 5, k: 3, s: 1, p: 1, op: 0, bias: false },
    { cin: 24, cout: 16, h: 6, w: 5, k: 4, s: 2, p: 1, op: 0, n: 2, act: 'gelu' as Activation },
    { cin: 3, cout: 70, h: 3, w: 5, k: 2, s: 3, p: 0, op: 2 }, // k < s: some sub-pixel classes have no taps
    { cin: 7, cout: 5, h: 4, w: 3, k: 5, s: 2, p: 2, op: 1 }, // k % s != 0: classes differ in tap counts
  ];
  let seed = 500;
  for (const c of cases) {
    seed += 10;
    const n = c.n ?? 1;
    const x = randomHost([n, c.cin, c.h, c.w], seed);
    const weight = randomArray(c.cin * c.cout * c.k * c.k, seed + 1, 0.5);
    const bias = c.bias === false ? undefined : randomArray(c.cout, seed + 2, 0.5);
    const want = ref.convTranspose2d(x, weight, bias, c.cout, c.k, { stride: c.s, padding: c.p, outputPadding: c.op, activation: c.act });
    const input = upload(device, own, x);
    for (const impl of ['gemm', 'gather'] as const) {
      const op = own(new ConvTranspose2d(device, { inChannels: c.cin, outChannels: c.cout, kernel: c.k, stride: c.s, padding: c.p, outputPadding: c.op, weight, bias, activation: c.act, impl }));
      const out = own(emptyTensor(device, op.outputShape(input.shape)));
      submit(device, (e) => op.encode(e, input, out));
      await expectClose(device, out, want, `conv_transpose ${impl} ${JSON.stringify(c)}`);
    }
  }
  // DM-VTON decoder: cat([skip, dconv(x)]) with the transposed conv writing the second half.
  const x = randomHost([1, 12, 3, 4], 77);
  const skipPart = randomHost([1, 5, 6, 8], 78);
  const weight = randomArray(12 * 6 * 16, 79, 0.3);
  const bias = randomArray(6, 80);
  const op = own(new ConvTranspose2d(device, { inChannels: 12, outChannels: 6, kernel: 4, stride: 2, padding: 1, weight, bias }));
  const cat = own(emptyTensor(device, [1, 11, 6, 8]));
  const concat = own(new Concat(device));
  submit(device, (e) => {
    concat.encodeCopy(e, upload(device, own, skipPart), cat, 0);
    op.encode(e, upload(device, own, x), cat, { outChannelOffset: 5 });
  });
  await expectClose(device, cat, ref.concat([skipPart, ref.convTranspose2d(x, weight, bias, 6, 4, { stride: 2, padding: 1 })]), 'conv_transpose into a concat slice');
});

function nchwGrid(nhwc: ref.HostTensor): ref.HostTensor {
  const [n, h, w] = nhwc.shape;
  const out = ref.hostTensor([n, 2, h, w]);
  for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let d = 0; d < 2; d++) out.data[((b * 2 + d) * h + y) * w + x] = nhwc.data[((b * h + y) * w + x) * 2 + d];
  return out;
}

gpuTest('grid_sample: zeros/border x align_corners, out-of-range coordinates, grid layouts, fused apply_offset', async ({ device, own }) => {
  const input = randomHost([2, 3, 5, 7], 11);
  const gridShape: Shape = [2, 6, 4, 2];
  const grid = randomHost(gridShape, 12, 1.4); // many samples fall outside [-1, 1]
  // exact corners and edges
  grid.data.set([-1, -1, 1, 1, -1, 1, 1, -1, 0, 0, 1.0001, 0, -5, 3, 40, -40]);
  const inT = upload(device, own, input);
  for (const padding of ['zeros', 'border'] as const) {
    for (const alignCorners of [true, false]) {
      const want = ref.gridSample(input, grid, { padding, alignCorners });
      for (const layout of ['nhwc', 'nchw'] as GridLayout[]) {
        const gs = own(new GridSample(device, { padding, alignCorners, gridLayout: layout }));
        const g = upload(device, own, layout === 'nhwc' ? grid : nchwGrid(grid));
        const out = own(emptyTensor(device, gs.outputShape(inT.shape, g)));
        submit(device, (e) => gs.encode(e, inT, g, out));
        await expectClose(device, out, want, `grid_sample ${padding} align=${alignCorners} ${layout}`);
      }
    }
  }
  // DM-VTON: offsets [N,2,H,W] -> apply_offset -> grid_sample(border, align_corners) into a concat slice.
  const offsets = randomHost([2, 2, 6, 4], 13, 3);
  const gs = own(new GridSample(device, { padding: 'border', alignCorners: true, gridLayout: 'offset' }));
  const out = own(emptyTensor(device, [2, 5, 6, 4]));
  submit(device, (e) => gs.encode(e, inT, upload(device, own, offsets), out, { outChannelOffset: 2 }));
  const sampled = ref.gridSample(input, ref.applyOffset(offsets), { padding: 'border', alignCorners: true });
  const got = await readTensor(device, out);
  expect(ref.maxRelativeError(ref.sliceChannels({ data: got, shape: [2, 5, 6, 4] }, 2, 3).data, sampled.data)).toBeLessThan(1e-4);
  // Flow composed with itself (grid_sample of a 2-channel flow by a grid).
  const flow = randomHost([1, 2, 5, 6], 14, 0.9);
  const fgs = own(new GridSample(device, { padding: 'border', alignCorners: true, gridLayout: 'nchw' }));
  const flowT = upload(device, own, flow);
  const composed = own(emptyTensor(device, [1, 2, 5, 6]));
  submit(device, (e) => fgs.encode(e, flowT, flowT, composed));
  await expectClose(device, composed, ref.gridSample(flow, ref.nchwGridToNhwc(flow), { padding: 'border', alignCorners: true }), 'flow composed with itself');
});

gpuTest('correlation 7x7: channel mean, zero borders, channel order (dy+3)*7+(dx+3), tile edges, fused leaky_relu', async ({ device, own }) => {
  for (const [n, c, h, w, act] of [[1, 5, 10, 13, 'none'], [2, 16, 8, 8, 'leaky_relu'], [1, 9, 3, 17, 'none']] as const) {
    const a = randomHost([n, c, h, w], c * 3);
    const b = randomHost([n, c, h, w], c * 3 + 1);
    const corr = own(new Correlation(device, { activation: act, alpha: 0.1 }));
    const out = own(emptyTensor(device, [n, 49, h, w]));
    submit(device, (e) => corr.encode(e, upload(device, own, a), upload(device, own, b), out));
    await expectClose(device, out, ref.correlation(a, b, { activation: act, alpha: 0.1 }), `correlation ${n}x${c}x${h}x${w} ${act}`);
  }
  // Channel order: a one-hot `second` shifted by (dy, dx) lights channel (dy+3)*7+(dx+3).
  const a = ref.hostTensor([1, 1, 9, 9], 1);
  const b = ref.hostTensor([1, 1, 9, 9]);
  b.data[(4 + 2) * 9 + (4 - 1)] = 1; // second at (y + 2, x - 1) of the centre pixel
  const corr = own(new Correlation(device));
  const out = own(emptyTensor(device, [1, 49, 9, 9]));
  submit(device, (e) => corr.encode(e, upload(device, own, a), upload(device, own, b), out));
  const got = await readTensor(device, out);
  expect(got[((2 + 3) * 7 + (-1 + 3)) * 81 + 4 * 9 + 4]).toBe(1);
});

gpuTest('upsample nearest/bilinear (align_corners both) by scale and to odd sizes; adaptive average pool', async ({ device, own }) => {
  const x = randomHost([2, 3, 5, 4], 21);
  const xT = upload(device, own, x);
  const cases: [ref.UpsampleMode, boolean, number, number][] = [
    ['nearest', false, 10, 8],
    ['nearest', false, 7, 9],
    ['bilinear', false, 10, 8],
    ['bilinear', true, 10, 8],
    ['bilinear', false, 8, 6],
    ['bilinear', true, 13, 7],
    ['bilinear', false, 3, 2],
  ];
  for (const [mode, align, oh, ow] of cases) {
    const up = own(new Upsample(device, { mode, alignCorners: align }));
    const out = own(emptyTensor(device, [2, 3, oh, ow]));
    submit(device, (e) => up.encode(e, xT, out));
    await expectClose(device, out, ref.upsample(x, oh, ow, mode, align), `upsample ${mode} align=${align} ${oh}x${ow}`);
  }
  expect(Upsample.outputShape([1, 3, 5, 4], { scale: 2 })).toEqual([1, 3, 10, 8]);
  // FPN top: a 1x1 map broadcast to 8x6 by bilinear upsampling.
  const top = randomHost([1, 4, 1, 1], 22);
  const upT = own(emptyTensor(device, [1, 4, 8, 6]));
  const up = own(new Upsample(device, { mode: 'bilinear' }));
  submit(device, (e) => up.encode(e, upload(device, own, top), upT));
  await expectClose(device, upT, ref.upsample(top, 8, 6, 'bilinear'), 'upsample 1x1 broadcast');
  const pool = own(new AdaptiveAvgPool2d(device));
  for (const [oh, ow] of [[1, 1], [3, 2], [5, 4], [2, 3]]) {
    const out = own(emptyTensor(device, [2, 3, oh, ow]));
    submit(device, (e) => pool.encode(e, xT, out));
    await expectClose(device, out, ref.adaptiveAvgPool(x, oh, ow), `adaptive avg pool ${oh}x${ow}`);
  }
});

gpuTest('element-wise: add/mul with activation, every activation (in place too), concat, split, composite, apply_offset', async ({ device, own }) => {
  const shape: Shape = [2, 3, 5, 3];
  const a = randomHost(shape, 31, 4);
  const b = randomHost(shape, 32, 2);
  const aT = upload(device, own, a);
  const bT = upload(device, own, b);
  for (const op of ['add', 'mul'] as const) {
    const bin = own(new Binary(device, { op, activation: 'relu6' }));
    const out = own(emptyTensor(device, shape));
    submit(device, (e) => bin.encode(e, aT, bT, out));
    await expectClose(device, out, ref.activation(op === 'add' ? ref.add(a, b) : ref.mul(a, b), 'relu6'), `binary ${op}`);
  }
  // Activations over [-12, 12], GELU against a double-precision erf.
  const line = ref.hostTensor([1, 1, 1, 4801], (i) => -12 + i * 0.005);
  const acts: Activation[] = ['none', 'relu', 'relu6', 'leaky_relu', 'gelu', 'tanh', 'sigmoid'];
  for (const act of acts) {
    const op = own(new ActivationOp(device, { activation: act, alpha: 0.2 }));
    const lineT = upload(device, own, line);
    const out = own(emptyTensor(device, line.shape));
    submit(device, (e) => {
      op.encode(e, lineT, out);
      op.encode(e, lineT); // in place
    });
    const want = ref.activation(line, act, 0.2);
    const got = await readTensor(device, out);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want.data[i]) / Math.max(1, Math.abs(want.data[i])));
    expect(worst, `activation ${act}`).toBeLessThan(act === 'gelu' ? 2e-6 : 1e-6);
    expect(Array.from(await readTensor(device, lineT))).toEqual(Array.from(got));
  }
  // Concat of three tensors.
  const c = randomHost([2, 2, 5, 3], 33);
  const cat = own(emptyTensor(device, [2, 8, 5, 3]));
  const concat = own(new Concat(device));
  submit(device, (e) => concat.encode(e, [aT, upload(device, own, c), bT], cat));
  await expectClose(device, cat, ref.concat([a, c, b]), 'concat');
  // tanh | sigmoid split and the DM-VTON composite.
  const gen = randomHost([2, 4, 5, 3], 34, 3);
  const genT = upload(device, own, gen);
  const split = own(new SplitActivation(device, { split: 3, first: { activation: 'tanh' }, second: { activation: 'sigmoid' } }));
  const splitOut = own(emptyTensor(device, gen.shape));
  submit(device, (e) => split.encode(e, genT, splitOut));
  await expectClose(device, splitOut, ref.concat([ref.activation(ref.sliceChannels(gen, 0, 3), 'tanh'), ref.activation(ref.sliceChannels(gen, 3, 1), 'sigmoid')]), 'split activation');
  const cloth = randomHost([2, 3, 5, 3], 35);
  const edge = ref.hostTensor([2, 1, 5, 3], (i) => (i % 3) / 2);
  const comp = own(new TryOnComposite(device));
  const tryOn = own(emptyTensor(device, [2, 3, 5, 3]));
  submit(device, (e) => comp.encode(e, genT, upload(device, own, cloth), upload(device, own, edge), tryOn));
  await expectClose(device, tryOn, ref.tryOnComposite(gen, cloth, edge).tryOn, 'try-on composite');
  const offsets = randomHost([2, 2, 4, 6], 36, 2);
  const ao = own(new ApplyOffset(device));
  const grid = own(emptyTensor(device, ApplyOffset.outputShape(offsets.shape)));
  submit(device, (e) => ao.encode(e, upload(device, own, offsets), grid));
  await expectClose(device, grid, ref.applyOffset(offsets), 'apply_offset');
  const aoNchw = own(new ApplyOffset(device, { layout: 'nchw' }));
  const gridNchw = own(emptyTensor(device, ApplyOffset.outputShape(offsets.shape, 'nchw')));
  submit(device, (e) => aoNchw.encode(e, upload(device, own, offsets), gridNchw));
  await expectClose(device, gridNchw, nchwGrid(ref.applyOffset(offsets)), 'apply_offset (nchw)');
});

gpuTest('tensor pool reuses buffers by size; destroy returns them', async ({ device }) => {
  const pool = new TensorPool(device);
  try {
    const a = pool.acquire([1, 16, 8, 8]);
    const b = pool.acquire([1, 16, 8, 8]);
    expect(a.buffer).not.toBe(b.buffer);
    a.destroy();
    a.destroy(); // idempotent
    const c = pool.acquire([1, 8, 16, 8]); // same byte size
    expect(c.buffer).toBe(a.buffer);
    expect(pool.stats).toMatchObject({ buffers: 2, free: 0 });
    b.destroy();
    c.destroy();
    expect(pool.stats.free).toBe(2);
    pool.trim();
    expect(pool.stats).toMatchObject({ buffers: 0, free: 0, bytes: 0 });
    expect(() => pool.acquire([1, 0, 2, 2])).toThrow(/positive integers/);
  } finally {
    pool.destroy();
  }
});

/** A state dict of random tensors (BN variances positive). */
class FakeStateDict {
  readonly map = new Map<string, WeightSource>();
  private seed = 1000;
  add(key: string, shape: number[], scale = 1, positive = false): Float32Array {
    const n = shape.reduce((a, b) => a * b, 1);
    let data = randomArray(n, this.seed++, scale);
    if (positive) data = Float32Array.from(data, (v) => Math.abs(v) + 0.2);
    this.map.set(key, { shape, toFloat32: () => data });
    return data;
  }
  conv(prefix: string, out: number, inPerGroup: number, k: number, bias: boolean) {
    return { w: this.add(`${prefix}.weight`, [out, inPerGroup, k, k], 1 / Math.sqrt(inPerGroup * k * k)), b: bias ? this.add(`${prefix}.bias`, [out], 0.1) : undefined };
  }
  bn(prefix: string, c: number) {
    const gamma = this.add(`${prefix}.weight`, [c], 1, true);
    const beta = this.add(`${prefix}.bias`, [c], 0.2);
    const mean = this.add(`${prefix}.running_mean`, [c], 0.2);
    const variance = this.add(`${prefix}.running_var`, [c], 1, true);
    this.add(`${prefix}.num_batches_tracked`, [1]);
    return (x: ref.HostTensor) => ref.batchNorm(x, gamma, beta, mean, variance, 1e-5);
  }
}

gpuTest('MobileR2L-shaped net from a state dict: BN folded, residual blocks, transposed convs, Sequential on a pool with profiler stages', async ({ device, own }) => {
  const sd = new FakeStateDict();
  const C = 16;
  const head = sd.conv('head.0', C, 24, 1, true);
  const blocks = (prefix: string, c: number, count: number) =>
    Array.from({ length: count }, (_, i) => ({
      c1: sd.conv(`${prefix}.${i}.conv1`, c, c, 1, true),
      bn1: sd.bn(`${prefix}.${i}.bn1`, c),
      c2: sd.conv(`${prefix}.${i}.conv2`, c, c, 1, true),
      bn2: sd.bn(`${prefix}.${i}.bn2`, c),
    }));
  const body = blocks('body', C, 2);
  const up1 = { w: sd.add('tail.0.weight', [C, 8, 4, 4], 0.2), b: sd.add('tail.0.bias', [8], 0.1) };
  const tailBlocks = blocks('tail.1', 8, 1);
  const up2 = { w: sd.add('tail.2.weight', [8, 8, 3, 3], 0.3), b: sd.add('tail.2.bias', [8], 0.1) };
  const out = sd.conv('out', 3, 8, 1, true);

  // CPU: the PyTorch module order, BN unfolded.
  const x = randomHost([1, 24, 5, 6], 4242, 2);
  const resnet = (t: ref.HostTensor, b: (typeof body)[number], c: number) => {
    const h = ref.activation(b.bn1(ref.conv2d(t, b.c1.w, b.c1.b, c, 1)), 'gelu');
    return ref.add(b.bn2(ref.conv2d(h, b.c2.w, b.c2.b, c, 1)), t);
  };
  let y = ref.conv2d(x, head.w, head.b, C, 1, { activation: 'gelu' });
  for (const b of body) y = resnet(y, b, C);
  y = ref.convTranspose2d(y, up1.w, up1.b, 8, 4, { stride: 2, padding: 1 });
  for (const b of tailBlocks) y = resnet(y, b, 8);
  y = ref.convTranspose2d(y, up2.w, up2.b, 8, 3, { stride: 3 });
  const want = ref.conv2d(y, out.w, out.b, 3, 1, { activation: 'sigmoid' });

  // GPU: built from the state dict by key.
  const r = new StateDictReader(sd.map);
  const net = own(new Sequential('mobile_r2l'));
  net.add('head', r.conv2d(device, 'head.0', { activation: 'gelu' }), 'head');
  const addBlocks = (prefix: string, count: number, stage: string) => {
    for (let i = 0; i < count; i++) {
      net.addResidual(
        `${prefix}.${i}`,
        [r.conv2d(device, `${prefix}.${i}.conv1`, { batchNorm: `${prefix}.${i}.bn1`, activation: 'gelu' })],
        r.conv2d(device, `${prefix}.${i}.conv2`, { batchNorm: `${prefix}.${i}.bn2` }),
        stage,
      );
    }
  };
  addBlocks('body', 2, 'body');
  net.add('tail.0', r.convTranspose2d(device, 'tail.0', { stride: 2, padding: 1 }), 'sr');
  addBlocks('tail.1', 1, 'sr');
  net.add('tail.2', r.convTranspose2d(device, 'tail.2', { stride: 3 }), 'sr');
  net.add('out', r.conv2d(device, 'out', { activation: 'sigmoid' }), 'out');
  expect(r.unused()).toEqual([]);
  expect(net.outputShape([1, 24, 5, 6])).toEqual([1, 3, 30, 36]);

  const pool = own(new TensorPool(device));
  const profiler = own(new GpuProfiler(device, 1));
  const input = upload(device, own, x);
  let result: Tensor | null = null;
  for (let frame = 0; frame < 2; frame++) {
    result?.destroy();
    const encoder = device.createCommandEncoder();
    result = net.run(encoder, input, pool, { profiler });
    const after = profiler.finish(encoder);
    device.queue.submit([encoder.finish()]);
    after();
    await device.queue.onSubmittedWorkDone();
    // per size: a residual block holds its input, the hidden tensor and its output at once
    if (frame === 0) expect(pool.stats.buffers).toBeLessThanOrEqual(8);
  }
  const buffers = pool.stats.buffers;
  await expectClose(device, result!, want, 'MobileR2L-shaped net', 1e-4);
  expect(pool.stats.buffers).toBe(buffers); // the second frame allocated nothing
  await new Promise((resolve) => setTimeout(resolve, 50));
  if (profiler.hasTimestamps) expect(Object.keys(profiler.stages).sort()).toEqual(['body', 'head', 'out', 'sr']);
});

gpuTest('deep GELU residual stack (MobileR2L body depth: 29 blocks + global skip) stays within 1e-3 of the float64 reference', async ({ device, own }) => {
  const sd = new FakeStateDict();
  const C = 32;
  const blocks = Array.from({ length: 29 }, (_, i) => ({
    c1: sd.conv(`body.${i}.conv1`, C, C, 1, true),
    bn1: sd.bn(`body.${i}.bn1`, C),
    c2: sd.conv(`body.${i}.conv2`, C, C, 1, true),
    bn2: sd.bn(`body.${i}.bn2`, C),
  }));
  const x = randomHost([1, C, 6, 7], 321);
  let y = x;
  for (const b of blocks) {
    const h = ref.activation(b.bn1(ref.conv2d(y, b.c1.w, b.c1.b, C, 1)), 'gelu');
    y = ref.add(b.bn2(ref.conv2d(h, b.c2.w, b.c2.b, C, 1)), y);
  }
  const want = ref.add(y, x);
  const r = new StateDictReader(sd.map);
  const inner = new Sequential('body');
  for (let i = 0; i < 29; i++) {
    inner.addResidual(`body.${i}`, [r.conv2d(device, `body.${i}.conv1`, { batchNorm: `body.${i}.bn1`, activation: 'gelu' })], r.conv2d(device, `body.${i}.conv2`, { batchNorm: `body.${i}.bn2` }));
  }
  const body = own(new Sequential('net').add('body', inner)); // nested
  const add = own(new Binary(device, { op: 'add' }));
  const pool = own(new TensorPool(device));
  const input = upload(device, own, x);
  const out = own(emptyTensor(device, x.shape));
  const encoder = device.createCommandEncoder();
  const features = body.run(encoder, input, pool);
  add.encode(encoder, features, input, out);
  device.queue.submit([encoder.finish()]);
  const err = await expectClose(device, out, want, 'deep residual stack', 1e-3);
  console.info(`29-block GELU residual stack: max relative error ${err.toExponential(2)}`);
});

gpuTest('MobileNetV2 inverted residual from a state dict (1x1 expand, depthwise s2, 1x1 project, BN folded, ReLU6)', async ({ device, own }) => {
  const sd = new FakeStateDict();
  const p = 'features.2.conv';
  const e = sd.conv(`${p}.0`, 48, 8, 1, false);
  const bn1 = sd.bn(`${p}.1`, 48);
  const d = sd.conv(`${p}.3`, 48, 1, 3, false);
  const bn2 = sd.bn(`${p}.4`, 48);
  const pr = sd.conv(`${p}.6`, 12, 48, 1, false);
  const bn3 = sd.bn(`${p}.7`, 12);
  const x = randomHost([1, 8, 11, 9], 99);
  let y = ref.activation(bn1(ref.conv2d(x, e.w, undefined, 48, 1)), 'relu6');
  y = ref.activation(bn2(ref.conv2d(y, d.w, undefined, 48, 3, { stride: 2, padding: 1, groups: 48 })), 'relu6');
  const want = bn3(ref.conv2d(y, pr.w, undefined, 12, 1));
  const r = new StateDictReader(sd.map);
  const net = own(new Sequential('invres'));
  net.add('0', r.conv2d(device, `${p}.0`, { batchNorm: `${p}.1`, activation: 'relu6' }));
  const dw = r.conv2d(device, `${p}.3`, { batchNorm: `${p}.4`, activation: 'relu6', groups: 48, stride: 2, padding: 1 });
  expect(dw.impl).toBe('depthwise');
  net.add('3', dw);
  net.add('6', r.conv2d(device, `${p}.6`, { batchNorm: `${p}.7` }));
  const pool = own(new TensorPool(device));
  const encoder = device.createCommandEncoder();
  const outT = net.run(encoder, upload(device, own, x), pool);
  device.queue.submit([encoder.finish()]);
  await expectClose(device, outT, want, 'inverted residual');
});

gpuTest('ops run on a device with WebGPU default limits (16 KiB workgroup storage, 256 invocations)', async ({ own }) => {
  const { device } = await requestGpu({ defaultLimits: true });
  try {
    expect(device.limits.maxComputeWorkgroupStorageSize).toBe(16384);
    await withErrorScope(device, 'default limits', async () => {
      for (const [cin, cout, k] of [[40, 70, 1], [20, 20, 1], [9, 30, 3], [16, 2, 3]] as const) {
        await checkConv(device, own, { cin, cout, h: 6, w: 10, k, padding: (k - 1) / 2, activation: 'gelu' }, cin + cout);
      }
      const a = randomHost([1, 10, 9, 9], 5);
      const corr = own(new Correlation(device));
      const out = own(emptyTensor(device, [1, 49, 9, 9]));
      submit(device, (e) => corr.encode(e, upload(device, own, a), upload(device, own, a), out));
      await expectClose(device, out, ref.correlation(a, a), 'correlation at default limits');
    });
  } finally {
    device.destroy();
  }
});

/**
 * Light-field viewer kernels and network on a real WebGPU device: the rays + positional
 * encoding kernel and the WGSL teacher against CPU references and against PyTorch's tensors,
 * the whole MobileR2L network against tools/nelf (official architecture, PyTorch 1.13) on the
 * shipped model and on a random-init small one, and the same weights in every file layout.
 * Fixtures: tests/fixtures/make_nelf_fixtures.py.
 */
import { expect } from 'vitest';
import { StageRecorder } from '../../src/nn/graph.ts';
import { emptyTensor, readTensor, tensorFrom, TensorPool } from '../../src/nn/tensor.ts';
import { readTexture } from '../../src/gpu/readback.ts';
import { NarrowConv2d } from '../../src/nn/ops/conv-narrow.ts';
import * as nnRef from '../../src/nn/reference.ts';
import { focalFromAngle, lookAt, spherePose, type Mat4 } from '../../src/demos/nelf/camera.ts';
import { MobileR2L, RayEncoder, TeacherRenderer, type RayParams } from '../../src/demos/nelf/network.ts';
import { encodeReference, r2lReference, teacherReference } from '../../src/demos/nelf/reference.ts';
import { Tensor as FileTensor } from '../../src/formats/tensor.ts';
import { NelfRenderer, viewLayout } from '../../src/demos/nelf/renderer.ts';
import { readNelfWeights, r2lConfig } from '../../src/demos/nelf/weights.ts';
import { gpuTest, rng } from './harness.ts';
import defaultMeta from '../fixtures/nelf/default/meta.json?url';
import defaultInput from '../fixtures/nelf/default/input.bin?url';
import defaultOutput from '../fixtures/nelf/default/output.bin?url';
import defaultTeacher from '../fixtures/nelf/default/teacher.bin?url';
import smallMeta from '../fixtures/nelf/small/meta.json?url';
import smallInput from '../fixtures/nelf/small/input.bin?url';
import smallOutput from '../fixtures/nelf/small/output.bin?url';
import smallSt from '../fixtures/nelf/small/small.safetensors?url';
import smallCkpt from '../fixtures/nelf/small/checkpoint.tar?url';
import smallModule from '../fixtures/nelf/small/module_prefix.pth?url';
import smallWrong from '../fixtures/nelf/small/wrong_shape.pth?url';

// Fixture files by URL (vite serves them; `?url` keeps binary files out of the module graph).
const FILES: Record<string, string> = {
  '../fixtures/nelf/default/meta.json': defaultMeta,
  '../fixtures/nelf/default/input.bin': defaultInput,
  '../fixtures/nelf/default/output.bin': defaultOutput,
  '../fixtures/nelf/default/teacher.bin': defaultTeacher,
  '../fixtures/nelf/small/meta.json': smallMeta,
  '../fixtures/nelf/small/input.bin': smallInput,
  '../fixtures/nelf/small/output.bin': smallOutput,
  '../fixtures/nelf/small/small.safetensors': smallSt,
  '../fixtures/nelf/small/checkpoint.tar': smallCkpt,
  '../fixtures/nelf/small/module_prefix.pth': smallModule,
  '../fixtures/nelf/small/wrong_shape.pth': smallWrong,
  '../../public/models/nelf/default.safetensors': '/models/nelf/default.safetensors',
};

async function bytes(path: string): Promise<Uint8Array> {
  const res = await fetch(FILES[path]);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}
async function floats(path: string): Promise<Float32Array> {
  const b = await bytes(path);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}
async function json<T>(path: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await bytes(path))) as T;
}

interface FixtureMeta {
  c2w: number[][];
  input_size: [number, number];
  focal_input: number;
  focal_output: number;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** HWC [H, W, 3] -> NCHW [3, H, W]. */
function hwcToChw(x: Float32Array, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) out[c * h * w + i] = x[i * 3 + c];
  return out;
}

async function runEncoder(device: GPUDevice, p: RayParams): Promise<Float32Array> {
  const enc = new RayEncoder(device);
  const out = emptyTensor(device, enc.outputShape(p));
  try {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    enc.encode(pass, p, out);
    pass.end();
    device.queue.submit([encoder.finish()]);
    return await readTensor(device, out);
  } finally {
    out.destroy();
    enc.destroy();
  }
}

async function runNetwork(device: GPUDevice, model: MobileR2L, input: Float32Array, h: number, w: number): Promise<Float32Array> {
  const pool = new TensorPool(device);
  try {
    const x = pool.acquire([1, model.config.inputDim, h, w]);
    device.queue.writeBuffer(x.buffer, 0, new Float32Array(input));
    const encoder = device.createCommandEncoder();
    const rec = new StageRecorder(encoder);
    const y = model.run(rec, x, pool);
    rec.finish();
    device.queue.submit([encoder.finish()]);
    return await readTensor(device, y);
  } finally {
    pool.destroy();
  }
}

gpuTest('rays + positional encoding: CPU reference (Blender and NDC) and PyTorch input, MobileR2L channel order', async ({ device }) => {
  const r = rng(11);
  for (const ndc of [false, true]) {
    const c2w = ndc ? lookAt([0.3 * r() - 0.15, 0.2 * r() - 0.1, 1.5]) : spherePose(r() * 6.28, 0.1 + r() * 1.2);
    const p: RayParams = { c2w, height: 5, width: 7, focal: 6.1, samples: 8, multires: 6, near: ndc ? 0 : 2, far: ndc ? 1 : 6, ndc };
    const got = await runEncoder(device, p);
    const want = encodeReference(p);
    const err = maxAbs(got, want);
    console.info(`rays+pe ${ndc ? 'ndc' : 'blender'}: max abs err ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
  }
  // Other sample counts and frequencies keep the channel formula.
  const p: RayParams = { c2w: spherePose(1, 0.5), height: 3, width: 2, focal: 2.5, samples: 3, multires: 4, near: 2, far: 6 };
  expect(maxAbs(await runEncoder(device, p), encodeReference(p))).toBeLessThan(1e-4);
  // PyTorch's tensor for the default model's fixture pose.
  const meta = await json<FixtureMeta>('../fixtures/nelf/default/meta.json');
  const [h, w] = meta.input_size;
  const torchInput = await floats('../fixtures/nelf/default/input.bin');
  const pt: RayParams = { c2w: meta.c2w.flat(), height: h, width: w, focal: meta.focal_input, samples: 8, multires: 6, near: 2, far: 6 };
  const err = maxAbs(await runEncoder(device, pt), torchInput);
  console.info(`rays+pe vs PyTorch: max abs err ${err.toExponential(2)}`);
  expect(err).toBeLessThan(1e-4);
});

gpuTest('WGSL teacher: CPU reference and PyTorch teacher.py', async ({ device, own }) => {
  const check = async (c2w: Mat4, h: number, w: number, focal: number, want: Float32Array, label: string) => {
    const t = own(emptyTensor(device, [1, 3, h, w]));
    const tr = own(new TeacherRenderer(device));
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    tr.encode(pass, c2w, focal, t);
    pass.end();
    device.queue.submit([encoder.finish()]);
    const got = await readTensor(device, t);
    // Edges, checker lines and shadow boundaries may flip a pixel on rounding: bound their count.
    // Elsewhere f32 rounding stays small (largest at grazing sphere hits, where sqrt(h) amplifies it).
    let flips = 0;
    let smooth = 0;
    for (let i = 0; i < got.length; i++) {
      const e = Math.abs(got[i] - want[i]);
      if (e > 1e-2) flips++;
      else smooth = Math.max(smooth, e);
    }
    console.info(`teacher ${label}: ${flips}/${got.length} values at a boundary, max err elsewhere ${smooth.toExponential(2)}`);
    expect(flips / got.length).toBeLessThan(0.005);
    expect(smooth).toBeLessThan(1e-3);
    // Not a blank image: sky, ground and objects.
    expect(new Set(Array.from(got.subarray(0, h * w), (v) => v.toFixed(2))).size).toBeGreaterThan(8);
  };
  const r = rng(5);
  for (let k = 0; k < 3; k++) {
    const c2w = spherePose(r() * 6.28, 0.1 + r() * 1.2);
    await check(c2w, 40, 48, focalFromAngle(48), teacherReference(c2w, 40, 48, focalFromAngle(48)), `random pose ${k}`);
  }
  const meta = await json<FixtureMeta>('../fixtures/nelf/default/meta.json');
  const s = meta.input_size[0] * 8;
  await check(meta.c2w.flat(), s, s, meta.focal_output, hwcToChw(await floats('../fixtures/nelf/default/teacher.bin'), s, s), 'vs PyTorch');
});

gpuTest('MobileR2L parity with PyTorch: shipped model (fp16 safetensors) at held-out pose 0, 4x4 -> 32x32', async ({ device, own }) => {
  const weights = readNelfWeights(await bytes('../../public/models/nelf/default.safetensors'), 'default.safetensors');
  const model = own(new MobileR2L(device, weights.tensors, weights.metadata));
  expect(model.config).toMatchObject({ width: 64, blocks: 5, netdepth: 12, samples: 8, multires: 6, upscale: 8, dataset: 'Blender' });
  expect(model.config.params).toBe(Number(weights.metadata.params));
  const meta = await json<FixtureMeta>('../fixtures/nelf/default/meta.json');
  const [h, w] = meta.input_size;
  const input = await floats('../fixtures/nelf/default/input.bin');
  const want = await floats('../fixtures/nelf/default/output.bin');
  const got = await runNetwork(device, model, input, h, w);
  const err = maxAbs(got, want);
  console.info(`parity (shipped model, PyTorch input): max abs err ${err.toExponential(2)}`);
  expect(err).toBeLessThan(1e-3);
  // End to end from the pose: GPU rays + encoding feeding the network.
  const renderer = own(new NelfRenderer(device));
  renderer.setModel(new MobileR2L(device, weights.tensors, weights.metadata));
  renderer.setPose({ c2w: meta.c2w.flat(), focal: meta.focal_output, width: 8 * w, height: 8 * h });
  const encoder = device.createCommandEncoder();
  renderer.encode(encoder, null);
  device.queue.submit([encoder.finish()]);
  renderer.afterSubmit();
  const full = await readTensor(device, renderer.student!);
  const errFull = maxAbs(full, want);
  console.info(`parity (pose -> image, all on the GPU): max abs err ${errFull.toExponential(2)}`);
  expect(errFull).toBeLessThan(1e-3);
  // GPU PSNR (student vs WGSL teacher) equals the PSNR of the read-back images.
  await device.queue.onSubmittedWorkDone();
  await new Promise((r) => setTimeout(r, 50));
  const teacher = await readTensor(device, renderer.teacher!);
  let se = 0;
  for (let i = 0; i < full.length; i++) se += (full[i] - teacher[i]) ** 2;
  const psnr = -10 * Math.log10(se / full.length);
  expect(renderer.psnr).not.toBeNull();
  expect(Math.abs(renderer.psnr! - psnr)).toBeLessThan(1e-3);
});

gpuTest('small random-init MobileR2L: safetensors, official checkpoint and module.-prefixed state dict load the same network, matching PyTorch', async ({ device, own }) => {
  const meta = await json<FixtureMeta>('../fixtures/nelf/small/meta.json');
  const [h, w] = meta.input_size;
  const input = await floats('../fixtures/nelf/small/input.bin');
  const want = await floats('../fixtures/nelf/small/output.bin');
  const outputs: Float32Array[] = [];
  for (const [file, source] of [
    ['small.safetensors', /safetensors \(float32\)/],
    ['checkpoint.tar', /training checkpoint \(network_fn_state_dict\)/],
    ['module_prefix.pth', /module\. prefix removed/],
  ] as const) {
    const wts = readNelfWeights(await bytes(`../fixtures/nelf/small/${file}`), file);
    expect(wts.source).toMatch(source);
    const model = own(new MobileR2L(device, wts.tensors, wts.metadata));
    expect(model.config).toMatchObject({ width: 16, blocks: 1, upscale: 8 });
    if (file === 'small.safetensors') {
      // The tail on the tiled GEMM everywhere gives the same image.
      const gemm = own(new MobileR2L(device, wts.tensors, wts.metadata, { tailKernels: 'gemm' }));
      const errGemm = maxAbs(await runNetwork(device, gemm, input, h, w), want);
      console.info(`parity (small, GEMM tail): max abs err ${errGemm.toExponential(2)}`);
      expect(errGemm).toBeLessThan(1e-3);
    }
    expect(model.config.tail.filter((t) => t.kind === 'up').map((t) => (t.kind === 'up' ? t.outC : 0))).toEqual([8, 8, 4]);
    const got = await runNetwork(device, model, input, h, w);
    const err = maxAbs(got, want);
    console.info(`parity (small, ${file}): max abs err ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-3);
    outputs.push(got);
  }
  expect(maxAbs(outputs[0], outputs[1])).toBe(0);
  expect(maxAbs(outputs[0], outputs[2])).toBe(0);
});

gpuTest('bad weights: wrong shape names the key and both shapes; another network is refused', async () => {
  const bad = readNelfWeights(await bytes('../fixtures/nelf/small/wrong_shape.pth'), 'wrong_shape.pth');
  expect(() => r2lConfig(bad.tensors)).toThrow("'body.0.conv_block.3.weight' has shape [16, 8, 1, 1], expected [16, 16, 1, 1]");
  const ok = readNelfWeights(await bytes('../fixtures/nelf/small/small.safetensors'));
  const other = new Map([...ok.tensors].map(([k, v]) => [k.replace('head.0', 'encoder.0'), v]));
  expect(() => r2lConfig(other)).toThrow(/not a MobileR2L network: no 'head.0.weight'/);
  const extra = new Map(ok.tensors);
  extra.set('body.9.extra', ok.tensors.get('head.0.bias')!);
  expect(() => r2lConfig(extra)).toThrow(/unexpected key 'body.9.extra'/);
  expect(() => readNelfWeights(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 'x.bin')).toThrow(/x.bin/);
  const truncated = (await bytes('../fixtures/nelf/small/checkpoint.tar')).slice(0, 5000);
  expect(() => readNelfWeights(truncated, 'cut.tar')).toThrow(/cut.tar/);
});

gpuTest('view layout: side by side when wide, stacked when tall, centred', () => {
  expect(viewLayout(2, 32, 32, 256, 128)).toEqual({ vertical: false, panelW: 128, panelH: 128, offX: 0, offY: 0 });
  expect(viewLayout(2, 32, 32, 100, 300)).toEqual({ vertical: true, panelW: 100, panelH: 100, offX: 0, offY: 50 });
  expect(viewLayout(1, 32, 32, 100, 60)).toEqual({ vertical: false, panelW: 60, panelH: 60, offX: 20, offY: 0 });
});

/** A state dict with the official module's keys and shapes (model/R2L.py) and random values. */
function officialStateDict(depth: number, width: number, kernels: [number, number, number], dataset: 'Blender' | 'Colmap', seed: number): Map<string, FileTensor> {
  const r = rng(seed);
  const sd = new Map<string, FileTensor>();
  const uni = (lo: number, hi: number, n: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
  const put = (k: string, shape: number[], data: Float32Array) => sd.set(k, new FileTensor('float32', shape, data));
  const conv = (p: string, o: number, i: number, k: number, gain = 1) => {
    const b = gain / Math.sqrt(i * k * k);
    put(`${p}.weight`, [o, i, k, k], uni(-b, b, o * i * k * k));
    put(`${p}.bias`, [o], uni(-b, b, o));
  };
  const bn = (p: string, c: number) => {
    put(`${p}.weight`, [c], uni(0.5, 1.5, c));
    put(`${p}.bias`, [c], uni(-0.1, 0.1, c));
    put(`${p}.running_mean`, [c], uni(-0.1, 0.1, c));
    put(`${p}.running_var`, [c], uni(0.5, 1.5, c));
    sd.set(`${p}.num_batches_tracked`, new FileTensor('int64', [], new BigInt64Array([100n])));
  };
  const block = (p: string, c: number) => {
    conv(`${p}.conv_block.0`, c, c, 1);
    bn(`${p}.conv_block.1`, c);
    conv(`${p}.conv_block.3`, c, c, 1, 0.3);
    bn(`${p}.conv_block.4`, c);
  };
  conv('head.0', width, 312, 1);
  for (let i = 0; i < (depth - 2) / 2; i++) block(`body.${i}`, width);
  let j = 0;
  const up = (i: number, o: number, k: number) => {
    const b = 1 / Math.sqrt(o * k * k);
    put(`tail.${j}.weight`, [i, o, k, k], uni(-b, b, i * o * k * k));
    put(`tail.${j}.bias`, [o], uni(-b, b, o));
    j++;
  };
  for (let i = 0; i < 2; i++) {
    up(i ? kernels[i] : width, kernels[i], 4);
    block(`tail.${j++}`, kernels[i]);
    block(`tail.${j++}`, kernels[i]);
  }
  up(kernels[1], kernels[2], dataset === 'Colmap' ? 3 : 4);
  block(`tail.${j++}`, kernels[2]);
  block(`tail.${j++}`, kernels[2]);
  conv(`tail.${j}`, 3, kernels[2], 1);
  return sd;
}

gpuTest('official 4.3M-parameter configurations (Blender 8x, Colmap 12x): random weights, GPU vs CPU reference with unfolded BatchNorm', async ({ device, own }) => {
  for (const [dataset, params, upscale] of [
    ['Blender', 4_305_539, 8],
    ['Colmap', 4_298_371, 12],
  ] as const) {
    const sd = officialStateDict(60, 256, [64, 64, 16], dataset, dataset === 'Blender' ? 1 : 2);
    const model = own(new MobileR2L(device, sd));
    expect(model.config).toMatchObject({ netdepth: 60, width: 256, blocks: 29, samples: 8, upscale, dataset, ndc: dataset === 'Colmap', params });
    const h = 2;
    const w = 3;
    const input = Float32Array.from({ length: 312 * h * w }, (_, i) => Math.sin(i * 0.37));
    const got = await runNetwork(device, model, input, h, w);
    const want = r2lReference(sd, model.config, { data: input, shape: [1, 312, h, w] });
    expect(want.shape).toEqual([1, 3, h * upscale, w * upscale]);
    const err = maxAbs(got, want.data);
    let mean = 0;
    for (const v of want.data) mean += v / want.data.length;
    const spread = Math.sqrt(want.data.reduce((s, v) => s + (v - mean) ** 2, 0) / want.data.length);
    console.info(`official ${dataset} config: ${params} params, ${(model.macs(100, 100) / 1e9).toFixed(1)} GMAC at 100x100, max abs err ${err.toExponential(2)}, output spread ${spread.toFixed(3)}`);
    expect(spread).toBeGreaterThan(0.01); // not saturated: the comparison means something
    expect(err).toBeLessThan(1e-3);
  }
});

gpuTest('narrow 1x1 conv (<= 32 output channels): CPU reference with bias, activations, residual before/after, batches', async ({ device, own }) => {
  const r = rng(21);
  const rand = (n: number, s = 1) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * s);
  for (const [n, cin, cout, h, w, activation, order, withSkip] of [
    [1, 16, 3, 8, 6, 'sigmoid', 'after', false],
    [2, 16, 16, 4, 4, 'gelu', 'after', true],
    [1, 64, 32, 2, 6, 'relu', 'before', true],
    [1, 5, 1, 1, 4, 'none', 'after', false],
  ] as const) {
    const weight = rand(cout * cin, 0.5);
    const bias = rand(cout, 0.1);
    const x = { data: rand(n * cin * h * w), shape: [n, cin, h, w] as const };
    const skip = withSkip ? { data: rand(n * cout * h * w), shape: [n, cout, h, w] as const } : undefined;
    const conv = own(new NarrowConv2d(device, { inChannels: cin, outChannels: cout, weight, bias, activation, residualOrder: order }));
    const xt = own(tensorFrom(device, x.data, x.shape));
    const st = skip ? own(tensorFrom(device, skip.data, skip.shape)) : undefined;
    const y = own(emptyTensor(device, [n, cout, h, w]));
    const encoder = device.createCommandEncoder();
    conv.encode(encoder, xt, y, { skip: st });
    device.queue.submit([encoder.finish()]);
    const want = nnRef.conv2d(x, weight, bias, cout, 1, { activation, skip, residualOrder: order });
    const err = maxAbs(await readTensor(device, y), want.data);
    expect(err, `${cin}->${cout} ${activation}`).toBeLessThan(1e-5);
  }
  expect(() => new NarrowConv2d(device, { inChannels: 4, outChannels: 33, weight: new Float32Array(132) })).toThrow(/1\.\.32 output channels/);
});

gpuTest('view kernel: panels are the student, teacher and |difference| x gain, nearest-scaled and letterboxed (CPU reference)', async ({ device, own }) => {
  const weights = readNelfWeights(await bytes('../fixtures/nelf/small/small.safetensors'), 'small.safetensors');
  const renderer = own(new NelfRenderer(device));
  renderer.setModel(new MobileR2L(device, weights.tensors));
  renderer.setPose({ c2w: spherePose(0.7, 0.4), focal: focalFromAngle(16), width: 16, height: 16 });
  for (const [mode, ow, oh] of [
    ['all', 100, 40],
    ['split', 20, 50],
    ['diff', 24, 16],
  ] as const) {
    renderer.mode = mode;
    const tex = own(device.createTexture({ size: { width: ow, height: oh }, format: 'rgba8unorm', usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_SRC }));
    const encoder = device.createCommandEncoder();
    renderer.encode(encoder, tex);
    device.queue.submit([encoder.finish()]);
    const img = await readTexture(device, tex);
    const s = await readTensor(device, renderer.student!);
    const t = await readTensor(device, renderer.teacher!);
    const panels = { all: [0, 1, 2], split: [0, 1], diff: [2] }[mode];
    const lay = viewLayout(panels.length, 16, 16, ow, oh);
    let worst = 0;
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        let want = [0.07, 0.08, 0.1];
        const px = x - lay.offX;
        const py = y - lay.offY;
        if (px >= 0 && py >= 0) {
          const panel = lay.vertical ? Math.floor(py / lay.panelH) : Math.floor(px / lay.panelW);
          const lx = lay.vertical ? px : px % lay.panelW;
          const ly = lay.vertical ? py % lay.panelH : py;
          if (panel < panels.length && lx < lay.panelW && ly < lay.panelH) {
            const i = Math.min(15, Math.floor((ly * 16) / lay.panelH)) * 16 + Math.min(15, Math.floor((lx * 16) / lay.panelW));
            const kind = panels[panel];
            want = [0, 1, 2].map((c) => (kind === 0 ? s[c * 256 + i] : kind === 1 ? t[c * 256 + i] : Math.min(1, Math.abs(s[c * 256 + i] - t[c * 256 + i]) * renderer.diffGain)));
          }
        }
        for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(img.data[(y * ow + x) * 4 + c] - want[c] * 255));
      }
    }
    expect(worst, mode).toBeLessThanOrEqual(1);
  }
});

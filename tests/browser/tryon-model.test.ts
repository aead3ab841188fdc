/**
 * The DM-VTON student on the WebGPU device against the CPU reference forward of the official
 * code (src/demos/tryon/reference.ts), on narrow random models with the official key names at
 * 128x96; load errors name the key and free every GPU buffer that was made.
 */
import { expect } from 'vitest';
import { DmVtonModel, loadGen, loadWarp, MobileAfwm, MobileNetV2Unet, STAGES } from '../../src/demos/tryon/model.ts';
import { TryOnPipeline } from '../../src/demos/tryon/pipeline.ts';
import { dmvtonReference } from '../../src/demos/tryon/reference.ts';
import { GpuProfiler } from '../../src/gpu/profiler.ts';
import * as ref from '../../src/nn/reference.ts';
import { readTensor, type Tensor } from '../../src/nn/tensor.ts';
import { NARROW_WIDTHS, syntheticGen, syntheticWarp, type FakeTensor, type Widths } from '../fixtures/dmvton-synthetic.ts';
import { gpuTest, rng } from './harness.ts';

const H = 128;
const W = 96;

function inputs(seed: number): { person: ref.HostTensor; garment: ref.HostTensor; edge: ref.HostTensor } {
  const r = rng(seed);
  const person = ref.hostTensor([1, 3, H, W], (i) => Math.sin(i * 0.013) * 0.6 + (r() - 0.5) * 0.4);
  const garment = ref.hostTensor([1, 3, H, W], (i) => Math.cos(i * 0.007) * 0.5 + (r() - 0.5) * 0.3);
  // An ellipse of garment with soft (JPEG-like) grey levels around its rim.
  const edge = ref.hostTensor([1, 1, H, W], (i) => {
    const x = (i % W) / W - 0.5;
    const y = Math.floor(i / W) / H - 0.45;
    const d = (x * x) / 0.12 + (y * y) / 0.1;
    return Math.min(1, Math.max(0, (1.1 - d) * 3));
  });
  return { person, garment, edge };
}

async function maxAbs(device: GPUDevice, got: Tensor, want: ref.HostTensor): Promise<number> {
  const data = await readTensor(device, got);
  expect(data.length).toBe(want.data.length);
  let m = 0;
  for (let i = 0; i < data.length; i++) {
    const d = Math.abs(data[i] - want.data[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

function build(device: GPUDevice, widths: Widths, seed: number) {
  const warpDict = syntheticWarp(widths, seed);
  const genDict = syntheticGen(widths, seed + 1);
  const warp = loadWarp(device, warpDict, '', 'warp');
  const gen = loadGen(device, genDict, '', 'gen');
  return { warpDict, genDict, model: new DmVtonModel(device, warp, gen) };
}

gpuTest('DM-VTON student (narrow random weights, 128x96) matches the CPU reference of the official forward', async ({ device, own }) => {
  const { warpDict, genDict, model } = build(device, NARROW_WIDTHS, 11);
  own({ destroy: () => (model.destroyOps(), model.warp.destroy(), model.gen.destroy()) });
  const pipe = own(new TryOnPipeline(device, model, H, W));
  const x = inputs(3);
  pipe.setInputs({ person: x.person.data, garment: x.garment.data, edge: x.edge.data });
  const profiler = own(new GpuProfiler(device));
  const encoder = device.createCommandEncoder();
  pipe.encode(encoder, profiler);
  const after = profiler.finish(encoder);
  device.queue.submit([encoder.finish()]);
  after();
  const want = dmvtonReference(warpDict, genDict, x.person, x.garment, x.edge);
  const errors: Record<string, number> = {};
  for (const k of ['flow', 'warpedCloth', 'warpedEdge', 'gen', 'tryOn'] as const) errors[k] = await maxAbs(device, pipe.outputs[k], want[k]);
  console.info(`tryon parity vs CPU reference (narrow, 128x96): ${JSON.stringify(errors)}; ${(model.macs(H, W) / 1e9).toFixed(3)} GMAC`);
  for (const [k, e] of Object.entries(errors)) expect(e, k).toBeLessThan(1e-3);
  // The warp actually moved the garment (a non-identity flow) and the output is not constant.
  const tryOn = await readTensor(device, pipe.outputs.tryOn);
  expect(Math.max(...tryOn) - Math.min(...tryOn)).toBeGreaterThan(0.1);
  // Stage timings: the four named stages (one timed pass each) where timestamps exist.
  if (profiler.hasTimestamps) {
    for (let i = 0; i < 100 && Object.keys(profiler.stages).length < 4; i++) await new Promise((r) => setTimeout(r, 20));
    expect(Object.keys(profiler.stages).sort()).toEqual(Object.values(STAGES).sort());
    console.info(`stage ms: ${JSON.stringify(profiler.stages)}`);
  }
});

gpuTest('a second run on the same pipeline makes no new buffers (pooled intermediates)', async ({ device, own }) => {
  const { model } = build(device, NARROW_WIDTHS, 5);
  own({ destroy: () => (model.destroyOps(), model.warp.destroy(), model.gen.destroy()) });
  const pipe = own(new TryOnPipeline(device, model, H, W));
  const x = inputs(4);
  pipe.setInputs({ person: x.person.data, garment: x.garment.data, edge: x.edge.data });
  for (let i = 0; i < 2; i++) {
    const e = device.createCommandEncoder();
    pipe.encode(e);
    device.queue.submit([e.finish()]);
  }
  const first = pipe.pool.stats.buffers;
  const e = device.createCommandEncoder();
  pipe.encode(e);
  device.queue.submit([e.finish()]);
  await device.queue.onSubmittedWorkDone();
  expect(pipe.pool.stats.buffers).toBe(first);
});

/** Counts GPU buffers created and not destroyed while `fn` runs. */
async function liveBuffersAfter(device: GPUDevice, fn: () => void): Promise<number> {
  const live = new Set<GPUBuffer>();
  const original = device.createBuffer.bind(device);
  device.createBuffer = (d: GPUBufferDescriptor) => {
    const b = original(d);
    live.add(b);
    const destroy = b.destroy.bind(b);
    b.destroy = () => {
      live.delete(b);
      destroy();
    };
    return b;
  };
  try {
    fn();
  } finally {
    device.createBuffer = original;
  }
  return live.size;
}

function mutate(dict: Map<string, FakeTensor>, f: (d: Map<string, FakeTensor>) => void): Map<string, FakeTensor> {
  const copy = new Map(dict);
  f(copy);
  return copy;
}

gpuTest('bad state dicts: missing, extra, wrong-shape keys, a teacher generator, unshared smooth convs: errors name the key, nothing leaks', async ({ device }) => {
  const warp = syntheticWarp(NARROW_WIDTHS, 1);
  const gen = syntheticGen(NARROW_WIDTHS, 2);
  const cases: [string, () => unknown, RegExp][] = [
    ['missing', () => loadWarp(device, mutate(warp, (d) => d.delete('aflow_net.netRefine.3.4.weight')), '', 'warp'), /no 'aflow_net\.netRefine\.3\.4\.weight' \(missing key\)/],
    ['missing BN', () => loadGen(device, mutate(gen, (d) => d.delete('invres2.conv.4.running_var')), '', 'gen'), /'invres2\.conv\.4\.running_var'/],
    ['extra', () => loadGen(device, mutate(gen, (d) => d.set('head.fc.weight', { shape: [2], toFloat32: () => new Float32Array(2) })), '', 'gen'), /unexpected key 'head\.fc\.weight'/],
    [
      'shape',
      () => loadWarp(device, mutate(warp, (d) => d.set('cond_mobile.lateral_layers.2.weight', { shape: [16, 5, 1, 1], toFloat32: () => new Float32Array(80) })), '', 'warp'),
      /'cond_mobile\.lateral_layers\.2\.weight' has shape \[16, 5, 1, 1\], expected \[16, 16, 1, 1\]/,
    ],
    [
      'teacher',
      () => loadGen(device, mutate(gen, (d) => d.set('backbone.features.0.0.weight', { shape: [8, 8, 3, 3], toFloat32: () => new Float32Array(576) })), '', 'gen'),
      /takes 8 input channels; the DM-VTON student generator takes 7/,
    ],
    [
      'smooth',
      () =>
        loadWarp(
          device,
          mutate(warp, (d) => {
            const w = d.get('image_mobile.smooth_layers.0.weight')!;
            const v = w.toFloat32().slice();
            v[3] += 1;
            d.set('image_mobile.smooth_layers.2.weight', { shape: w.shape, toFloat32: () => v });
          }),
          '',
          'warp',
        ),
      /smooth_layers\.2\.weight' differs from smooth_layers\.0/,
    ],
    [
      'nan',
      () =>
        loadGen(
          device,
          mutate(gen, (d) => {
            const old = d.get('conv_last.weight')!;
            const v = old.toFloat32().slice();
            v[5] = NaN;
            d.set('conv_last.weight', { shape: old.shape, toFloat32: () => v });
          }),
          '',
          'gen',
        ),
      /'conv_last\.weight' holds a non-finite value at index 5/,
    ],
  ];
  for (const [name, fn, pattern] of cases) {
    let error: unknown = null;
    const live = await liveBuffersAfter(device, () => {
      try {
        fn();
      } catch (e) {
        error = e;
      }
    });
    expect(error, name).toBeInstanceOf(Error);
    expect((error as Error).message, name).toMatch(pattern);
    expect(live, `${name}: GPU buffers left alive`).toBe(0);
  }
  // And a good load followed by destroy leaves nothing either.
  const live = await liveBuffersAfter(device, () => {
    const m = loadWarp(device, warp, '', 'warp');
    expect(m).toBeInstanceOf(MobileAfwm);
    m.destroy();
    const g = loadGen(device, gen, '', 'gen');
    expect(g).toBeInstanceOf(MobileNetV2Unet);
    g.destroy();
  });
  expect(live).toBe(0);
});

gpuTest('display kernel: RGB [-1, 1] and grey views fitted into the output match the CPU reference', async ({ device, own }) => {
  const { TensorView, displayReference } = await import('../../src/demos/tryon/display.ts');
  const { tensorFrom } = await import('../../src/nn/tensor.ts');
  const { readTexture } = await import('../../src/gpu/readback.ts');
  const view = own(new TensorView(device));
  const r = rng(9);
  for (const [sw, sh, dw, dh, mode] of [[6, 8, 6, 8, 'rgb'], [6, 8, 17, 11, 'rgb'], [5, 3, 4, 9, 'gray'], [96, 128, 200, 100, 'rgb']] as const) {
    const c = mode === 'rgb' ? 3 : 1;
    const data = Float32Array.from({ length: c * sw * sh }, () => r() * 2.4 - 1.2);
    const t = own(tensorFrom(device, data, [1, c, sh, sw]));
    const target = own(device.createTexture({ size: { width: dw, height: dh }, format: 'rgba8unorm', usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_SRC }));
    const e = device.createCommandEncoder();
    view.encode(e, t, target, mode);
    device.queue.submit([e.finish()]);
    const got = await readTexture(device, target);
    const want = displayReference(data, sw, sh, dw, dh, mode);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - want[i]));
    expect(worst, `${sw}x${sh} -> ${dw}x${dh} ${mode}`).toBeLessThanOrEqual(1);
  }
});

gpuTest('fp16 safetensors holding both parts under pipeline prefixes load and match the reference on the stored values', async ({ device, own }) => {
  const { writeSafetensors } = await import('../../src/formats/safetensors.ts');
  const { Tensor: FileTensor, float32ToFloat16 } = await import('../../src/formats/tensor.ts');
  const { readStudentCheckpoint } = await import('../../src/demos/tryon/checkpoint.ts');
  const tensors = new Map<string, InstanceType<typeof FileTensor>>();
  for (const [prefix, dict] of [['warp_model.', syntheticWarp(NARROW_WIDTHS, 31)], ['gen_model.', syntheticGen(NARROW_WIDTHS, 32)]] as const) {
    for (const [k, t] of dict) {
      if (k.endsWith('num_batches_tracked')) continue; // exports may drop them: optional
      if (/smooth_layers\.[1-4]\./.test(k)) continue; // stored once
      tensors.set(prefix + k, new FileTensor('float16', t.shape, float32ToFloat16(t.toFloat32())));
    }
  }
  const ck = readStudentCheckpoint(writeSafetensors(tensors), 'demo.safetensors');
  expect(ck.parts).toEqual({ warp: 'warp_model.', gen: 'gen_model.' });
  expect(ck.info).toEqual(['float16']);
  const warp = loadWarp(device, ck.dict, 'warp_model.', 'warp');
  const gen = loadGen(device, ck.dict, 'gen_model.', 'gen');
  const model = new DmVtonModel(device, warp, gen);
  own({ destroy: () => (model.destroyOps(), warp.destroy(), gen.destroy()) });
  const pipe = own(new TryOnPipeline(device, model, H, W));
  const x = inputs(8);
  pipe.setInputs({ person: x.person.data, garment: x.garment.data, edge: x.edge.data });
  const e = device.createCommandEncoder();
  pipe.encode(e);
  device.queue.submit([e.finish()]);
  const strip = (p: string) => new Map([...ck.dict].filter(([k]) => k.startsWith(p)).map(([k, v]) => [k.slice(p.length), v]));
  const want = dmvtonReference(strip('warp_model.'), strip('gen_model.'), x.person, x.garment, x.edge);
  const err = await maxAbs(device, pipe.outputs.tryOn, want.tryOn);
  console.info(`fp16 demo-layout file: try-on max abs err ${err}`);
  expect(err).toBeLessThan(1e-3);
});

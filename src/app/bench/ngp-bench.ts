import { isCpuDevice } from '../../gpu/device.ts';
import { GpuProfiler } from '../../gpu/profiler.ts';
import { bufferFrom, readF32 } from '../../gpu/readback.ts';
import { Adam, FusedMlp, GridEncoding, NgpModel, UnfusedMlp, mlpLayout, perLevelScaleFor, type GridConfig, type MlpConfig, type MlpKernels } from '../../nn/ngp/index.ts';
import { storageBuffer } from '../../nn/ngp/gpu-util.ts';
import { seededRandom } from '../../nn/random.ts';
import { adaptiveSample, row, timeGpu, type BenchContext, type BenchRow, type BenchSuite } from './harness.ts';
import { cameraBlock, orbitPose } from '../../demos/ngp/common.ts';
import { NerfRaySampler, packRgba8, sampleRaysReference, type RayDataset } from '../../demos/ngp/nerf-rays.ts';
import { mlpToOnnx } from './onnx-writer.ts';
import { createOrtMlp, type OrtProvider } from './peers/onnx-mlp.ts';

/**
 * Neural graphics lab (NGPC / tiny-cuda-nn semantics): the fully fused MLP against the same
 * MLP one GEMM per op (our unfused baseline) and against onnxruntime-web running that very
 * MLP exported to ONNX (same weights; WebGPU and WASM providers), for inference and a
 * training step; plus hash-grid lookups per second, GIA (image) training steps per
 * second, fused and unfused, and the NeRF app's batch placement on the GPU vs on the CPU. At
 * 2^16 rows both MLPs' inference also runs with the workgroup shapes meant for the other kind
 * of adapter (GPU vs CPU implementation), to show what the automatic choice gains.
 * Timings are submit -> onSubmittedWorkDone wall time (median
 * after a warm-up), with the profiler's GPU pass time alongside; ORT's rows time
 * `session.run` until its device is idle, never session creation.
 */
const SUITE = 'ngp';
/** One implementation's measurement: reps adapt to the warm-up time within a 6 s budget. */
const SAMPLING = { budgetMs: 6000, minReps: 3, maxReps: 9, slowMs: 8000 };
/** The optional 2^18-row MLP cases run only while the suite is inside this budget. */
const SUITE_BUDGET_MS = 6 * 60_000;

export const ngpBench: BenchSuite = {
  name: 'ngp',
  title: 'Neural graphics lab: fused vs unfused MLP vs onnxruntime-web, hash grid, GIA training',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const started = performance.now();
    const rows: BenchRow[] = [];
    const steps = 10;
    let done = 0;
    const progress = (label: string) => ctx.progress(Math.min(0.99, done++ / steps), label);

    // MLP: input 32 (a 16-level, 2-feature encoding), 2 hidden layers, 16 outputs (instant-ngp's
    // NeRF density network shape), no output activation.
    const costs: Record<number, number> = {};
    for (const width of [32, 64] as const) {
      const config: MlpConfig = { inputDims: 32, outputDims: 16, width, hiddenLayers: 2, outputActivation: 'none' };
      progress(`MLP width ${width}, 2^16 rows`);
      const r = await mlpCases(ctx, config, 1 << 16, true);
      rows.push(...r.rows);
      costs[width] = r.cost;
      done++;
    }
    // 2^18 rows: fused and unfused only, while the suite stays in its budget (SwiftShader is a CPU).
    for (const width of [32, 64] as const) {
      const config: MlpConfig = { inputDims: 32, outputDims: 16, width, hiddenLayers: 2, outputActivation: 'none' };
      const estimate = 4 * costs[width] * 1.3;
      progress(`MLP width ${width}, 2^18 rows`);
      if (!Number.isFinite(estimate) || performance.now() - started + estimate > SUITE_BUDGET_MS) {
        const note = `skipped: estimated ${(estimate / 1000).toFixed(0)} s would exceed the suite's budget on this adapter`;
        for (const c of ['inference', 'train step']) rows.push(failed(`MLP ${c} w${width} 2^18 rows`, 'ours: fused MLP (WGSL)', true, note));
        continue;
      }
      rows.push(...(await mlpCases(ctx, config, 1 << 18, false)).rows);
    }

    progress('hash grid encoding');
    rows.push(await gridCase(ctx, 1 << 18));
    progress('GIA training step');
    rows.push(...(await giaCases(ctx, 1 << 14)));
    progress('NeRF training batch placement');
    rows.push(...(await nerfRayCases(ctx, 2048, 32)));
    ctx.progress(1, 'ngp done');
    return rows;
  },
};

// ---------------------------------------------------------------------------------------------

function failed(caseName: string, impl: string, ours: boolean, note: string): BenchRow {
  return { suite: SUITE, case: caseName, impl, ours, medianMs: NaN, minMs: NaN, samples: 0, note };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function randomArray(count: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  const random = seededRandom(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (random() * 2 - 1) * scale;
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array, count: number): number {
  let worst = 0;
  for (let i = 0; i < count; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return Number.isFinite(worst) ? worst : Infinity;
}

function maxAbs(a: Float32Array, count: number): number {
  let m = 0;
  for (let i = 0; i < count; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

const exp = (x: number) => x.toExponential(1);

/**
 * Inference and training step of one MLP shape at n rows: fused (ours) and unfused with the
 * same weights; with `peers`, onnxruntime-web (WebGPU, WASM) on the same weights and input.
 * `cost` is the fused + unfused wall time of one inference and one training step.
 */
async function mlpCases(ctx: BenchContext, config: MlpConfig, n: number, peers: boolean): Promise<{ rows: BenchRow[]; cost: number }> {
  const { device } = ctx;
  const layout = mlpLayout(config);
  const tag = `w${config.width} 2^${Math.log2(n)} rows`;
  const inferCase = `MLP inference ${tag}`;
  const trainCase = `MLP train step ${tag}`;
  const infer: BenchRow[] = [];
  const train: BenchRow[] = [];
  const owned: { destroy(): void }[] = [];
  const own = <T extends { destroy(): void }>(r: T): T => (owned.push(r), r);
  let cost = 0;
  const shape = `${layout.inputPadded}->${config.width}x${config.hiddenLayers}->${layout.outputPadded}, no biases, ReLU`;
  const macs = n * layout.layers.reduce((s, l) => s + l.inputs * l.outputs, 0);
  try {
    const input = randomArray(n * layout.inputPadded, 17);
    const inBuf = own(bufferFrom(device, input));
    const dOut = own(bufferFrom(device, randomArray(n * layout.outputPadded, 23, 1e-3)));
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
    const dIn = own(device.createBuffer({ label: 'bench dL/dinput', size: n * layout.inputPadded * 4, usage }));
    type Variant = { key: 'fused' | 'fused f16' | 'unfused'; impl: string; ours: boolean };
    const outputs: Partial<Record<Variant['key'], Float32Array>> = {};
    let weights: Float32Array | null = null;
    // The fused MLP's f16 variant runs where the device has shader-f16 (same weights, f16 math).
    const variants: Variant[] = [
      { key: 'fused', impl: 'ours: fused MLP (WGSL)', ours: true },
      ...(device.features.has('shader-f16') ? [{ key: 'fused f16', impl: 'fused MLP, f16 (shader-f16)', ours: false } satisfies Variant] : []),
      { key: 'unfused', impl: 'unfused MLP (one GEMM per layer)', ours: false },
    ];

    for (const { key, impl, ours } of variants) {
      const fused = key !== 'unfused';
      let mlp: MlpKernels | null = null;
      let adam: Adam | null = null;
      try {
        mlp = fused ? new FusedMlp(device, config, { maxBatch: n, seed: 5, precision: key === 'fused f16' ? 'f16' : 'f32' }) : new UnfusedMlp(device, config, { maxBatch: n, seed: 5 });
        const m = mlp;
        const out = own(device.createBuffer({ label: `bench mlp out ${key}`, size: n * layout.outputPadded * 4, usage }));
        const extra = `, ${shapeNote(m)}`;
        // Inference.
        try {
          const t = await timeForward(ctx, m, inBuf, out, n);
          outputs[key] = await readF32(device, out, 0, n * layout.outputPadded);
          if (key === 'fused') weights = await readF32(device, m.params, 0, layout.paramCount);
          const ms = Math.min(...t.samples);
          cost += ms;
          infer.push(row(SUITE, inferCase, impl, ours, t.samples, { gpuMs: t.gpuMs, note: `${shape}${extra}; ${gflops(macs, ms)}` }));
        } catch (e) {
          infer.push(failed(inferCase, impl, ours, `failed: ${message(e)}`));
        }
        // Training step: forward keeping activations, backward with dL/dinput (as when chained
        // into an encoding), Adam on the weights, refresh of the kernels' weight copies.
        try {
          adam = new Adam(device, { count: layout.paramCount, matrix: true, learningRate: 1e-6 });
          const a = adam;
          const t = await timeGpu(ctx.device, ctx.signal, (encoder, profiler) => {
            const pass = profiler.computePass(encoder, 'mlp');
            m.encodeTrainForward(pass, inBuf, out, n);
            m.encodeBackward(pass, { input: inBuf, output: out, dOutput: dOut, dInput: dIn }, n);
            a.encodeStep(pass, m.params, m.grads);
            m.encodePrepare(pass);
            pass.end();
          }, SAMPLING);
          cost += Math.min(...t.samples);
          train.push(row(SUITE, trainCase, impl, ours, t.samples, { gpuMs: t.gpuMs, note: `forward + backward (dW, dInput) + Adam${extra}` }));
        } catch (e) {
          train.push(failed(trainCase, impl, ours, `failed: ${message(e)}`));
        }
      } catch (e) {
        infer.push(failed(inferCase, impl, ours, `failed: ${message(e)}`));
        train.push(failed(trainCase, impl, ours, `failed: ${message(e)}`));
        cost = Infinity;
      } finally {
        mlp?.destroy();
        adam?.destroy();
      }
    }
    const count = n * layout.outputPadded;
    for (const { key, impl } of variants.filter((v) => !v.ours)) {
      const other = outputs[key];
      const r = infer.find((x) => x.impl === impl && !Number.isNaN(x.medianMs));
      if (outputs.fused && other && r) r.note += `; max |${key} - fused| ${exp(maxAbsDiff(outputs.fused, other, count))}`;
    }

    if (peers) {
      infer.push(...(await otherShapeRows(ctx, config, n, inBuf, inferCase, shape, macs)));
      if (!weights) {
        for (const p of ['webgpu', 'wasm'] as const) infer.push(failed(inferCase, ortName(p), false, 'failed: no weights (our MLP failed)'));
      } else {
        const model = mlpToOnnx(config, weights);
        for (const provider of ['webgpu', 'wasm'] as const) {
          ctx.progress(0, `${inferCase}: onnxruntime-web ${provider}`);
          infer.push(await ortCase(ctx, provider, model, input, n, layout.inputPadded, inferCase, outputs.fused, count, macs));
        }
      }
    }
  } finally {
    for (const r of owned) r.destroy();
  }
  return { rows: [...infer, ...train], cost };
}

/** Inference of `m` on n rows, sampled (one pass timed per submit). */
function timeForward(ctx: BenchContext, m: MlpKernels, input: GPUBuffer, out: GPUBuffer, n: number) {
  return timeGpu(ctx.device, ctx.signal, (encoder, profiler) => {
    const pass = profiler.computePass(encoder, 'mlp');
    m.encodeForward(pass, input, out, n);
    pass.end();
  }, SAMPLING);
}

const gflops = (macs: number, ms: number) => `${((2 * macs) / (ms * 1e6)).toFixed(1)} GFLOP/s`;

/** Block or tile shape and threads per workgroup of an MLP's kernels, for row notes. */
function shapeNote(m: MlpKernels): string {
  if (m instanceof FusedMlp) return `block ${m.block.rows} rows, ${m.block.tileRows}x${4 * m.block.tileCols} tiles, ${m.block.threads} threads`;
  if (m instanceof UnfusedMlp) return `${m.tile}x${m.tile} GEMM tiles, ${(m.tile / 4) ** 2} threads`;
  return '';
}

/**
 * Inference of both MLPs with the workgroup shapes meant for the other kind of adapter (GPU
 * shapes on a CPU implementation, CPU shapes on a GPU): what the automatic choice gains here,
 * and the fused/unfused ratio with both at the other shapes.
 */
async function otherShapeRows(ctx: BenchContext, config: MlpConfig, n: number, input: GPUBuffer, caseName: string, shape: string, macs: number): Promise<BenchRow[]> {
  const { device } = ctx;
  const cpuShapes = !isCpuDevice(device);
  const family = cpuShapes ? 'CPU-implementation shapes' : 'GPU shapes';
  const rows: BenchRow[] = [];
  const out = device.createBuffer({ label: 'bench mlp out, other shapes', size: n * mlpLayout(config).outputPadded * 4, usage: GPUBufferUsage.STORAGE });
  try {
    for (const fused of [true, false]) {
      const impl = `${fused ? 'fused MLP' : 'unfused MLP'}, ${family}`;
      let mlp: MlpKernels | null = null;
      try {
        mlp = fused ? new FusedMlp(device, config, { maxBatch: n, seed: 5, cpu: cpuShapes }) : new UnfusedMlp(device, config, { maxBatch: n, seed: 5, cpu: cpuShapes });
        const m = mlp;
        const t = await timeForward(ctx, m, input, out, n);
        rows.push(row(SUITE, caseName, impl, false, t.samples, { gpuMs: t.gpuMs, note: `${shape}, ${shapeNote(m)}; ${gflops(macs, Math.min(...t.samples))}` }));
      } catch (e) {
        rows.push(failed(caseName, impl, false, `failed: ${message(e)}`));
      } finally {
        mlp?.destroy();
      }
    }
  } finally {
    out.destroy();
  }
  return rows;
}

function ortName(provider: OrtProvider): string {
  return `onnxruntime-web 1.30 ${provider === 'webgpu' ? 'WebGPU' : 'WASM (1 thread)'}`;
}

async function ortCase(
  ctx: BenchContext,
  provider: OrtProvider,
  model: Uint8Array,
  input: Float32Array<ArrayBuffer>,
  n: number,
  inputs: number,
  caseName: string,
  reference: Float32Array | undefined,
  count: number,
  macs: number,
): Promise<BenchRow> {
  const impl = ortName(provider);
  try {
    const session = await createOrtMlp(model, provider, input, n, inputs);
    try {
      const { samples } = await adaptiveSample(() => session.run(), ctx.signal, SAMPLING);
      const out = await session.output();
      const check = reference ? `max |ORT - ours| ${exp(maxAbsDiff(out, reference, count))} (outputs up to ${maxAbs(reference, count).toFixed(2)})` : 'not checked (no output of ours)';
      const ms = Math.min(...samples);
      return row(SUITE, caseName, impl, false, samples, { note: `same ONNX MatMul/Relu graph and weights, ${session.io} I/O; ${check}; ${gflops(macs, ms)}` });
    } finally {
      await session.destroy();
    }
  } catch (e) {
    return failed(caseName, impl, false, `failed: ${message(e)}`);
  }
}

/** instant-ngp's hash grid forward for n 3D points: L = 16, F = 2, T = 2^19, N_min 16, finest 2048. */
async function gridCase(ctx: BenchContext, n: number): Promise<BenchRow> {
  const caseName = `hash grid forward 2^${Math.log2(n)} 3D points`;
  const impl = 'ours: hash grid encoding (WGSL)';
  const config: GridConfig = { dims: 3, levels: 16, featuresPerLevel: 2, log2HashmapSize: 19, baseResolution: 16, perLevelScale: perLevelScaleFor(2048, 16, 16) };
  const owned: { destroy(): void }[] = [];
  try {
    const grid = new GridEncoding(ctx.device, config, { seed: 3 });
    owned.push(grid);
    const positions = bufferFrom(ctx.device, randomArray(n * 3, 31).map((v) => v * 0.5 + 0.5));
    owned.push(positions);
    const features = ctx.device.createBuffer({ label: 'bench grid features', size: n * grid.outputStride * 4, usage: GPUBufferUsage.STORAGE });
    owned.push(features);
    const t = await timeGpu(ctx.device, ctx.signal, (encoder, profiler) => {
      const pass = profiler.computePass(encoder, 'encoding');
      grid.encodeForward(pass, positions, features, n);
      pass.end();
    }, SAMPLING);
    const lookups = n * config.levels * 8;
    const perS = (ms: number) => (lookups / (ms / 1000) / 1e6).toFixed(0);
    const r = row(SUITE, caseName, impl, true, t.samples, { gpuMs: t.gpuMs });
    r.note = `L=16 F=2 T=2^19, ${lookups / n} corner lookups/point: ${perS(r.medianMs)} M lookups/s wall${t.gpuMs ? `, ${perS(t.gpuMs)} M/s GPU` : ''}; ${((n / r.medianMs) * 1000 / 1e6).toFixed(2)} M points/s`;
    return r;
  } catch (e) {
    return failed(caseName, impl, true, `failed: ${message(e)}`);
  } finally {
    for (const o of owned) o.destroy();
  }
}

/** GIA (image) training steps, instant-ngp's image config, fused and unfused MLP. */
async function giaCases(ctx: BenchContext, batch: number): Promise<BenchRow[]> {
  const { device } = ctx;
  const caseName = `GIA train step batch 2^${Math.log2(batch)}`;
  const rows: BenchRow[] = [];
  // A 2048 x 2048 image: finest level 1024 (instant-ngp: half the image's longer side).
  const grid: GridConfig = { dims: 2, levels: 16, featuresPerLevel: 2, log2HashmapSize: 19, baseResolution: 16, perLevelScale: perLevelScaleFor(1024, 16, 16) };
  const positions = randomArray(batch * 2, 41).map((v) => v * 0.5 + 0.5);
  const targets = new Float32Array(batch * 3);
  for (let i = 0; i < batch; i++) {
    const u = positions[2 * i];
    const v = positions[2 * i + 1];
    targets.set([0.5 + 0.5 * Math.sin(40 * u) * Math.cos(31 * v), 0.5 + 0.4 * Math.sin(70 * (u + v)), u * v], i * 3);
  }
  const inBuf = bufferFrom(device, positions);
  const targetBuf = bufferFrom(device, targets);
  try {
    for (const fused of [true, false]) {
      const impl = fused ? 'ours: NgpModel, fused MLP' : 'NgpModel, unfused MLP';
      let model: NgpModel | null = null;
      try {
        const profiler = new GpuProfiler(device, 1);
        try {
          model = new NgpModel(device, { grid, mlp: { width: 64, hiddenLayers: 2, outputDims: 3, outputActivation: 'sigmoid' }, maxBatch: batch, fused, seed: 7, profiler });
          const m = model;
          const t = await timeGpu(ctx.device, ctx.signal, (encoder) => m.encodeTrainStep(encoder, inBuf, targetBuf, batch, 'l2'), SAMPLING, profiler);
          const r = row(SUITE, caseName, impl, fused, t.samples, { gpuMs: t.gpuMs });
          const stages = Object.entries(t.stages).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
          r.note = `L=16 F=2 T=2^19 (2048^2 image), 64-wide x 2 hidden, sigmoid, L2 + Adam: ${(1000 / r.medianMs).toFixed(1)} steps/s, ${((batch / r.medianMs) * 1000 / 1e6).toFixed(2)} M samples/s${stages ? `; GPU ms: ${stages}` : ''}`;
          rows.push(r);
        } finally {
          profiler.destroy();
        }
      } catch (e) {
        rows.push(failed(caseName, impl, fused, `failed: ${message(e)}`));
      } finally {
        model?.destroy();
      }
    }
  } finally {
    inBuf.destroy();
    targetBuf.destroy();
  }
  return rows;
}

/**
 * NeRF training batch: rays and their samples in occupied cells of the grid, placed by the
 * GPU kernel (what the app runs) against the same placement on the CPU (the kernel's f64
 * reference) plus the upload a CPU-placed batch needs. Dataset as the app's default: 35 views
 * of 64x64, a 32^3 grid with about half the cells occupied.
 */
async function nerfRayCases(ctx: BenchContext, rays: number, samples: number): Promise<BenchRow[]> {
  const { device } = ctx;
  const caseName = `NeRF batch placement ${rays} rays x ${samples} samples`;
  const res = 64;
  const random = seededRandom(9);
  const data: RayDataset = { res, trainViews: 30, heldViews: 5, cameras: new Float32Array(35 * 16), images: new Uint32Array(35 * res * res) };
  for (let v = 0; v < 35; v++) data.cameras.set(cameraBlock(orbitPose(v * 2.4, (random() - 0.5) * 1.2, 1.5, 45), res, res), v * 16);
  data.images.forEach((_, i) => (data.images[i] = packRgba8(random(), random(), random())));
  const cells = 32;
  const bits = Uint32Array.from({ length: cells ** 3 / 32 }, () => (random() * 2 ** 32) >>> 0);
  const rows: BenchRow[] = [];
  const owned: GPUBuffer[] = [];
  const buffer = (bytes: number) => {
    const b = storageBuffer(device, 'bench nerf batch', bytes);
    owned.push(b);
    return b;
  };
  const n = rays * samples;
  const out = { positions: buffer(n * 12), directions: buffer(n * 12), deltas: buffer(n * 4), targets: buffer(rays * 12) };
  const occupancy = bufferFrom(device, bits);
  owned.push(occupancy);
  let sampler: NerfRaySampler | null = null;
  let seed = 0;
  try {
    sampler = new NerfRaySampler(device, data, occupancy);
    const s = sampler;
    const t = await timeGpu(device, ctx.signal, (encoder, profiler) => {
      const pass = profiler.computePass(encoder, 'rays');
      s.encodeRays(pass, { rays, samples, seed: seed++, held: false, cells }, out);
      pass.end();
    }, SAMPLING);
    rows.push(row(SUITE, caseName, 'ours: GPU kernel (shaders/ngp_nerf_rays.wgsl)', true, t.samples, { gpuMs: t.gpuMs, note: 'hashed view/pixel/jitter, occupied cells of 2S candidates; no upload' }));
  } catch (e) {
    rows.push(failed(caseName, 'ours: GPU kernel (shaders/ngp_nerf_rays.wgsl)', true, `failed: ${message(e)}`));
  } finally {
    sampler?.destroy();
  }
  try {
    const { samples: times } = await adaptiveSample(async () => {
      const r = sampleRaysReference(data, { rays, samples, seed: seed++, held: false, cells }, bits);
      device.queue.writeBuffer(out.positions, 0, Float32Array.from(r.positions));
      device.queue.writeBuffer(out.directions, 0, Float32Array.from(r.directions));
      device.queue.writeBuffer(out.deltas, 0, Float32Array.from(r.deltas));
      device.queue.writeBuffer(out.targets, 0, Float32Array.from(r.targets));
      await device.queue.onSubmittedWorkDone();
    }, ctx.signal, SAMPLING);
    rows.push(row(SUITE, caseName, 'CPU placement (the f64 reference) + upload', false, times, { note: `${((n * 28 + rays * 12) / 2 ** 20).toFixed(1)} MiB uploaded per batch` }));
  } catch (e) {
    rows.push(failed(caseName, 'CPU placement (the f64 reference) + upload', false, `failed: ${message(e)}`));
  } finally {
    for (const b of owned) b.destroy();
  }
  return rows;
}

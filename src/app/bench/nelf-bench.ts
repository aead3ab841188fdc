import { StageRecorder } from '../../nn/graph.ts';
import { emptyTensor, readTensor, TensorPool, type Tensor } from '../../nn/tensor.ts';
import { Tensor as FileTensor } from '../../formats/tensor.ts';
import { focalFromAngle, spherePose } from '../../demos/nelf/camera.ts';
import { MobileR2L, RayEncoder } from '../../demos/nelf/network.ts';
import { readNelfWeights } from '../../demos/nelf/weights.ts';
import { adaptiveSample, row, timeGpu, type BenchContext, type BenchRow, type BenchSuite } from './harness.ts';
import { createOrtMlp, type OrtProvider } from './peers/onnx-mlp.ts';

/**
 * Neural light field viewer (MobileR2L): one network pass per frame, ours (WGSL: tiled 1x1-conv
 * GEMMs with BatchNorm folded and GELU/residual/sigmoid fused, sub-pixel transposed convs)
 * against onnxruntime-web's WebGPU and WASM providers running the same weights exported from
 * PyTorch (tools/nelf/export.py --onnx, BatchNorm folded by the exporter). Same input (our
 * rays + positional encoding at held-out pose 0, read back once), outputs compared. Timings
 * are submit -> onSubmittedWorkDone (ours) or session.run until ORT's device is idle (ORT),
 * median after a warm-up; never session creation. One row runs our network with the tiled GEMM
 * in the narrow SR tail as well, to show what the narrow kernels buy. The official 4.3M-parameter configuration
 * (random weights; no public checkpoint exists) runs ours only, reporting its GMAC.
 */
const SUITE = 'nelf';
/** Reps adapt to the warm-up time within a 6 s budget. */
const SAMPLING = { budgetMs: 6000, minReps: 2, maxReps: 10 };

function failed(caseName: string, impl: string, ours: boolean, note: string): BenchRow {
  return { suite: SUITE, case: caseName, impl, ours, medianMs: NaN, minMs: NaN, samples: 0, note };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  let m = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < Math.min(a.length, b.length); i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Times our network on `input` (already encoded); returns the row and the output. */
async function ours(ctx: BenchContext, model: MobileR2L, input: Tensor, caseName: string, impl: string): Promise<{ row: BenchRow; output: Float32Array }> {
  const { device } = ctx;
  const pool = new TensorPool(device, 'bench nelf');
  let last: Tensor | null = null;
  try {
    const { samples, gpuMs, stages: byStage } = await timeGpu(
      device,
      ctx.signal,
      (encoder, profiler) => {
        last?.destroy();
        const rec = new StageRecorder(encoder, profiler);
        last = model.run(rec, input, pool);
        rec.finish();
      },
      SAMPLING,
    );
    const stages = Object.entries(byStage);
    const output = await readTensor(device, last!);
    const [, , h, w] = input.shape;
    const gmac = model.macs(h, w) / 1e9;
    const ms = Math.min(...samples);
    const note = `${gmac.toFixed(3)} GMAC, ${(model.config.params / 1e6).toFixed(2)}M params (${((model.config.params * 2) / 2 ** 20).toFixed(2)} MiB fp16); ${((2 * gmac) / (ms / 1000)).toFixed(1)} GFLOP/s; stages ${stages.map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ')}`;
    return { row: row(SUITE, caseName, impl, true, samples, { gpuMs, note }), output };
  } finally {
    pool.destroy();
  }
}

async function encodeInput(device: GPUDevice, model: MobileR2L, size: number): Promise<{ tensor: Tensor; data: Float32Array<ArrayBuffer> }> {
  const cfg = model.config;
  const rays = new RayEncoder(device);
  const tensor = emptyTensor(device, rays.outputShape({ height: size, width: size, samples: cfg.samples, multires: cfg.multires }), 'bench nelf input');
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  rays.encode(pass, { c2w: spherePose((22.5 * Math.PI) / 180, (15 * Math.PI) / 180), height: size, width: size, focal: focalFromAngle(size, cfg.cameraAngleX), samples: cfg.samples, multires: cfg.multires, near: cfg.near, far: cfg.far }, tensor);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const data = new Float32Array(await readTensor(device, tensor));
  rays.destroy();
  return { tensor, data };
}

async function ortCase(ctx: BenchContext, onnx: Uint8Array, provider: OrtProvider, input: Float32Array<ArrayBuffer>, dims: number[], caseName: string, reference: Float32Array): Promise<BenchRow> {
  const impl = provider === 'webgpu' ? 'onnxruntime-web WebGPU' : 'onnxruntime-web WASM (1 thread)';
  let session: Awaited<ReturnType<typeof createOrtMlp>> | null = null;
  try {
    session = await createOrtMlp(onnx, provider, input, 1, dims[1], dims);
    const s = session;
    const { samples } = await adaptiveSample(() => s.run(), ctx.signal, SAMPLING);
    const err = maxAbs(await s.output(), reference);
    return row(SUITE, caseName, impl, false, samples, { note: `same weights (ONNX export from PyTorch), ${s.io} tensors; max abs diff vs ours ${err.toExponential(1)}` });
  } catch (e) {
    return failed(caseName, impl, false, `failed: ${message(e)}`);
  } finally {
    await session?.destroy();
  }
}

/** The official configuration (netdepth 60, width 256, SR 64/64/16, Blender) with random weights. */
function officialWeights(): Map<string, FileTensor> {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const sd = new Map<string, FileTensor>();
  const put = (k: string, shape: number[], scale: number) => sd.set(k, new FileTensor('float32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand() * scale)));
  const conv = (p: string, o: number, i: number) => (put(`${p}.weight`, [o, i, 1, 1], 1 / Math.sqrt(i)), put(`${p}.bias`, [o], 0.01));
  const bn = (p: string, c: number) => {
    sd.set(`${p}.weight`, new FileTensor('float32', [c], new Float32Array(c).fill(1)));
    sd.set(`${p}.bias`, new FileTensor('float32', [c], new Float32Array(c)));
    sd.set(`${p}.running_mean`, new FileTensor('float32', [c], new Float32Array(c)));
    sd.set(`${p}.running_var`, new FileTensor('float32', [c], new Float32Array(c).fill(1)));
  };
  const block = (p: string, c: number) => (conv(`${p}.conv_block.0`, c, c), bn(`${p}.conv_block.1`, c), conv(`${p}.conv_block.3`, c, c), bn(`${p}.conv_block.4`, c));
  conv('head.0', 256, 312);
  for (let i = 0; i < 29; i++) block(`body.${i}`, 256);
  const k = [64, 64, 16];
  let j = 0;
  for (const [i, o] of [[256, k[0]], [k[0], k[1]], [k[1], k[2]]]) {
    put(`tail.${j}.weight`, [i, o, 4, 4], 1 / Math.sqrt(o * 16));
    put(`tail.${j++}.bias`, [o], 0.01);
    block(`tail.${j++}`, o);
    block(`tail.${j++}`, o);
  }
  conv(`tail.${j}`, 3, k[2]);
  return sd;
}

export const nelfBench: BenchSuite = {
  name: 'nelf',
  title: 'Neural light field (MobileR2L): ours vs onnxruntime-web WebGPU/WASM on the same network',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const { device } = ctx;
    const rows: BenchRow[] = [];
    const base = document.baseURI;
    const [st, onnx] = await Promise.all(
      ['models/nelf/default.safetensors', 'models/nelf/default.onnx'].map(async (p) => {
        const r = await fetch(new URL(p, base));
        if (!r.ok) throw new Error(`${p}: HTTP ${r.status}`);
        return new Uint8Array(await r.arrayBuffer());
      }),
    );
    const weights = readNelfWeights(st, 'default.safetensors');
    const model = new MobileR2L(device, weights.tensors, weights.metadata, { precision: 'auto' });
    const sizes = [16, 32];
    const steps = sizes.length * 3 + 1;
    let done = 0;
    const progress = (label: string) => ctx.progress(Math.min(0.99, done++ / steps), label);
    try {
      for (const size of sizes) {
        const u = model.config.upscale;
        const caseName = `default model ${size}x${size} -> ${size * u}x${size * u}`;
        progress(`${caseName}: ours`);
        const { tensor, data } = await encodeInput(device, model, size);
        try {
          const mine = await ours(ctx, model, tensor, caseName, 'ours: MobileR2L (WGSL)');
          rows.push(mine.row);
          if (size === sizes[0]) {
            // The same network with the tiled GEMM in the narrow SR tail too (what the narrow kernels replace).
            const gemm = new MobileR2L(device, weights.tensors, weights.metadata, { precision: 'auto', tailKernels: 'gemm' });
            try {
              const r = (await ours(ctx, gemm, tensor, caseName, 'ours, GEMM-only tail')).row;
              rows.push({ ...r, ours: false });
            } finally {
              gemm.destroy();
            }
          }
          for (const provider of ['webgpu', 'wasm'] as const) {
            progress(`${caseName}: onnxruntime-web ${provider}`);
            rows.push(await ortCase(ctx, onnx, provider, data, [1, model.config.inputDim, size, size], caseName, mine.output));
          }
        } finally {
          tensor.destroy();
        }
      }
    } finally {
      model.destroy();
    }
    progress('official 4.3M configuration');
    const official = new MobileR2L(device, officialWeights(), {}, { precision: 'auto' });
    try {
      const size = 16;
      const { tensor } = await encodeInput(device, official, size);
      try {
        rows.push((await ours(ctx, official, tensor, `official config (D60 W256) ${size}x${size} -> ${size * 8}x${size * 8}`, 'ours: MobileR2L (WGSL), random weights')).row);
      } finally {
        tensor.destroy();
      }
    } catch (e) {
      rows.push(failed('official config (D60 W256)', 'ours: MobileR2L (WGSL), random weights', true, `failed: ${message(e)}`));
    } finally {
      official.destroy();
    }
    return rows;
  },
};

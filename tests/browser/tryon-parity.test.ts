/**
 * Parity with PyTorch: the fixtures of tools/vton/reference.py (tests/fixtures/vton/tiny: the
 * official student architecture of tools/vton/model.py at a narrow width, random init with
 * randomized BatchNorm statistics, 128x96; tests/fixtures/vton/demo: the shipped demo model,
 * public/models/vton/*.safetensors as exported by tools/vton/export.py, at 256x192). The browser reads the very files torch.save wrote,
 * raw state dicts and the official training layout {epoch, best_fid, model, optimizer}, through
 * the restricted checkpoint reader, and must match the PyTorch outputs in f32.
 */
import { expect, test } from 'vitest';
import { readStudentCheckpoint } from '../../src/demos/tryon/checkpoint.ts';
import { DmVtonModel, loadGen, loadWarp } from '../../src/demos/tryon/model.ts';
import { TryOnPipeline } from '../../src/demos/tryon/pipeline.ts';
import { readTensor } from '../../src/nn/tensor.ts';
import { gpuTest } from './harness.ts';

// The committed tiny fixture, and (when generated locally, never committed: ~75 MB) the
// official-width student at 256x192: `python3 tools/vton/reference.py --config official
// --size 256x192 --out tools/scratch/vton-official`.
const files = {
  ...import.meta.glob('../fixtures/vton/{tiny,demo}/*.{pt,bin,json}', { query: '?url', import: 'default', eager: true }),
  ...import.meta.glob('../../public/models/vton/*.safetensors', { query: '?url', import: 'default', eager: true }),
  ...import.meta.glob('../../tools/scratch/vton-official/*.{pt,bin,json}', { query: '?url', import: 'default', eager: true }),
} as Record<string, string>;
const DIRS = ['../fixtures/vton/tiny', '../../tools/scratch/vton-official', '../fixtures/vton/demo'];
const SHIPPED = '../../public/models/vton';
let dir = DIRS[0];

/** A file of the current fixture folder, or a path from this file (the shipped model). */
async function bytes(name: string): Promise<Uint8Array> {
  const url = files[name.startsWith('../') ? name : `${dir}/${name}`];
  expect(url, name).toBeTruthy();
  const r = await fetch(url);
  expect(r.ok, name).toBe(true);
  return new Uint8Array(await r.arrayBuffer());
}

async function f32(name: string): Promise<Float32Array> {
  const b = await bytes(`${name}.bin`);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

function maxAbs(got: Float32Array, want: Float32Array): number {
  expect(got.length).toBe(want.length);
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

const CASES = [
  [DIRS[0], 'tiny, 128x96, raw state dicts', 'warp.pt', 'gen.pt'],
  [DIRS[0], 'tiny, 128x96, official training layout {model: ...}', 'warp_ckpt.pt', 'gen_ckpt.pt'],
  [DIRS[1], 'official widths, 256x192, {model: ...}', 'warp_ckpt.pt', 'gen_ckpt.pt'],
  [DIRS[2], 'the shipped demo model, 256x192, fp16 safetensors', `${SHIPPED}/warp.safetensors`, `${SHIPPED}/gen.safetensors`],
] as const;

for (const [caseDir, layout, warpFile, genFile] of CASES) {
  const present = `${caseDir}/meta.json` in files;
  if (!present) {
    test.skip(`DM-VTON student matches PyTorch (${layout}): fixture not generated here`, () => undefined);
    continue;
  }
  gpuTest(`DM-VTON student matches PyTorch (${layout}): try-on, warped garment and edge, flow, rendered person, mask`, async ({ device, own }) => {
    dir = caseDir;
    const meta = JSON.parse(new TextDecoder().decode(await bytes('meta.json'))) as { height: number; width: number; description: string };
    const warpCk = readStudentCheckpoint(await bytes(warpFile), warpFile);
    const genCk = readStudentCheckpoint(await bytes(genFile), genFile);
    expect(warpCk.parts).toEqual({ warp: '' });
    expect(genCk.parts).toEqual({ gen: '' });
    const { height: H, width: W } = meta;
    const warp = loadWarp(device, warpCk.dict, '', warpFile);
    const gen = loadGen(device, genCk.dict, '', genFile);
    const model = new DmVtonModel(device, warp, gen);
    own({ destroy: () => (model.destroyOps(), warp.destroy(), gen.destroy()) });
    const pipe = own(new TryOnPipeline(device, model, H, W));
    pipe.setInputs({ person: await f32('person'), garment: await f32('clothes'), edge: await f32('edge') });
    const e = device.createCommandEncoder();
    pipe.encode(e);
    device.queue.submit([e.finish()]);
    const o = pipe.outputs;
    const errors: Record<string, number> = {};
    errors.p_tryon = maxAbs(await readTensor(device, o.tryOn), await f32('p_tryon'));
    errors.warped_cloth = maxAbs(await readTensor(device, o.warpedCloth), await f32('warped_cloth'));
    errors.warped_edge = maxAbs(await readTensor(device, o.warpedEdge), await f32('warped_edge'));
    errors.last_flow = maxAbs(await readTensor(device, o.flow), await f32('last_flow'));
    // The generator's raw output, through the pipeline's tanh / sigmoid x warped edge.
    const g = await readTensor(device, o.gen);
    const we = await readTensor(device, o.warpedEdge);
    const hw = H * W;
    errors.p_rendered = maxAbs(Float32Array.from({ length: 3 * hw }, (_, i) => Math.tanh(g[i])), await f32('p_rendered'));
    errors.m_composite = maxAbs(Float32Array.from({ length: hw }, (_, i) => we[i] / (1 + Math.exp(-g[3 * hw + i]))), await f32('m_composite'));
    console.info(`tryon parity vs PyTorch (${meta.description}; ${layout}): max abs error ${JSON.stringify(errors)}`);
    for (const [k, v] of Object.entries(errors)) expect(v, k).toBeLessThanOrEqual(1e-3);
    // Not degenerate: the mask mixes both sources somewhere.
    const m = await f32('m_composite');
    expect(m.filter((v) => v > 0.05 && v < 0.95).length).toBeGreaterThan(100);
  });
}

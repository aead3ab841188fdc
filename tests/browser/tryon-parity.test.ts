/**
 * Parity with PyTorch: the student of tools/vton/model.py (the official architecture), written
 * by torch.save in the official training layout (warp.pt: {epoch, best_fid, model, optimizer})
 * and as a raw state dict (gen.pt), with its inputs and outputs at 128x96
 * (tests/fixtures/make_dmvton_parity.py). The browser reads those very files through the
 * restricted checkpoint reader and must match in f32.
 */
import { expect } from 'vitest';
import genUrl from '../fixtures/dmvton-parity/gen.pt?url';
import ioUrl from '../fixtures/dmvton-parity/io.safetensors?url';
import warpUrl from '../fixtures/dmvton-parity/warp.pt?url';
import { readStudentCheckpoint } from '../../src/demos/tryon/checkpoint.ts';
import { DmVtonModel, loadGen, loadWarp } from '../../src/demos/tryon/model.ts';
import { TryOnPipeline } from '../../src/demos/tryon/pipeline.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { readTensor } from '../../src/nn/tensor.ts';
import { gpuTest } from './harness.ts';

async function bytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  expect(r.ok, url).toBe(true);
  return new Uint8Array(await r.arrayBuffer());
}

gpuTest('DM-VTON student matches PyTorch (torch.save fixtures, 128x96): try-on, warped garment, warped edge, flow', async ({ device, own }) => {
  const warpCk = readStudentCheckpoint(await bytes(warpUrl), 'warp.pt');
  const genCk = readStudentCheckpoint(await bytes(genUrl), 'gen.pt');
  expect(warpCk.parts).toEqual({ warp: '' });
  expect(genCk.parts).toEqual({ gen: '' });
  expect(warpCk.info).toContain('epoch 3');
  const io = readSafetensors(await bytes(ioUrl)).tensors;
  const t = (k: string) => io.get(k)!.toFloat32();
  const [, , H, W] = io.get('person')!.shape;
  expect([H, W]).toEqual([128, 96]);
  const warp = loadWarp(device, warpCk.dict, '', 'warp.pt');
  const gen = loadGen(device, genCk.dict, '', 'gen.pt');
  const model = new DmVtonModel(device, warp, gen);
  own({ destroy: () => (model.destroyOps(), warp.destroy(), gen.destroy()) });
  const pipe = own(new TryOnPipeline(device, model, H, W));
  pipe.setInputs({ person: t('person'), garment: t('garment'), edge: t('edge') });
  const e = device.createCommandEncoder();
  pipe.encode(e);
  device.queue.submit([e.finish()]);
  const o = pipe.outputs;
  const errors: Record<string, number> = {};
  for (const [name, tensor] of [['tryon', o.tryOn], ['warped_cloth', o.warpedCloth], ['warped_edge', o.warpedEdge], ['last_flow', o.flow]] as const) {
    const got = await readTensor(device, tensor);
    const want = t(name);
    expect(got.length, name).toBe(want.length);
    let m = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      m = Number.isNaN(d) ? Infinity : Math.max(m, d);
    }
    errors[name] = m;
  }
  console.info(`tryon parity vs PyTorch (tiny preset, 128x96): max abs error ${JSON.stringify(errors)}`);
  for (const [k, v] of Object.entries(errors)) expect(v, k).toBeLessThanOrEqual(1e-3);
  // Not a degenerate case: the flow moved the garment and the composition mixes both sources.
  const m = t('m_composite');
  expect(Math.max(...m)).toBeGreaterThan(0.05);
  expect(m.filter((v) => v > 0 && v < 1).length).toBeGreaterThan(100);
});

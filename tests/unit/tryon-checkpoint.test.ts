/**
 * DM-VTON checkpoints written by real torch.save in the official training layout
 * ({epoch, best_fid, model, optimizer}) and as raw state dicts, read by the restricted reader
 * key for key (tests/fixtures/make_dmvton_checkpoint.py; needs Debian's python3-torch).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { readStudentCheckpoint } from '../../src/demos/tryon/checkpoint.ts';
import { fromTensorRecords, recordBuffers, tensorRecords } from '../../src/formats/tensor.ts';
import { NARROW_WIDTHS, syntheticGen, syntheticSafetensors, syntheticWarp, type FakeTensor } from '../fixtures/dmvton-synthetic.ts';
import { PYTHON } from '../fixtures/torch-fixtures.ts';

const SCRIPT = fileURLToPath(new URL('../fixtures/make_dmvton_checkpoint.py', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dmvton-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function torchSave(dict: Map<string, FakeTensor>, name: string, raw = false): Uint8Array {
  const spec: Record<string, { shape: readonly number[]; values: number[] }> = {};
  for (const [k, t] of dict) spec[k] = { shape: t.shape, values: [...t.toFloat32()] };
  const specPath = join(dir, `${name}.json`);
  writeFileSync(specPath, JSON.stringify(spec));
  const out = join(dir, name);
  execFileSync(PYTHON, [SCRIPT, specPath, out, ...(raw ? ['--raw'] : [])], { stdio: 'pipe' });
  return new Uint8Array(readFileSync(out));
}

// Python and torch start slowly on a busy machine: generous per-test timeouts.
describe('DM-VTON checkpoints written by torch.save', { timeout: 300_000 }, () => {
  test('the training layout {epoch, best_fid, model, optimizer}: the warp module, key for key, shared smooth conv stored once', () => {
    const warp = syntheticWarp(NARROW_WIDTHS, 41);
    const bytes = torchSave(warp, 'dmvton_pf_warp.pt');
    const ck = readStudentCheckpoint(bytes, 'dmvton_pf_warp.pt');
    expect(ck.format).toBe('torch zip');
    expect(ck.parts).toEqual({ warp: '' });
    expect(ck.info).toContain('epoch 101');
    expect([...ck.dict.keys()]).toEqual([...warp.keys()]);
    for (const [k, t] of warp) {
      const got = ck.dict.get(k)!;
      expect(got.shape, k).toEqual(t.shape);
      if (!k.endsWith('num_batches_tracked')) expect(got.toFloat32(), k).toEqual(t.toFloat32());
    }
    // The five smooth_layers keys read the same values (one storage in the file).
    expect(ck.dict.get('cond_mobile.smooth_layers.3.weight')!.toFloat32()).toEqual(ck.dict.get('cond_mobile.smooth_layers.0.weight')!.toFloat32());
  });

  test('what the checkpoint worker posts back (records, structured clone with transfer) rebuilds the same tensors', () => {
    const warp = syntheticWarp(NARROW_WIDTHS, 44);
    const ck = readStudentCheckpoint(torchSave(warp, 'worker_warp.pt'), 'worker_warp.pt');
    const records = tensorRecords(ck.dict);
    const buffers = recordBuffers(records);
    const posted = structuredClone(records, { transfer: buffers });
    expect(buffers.every((b) => b.byteLength === 0)).toBe(true); // transferred, not copied
    const back = fromTensorRecords(posted);
    expect([...back.keys()]).toEqual([...ck.dict.keys()]);
    for (const [k, t] of warp) {
      const got = back.get(k)!;
      expect(got.shape, k).toEqual(t.shape);
      if (!k.endsWith('num_batches_tracked')) expect(got.toFloat32(), k).toEqual(t.toFloat32());
    }
    expect(back.get('cond_mobile.smooth_layers.4.bias')!.sourceDtype).toBe('float32');
  });

  test('a raw state dict of the generator', () => {
    const gen = syntheticGen(NARROW_WIDTHS, 42);
    const ck = readStudentCheckpoint(torchSave(gen, 'dmvton_pf_gen.pt', true), 'dmvton_pf_gen.pt');
    expect(ck.parts).toEqual({ gen: '' });
    expect(ck.dict.size).toBe(gen.size);
    expect(ck.dict.get('dconv2.weight')!.toFloat32()).toEqual(gen.get('dconv2.weight')!.toFloat32());
  });

  test('truncated files and foreign checkpoints are refused with the file name', () => {
    const gen = syntheticGen(NARROW_WIDTHS, 43);
    const bytes = torchSave(gen, 'gen.pt');
    expect(() => readStudentCheckpoint(bytes.slice(0, bytes.length >> 1), 'cut.pt')).toThrow(/^cut\.pt: /);
    const foreign = torchSave(new Map([['image_features.encoders.0.0.weight', { shape: [2, 3, 1, 1], toFloat32: () => new Float32Array(6) }]]), 'pfafn.pt');
    expect(() => readStudentCheckpoint(foreign, 'pfafn.pt')).toThrow(/pfafn\.pt: not a DM-VTON student checkpoint: this looks like a PF-AFN/);
  });
});

test('safetensors training metadata (steps, held-out PSNR) is shown when well formed and ignored otherwise; the weights load the same', () => {
  const gen = syntheticGen(NARROW_WIDTHS, 45);
  const read = (metadata: Record<string, string>) => readStudentCheckpoint(new Uint8Array(syntheticSafetensors(gen, metadata)), 'gen.safetensors');
  const good = read({ steps: '7740', input_size: '128x96', metrics: JSON.stringify({ tryon_psnr: 21.63, person_as_is_psnr: 15.49 }) });
  expect(good.info).toContain('7740 training steps');
  expect(good.info).toContain('held-out try-on PSNR 21.6 dB at 128x96 (the unchanged person: 15.5 dB)');
  const bads: Record<string, string>[] = [{ steps: 'many', metrics: '{not json' }, { steps: '-3', metrics: '[1, 2]' }, { metrics: JSON.stringify({ tryon_psnr: '21', person_as_is_psnr: 15 }) }];
  for (const bad of bads) {
    const ck = read(bad);
    expect(ck.info.some((line) => /training steps|PSNR/.test(line)), JSON.stringify(bad)).toBe(false);
    expect(ck.dict.size).toBe(good.dict.size);
    expect(ck.dict.get('dconv2.weight')!.toFloat32()).toEqual(gen.get('dconv2.weight')!.toFloat32());
  }
});

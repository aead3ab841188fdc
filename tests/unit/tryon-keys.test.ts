import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { describeForeign, detectParts, isGenKey, isWarpKey } from '../../src/demos/tryon/model.ts';
import { NARROW_WIDTHS, OFFICIAL_WIDTHS, syntheticGen, syntheticWarp, type FakeTensor } from '../fixtures/dmvton-synthetic.ts';

/** The official key lists (name, shape) measured on the instantiated PyTorch modules. */
function officialKeys(part: 'warp' | 'gen'): string[] {
  const text = readFileSync(new URL(`../fixtures/dmvton-keys/${part}.txt`, import.meta.url), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [key, shape] = line.split('\t');
      return `${key} [${shape.replace(/[()\s]/g, '').split(',').filter(Boolean).join(',')}]`;
    });
}

function ours(dict: Map<string, FakeTensor>): string[] {
  return [...dict].map(([k, t]) => `${k} [${t.shape.join(',')}]`);
}

describe('DM-VTON state-dict keys', () => {
  test('the synthetic warp module at official widths has exactly the official 388 keys and shapes', () => {
    const want = officialKeys('warp');
    expect(want.length).toBe(388);
    expect(ours(syntheticWarp(OFFICIAL_WIDTHS)).sort()).toEqual([...want].sort());
  });

  test('the synthetic generator at official widths has exactly the official 213 keys and shapes', () => {
    const want = officialKeys('gen');
    expect(want.length).toBe(213);
    expect(ours(syntheticGen(OFFICIAL_WIDTHS)).sort()).toEqual([...want].sort());
  });

  test('every official key is classified as warp or generator, never both', () => {
    for (const line of officialKeys('warp')) {
      const key = line.split(' ')[0];
      expect(isWarpKey(key), key).toBe(true);
      expect(isGenKey(key), key).toBe(false);
    }
    for (const line of officialKeys('gen')) {
      const key = line.split(' ')[0];
      expect(isGenKey(key), key).toBe(true);
      expect(isWarpKey(key), key).toBe(false);
    }
  });

  test('parts are told apart by their keys, with pipeline prefixes', () => {
    expect(detectParts(syntheticWarp(NARROW_WIDTHS))).toEqual({ warp: '' });
    expect(detectParts(syntheticGen(NARROW_WIDTHS))).toEqual({ gen: '' });
    const both = new Map([...syntheticWarp(NARROW_WIDTHS, 1, 'warp_model.'), ...syntheticGen(NARROW_WIDTHS, 2, 'gen_model.')]);
    expect(detectParts(both)).toEqual({ warp: 'warp_model.', gen: 'gen_model.' });
    const flat = new Map([...syntheticWarp(NARROW_WIDTHS), ...syntheticGen(NARROW_WIDTHS)]);
    expect(detectParts(flat)).toEqual({ warp: '', gen: '' });
  });

  test('foreign checkpoints get an explanation', () => {
    const t: FakeTensor = { shape: [1], toFloat32: () => new Float32Array(1) };
    expect(detectParts(new Map([['image_features.encoders.0.0.weight', t]]))).toEqual({});
    expect(describeForeign(new Map([['image_features.encoders.0.0.weight', t]]))).toMatch(/PF-AFN/);
    expect(describeForeign(new Map([['aflow_net.netStyle.0.weight', t]]))).toMatch(/StyleGAN/);
    expect(describeForeign(new Map([['fc.weight', t]]))).toMatch(/1 tensors, e\.g\. fc\.weight/);
  });
});

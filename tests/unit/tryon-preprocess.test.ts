import { describe, expect, test } from 'vitest';
import { binarizeAndMask, borderColour, cropBox, extractEdge, rgbaToEdge, rgbaToPlanes } from '../../src/demos/tryon/preprocess.ts';
import { drawGarment, drawPerson, GARMENTS } from '../../src/demos/tryon/samples.ts';

describe('try-on input preparation', () => {
  test('crop box keeps the 3:4 portrait aspect, centred', () => {
    expect(cropBox(640, 480, 192, 256)).toEqual({ x: 140, y: 0, width: 360, height: 480 });
    expect(cropBox(300, 1000, 192, 256)).toEqual({ x: 0, y: 300, width: 300, height: 400 });
    expect(cropBox(192, 256, 192, 256)).toEqual({ x: 0, y: 0, width: 192, height: 256 });
    expect(cropBox(1, 1, 192, 256)).toEqual({ x: 0, y: 0, width: 1, height: 1 });
  });

  test('RGB to [-1, 1] planes and PIL-style luma edges', () => {
    const rgba = new Uint8ClampedArray([255, 0, 128, 255, 0, 255, 255, 255]);
    expect([...rgbaToPlanes(rgba, 2, 1)].map((v) => +v.toFixed(4))).toEqual([1, -1, -1, 1, 0.0039, 1]);
    const e = rgbaToEdge(rgba, 2, 1);
    expect(e[0]).toBeCloseTo(Math.floor((255 * 299 + 128 * 114) / 1000) / 255, 6);
    expect(e[1]).toBeCloseTo(Math.floor((255 * 587 + 255 * 114) / 1000) / 255, 6);
  });

  test('edge > 0.5 binarizes and masks the garment', () => {
    const { garment, edge } = binarizeAndMask(new Float32Array([0.5, -0.5, 1, 1, 0.2, 0.2]), new Float32Array([0.51, 0.5]));
    expect([...edge]).toEqual([1, 0]);
    expect([...garment].map((v) => +v.toFixed(2) + 0)).toEqual([0.5, 0, 1, 0, 0.2, 0]);
    expect(() => binarizeAndMask(new Float32Array(5), new Float32Array(2))).toThrow(/garment has 5 values/);
  });

  test('edge extraction: garment on white, holes filled, specks dropped', () => {
    const w = 40;
    const h = 40;
    const rgba = new Uint8ClampedArray(w * h * 4).fill(250);
    const set = (x: number, y: number, c: number[]) => rgba.set([...c, 255], (y * w + x) * 4);
    for (let y = 10; y < 30; y++) for (let x = 10; x < 30; x++) set(x, y, [200, 30, 30]);
    for (let y = 18; y < 22; y++) for (let x = 18; x < 22; x++) set(x, y, [250, 250, 250]); // white print inside
    set(2, 35, [0, 0, 0]); // speck
    expect(borderColour(rgba, w, h)).toEqual([250, 250, 250]);
    const m = extractEdge(rgba, w, h);
    let n = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) n += m[y * w + x];
    expect(n).toBe(400);
    expect(m[20 * w + 20]).toBe(1);
    expect(m[35 * w + 2]).toBe(0);
    // A higher threshold than the garment's contrast finds nothing.
    expect(extractEdge(rgba, w, h, { threshold: 254 }).reduce((a, b) => a + b, 0)).toBe(0);
  });

  test('sample garments and people are deterministic and garments extract to a sizeable mask', () => {
    for (let i = 0; i < GARMENTS.length; i++) {
      const g = drawGarment(i, 96, 128);
      expect(drawGarment(i, 96, 128).data).toEqual(g.data);
      const frac = extractEdge(g.data, 96, 128).reduce((a, b) => a + b, 0) / (96 * 128);
      expect(frac, GARMENTS[i].name).toBeGreaterThan(0.15);
      expect(frac, GARMENTS[i].name).toBeLessThan(0.7);
    }
    const p = drawPerson(0, 96, 128);
    expect(new Set(p.data).size).toBeGreaterThan(20);
  });
});

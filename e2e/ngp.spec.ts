import { expect, test, type Page } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { openDemo, snapshotPng, watchErrors } from './util.ts';

/** Small sizes and batches: SwiftShader is a CPU (~0.5 GFLOP/s). */
const SIZE = '96x64';

interface NgpStats {
  app: string;
  step: number;
  loss: number | null;
  firstLoss: number | null;
  psnr?: number;
  stepsPerSecond?: number;
  mlp?: string;
  gpuMs: Record<string, number>;
}

async function stats(page: Page): Promise<NgpStats> {
  return page.evaluate(() => {
    const s = (document.querySelector('[data-demo]') as unknown as { stats: Record<string, unknown> }).stats;
    return JSON.parse(JSON.stringify(s)) as NgpStats;
  });
}

/** Polls until the app has done at least `steps` training steps and a loss was read back after them. */
async function waitSteps(page: Page, steps: number, timeout = 120_000): Promise<NgpStats> {
  await page.waitForFunction(
    (k) => {
      const s = (document.querySelector('[data-demo]') as unknown as { stats: { step: number; loss: number | null } }).stats;
      return s.step >= k && s.loss !== null;
    },
    steps,
    { timeout, polling: 250 },
  );
  return stats(page);
}

async function lastError(page: Page): Promise<string | null> {
  return page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { lastError: string | null }).lastError);
}

/** open() with bytes made in the test; returns the rejection message (or null). */
async function openBytes(page: Page, bytes: number[], name: string, type = ''): Promise<string | null> {
  return page.evaluate(
    async ({ bytes, name, type }) => {
      const demo = document.querySelector('[data-demo]') as unknown as { open(f: File): Promise<void> };
      try {
        await demo.open(new File([new Uint8Array(bytes)], name, { type }));
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    },
    { bytes, name, type },
  );
}

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/** A PNG whose IHDR claims width x height (with one tiny IDAT; the claim is what matters). */
function pngClaiming(width: number, height: number): number[] {
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = Math.max(1, Math.min(height, 1));
  const raw = new Uint8Array(rows * (1 + Math.max(1, Math.min(width, 1)) * 3));
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array())];
  return parts.flatMap((p) => [...p]);
}

async function expectTrains(page: Page, app: string, steps: number): Promise<NgpStats> {
  const first = await waitSteps(page, 1);
  expect(first.app).toBe(app);
  await waitSteps(page, Math.max(steps, first.step + 2));
  // the loss is of random batches (noisy): wait for one clearly under the first
  await page.waitForFunction(
    () => {
      const s = (document.querySelector('[data-demo]') as unknown as { stats: { loss: number | null; firstLoss: number | null } }).stats;
      return s.loss !== null && s.firstLoss !== null && s.loss < 0.9 * s.firstLoss;
    },
    null,
    { timeout: 60_000, polling: 250 },
  );
  const later = await stats(page);
  const shot = await snapshotPng(page);
  expect(shot.width).toBe(96);
  expect(shot.height).toBe(64);
  expect(shot.distinct).toBeGreaterThan(8);
  mkdirSync('test-results', { recursive: true });
  writeFileSync(`test-results/ngp-${app}.png`, shot.png);
  expect(later.step).toBeGreaterThan(first.step);
  expect(later.firstLoss).not.toBeNull();
  expect(later.loss!).toBeLessThan(later.firstLoss!);
  return later;
}

test.describe('neural graphics lab', () => {
  test.describe.configure({ timeout: 150_000 });

  test('GIA: fits the built-in image, PSNR rises, bad images are refused and training goes on', async ({ page }) => {
    const errors = watchErrors(page);
    await openDemo(page, `#/ngp?app=gia&size=${SIZE}&batch=1024&steps=1&seed=3`);
    const first = await waitSteps(page, 1);
    await expectTrains(page, 'gia', 12);
    // PSNR rises (by 2 dB over the first reading)
    await page.waitForFunction(
      (p0) => ((document.querySelector('[data-demo]') as unknown as { stats: { psnr?: number } }).stats.psnr ?? 0) > p0 + 2,
      first.psnr ?? 0,
      { timeout: 60_000, polling: 250 },
    );
    const later = await stats(page);
    expect(Object.keys(later.gpuMs).length).toBeGreaterThan(0);
    test.info().annotations.push({ type: 'gia', description: `step ${later.step}, PSNR ${later.psnr} dB, ${later.stepsPerSecond} steps/s` });

    // a non-image file
    const text = await openBytes(page, [...Buffer.from('hello, this is not an image\n')], 'notes.txt', 'text/plain');
    expect(text).toMatch(/notes\.txt looks like/);
    // 0x0 and 30000x30000 claimed PNGs, and a 1x1 image
    const zero = await openBytes(page, pngClaiming(0, 0), 'zero.png', 'image/png');
    expect(zero).toBeTruthy();
    const huge = await openBytes(page, pngClaiming(30000, 30000), 'huge.png', 'image/png');
    expect(huge).toMatch(/30000/);
    const one = await openBytes(page, pngClaiming(1, 1), 'one.png', 'image/png');
    expect(one).toMatch(/1x1|at least/);
    expect(await lastError(page)).toBe(one);
    // a config over the device's limits
    const refused = await page.evaluate(() => {
      try {
        (document.querySelector('[data-demo]') as unknown as { setConfig(c: object): void }).setConfig({ batch: 1 << 28 });
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(refused).toMatch(/configuration refused.*limit/);
    const after = await stats(page);
    await waitSteps(page, after.step + 2);
    expect((await stats(page)).app).toBe('gia');
    expect(errors).toEqual([]);
  });

  test('GIA: a dropped image is fitted; a big one is downscaled with a message', async ({ page }) => {
    const errors = watchErrors(page);
    await openDemo(page, `#/ngp?app=gia&size=${SIZE}&batch=1024&steps=1`);
    const big = await page.evaluate(async () => {
      const canvas = new OffscreenCanvas(1500, 1000);
      const ctx = canvas.getContext('2d')!;
      ctx.fillStyle = '#234';
      ctx.fillRect(0, 0, 1500, 1000);
      ctx.fillStyle = '#f80';
      ctx.beginPath();
      ctx.arc(700, 500, 300, 0, Math.PI * 2);
      ctx.fill();
      const blob = await canvas.convertToBlob({ type: 'image/png' });
      const demo = document.querySelector('[data-demo]') as unknown as { open(f: File): Promise<void>; stats: { image: string } };
      await demo.open(new File([blob], 'big.png', { type: 'image/png' }));
      return { image: demo.stats.image, note: document.querySelector('[data-testid="ngp-note"]')?.textContent ?? '' };
    });
    await expect(page.locator('[data-testid="ngp-note"]')).toContainText('downscaled');
    expect(big.note + (await page.locator('[data-testid="ngp-note"]').textContent())).toContain('1500x1000');
    await expectTrains(page, 'gia', 6);
    expect(errors).toEqual([]);
  });

  test('NVR: the procedural volume is fitted and ray marched; transfer function controls re-render', async ({ page }) => {
    const errors = watchErrors(page);
    await openDemo(page, `#/ngp?app=nvr&size=${SIZE}&batch=1024&steps=1&rays=768&samples=16&log2T=14`);
    const later = await expectTrains(page, 'nvr', 8);
    test.info().annotations.push({ type: 'nvr', description: `step ${later.step}, loss ${later.loss}, ${later.stepsPerSecond} steps/s` });
    await page.locator('select[data-control="colour-map"]').selectOption('1');
    await waitSteps(page, later.step + 4);
    const shot = await snapshotPng(page);
    expect(shot.distinct).toBeGreaterThan(8);
    // the unfused MLP baseline trains too
    await page.locator('input[data-control="fused"]').uncheck();
    await expect.poll(async () => (await stats(page)).mlp).toBe('unfused');
    const unfused = await stats(page);
    await waitSteps(page, unfused.step + 3);
    // switching app by the tabs updates the hash; editing the hash switches app
    await page.locator('button[data-app="gia"]').click();
    await expect(page).toHaveURL(/app=gia/);
    await waitSteps(page, 1);
    await page.evaluate(() => (location.hash = location.hash.replace('app=gia', 'app=nsdf')));
    await expect.poll(async () => (await stats(page)).app).toBe('nsdf');
    expect(errors).toEqual([]);
  });

  test('NeRF: trains on the built-in views, held-out PSNR is reported, novel views render', async ({ page }) => {
    const errors = watchErrors(page);
    await openDemo(page, `#/ngp?app=nerf&size=${SIZE}&batch=1024&samples=16&steps=1&rays=768&renderSamples=16&res=32&views=12&occEvery=4&log2T=14`);
    const later = await expectTrains(page, 'nerf', 10);
    expect(later.psnr).toBeGreaterThan(5);
    test.info().annotations.push({ type: 'nerf', description: `step ${later.step}, held-out PSNR ${later.psnr} dB, ${later.stepsPerSecond} steps/s` });
    // orbit: keys move the camera; the view keeps rendering
    await page.locator('ngp-demo canvas').focus();
    await page.keyboard.press('ArrowLeft');
    await waitSteps(page, later.step + 2);
    expect((await snapshotPng(page)).distinct).toBeGreaterThan(8);
    expect(errors).toEqual([]);
  });

  test('NeRF: training is deterministic with a seed (rays are hashed on the GPU): same seed, same picture after N frames; another seed differs', async ({ page }) => {
    const errors = watchErrors(page);
    const url = (seed: number) => `#/ngp?app=nerf&size=${SIZE}&batch=1024&samples=16&steps=1&rays=768&renderSamples=16&res=32&views=12&occEvery=2&log2T=14&frames=8&seed=${seed}`;
    const frozen = async (seed: number) => {
      await openDemo(page, url(seed));
      await page.reload();
      await openDemo(page, url(seed));
      await expect.poll(() => page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { running: boolean }).running), { timeout: 120_000 }).toBe(false);
      return { shot: await snapshotPng(page), step: (await stats(page)).step };
    };
    const first = await frozen(5);
    // 8 frames of one step each, with occupancy updates at steps 4, 6 and 8 (occEvery=2).
    expect(first.step).toBe(8);
    expect(first.shot.distinct).toBeGreaterThan(8);
    const again = await frozen(5);
    expect(again.step).toBe(8);
    expect(again.shot.png.equals(first.shot.png)).toBe(true);
    const other = await frozen(6);
    expect(other.shot.png.equals(first.shot.png)).toBe(false);
    expect(errors).toEqual([]);
  });

  test('NSDF: fits the built-in shape, sphere traces it, opens an OBJ mesh and refuses a mesh without faces', async ({ page }) => {
    const errors = watchErrors(page);
    await openDemo(page, `#/ngp?app=nsdf&size=${SIZE}&batch=1024&steps=1&rays=768&marchSteps=12&log2T=14`);
    const later = await expectTrains(page, 'nsdf', 8);
    test.info().annotations.push({ type: 'nsdf', description: `step ${later.step}, loss ${later.loss}, ${later.stepsPerSecond} steps/s` });
    const noFaces = await openBytes(page, [...Buffer.from('v 0 0 0\nv 1 0 0\nv 0 1 0\n')], 'points.obj');
    expect(noFaces).toMatch(/points\.obj.*no faces/);
    expect(await lastError(page)).toMatch(/no faces/);
    const s1 = await stats(page);
    await waitSteps(page, s1.step + 2);
    // a cube
    const cube = ['v -1 -1 -1', 'v 1 -1 -1', 'v 1 1 -1', 'v -1 1 -1', 'v -1 -1 1', 'v 1 -1 1', 'v 1 1 1', 'v -1 1 1',
      'f 1 4 3 2', 'f 5 6 7 8', 'f 1 2 6 5', 'f 2 3 7 6', 'f 3 4 8 7', 'f 4 1 5 8'].join('\n');
    expect(await openBytes(page, [...Buffer.from(cube)], 'cube.obj')).toBeNull();
    await expect(page.locator('[data-testid="ngp-note"]')).toContainText('cube.obj: 8 vertices, 12 triangles');
    await expectTrains(page, 'nsdf', 6);
    expect(errors).toEqual([]);
  });
});

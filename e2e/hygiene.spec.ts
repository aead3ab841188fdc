import { expect, test, type Page } from '@playwright/test';
import { openDemo, snapshotPng, watchErrors } from './util.ts';

// Resource hygiene (issue: reliability suite): assets opened and closed, routes switched
// and devices lost many times leave no GPU memory, no workers and no heap growth behind.

interface Shell {
  gpu: { resources: { bytes: number; buffers: number; textures: number } | null; generation: number; device: GPUDevice };
  liveWorkers: number;
}
const shell = (page: Page) => page.evaluate(() => {
  const app = document.querySelector('suite-app') as unknown as Shell;
  return { bytes: app.gpu.resources?.bytes ?? -1, buffers: app.gpu.resources?.buffers ?? -1, workers: app.liveWorkers };
});

async function heapMb(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const gc = (globalThis as unknown as { gc?: () => void }).gc;
    for (let i = 0; i < 3; i++) {
      gc?.();
      await new Promise((r) => setTimeout(r, 50));
    }
    return ((performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0) / 2 ** 20;
  });
}

const DEMOS = ['#/selftest?seed=1&size=64x48', '#/gaussians?seed=1&size=64x48', '#/nelf?size=64x48&res=128x128'];

test('30 route switches and 30 asset loads per demo: GPU bytes, workers and heap return to baseline', async ({ page }) => {
  test.setTimeout(900_000);
  const errors = watchErrors(page);
  await page.goto('./');
  await expect(page.locator('suite-home')).toBeVisible();
  // Warm up each demo once (lazy chunks, the cached default scene), then measure from home.
  for (const hash of DEMOS) await openDemo(page, hash);
  await page.goto('./#/');
  await expect.poll(async () => (await shell(page)).bytes).toBe(0);
  const heapBefore = await heapMb(page);

  for (let i = 0; i < 30; i++) {
    await page.evaluate((h) => (location.hash = h), DEMOS[i % 2].slice(1));
    await page.waitForFunction(() => document.querySelector('[data-demo]') !== null);
    await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { ready: Promise<void> }).ready);
  }
  await page.evaluate(() => (location.hash = '#/'));
  await expect.poll(async () => (await shell(page)).bytes).toBe(0);

  // Open and replace assets 30 times in each demo: live GPU bytes stay at the first load's level.
  await openDemo(page, '#/selftest?seed=1&t=0&frames=1&size=64x48');
  const openImage = () =>
    page.evaluate(async () => {
      const c = new OffscreenCanvas(32, 24);
      c.getContext('2d')!.fillRect(0, 0, 16, 12);
      await (document.querySelector('[data-demo]') as unknown as { open(b: Blob): Promise<void> }).open(await c.convertToBlob());
    });
  await openImage();
  const imageLevel = (await shell(page)).bytes;
  for (let i = 0; i < 30; i++) await openImage();
  expect((await shell(page)).bytes).toBe(imageLevel);

  await openDemo(page, '#/gaussians?seed=1&t=1&frames=1&size=64x48');
  const openPly = (n: number) =>
    page.evaluate(async (count) => {
      const props = ['x', 'y', 'z', 'f_dc_0', 'f_dc_1', 'f_dc_2', 'opacity', 'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3'];
      const head = new TextEncoder().encode(`ply\nformat binary_little_endian 1.0\nelement vertex ${count}\n${props.map((p) => `property float ${p}\n`).join('')}end_header\n`);
      const body = new Float32Array(count * 14).map((_, i) => ((i % 14) === 10 ? 1 : (i % 14) < 3 ? Math.sin(i) : 0.1));
      await (document.querySelector('[data-demo]') as unknown as { open(b: Blob): Promise<void> }).open(new File([head as BlobPart, body as BlobPart], 'cloud.ply'));
    }, n);
  await openPly(5000);
  const plyLevel = (await shell(page)).bytes;
  for (let i = 0; i < 30; i++) await openPly(5000);
  expect((await shell(page)).bytes).toBe(plyLevel);

  await page.evaluate(() => (location.hash = '#/'));
  await expect.poll(async () => (await shell(page)).bytes).toBe(0);
  // Idle workers are let go a few seconds after their last job.
  await expect.poll(async () => (await shell(page)).workers, { timeout: 30_000 }).toBe(0);
  const heapAfter = await heapMb(page);
  console.log(`heap ${heapBefore.toFixed(1)} MB -> ${heapAfter.toFixed(1)} MB after 30 switches and 62 loads`);
  expect(heapAfter - heapBefore).toBeLessThan(40);
  expect(errors).toEqual([]);
});

for (const hash of DEMOS) {
  test(`device lost in the middle of a frame of ${hash.split('?')[0]}: the demo comes back`, async ({ page }) => {
    const errors = watchErrors(page);
    await openDemo(page, hash);
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => {
          const demo = document.querySelector('[data-demo]')!;
          demo.addEventListener('demo-ready', () => resolve(), { once: true });
          // Destroy the device from inside an animation frame, between the demo's frames.
          requestAnimationFrame(() => (document.querySelector('suite-app') as unknown as Shell).gpu.device.destroy());
        }),
    );
    const shot = await snapshotPng(page);
    expect(shot.distinct).toBeGreaterThan(10);
    expect(await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { lastError: string | null }).lastError)).toBeNull();
    expect(errors).toEqual([]);
  });
}

test('every demo works on a device with WebGPU default limits (?limits=default)', async ({ page }) => {
  for (const hash of DEMOS) {
    await openDemo(page, `${hash}&limits=default&frames=2`);
    const limit = await page.evaluate(() => (document.querySelector('suite-app') as unknown as Shell).gpu.device.limits.maxStorageBufferBindingSize);
    expect(limit).toBe(128 * 2 ** 20);
    expect((await snapshotPng(page)).distinct).toBeGreaterThan(10);
    await page.goto('about:blank');
  }
});

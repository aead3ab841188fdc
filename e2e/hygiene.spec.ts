import { expect, test, type Page } from '@playwright/test';
import { NARROW_WIDTHS, syntheticGen, syntheticSafetensors, syntheticWarp } from '../tests/fixtures/dmvton-synthetic.ts';
import { openDemo, snapshotPng, watchErrors } from './util.ts';

// Resource hygiene and default limits (issue: reliability suite): assets opened and closed,
// routes switched and devices lost many times leave no GPU memory, no workers and no heap
// growth behind; every demo runs on a device with WebGPU's default limits.
//
// Every test iterates DEMOS: adding a demo is one entry there.

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

/** A small PNG made in the page, opened in the demo. */
const openImage = (page: Page) =>
  page.evaluate(async () => {
    const c = new OffscreenCanvas(32, 24);
    const g = c.getContext('2d')!;
    g.fillStyle = '#c84';
    g.fillRect(0, 0, 32, 24);
    g.fillStyle = '#248';
    g.fillRect(0, 0, 16, 12);
    await (document.querySelector('[data-demo]') as unknown as { open(b: Blob): Promise<void> }).open(await c.convertToBlob());
  });

/** A binary 3DGS .ply of `count` Gaussians made in the page, opened in the demo. */
const openPly = (page: Page, count: number) =>
  page.evaluate(async (n) => {
    const props = ['x', 'y', 'z', 'f_dc_0', 'f_dc_1', 'f_dc_2', 'opacity', 'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3'];
    const head = new TextEncoder().encode(`ply\nformat binary_little_endian 1.0\nelement vertex ${n}\n${props.map((p) => `property float ${p}\n`).join('')}end_header\n`);
    const body = new Float32Array(n * 14).map((_, i) => ((i % 14) === 10 ? 1 : (i % 14) < 3 ? Math.sin(i) : 0.1));
    await (document.querySelector('[data-demo]') as unknown as { open(b: Blob): Promise<void> }).open(new File([head as BlobPart, body as BlobPart], 'cloud.ply'));
  }, count);

interface Demo {
  /** Route name (for test titles). */
  name: string;
  /** Route with small, seeded parameters: route switches, device loss. */
  hash: string;
  /** Route the 30 asset loads run on. */
  assetHash: string;
  /** Opens one asset of this demo (the demo is mounted and ready). */
  openAsset(page: Page): Promise<void>;
  /** Routes checked at WebGPU default limits (each must render non-blank); default [hash]. */
  defaultLimitRoutes?: string[];
  /** After a default-limits route is ready: wait for what shows it works (e.g. training steps). */
  settle?(page: Page, route: string): Promise<void>;
}

const TRYON_WARP = syntheticSafetensors(syntheticWarp(NARROW_WIDTHS, 11));
const TRYON_GEN = syntheticSafetensors(syntheticGen(NARROW_WIDTHS, 12));

const NGP_SMALL = 'seed=1&size=64x48&batch=256&steps=1&log2T=12';

const DEMOS: Demo[] = [
  { name: 'selftest', hash: '#/selftest?seed=1&size=64x48', assetHash: '#/selftest?seed=1&t=0&frames=1&size=64x48', openAsset: openImage, defaultLimitRoutes: ['#/selftest?seed=1&size=64x48&frames=2'] },
  {
    name: 'gaussians',
    hash: '#/gaussians?seed=1&size=64x48',
    assetHash: '#/gaussians?seed=1&t=1&frames=1&size=64x48',
    openAsset: (page) => openPly(page, 5000),
    defaultLimitRoutes: ['#/gaussians?seed=1&size=64x48&frames=2'],
  },
  {
    name: 'ngp',
    hash: `#/ngp?app=gia&${NGP_SMALL}`,
    assetHash: `#/ngp?app=gia&${NGP_SMALL}`,
    openAsset: openImage,
    // All four apps; the last asks for a 2^24 table, which must degrade (smaller table, with a note).
    defaultLimitRoutes: [
      `#/ngp?app=gia&${NGP_SMALL}`,
      `#/ngp?app=nsdf&${NGP_SMALL}&rays=768&marchSteps=12`,
      `#/ngp?app=nerf&${NGP_SMALL}&batch=512&samples=16&rays=768&renderSamples=16&res=32&views=8&occEvery=4`,
      `#/ngp?app=nvr&${NGP_SMALL}&rays=768`,
      `#/ngp?app=nerf&seed=1&size=64x48&batch=512&steps=1&samples=16&rays=768&renderSamples=16&res=32&views=8&log2T=24`,
    ],
    settle: async (page, route) => {
      if (route.includes('log2T=24')) await expect(page.locator('[data-testid="ngp-note"]')).toContainText(/reduced from 2\^24 to 2\^\d+ entries per level to fit this device's 128 MiB/);
      // Training steps run and a finite loss comes back.
      await page.waitForFunction(
        () => {
          const s = (document.querySelector('[data-demo]') as unknown as { stats: { step?: number; loss?: number | null } }).stats;
          return (s.step ?? 0) >= 3 && Number.isFinite(s.loss);
        },
        null,
        { timeout: 120_000 },
      );
    },
  },
  {
    name: 'nelf',
    hash: '#/nelf?size=64x48&res=128x128',
    assetHash: '#/nelf?size=64x48&res=128x128',
    // Reopening the shipped model replaces the network each time.
    openAsset: (page) => page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { open(u: string): Promise<void> }).open('models/nelf/default.safetensors')),
    defaultLimitRoutes: ['#/nelf?size=64x48&res=128x128&frames=2'],
  },
  {
    name: 'tryon',
    hash: '#/tryon?input=96x128&size=96x128&model=none',
    assetHash: '#/tryon?input=96x128&size=96x128&model=none',
    // A narrow student with the official key names, both parts replaced each time.
    openAsset: async (page) => {
      for (const [bytes, name] of [[TRYON_WARP, 'warp.safetensors'], [TRYON_GEN, 'gen.safetensors']] as const) {
        await page.evaluate(({ bytes, name }) => (document.querySelector('[data-demo]') as unknown as { open(f: File): Promise<void> }).open(new File([new Uint8Array(bytes)], name)), { bytes, name });
      }
    },
    defaultLimitRoutes: ['#/tryon?input=96x128&size=96x128&model=none&frames=2'],
  },
];

test('30 route switches and 30 asset loads per demo: GPU bytes, workers and heap return to baseline', async ({ page }) => {
  test.setTimeout(900_000 + 300_000 * DEMOS.length);
  const errors = watchErrors(page);
  await page.goto('./');
  await expect(page.locator('suite-home')).toBeVisible();
  // Warm up each demo once (lazy chunks, cached default content), then measure from home.
  for (const demo of DEMOS) await openDemo(page, demo.hash);
  await page.goto('./#/');
  await expect.poll(async () => (await shell(page)).bytes).toBe(0);
  const heapBefore = await heapMb(page);

  for (let i = 0; i < 30; i++) {
    await page.evaluate((h) => (location.hash = h), DEMOS[i % DEMOS.length].hash.slice(1));
    await page.waitForFunction(() => document.querySelector('[data-demo]') !== null);
    await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { ready: Promise<void> }).ready);
  }
  await page.evaluate(() => (location.hash = '#/'));
  await expect.poll(async () => (await shell(page)).bytes).toBe(0);

  // Open and replace an asset 30 times in each demo: live GPU bytes stay at the first load's level.
  for (const demo of DEMOS) {
    await openDemo(page, demo.assetHash);
    await demo.openAsset(page);
    const level = (await shell(page)).bytes;
    for (let i = 0; i < 30; i++) await demo.openAsset(page);
    expect((await shell(page)).bytes, `${demo.name}: live GPU bytes after 31 loads`).toBe(level);
  }

  await page.evaluate(() => (location.hash = '#/'));
  await expect.poll(async () => (await shell(page)).bytes).toBe(0);
  // Idle workers are let go a few seconds after their last job.
  await expect.poll(async () => (await shell(page)).workers, { timeout: 30_000 }).toBe(0);
  const heapAfter = await heapMb(page);
  console.log(`heap ${heapBefore.toFixed(1)} MB -> ${heapAfter.toFixed(1)} MB after 30 switches and ${31 * DEMOS.length} loads`);
  expect(heapAfter - heapBefore).toBeLessThan(40);
  expect(errors).toEqual([]);
});

for (const demo of DEMOS) {
  test(`device lost in the middle of a frame of #/${demo.name}: the demo comes back`, async ({ page }) => {
    const errors = watchErrors(page);
    await openDemo(page, demo.hash);
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => {
          const el = document.querySelector('[data-demo]')!;
          el.addEventListener('demo-ready', () => resolve(), { once: true });
          // Destroy the device from inside an animation frame, between the demo's frames.
          requestAnimationFrame(() => (document.querySelector('suite-app') as unknown as Shell).gpu.device.destroy());
        }),
    );
    const shot = await snapshotPng(page);
    expect(shot.distinct).toBeGreaterThan(10);
    expect(await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { lastError: string | null }).lastError)).toBeNull();
    expect(errors).toEqual([]);
  });

  test(`#/${demo.name} works on a device with WebGPU default limits (?limits=default)`, async ({ page }) => {
    test.setTimeout(180_000 * (demo.defaultLimitRoutes?.length ?? 1));
    const errors = watchErrors(page);
    for (const route of demo.defaultLimitRoutes ?? [demo.hash]) {
      await openDemo(page, `${route}&limits=default`);
      const limits = await page.evaluate(() => {
        const l = (document.querySelector('suite-app') as unknown as Shell).gpu.device.limits;
        return { storage: l.maxStorageBufferBindingSize, workgroup: l.maxComputeWorkgroupStorageSize, invocations: l.maxComputeInvocationsPerWorkgroup };
      });
      expect(limits).toEqual({ storage: 128 * 2 ** 20, workgroup: 16384, invocations: 256 });
      await demo.settle?.(page, route);
      // Progressive views (volume ray marching) fill in over a few frames.
      await expect.poll(async () => (await snapshotPng(page)).distinct, { message: route, timeout: 120_000 }).toBeGreaterThan(10);
      expect(await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { lastError: string | null }).lastError), route).toBeNull();
      await page.goto('about:blank');
    }
    expect(errors).toEqual([]);
  });
}

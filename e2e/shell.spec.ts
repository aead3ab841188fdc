import { expect, test } from '@playwright/test';
import { openDemo, snapshotPng, watchErrors } from './util.ts';

const DEMOS = [
  { route: 'gaussians', title: '4D Gaussian player' },
  { route: 'ngp', title: 'Neural graphics lab' },
  { route: 'nelf', title: 'Neural light field viewer' },
  { route: 'tryon', title: 'Try-on studio' },
];

test('home presents the four demos and the GPU panel shows the adapter @phone', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('./');
  for (const d of DEMOS) {
    const card = page.locator(`.card[data-route="${d.route}"]`);
    await expect(card).toBeVisible();
    await expect(card.locator('h2')).toHaveText(d.title);
    await expect(card.locator('.paper')).not.toBeEmpty();
  }
  const panel = page.locator('suite-home [data-testid="gpu-panel"]');
  await expect(panel.locator('.adapter')).toContainText(/\S+ \/ \S+/);
  const adapter = await panel.locator('.adapter').textContent();
  test.info().annotations.push({ type: 'adapter', description: adapter ?? '' });
  if (!process.env.GPU) await expect(panel.locator('.adapter')).toContainText('swiftshader');
  await expect(panel).toContainText('maxStorageBufferBindingSize');
  expect(errors).toEqual([]);
});

test('every route mounts; routes whose demo has not landed say so and link home @phone', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('./');
  for (const d of DEMOS) {
    await page.goto(`./#/${d.route}`);
    const demo = page.locator('[data-demo]');
    const pending = page.locator(`.demo-pending[data-route="${d.route}"]`);
    await expect(demo.or(pending)).toHaveCount(1);
    if (await pending.count()) {
      await expect(pending).toContainText('has not landed yet');
      await pending.getByRole('link', { name: 'Back to the suite' }).click();
      await expect(page.locator('suite-home')).toBeVisible();
    } else {
      await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { ready: Promise<void> }).ready);
    }
  }
  await page.goto('./#/no-such-page');
  await expect(page.locator('.notice')).toContainText('There is no page');
  await expect(page.locator('suite-home')).toBeVisible();
  expect(errors).toEqual([]);
});

for (const [name, script] of [
  ['no navigator.gpu', `Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });`],
  ['no adapter', `GPU.prototype.requestAdapter = async () => null;`],
  ['requestDevice fails', `GPUAdapter.prototype.requestDevice = async () => { throw new Error('refused for the test'); };`],
] as const) {
  test(`without WebGPU (${name}) the page explains what is missing @phone`, async ({ page }) => {
    const errors = watchErrors(page);
    await page.addInitScript(script);
    await page.goto('./#/selftest');
    await expect(page.locator('no-webgpu h1')).toHaveText('WebGPU is not available');
    await expect(page.locator('no-webgpu')).toContainText('chrome://flags/#enable-unsafe-webgpu');
    await expect(page.locator('canvas')).toHaveCount(0);
    expect(errors).toEqual([]);
  });
}

test('device loss: the suite re-acquires the device and the demo rebuilds', async ({ page }) => {
  const errors = watchErrors(page);
  await openDemo(page, '#/selftest?seed=5');
  const before = await page.evaluate(() => (document.querySelector('suite-app') as unknown as { gpu: { generation: number } }).gpu.generation);
  await page.evaluate(
    () =>
      new Promise<void>((resolve) => {
        const demo = document.querySelector('[data-demo]')!;
        demo.addEventListener('demo-ready', () => resolve(), { once: true });
        (document.querySelector('suite-app') as unknown as { gpu: { device: GPUDevice } }).gpu.device.destroy();
      }),
  );
  const after = await page.evaluate(() => ({
    generation: (document.querySelector('suite-app') as unknown as { gpu: { generation: number; lastLoss: string } }).gpu.generation,
    loss: (document.querySelector('suite-app') as unknown as { gpu: { lastLoss: string } }).gpu.lastLoss,
    lastError: (document.querySelector('[data-demo]') as unknown as { lastError: string | null }).lastError,
  }));
  expect(after.generation).toBe(before + 1);
  expect(after.loss).toContain('destroyed');
  expect(after.lastError).toBeNull();
  const shot = await snapshotPng(page);
  expect(shot.distinct).toBeGreaterThan(50);
  expect(errors).toEqual([]);
});

test('a file that no demo takes, dropped on the home page, gets a message naming what is accepted', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('./');
  await expect(page.locator('suite-home')).toBeVisible();
  const dataTransfer = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['just some notes, <b>not</b> a scene'], 'notes<img src=x onerror=alert(1)>.txt', { type: 'text/plain' }));
    return dt;
  });
  await page.dispatchEvent('suite-app', 'drop', { dataTransfer });
  const notice = page.locator('.notice');
  await expect(notice).toContainText('No demo opens notes<img src=x onerror=alert(1)>.txt');
  await expect(notice).toContainText('Accepted:');
  await expect(notice.locator('img')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('phone viewport: navigation and GPU panel reachable by touch @phone-only', async ({ page }) => {
  await page.goto('./');
  await page.locator('.card[data-route="ngp"] a').tap();
  await expect(page).toHaveURL(/#\/ngp$/);
  await page.locator('.gpu-toggle').tap();
  await expect(page.locator('.gpu-drawer [data-testid="gpu-panel"]')).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

test('the benchmark page lists its suites and can run one in the page @phone', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('./#/bench');
  await expect(page.locator('bench-page h1')).toHaveText('Benchmarks');
  await expect(page.locator('bench-page fieldset')).toContainText('GPU radix sort');
  await expect(page.locator('bench-page button.run')).toBeEnabled();
  expect(errors).toEqual([]);
});

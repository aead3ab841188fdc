import { expect, type Page } from '@playwright/test';

/** Collects uncaught page errors; tests assert the list stays empty. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/** Opens a route and waits for its demo element's `ready`. */
export async function openDemo(page: Page, hash: string): Promise<void> {
  await page.goto(`./${hash}`);
  await expect(page.locator('[data-demo]')).toHaveCount(1);
  await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { ready: Promise<void> }).ready);
}

/** The demo's snapshot() as a PNG (encoded in the page), plus simple pixel statistics. */
export async function snapshotPng(page: Page): Promise<{ png: Buffer; width: number; height: number; distinct: number; mean: number }> {
  const result = await page.evaluate(async () => {
    const demo = document.querySelector('[data-demo]') as unknown as { snapshot(): Promise<ImageData> };
    const image = await demo.snapshot();
    const canvas = new OffscreenCanvas(image.width, image.height);
    canvas.getContext('2d')!.putImageData(image, 0, 0);
    const blob = await canvas.convertToBlob({ type: 'image/png' });
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    const colours = new Set<number>();
    let sum = 0;
    for (let i = 0; i < image.data.length; i += 4) {
      colours.add((image.data[i] << 16) | (image.data[i + 1] << 8) | image.data[i + 2]);
      sum += image.data[i] + image.data[i + 1] + image.data[i + 2];
    }
    return { base64: btoa(binary), width: image.width, height: image.height, distinct: colours.size, mean: sum / (image.data.length * 0.75) };
  });
  return { png: Buffer.from(result.base64, 'base64'), width: result.width, height: result.height, distinct: result.distinct, mean: result.mean };
}

import { expect, test, type Page } from '@playwright/test';
import { NARROW_WIDTHS, syntheticGen, syntheticSafetensors, syntheticWarp } from '../tests/fixtures/dmvton-synthetic.ts';
import { chromiumArgs, chromiumPath } from '../tools/chromium.ts';
import { openDemo, snapshotPng, watchErrors } from './util.ts';

// SwiftShader is a CPU: the network runs at its reduced input 96x128 (W x H) here, with
// narrow random models written as safetensors with the official key names (deterministic).
const BASE = '#/tryon?input=96x128&size=96x128&model=none';

// Chromium's fake camera (a moving test pattern) granted without a prompt, in this spec only;
// the denied case replaces getUserMedia in its page.
test.use({ launchOptions: { executablePath: chromiumPath(), args: [...chromiumArgs(), '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] } });

interface TryOnStats {
  inferences?: number;
  inferenceMs?: number;
  model: { warp: string; gen: string };
  webcam?: string;
  gpuMs: Record<string, number>;
  view?: string;
}

const WARP = syntheticSafetensors(syntheticWarp(NARROW_WIDTHS, 11));
const GEN = syntheticSafetensors(syntheticGen(NARROW_WIDTHS, 12));

async function openBytes(page: Page, bytes: number[], name: string): Promise<string | null> {
  return page.evaluate(
    async ({ bytes, name }) => {
      const demo = document.querySelector('[data-demo]') as unknown as { open(f: File): Promise<void> };
      try {
        await demo.open(new File([new Uint8Array(bytes)], name));
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    },
    { bytes, name },
  );
}

async function stats(page: Page): Promise<TryOnStats> {
  return page.evaluate(() => JSON.parse(JSON.stringify((document.querySelector('[data-demo]') as unknown as { stats: unknown }).stats)) as TryOnStats);
}

async function gpuBytes(page: Page): Promise<number> {
  return page.evaluate(() => (document.querySelector('suite-app') as unknown as { gpu: { resources: { bytes: number } | null } }).gpu.resources?.bytes ?? -1);
}

async function withModel(page: Page): Promise<void> {
  await openDemo(page, BASE);
  expect(await openBytes(page, WARP, 'warp.safetensors')).toBeNull();
  expect(await openBytes(page, GEN, 'gen.safetensors')).toBeNull();
  const s = await stats(page);
  expect(s.model.warp).toMatch(/warp\.safetensors/);
  expect(s.model.gen).toMatch(/gen\.safetensors/);
}

/** Pixels (of RGB) that differ by more than 8 levels in any channel. */
async function differingPixels(page: Page, a: Buffer, b: Buffer): Promise<number> {
  return page.evaluate(
    async ({ a, b }) => {
      const read = async (b64: string) => {
        const bmp = await createImageBitmap(new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/png' }));
        const c = new OffscreenCanvas(bmp.width, bmp.height);
        const ctx = c.getContext('2d')!;
        ctx.drawImage(bmp, 0, 0);
        return ctx.getImageData(0, 0, bmp.width, bmp.height).data;
      };
      const [x, y] = [await read(a), await read(b)];
      let n = 0;
      for (let i = 0; i < x.length; i += 4) if (Math.max(Math.abs(x[i] - y[i]), Math.abs(x[i + 1] - y[i + 1]), Math.abs(x[i + 2] - y[i + 2])) > 8) n++;
      return n;
    },
    { a: a.toString('base64'), b: b.toString('base64') },
  );
}

test('try-on: checkpoints by key, default sample inputs render a deterministic try-on (golden), four timed stages', async ({ page }) => {
  const errors = watchErrors(page);
  await withModel(page);
  const shot = await snapshotPng(page);
  expect(shot.width).toBe(96);
  expect(shot.height).toBe(128);
  expect(shot.distinct).toBeGreaterThan(200);
  expect(shot.png).toMatchSnapshot('tryon-synthetic-96x128.png', { threshold: 0.05, maxDiffPixelRatio: 0.01 });
  await expect.poll(async () => Object.keys((await stats(page)).gpuMs).sort().join(',')).toContain('flow cascade');
  const s = await stats(page);
  for (const stage of ['person FPN', 'garment FPN', 'flow cascade', 'generator']) expect(Object.keys(s.gpuMs)).toContain(stage);
  expect(s.inferences).toBeGreaterThanOrEqual(1);
  console.info(`try-on 96x128 (narrow model) on this device: ${s.inferenceMs?.toFixed(0)} ms per inference; GPU ms ${JSON.stringify(s.gpuMs)}`);
  // The warped garment and edge views differ from the try-on.
  await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { setView(v: string): void }).setView('warped'));
  const warped = await snapshotPng(page);
  expect(await differingPixels(page, shot.png, warped.png)).toBeGreaterThan(500);
  await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { setView(v: string): void }).setView('edge'));
  const edge = await snapshotPng(page);
  expect(edge.distinct).toBeGreaterThan(2);
  expect(errors).toEqual([]);
});

test('try-on: the shipped demo model loads by default, is labelled as a demo model, and dresses the default sample (golden)', async ({ page }) => {
  const errors = watchErrors(page);
  await openDemo(page, '#/tryon?input=96x128&size=96x128');
  const s = await stats(page);
  expect(s.model.warp).toMatch(/^demo model \(trained by this project on procedurally drawn people and garments/);
  expect(s.model.gen).toBe(s.model.warp);
  await expect(page.locator('.tryon-notes')).toContainText('warp.safetensors: warp module loaded (safetensors, float16');
  await expect(page.locator('.tryon-notes')).toContainText(/held-out try-on PSNR \d+\.\d dB/);
  const shot = await snapshotPng(page);
  expect(shot.distinct).toBeGreaterThan(200);
  expect(shot.png).toMatchSnapshot('tryon-demo-model-96x128.png', { threshold: 0.05, maxDiffPixelRatio: 0.01 });
  // The network changed the picture: the try-on is not the input person.
  await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { setView(v: string): void }).setView('person'));
  const person = await snapshotPng(page);
  expect(await differingPixels(page, shot.png, person.png)).toBeGreaterThan(600);
  expect(errors).toEqual([]);
});

test('try-on: switching the garment changes the output; photos of odd sizes are cropped to 3:4; bad images are refused', async ({ page }) => {
  const errors = watchErrors(page);
  await withModel(page);
  const before = await snapshotPng(page);
  await page.locator('select[data-control="garment"]').selectOption('f1');
  const after = await snapshotPng(page);
  expect(await differingPixels(page, before.png, after.png)).toBeGreaterThan(300);

  // Odd-sized photos made in the page (a person-ish blob on grey, a garment on white).
  const note = await page.evaluate(async () => {
    const make = async (w: number, h: number, draw: (c: OffscreenCanvasRenderingContext2D) => void) => {
      const c = new OffscreenCanvas(w, h);
      const ctx = c.getContext('2d')!;
      draw(ctx);
      return c.convertToBlob({ type: 'image/png' });
    };
    const person = await make(333, 517, (c) => {
      c.fillStyle = '#ccc';
      c.fillRect(0, 0, 333, 517);
      c.fillStyle = '#a33';
      c.fillRect(90, 180, 150, 250);
      c.fillStyle = '#e0b090';
      c.beginPath();
      c.arc(166, 110, 50, 0, 7);
      c.fill();
    });
    const garment = await make(1000, 301, (c) => {
      c.fillStyle = '#fff';
      c.fillRect(0, 0, 1000, 301);
      c.fillStyle = '#2a6';
      c.fillRect(420, 40, 160, 220);
    });
    const demo = document.querySelector('[data-demo]') as unknown as { setInputs(i: object): Promise<void>; lastError: string | null; querySelectorAll(s: string): NodeListOf<HTMLElement> };
    await demo.setInputs({ person: new File([person], 'odd-person.png'), garment: new File([garment], 'wide-garment.png') });
    return { error: demo.lastError, captions: [...demo.querySelectorAll('figcaption')].map((f) => f.textContent ?? '') };
  });
  expect(note.error).toBeNull();
  expect(note.captions.join(' ')).toMatch(/odd-person\.png: 333x517, centre crop 333x444 at \(0, 36\) → 96x128/);
  expect(note.captions.join(' ')).toMatch(/wide-garment\.png: 1000x301, centre crop 226x301/);
  const photo = await snapshotPng(page);
  expect(await differingPixels(page, after.png, photo.png)).toBeGreaterThan(300);

  const refusals = await page.evaluate(async () => {
    const demo = document.querySelector('[data-demo]') as unknown as { setInputs(i: object): Promise<void> };
    const tiny = new OffscreenCanvas(1, 1);
    tiny.getContext('2d')!.fillRect(0, 0, 1, 1);
    const out: string[] = [];
    // A PNG that claims 20000x20000 (signature + IHDR; the decoder refuses it from the header).
    const huge = new Uint8Array(33);
    huge.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    new DataView(huge.buffer).setUint32(16, 20000);
    new DataView(huge.buffer).setUint32(20, 20000);
    huge.set([8, 6, 0, 0, 0], 24);
    const inputs = [
      { person: new File([await tiny.convertToBlob()], 'one.png') },
      { garment: new File([new Uint8Array([1, 2, 3, 4, 5])], 'junk.jpg') },
      { person: new File([huge], 'huge.png') },
    ];
    for (const input of inputs) {
      try {
        await demo.setInputs(input);
        out.push('accepted');
      } catch (e) {
        out.push((e as Error).message);
      }
    }
    return out;
  });
  expect(refusals[0]).toMatch(/one\.png: 1x1 is too small/);
  expect(refusals[1]).toMatch(/junk\.jpg: cannot be read as an image/);
  expect(refusals[2]).toMatch(/huge\.png: cannot be read as an image \(.*20000x20000 \(400 megapixels\)/);
  // Still working: the last good inputs give the same try-on.
  expect(await differingPixels(page, photo.png, (await snapshotPng(page)).png)).toBe(0);
  expect(errors).toEqual([]);
});

test('try-on: bad checkpoints give clear errors; the previous model keeps working and no GPU bytes leak', async ({ page }) => {
  const errors = watchErrors(page);
  await withModel(page);
  const good = await snapshotPng(page);
  const bytesBefore = await gpuBytes(page);
  expect(bytesBefore).toBeGreaterThan(0);
  const renamed = syntheticSafetensors(new Map([...syntheticGen(NARROW_WIDTHS, 12)].map(([k, v]) => [k === 'invres3.conv.6.weight' ? 'invres3.conv.6.weights' : k, v])));
  const missing = syntheticSafetensors(new Map([...syntheticWarp(NARROW_WIDTHS, 11)].filter(([k]) => k !== 'aflow_net.netMain.2.2.bias')));
  const foreign = syntheticSafetensors(new Map([['image_features.encoders.0.0.weight', { shape: [4, 3, 3, 3], toFloat32: () => new Float32Array(108) }]]));
  const cases: [number[], string, RegExp][] = [
    [WARP.slice(0, Math.floor(WARP.length / 2)), 'truncated.safetensors', /truncated\.safetensors: not a readable safetensors file/],
    [renamed, 'renamed.safetensors', /no 'invres3\.conv\.6\.weight' \(missing key\)/],
    [missing, 'missing.safetensors', /no 'aflow_net\.netMain\.2\.2\.bias' \(missing key\)/],
    [foreign, 'pfafn.safetensors', /not a DM-VTON student checkpoint: this looks like a PF-AFN/],
    [[0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4, 5, 6, 7, 8], 'broken.pt', /broken\.pt/],
    [[...new TextEncoder().encode('definitely not a checkpoint, just text')], 'notes.pt', /looks like a file of unknown type/],
  ];
  for (const [bytes, name, pattern] of cases) {
    const message = await openBytes(page, bytes, name);
    expect(message, name).toMatch(pattern);
    expect(await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { lastError: string | null }).lastError), name).toMatch(pattern);
  }
  const s = await stats(page);
  expect(s.model.warp).toMatch(/warp\.safetensors/);
  expect(s.model.gen).toMatch(/gen\.safetensors/);
  // Same output as before, and the same GPU bytes.
  expect(await differingPixels(page, good.png, (await snapshotPng(page)).png)).toBe(0);
  expect(await gpuBytes(page)).toBe(bytesBefore);
  // Loading a good checkpoint again replaces the part and frees the old one.
  expect(await openBytes(page, GEN, 'gen-again.safetensors')).toBeNull();
  await snapshotPng(page);
  expect(await gpuBytes(page)).toBe(bytesBefore);
  expect(errors).toEqual([]);
});

test('try-on: without camera permission the studio says so and keeps working', async ({ page }) => {
  const errors = watchErrors(page);
  await page.addInitScript(() => {
    Object.defineProperty(navigator.mediaDevices, 'getUserMedia', { value: () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError')) });
  });
  await withModel(page);
  const before = await snapshotPng(page);
  await page.locator('button[data-control="webcam"]').click();
  await expect(page.locator('.demo-error')).toContainText('Camera permission was denied. Photos and samples still work.');
  await expect.poll(async () => (await stats(page)).webcam).toBe('denied');
  await page.locator('select[data-control="garment"]').selectOption('f2');
  expect(await differingPixels(page, before.png, (await snapshotPng(page)).png)).toBeGreaterThan(300);
  expect(errors).toEqual([]);
});

test.describe('with a fake camera', () => {
  test('try-on: webcam frames go through the network continuously', async ({ page }) => {
    const errors = watchErrors(page);
    await withModel(page);
    const still = await snapshotPng(page);
    await page.locator('button[data-control="webcam"]').click();
    await expect.poll(async () => (await stats(page)).webcam).toBe('live');
    const start = (await stats(page)).inferences ?? 0;
    await expect.poll(async () => (await stats(page)).inferences ?? 0, { timeout: 120_000 }).toBeGreaterThanOrEqual(start + 3);
    const live = await snapshotPng(page);
    expect(await differingPixels(page, still.png, live.png)).toBeGreaterThan(300);
    await page.locator('button[data-control="webcam"]').click();
    await expect.poll(async () => (await stats(page)).webcam).toBe('off');
    expect(errors).toEqual([]);
  });
});

test('try-on on a phone: controls wrap, the canvas renders @phone', async ({ page }) => {
  const errors = watchErrors(page);
  await openDemo(page, '#/tryon?input=96x128&model=none&limits=default');
  expect(await openBytes(page, WARP, 'warp.safetensors')).toBeNull();
  expect(await openBytes(page, GEN, 'gen.safetensors')).toBeNull();
  const shot = await snapshotPng(page);
  expect(shot.distinct).toBeGreaterThan(50);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await expect(page.locator('button[data-control="webcam"]')).toBeVisible();
  expect(errors).toEqual([]);
});

test('try-on: after device loss the studio rebuilds with the checkpoints and inputs it had', async ({ page }) => {
  const errors = watchErrors(page);
  await withModel(page);
  await page.locator('select[data-control="garment"]').selectOption('d3');
  const before = await snapshotPng(page);
  await page.evaluate(
    () =>
      new Promise<void>((resolve) => {
        const demo = document.querySelector('[data-demo]')!;
        demo.addEventListener('demo-ready', () => resolve(), { once: true });
        requestAnimationFrame(() => (document.querySelector('suite-app') as unknown as { gpu: { device: GPUDevice } }).gpu.device.destroy());
      }),
  );
  const s = await stats(page);
  expect(s.model.warp).toMatch(/warp\.safetensors/);
  expect(s.model.gen).toMatch(/gen\.safetensors/);
  expect(await differingPixels(page, before.png, (await snapshotPng(page)).png)).toBe(0);
  expect(await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { lastError: string | null }).lastError)).toBeNull();
  expect(errors).toEqual([]);
});

test('try-on on a software adapter starts at 96x128 and says so', async ({ page }) => {
  const errors = watchErrors(page);
  await openDemo(page, '#/tryon?model=none');
  expect(await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as { stats: { input: string } }).stats.input)).toBe('96x128');
  await expect(page.locator('.tryon-notes')).toContainText('software GPU adapter was detected');
  expect(errors).toEqual([]);
});

import { expect, test, type Page } from '@playwright/test';
import { openDemo, snapshotPng, watchErrors } from './util.ts';

type Demo = HTMLElement & {
  stats: Record<string, unknown>;
  lastError: string | null;
  setTime(t: number): void;
  setCamera(pose: unknown): void;
  snapshot(): Promise<ImageData>;
  open(s: Blob | string): Promise<void>;
};

const FROZEN = '#/gaussians?seed=1&t=1&frames=2&size=160x120';

/** The frame at time t, as raw RGBA bytes (setTime renders one more frame even when frozen). */
async function frameAt(page: Page, t: number): Promise<Buffer> {
  const b64 = await page.evaluate(async (time) => {
    const demo = document.querySelector('[data-demo]') as unknown as Demo;
    demo.setTime(time);
    const image = await demo.snapshot();
    let s = '';
    for (let i = 0; i < image.data.length; i += 0x8000) s += String.fromCharCode(...image.data.subarray(i, i + 0x8000));
    return btoa(s);
  }, t);
  return Buffer.from(b64, 'base64');
}

function psnr(a: Buffer, b: Buffer): number {
  let mse = 0;
  for (let i = 0; i < a.length; i++) if (i % 4 !== 3) mse += ((a[i] - b[i]) / 255) ** 2;
  mse /= (a.length / 4) * 3;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}

test('default 4D scene renders, counts its Gaussians and matches the golden', async ({ page }) => {
  const errors = watchErrors(page);
  await openDemo(page, FROZEN);
  const stats = await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as Demo).stats);
  expect(stats.count as number).toBeGreaterThanOrEqual(200_000);
  await expect.poll(() => page.evaluate(() => (document.querySelector('[data-demo]') as unknown as Demo).stats.visible as number)).toBeGreaterThan(1000);
  const shot = await snapshotPng(page);
  expect(shot.distinct).toBeGreaterThan(500);
  expect(shot.png).toMatchSnapshot('gaussians-default-seed1-t1.png', { threshold: 0.1, maxDiffPixelRatio: 0.01 });
  const stages = Object.keys((await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as Demo).stats)).gpuMs as object);
  expect(stages.includes('sort') || stages.includes('submit (cpu)')).toBe(true);
  expect(errors).toEqual([]);
});

test('scrubbing time changes the picture; the loop is seamless (t=0 equals t=4)', async ({ page }) => {
  await openDemo(page, FROZEN);
  const differs = psnr(await frameAt(page, 0.5), await frameAt(page, 1.5));
  expect(differs).toBeLessThan(30);
  const loop = psnr(await frameAt(page, 0), await frameAt(page, 4));
  console.log(`t=0.5 vs 1.5: ${differs.toFixed(1)} dB; loop t=0 vs t=4: ${loop.toFixed(1)} dB`);
  expect(loop).toBeGreaterThan(38);
  await expect(page.locator('gaussians-demo input.time')).toBeVisible();
});

test('setCamera moves the view; the time slider scrubs', async ({ page }) => {
  await openDemo(page, FROZEN);
  const before = await snapshotPng(page);
  await page.evaluate(() => (document.querySelector('[data-demo]') as unknown as Demo).setCamera({ position: [3, 3, 3], target: [0, 0.8, 0], up: [0, 1, 0], fovYDeg: 40 }));
  await page.waitForTimeout(100);
  const after = await snapshotPng(page);
  expect(after.png.equals(before.png)).toBe(false);
  await page.locator('gaussians-demo input.time').fill('2.5');
  await expect.poll(() => page.evaluate(() => (document.querySelector('[data-demo]') as unknown as Demo).stats.t)).toBe(2.5);
});

test('bad scene files get clear errors, the previous scene stays, no GPU memory leaks', async ({ page }) => {
  const errors = watchErrors(page);
  await openDemo(page, FROZEN);
  const before = await snapshotPng(page);
  const live = () => page.evaluate(() => (document.querySelector('suite-app') as unknown as { gpu: { resources: { bytes: number } } }).gpu.resources.bytes);
  const baseline = await live();
  const messages = await page.evaluate(async () => {
    const demo = document.querySelector('[data-demo]') as unknown as Demo;
    const enc = new TextEncoder();
    const header = (n: number, props: string[]) => enc.encode(`ply\nformat binary_little_endian 1.0\nelement vertex ${n}\n${props.map((p) => `property float ${p}\n`).join('')}end_header\n`);
    const props = ['x', 'y', 'z', 'f_dc_0', 'f_dc_1', 'f_dc_2', 'opacity', 'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3'];
    const withBody = (h: Uint8Array, floats: number[]) => new Blob([h as BlobPart, new Float32Array(floats) as BlobPart]);
    const good = Array.from({ length: 14 * 2 }, () => 0.5);
    const nan = [...good];
    nan[3] = NaN;
    const cases: [string, Blob][] = [
      ['truncated.ply', withBody(header(2, props), good.slice(0, 20))],
      ['huge.ply', withBody(header(1_000_000_000, props), good)],
      ['missing.ply', withBody(header(2, props.filter((p) => p !== 'opacity')), good.slice(0, 26))],
      ['duplicate.ply', withBody(header(2, [...props.slice(0, 13), 'x']), good)],
      ['nan.ply', withBody(header(2, props), nan)],
      ['ascii.ply', new Blob(['ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n'])],
      ['notes.txt', new Blob(['hello'])],
    ];
    const out: string[] = [];
    for (const [name, blob] of cases) {
      try {
        await demo.open(new File([blob], name));
        out.push(`${name}: no error`);
      } catch (e) {
        out.push(`${name}: ${(e as Error).message}`);
      }
    }
    return out;
  });
  for (const m of messages) {
    expect(m).not.toContain('no error');
    console.log(m);
  }
  expect(messages.join('\n')).toMatch(/huge\.ply.*(10+|1,000,000,000|claims|more)/i);
  expect(messages.join('\n')).toMatch(/ascii\.ply.*ASCII/);
  expect(messages.join('\n')).toMatch(/nan\.ply.*(NaN|finite)/i);
  expect(await live()).toBe(baseline);
  const after = await snapshotPng(page);
  expect(after.png.equals(before.png)).toBe(true);
  expect(errors).toEqual([]);
});

test('a valid static .ply replaces the scene; count follows the file @phone', async ({ page }) => {
  await openDemo(page, '#/gaussians?seed=1&t=1&frames=2&size=120x90');
  const count = await page.evaluate(async () => {
    const demo = document.querySelector('[data-demo]') as unknown as Demo;
    const n = 500;
    const props = ['x', 'y', 'z', 'f_dc_0', 'f_dc_1', 'f_dc_2', 'opacity', 'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3'];
    const head = new TextEncoder().encode(`ply\nformat binary_little_endian 1.0\nelement vertex ${n}\n${props.map((p) => `property float ${p}\n`).join('')}end_header\n`);
    const body = new Float32Array(n * 14);
    for (let i = 0; i < n; i++) {
      const a = (i / n) * Math.PI * 2;
      body.set([Math.cos(a), Math.sin(a), (i % 7) * 0.05, 1, -1, 0.5, 2, -3, -3, -3, 1, 0, 0, 0], i * 14);
    }
    await demo.open(new File([head as BlobPart, body as BlobPart], 'ring.ply'));
    return demo.stats.count;
  });
  expect(count).toBe(500);
  await expect(page.locator('gaussians-demo input.time')).toHaveCount(0);
  const shot = await snapshotPng(page);
  expect(shot.distinct).toBeGreaterThan(20);
});

test('export: the 4D .ply round-trips; the static .ply baked at t opens in the player', async ({ page }) => {
  await openDemo(page, '#/gaussians?seed=1&t=1&frames=2&size=120x90');
  const result = await page.evaluate(async () => {
    const demo = document.querySelector('[data-demo]') as unknown as Demo & { exportScene(f: string): Promise<Uint8Array> };
    const count = demo.stats.count;
    const fourD = await demo.exportScene('4d-ply');
    const baked = await demo.exportScene('static-ply');
    await demo.open(new File([fourD as BlobPart], 'scene-4d.ply'));
    const reopened = demo.stats.count;
    await demo.open(new File([baked as BlobPart], 'scene-t1.ply'));
    return { count: count as number, reopened: reopened as number, bakedCount: demo.stats.count as number, header: new TextDecoder().decode(baked.slice(0, 200)) };
  });
  expect(result.reopened).toBe(result.count);
  expect(result.bakedCount).toBeGreaterThan(1000);
  expect(result.bakedCount).toBeLessThan(result.count);
  expect(result.header).toContain('property float f_dc_0');
});

test('#/gaussians?url= opens a scene from an http URL', async ({ page }) => {
  const props = ['x', 'y', 'z', 'f_dc_0', 'f_dc_1', 'f_dc_2', 'opacity', 'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3'];
  const n = 64;
  const head = Buffer.from(`ply\nformat binary_little_endian 1.0\nelement vertex ${n}\n${props.map((p) => `property float ${p}\n`).join('')}end_header\n`);
  const body = Buffer.alloc(n * 14 * 4);
  for (let i = 0; i < n; i++) [i / n - 0.5, 0, 0, 1, 1, 1, 3, -3, -3, -3, 1, 0, 0, 0].forEach((v, k) => body.writeFloatLE(v, (i * 14 + k) * 4));
  await page.route('**/assets-test/line.ply', (route) => route.fulfill({ body: Buffer.concat([head, body]), contentType: 'application/octet-stream' }));
  await openDemo(page, '#/gaussians?seed=1&t=1&frames=2&size=80x60&url=assets-test/line.ply');
  await expect.poll(() => page.evaluate(() => (document.querySelector('[data-demo]') as unknown as Demo).stats.count)).toBe(64);
});

test('phone: canvas sized for the device pixel ratio with a cap; touch orbit and pinch move the camera @phone-only', async ({ page }) => {
  await openDemo(page, '#/gaussians?seed=1&t=1');
  const sizes = await page.evaluate(() => {
    const c = document.querySelector('[data-demo] canvas') as HTMLCanvasElement;
    return { css: c.clientWidth, px: c.width, dpr: devicePixelRatio };
  });
  expect(sizes.dpr).toBe(3);
  expect(sizes.px).toBe(Math.round(sizes.css * 2));
  const cameraAfter = async (gesture: 'drag' | 'pinch') => {
    await page.evaluate((kind) => {
      const c = document.querySelector('[data-demo] canvas') as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      const at = (id: number, x: number, y: number, type: string) =>
        c.dispatchEvent(new PointerEvent(type, { pointerId: id, pointerType: 'touch', clientX: r.left + x, clientY: r.top + y, bubbles: true, isPrimary: id === 1 }));
      if (kind === 'drag') {
        at(1, 100, 100, 'pointerdown');
        at(1, 160, 110, 'pointermove');
        at(1, 160, 110, 'pointerup');
      } else {
        at(1, 100, 100, 'pointerdown');
        at(2, 200, 100, 'pointerdown');
        at(2, 260, 100, 'pointermove');
        at(1, 40, 100, 'pointermove');
        at(1, 40, 100, 'pointerup');
        at(2, 260, 100, 'pointerup');
      }
    }, gesture);
    await page.waitForTimeout(100);
    return (await snapshotPng(page)).png;
  };
  const start = (await snapshotPng(page)).png;
  const dragged = await cameraAfter('drag');
  expect(dragged.equals(start)).toBe(false);
  const pinched = await cameraAfter('pinch');
  expect(pinched.equals(dragged)).toBe(false);
  await expect(page.locator('gaussians-demo button.play')).toBeInViewport();
});

/**
 * The decode worker pool in a real browser: comlink round trips, image decoding with
 * downscaling, progress, cancellation by terminating the worker, recovery after errors and
 * crashes, queueing, destroy().
 */
import { afterAll, describe, expect, test } from 'vitest';
import { createDecodeWorker, liveWorkers, WorkerJobError, WorkerPool } from '../../src/workers/pool.ts';

const pool = new WorkerPool({ size: 2 });
const extraPools: WorkerPool[] = [];
const newPool = (...args: ConstructorParameters<typeof WorkerPool>): WorkerPool => {
  const p = new WorkerPool(...args);
  extraPools.push(p);
  return p;
};
afterAll(() => {
  pool.destroy();
  for (const p of extraPools) p.destroy();
});

/** A W x H PNG with four solid quadrants: red, green / blue, white. */
async function quadrantsPng(width: number, height: number): Promise<Blob> {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d')!;
  const hw = width / 2;
  const hh = height / 2;
  for (const [x, y, color] of [[0, 0, '#ff0000'], [hw, 0, '#00ff00'], [0, hh, '#0000ff'], [hw, hh, '#ffffff']] as const) {
    ctx.fillStyle = color;
    ctx.fillRect(x, y, hw, hh);
  }
  return canvas.convertToBlob({ type: 'image/png' });
}

function pixel(img: { width: number; pixels: Uint8ClampedArray }, x: number, y: number): number[] {
  const i = (y * img.width + x) * 4;
  return [...img.pixels.subarray(i, i + 4)];
}

/** Rejection of `promise`, failing the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const u32be = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const pngHeader = (w: number, h: number): Uint8Array =>
  Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...u32be(13), 0x49, 0x48, 0x44, 0x52, ...u32be(w), ...u32be(h), 8, 6, 0, 0, 0, 0, 0, 0, 0]);

describe('WorkerPool (decode worker)', () => {
  test('sniff round trip, with the input buffer transferred', async () => {
    const ply = new TextEncoder().encode('ply\nformat binary_little_endian 1.0\nelement vertex 1\n').buffer as ArrayBuffer;
    expect(await pool.run('sniff', [ply])).toBe('ply');
    expect(ply.byteLength).toBeGreaterThan(0); // copied, not transferred

    const head = pngHeader(4, 4).buffer as ArrayBuffer;
    expect(await pool.run('sniff', [head], { transfer: [head] })).toBe('png');
    expect(head.byteLength).toBe(0); // transferred (detached here)

    const splat = new ArrayBuffer(32 * 10);
    expect(await pool.run('sniff', [splat, 'scene.splat', undefined])).toBe('splat');
    expect(pool.live).toBeGreaterThan(0);
    expect(pool.live).toBeLessThanOrEqual(pool.size);
  });

  test('decodeImage: exact pixels at full size', async () => {
    const blob = await quadrantsPng(64, 32);
    const img = await pool.run('decodeImage', [blob, 1e6]);
    expect(img).toMatchObject({ width: 64, height: 32, scaled: false, originalWidth: 64, originalHeight: 32 });
    expect(img.pixels).toBeInstanceOf(Uint8ClampedArray);
    expect(img.pixels.length).toBe(64 * 32 * 4);
    expect(pixel(img, 0, 0)).toEqual([255, 0, 0, 255]);
    expect(pixel(img, 63, 0)).toEqual([0, 255, 0, 255]);
    expect(pixel(img, 0, 31)).toEqual([0, 0, 255, 255]);
    expect(pixel(img, 63, 31)).toEqual([255, 255, 255, 255]);
  });

  test('decodeImage: downscales to maxPixels keeping the aspect, reporting progress', async () => {
    const blob = await quadrantsPng(200, 100);
    const fractions: number[] = [];
    const img = await pool.run('decodeImage', [blob, 5000], { onProgress: (f) => fractions.push(f) });
    expect(img.scaled).toBe(true);
    expect(img.originalWidth).toBe(200);
    expect(img.originalHeight).toBe(100);
    expect(img.width * img.height).toBeLessThanOrEqual(5000);
    expect(img.width * img.height).toBeGreaterThan(4500);
    expect(img.width / img.height).toBeCloseTo(2, 1);
    expect(img.pixels.length).toBe(img.width * img.height * 4);
    expect(pixel(img, 2, 2)).toEqual([255, 0, 0, 255]);
    expect(pixel(img, img.width - 3, img.height - 3)).toEqual([255, 255, 255, 255]);
    expect(fractions.length).toBeGreaterThan(0);
  });

  test('decodeImage: clear errors for non-images, empty files, 0-sized and oversized images', async () => {
    const text = await rejection(pool.run('decodeImage', [new Blob(['just some text, not pixels'], { type: 'text/plain' }), 1e6]));
    expect(text).toBeInstanceOf(WorkerJobError);
    expect(text.message).toMatch(/^decodeImage: .*not an image/);

    const ply = await rejection(pool.run('decodeImage', [new File(['ply\nformat ascii 1.0\n'], 'scene.ply'), 1e6]));
    expect(ply.message).toMatch(/"scene\.ply" is a PLY .*not an image/);

    const empty = await rejection(pool.run('decodeImage', [new Blob([]), 1e6]));
    expect(empty.message).toMatch(/empty/);

    const zero = await rejection(pool.run('decodeImage', [new Blob([pngHeader(0, 5) as BlobPart]), 1e6]));
    expect(zero.message).toMatch(/0x5 image/);

    const huge = await rejection(pool.run('decodeImage', [new Blob([pngHeader(100_000, 100_000) as BlobPart]), 1e6]));
    expect(huge.message).toMatch(/100000x100000 .*megapixels/);

    const corrupt = await rejection(pool.run('decodeImage', [new Blob([pngHeader(8, 8) as BlobPart]), 1e6]));
    expect(corrupt.message).toMatch(/PNG .*could not be decoded/);

    const badMax = await rejection(pool.run('decodeImage', [await quadrantsPng(4, 4), 0]));
    expect(badMax.message).toMatch(/maxPixels/);
  });

  test('progress callbacks receive increasing fractions', async () => {
    const fractions: number[] = [];
    const loops = await pool.run('selfTest.spin', [300], { onProgress: (f) => fractions.push(f) });
    expect(loops).toBeGreaterThan(0);
    expect(fractions.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]);
    expect(fractions[fractions.length - 1]).toBeGreaterThan(fractions[0]);
    for (const f of fractions) expect(f >= 0 && f <= 1).toBe(true);
  });

  test('abort mid-job rejects with AbortError long before the job would end; the worker is replaced', async () => {
    const controller = new AbortController();
    let aborted = false;
    const job = pool.run('selfTest.spin', [60_000], {
      signal: controller.signal,
      onProgress: (f) => {
        if (f > 0 && !aborted) {
          aborted = true;
          controller.abort();
        }
      },
    });
    const error = await rejection(job);
    expect(error).toBeInstanceOf(DOMException);
    expect(error.name).toBe('AbortError');
    expect(error.message).toMatch(/selfTest\.spin/);
    expect(pool.live).toBeLessThanOrEqual(pool.size);
    expect(pool.busy).toBe(0);

    expect(await pool.run('sniff', [new TextEncoder().encode('ply\n').buffer as ArrayBuffer])).toBe('ply');
    expect(await pool.run('selfTest.spin', [10])).toBeGreaterThan(0);
    expect(pool.live).toBeLessThanOrEqual(pool.size);
  });

  test('abort of a queued job removes it without touching the running one', async () => {
    const single = newPool({ size: 1 });
    const running = single.run('selfTest.spin', [200]);
    const controller = new AbortController();
    const queued = single.run('selfTest.spin', [200], { signal: controller.signal });
    expect(single.queued).toBe(1);
    controller.abort(new Error('user closed the file'));
    const error = await rejection(queued);
    expect(error.name).toBe('AbortError');
    expect(error.message).toMatch(/user closed the file/);
    expect(await running).toBeGreaterThan(0);
    expect(single.live).toBe(1);
  });

  test('an already aborted signal rejects without starting a worker', async () => {
    const fresh = newPool({ size: 1 });
    const error = await rejection(fresh.run('sniff', [new ArrayBuffer(8)], { signal: AbortSignal.abort() }));
    expect(error.name).toBe('AbortError');
    expect(fresh.live).toBe(0);
    expect(fresh.queued).toBe(0);
  });

  test('a throwing method reports its message; the pool keeps working', async () => {
    const error = await rejection(pool.run('selfTest.fail', ['kaboom 42: bad header']));
    expect(error).toBeInstanceOf(WorkerJobError);
    expect(error.message).toBe('selfTest.fail: kaboom 42: bad header');
    expect((error as WorkerJobError).method).toBe('selfTest.fail');
    expect(await pool.run('selfTest.spin', [5])).toBeGreaterThan(0);
    expect(pool.live).toBeLessThanOrEqual(pool.size);
  });

  test('more concurrent jobs than workers all complete', async () => {
    const jobs: Promise<unknown>[] = [];
    let maxLive = 0;
    for (let i = 0; i < 7; i++) {
      jobs.push(pool.run('selfTest.spin', [40]));
      jobs.push(pool.run('sniff', [new Uint8Array([0xff, 0xd8, 0xff, 0xe0]).buffer]));
      maxLive = Math.max(maxLive, pool.live);
    }
    expect(pool.queued).toBeGreaterThan(0);
    const results = await Promise.all(jobs);
    expect(results.filter((r) => r === 'jpeg')).toHaveLength(7);
    expect(results.filter((r) => typeof r === 'number' && r > 0)).toHaveLength(7);
    expect(maxLive).toBeLessThanOrEqual(pool.size);
    expect(pool.queued).toBe(0);
    expect(pool.busy).toBe(0);
  });

  test('destroy() terminates every worker and rejects running and queued jobs', async () => {
    const doomed = newPool({ size: 2 });
    const jobs = [0, 1, 2, 3].map(() => rejection(doomed.run('selfTest.spin', [10_000])));
    expect(doomed.live).toBe(2);
    expect(doomed.queued).toBe(2);
    doomed.destroy();
    expect(doomed.live).toBe(0);
    const errors = await Promise.all(jobs);
    for (const e of errors) expect(e.message).toMatch(/destroyed/);
    expect((await rejection(doomed.run('sniff', [new ArrayBuffer(4)]))).message).toMatch(/destroyed/);
  });
});

describe('WorkerPool: dying workers', () => {
  test('a worker that crashes mid-job is replaced and its job rejects clearly', async () => {
    // First worker: accepts the message, then dies of an uncaught error; later ones are real.
    const crashing = () => {
      const source = 'self.onmessage = () => setTimeout(() => { throw new Error("decoder blew up") });';
      return new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
    };
    let made = 0;
    const p = newPool({ size: 1, factory: () => (made++ === 0 ? crashing() : createDecodeWorker()) });
    const error = await rejection(p.run('selfTest.spin', [10]));
    expect(error).toBeInstanceOf(WorkerJobError);
    expect(error.message).toMatch(/^selfTest\.spin: .*crashed.*decoder blew up/);
    expect(p.live).toBe(0);
    expect(await p.run('selfTest.spin', [5])).toBeGreaterThan(0);
    expect(p.live).toBe(1);
    expect(made).toBe(2);
  });

  test('a worker script that fails to load rejects the job instead of hanging', async () => {
    const broken = () => new Worker(URL.createObjectURL(new Blob(['this is not javascript ((('], { type: 'text/javascript' })), { type: 'module' });
    const p = newPool({ size: 1, factory: broken });
    const error = await rejection(p.run('sniff', [new ArrayBuffer(4)]));
    expect(error.message).toMatch(/^sniff: .*crashed/);
    expect(p.live).toBe(0);
  });
});

test('idle workers are terminated after the idle timeout, and counted page-wide', async () => {
  const before = liveWorkers.count;
  const idle = new WorkerPool({ size: 2, idleTimeoutMs: 400 });
  await Promise.all([idle.run('selfTest.spin', [5]), idle.run('selfTest.spin', [5])]);
  // Both finished; on a loaded machine the first may already have idled out.
  expect(idle.live).toBeGreaterThanOrEqual(1);
  expect(liveWorkers.count).toBe(before + idle.live);
  await new Promise((r) => setTimeout(r, 1500));
  expect(idle.live).toBe(0);
  expect(liveWorkers.count).toBe(before);
  await expect(idle.run('selfTest.spin', [1])).resolves.toBeGreaterThan(0);
  idle.destroy();
  expect(liveWorkers.count).toBe(before);
});

test('decodeImage under fuzzing: random bytes and mutated PNGs decode or fail with a clear error', async () => {
  const fc = await import('fast-check');
  const canvas = new OffscreenCanvas(24, 16);
  canvas.getContext('2d')!.fillRect(2, 2, 10, 8);
  const png = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
  const fuzz = new WorkerPool({ size: 1 });
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 256 }),
          fc.tuple(fc.integer({ min: 0, max: png.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 8, max: png.length })).map(([at, byte, cut]) => {
            const m = png.slice(0, cut);
            if (at < m.length) m[at] = byte;
            return m;
          }),
        ),
        async (bytes) => {
          try {
            const image = await fuzz.run('decodeImage', [new Blob([bytes as BlobPart]), 1 << 20]);
            expect(image.pixels.length).toBe(image.width * image.height * 4);
          } catch (e) {
            expect(e).toBeInstanceOf(WorkerJobError);
            expect((e as Error).message).toMatch(/^decodeImage: .{10,}/);
          }
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  } finally {
    fuzz.destroy();
  }
});

import { expect, test } from 'vitest';
import { adaptiveSample, median, mergeReports, ratioOf, row, toMarkdown, type BenchRow } from '../../src/app/bench/harness.ts';
import { coverageOf, imagePsnr } from '../../src/app/bench/peers/peer-runner.ts';

test('median of odd and even samples', () => {
  expect(median([3, 1, 2])).toBe(2);
  expect(median([4, 1, 3, 2])).toBe(2.5);
});

test('ratios compare each peer with ours in the same case; markdown has every row', () => {
  const rows: BenchRow[] = [
    row('sort', '2^20', 'ours', true, [10, 12, 11]),
    row('sort', '2^20', 'peer', false, [30, 33, 36]),
    row('sort', '2^22', 'peer', false, [1]),
  ];
  expect(ratioOf(rows[1], rows)).toBeCloseTo(3);
  expect(ratioOf(rows[0], rows)).toBeNull();
  expect(ratioOf(rows[2], rows)).toBeNull();
  const md = toMarkdown({ date: 'd', userAgent: 'ua', adapter: null, rows });
  expect(md).toContain('| 2^20 | peer | 33.00 | 30.00 |');
  expect(md).toContain('3.00x');
  expect(md.split('\n').filter((l) => l.startsWith('| 2^')).length).toBe(3);
});

test('a partial run replaces the suites it ran and keeps the others with their dates', () => {
  const r = (suite: string, ms: number): BenchRow => ({ suite, case: 'c', impl: 'ours', ours: true, medianMs: ms, minMs: ms, samples: 1 });
  const setup = { userAgent: 'ua', adapter: null };
  const earlier = { ...setup, date: 'd1', rows: [r('sort', 1), r('splats', 2)] };
  const merged = mergeReports(earlier, { ...setup, date: 'd2', rows: [r('splats', 3)] });
  expect(merged.rows.map((x) => [x.suite, x.medianMs])).toEqual([['sort', 1], ['splats', 3]]);
  expect(merged.suiteDates).toEqual({ splats: 'd2', sort: 'd1' });
  expect(toMarkdown(merged)).toContain('Run d1');
  // Another browser's results never mix with these.
  expect(mergeReports({ ...earlier, userAgent: 'other' }, { ...setup, date: 'd2', rows: [r('splats', 3)] }).rows).toHaveLength(1);
});

test('adaptiveSample: one unmeasured warm-up, then reps within the bounds the budget allows', async () => {
  const signal = new AbortController().signal;
  let calls = 0;
  const fn = async () => {
    calls++;
    await new Promise((r) => setTimeout(r, 2));
  };
  const roomy = await adaptiveSample(fn, signal, { budgetMs: 60_000, minReps: 2, maxReps: 5 });
  expect([roomy.samples.length, calls]).toEqual([5, 6]);
  calls = 0;
  const tight = await adaptiveSample(fn, signal, { budgetMs: 0, minReps: 3, maxReps: 9 });
  expect([tight.samples.length, calls]).toEqual([3, 4]);
  // A warm-up slower than slowMs takes one rep fewer than minReps.
  const slow = await adaptiveSample(fn, signal, { budgetMs: 0, minReps: 3, maxReps: 9, slowMs: 0 });
  expect(slow.samples.length).toBe(2);
  expect(slow.warmMs).toBeGreaterThan(0);
});

test('splat viewer captures: coverage counts lit pixels, PSNR compares RGB only and needs equal sizes', () => {
  const image = (w: number, h: number, rgb: number[]) => ({ width: w, height: h, rgba: Uint8ClampedArray.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : rgb[i % 4])) });
  const black = image(4, 2, [0, 0, 0]);
  const grey = image(4, 2, [10, 10, 10]);
  expect(coverageOf(black)).toBe(0);
  expect(coverageOf(image(4, 2, [0, 13, 0]))).toBe(1);
  expect(imagePsnr(grey, grey)).toBe(Infinity);
  // MSE 100 on every channel: 10·log10(255² / 100).
  expect(imagePsnr(black, grey)).toBeCloseTo(10 * Math.log10(65025 / 100), 10);
  expect(imagePsnr(black, image(2, 4, [0, 0, 0]))).toBeNaN();
});

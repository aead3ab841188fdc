import { expect, test } from 'vitest';
import { median, ratioOf, row, toMarkdown, type BenchRow } from '../../src/app/bench/harness.ts';

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

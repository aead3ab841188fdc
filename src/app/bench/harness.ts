/**
 * Benchmark plumbing shared by the #/bench page and `npm run bench`: suites return rows
 * of timings, rows of one case are compared as ratios against our implementation.
 */
import type { GpuInfo } from '../../gpu/device.ts';
import { GpuProfiler } from '../../gpu/profiler.ts';

export interface BenchRow {
  suite: string;
  /** What is measured, e.g. "2^20 pairs". */
  case: string;
  /** Who ran it: 'ours' or a peer's name. */
  impl: string;
  ours: boolean;
  medianMs: number;
  minMs: number;
  samples: number;
  /** Optional GPU-only milliseconds (timestamp queries). */
  gpuMs?: number;
  note?: string;
}

export interface BenchContext {
  device: GPUDevice;
  signal: AbortSignal;
  progress(fraction: number, label: string): void;
}

export interface BenchSuite {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<BenchRow[]>;
}

export interface BenchReport {
  date: string;
  userAgent: string;
  adapter: GpuInfo | null;
  rows: BenchRow[];
  /** When each suite last ran, where a report merges runs of different suites. */
  suiteDates?: Record<string, string>;
}

/**
 * A run of some suites laid over an earlier report: the suites it ran replace theirs, the
 * others stay with the date they ran. Only reports from the same adapter and browser merge.
 */
export function mergeReports(earlier: BenchReport | null, latest: BenchReport): BenchReport {
  const ran = new Set(latest.rows.map((r) => r.suite));
  const dates: Record<string, string> = {};
  for (const suite of ran) dates[suite] = latest.date;
  const sameSetup = earlier && earlier.userAgent === latest.userAgent && JSON.stringify(earlier.adapter) === JSON.stringify(latest.adapter);
  if (!earlier || !sameSetup) return { ...latest, suiteDates: dates };
  const kept = earlier.rows.filter((r) => !ran.has(r.suite));
  for (const r of kept) dates[r.suite] ??= earlier.suiteDates?.[r.suite] ?? earlier.date;
  return { ...latest, rows: [...kept, ...latest.rows], suiteDates: dates };
}

export interface AdaptiveOptions {
  /** Wall-clock budget of the timed reps (their count adapts to the warm-up time). */
  budgetMs: number;
  minReps: number;
  maxReps: number;
  /** A warm-up slower than this takes one rep fewer than minReps (at least 1). */
  slowMs?: number;
}

/** Times `fn` after one unmeasured warm-up: as many reps as fit the budget, within the bounds. */
export async function adaptiveSample(fn: () => Promise<void>, signal: AbortSignal, o: AdaptiveOptions): Promise<{ samples: number[]; warmMs: number }> {
  const t0 = performance.now();
  await fn(); // warm-up: pipelines, first allocations, sessions' first run
  const warmMs = performance.now() - t0;
  const minReps = Math.max(1, warmMs > (o.slowMs ?? Infinity) ? o.minReps - 1 : o.minReps);
  const reps = Math.max(minReps, Math.min(o.maxReps, Math.floor(o.budgetMs / Math.max(1, warmMs))));
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    signal.throwIfAborted();
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return { samples, warmMs };
}

export interface GpuTiming {
  samples: number[];
  /** Sum of the profiler's stages of the last run (timestamp queries only). */
  gpuMs?: number;
  stages: Record<string, number>;
}

/**
 * Times GPU work with adaptiveSample: each run records into one encoder (stages timed by the
 * profiler: `given`, or one made and destroyed here), submits and waits for the queue.
 */
export async function timeGpu(
  device: GPUDevice,
  signal: AbortSignal,
  record: (encoder: GPUCommandEncoder, profiler: GpuProfiler) => void,
  o: AdaptiveOptions,
  given?: GpuProfiler,
): Promise<GpuTiming> {
  const profiler = given ?? new GpuProfiler(device, 1);
  try {
    const { samples } = await adaptiveSample(
      async () => {
        const encoder = device.createCommandEncoder();
        record(encoder, profiler);
        const after = profiler.finish(encoder);
        device.queue.submit([encoder.finish()]);
        after();
        await device.queue.onSubmittedWorkDone();
      },
      signal,
      o,
    );
    // The profiler's readback resolves a moment after the queue.
    await new Promise((r) => setTimeout(r, 30));
    const stages = { ...profiler.stages };
    const values = Object.values(stages);
    return { samples, gpuMs: profiler.hasTimestamps && values.length ? values.reduce((a, b) => a + b, 0) : undefined, stages };
  } finally {
    if (!given) profiler.destroy();
  }
}

/** Runs `fn` `warmup` times unmeasured, then `reps` times; returns the samples in ms. */
export async function sample(fn: () => Promise<void> | void, reps: number, warmup = 1, signal?: AbortSignal): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    signal?.throwIfAborted();
    const start = performance.now();
    await fn();
    out.push(performance.now() - start);
  }
  return out;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function row(suite: string, caseName: string, impl: string, ours: boolean, samples: number[], extra: Partial<BenchRow> = {}): BenchRow {
  return { suite, case: caseName, impl, ours, medianMs: median(samples), minMs: Math.min(...samples), samples: samples.length, ...extra };
}

/** Peer time over our time for every peer row (>1 means we are faster). */
export function ratioOf(row: BenchRow, rows: BenchRow[]): number | null {
  if (row.ours) return null;
  const ours = rows.find((r) => r.ours && r.suite === row.suite && r.case === row.case);
  return ours ? row.medianMs / ours.medianMs : null;
}

export function toMarkdown(report: BenchReport): string {
  const a = report.adapter;
  const lines = [
    `Adapter: ${a ? `${a.vendor} / ${a.architecture}${a.description ? ` (${a.description})` : ''}` : 'unknown'}  `,
    `Browser: ${report.userAgent}  `,
    `Date: ${report.date}`,
    '',
  ];
  const suites = [...new Set(report.rows.map((r) => r.suite))];
  for (const suite of suites) {
    const rows = report.rows.filter((r) => r.suite === suite);
    lines.push(`### ${suite}`, '');
    if (report.suiteDates?.[suite]) lines.push(`Run ${report.suiteDates[suite]}`, '');
    lines.push('| case | implementation | median ms | min ms | GPU ms | runs | peer / ours |', '|---|---|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      const ratio = ratioOf(r, rows);
      lines.push(
        `| ${r.case} | ${r.impl}${r.note ? ` (${r.note})` : ''} | ${r.medianMs.toFixed(2)} | ${r.minMs.toFixed(2)} | ${r.gpuMs === undefined ? '' : r.gpuMs.toFixed(2)} | ${r.samples} | ${ratio === null ? '—' : `${ratio.toFixed(2)}x`} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

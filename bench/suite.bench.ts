import { test } from '@playwright/test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mergeReports, toMarkdown, type BenchReport } from '../src/app/bench/harness.ts';

// Runs every suite of the #/bench page in one browser session and writes
// bench/results.json and bench/RESULTS.md. Never part of `npm test`: timings are reported, not asserted.
test('benchmarks', async ({ page }) => {
  page.on('console', (m) => console.log(`[page] ${m.text()}`));
  await page.goto('./#/bench');
  const only = process.env.BENCH ? process.env.BENCH.split(',') : undefined;
  // The element class may be defined (a shared chunk) before the route renders the element.
  await page.waitForSelector('bench-page', { state: 'attached' });
  const fresh = await page.evaluate(async (names) => {
    await customElements.whenDefined('bench-page');
    const el = document.querySelector('bench-page') as unknown as { run(names?: string[]): Promise<BenchReport> };
    return el.run(names);
  }, only);
  const dir = fileURLToPath(new URL('.', import.meta.url));
  // BENCH=a,b refreshes those suites and keeps the others' last results.
  const earlier = only && existsSync(`${dir}/results.json`) ? (JSON.parse(readFileSync(`${dir}/results.json`, 'utf8')) as BenchReport) : null;
  const report = mergeReports(earlier, fresh);
  const md = `# Benchmark results\n\nLatest headless run of \`npm run bench\`. Timings on a software adapter (SwiftShader) say how the code scales and compare implementations side by side in one run; they are not GPU speeds.\n\n${toMarkdown(report)}\n`;
  writeFileSync(`${dir}/results.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${dir}/RESULTS.md`, md);
  console.log(md);
});

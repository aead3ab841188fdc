import { test } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toMarkdown, type BenchReport } from '../src/app/bench/harness.ts';

// Runs every suite of the #/bench page in one browser session and writes
// bench/results.json and bench/RESULTS.md. Never part of `npm test`: timings are reported, not asserted.
test('benchmarks', async ({ page }) => {
  page.on('console', (m) => console.log(`[page] ${m.text()}`));
  await page.goto('./#/bench');
  const only = process.env.BENCH ? process.env.BENCH.split(',') : undefined;
  const report = await page.evaluate(async (names) => {
    await customElements.whenDefined('bench-page');
    const el = document.querySelector('bench-page') as unknown as { run(names?: string[]): Promise<BenchReport> };
    return el.run(names);
  }, only);
  const dir = fileURLToPath(new URL('.', import.meta.url));
  writeFileSync(`${dir}/results.json`, JSON.stringify(report, null, 2) + '\n');
  const md = `# Benchmark results\n\nLatest headless run of \`npm run bench\`. Timings on a software adapter (SwiftShader) say how the code scales and compare implementations side by side in one run; they are not GPU speeds.\n\n${toMarkdown(report)}\n`;
  writeFileSync(`${dir}/RESULTS.md`, md);
  console.log(md);
});

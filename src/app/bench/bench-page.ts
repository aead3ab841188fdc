import { ContextConsumer } from '@lit/context';
import { LitElement, html, nothing } from 'lit';
import { gpuContext } from '../../ui/gpu-context.ts';
import '../../ui/progress-bar.ts';
import { ratioOf, toMarkdown, type BenchReport, type BenchSuite } from './harness.ts';
import { gaussiansBench } from './gaussians-bench.ts';
import { ngpBench } from './ngp-bench.ts';
import { nelfBench } from './nelf-bench.ts';
import { sortBench } from './sort-bench.ts';
import { splatBench } from './splat-bench.ts';
import { tryonBench } from './tryon-bench.ts';

/** Every benchmark suite; `npm run bench` runs the same list headless. */
export const SUITES: BenchSuite[] = [sortBench, gaussiansBench, splatBench, ngpBench, nelfBench, tryonBench];

/**
 * #/bench: runs the suite's benchmarks on this browser and GPU, ours beside the peers,
 * and shows ms per case as bars plus a table to copy as markdown.
 */
export class BenchPage extends LitElement {
  static override properties = { report: { state: true }, progress: { state: true }, error: { state: true }, selected: { state: true } };
  declare report: BenchReport | null;
  declare progress: { fraction: number; label: string } | null;
  declare error: string | null;
  declare selected: Set<string>;
  private readonly gpu = new ContextConsumer(this, { context: gpuContext });
  private controller: AbortController | null = null;

  constructor() {
    super();
    this.report = null;
    this.progress = null;
    this.error = null;
    this.selected = new Set(SUITES.map((s) => s.name));
  }

  protected override createRenderRoot() {
    return this;
  }

  /** Runs the chosen suites (all by default) and resolves with the report. */
  async run(names: string[] = [...this.selected]): Promise<BenchReport> {
    this.controller?.abort();
    const controller = (this.controller = new AbortController());
    const gpu = this.gpu.value;
    if (!gpu) throw new Error('No GPU context');
    const device = await gpu.acquire();
    const report: BenchReport = { date: new Date().toISOString(), userAgent: navigator.userAgent, adapter: gpu.info, rows: [] };
    this.report = report;
    this.error = null;
    const suites = SUITES.filter((s) => names.includes(s.name));
    try {
      for (const [i, suite] of suites.entries()) {
        const rows = await suite.run({
          device,
          signal: controller.signal,
          progress: (f, label) => (this.progress = { fraction: (i + f) / suites.length, label }),
        });
        report.rows.push(...rows);
        this.report = { ...report };
      }
      return report;
    } catch (e) {
      this.error = (e as Error).message;
      throw e;
    } finally {
      this.progress = null;
      this.controller = null;
    }
  }

  override render() {
    const rows = this.report?.rows ?? [];
    const max = Math.max(1e-9, ...rows.map((r) => r.medianMs));
    return html`
      <section class="bench">
        <h1>Benchmarks</h1>
        <p>Ours and the peers a user would pick instead, on this browser and GPU, in one run. Ratios are peer time over ours (above 1: we are faster).</p>
        <fieldset>
          <legend>Suites</legend>
          ${SUITES.map(
            (s) => html`<label><input type="checkbox" .checked=${this.selected.has(s.name)} @change=${(e: Event) => this.toggle(s.name, (e.target as HTMLInputElement).checked)} /> ${s.title}</label>`,
          )}
        </fieldset>
        <button class="run" ?disabled=${this.progress !== null} @click=${() => this.run().catch(() => undefined)}>Run</button>
        ${this.progress ? html`<suite-progress .fraction=${this.progress.fraction} .label=${this.progress.label} cancellable @cancel=${() => this.controller?.abort()}></suite-progress>` : nothing}
        ${this.error ? html`<p class="demo-error" role="alert">${this.error}</p>` : nothing}
        ${rows.length
          ? html`
              <div class="bench-bars">
                ${rows.map(
                  (r) => html`<div class="bench-bar ${r.ours ? 'ours' : ''}"><span>${r.case} · ${r.impl}</span><div style="width:${(100 * r.medianMs) / max}%"></div><b>${r.medianMs.toFixed(1)} ms${r.ours ? '' : ` (${ratioOf(r, rows)?.toFixed(2) ?? '—'}x)`}</b></div>`,
                )}
              </div>
              <button @click=${() => navigator.clipboard.writeText(toMarkdown(this.report!))}>Copy as markdown</button>
              <pre class="bench-markdown">${toMarkdown(this.report!)}</pre>
            `
          : nothing}
      </section>
    `;
  }

  private toggle(name: string, on: boolean) {
    const next = new Set(this.selected);
    if (on) next.add(name);
    else next.delete(name);
    this.selected = next;
  }
}

customElements.define('bench-page', BenchPage);
declare global {
  interface HTMLElementTagNameMap { 'bench-page': BenchPage }
}

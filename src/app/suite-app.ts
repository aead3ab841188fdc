import { ContextProvider } from '@lit/context';
import { LitElement, html, nothing, type TemplateResult } from 'lit';
import { FILE_KIND_LABELS, SNIFF_BYTES, sniffFile } from '../formats/sniff.ts';
import { GpuContext } from '../gpu/device.ts';
import { liveWorkers } from '../workers/pool.ts';
import type { DemoElement } from '../ui/demo-base.ts';
import { gpuContext } from '../ui/gpu-context.ts';
import { parseRunParams, routeOf } from '../ui/params.ts';
import { ROUTES, findRoute, type RouteInfo } from './routes.ts';
import './home-page.ts';
import './no-webgpu.ts';
import './gpu-panel.ts';

/**
 * The suite shell: hash router, the page's one GpuContext (shared with demos through
 * @lit/context), the no-WebGPU page, the GPU panel, and routing of dropped files.
 * Renders into light DOM so `document.querySelector('[data-demo]')` finds the demo.
 */
export class SuiteApp extends LitElement {
  static override properties = { route: { state: true }, notice: { state: true }, unavailable: { state: true }, showGpu: { state: true }, loadError: { state: true } };
  declare route: string;
  declare notice: string | null;
  declare unavailable: GpuContext['unavailable'];
  declare showGpu: boolean;
  declare loadError: string | null;

  readonly gpu = new GpuContext({ defaultLimits: parseRunParams(location.search, location.hash).all.get('limits') === 'default' });
  private readonly provider = new ContextProvider(this, { context: gpuContext, initialValue: this.gpu });
  private noticeTimer = 0;

  constructor() {
    super();
    this.route = routeOf(location.hash).route;
    this.notice = null;
    this.unavailable = null;
    this.showGpu = false;
    this.loadError = null;
    void this.provider;
  }

  protected override createRenderRoot() {
    return this;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('hashchange', this.onHash);
    window.addEventListener('dragover', this.onDragOver);
    window.addEventListener('drop', this.onDrop);
    this.gpu.addEventListener('unavailable', () => (this.unavailable = this.gpu.unavailable));
    this.gpu.addEventListener('device', () => this.requestUpdate());
    this.gpu.acquire().catch((e: Error) => {
      this.unavailable = this.gpu.unavailable;
      if (!this.unavailable) this.say(`GPU error: ${e.message}`);
    });
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('hashchange', this.onHash);
    window.removeEventListener('dragover', this.onDragOver);
    window.removeEventListener('drop', this.onDrop);
  }

  /** Workers alive in the page (all pools), for diagnostics and hygiene tests. */
  get liveWorkers(): number {
    return liveWorkers.count;
  }

  /** The mounted demo element, if the route has one. */
  get demo(): DemoElement | null {
    return this.querySelector<DemoElement>('[data-demo]');
  }

  private readonly onHash = () => {
    const next = routeOf(location.hash).route;
    if (next !== this.route) {
      this.route = next;
      this.mounted = null;
      this.loadError = null;
    }
  };

  private readonly onDragOver = (e: DragEvent) => e.preventDefault();

  private readonly onDrop = (e: DragEvent) => {
    e.preventDefault();
    const file = e.dataTransfer?.files[0];
    if (file) void this.openAnywhere(file);
  };

  /** A file dropped on the page goes to the current demo, or from home to the demo that takes it. */
  async openAnywhere(file: File): Promise<void> {
    const demo = this.demo;
    if (demo) {
      await demo.open(file).catch(() => undefined); // the demo shows its own error
      return;
    }
    const kind = sniffFile(new Uint8Array(await file.slice(0, SNIFF_BYTES).arrayBuffer()), file.name, file.size);
    const target = ROUTES.find((r) => r.element && !r.diagnostic && r.accepts.includes(kind));
    if (!target) {
      const accepted = ROUTES.filter((r) => r.element && !r.diagnostic)
        .map((r) => `${r.title}: ${r.accepts.map((k) => FILE_KIND_LABELS[k]).join(', ')}`)
        .join('; ');
      this.say(`No demo opens ${file.name} (${kind === 'unknown' ? 'unrecognised content' : FILE_KIND_LABELS[kind]}). Accepted: ${accepted || 'no demo has landed yet'}.`);
      return;
    }
    location.hash = `#/${target.name}`;
    await this.updateComplete;
    await customElements.whenDefined(target.element!.tag);
    await this.updateComplete;
    const opened = this.querySelector<DemoElement>('[data-demo]');
    await opened?.open(file).catch(() => undefined);
  }

  private say(message: string): void {
    this.notice = message;
    window.clearTimeout(this.noticeTimer);
    this.noticeTimer = window.setTimeout(() => (this.notice = null), 12_000);
  }

  override render(): TemplateResult {
    if (this.unavailable) {
      return html`<no-webgpu .missing=${this.unavailable.missing} .detail=${this.unavailable.message}></no-webgpu>`;
    }
    const info = findRoute(this.route);
    return html`
      <header class="suite-header">
        <a class="brand" href="#/">Neural graphics suite</a>
        <nav>
          ${ROUTES.filter((r) => !r.diagnostic).map((r) => html`<a href="#/${r.name}" aria-current=${r.name === this.route ? 'page' : 'false'}>${r.title}</a>`)}
        </nav>
        <button class="gpu-toggle" aria-expanded=${this.showGpu} @click=${() => (this.showGpu = !this.showGpu)}>GPU</button>
      </header>
      ${this.showGpu ? html`<div class="gpu-drawer"><gpu-panel .gpu=${this.gpu}></gpu-panel></div>` : nothing}
      ${this.notice ? html`<div class="notice" role="status">${this.notice}<button aria-label="Dismiss" @click=${() => (this.notice = null)}>×</button></div>` : nothing}
      <main class="suite-main">${this.renderRoute(info)}</main>
    `;
  }

  private renderRoute(info: RouteInfo | undefined): TemplateResult {
    if (this.route === '' || !info) {
      return html`${this.route && !info ? html`<p class="notice">There is no page “${this.route}”. <a href="#/">Back to the suite</a></p>` : nothing}<suite-home .gpu=${this.gpu}></suite-home>`;
    }
    if (!info.element) {
      return html`
        <section class="demo-pending" data-route=${info.name}>
          <h1>${info.title}</h1>
          <p class="paper">${info.paper}</p>
          <p>${info.blurb}</p>
          <p><b>This demo has not landed yet.</b> It is being built; the other pages of the suite work.</p>
          <p><a href="#/">Back to the suite</a></p>
        </section>
      `;
    }
    if (this.loadError) return html`<p class="demo-error" role="alert">${this.loadError}</p>`;
    const { tag, load } = info.element;
    if (!customElements.get(tag)) {
      load().then(
        () => this.requestUpdate(),
        (e: Error) => (this.loadError = `Could not load the ${info.title}: ${e.message}`),
      );
      return html`<p class="loading">Loading ${info.title}…</p>`;
    }
    // One element per route visit: a new visit builds a fresh demo, the old one tears down.
    if (this.mounted?.name !== info.name) {
      const el = document.createElement(tag);
      if (!info.page) {
        el.dataset.demo = info.name;
        el.classList.add('demo');
      }
      this.mounted = { name: info.name, el };
    }
    return html`${this.mounted.el}`;
  }

  private mounted: { name: string; el: HTMLElement } | null = null;
}

customElements.define('suite-app', SuiteApp);
declare global {
  interface HTMLElementTagNameMap { 'suite-app': SuiteApp }
}

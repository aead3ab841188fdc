import { LitElement, html, nothing } from 'lit';
import type { GpuContext } from '../gpu/device.ts';

/** Limits that decide what the demos can hold, shown in the panel. */
const SHOWN_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxTextureDimension2D',
];

function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Adapter, features, limits that matter, live GPU memory and device generation. */
export class GpuPanel extends LitElement {
  static override properties = { gpu: { attribute: false } };
  declare gpu: GpuContext | null;
  private timer = 0;
  private readonly refresh = () => this.requestUpdate();

  constructor() {
    super();
    this.gpu = null;
  }

  protected override createRenderRoot() {
    return this;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.timer = window.setInterval(this.refresh, 1000);
    this.gpu?.addEventListener('device', this.refresh);
    this.gpu?.addEventListener('lost', this.refresh);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.clearInterval(this.timer);
    this.gpu?.removeEventListener('device', this.refresh);
    this.gpu?.removeEventListener('lost', this.refresh);
  }

  override render() {
    const info = this.gpu?.info;
    if (!info) return html`<section class="gpu-panel"><h2>GPU</h2><p>${this.gpu?.unavailable?.message ?? 'Acquiring a device…'}</p></section>`;
    const res = this.gpu?.resources;
    return html`
      <section class="gpu-panel" data-testid="gpu-panel">
        <h2>GPU</h2>
        <dl>
          <dt>Adapter</dt><dd class="adapter">${info.vendor} / ${info.architecture}${info.device ? ` (${info.device})` : ''}${info.isFallbackAdapter ? ' (fallback)' : ''}</dd>
          ${info.description ? html`<dt>Description</dt><dd>${info.description}</dd>` : nothing}
          <dt>Features</dt><dd class="features">${info.features.join(', ') || 'none'}</dd>
          ${SHOWN_LIMITS.map((k) => html`<dt>${k}</dt><dd>${k.includes('Size') ? bytes(info.limits[k] ?? 0) : (info.limits[k] ?? 0).toLocaleString('en-US')}</dd>`)}
          <dt>Live GPU memory</dt><dd class="live">${res ? `${res.buffers} buffers, ${res.textures} textures, ${bytes(res.bytes)}` : 'n/a'}</dd>
          <dt>Device</dt><dd>generation ${this.gpu?.generation}${this.gpu?.lastLoss ? html`, last loss: ${this.gpu.lastLoss}` : nothing}</dd>
        </dl>
      </section>
    `;
  }
}

customElements.define('gpu-panel', GpuPanel);
declare global {
  interface HTMLElementTagNameMap { 'gpu-panel': GpuPanel }
}

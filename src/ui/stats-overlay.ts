import { LitElement, css, html, nothing } from 'lit';

export interface OverlayStats {
  frameMs: number;
  fps: number;
  gpuMs: Record<string, number>;
  [extra: string]: unknown;
}

const HIDDEN_KEYS = new Set(['frameMs', 'fps', 'gpuMs', 'frames']);

/**
 * Corner overlay any demo can feed: fps, frame ms, per-stage GPU ms as bars, and the
 * demo's own counters (count, visible, step, loss, psnr...). Tap to collapse.
 */
export class StatsOverlay extends LitElement {
  // Demos mutate one stats object in place: every render of the host refreshes the overlay.
  static override properties = { stats: { attribute: false, hasChanged: () => true }, status: {}, collapsed: { type: Boolean, reflect: true } };
  declare stats: OverlayStats | null;
  declare status: string;
  declare collapsed: boolean;

  constructor() {
    super();
    this.stats = null;
    this.status = '';
    this.collapsed = false;
  }

  static override styles = css`
    :host { position: absolute; top: 0.5rem; right: 0.5rem; z-index: 2; font: 12px/1.35 ui-monospace, monospace;
      color: #e8eef7; background: rgb(10 14 22 / 0.78); border-radius: 6px; padding: 0.4rem 0.55rem; min-width: 9rem;
      pointer-events: auto; user-select: none; cursor: pointer; }
    :host([collapsed]) .detail { display: none; }
    .row { display: flex; justify-content: space-between; gap: 0.75rem; }
    .bar { height: 3px; background: #4cc2ff; border-radius: 2px; margin: 1px 0 3px; }
    .status { color: #9fb3c8; }
  `;

  override render() {
    const s = this.stats;
    if (!s) return html`<div class="status">${this.status}</div>`;
    const stages = Object.entries(s.gpuMs ?? {});
    const total = stages.reduce((sum, [, ms]) => sum + ms, 0) || 1;
    const extras = Object.entries(s).filter(([k, v]) => !HIDDEN_KEYS.has(k) && (typeof v === 'number' || typeof v === 'string'));
    return html`
      <div class="row" @click=${() => (this.collapsed = !this.collapsed)}><b>${s.fps.toFixed(1)} fps</b><span>${s.frameMs.toFixed(1)} ms</span></div>
      <div class="detail">
        ${stages.length ? html`<div class="status">GPU ms per stage</div>` : nothing}
        ${stages.map(([name, ms]) => html`<div class="row"><span>${name}</span><span>${ms.toFixed(2)}</span></div><div class="bar" style="width:${(100 * ms) / total}%"></div>`)}
        ${extras.map(([k, v]) => html`<div class="row"><span>${k}</span><span>${typeof v === 'number' ? formatNumber(v) : v}</span></div>`)}
        <div class="status">${this.status}</div>
      </div>
    `;
  }
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}

customElements.define('suite-stats', StatsOverlay);
declare global {
  interface HTMLElementTagNameMap { 'suite-stats': StatsOverlay }
}

import { LitElement, css, html, nothing } from 'lit';

/**
 * Progress for long work: a bar (indeterminate when `fraction` is null), a label and an
 * optional cancel button that fires `cancel`.
 * @fires cancel
 */
export class ProgressBar extends LitElement {
  static override properties = { fraction: { attribute: false }, label: {}, cancellable: { type: Boolean } };
  declare fraction: number | null;
  declare label: string;
  declare cancellable: boolean;

  constructor() {
    super();
    this.fraction = null;
    this.label = '';
    this.cancellable = false;
  }

  static override styles = css`
    :host { display: flex; align-items: center; gap: 0.6rem; padding: 0.4rem 0.6rem; font: 13px system-ui, sans-serif; }
    .track { flex: 1; height: 6px; background: #2a3342; border-radius: 3px; overflow: hidden; position: relative; min-width: 4rem; }
    .fill { height: 100%; background: #4cc2ff; transition: width 0.15s; }
    .indeterminate { position: absolute; width: 30%; animation: slide 1.2s infinite ease-in-out; }
    @keyframes slide { from { left: -30%; } to { left: 100%; } }
    button { font: inherit; padding: 0.35rem 0.7rem; min-height: 2.2rem; }
  `;

  override render() {
    const pct = this.fraction === null ? null : Math.round(Math.min(1, Math.max(0, this.fraction)) * 100);
    return html`
      <span role="status">${this.label}${pct === null ? nothing : ` (${pct}%)`}</span>
      <div class="track" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct ?? nothing}>
        ${pct === null ? html`<div class="fill indeterminate"></div>` : html`<div class="fill" style="width:${pct}%"></div>`}
      </div>
      ${this.cancellable ? html`<button @click=${() => this.dispatchEvent(new Event('cancel'))}>Cancel</button>` : nothing}
    `;
  }
}

customElements.define('suite-progress', ProgressBar);
declare global {
  interface HTMLElementTagNameMap { 'suite-progress': ProgressBar }
}

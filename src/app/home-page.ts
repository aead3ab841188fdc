import { LitElement, html } from 'lit';
import type { GpuContext } from '../gpu/device.ts';
import { ROUTES } from './routes.ts';
import './gpu-panel.ts';

/** The suite's front page: the four demos with a line each on their paper, and the GPU panel. */
export class SuiteHome extends LitElement {
  static override properties = { gpu: { attribute: false } };
  declare gpu: GpuContext | null;

  constructor() {
    super();
    this.gpu = null;
  }

  protected override createRenderRoot() {
    return this;
  }

  override render() {
    const demos = ROUTES.filter((r) => !r.diagnostic);
    const diagnostics = ROUTES.filter((r) => r.diagnostic);
    return html`
      <section class="intro">
        <h1>Neural graphics on WebGPU</h1>
        <p>Four recent papers implemented for real in WGSL compute pipelines, running in your browser on your GPU. Open your own trained scenes and checkpoints, or drop a file anywhere on this page.</p>
      </section>
      <ul class="cards">
        ${demos.map(
          (r) => html`
            <li class="card" data-route=${r.name}>
              <a href="#/${r.name}">
                <h2>${r.title}</h2>
                <p class="paper">${r.paper}</p>
                <p>${r.blurb}</p>
                ${r.element ? null : html`<p class="pending-tag">Not landed yet</p>`}
              </a>
            </li>
          `,
        )}
      </ul>
      <p class="diagnostics">Diagnostics: ${diagnostics.map((r) => html`<a href="#/${r.name}">${r.title}</a> `)}</p>
      <gpu-panel .gpu=${this.gpu}></gpu-panel>
    `;
  }
}

customElements.define('suite-home', SuiteHome);
declare global {
  interface HTMLElementTagNameMap { 'suite-home': SuiteHome }
}

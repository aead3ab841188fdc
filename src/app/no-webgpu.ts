import { LitElement, html } from 'lit';
import type { WebGpuMissing } from '../gpu/device.ts';

const WHAT: Record<WebGpuMissing, string> = {
  'no-api': 'This browser does not offer WebGPU here (navigator.gpu is missing).',
  'no-adapter': 'WebGPU is present, but the browser offered no GPU adapter.',
  'no-device': 'A GPU adapter was found, but it refused to create a device.',
};

/** Plain explanation shown instead of any demo when WebGPU cannot be used. */
export class NoWebGpu extends LitElement {
  static override properties = { missing: {}, detail: {} };
  declare missing: WebGpuMissing;
  declare detail: string;

  constructor() {
    super();
    this.missing = 'no-api';
    this.detail = '';
  }

  protected override createRenderRoot() {
    return this;
  }

  override render() {
    return html`
      <section class="no-webgpu" role="alert">
        <h1>WebGPU is not available</h1>
        <p class="what">${WHAT[this.missing]}</p>
        ${this.detail ? html`<p class="detail">${this.detail}</p>` : null}
        <h2>How to get it</h2>
        <ul>
          <li><b>Chrome or Edge 113+</b> on Windows, macOS and ChromeOS have WebGPU on by default; <b>Chrome 121+ on Android 12+</b> with a Qualcomm or ARM GPU.</li>
          <li><b>Safari 26+</b> (macOS Tahoe, iOS/iPadOS 26) has WebGPU on by default; older Safari: Settings → Advanced → Feature Flags → WebGPU.</li>
          <li><b>Firefox 141+</b> on Windows has it on; elsewhere set <code>dom.webgpu.enabled</code> in <code>about:config</code>.</li>
          <li><b>Chrome on Linux</b>: enable <code>chrome://flags/#enable-unsafe-webgpu</code> and <code>chrome://flags/#enable-vulkan</code>, or start it with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>.</li>
          <li>Check that hardware acceleration is on (<code>chrome://settings/system</code>) and see <code>chrome://gpu</code> for a blocklisted driver.</li>
          <li>WebGPU needs a secure context: open the page over <code>https://</code> or from <code>localhost</code>.</li>
        </ul>
        <p>The suite runs every demo on the GPU, so there is nothing to show without it.</p>
      </section>
    `;
  }
}

customElements.define('no-webgpu', NoWebGpu);
declare global {
  interface HTMLElementTagNameMap { 'no-webgpu': NoWebGpu }
}

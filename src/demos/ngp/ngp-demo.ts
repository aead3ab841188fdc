/**
 * `<ngp-demo>`: the neural graphics lab. Four instant-ngp apps (NGPC's GIA, NSDF, NeRF, NVR)
 * trained live on hash grids + fully fused MLPs (src/nn/ngp), a few training steps per frame
 * in the frame's command encoder, then the view. `#/ngp?app=gia|nsdf|nerf|nvr` picks the app;
 * `?batch=N` sets rows per training step, `?steps=N` fixes steps per frame (otherwise paced by
 * frame time), `?seed=N` seeds everything.
 *
 * Contract extras: stats.step / stats.loss / stats.psnr (active app), stats.app;
 * `setApp(name)`, `pause()`, `resume()`, `reset()`, `setConfig({ batch, log2HashmapSize })`.
 */
import { html, svg, type TemplateResult } from 'lit';
import { FILE_KIND_LABELS, type FileKind } from '../../formats/sniff.ts';
import { DemoElement, type FrameInfo } from '../../ui/demo-base.ts';
import { OrbitControls } from '../../ui/orbit-controls.ts';
import '../../ui/file-drop.ts';
import { maxStorageBytes } from '../../nn/ngp/gpu-util.ts';
import { isCpuDevice } from '../../gpu/device.ts';
import { APP_NAMES, APP_TITLES, defaultLog2T, intParam, type AppName, type AppSettings, type NgpApp } from './common.ts';
import { GiaApp, MAX_STEPS_PER_FRAME } from './gia.ts';
import { NsdfApp } from './nsdf.ts';
import { NerfApp } from './nerf.ts';
import { NvrApp } from './nvr.ts';

const DEFAULT_BATCH: Record<AppName, number> = { gia: 1 << 12, nsdf: 1 << 12, nerf: 1 << 12, nvr: 1 << 12 };
/**
 * NeRF on a real GPU: 2^16 samples (2,048 rays of 32) per step. 128 rays a step (the software
 * adapters' batch, kept small so frames stay interactive) reach only ~18 dB held-out in 500 steps.
 */
const GPU_NERF_BATCH = 1 << 16;

export interface NgpConfig {
  /** Rows per training step. */
  batch?: number;
  /** log2 of the hash table size per level (T). */
  log2HashmapSize?: number;
  /** Fully fused MLP (default) or the unfused baseline, to compare GPU time. */
  fused?: boolean;
}

export class NgpDemo extends DemoElement {
  protected readonly accepts: readonly FileKind[] = ['png', 'jpeg', 'webp', 'gif', 'bmp', 'obj', 'ply'];
  private app: NgpApp | null = null;
  private appName: AppName;
  private paused = false;
  private stepsPerFrame = 1;
  private orbit: OrbitControls | null = null;
  private config: NgpConfig = {};

  constructor() {
    super();
    const requested = this.params.all.get('app');
    this.appName = APP_NAMES.includes(requested as AppName) ? (requested as AppName) : 'gia';
    const steps = this.params.all.get('steps');
    if (steps !== null) this.stepsPerFrame = intParam(this.params.all, 'steps', 1, 0, MAX_STEPS_PER_FRAME);
  }

  private readonly onHash = () => {
    const q = location.hash.indexOf('?');
    const app = new URLSearchParams(q < 0 ? '' : location.hash.slice(q + 1)).get('app');
    if (app && app !== this.appName && APP_NAMES.includes(app as AppName)) {
      try {
        this.setApp(app as AppName);
      } catch (e) {
        this.fail(e as Error);
      }
    }
  };

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('hashchange', this.onHash);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('hashchange', this.onHash);
  }

  /** The active app's name. */
  get activeApp(): AppName {
    return this.appName;
  }

  private settings(name: AppName): AppSettings {
    const cpu = this.device ? isCpuDevice(this.device) : false;
    const all = new URLSearchParams(this.params.all);
    if (this.config.log2HashmapSize !== undefined) all.set('log2T', String(this.config.log2HashmapSize));
    return {
      seed: this.params.seed,
      batch: this.config.batch ?? intParam(this.params.all, 'batch', name === 'nerf' && !cpu ? GPU_NERF_BATCH : DEFAULT_BATCH[name], 64, 1 << 30),
      fused: this.config.fused ?? this.params.all.get('mlp') !== 'unfused',
      cpu,
      params: all,
    };
  }

  /**
   * Builds an app. A hash table over the device's storage binding limit (e.g. 128 MiB at WebGPU's
   * default limits) degrades to this device class's default table size (or smaller until it
   * fits), with a note; other failures throw.
   */
  private createApp(name: AppName, device: GPUDevice): NgpApp {
    const tooBig = (e: unknown) => e instanceof RangeError && /storage binding limit/.test(e.message);
    const settings = this.settings(name);
    try {
      return this.instantiate(name, device, settings);
    } catch (e) {
      if (!tooBig(e)) throw e;
      const requested = defaultLog2T(settings);
      for (let log2T = Math.min(requested - 1, settings.cpu ? 16 : 19); log2T >= 10; log2T--) {
        settings.params.set('log2T', String(log2T));
        try {
          const app = this.instantiate(name, device, settings);
          const mib = Math.round(maxStorageBytes(device) / 2 ** 20);
          app.note = `Hash table reduced from 2^${requested} to 2^${log2T} entries per level to fit this device's ${mib} MiB storage binding limit. ${app.note}`;
          return app;
        } catch (e2) {
          if (!tooBig(e2)) throw e2;
        }
      }
      throw e;
    }
  }

  private instantiate(name: AppName, device: GPUDevice, settings: AppSettings): NgpApp {
    const profiler = () => this.profiler;
    switch (name) {
      case 'gia':
        return new GiaApp(device, settings, profiler);
      case 'nsdf':
        return new NsdfApp(device, settings, profiler);
      case 'nerf':
        return new NerfApp(device, settings, profiler);
      case 'nvr':
        return new NvrApp(device, settings, profiler);
    }
  }

  protected async build(device: GPUDevice): Promise<void> {
    this.app = this.createApp(this.appName, device);
    this.attachCamera();
  }

  private attachCamera(): void {
    this.orbit?.destroy();
    this.orbit = null;
    const app = this.app;
    if (app?.camera && app.defaultPose && app.setCamera) {
      const pose = app.defaultPose();
      this.orbit = new OrbitControls(this.canvas, pose, (p) => {
        app.setCamera?.(p);
        this.invalidate();
      });
      app.setCamera(pose);
    }
  }

  /** Switches app (also updates `?app=` in the hash). Throws, keeping the current app, if the new one cannot be built. */
  setApp(name: AppName): void {
    if (!APP_NAMES.includes(name)) throw new Error(`unknown app ${name}; one of ${APP_NAMES.join(', ')}`);
    if (name === this.appName && this.app) return;
    if (this.device) {
      const next = this.createApp(name, this.device);
      this.app?.destroy();
      this.app = next;
    }
    this.appName = name;
    this.attachCamera();
    this.updateHash();
    this.paused = false;
    this.invalidate();
    this.requestUpdate();
  }

  private updateHash(): void {
    const hash = location.hash || '#/ngp';
    const q = hash.indexOf('?');
    const route = q < 0 ? hash : hash.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
    query.set('app', this.appName);
    history.replaceState(history.state, '', `${route}?${query.toString()}`);
  }

  /** Rebuilds the active app with new settings; on failure the running app stays and the error is reported. */
  setConfig(config: NgpConfig): void {
    const device = this.device;
    if (!device) throw new Error('the GPU device is not ready yet');
    const previous = this.config;
    this.config = { ...this.config, ...config };
    try {
      if (config.batch !== undefined && (!Number.isInteger(config.batch) || config.batch < 64)) throw new RangeError(`batch must be an integer >= 64, not ${config.batch}`);
      if (config.log2HashmapSize !== undefined && (!Number.isInteger(config.log2HashmapSize) || config.log2HashmapSize < 3 || config.log2HashmapSize > 30)) {
        throw new RangeError(`log2HashmapSize must be an integer in 3..30, not ${config.log2HashmapSize}`);
      }
      const next = this.createApp(this.appName, device);
      this.app?.destroy();
      this.app = next;
      this.attachCamera();
      this.lastError = null;
    } catch (e) {
      this.config = previous;
      const error = new Error(`configuration refused: ${(e as Error).message}`);
      this.fail(error);
      this.status = 'Running';
      throw error;
    }
  }

  pause(): void {
    this.paused = true;
    this.requestUpdate();
  }

  resume(): void {
    this.paused = false;
    this.invalidate();
    this.requestUpdate();
  }

  reset(): void {
    this.app?.reset();
    this.invalidate();
    this.requestUpdate();
  }

  protected encodeFrame(encoder: GPUCommandEncoder, output: GPUTexture, frame: FrameInfo): void {
    const app = this.app;
    if (!app) return;
    // Pacing: more steps per frame while frames stay fast, fewer when slow (unless ?steps= fixed it).
    const fixed = this.params.all.has('steps') || this.params.frames !== null;
    if (!fixed && frame.index > 2) {
      const ms = this.stats.frameMs;
      if (ms < 28 && this.stepsPerFrame < MAX_STEPS_PER_FRAME) this.stepsPerFrame++;
      else if (ms > 45 && this.stepsPerFrame > 1) this.stepsPerFrame--;
    }
    app.encode({ encoder, output, profiler: frame.profiler, steps: this.paused ? 0 : this.stepsPerFrame, afterSubmit: frame.afterSubmit });
    const s = this.stats;
    s.app = app.name;
    s.step = app.step;
    s.loss = app.stats.loss;
    s.firstLoss = app.stats.firstLoss;
    s.psnr = app.psnr === null ? undefined : Number(app.psnr.toFixed(2));
    s.stepsPerFrame = this.paused ? 0 : this.stepsPerFrame;
    s.paused = this.paused;
    s.cpuDefaults = this.device ? isCpuDevice(this.device) : false;
    s.mlp = this.config.fused ?? this.params.all.get('mlp') !== 'unfused' ? 'fused' : 'unfused';
    Object.assign(s, app.extraStats());
    if (s.psnr === undefined) delete s.psnr;
  }

  protected async load(blob: Blob, kind: FileKind, name: string, signal: AbortSignal): Promise<void> {
    const target: AppName = kind === 'obj' || kind === 'ply' ? 'nsdf' : 'gia';
    if (this.appName !== target || !this.app) this.setApp(target);
    const app = this.app!;
    if (!app.load || !app.accepts.includes(kind)) throw new Error(`${name}: the ${APP_TITLES[app.name]} app does not open ${FILE_KIND_LABELS[kind]}`);
    await app.load(blob, kind, name, signal, (fraction, label) => (this.progress = { fraction, label }));
    this.invalidate();
    this.requestUpdate();
  }

  protected release(): void {
    this.orbit?.destroy();
    this.orbit = null;
    this.app?.destroy();
    this.app = null;
  }

  private plot(): TemplateResult {
    const app = this.app;
    const points = app?.stats.curve ?? [];
    const W = 240;
    const H = 90;
    if (points.length < 2) return html`<svg class="ngp-plot" viewBox="0 0 ${W} ${H}" width=${W} height=${H} role="img" aria-label="training curve"></svg>`;
    const finite = points.filter((p) => Number.isFinite(p.value));
    let lo = Math.min(...finite.map((p) => p.value));
    let hi = Math.max(...finite.map((p) => p.value));
    if (hi - lo < 1e-9) (hi += 0.5), (lo -= 0.5);
    const s0 = finite[0]?.step ?? 0;
    const s1 = Math.max(s0 + 1, finite[finite.length - 1]?.step ?? 1);
    const d = finite.map((p, i) => `${i ? 'L' : 'M'}${(((p.step - s0) / (s1 - s0)) * (W - 8) + 4).toFixed(1)},${(H - 14 - ((p.value - lo) / (hi - lo)) * (H - 22)).toFixed(1)}`).join(' ');
    return html`<svg class="ngp-plot" viewBox="0 0 ${W} ${H}" width=${W} height=${H} role="img" aria-label=${app?.curveLabel ?? ''} style="background:#0d1117;border:1px solid #30363d;border-radius:4px">
      ${svg`<path d=${d} fill="none" stroke="#4cc2ff" stroke-width="1.5"></path>
      <text x="4" y="10" fill="#9fb3c8" font-size="9">${app?.curveLabel}: ${hi.toPrecision(4)}</text>
      <text x="4" y=${H - 3} fill="#9fb3c8" font-size="9">${lo.toPrecision(4)} · steps ${s0}–${s1}</text>`}
    </svg>`;
  }

  protected override renderBody(): TemplateResult {
    const app = this.app;
    return html`
      <div class="demo-toolbar" role="toolbar">
        <span role="tablist" aria-label="app">
          ${APP_NAMES.map(
            (name) =>
              html`<button role="tab" data-app=${name} aria-selected=${name === this.appName ? 'true' : 'false'} ?disabled=${name === this.appName}
                @click=${() => {
                  try {
                    this.setApp(name);
                  } catch (e) {
                    this.fail(e as Error);
                  }
                }}>${APP_TITLES[name]}</button>`,
          )}
        </span>
        <button data-action="pause" @click=${() => (this.paused ? this.resume() : this.pause())}>${this.paused ? 'Resume' : 'Pause'}</button>
        <button data-action="reset" @click=${() => this.reset()}>Reset</button>
        <label title="fully fused MLP (one dispatch per pass) or the unfused baseline (one GEMM per layer)"><input type="checkbox" data-control="fused"
          .checked=${this.config.fused ?? this.params.all.get('mlp') !== 'unfused'}
          @change=${(e: Event) => {
            try {
              this.setConfig({ fused: (e.target as HTMLInputElement).checked });
            } catch {
              // reported through lastError
            }
          }} /> fused MLP</label>
        <file-drop accept="image/*,.obj,.ply" label=${this.appName === 'nsdf' ? 'Open mesh…' : 'Open image / mesh…'}
          @file-chosen=${(e: CustomEvent<File>) => this.open(e.detail).catch(() => undefined)}></file-drop>
        ${app?.controls?.(() => this.requestUpdate()) ?? null}
        <span class="note" data-testid="ngp-note">${app?.note ?? ''}</span>
      </div>
      <div class="demo-stage">${this.canvas}
        <div style="position:absolute;left:0.5rem;bottom:0.5rem;z-index:2">${this.plot()}</div>
      </div>
    `;
  }
}

customElements.define('ngp-demo', NgpDemo);
declare global {
  interface HTMLElementTagNameMap {
    'ngp-demo': NgpDemo;
  }
}

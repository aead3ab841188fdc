/**
 * The automation contract every demo element implements (see DESIGN.md), in one place:
 * `ready`, `open`, `lastError`, `stats`, `snapshot`, the deterministic URL parameters,
 * the frame loop with per-stage GPU timing, and rebuilding after device loss.
 *
 * A demo subclass supplies:
 * - `build(device)`: create its pipelines and default content (called again after loss);
 * - `encodeFrame(encoder, output, frame)`: record one frame into `output` (rgba8unorm);
 * - `load(blob, kind, name, signal)`: take a user's file, replacing the content only on success;
 * - `release()`: destroy every GPU resource it owns;
 * - `accepts`: the file kinds `open` hands to `load`.
 */
import { ContextConsumer } from '@lit/context';
import { LitElement, html, type PropertyValues, type TemplateResult } from 'lit';
import type { GpuContext, GpuDeviceEvent } from '../gpu/device.ts';
import { GpuError, withErrorScope } from '../gpu/errors.ts';
import { Presenter } from '../gpu/present.ts';
import { GpuProfiler } from '../gpu/profiler.ts';
import { readTexture } from '../gpu/readback.ts';
import { FILE_KIND_LABELS, SNIFF_BYTES, sniffFile, type FileKind } from '../formats/sniff.ts';
import { fetchAsset } from './fetch-asset.ts';
import { gpuContext } from './gpu-context.ts';
import { parseRunParams, type RunParams } from './params.ts';
import './stats-overlay.ts';
import './progress-bar.ts';

export interface DemoStats {
  /** CPU time between the last two frames, ms (smoothed). */
  frameMs: number;
  fps: number;
  /** Per-stage GPU milliseconds by stage name. */
  gpuMs: Record<string, number>;
  /** Frames rendered since the current device was acquired. */
  frames: number;
  [extra: string]: unknown;
}

export interface FrameInfo {
  /** Frame index since build. */
  index: number;
  /** Seconds since the previous frame (0 on the first, fixed when frames are pinned). */
  dt: number;
  profiler: GpuProfiler;
  /** Registers work to run right after this frame's submit (e.g. starting a non-blocking readback). */
  afterSubmit(callback: () => void): void;
}

export type DemoSource = File | Blob | string;

export abstract class DemoElement extends LitElement {
  static override properties = {
    lastError: { state: true },
    status: { state: true },
    progress: { state: true },
  };

  /** Resolves after the first complete frame of the default content. */
  readonly ready: Promise<void>;
  declare lastError: string | null;
  stats: DemoStats = { frameMs: 0, fps: 0, gpuMs: {}, frames: 0 };
  /** What the element is doing, in words, for the status line. */
  declare status: string;
  /** Progress of a long load: fraction (null = indeterminate) and label, or null when idle. */
  declare progress: { fraction: number | null; label: string } | null;

  /** File kinds `open` accepts; the first matching kind decides. */
  protected abstract readonly accepts: readonly FileKind[];
  protected abstract build(device: GPUDevice): Promise<void>;
  protected abstract encodeFrame(encoder: GPUCommandEncoder, output: GPUTexture, frame: FrameInfo): void;
  protected abstract load(blob: Blob, kind: FileKind, name: string, signal: AbortSignal): Promise<void>;
  protected abstract release(): void;

  protected device: GPUDevice | null = null;
  protected readonly params: RunParams = parseRunParams(location.search, location.hash);
  /** The canvas the demo shows; subclasses place it in their template with `${this.canvas}`. */
  protected readonly canvas: HTMLCanvasElement = document.createElement('canvas');
  protected output: GPUTexture | null = null;
  protected profiler: GpuProfiler | null = null;

  private readonly gpuConsumer = new ContextConsumer(this, { context: gpuContext });
  private canvasContext: GPUCanvasContext | null = null;
  private presenter: Presenter | null = null;
  private resolveReady!: () => void;
  private rejectReady!: (e: Error) => void;
  private firstReady = false;
  private urlOpened = false;
  /** Whether demo-ready was sent for the current build. */
  private announced = false;
  private rafHandle = 0;
  private lastFrameTime = 0;
  private built = false;
  private building: Promise<void> | null = null;
  private lastSource: { blob: Blob; name: string } | null = null;
  private loadController: AbortController | null = null;
  private snapshotWaiters: ((texture: GPUTexture) => void)[] = [];
  private resizeObserver: ResizeObserver | null = null;
  private layoutSize = { width: 300, height: 150 };
  private statsTimer = 0;
  private readonly onDevice = (e: Event) => void this.rebuild((e as GpuDeviceEvent).detail.device);
  private readonly onLost = () => this.teardown('The GPU device was lost; recovering…');
  private readonly onUncaptured = (e: Event) => this.fail(new Error(`GPU error: ${(e as GPUUncapturedErrorEvent).error.message}`));

  constructor() {
    super();
    this.lastError = null;
    this.status = 'Starting…';
    this.progress = null;
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // A rejected ready is reported through lastError/demo-error too; avoid unhandled noise.
    this.ready.catch(() => undefined);
    this.canvas.className = 'demo-canvas';
    this.canvas.setAttribute('part', 'canvas');
  }

  /** Light DOM: the suite's stylesheet applies and tests reach the canvas directly. */
  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  protected get gpu(): GpuContext | undefined {
    return this.gpuConsumer.value;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.resizeObserver = new ResizeObserver((entries) => {
      const box = entries[entries.length - 1].contentRect;
      this.layoutSize = { width: Math.max(1, box.width), height: Math.max(1, box.height) };
      this.resizeCanvas();
    });
    this.resizeObserver.observe(this.canvas);
    this.statsTimer = window.setInterval(() => this.requestUpdate(), 250);
  }

  protected override firstUpdated(changed: PropertyValues): void {
    super.firstUpdated(changed);
    const gpu = this.gpu;
    if (!gpu) {
      this.fail(new Error('No GPU context: demo elements must be placed inside the suite shell.'));
      return;
    }
    gpu.addEventListener('device', this.onDevice);
    gpu.addEventListener('lost', this.onLost);
    gpu.acquire().then(
      (device) => this.rebuild(device),
      (e: Error) => this.fail(e),
    );
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.gpu?.removeEventListener('device', this.onDevice);
    this.gpu?.removeEventListener('lost', this.onLost);
    this.resizeObserver?.disconnect();
    window.clearInterval(this.statsTimer);
    this.loadController?.abort();
    this.teardown(null);
  }

  /** Opens a file, blob or http(s) URL; the demo tells by content what it is. */
  async open(source: DemoSource): Promise<void> {
    this.loadController?.abort();
    const controller = new AbortController();
    this.loadController = controller;
    try {
      let blob: Blob;
      let name: string;
      if (typeof source === 'string') {
        this.progress = { fraction: null, label: `Fetching ${source}` };
        ({ blob, name } = await fetchAsset(source, {
          signal: controller.signal,
          onProgress: (fraction, label) => (this.progress = { fraction, label }),
        }));
      } else if (source instanceof Blob) {
        blob = source;
        name = source instanceof File ? source.name : 'blob';
      } else {
        throw new Error('open() takes a File, a Blob or an http(s) URL string');
      }
      const kind = sniffFile(new Uint8Array(await blob.slice(0, SNIFF_BYTES).arrayBuffer()), name, blob.size);
      if (!this.accepts.includes(kind)) {
        const what = kind === 'unknown' ? 'a file of unknown type' : FILE_KIND_LABELS[kind];
        throw new Error(`${name} looks like ${what}. This demo opens: ${this.accepts.map((k) => FILE_KIND_LABELS[k]).join('; ')}.`);
      }
      await this.whenBuilt();
      this.progress = { fraction: null, label: `Opening ${name}` };
      const device = this.device!;
      await withErrorScope(device, `opening ${name}`, () => this.load(blob, kind, name, controller.signal));
      this.lastSource = { blob, name };
      this.lastError = null;
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      if (error.name !== 'AbortError') this.fail(error);
      throw error;
    } finally {
      if (this.loadController === controller) {
        this.loadController = null;
        this.progress = null;
      }
    }
  }

  /** Cancels a load in progress (the progress bar's cancel button). */
  cancelLoad(): void {
    this.loadController?.abort();
  }

  /** The main output exactly as rendered by the latest frame, without overlays. */
  async snapshot(): Promise<ImageData> {
    await this.ready;
    if (!this.device || !this.output) await this.whenBuilt();
    // Wait for the next frame to finish writing output, or read it now when frozen.
    const texture = this.rafHandle ? await new Promise<GPUTexture>((r) => this.snapshotWaiters.push(r)) : this.output!;
    return readTexture(this.device!, texture);
  }

  /** Whether the frame loop is running (false once `frames=N` is reached). */
  get running(): boolean {
    return this.rafHandle !== 0;
  }

  /** Records the error for users (banner) and automation (lastError, demo-error). */
  protected fail(error: Error): void {
    this.lastError = error.message;
    this.status = 'Error';
    if (!this.firstReady) this.rejectReady(error);
    this.dispatchEvent(new CustomEvent('demo-error', { detail: { message: error.message }, bubbles: true, composed: true }));
  }

  /** Starts the frame loop again (after content changes while frozen). */
  protected invalidate(): void {
    if (this.built && !this.rafHandle && !this.frozen()) this.schedule();
  }

  /** Renders one more frame even when frozen (content changed under pinned parameters). */
  protected renderOnce(): void {
    if (this.built && !this.rafHandle) this.schedule();
  }

  /** The demo's own status line, template and controls; the base adds error, progress and stats. */
  protected renderBody(): TemplateResult {
    return html`${this.canvas}`;
  }

  override render(): TemplateResult {
    return html`
      ${this.lastError ? html`<div class="demo-error" role="alert">${this.lastError}</div>` : null}
      ${this.progress
        ? html`<suite-progress .fraction=${this.progress.fraction} .label=${this.progress.label} cancellable @cancel=${() => this.cancelLoad()}></suite-progress>`
        : null}
      ${this.renderBody()}
      <suite-stats .stats=${this.stats} .status=${this.status}></suite-stats>
    `;
  }

  private whenBuilt(): Promise<void> {
    if (this.built) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        this.removeEventListener('demo-ready', done);
        this.removeEventListener('demo-error', failed);
        resolve();
      };
      const failed = () => {
        this.removeEventListener('demo-ready', done);
        this.removeEventListener('demo-error', failed);
        reject(new Error(this.lastError ?? 'The demo failed to start'));
      };
      this.addEventListener('demo-ready', done);
      this.addEventListener('demo-error', failed);
    });
  }

  private async rebuild(device: GPUDevice): Promise<void> {
    if (this.building) await this.building.catch(() => undefined);
    if (!this.isConnected || this.device === device) return;
    this.building = this.doBuild(device);
    return this.building.finally(() => (this.building = null));
  }

  private async doBuild(device: GPUDevice): Promise<void> {
    this.teardown(null);
    this.device = device;
    this.status = 'Building…';
    device.addEventListener('uncapturederror', this.onUncaptured);
    try {
      const context = this.canvas.getContext('webgpu');
      if (!context) throw new Error('This canvas cannot provide a WebGPU context.');
      const format = navigator.gpu.getPreferredCanvasFormat();
      context.configure({ device, format, alphaMode: 'opaque' });
      this.canvasContext = context;
      this.presenter = new Presenter(device, format);
      this.profiler = new GpuProfiler(device);
      this.resizeCanvas();
      await withErrorScope(device, `${this.localName} build`, () => this.build(device));
      if (this.device !== device) return; // lost while building; the next device rebuilds
      if (this.lastSource) {
        const { blob, name } = this.lastSource;
        const kind = sniffFile(new Uint8Array(await blob.slice(0, SNIFF_BYTES).arrayBuffer()), name, blob.size);
        await withErrorScope(device, `reopening ${name}`, () => this.load(blob, kind, name, new AbortController().signal));
      }
      this.built = true;
      this.announced = false;
      // `?url=` opens an asset once, after the default content is up.
      const url = this.params.all.get('url');
      if (url && !this.urlOpened) {
        this.urlOpened = true;
        queueMicrotask(() => void this.open(url).catch(() => undefined));
      }
      this.stats = { ...this.stats, frames: 0 };
      this.status = 'Running';
      this.lastFrameTime = 0;
      this.schedule();
    } catch (e) {
      this.fail(e instanceof GpuError || e instanceof Error ? e : new Error(String(e)));
    }
  }

  private teardown(status: string | null): void {
    cancelAnimationFrame(this.rafHandle);
    this.rafHandle = 0;
    this.built = false;
    this.device?.removeEventListener('uncapturederror', this.onUncaptured);
    if (this.device) this.release();
    this.output?.destroy();
    this.output = null;
    this.profiler?.destroy();
    this.profiler = null;
    this.presenter?.destroy();
    this.presenter = null;
    this.canvasContext?.unconfigure();
    this.canvasContext = null;
    this.device = null;
    if (status) this.status = status;
  }

  private canvasSize(): { width: number; height: number } {
    if (this.params.size) return this.params.size;
    const limit = this.device?.limits.maxTextureDimension2D ?? 4096;
    // Cap the device pixel ratio: phones report 3, and every pixel is shader work.
    const dpr = Math.min(window.devicePixelRatio || 1, 2);
    return {
      width: Math.max(1, Math.min(limit, Math.round(this.layoutSize.width * dpr))),
      height: Math.max(1, Math.min(limit, Math.round(this.layoutSize.height * dpr))),
    };
  }

  private resizeCanvas(): void {
    const { width, height } = this.canvasSize();
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    if (!this.device) return;
    if (this.output && this.output.width === width && this.output.height === height) return;
    this.output?.destroy();
    this.output = this.device.createTexture({
      label: `${this.localName} output`,
      size: { width, height },
      format: 'rgba8unorm',
      usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_SRC | GPUTextureUsage.COPY_DST,
    });
    this.renderOnce();
  }

  private frozen(): boolean {
    return this.params.frames !== null && this.stats.frames >= this.params.frames;
  }

  private schedule(): void {
    if (!this.rafHandle) this.rafHandle = requestAnimationFrame((now) => this.frame(now));
  }

  private frame(now: number): void {
    this.rafHandle = 0;
    const device = this.device;
    if (!device || !this.built || !this.output || !this.canvasContext || !this.presenter || !this.profiler) return;
    const pinned = this.params.frames !== null || this.params.t !== null;
    const dt = this.lastFrameTime && !pinned ? Math.min(0.25, (now - this.lastFrameTime) / 1000) : pinned ? 1 / 60 : 0;
    if (this.lastFrameTime) {
      const ms = now - this.lastFrameTime;
      this.stats.frameMs = this.stats.frameMs ? this.stats.frameMs * 0.9 + ms * 0.1 : ms;
      this.stats.fps = 1000 / this.stats.frameMs;
    }
    this.lastFrameTime = now;
    const output = this.output;
    const encoder = device.createCommandEncoder({ label: `${this.localName} frame` });
    const after: (() => void)[] = [];
    try {
      this.encodeFrame(encoder, output, { index: this.stats.frames, dt, profiler: this.profiler, afterSubmit: (c) => after.push(c) });
      this.presenter.encode(encoder, output, this.canvasContext.getCurrentTexture(), this.profiler.timestamps('present'));
      const afterSubmit = this.profiler.finish(encoder);
      device.queue.submit([encoder.finish()]);
      afterSubmit();
      for (const callback of after) callback();
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    this.stats.frames++;
    this.stats.gpuMs = this.profiler.stages;
    const waiters = this.snapshotWaiters.splice(0);
    const announce = !this.announced;
    this.announced = true;
    if (waiters.length || announce) {
      device.queue.onSubmittedWorkDone().then(() => {
        for (const w of waiters) w(output);
        if (!announce || this.device !== device) return;
        if (!this.firstReady) {
          this.firstReady = true;
          this.resolveReady();
        }
        this.dispatchEvent(new CustomEvent('demo-ready', { bubbles: true, composed: true }));
      });
    }
    if (!this.frozen()) this.schedule();
    else for (const w of this.snapshotWaiters.splice(0)) w(output);
  }
}

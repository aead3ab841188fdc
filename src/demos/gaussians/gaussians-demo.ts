import { html, nothing } from 'lit';
import type { GaussianScene } from '../../formats/gaussian-scene.ts';
import type { FileKind } from '../../formats/sniff.ts';
import { DemoElement, type FrameInfo } from '../../ui/demo-base.ts';
import { OrbitControls, type CameraPose } from '../../ui/orbit-controls.ts';
import { WorkerPool, decodePool } from '../../workers/pool.ts';
import '../../ui/file-drop.ts';
import { DEFAULT_CAMERA } from './default-scene.ts';
import { GaussianRenderer, GpuScene, cameraFromPose } from './renderer.ts';
import type { PackedScene } from './pack.ts';
import type { LoadedScene, SceneWorkerApi } from './scene-worker-api.ts';
import { framingPose } from './framing.ts';

const SPEEDS = [0.25, 0.5, 1, 2];

/** The last generated default scene: revisiting the route does not regenerate it. */
let defaultScene: ({ seed: number } & LoadedScene) | null = null;

/**
 * The 4D Gaussian player: opens static 3DGS and 4D (Yang, rotor) scenes, slices them at
 * time t, sorts on the GPU and blends every frame. Automation: `setTime`, `setCamera`,
 * `stats.count` / `stats.visible` beside the suite contract.
 */
export class GaussiansDemo extends DemoElement {
  static override properties = {
    ...DemoElement.properties,
    playing: { state: true },
    time: { state: true },
    speed: { state: true },
    shDegree: { state: true },
    sceneInfo: { state: true },
  };
  declare playing: boolean;
  declare time: number;
  declare speed: number;
  declare shDegree: number;
  declare sceneInfo: { label: string; kind: GaussianScene['kind']; count: number; shDegree: number; timeRange: [number, number] | null } | null;

  protected readonly accepts: readonly FileKind[] = ['ply', 'splat', 'spz', 'zip'];
  private renderer: GaussianRenderer | null = null;
  private scene: GpuScene | null = null;
  /** The scene as decoded, kept to rebuild after device loss and to export. */
  private cpuScene: GaussianScene | null = null;
  private controls: OrbitControls | null = null;
  private pose: CameraPose = DEFAULT_CAMERA;
  private scenePool: WorkerPool<SceneWorkerApi> | null = null;

  constructor() {
    super();
    this.playing = this.params.t === null;
    this.time = this.params.t ?? 0;
    this.speed = 1;
    this.shDegree = 3;
    this.sceneInfo = null;
    const scrub = Number(this.params.all.get('speed'));
    if (SPEEDS.includes(scrub)) this.speed = scrub;
  }

  /** Shows the scene at time `t` (seconds in the scene's time range) and pauses playback. */
  setTime(t: number): void {
    this.playing = false;
    this.time = this.clampTime(t);
    this.renderOnce();
  }

  /** Places the camera: position, target and up in world space, vertical field of view in degrees. */
  setCamera(pose: CameraPose): void {
    this.controls?.set(pose, false);
    this.pose = pose;
    this.renderOnce();
  }

  protected async build(device: GPUDevice): Promise<void> {
    this.renderer = new GaussianRenderer(device, { maxCount: 1 });
    this.renderer.onVisible = (count) => (this.stats.visible = count);
    this.controls ??= new OrbitControls(this.canvas, this.pose, (pose) => {
      this.pose = pose;
      this.renderOnce();
    });
    let packed: PackedScene | undefined;
    if (!this.cpuScene && defaultScene?.seed === this.params.seed) {
      this.cpuScene = defaultScene.scene;
      packed = defaultScene.packed;
      this.setCamera(this.params.all.has('camera') ? this.cameraFromParams() : DEFAULT_CAMERA);
      this.controls.set(this.pose, false, true);
    }
    if (!this.cpuScene) {
      this.progress = { fraction: 0, label: 'Generating the default scene' };
      const made = await this.sceneWorker().run('generateDefault', [this.params.seed], {
        onProgress: (fraction, label) => (this.progress = { fraction, label: label ?? 'Generating the default scene' }),
      });
      this.progress = null;
      this.cpuScene = made.scene;
      packed = made.packed;
      defaultScene = { seed: this.params.seed, ...made };
      this.setCamera(this.params.all.has('camera') ? this.cameraFromParams() : DEFAULT_CAMERA);
      this.controls.set(this.pose, false, true);
    }
    // After device loss the scene is packed again here (packed arrays of a file are not kept).
    this.showScene(device, this.cpuScene, packed);
  }

  private sceneWorker(): WorkerPool<SceneWorkerApi> {
    return (this.scenePool ??= new WorkerPool<SceneWorkerApi>({
      size: 1,
      name: 'scene worker',
      factory: () => new Worker(new URL('./scene.worker.ts', import.meta.url), { type: 'module', name: 'gaussian scene' }),
    }));
  }

  protected async load(blob: Blob, _kind: FileKind, name: string, signal: AbortSignal): Promise<void> {
    const bytes = await blob.arrayBuffer();
    const { scene, packed } = await this.sceneWorker().run('decode', [bytes, name], {
      signal,
      transfer: [bytes],
      onProgress: (fraction, message) => (this.progress = { fraction, label: message ?? `Decoding ${name}` }),
    });
    signal.throwIfAborted();
    this.showScene(this.device!, scene, packed);
    this.cpuScene = scene;
    const home = framingPose(scene);
    this.controls?.set(home, false, true);
    this.setCamera(home);
    if (scene.timeRange) this.time = this.clampTime(this.time);
  }

  /** Uploads and swaps in a scene; on failure the previous scene stays and nothing leaks. */
  private showScene(device: GPUDevice, scene: GaussianScene, packed?: PackedScene): void {
    const next = new GpuScene(device, scene, packed);
    try {
      this.renderer!.setScene(next);
    } catch (e) {
      next.destroy();
      throw e;
    }
    this.scene?.destroy();
    this.scene = next;
    this.sceneInfo = {
      label: scene.source,
      kind: scene.kind,
      count: scene.count,
      shDegree: scene.shDegree,
      timeRange: scene.timeRange ?? null,
    };
    this.shDegree = Math.min(this.shDegree, 3);
    this.stats.count = scene.count;
    this.renderOnce();
  }

  protected encodeFrame(encoder: GPUCommandEncoder, output: GPUTexture, frame: FrameInfo): void {
    const range = this.sceneInfo?.timeRange;
    if (range && this.playing) {
      const span = range[1] - range[0];
      this.time = range[0] + ((((this.time - range[0] + frame.dt * this.speed) % span) + span) % span);
    }
    const camera = cameraFromPose(this.pose, output.width, output.height);
    const renderer = this.renderer!;
    renderer.encode(encoder, output, camera, this.time, { shDegree: this.shDegree, background: [0.04, 0.05, 0.07] }, frame.profiler);
    frame.afterSubmit(() => renderer.afterSubmit());
    this.stats.t = Number(this.time.toFixed(3));
  }

  protected release(): void {
    this.renderer?.destroy();
    this.renderer = null;
    this.scene?.destroy();
    this.scene = null;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.controls?.destroy();
    this.controls = null;
    this.scenePool?.destroy();
    this.scenePool = null;
  }

  private clampTime(t: number): number {
    const range = this.sceneInfo?.timeRange ?? this.cpuScene?.timeRange;
    if (!range || !Number.isFinite(t)) return Number.isFinite(t) ? t : 0;
    return Math.min(range[1], Math.max(range[0], t));
  }

  /** `camera=px,py,pz,tx,ty,tz[,fov]` in the URL (up stays the default scene's). */
  private cameraFromParams(): CameraPose {
    const v = (this.params.all.get('camera') ?? '').split(',').map(Number);
    if (v.length < 6 || v.some((x) => !Number.isFinite(x))) return DEFAULT_CAMERA;
    return { position: [v[0], v[1], v[2]], target: [v[3], v[4], v[5]], up: DEFAULT_CAMERA.up, fovYDeg: v[6] > 1 && v[6] < 170 ? v[6] : DEFAULT_CAMERA.fovYDeg };
  }

  protected override renderBody() {
    const info = this.sceneInfo;
    const range = info?.timeRange;
    return html`
      <div class="demo-toolbar">
        <file-drop accept=".ply,.splat,.spz,.pth,.ckpt,.pt" label="Open scene…" @file-chosen=${(e: CustomEvent<File>) => this.open(e.detail).catch(() => undefined)}></file-drop>
        ${range
          ? html`
              <button class="play" aria-label=${this.playing ? 'Pause' : 'Play'} @click=${() => this.togglePlay()}>${this.playing ? 'Pause' : 'Play'}</button>
              <input
                class="time"
                type="range"
                aria-label="Time"
                min=${range[0]}
                max=${range[1]}
                step=${(range[1] - range[0]) / 1000}
                .value=${String(this.time)}
                @input=${(e: Event) => this.setTime(Number((e.target as HTMLInputElement).value))}
              />
              <span class="time-label">t = ${this.time.toFixed(2)}</span>
              <label>Speed <select @change=${(e: Event) => (this.speed = Number((e.target as HTMLSelectElement).value))}>
                ${SPEEDS.map((s) => html`<option value=${s} ?selected=${s === this.speed}>${s}x</option>`)}
              </select></label>
            `
          : nothing}
        <label>SH degree <select class="sh" @change=${(e: Event) => ((this.shDegree = Number((e.target as HTMLSelectElement).value)), this.renderOnce())}>
          ${[0, 1, 2, 3].map((d) => html`<option value=${d} ?selected=${d === this.shDegree}>${d}</option>`)}
        </select></label>
        <button class="reset" @click=${() => this.controls?.reset()}>Reset camera</button>
        ${info && info.kind !== 'static' ? html`<button class="export-4d" @click=${() => this.exportScene('4d-ply')}>Export 4D .ply</button>` : nothing}
        ${info ? html`<button class="export-static" @click=${() => this.exportScene('static-ply')}>Export 3DGS .ply${range ? ' at t' : ''}</button>` : nothing}
      </div>
      ${info ? html`<p class="scene-info">${info.label}</p>` : nothing}
      <div class="demo-stage">${this.canvas}</div>
    `;
  }

  /** Writes the scene in a worker and downloads it: our 4D layout, or static 3DGS baked at the current t. */
  async exportScene(format: '4d-ply' | 'static-ply'): Promise<Uint8Array> {
    const scene = this.cpuScene;
    if (!scene) throw new Error('No scene to export');
    const t = this.time;
    this.progress = { fraction: null, label: format === '4d-ply' ? 'Writing the 4D .ply' : `Baking the scene at t = ${t.toFixed(2)}` };
    try {
      const bytes = await decodePool().run('exportScene', [scene, format, t]);
      const name = format === '4d-ply' ? 'scene-4d.ply' : `scene-t${t.toFixed(2)}.ply`;
      const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
      const a = Object.assign(document.createElement('a'), { href: url, download: name });
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      return bytes;
    } finally {
      this.progress = null;
    }
  }

  private togglePlay(): void {
    this.playing = !this.playing;
    if (this.playing) this.invalidate();
  }
}

customElements.define('gaussians-demo', GaussiansDemo);
declare global {
  interface HTMLElementTagNameMap { 'gaussians-demo': GaussiansDemo }
}

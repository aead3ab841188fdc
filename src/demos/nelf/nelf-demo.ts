/**
 * `<nelf-demo>`: the MobileR2L neural light field viewer. Each frame, one network pass turns
 * the camera's rays into an image (GPU rays + positional encoding, residual 1x1-conv body,
 * transposed-conv upsampling), rendered beside the procedural teacher it was distilled from,
 * with the PSNR between them.
 *
 * URL: `?res=WxH` output image size (default: the model's), `?pose=N` a held-out pose,
 * `?view=split|all|student|teacher|diff`, `?url=` a checkpoint to open.
 * Contract extras: `setPose({c2w, focal, width, height})`, `stats.psnr` (student vs teacher),
 * `stats.model`, `stats.resolution`, `stats.gmac`; `setView(mode)`, `setResolution(w, h)`,
 * `selectHeldout(i)`.
 */
import { html, type TemplateResult } from 'lit';
import type { FileKind } from '../../formats/sniff.ts';
import { fromTensorRecords } from '../../formats/tensor.ts';
import { WorkerPool } from '../../workers/pool.ts';
import { DemoElement, type FrameInfo } from '../../ui/demo-base.ts';
import { OrbitControls, type CameraPose } from '../../ui/orbit-controls.ts';
import '../../ui/file-drop.ts';
import { focalFromAngle, lookAt, toMat4, type Mat4 } from './camera.ts';
import { MobileR2L } from './network.ts';
import { NelfRenderer, VIEW_MODES, type FramePose, type ViewMode } from './renderer.ts';
import type { NelfWeights } from './weights.ts';
import type { WeightsWorkerApi } from './weights.worker.ts';

const DEFAULT_MODEL = 'models/nelf/default.safetensors';
const DEFAULT_POSES = 'models/nelf/poses.json';
/** The pose range the default model was distilled on (tools/nelf/distill.py). */
const RADIUS = 4;
const MIN_ELEVATION = (5 * Math.PI) / 180;
const MAX_ELEVATION = (80 * Math.PI) / 180;

interface HeldoutPose {
  azimuth_deg: number;
  elevation_deg: number;
  c2w: number[][];
  psnr: number;
}

export class NelfDemo extends DemoElement {
  static override properties = { ...DemoElement.properties, modelLabel: { state: true } };
  protected readonly accepts: readonly FileKind[] = ['zip', 'safetensors', 'unknown'];
  declare modelLabel: string;
  private renderer: NelfRenderer | null = null;
  private orbit: OrbitControls | null = null;
  /** The default model, parsed once (device-loss rebuilds reuse it). */
  private defaultWeights: NelfWeights | null = null;
  private weightsPool: WorkerPool<WeightsWorkerApi> | null = null;
  private heldout: HeldoutPose[] = [];
  private heldoutIndex = -1;
  private c2w: Mat4;
  /** Output image size and focal (in output pixels). */
  private res: { width: number; height: number } | null = null;
  private focal: number | null = null;
  private view: ViewMode;
  private cameraAngleX = 0.6911112070083618;

  constructor() {
    super();
    this.modelLabel = 'Loading the default model…';
    const v = this.params.all.get('view') as ViewMode | null;
    this.view = v && VIEW_MODES.includes(v) ? v : 'split';
    const m = /^(\d{1,4})x(\d{1,4})$/.exec(this.params.all.get('res') ?? '');
    if (m) this.res = { width: +m[1], height: +m[2] };
    this.c2w = lookAt([RADIUS * Math.cos(0.26) * Math.cos(0.39), RADIUS * Math.cos(0.26) * Math.sin(0.39), RADIUS * Math.sin(0.26)]);
  }

  protected async build(device: GPUDevice): Promise<void> {
    if (!this.defaultWeights) {
      const base = document.baseURI;
      const [model, poses] = await Promise.all([fetch(new URL(DEFAULT_MODEL, base)), fetch(new URL(DEFAULT_POSES, base))]);
      if (!model.ok) throw new Error(`Could not fetch the default model ${DEFAULT_MODEL}: HTTP ${model.status}`);
      this.defaultWeights = await this.readWeights(await model.arrayBuffer(), 'default.safetensors');
      if (poses.ok) this.heldout = ((await poses.json()) as { poses: HeldoutPose[] }).poses;
    }
    // Torn down while fetching (route left, device lost): make nothing the teardown would miss.
    if (this.device !== device) return;
    const weights = this.defaultWeights;
    const renderer = new NelfRenderer(device);
    try {
      const model = new MobileR2L(device, weights.tensors, weights.metadata, { precision: 'auto' });
      const m = weights.metadata;
      this.cameraAngleX = model.config.cameraAngleX;
      if (!this.res && model.config.inputSize) this.res = { width: model.config.inputSize[1] * model.config.upscale, height: model.config.inputSize[0] * model.config.upscale };
      this.applyModel(renderer, model, `Default model: a ${model.config.netdepth}-layer, width-${model.config.width} MobileR2L (${(model.config.params / 1000).toFixed(0)}k parameters) distilled by this project from its own procedural teacher (three spheres, a box, a checkered disc), ${m.heldout_psnr ?? '?'} dB PSNR on held-out poses. Not one of the paper's scenes: MobileR2L publishes no weights.`, `default (distilled here, D${model.config.netdepth} W${model.config.width})`);
    } catch (e) {
      renderer.destroy();
      throw e;
    }
    this.renderer = renderer;
    const poseParam = this.params.all.get('pose');
    if (poseParam !== null && this.heldout[Number(poseParam)]) this.selectHeldout(Number(poseParam));
    else this.updatePose();
    this.attachOrbit();
  }

  /** Installs `model` on `renderer`, fitting the output size to its upscale factor. */
  private applyModel(renderer: NelfRenderer, model: MobileR2L, label: string, short: string): void {
    const u = model.config.upscale;
    let res = this.res ?? { width: 16 * u, height: 16 * u };
    if (res.width % u || res.height % u) res = { width: Math.max(u, Math.round(res.width / u) * u), height: Math.max(u, Math.round(res.height / u) * u) };
    const pose = this.framePose(res);
    renderer.checkPose(pose, model);
    renderer.setModel(model);
    renderer.setPose(pose);
    renderer.mode = this.view;
    this.res = res;
    this.modelLabel = label;
    const gmac = model.macs(res.height / u, res.width / u) / 1e9;
    this.stats = { ...this.stats, model: short, params: model.config.params, gmac, resolution: `${res.width / u}x${res.height / u} -> ${res.width}x${res.height}`, psnr: null };
  }

  private framePose(res = this.res!): FramePose {
    return { c2w: this.c2w, focal: this.focal ?? focalFromAngle(res.width, this.cameraAngleX), width: res.width, height: res.height };
  }

  private updatePose(): void {
    if (!this.renderer || !this.res) return;
    this.renderer.setPose(this.framePose());
    this.stats.psnr = null;
    this.renderOnce();
  }

  private orbitPose(): CameraPose {
    return { position: [this.c2w[3], this.c2w[7], this.c2w[11]], target: [0, 0, 0], up: [0, 0, 1], fovYDeg: 40 };
  }

  private attachOrbit(): void {
    this.orbit?.destroy();
    this.orbit = new OrbitControls(this.canvas, this.orbitPose(), (p) => {
      // A light field is only defined on the sphere it was trained on: keep radius and elevation there.
      const [x, y, z] = p.position;
      const az = Math.atan2(y, x);
      const el = Math.min(MAX_ELEVATION, Math.max(MIN_ELEVATION, Math.atan2(z, Math.hypot(x, y))));
      this.c2w = lookAt([RADIUS * Math.cos(el) * Math.cos(az), RADIUS * Math.cos(el) * Math.sin(az), RADIUS * Math.sin(el)]);
      this.heldoutIndex = -1;
      this.orbit?.set(this.orbitPose(), false);
      this.updatePose();
    });
  }

  protected encodeFrame(encoder: GPUCommandEncoder, output: GPUTexture, frame: FrameInfo): void {
    const r = this.renderer;
    if (!r) return;
    r.encode(encoder, output, frame.profiler);
    // A new object each frame: the stats overlay re-renders on identity.
    this.stats = { ...this.stats };
    frame.afterSubmit(() => void r.afterSubmit().then(() => {
      if (this.renderer !== r) return;
      this.stats.psnr = r.currentPsnr;
      // The pose changed while an older frame's error was being read back (that frame could
      // not copy its own): draw once more so the current pose gets its PSNR.
      if (r.currentPsnr === null && !r.readPending) this.renderOnce();
    }));
  }

  /** Parses weights in the weights worker (the page stays responsive for big checkpoints). */
  private async readWeights(bytes: ArrayBuffer, name: string, signal?: AbortSignal): Promise<NelfWeights> {
    this.weightsPool ??= new WorkerPool<WeightsWorkerApi>({
      size: 1,
      name: 'weights worker',
      factory: () => new Worker(new URL('./weights.worker.ts', import.meta.url), { type: 'module', name: 'light field weights' }),
    });
    const { tensors, ...rest } = await this.weightsPool.run('read', [bytes, name], { signal, transfer: [bytes] });
    return { ...rest, tensors: fromTensorRecords(tensors) };
  }

  protected async load(blob: Blob, _kind: FileKind, name: string, signal: AbortSignal): Promise<void> {
    this.progress = { fraction: 0.3, label: `Reading ${name}` };
    const weights = await this.readWeights(await blob.arrayBuffer(), name, signal);
    if (signal.aborted) throw new DOMException('cancelled', 'AbortError');
    if (!this.device || !this.renderer) throw new Error(`${name}: the GPU device was lost while the file was read; open it again`);
    const device = this.device;
    const renderer = this.renderer;
    this.progress = { fraction: 0.8, label: `Building the network of ${name}` };
    const model = new MobileR2L(device, weights.tensors, weights.metadata, { precision: 'auto' });
    try {
      const c = model.config;
      const what = `MobileR2L depth ${c.netdepth}, width ${c.width}`;
      this.applyModel(renderer, model, `${name}: ${weights.source}; ${what}, ${c.samples} samples, ${c.upscale}x upsampling (${c.dataset}), ${(c.params / 1e6).toFixed(2)}M parameters`, `${name}: ${weights.source}; ${what}`);
    } catch (e) {
      model.destroy();
      throw e;
    }
    this.renderOnce();
  }

  protected release(): void {
    this.orbit?.destroy();
    this.orbit = null;
    this.renderer?.destroy();
    this.renderer = null;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.weightsPool?.destroy();
    this.weightsPool = null;
  }

  /** Sets the camera: c2w 4x4 row-major (Blender/NeRF), focal in output pixels, output size. */
  setPose(pose: { c2w: readonly number[] | readonly (readonly number[])[]; focal: number; width: number; height: number }): void {
    const c2w = toMat4(pose.c2w);
    const next = { c2w, focal: pose.focal, width: pose.width, height: pose.height };
    if (!this.renderer) throw new Error('the viewer is not ready yet (await ready)');
    this.renderer.checkPose(next);
    this.c2w = c2w;
    this.focal = pose.focal;
    this.setRes(pose.width, pose.height);
    this.heldoutIndex = -1;
    this.orbit?.set(this.orbitPose(), false);
    this.updatePose();
  }

  /** Output image size (the network's input is this / upscale). */
  setResolution(width: number, height: number): void {
    if (!this.renderer) throw new Error('the viewer is not ready yet (await ready)');
    this.renderer.checkPose({ ...this.framePose(), width, height, focal: focalFromAngle(width, this.cameraAngleX) });
    this.focal = null;
    this.setRes(width, height);
    this.updatePose();
  }

  private setRes(width: number, height: number): void {
    this.res = { width, height };
    const net = this.renderer?.network;
    if (net) {
      const u = net.config.upscale;
      this.stats = { ...this.stats, gmac: net.macs(height / u, width / u) / 1e9, resolution: `${width / u}x${height / u} -> ${width}x${height}` };
    }
  }

  selectHeldout(index: number): void {
    const p = this.heldout[index];
    if (!p) throw new RangeError(`no held-out pose ${index} (there are ${this.heldout.length})`);
    this.c2w = toMat4(p.c2w);
    this.heldoutIndex = index;
    this.focal = null;
    this.orbit?.set(this.orbitPose(), false);
    this.updatePose();
  }

  setView(mode: ViewMode): void {
    if (!VIEW_MODES.includes(mode)) throw new RangeError(`unknown view ${mode}; one of ${VIEW_MODES.join(', ')}`);
    this.view = mode;
    if (this.renderer) this.renderer.mode = mode;
    this.renderOnce();
  }

  private resolutions(): { label: string; width: number; height: number }[] {
    const u = this.renderer?.network?.config.upscale ?? 8;
    const list = [16, 32, 50, 100].map((s) => ({ label: `${s * u}x${s * u}`, width: s * u, height: s * u }));
    const w = Math.floor(1008 / u) * u;
    const h = Math.floor(756 / u) * u;
    list.push({ label: w === 1008 && h === 756 ? '1008x756 (paper)' : `${w}x${h} (paper 1008x756, rounded to ${u}x)`, width: w, height: h });
    if (this.res && !list.some((r) => r.width === this.res!.width && r.height === this.res!.height)) list.unshift({ label: `${this.res.width}x${this.res.height}`, ...this.res });
    return list;
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.fail(e as Error);
    }
  }

  protected override renderBody(): TemplateResult {
    const psnr = this.stats.psnr as number | null | undefined;
    return html`
      <div class="demo-toolbar" role="toolbar">
        <label>view
          <select data-control="view" @change=${(e: Event) => this.guard(() => this.setView((e.target as HTMLSelectElement).value as ViewMode))}>
            ${VIEW_MODES.map((m) => html`<option value=${m} ?selected=${m === this.view}>${{ split: 'student | teacher', all: 'student | teacher | difference', student: 'student', teacher: 'teacher', diff: 'difference (x4)' }[m]}</option>`)}
          </select></label>
        <label>resolution
          <select data-control="resolution" @change=${(e: Event) => this.guard(() => {
            const [w, h] = (e.target as HTMLSelectElement).value.split('x').map(Number);
            this.setResolution(w, h);
          })}>
            ${this.resolutions().map((r) => html`<option value=${`${r.width}x${r.height}`} ?selected=${this.res?.width === r.width && this.res?.height === r.height}>${r.label}</option>`)}
          </select></label>
        <label>pose
          <select data-control="pose" @change=${(e: Event) => this.guard(() => {
            const v = Number((e.target as HTMLSelectElement).value);
            if (v >= 0) this.selectHeldout(v);
          })}>
            <option value="-1" ?selected=${this.heldoutIndex < 0}>orbit (drag, arrows)</option>
            ${this.heldout.map((p, i) => html`<option value=${i} ?selected=${i === this.heldoutIndex}>held-out ${i}: az ${p.azimuth_deg}°, el ${p.elevation_deg}°</option>`)}
          </select></label>
        <file-drop accept=".pt,.pth,.tar,.ckpt,.safetensors" label="Open checkpoint…"
          @file-chosen=${(e: CustomEvent<File>) => this.open(e.detail).catch(() => undefined)}></file-drop>
        <span class="note" data-testid="nelf-psnr">PSNR vs teacher: ${typeof psnr === 'number' ? `${psnr.toFixed(2)} dB` : '…'}</span>
      </div>
      <p class="note" data-testid="nelf-model" style="margin:0.25rem 1rem">${this.modelLabel}</p>
      <div class="demo-stage">${this.canvas}</div>
    `;
  }
}

customElements.define('nelf-demo', NelfDemo);

/**
 * `<tryon-demo>`: the DM-VTON try-on studio. A person (sample, photo or webcam) and a garment
 * (sample or photo, its edge mask extracted automatically or uploaded) go through the student
 * network (model.ts) in one command encoder; the canvas shows the try-on, or the warped garment,
 * warped edge or the prepared inputs.
 *
 * Contract extras: `setInputs({ person?, garment?, edge? })` (File | Blob | URL | ImageData),
 * `setView(view)`, `setEdgeThreshold(t)`, `startWebcam()` / `stopWebcam()`;
 * stats.inferenceMs (submit to done of the last network run), stats.inferences, stats.model,
 * stats.input, stats.gmac, stats.weightsMB, stats.webcam.
 * URL parameters: `?input=WxH` sets the network's input size (multiples of 32, default
 * 192x256; tests use 96x128), `?model=none` starts without the default model,
 * `?person=N` / `?garment=N` pick samples.
 */
import { html, nothing, type TemplateResult } from 'lit';
import { IMAGE_KINDS, type FileKind } from '../../formats/sniff.ts';
import { DemoElement, type FrameInfo } from '../../ui/demo-base.ts';
import { isCpuDevice } from '../../gpu/device.ts';
import { fetchAsset } from '../../ui/fetch-asset.ts';
import { fromTensorRecords } from '../../formats/tensor.ts';
import { decodePool, WorkerPool } from '../../workers/pool.ts';
import '../../ui/file-drop.ts';
import { OFFICIAL_CHECKPOINT_LINKS, type StudentCheckpoint } from './checkpoint.ts';
import type { CheckpointWorkerApi } from './checkpoint.worker.ts';
import { TensorView } from './display.ts';
import { DmVtonModel, loadGen, loadWarp, type MobileAfwm, type MobileNetV2Unet } from './model.ts';
import { TryOnPipeline } from './pipeline.ts';
import { cropBox, DEFAULT_EDGE_THRESHOLD, extractEdge, rgbaToEdge, rgbaToPlanes } from './preprocess.ts';
import { drawGarment, drawPerson, GARMENTS, PEOPLE, type RgbaImage } from './samples.ts';

/** The project's demo model (trained on procedural data by tools/vton), one fp16 safetensors file per part. */
export const DEFAULT_MODEL_URLS = ['models/vton/warp.safetensors', 'models/vton/gen.safetensors'];

/** Sample persons and garments (with edge masks) drawn procedurally by tools/vton/data.py. */
const SAMPLE_DIR = 'models/vton/samples/';
const FILE_SAMPLES = 6;

/** Decoded images above this many pixels are downscaled by the decoder first. */
const MAX_DECODE_PIXELS = 1 << 22;
/** Smaller images cannot hold a person or a garment. */
const MIN_SIDE = 16;

export type TryOnView = 'tryon' | 'warped' | 'edge' | 'person' | 'garment';
export type ImageInput = File | Blob | string | ImageData;

interface PreparedImage {
  /** The model-size crop (RGBA). */
  image: RgbaImage;
  /** Where it came from, in words (source size, crop box, target size). */
  note: string;
  /** Source thumbnail and crop box in its coordinates (for the visible crop box). */
  source?: { image: RgbaImage; box: { x: number; y: number; width: number; height: number } };
}

interface Part<T> {
  module: T;
  label: string;
}

function parseInput(raw: string | null): { width: number; height: number } {
  const m = /^(\d{2,4})x(\d{2,4})$/.exec(raw ?? '');
  const size = m ? { width: +m[1], height: +m[2] } : { width: 192, height: 256 };
  DmVtonModel.checkSize(size.height, size.width);
  return size;
}

function toRgba(data: ImageData | { width: number; height: number; pixels: Uint8ClampedArray }): RgbaImage {
  const pixels = 'pixels' in data ? data.pixels : data.data;
  return { width: data.width, height: data.height, data: new Uint8ClampedArray(pixels) };
}

/** Crop to the model aspect and resize (smooth for photos, nearest for masks). */
function fitToModel(src: RgbaImage, width: number, height: number, smooth: boolean): { image: RgbaImage; box: { x: number; y: number; width: number; height: number } } {
  const box = cropBox(src.width, src.height, width, height);
  const from = new OffscreenCanvas(src.width, src.height);
  from.getContext('2d')!.putImageData(new ImageData(src.data, src.width, src.height), 0, 0);
  const to = new OffscreenCanvas(width, height);
  const ctx = to.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingEnabled = smooth;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(from, box.x, box.y, box.width, box.height, 0, 0, width, height);
  return { image: toRgba(ctx.getImageData(0, 0, width, height)), box };
}

export class TryOnDemo extends DemoElement {
  static override properties = { ...DemoElement.properties, view: { state: true }, note: { state: true }, webcamState: { state: true } };
  protected readonly accepts: readonly FileKind[] = ['zip', 'safetensors', ...IMAGE_KINDS];

  declare view: TryOnView;
  declare note: string;
  declare webcamState: string;
  /** The network's input size (`?input=WxH`; on software adapters 96x128 unless given). */
  inputSize: { width: number; height: number };
  private readonly sizeGiven: boolean;
  private sizeNote = '';

  private warp: Part<MobileAfwm> | null = null;
  private gen: Part<MobileNetV2Unet> | null = null;
  private model: DmVtonModel | null = null;
  private pipeline: TryOnPipeline | null = null;
  private display: TensorView | null = null;
  /** CPU copies that survive device loss: parsed checkpoints, prepared images. */
  private warpSource: { ck: StudentCheckpoint; name: string; label: string } | null = null;
  private genSource: { ck: StudentCheckpoint; name: string; label: string } | null = null;
  private checkpointPool: WorkerPool<CheckpointWorkerApi> | null = null;
  private person: PreparedImage;
  private garment: PreparedImage;
  private edge: { mask: Float32Array; note: string; uploaded: boolean };
  private edgeThreshold = DEFAULT_EDGE_THRESHOLD;
  /** Chosen samples: 'fN' = file sample N of public/models/vton/samples, 'dN' = drawn sample N. */
  private personSample: string;
  private garmentSample: string;
  /** Whether the file samples exist in this build (checked at the first build). */
  private fileSamples = false;
  private builtOnce = false;
  private dirty = true;
  private inFlight = false;
  private inferences = 0;
  private imageTarget: 'person' | 'garment' | 'edge' = 'person';
  private stream: MediaStream | null = null;
  private video: HTMLVideoElement | null = null;
  private grab: OffscreenCanvas | null = null;
  private defaultModelNote = '';
  /** setInputs calls still fetching or decoding. */
  private inputsLoading = 0;

  constructor() {
    super();
    this.view = 'tryon';
    this.note = '';
    this.setWebcamState('off');
    let size = { width: 192, height: 256 };
    try {
      size = parseInput(this.params.all.get('input'));
    } catch (e) {
      queueMicrotask(() => this.fail(e as Error));
    }
    this.inputSize = size;
    this.sizeGiven = this.params.all.has('input');
    const pick = (key: string, drawn: number) => {
      const m = /^([fd])(\d)$/.exec(this.params.all.get(key) ?? 'f0');
      return m && (m[1] === 'f' ? +m[2] < FILE_SAMPLES : +m[2] < drawn) ? m[0] : 'f0';
    };
    this.personSample = pick('person', PEOPLE.length);
    this.garmentSample = pick('garment', GARMENTS.length);
    // Drawn stand-ins until the file samples (if any) are fetched at build.
    this.person = this.samplePerson(this.personSample.startsWith('d') ? +this.personSample[1] : 0);
    this.garment = this.sampleGarment(this.garmentSample.startsWith('d') ? +this.garmentSample[1] : 0);
    this.edge = this.extracted();
  }

  // ---- inputs -------------------------------------------------------------------------

  private samplePerson(i: number): PreparedImage {
    const { width, height } = this.inputSize;
    return { image: drawPerson(i, width, height), note: `${PEOPLE[i].name} (drawn by the project)` };
  }

  private sampleGarment(i: number): PreparedImage {
    const { width, height } = this.inputSize;
    return { image: drawGarment(i, width, height), note: `${GARMENTS[i].name} (drawn by the project)` };
  }

  private extracted(): { mask: Float32Array; note: string; uploaded: boolean } {
    const { image } = this.garment;
    return { mask: extractEdge(image.data, image.width, image.height, { threshold: this.edgeThreshold }), note: `extracted from the garment (background colour from the border, threshold ${this.edgeThreshold})`, uploaded: false };
  }

  private async prepare(input: ImageInput, what: string, smooth: boolean, signal?: AbortSignal): Promise<PreparedImage> {
    let src: RgbaImage;
    let name = what;
    let original = '';
    if (input instanceof ImageData) {
      src = toRgba(input);
      name = `${what} (ImageData)`;
    } else {
      let blob: Blob;
      if (typeof input === 'string') {
        ({ blob, name } = await fetchAsset(input, { signal }));
      } else {
        blob = input;
        name = input instanceof File ? input.name : `${what} (blob)`;
      }
      let decoded;
      try {
        decoded = await decodePool().run('decodeImage', [blob, MAX_DECODE_PIXELS], { signal });
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        throw new Error(`${name}: cannot be read as an image (${(e as Error).message})`, { cause: e });
      }
      src = toRgba(decoded);
      if (decoded.scaled) original = ` (decoded from ${decoded.originalWidth}x${decoded.originalHeight})`;
    }
    if (src.width < MIN_SIDE || src.height < MIN_SIDE) throw new Error(`${name}: ${src.width}x${src.height} is too small for a ${what} image (at least ${MIN_SIDE}x${MIN_SIDE} pixels)`);
    const { width, height } = this.inputSize;
    const { image, box } = fitToModel(src, width, height, smooth);
    const cropped = box.width !== src.width || box.height !== src.height;
    const note = `${name}: ${src.width}x${src.height}${original}${cropped ? `, centre crop ${box.width}x${box.height} at (${box.x}, ${box.y})` : ''} → ${width}x${height}`;
    return { image, note, source: { image: src, box } };
  }

  /** Sets any of the inputs (File | Blob | URL | ImageData); a garment without an edge gets one extracted. */
  async setInputs(inputs: { person?: ImageInput; garment?: ImageInput; edge?: ImageInput }): Promise<void> {
    this.inputsLoading++;
    try {
      const [person, garment, edge] = await Promise.all([
        inputs.person !== undefined ? this.prepare(inputs.person, 'person', true) : null,
        inputs.garment !== undefined ? this.prepare(inputs.garment, 'garment', true) : null,
        inputs.edge !== undefined ? this.prepare(inputs.edge, 'edge', false) : null,
      ]);
      if (person) this.person = person;
      if (garment) this.garment = garment;
      if (edge) this.edge = { mask: rgbaToEdge(edge.image.data, edge.image.width, edge.image.height), note: `uploaded: ${edge.note}`, uploaded: true };
      else if (garment) this.edge = this.extracted();
      this.upload({ person: !!person, garment: !!(garment || edge) });
      this.lastError = null;
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      this.fail(error);
      throw error;
    } finally {
      this.inputsLoading--;
    }
  }

  /** Re-extracts the garment edge with another threshold (0..255). */
  setEdgeThreshold(threshold: number): void {
    if (!(threshold >= 0 && threshold <= 255)) throw new RangeError(`edge threshold must be in 0..255, got ${threshold}`);
    this.edgeThreshold = threshold;
    this.edge = this.extracted();
    this.upload({ person: false, garment: true });
  }

  setView(view: TryOnView): void {
    if (!['tryon', 'warped', 'edge', 'person', 'garment'].includes(view)) throw new RangeError(`unknown view '${view}'`);
    this.view = view;
    this.renderOnce();
  }

  private upload(which: { person: boolean; garment: boolean }): void {
    const p = this.pipeline;
    if (p) {
      const { image: pi } = this.person;
      const { image: gi } = this.garment;
      p.setInputs({
        person: which.person ? rgbaToPlanes(pi.data, pi.width, pi.height) : undefined,
        garment: which.garment ? rgbaToPlanes(gi.data, gi.width, gi.height) : undefined,
        edge: which.garment ? this.edge.mask : undefined,
      });
      this.dirty = true;
    }
    this.renderOnce();
    this.requestUpdate();
  }

  // ---- model --------------------------------------------------------------------------

  private installModel(): void {
    this.model?.destroyOps();
    this.model = null;
    if (!this.device || !this.warp || !this.gen || !this.pipeline) return;
    this.model = new DmVtonModel(this.device, this.warp.module, this.gen.module);
    this.pipeline.model = this.model;
    const { width, height } = this.inputSize;
    this.stats.gmac = Number((this.model.macs(height, width) / 1e9).toFixed(2));
    this.dirty = true;
  }

  /** Parses a checkpoint file in the checkpoint worker (the page stays responsive for big files). */
  private async readCheckpoint(bytes: ArrayBuffer, name: string, signal?: AbortSignal): Promise<StudentCheckpoint> {
    this.checkpointPool ??= new WorkerPool<CheckpointWorkerApi>({
      size: 1,
      name: 'checkpoint worker',
      factory: () => new Worker(new URL('./checkpoint.worker.ts', import.meta.url), { type: 'module', name: 'try-on checkpoint' }),
    });
    const { dict, ...rest } = await this.checkpointPool.run('read', [bytes, name], { signal, transfer: [bytes] });
    return { ...rest, dict: fromTensorRecords(dict) };
  }

  /** Builds the parts a checkpoint holds; replaces the current ones only when all succeed. */
  private applyCheckpoint(ck: StudentCheckpoint, name: string, label: (part: 'warp' | 'gen') => string): string {
    const device = this.device;
    if (!device) throw new Error(`${name}: the GPU device was lost while the file was read; open it again`);
    let warp: MobileAfwm | null = null;
    let gen: MobileNetV2Unet | null = null;
    try {
      if (ck.parts.warp !== undefined) warp = loadWarp(device, ck.dict, ck.parts.warp, `${name} (warp module)`);
      if (ck.parts.gen !== undefined) gen = loadGen(device, ck.dict, ck.parts.gen, `${name} (generator)`);
    } catch (e) {
      warp?.destroy();
      throw e;
    }
    const parts: string[] = [];
    if (warp) {
      this.warp?.module.destroy();
      this.warp = { module: warp, label: label('warp') };
      this.warpSource = { ck, name, label: label('warp') };
      parts.push('warp module');
    }
    if (gen) {
      this.gen?.module.destroy();
      this.gen = { module: gen, label: label('gen') };
      this.genSource = { ck, name, label: label('gen') };
      parts.push('generator');
    }
    this.installModel();
    return `${name}: ${parts.join(' and ')} loaded (${ck.format}${ck.info.length ? `, ${ck.info.join(', ')}` : ''})`;
  }

  private async loadDefaultModel(signal?: AbortSignal): Promise<void> {
    if (this.params.all.get('model') === 'none') {
      this.defaultModelNote = 'Started without a model (?model=none).';
      return;
    }
    const files: { bytes: ArrayBuffer; name: string }[] = [];
    for (const path of DEFAULT_MODEL_URLS) {
      let response: Response;
      try {
        response = await fetch(new URL(path, document.baseURI).href, { signal });
      } catch {
        this.defaultModelNote = 'The demo model could not be fetched; open the official checkpoints.';
        return;
      }
      if (!response.ok) {
        this.defaultModelNote = `No demo model is shipped with this build (${response.status} for ${path}); open the official checkpoints.`;
        return;
      }
      files.push({ bytes: await response.arrayBuffer(), name: path });
    }
    const label = 'demo model (trained by this project on procedurally drawn people and garments, not on VITON)';
    try {
      const cks = await Promise.all(files.map((f) => this.readCheckpoint(f.bytes, f.name, signal)));
      this.defaultModelNote = cks.map((ck, i) => this.applyCheckpoint(ck, files[i].name, () => label)).join('; ') + '.';
    } catch (e) {
      this.defaultModelNote = `The demo model did not load (${(e as Error).message}); open the official checkpoints.`;
    }
  }

  // ---- DemoElement --------------------------------------------------------------------

  /** Software adapters (SwiftShader, llvmpipe) run the 34.5-GMAC network in minutes: start them at 96x128. */
  private adaptSize(device: GPUDevice): void {
    const software = isCpuDevice(device);
    const samples = !this.person.source && !this.garment.source && !this.edge.uploaded && !this.stream;
    if (this.sizeGiven || !software || !samples || this.inputSize.width !== 192) return;
    this.inputSize = { width: 96, height: 128 };
    this.person = this.samplePerson(this.personSample.startsWith('d') ? +this.personSample[1] : 0);
    this.garment = this.sampleGarment(this.garmentSample.startsWith('d') ? +this.garmentSample[1] : 0);
    this.edge = this.extracted();
    this.sizeNote = 'A software GPU adapter was detected: the network runs at 96x128 (?input=192x256 for the full size).';
  }

  protected async build(device: GPUDevice): Promise<void> {
    if (!this.builtOnce) {
      this.builtOnce = true;
      this.adaptSize(device);
      await this.loadFileSamples();
    }
    const { width, height } = this.inputSize;
    this.display = new TensorView(device);
    this.pipeline = new TryOnPipeline(device, null, height, width);
    if (this.warpSource || this.genSource) {
      // Device loss: rebuild what was loaded from the CPU copies.
      for (const s of [this.warpSource, this.genSource]) if (s) this.applyCheckpoint(s.ck, s.name, () => s.label);
    }
    if (!this.warp || !this.gen) await this.loadDefaultModel();
    this.installModel();
    this.upload({ person: true, garment: true });
    this.stats.input = `${width}x${height}`;
    this.updateModelStats();
  }

  private updateModelStats(): void {
    this.stats.model = { warp: this.warp?.label ?? 'none', gen: this.gen?.label ?? 'none' };
  }

  protected encodeFrame(encoder: GPUCommandEncoder, output: GPUTexture, frame: FrameInfo): void {
    const device = this.device!;
    const p = this.pipeline!;
    this.grabWebcamFrame();
    if (this.model && p.model && this.dirty && !this.inFlight) {
      p.encode(encoder, frame.profiler);
      this.dirty = false;
      this.inFlight = true;
      frame.afterSubmit(() => {
        const start = performance.now();
        device.queue.onSubmittedWorkDone().then(
          () => {
            this.inFlight = false;
            this.inferences++;
            const ms = performance.now() - start;
            const prev = this.stats.inferenceMs as number | undefined;
            this.stats.inferenceMs = prev ? prev * 0.8 + ms * 0.2 : ms;
            this.stats.inferences = this.inferences;
            if (this.stream) this.renderOnce();
          },
          () => (this.inFlight = false),
        );
      });
    }
    const view = this.model ? this.view : this.view === 'tryon' || this.view === 'warped' || this.view === 'edge' ? 'person' : this.view;
    const o = p.outputs;
    const [tensor, mode] = (
      {
        tryon: [o.tryOn, 'rgb'],
        warped: [o.warpedCloth, 'rgb'],
        edge: [o.warpedEdge, 'gray'],
        person: [p.person, 'rgb'],
        garment: [p.garment, 'rgb'],
      } as const
    )[view];
    this.display!.encode(encoder, tensor, output, mode, frame.profiler.timestamps('display'));
    this.stats.view = view;
  }

  protected async load(blob: Blob, kind: FileKind, name: string, signal: AbortSignal): Promise<void> {
    if (kind === 'zip' || kind === 'safetensors') {
      const ck = await this.readCheckpoint(await blob.arrayBuffer(), name, signal);
      if (signal.aborted) throw new DOMException('aborted', 'AbortError');
      this.note = this.applyCheckpoint(ck, name, (part) => `${name} (${part === 'warp' ? 'warp module' : 'generator'}, user checkpoint)`);
      this.updateModelStats();
      this.renderOnce();
      return;
    }
    const target = this.imageTarget;
    this.imageTarget = 'person';
    await this.setInputs({ [target]: blob });
  }

  protected release(): void {
    this.model?.destroyOps();
    this.model = null;
    this.warp?.module.destroy();
    this.warp = null;
    this.gen?.module.destroy();
    this.gen = null;
    this.pipeline?.destroy();
    this.pipeline = null;
    this.display?.destroy();
    this.display = null;
    this.inFlight = false;
    this.dirty = true;
  }

  /** The latest try-on (or view) once the network has caught up with the inputs. */
  override async snapshot(): Promise<ImageData> {
    await this.ready;
    // Inputs still being fetched or decoded (a sample picked a moment ago) come first.
    for (let i = 0; this.inputsLoading > 0 || ((this.dirty || this.inFlight) && this.model); i++) {
      if (this.dirty && !this.running) this.renderOnce();
      await new Promise((r) => setTimeout(r, 20));
    }
    return super.snapshot();
  }

  // ---- webcam -------------------------------------------------------------------------

  private setWebcamState(state: string): void {
    this.webcamState = state;
    this.stats.webcam = state;
  }

  async startWebcam(): Promise<void> {
    if (this.stream) return;
    if (!navigator.mediaDevices?.getUserMedia) {
      this.setWebcamState('unavailable');
      throw new Error('This browser offers no camera access here (getUserMedia needs a secure context: https or localhost). Photos and samples still work.');
    }
    this.setWebcamState('starting');
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: 'user' }, audio: false });
    } catch (e) {
      const name = (e as DOMException).name;
      this.setWebcamState(name === 'NotAllowedError' ? 'denied' : 'unavailable');
      const why =
        name === 'NotAllowedError'
          ? 'Camera permission was denied'
          : name === 'NotFoundError' || name === 'OverconstrainedError'
            ? 'No camera was found'
            : `The camera could not be started (${(e as Error).message})`;
      const error = new Error(`${why}. Photos and samples still work.`);
      this.fail(error);
      throw error;
    }
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    await video.play();
    this.stream = stream;
    this.video = video;
    this.setWebcamState('live');
    this.person = { image: this.person.image, note: 'webcam (centre crop to 3:4, live)' };
    this.lastError = null;
    this.invalidate();
    this.renderOnce();
  }

  stopWebcam(): void {
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
    this.video = null;
    if (this.webcamState === 'live' || this.webcamState === 'starting') this.setWebcamState('off');
  }

  private grabWebcamFrame(): void {
    const v = this.video;
    if (!v || !this.stream || this.inFlight || v.readyState < 2 || !v.videoWidth) return;
    const { width, height } = this.inputSize;
    const box = cropBox(v.videoWidth, v.videoHeight, width, height);
    this.grab ??= new OffscreenCanvas(width, height);
    const ctx = this.grab.getContext('2d', { willReadFrequently: true })!;
    // Mirror like a mirror: users expect their right hand on the right.
    ctx.setTransform(-1, 0, 0, 1, width, 0);
    ctx.drawImage(v, box.x, box.y, box.width, box.height, 0, 0, width, height);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    this.person = { image: toRgba(ctx.getImageData(0, 0, width, height)), note: `webcam ${v.videoWidth}x${v.videoHeight}, centre crop ${box.width}x${box.height} → ${width}x${height}` };
    const p = this.pipeline;
    if (p) {
      p.setInputs({ person: rgbaToPlanes(this.person.image.data, width, height) });
      this.dirty = true;
    }
  }

  override disconnectedCallback(): void {
    this.stopWebcam();
    super.disconnectedCallback();
    this.checkpointPool?.destroy();
    this.checkpointPool = null;
  }

  // ---- UI -----------------------------------------------------------------------------

  private thumb(img: RgbaImage | { mask: Float32Array; width: number; height: number }, box?: { x: number; y: number; width: number; height: number }): HTMLCanvasElement {
    const c = document.createElement('canvas');
    c.className = 'tryon-thumb';
    if ('mask' in img) {
      c.width = img.width;
      c.height = img.height;
      const d = new Uint8ClampedArray(img.width * img.height * 4);
      for (let i = 0; i < img.mask.length; i++) d.set([img.mask[i] * 255, img.mask[i] * 255, img.mask[i] * 255, 255], i * 4);
      c.getContext('2d')!.putImageData(new ImageData(d, img.width, img.height), 0, 0);
      return c;
    }
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d')!;
    ctx.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
    if (box && (box.width !== img.width || box.height !== img.height)) {
      ctx.strokeStyle = '#4cc2ff';
      ctx.lineWidth = Math.max(2, img.width / 100);
      ctx.strokeRect(box.x, box.y, box.width, box.height);
    }
    return c;
  }

  private pick(target: 'person' | 'garment' | 'edge', file: File): void {
    this.imageTarget = target;
    this.open(file).catch(() => undefined);
  }

  protected override renderBody(): TemplateResult {
    const { width, height } = this.inputSize;
    const personThumb = this.person.source ? this.thumb(this.person.source.image, this.person.source.box) : this.thumb(this.person.image);
    const garmentThumb = this.thumb(this.garment.image);
    const edgeThumb = this.thumb({ mask: this.edge.mask, width, height });
    const demo = (this.warp?.label ?? '').startsWith('demo model') || (this.gen?.label ?? '').startsWith('demo model');
    return html`
      <div class="demo-toolbar tryon-toolbar">
        <label>Person
          <select data-control="person" @change=${(e: Event) => void this.pickPersonSample((e.target as HTMLSelectElement).value).catch(() => undefined)}>
            ${this.fileSamples ? Array.from({ length: FILE_SAMPLES }, (_, i) => html`<option value=${`f${i}`} ?selected=${`f${i}` === this.personSample}>Sample person ${i + 1}</option>`) : nothing}
            ${PEOPLE.map((p, i) => html`<option value=${`d${i}`} ?selected=${`d${i}` === this.personSample}>${p.name}</option>`)}
          </select>
        </label>
        <file-drop accept="image/*" label="Person photo…" @file-chosen=${(e: CustomEvent<File>) => this.pick('person', e.detail)}></file-drop>
        <button data-control="webcam" @click=${() => (this.stream ? this.stopWebcam() : this.startWebcam().catch(() => undefined))}>${this.stream ? 'Stop webcam' : 'Webcam'}</button>
        <label>Garment
          <select data-control="garment" @change=${(e: Event) => void this.pickGarmentSample((e.target as HTMLSelectElement).value).catch(() => undefined)}>
            ${this.fileSamples ? Array.from({ length: FILE_SAMPLES }, (_, i) => html`<option value=${`f${i}`} ?selected=${`f${i}` === this.garmentSample}>Sample garment ${i + 1}</option>`) : nothing}
            ${GARMENTS.map((g, i) => html`<option value=${`d${i}`} ?selected=${`d${i}` === this.garmentSample}>${g.name}</option>`)}
          </select>
        </label>
        <file-drop accept="image/*" label="Garment photo…" @file-chosen=${(e: CustomEvent<File>) => this.pick('garment', e.detail)}></file-drop>
        <file-drop accept="image/*" label="Edge mask…" @file-chosen=${(e: CustomEvent<File>) => this.pick('edge', e.detail)}></file-drop>
        <label title="Max colour difference from the background (border median) that still counts as background">Edge threshold
          <input type="range" min="2" max="160" .value=${String(this.edgeThreshold)} data-control="threshold" @change=${(e: Event) => this.setEdgeThreshold(+(e.target as HTMLInputElement).value)} />
        </label>
        <label>View
          <select data-control="view" @change=${(e: Event) => this.setView((e.target as HTMLSelectElement).value as TryOnView)}>
            ${(['tryon', 'warped', 'edge', 'person', 'garment'] as const).map((v) => html`<option value=${v} ?selected=${v === this.view}>${{ tryon: 'Try-on', warped: 'Warped garment', edge: 'Warped edge', person: 'Person input', garment: 'Garment input (masked)' }[v]}</option>`)}
          </select>
        </label>
        <file-drop accept=".pt,.pth,.safetensors,.zip" label="Checkpoint…" @file-chosen=${(e: CustomEvent<File>) => this.open(e.detail).catch(() => undefined)}></file-drop>
      </div>
      <div class="tryon-inputs">
        <figure>${personThumb}<figcaption>${this.person.note}</figcaption></figure>
        <figure>${garmentThumb}<figcaption>${this.garment.note}</figcaption></figure>
        <figure>${edgeThumb}<figcaption>edge: ${this.edge.note}</figcaption></figure>
      </div>
      <div class="tryon-notes note">
        ${this.note ? html`<p>${this.note}</p>` : nothing}
        <p>
          ${this.warp && this.gen ? nothing : html`<strong>No complete model is loaded: the canvas shows the inputs.</strong>`}
          Model: warp = ${this.warp?.label ?? 'none'}; generator = ${this.gen?.label ?? 'none'}. ${demo ? 'The demo model only knows drawn people and garments; load the official weights for photos.' : nothing}
          ${this.defaultModelNote} ${this.sizeNote}
        </p>
        <details>
          <summary>Official weights</summary>
          Official DM-VTON weights (<code>dmvton_pf_warp.pt</code>, <code>dmvton_pf_gen.pt</code>, CC BY-NC-SA 4.0, academic use) come from
          ${OFFICIAL_CHECKPOINT_LINKS.map((l, i) => html`${i ? ' or ' : ''}<a href=${l.url} target="_blank" rel="noopener noreferrer">${l.label}</a>`)}; open each file with “Checkpoint…” (or drop it), in either order. They were trained on VITON: upper-body photos, plain background, head near the top.
        </details>
        <p>Webcam: ${this.webcamState}. Input ${width}x${height}; inference ${typeof this.stats.inferenceMs === 'number' ? `${(this.stats.inferenceMs as number).toFixed(1)} ms (${(1000 / (this.stats.inferenceMs as number)).toFixed(1)} try-ons/s)` : '–'}.</p>
      </div>
      <div class="demo-stage">${this.canvas}</div>
    `;
  }

  /** Picks a sample person ('fN' file sample, 'dN' drawn); resolves when it is uploaded. */
  async pickPersonSample(value: string): Promise<void> {
    this.stopWebcam();
    this.personSample = value;
    if (value.startsWith('f')) {
      await this.setInputs({ person: sampleUrl(`person_${value.slice(1).padStart(2, '0')}.png`) });
      this.person.note = `Sample person ${+value.slice(1) + 1} (procedural, made by this project)`;
      this.requestUpdate();
      return;
    }
    this.person = this.samplePerson(+value.slice(1));
    this.upload({ person: true, garment: false });
  }

  /** Picks a sample garment with its edge mask (file samples ship one; drawn ones get it extracted). */
  async pickGarmentSample(value: string): Promise<void> {
    this.garmentSample = value;
    if (value.startsWith('f')) {
      const n = value.slice(1).padStart(2, '0');
      await this.setInputs({ garment: sampleUrl(`garment_${n}.png`), edge: sampleUrl(`garment_${n}_edge.png`) });
      this.garment.note = `Sample garment ${+value.slice(1) + 1} (procedural, made by this project)`;
      this.edge.note = 'the sample garment\'s mask';
      this.requestUpdate();
      return;
    }
    this.garment = this.sampleGarment(+value.slice(1));
    this.edge = this.extracted();
    this.upload({ person: false, garment: true });
  }

  /** At the first build: the shipped sample files, when this build has them and they were chosen. */
  private async loadFileSamples(): Promise<void> {
    try {
      const probe = await fetch(sampleUrl('person_00.png'), { method: 'HEAD' });
      this.fileSamples = probe.ok;
    } catch {
      this.fileSamples = false;
    }
    if (!this.fileSamples) {
      if (this.personSample.startsWith('f')) this.personSample = 'd0';
      if (this.garmentSample.startsWith('f')) this.garmentSample = 'd0';
      return;
    }
    try {
      if (this.personSample.startsWith('f')) await this.pickPersonSample(this.personSample);
      if (this.garmentSample.startsWith('f')) await this.pickGarmentSample(this.garmentSample);
    } catch {
      // A broken sample file leaves the drawn stand-ins in place (the error is shown).
    }
  }
}

/** A shipped sample file (public/models/vton/samples, made by tools/vton/data.py). */
function sampleUrl(name: string): string {
  return new URL(`${SAMPLE_DIR}${name}`, document.baseURI).href;
}

customElements.define('tryon-demo', TryOnDemo);
declare global {
  interface HTMLElementTagNameMap {
    'tryon-demo': TryOnDemo;
  }
}

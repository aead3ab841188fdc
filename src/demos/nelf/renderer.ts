/**
 * One light-field frame in one command encoder: rays + positional encoding on the GPU, the
 * MobileR2L network, the WGSL teacher at the same pose and size, the side-by-side view and the
 * squared error for the PSNR (read back after submit, never waited on inside a frame).
 */
import viewWgsl from '../../../shaders/nelf_view.wgsl?raw';
import type { GpuProfiler } from '../../gpu/profiler.ts';
import { StageRecorder } from '../../nn/graph.ts';
import { cachedPipeline, OpResources } from '../../nn/ops/common.ts';
import { emptyTensor, TensorPool, type Tensor } from '../../nn/tensor.ts';
import type { Mat4 } from './camera.ts';
import { MobileR2L, RayEncoder, STAGES, TeacherRenderer } from './network.ts';

export type ViewMode = 'split' | 'all' | 'student' | 'teacher' | 'diff';
export const VIEW_MODES: readonly ViewMode[] = ['split', 'all', 'student', 'teacher', 'diff'];
const PANELS: Record<ViewMode, number[]> = { split: [0, 1], all: [0, 1, 2], student: [0], teacher: [1], diff: [2] };
const PARTIALS = 64;

export interface FramePose {
  /** 4x4 row-major camera-to-world (Blender/NeRF convention). */
  c2w: Mat4;
  /** Focal length in output pixels. */
  focal: number;
  /** Output image size (the network's low-res grid is this / upscale). */
  width: number;
  height: number;
}

/** Panel placement of `n` images of iw x ih in an ow x oh texture (largest nearest-neighbour fit). */
export function viewLayout(n: number, iw: number, ih: number, ow: number, oh: number): { vertical: boolean; panelW: number; panelH: number; offX: number; offY: number } {
  const sh = Math.min(ow / (n * iw), oh / ih);
  const sv = Math.min(ow / iw, oh / (n * ih));
  const vertical = sv > sh;
  const s = Math.max(sh, sv);
  const panelW = Math.max(1, Math.floor(iw * s));
  const panelH = Math.max(1, Math.floor(ih * s));
  const offX = Math.max(0, Math.floor((ow - (vertical ? panelW : n * panelW)) / 2));
  const offY = Math.max(0, Math.floor((oh - (vertical ? n * panelH : panelH)) / 2));
  return { vertical, panelW, panelH, offX, offY };
}

export class NelfRenderer {
  private model: MobileR2L | null = null;
  private readonly pool: TensorPool;
  private readonly rays: RayEncoder;
  private readonly teacherR: TeacherRenderer;
  private readonly resources: OpResources;
  private readonly partials: GPUBuffer;
  private readonly readback: GPUBuffer;
  private readbackBusy = false;
  private groups = new Map<string, GPUBindGroup>();
  /** Persistent per-size tensors: the network input, the student's and the teacher's images. */
  input: Tensor | null = null;
  student: Tensor | null = null;
  teacher: Tensor | null = null;
  pose: FramePose | null = null;
  mode: ViewMode = 'split';
  diffGain = 4;
  /** Latest student-vs-teacher PSNR (dB) and MSE, one or two frames late (possibly of an earlier pose). */
  psnr: number | null = null;
  mse: number | null = null;
  private poseSerial = 0;
  private readSerial = -1;

  constructor(private readonly device: GPUDevice) {
    this.pool = new TensorPool(device, 'nelf pool');
    this.rays = new RayEncoder(device);
    this.teacherR = new TeacherRenderer(device);
    this.resources = new OpResources(device, 'nelf view');
    this.partials = device.createBuffer({ label: 'nelf sse', size: (PARTIALS + 4) * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    this.readback = device.createBuffer({ label: 'nelf sse read', size: 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  get network(): MobileR2L | null {
    return this.model;
  }

  /** Takes ownership of `model`, freeing the previous one. */
  setModel(model: MobileR2L): void {
    this.model?.destroy();
    this.model = model;
    this.pool.trim();
    this.psnr = null;
    this.poseSerial++;
  }

  /** Checks a pose against the model (size divisible by its upscale) before it is used. */
  checkPose(p: FramePose, model: MobileR2L | null = this.model): void {
    if (!model) throw new Error('no light-field model loaded');
    const u = model.config.upscale;
    if (!(p.width > 0 && p.height > 0 && Number.isInteger(p.width) && Number.isInteger(p.height))) throw new RangeError(`image size must be positive integers, got ${p.width}x${p.height}`);
    if (p.width % u || p.height % u) throw new RangeError(`this model upsamples ${u}x: width and height must divide by ${u}, got ${p.width}x${p.height}`);
    if (!(p.focal > 0)) throw new RangeError(`focal must be positive, got ${p.focal}`);
    const maxBytes = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
    const h = p.height / u;
    const w = p.width / u;
    const cfg = model.config;
    let widest = Math.max(cfg.inputDim, cfg.width) * h * w;
    let scale = 1;
    for (const t of cfg.tail) if (t.kind === 'up') ((scale *= t.stride), (widest = Math.max(widest, t.outC * h * w * scale * scale)));
    if (widest * 4 > maxBytes) {
      throw new RangeError(`${p.width}x${p.height} needs a ${((widest * 4) / 2 ** 20).toFixed(0)} MiB tensor, over this device's ${(maxBytes / 2 ** 20).toFixed(0)} MiB storage buffer limit; pick a smaller resolution`);
    }
  }

  setPose(p: FramePose): void {
    this.checkPose(p);
    this.pose = { ...p, c2w: [...p.c2w] };
    this.poseSerial++;
  }

  private sized(t: Tensor | null, c: number, h: number, w: number, label: string): Tensor {
    if (t && t.c === c && t.h === h && t.w === w) return t;
    t?.destroy();
    return emptyTensor(this.device, [1, c, h, w], label);
  }

  /** Records one frame; `output` (rgba8unorm storage texture) receives the view. */
  encode(encoder: GPUCommandEncoder, output: GPUTexture | null, profiler?: GpuProfiler): void {
    const model = this.model;
    const pose = this.pose;
    if (!model || !pose) throw new Error('the light-field renderer has no model or pose yet');
    const cfg = model.config;
    const h = pose.height / cfg.upscale;
    const w = pose.width / cfg.upscale;
    this.input = this.sized(this.input, cfg.inputDim, h, w, 'nelf input');
    this.student = this.sized(this.student, 3, pose.height, pose.width, 'nelf student');
    this.teacher = this.sized(this.teacher, 3, pose.height, pose.width, 'nelf teacher');
    const rec = new StageRecorder(encoder, profiler);
    const input = this.input;
    rec.run(STAGES.encode, (pass) =>
      this.rays.encode(pass, { c2w: pose.c2w, height: h, width: w, focal: (pose.focal * h) / pose.height, samples: cfg.samples, multires: cfg.multires, near: cfg.near, far: cfg.far, ndc: cfg.ndc }, input),
    );
    model.run(rec, input, this.pool, this.student);
    const teacher = this.teacher;
    rec.run(STAGES.teacher, (pass) => this.teacherR.encode(pass, pose.c2w, pose.focal, teacher));
    const words = new Uint32Array(16);
    const panels = PANELS[this.mode];
    const ow = output?.width ?? 1;
    const oh = output?.height ?? 1;
    const lay = viewLayout(panels.length, pose.width, pose.height, ow, oh);
    words.set([pose.width, pose.height, ow, oh, panels.length, lay.vertical ? 1 : 0, lay.panelW, lay.panelH, lay.offX, lay.offY, panels[0], panels[1] ?? 0, panels[2] ?? 0]);
    new Float32Array(words.buffer)[13] = this.diffGain;
    const u = this.resources.uniform(words);
    rec.run(STAGES.view, (pass) => {
      const partial = cachedPipeline(this.device, 'nelf-view', 'nelf view', () => viewWgsl, 'sse_partial');
      const final = cachedPipeline(this.device, 'nelf-view', 'nelf view', () => viewWgsl, 'sse_final');
      this.resources.dispatch(pass, partial, [u, this.student!.buffer, teacher.buffer, null, this.partials], PARTIALS);
      this.resources.dispatch(pass, final, [u, null, null, null, this.partials], 1);
      if (output) {
        const compose = cachedPipeline(this.device, 'nelf-view', 'nelf view', () => viewWgsl, 'compose');
        pass.setPipeline(compose);
        pass.setBindGroup(0, this.composeGroup(compose, u, output));
        pass.dispatchWorkgroups(Math.ceil(ow / 8), Math.ceil(oh / 8));
      }
    });
    rec.finish();
    if (!this.readbackBusy && this.readSerial !== this.poseSerial) {
      encoder.copyBufferToBuffer(this.partials, PARTIALS * 4, this.readback, 0, 8);
      this.pendingSerial = this.poseSerial;
      this.copied = true;
    }
  }

  /** The PSNR of the current pose and model, once read back (null until then). */
  get currentPsnr(): number | null {
    return this.readSerial === this.poseSerial ? this.psnr : null;
  }

  /** A frame's error is being copied or mapped (later frames cannot copy theirs until it is done). */
  get readPending(): boolean {
    return this.readbackBusy || this.copied;
  }

  private pendingSerial = -1;
  private copied = false;

  /** Call after the frame's submit: maps the squared error of that frame (nothing waits on it). */
  afterSubmit(): Promise<void> {
    if (!this.copied) return Promise.resolve();
    this.copied = false;
    this.readbackBusy = true;
    const serial = this.pendingSerial;
    return this.readback.mapAsync(GPUMapMode.READ).then(
      () => {
        const v = new Float32Array(this.readback.getMappedRange().slice(0));
        this.readback.unmap();
        this.readbackBusy = false;
        this.mse = v[1];
        this.psnr = -10 * Math.log10(Math.max(v[1], 1e-12));
        this.readSerial = serial;
      },
      () => {
        this.readbackBusy = false; // destroyed or device lost
      },
    );
  }

  private composeGroup(pipeline: GPUComputePipeline, u: GPUBuffer, output: GPUTexture): GPUBindGroup {
    const ids = [u, this.student!.buffer, this.teacher!.buffer, output].map((o) => this.id(o)).join('|');
    let g = this.groups.get(ids);
    if (!g) {
      if (this.groups.size > 32) this.groups.clear();
      g = this.device.createBindGroup({
        label: 'nelf compose',
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: u } },
          { binding: 1, resource: { buffer: this.student!.buffer } },
          { binding: 2, resource: { buffer: this.teacher!.buffer } },
          { binding: 3, resource: output.createView() },
        ],
      });
      this.groups.set(ids, g);
    }
    return g;
  }

  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private id(o: object): number {
    let i = this.ids.get(o);
    if (i === undefined) this.ids.set(o, (i = this.nextId++));
    return i;
  }

  /** GPU bytes held by the network intermediates (for leak checks). */
  get poolBytes(): number {
    return this.pool.stats.bytes;
  }

  destroy(): void {
    this.model?.destroy();
    this.model = null;
    this.pool.destroy();
    this.rays.destroy();
    this.teacherR.destroy();
    this.resources.destroy();
    this.partials.destroy();
    this.readback.destroy();
    this.input?.destroy();
    this.student?.destroy();
    this.teacher?.destroy();
    this.groups.clear();
  }
}

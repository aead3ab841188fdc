/**
 * Adam with tiny-cuda-nn semantics (shaders/ngp_adam.wgsl) over one flat f32 parameter buffer,
 * with its first/second moments and step counters on the GPU. Defaults are instant-ngp's
 * (lr 1e-2, beta1 0.9, beta2 0.99, eps 1e-15, L2 1e-6 on matrix parameters).
 *
 * - `matrix: true` (MLP weights): L2 regularisation, every parameter steps, one shared step
 *   counter (bumped on the GPU by each `encodeStep`).
 * - `matrix: false` (grid tables): no L2, parameters with a zero gradient are skipped, and each
 *   parameter counts its own steps (tcnn param_steps): hash entries no sample touched keep
 *   their moments and bias correction.
 * - `gradients: 'fixed'` reads i32 fixed-point gradients (GridEncoding.grads) and zeroes them.
 * Gradients are divided by `lossScale` (tcnn's loss_scale) before use.
 */
import adamWgsl from '../../../shaders/ngp_adam.wgsl?raw';
import { computePipeline } from '../../gpu/shader.ts';
import { INSTANT_NGP_ADAM, type AdamConfig } from './config.ts';
import { BindCache } from '../../gpu/bind-cache.ts';
import { cappedGroups, inPass, storageBuffer, UniformArena, type EncodeTarget } from './gpu-util.ts';

export interface AdamOptions extends AdamConfig {
  /** Parameters in the buffer. */
  count: number;
  /** MLP weight matrices (true) or other parameters such as grid tables (false). */
  matrix: boolean;
  /** f32 gradients (default) or i32 fixed point with `fixedPointScale` units per 1.0. */
  gradients?: 'f32' | 'fixed';
  fixedPointScale?: number;
}

export class Adam {
  readonly count: number;
  readonly matrix: boolean;
  readonly m: GPUBuffer;
  readonly v: GPUBuffer;
  /** u32 step counters: one shared (matrix) or one per parameter. */
  readonly steps: GPUBuffer;
  /** Hyperparameters used by the next encodeStep (learningRate may be changed between steps, e.g. for decay). */
  readonly hyper: Required<AdamConfig>;
  private readonly gradScaleBase: number;
  private readonly tick: GPUComputePipeline;
  private readonly stepPipeline: GPUComputePipeline;
  private readonly uniforms: UniformArena;
  private readonly binds: BindCache;

  constructor(
    private readonly device: GPUDevice,
    options: AdamOptions,
  ) {
    this.count = options.count;
    this.matrix = options.matrix;
    this.hyper = { ...INSTANT_NGP_ADAM };
    for (const key of Object.keys(INSTANT_NGP_ADAM) as (keyof AdamConfig)[]) {
      const value = options[key];
      if (value !== undefined) this.hyper[key] = value;
    }
    const fixed = options.gradients === 'fixed';
    this.gradScaleBase = fixed ? 1 / (options.fixedPointScale ?? 2 ** 16) : 1;
    this.m = storageBuffer(device, 'ngp adam m', this.count * 4);
    this.v = storageBuffer(device, 'ngp adam v', this.count * 4);
    this.steps = storageBuffer(device, 'ngp adam steps', (this.matrix ? 1 : this.count) * 4);
    const constants = { MATRIX: this.matrix ? 1 : 0, FIXED: fixed ? 1 : 0 };
    this.tick = computePipeline(device, 'ngp adam', adamWgsl, 'tick', constants);
    this.stepPipeline = computePipeline(device, 'ngp adam', adamWgsl, 'step', constants);
    this.uniforms = new UniformArena(device, 'ngp adam');
    this.binds = new BindCache(device);
  }

  /** One optimiser step: params -= update(grads / lossScale). */
  encodeStep(target: EncodeTarget, params: GPUBuffer, grads: GPUBuffer, lossScale = 1): void {
    const h = this.hyper;
    const data = new ArrayBuffer(32);
    new Uint32Array(data, 0, 2).set([this.count, 0]);
    new Float32Array(data, 8, 6).set([h.learningRate, h.beta1, h.beta2, h.epsilon, this.matrix ? h.l2Reg : 0, this.gradScaleBase / lossScale]);
    const entries = { 0: this.uniforms.bind(data), 1: params, 2: grads, 3: this.m, 4: this.v, 5: this.steps };
    const group = this.binds.get(this.stepPipeline, entries);
    inPass(target, 'ngp adam', (pass) => {
      if (this.matrix) {
        pass.setPipeline(this.tick);
        pass.setBindGroup(0, this.binds.get(this.tick, { 5: this.steps }));
        pass.dispatchWorkgroups(1);
      }
      pass.setPipeline(this.stepPipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(cappedGroups(this.device, Math.ceil(this.count / 256)));
    });
  }

  /** Zeroes moments and step counters. */
  encodeReset(encoder: GPUCommandEncoder): void {
    for (const b of [this.m, this.v, this.steps]) encoder.clearBuffer(b);
  }

  destroy(): void {
    for (const b of [this.m, this.v, this.steps]) b.destroy();
    this.uniforms.destroy();
    this.binds.clear();
  }
}

/**
 * Neural graphics lab kernels (instant-ngp / tiny-cuda-nn semantics on WebGPU).
 *
 * - `GridEncoding`: multiresolution hash/dense grid, forward and fixed-point backward.
 * - `FusedMlp` / `UnfusedMlp`: the same MLP (`MlpKernels`), fully fused or one GEMM per op.
 * - `Adam`, `Loss` (+ `LossReadback`): optimiser and L2 / relative-L2 losses.
 * - `NgpModel`: encoding + MLP + loss + Adam, one command encoder per training step, GPU time
 *   per stage ('encoding', 'mlp', 'loss+adam').
 * - config.ts: every layout and the level table; reference.ts: CPU references (tests only).
 */
export * from './config.ts';
export { Adam, type AdamOptions } from './adam.ts';
export { FusedMlp, chooseFusedBlock, fusedMlpWgsl, type FusedBlock, type FusedMlpOptions } from './fused-mlp.ts';
export { GridEncoding, type GridEncodingOptions } from './grid-encoding.ts';
export { type BufferLike, type EncodeTarget } from './gpu-util.ts';
export { Loss, LossReadback, type LossBuffers, type LossSample } from './loss.ts';
export { type MlpBackwardBuffers, type MlpKernels, type MlpOptions } from './mlp.ts';
export { NgpModel, NGP_STAGES, psnrFromMse, type NgpModelOptions, type NgpStage } from './model.ts';
export { UnfusedMlp } from './unfused-mlp.ts';

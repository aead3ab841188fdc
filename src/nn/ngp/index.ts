/**
 * Neural graphics lab kernels (instant-ngp / tiny-cuda-nn semantics on WebGPU).
 *
 * - `GridEncoding`: multiresolution hash/dense grid, forward and fixed-point backward.
 * - `FusedMlp` / `UnfusedMlp`: the same MLP (`MlpKernels`), fully fused or one GEMM per op.
 * - `Adam`, `Loss` (+ `LossReadback`): optimiser and L2 / relative-L2 losses.
 * - `NgpModel`: encoding + MLP + loss + Adam, one command encoder per training step, GPU time
 *   per stage ('encoding', 'mlp', 'loss+adam').
 * - config.ts: every layout and the level table; reference.ts: CPU references (tests only).
 *
 * Typical use (GIA: fit an image, positions = pixel centres in [0,1]^2, targets = RGB):
 *
 *   const model = new NgpModel(device, {
 *     grid: { dims: 2, levels: 16, featuresPerLevel: 2, log2HashmapSize: 19, baseResolution: 16,
 *             perLevelScale: perLevelScaleFor(Math.max(w, h) / 2, 16, 16) },
 *     mlp: { width: 64, hiddenLayers: 2, outputDims: 3, outputActivation: 'none' },
 *     maxBatch: 1 << 16, profiler,
 *   });
 *   // each frame, one command encoder, no readback:
 *   model.encodeTrainStep(encoder, batchPositions, batchTargets, n, 'l2');
 *   model.encodeForward(encoder, pixelPositions, pixelOutputs, w * h); // [n][model.outputStride]
 *   const afterSubmit = lossReadback.encode(encoder, model.lossStats); // PSNR = psnrFromMse(latest.last)
 *
 * Each training step opens 6 timed passes; the profiler times at most 64 passes per frame.
 */
export * from './config.ts';
export { Adam, type AdamOptions } from './adam.ts';
export { FusedMlp, chooseFusedBlock, fusedMlpWgsl, type FusedBlock, type FusedMlpOptions } from './fused-mlp.ts';
export { GridEncoding, type GridEncodingOptions } from './grid-encoding.ts';
export { type BufferLike, type EncodeTarget } from './gpu-util.ts';
export { Loss, LossReadback, type LossBuffers, type LossSample } from './loss.ts';
export { type MlpBackwardBuffers, type MlpKernels, type MlpOptions } from './mlp.ts';
export { NerfNetwork, NERF_DENSITY_OUTPUTS, NERF_SH_COEFFICIENTS, type NerfNetworkOptions } from './nerf-network.ts';
export { NgpModel, NGP_STAGES, psnrFromMse, type NgpModelOptions, type NgpStage } from './model.ts';
export { UnfusedMlp } from './unfused-mlp.ts';

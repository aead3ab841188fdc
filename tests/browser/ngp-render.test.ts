import { expect } from 'vitest';
import { bufferFrom, readF32 } from '../../src/gpu/readback.ts';
import { computePipeline, workgroups } from '../../src/gpu/shader.ts';
import { cameraBlock, orbitPose, type Vec3 } from '../../src/demos/ngp/common.ts';
import { sphereTraceReference, volumeReference } from '../../src/demos/ngp/render-reference.ts';
import { SphereTracer, SPHERE_TRACE_STYLE, type SdfField } from '../../src/demos/ngp/sphere-tracer.ts';
import { VolumeRenderer, type VolumeField, type VolumeStyle } from '../../src/demos/ngp/volume-renderer.ts';
import { gpuTest, type GpuFixture } from './harness.ts';

// Analytic fields standing in for the network, the same functions on both sides. Rows past n
// (the renderers' buffers are sized for more) are evaluated too; the tests never read them.
const FIELDS_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> positions: array<f32>;
@group(0) @binding(1) var<storage, read_write> outputs: array<vec4f>;
@group(0) @binding(2) var<storage, read> directions: array<f32>;

fn position(i: u32) -> vec3f { return vec3f(positions[i * 3u], positions[i * 3u + 1u], positions[i * 3u + 2u]); }
fn rows() -> u32 { return min(arrayLength(&positions) / 3u, arrayLength(&outputs)); }

// Two overlapping spheres: a distance field with a crease.
@compute @workgroup_size(64) fn sdf(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= rows()) { return; }
  let p = position(id.x);
  outputs[id.x] = vec4f(min(length(p - vec3f(0.45, 0.5, 0.5)) - 0.26, length(p - vec3f(0.68, 0.62, 0.45)) - 0.14), 0.0, 0.0, 0.0);
}

// A soft ball whose colour depends on the position and the view direction.
@compute @workgroup_size(64) fn volume(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= min(rows(), arrayLength(&directions) / 3u)) { return; }
  let p = position(id.x);
  let d = vec3f(directions[id.x * 3u], directions[id.x * 3u + 1u], directions[id.x * 3u + 2u]);
  outputs[id.x] = vec4f(DENSITY_SCALE * (0.38 - length(p - vec3f(0.5))), p.x * 2.0 - 1.0, p.y - d.x, d.z * 3.0 - 1.5);
}
`;

const sdfRef = (p: Vec3) => Math.min(Math.hypot(p[0] - 0.45, p[1] - 0.5, p[2] - 0.5) - 0.26, Math.hypot(p[0] - 0.68, p[1] - 0.62, p[2] - 0.45) - 0.14);
const volumeRef = (densityScale: number) => (p: Vec3, d: Vec3) => [densityScale * (0.38 - Math.hypot(p[0] - 0.5, p[1] - 0.5, p[2] - 0.5)), p[0] * 2 - 1, p[1] - d[0], d[2] * 3 - 1.5];

/** The analytic field as the renderers see a network: encodeForward(positions -> outputs). */
function analyticField({ device, own }: GpuFixture, entry: 'sdf' | 'volume', densityScale = 0): SdfField & VolumeField {
  const pipeline = computePipeline(device, `analytic ${entry}`, FIELDS_WGSL.replace('DENSITY_SCALE', densityScale.toFixed(3)), entry);
  const noDirections = own(device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE }));
  return {
    outputStride: 4,
    encodeForward(encoder: GPUCommandEncoder, positions: GPUBuffer, outputs: GPUBuffer, n: number, directions?: GPUBuffer) {
      const entries = [positions, outputs, directions ?? noDirections]
        .map((buffer, binding) => ({ binding, resource: { buffer } }))
        .filter(({ binding }) => entry === 'volume' || binding < 2);
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
      pass.dispatchWorkgroups(workgroups(n, 64, device));
      pass.end();
    },
  };
}

function outputTexture({ device, own }: GpuFixture, width: number, height: number): GPUTexture {
  return own(device.createTexture({ size: [width, height], format: 'rgba8unorm', usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_SRC }));
}

/** Runs `fn` counting the bind groups made for pipelines whose label starts with `label`. */
async function countBindGroups(device: GPUDevice, label: string, fn: () => Promise<void> | void): Promise<number> {
  const create = device.createBindGroup;
  let made = 0;
  device.createBindGroup = (descriptor: GPUBindGroupDescriptor) => {
    if (descriptor.label?.startsWith(label)) made++;
    return create.call(device, descriptor);
  };
  try {
    await fn();
  } finally {
    device.createBindGroup = create;
  }
  return made;
}

/** Pixels whose RGBA differ by more than tol anywhere, and the largest difference over the rest. */
function compare(gpu: Float32Array, ref: Float64Array, tol: number): { off: number; maxErr: number } {
  let off = 0;
  let maxErr = 0;
  for (let i = 0; i < ref.length / 4; i++) {
    let e = 0;
    for (let c = 0; c < 4; c++) e = Math.max(e, Math.abs(gpu[i * 4 + c] - ref[i * 4 + c]));
    if (!(e <= tol)) off++;
    else maxErr = Math.max(maxErr, e);
  }
  return { off, maxErr };
}

const W = 48;
const H = 36;

gpuTest('sphere tracer: hits, misses, normals and shading match the CPU reference, in one frame or spread over frames', async (f) => {
  const { device, own } = f;
  const field = analyticField(f, 'sdf');
  const pose = orbitPose(0.5, 0.35, 1.1);
  const marchSteps = 40;
  const ref = sphereTraceReference(sdfRef, cameraBlock(pose, W, H), W, H, marchSteps, SPHERE_TRACE_STYLE);
  const hits = ref.status.filter((s) => s === 1).length;
  const misses = ref.status.filter((s) => s === 2).length;
  // The picture must hold both surfaces and background for the comparison to mean anything.
  expect(hits).toBeGreaterThan(0.15 * W * H);
  expect(misses).toBeGreaterThan(0.15 * W * H);
  const output = outputTexture(f, W, H);
  for (const perFrame of [marchSteps, 7]) {
    const tracer = own(new SphereTracer(device, marchSteps));
    tracer.setCamera(pose);
    let frames = 0;
    do {
      const encoder = device.createCommandEncoder();
      tracer.encode(encoder, output, field, { width: W, height: H }, perFrame, null);
      device.queue.submit([encoder.finish()]);
      frames++;
    } while (!tracer.traced);
    expect(frames).toBe(Math.ceil(marchSteps / perFrame));
    const gpu = await readF32(device, tracer.image!, 0, W * H * 4);
    // Rays grazing a surface may end either side of epsilon in f32 vs f64: a few pixels.
    const { off, maxErr } = compare(gpu, ref.image, 2e-3);
    console.log(`sphere tracer ${W}x${H}, ${marchSteps} iterations, ${perFrame} per frame: ${hits} hits, ${misses} misses; ${off} pixels off, max |err| elsewhere ${maxErr.toExponential(1)}`);
    expect(off).toBeLessThanOrEqual(0.01 * W * H);
    expect(maxErr).toBeLessThan(2e-3);
    // Later frames reuse the tracer's bind groups: none are made inside a frame.
    const made = await countBindGroups(device, 'ngp sdf', () => {
      const encoder = device.createCommandEncoder();
      tracer.encode(encoder, output, field, { width: W, height: H }, perFrame, null);
      device.queue.submit([encoder.finish()]);
    });
    expect(made).toBe(0);
  }
});

gpuTest('volume renderer: NeRF activations in one pass match the CPU reference', async (f) => {
  const { device, own } = f;
  const style: VolumeStyle = { mode: 0, colourMap: 0, opacity: 0, threshold: 0, background: [0.2, 0.3, 0.9] };
  const samples = 40;
  const pose = orbitPose(-0.7, 0.2, 1.4, 50);
  const ref = volumeReference(volumeRef(40), cameraBlock(pose, W, H), W, H, samples, style);
  const renderer = own(new VolumeRenderer(device, samples));
  renderer.setCamera(pose);
  const encoder = device.createCommandEncoder();
  renderer.encode(encoder, outputTexture(f, W, H), analyticField(f, 'volume', 40), { width: W, height: H }, samples, style, null);
  device.queue.submit([encoder.finish()]);
  expect(renderer.passes).toBe(1);
  const gpu = await readF32(device, renderer.image!, 0, W * H * 4);
  const opaque = Array.from({ length: W * H }, (_, i) => ref[i * 4 + 3]).filter((a) => a > 0.99).length;
  const clear = Array.from({ length: W * H }, (_, i) => ref[i * 4 + 3]).filter((a) => a < 0.01).length;
  expect(opaque).toBeGreaterThan(0.1 * W * H);
  expect(clear).toBeGreaterThan(0.1 * W * H);
  const { off, maxErr } = compare(gpu, ref, 1e-4);
  console.log(`volume renderer (NeRF) ${W}x${H}, ${samples} samples: ${opaque} opaque, ${clear} clear pixels; ${off} off, max |err| ${maxErr.toExponential(1)}`);
  expect(off).toBe(0);
});

gpuTest('volume renderer: NVR transfer function over several frames, with an occupancy grid, matches the CPU reference', async (f) => {
  const { device, own } = f;
  const samples = 45;
  const pose = orbitPose(0.3, -0.4, 1.2);
  // Occupancy: cells with x < 12 or z >= 24 (of 32) are empty.
  const bits = new Uint32Array(32 ** 3 / 32);
  const occupiedCell = (x: number, z: number) => x >= 12 && z < 24;
  for (let z = 0; z < 32; z++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
    const cell = (z * 32 + y) * 32 + x;
    if (occupiedCell(x, z)) bits[cell >> 5] |= 1 << (cell & 31);
  }
  const occupied = (p: Vec3) => occupiedCell(Math.min(31, Math.floor(p[0] * 32)), Math.min(31, Math.floor(p[2] * 32)));
  const renderer = own(new VolumeRenderer(device, samples));
  renderer.occupancy = own(bufferFrom(device, bits));
  renderer.setCamera(pose);
  const field = analyticField(f, 'volume', 2.5);
  const output = outputTexture(f, W, H);
  for (const style of [
    { mode: 1, colourMap: 0, opacity: 30, threshold: 0.1, background: [0, 0, 0] },
    { mode: 1, colourMap: 1, opacity: 12, threshold: 0.3, background: [1, 1, 1] },
    { mode: 1, colourMap: 2, opacity: 60, threshold: 0, background: [0.5, 0.2, 0.1] },
  ] satisfies VolumeStyle[]) {
    const passes = renderer.passes;
    let frames = 0;
    while (renderer.passes === passes) {
      const frame = () => {
        const encoder = device.createCommandEncoder();
        renderer.encode(encoder, output, field, { width: W, height: H }, 8, style, null);
        device.queue.submit([encoder.finish()]);
      };
      // Only the very first frame makes bind groups; later ones (and passes) reuse them.
      if (passes === 0 && frames === 0) frame();
      else expect(await countBindGroups(device, 'ngp volume', frame)).toBe(0);
      frames++;
    }
    expect(frames).toBe(Math.ceil(samples / 8));
    const ref = volumeReference(volumeRef(2.5), cameraBlock(pose, W, H), W, H, samples, style, occupied);
    const withoutGrid = volumeReference(volumeRef(2.5), cameraBlock(pose, W, H), W, H, samples, style);
    const masked = Array.from({ length: W * H }, (_, i) => Math.abs(ref[i * 4 + 3] - withoutGrid[i * 4 + 3]) > 0.05).filter(Boolean).length;
    expect(masked).toBeGreaterThan(0.02 * W * H); // the grid changes the picture
    const gpu = await readF32(device, renderer.image!, 0, W * H * 4);
    const { off, maxErr } = compare(gpu, ref, 1e-4);
    console.log(`volume renderer (NVR, colour map ${style.colourMap}) ${W}x${H}, ${samples} samples in ${frames} frames: ${masked} pixels changed by the occupancy grid; ${off} off, max |err| ${maxErr.toExponential(1)}`);
    expect(off).toBe(0);
  }
});

/**
 * MobileR2L weights from any of the files a user has: the official training checkpoint
 * (torch.save of {global_step, ..., network_fn_state_dict, network_fn}; the pickled module
 * `network_fn` stays an inert object and is never used), a bare state dict (with or without
 * DataParallel's `module.` prefix), or safetensors (f16/f32, config in `__metadata__`).
 * The architecture is read from the tensor shapes (see `r2lConfig`); anything that does not
 * fit the official layout fails with the key and both shapes. Pure TS: no DOM, no GPU.
 */
import { readSafetensors } from '../../formats/safetensors.ts';
import { loadTorchCheckpoint, stateDict, Tensor } from '../../formats/torch.ts';

export interface NelfWeights {
  tensors: Map<string, Tensor>;
  /** safetensors `__metadata__` (empty for PyTorch files). */
  metadata: Record<string, string>;
  /** What the file was, in words. */
  source: string;
}

function isTorch(bytes: Uint8Array): boolean {
  const zip = bytes[0] === 0x50 && bytes[1] === 0x4b;
  const legacy = bytes[0] === 0x80 && bytes[1] === 0x02 && bytes[2] === 0x8a;
  return zip || legacy;
}

/** Reads a checkpoint or safetensors file into a flat state dict with the official key names. */
export function readNelfWeights(bytes: Uint8Array, name = 'file'): NelfWeights {
  let tensors: Map<string, Tensor>;
  let metadata: Record<string, string> = {};
  let source: string;
  if (isTorch(bytes)) {
    const ckpt = loadTorchCheckpoint(bytes, name);
    const root = ckpt.root;
    const official = root instanceof Map && root.get('network_fn_state_dict') instanceof Map;
    try {
      tensors = stateDict(root, { prefer: ['network_fn_state_dict', 'state_dict', 'model_state_dict', 'model'] });
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
    source = official ? 'MobileR2L training checkpoint (network_fn_state_dict)' : 'PyTorch state dict';
  } else {
    if (bytes.length >= 9 && bytes[8] !== 0x7b) throw new Error(`${name}: not a PyTorch checkpoint (.pt/.pth/.tar) or safetensors file`);
    try {
      ({ tensors, metadata } = readSafetensors(bytes));
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
    const dtypes = new Set([...tensors.values()].filter((t) => t.sourceDtype.startsWith('float') || t.sourceDtype === 'bfloat16').map((t) => t.sourceDtype));
    source = `safetensors (${[...dtypes].join(', ') || 'no float tensors'})`;
  }
  // DataParallel / DistributedDataParallel prefix.
  if (tensors.size && [...tensors.keys()].every((k) => k.startsWith('module.'))) {
    tensors = new Map([...tensors].map(([k, v]) => [k.slice('module.'.length), v]));
    source += ', module. prefix removed';
  }
  return { tensors, metadata, source };
}

/** The network as the official constructor would have built it, read back from the weights. */
export interface R2LConfig {
  inputDim: number;
  width: number;
  /** Body ResnetBlocks: (netdepth - 2) / 2. */
  blocks: number;
  netdepth: number;
  samples: number;
  multires: number;
  activation: 'gelu' | 'relu';
  /** Tail, in order: transposed convs and ResnetBlocks by module index, then the output conv. */
  tail: ({ kind: 'up'; index: number; inC: number; outC: number; kernel: number; stride: number; padding: number } | { kind: 'block'; index: number; channels: number } | { kind: 'out'; index: number; inC: number })[];
  /** Output pixels per input pixel along each axis (8 Blender, 12 Colmap). */
  upscale: number;
  dataset: 'Blender' | 'Colmap';
  near: number;
  far: number;
  ndc: boolean;
  cameraAngleX: number;
  /** Low-res size the model was trained at, when the file says. */
  inputSize: [number, number] | null;
  params: number;
}

function shapeOf(t: Map<string, Tensor>, key: string): readonly number[] | undefined {
  return t.get(key)?.shape;
}

function expectShape(t: Map<string, Tensor>, key: string, want: readonly number[]): void {
  const got = shapeOf(t, key);
  if (!got) throw new Error(`MobileR2L weights: missing '${key}' (expected shape [${want.join(', ')}])`);
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    throw new Error(`MobileR2L weights: '${key}' has shape [${got.join(', ')}], expected [${want.join(', ')}]`);
  }
}

function resnetKeys(prefix: string, c: number): [string, number[]][] {
  const bn = (i: number): [string, number[]][] => ['weight', 'bias', 'running_mean', 'running_var'].map((n) => [`${prefix}.conv_block.${i}.${n}`, [c]]);
  return [
    [`${prefix}.conv_block.0.weight`, [c, c, 1, 1]],
    [`${prefix}.conv_block.0.bias`, [c]],
    ...bn(1),
    [`${prefix}.conv_block.3.weight`, [c, c, 1, 1]],
    [`${prefix}.conv_block.3.bias`, [c]],
    ...bn(4),
  ];
}

/**
 * Reads depth, width, samples, SR kernels and upsampling from the shapes (and the metadata
 * where shapes cannot tell: multires, near/far, camera), checking every key the official
 * module has and refusing keys it does not have.
 */
export function r2lConfig(tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): R2LConfig {
  const head = shapeOf(tensors, 'head.0.weight');
  if (!head) {
    const some = [...tensors.keys()].slice(0, 6).join(', ');
    throw new Error(`not a MobileR2L network: no 'head.0.weight' among its ${tensors.size} tensors (${some}${tensors.size > 6 ? ', …' : ''})`);
  }
  if (head.length !== 4 || head[2] !== 1 || head[3] !== 1) throw new Error(`MobileR2L weights: 'head.0.weight' has shape [${head.join(', ')}], expected [width, input_dim, 1, 1]`);
  const [width, inputDim] = head;
  const multires = Number(metadata.multires ?? 6);
  const per = 3 * (2 * multires + 1);
  const samples = inputDim / per;
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`MobileR2L weights: 'head.0.weight' has ${inputDim} input channels, not 3·samples·(2·${multires}+1)`);
  if (metadata.n_sample_per_ray && Number(metadata.n_sample_per_ray) !== samples) throw new Error(`MobileR2L weights: metadata says ${metadata.n_sample_per_ray} samples per ray, 'head.0.weight' has ${samples}`);
  const act = (metadata.activation_fn ?? 'gelu').toLowerCase();
  if (act !== 'gelu' && act !== 'relu') throw new Error(`MobileR2L weights: activation '${act}' is not supported (gelu, relu)`);
  const expected: [string, number[]][] = [
    ['head.0.weight', [width, inputDim, 1, 1]],
    ['head.0.bias', [width]],
  ];
  let blocks = 0;
  while (tensors.has(`body.${blocks}.conv_block.0.weight`)) blocks++;
  for (let i = 0; i < blocks; i++) expected.push(...resnetKeys(`body.${i}`, width));
  const tail: R2LConfig['tail'] = [];
  let c = width;
  let upscale = 1;
  let dataset: 'Blender' | 'Colmap' = 'Blender';
  for (let j = 0; ; j++) {
    if (tensors.has(`tail.${j}.conv_block.0.weight`)) {
      tail.push({ kind: 'block', index: j, channels: c });
      expected.push(...resnetKeys(`tail.${j}`, c));
      continue;
    }
    const w = shapeOf(tensors, `tail.${j}.weight`);
    if (!w) break;
    if (w.length !== 4) throw new Error(`MobileR2L weights: 'tail.${j}.weight' has shape [${w.join(', ')}], expected a 4-D conv kernel`);
    const last = !tensors.has(`tail.${j + 1}.weight`) && !tensors.has(`tail.${j + 1}.conv_block.0.weight`);
    if (last) {
      tail.push({ kind: 'out', index: j, inC: c });
      expected.push([`tail.${j}.weight`, [3, c, 1, 1]], [`tail.${j}.bias`, [3]]);
      break;
    }
    const k = w[2];
    if (k !== 4 && k !== 3) throw new Error(`MobileR2L weights: 'tail.${j}.weight' has shape [${w.join(', ')}], expected a ConvTranspose2d kernel of size 4 (stride 2) or 3 (stride 3)`);
    const stride = k === 4 ? 2 : 3;
    if (k === 3) dataset = 'Colmap';
    // The official code feeds the last transposed conv sr_kernel[1] channels: the shapes say what it had.
    tail.push({ kind: 'up', index: j, inC: c, outC: w[1], kernel: k, stride, padding: k === 4 ? 1 : 0 });
    expected.push([`tail.${j}.weight`, [c, w[1], k, k]], [`tail.${j}.bias`, [w[1]]]);
    c = w[1];
    upscale *= stride;
  }
  if (!tail.length || tail[tail.length - 1].kind !== 'out') throw new Error(`MobileR2L weights: missing the output conv 'tail.N.weight' [3, C, 1, 1] after the SR tail`);
  for (const [key, shape] of expected) expectShape(tensors, key, shape);
  const known = new Set(expected.map(([k]) => k));
  for (const key of tensors.keys()) {
    if (known.has(key)) continue;
    if (key.endsWith('.num_batches_tracked') && known.has(key.replace(/num_batches_tracked$/, 'running_mean'))) continue;
    throw new Error(`MobileR2L weights: unexpected key '${key}' [${tensors.get(key)!.shape.join(', ')}] (not in the official module)`);
  }
  const num = (k: string, d: number) => (metadata[k] !== undefined && Number.isFinite(Number(metadata[k])) ? Number(metadata[k]) : d);
  const ndc = dataset === 'Colmap' && metadata.ndc !== 'false';
  const ih = num('input_height', 0);
  const iw = num('input_width', 0);
  let params = 0;
  for (const [key] of expected) if (!key.includes('running_')) params += tensors.get(key)!.size;
  return {
    inputDim,
    width,
    blocks,
    netdepth: 2 * blocks + 2,
    samples,
    multires,
    activation: act,
    tail,
    upscale,
    dataset,
    near: num('near', ndc ? 0 : 2),
    far: num('far', ndc ? 1 : 6),
    ndc,
    cameraAngleX: num('camera_angle_x', 0.6911112070083618),
    inputSize: ih > 0 && iw > 0 ? [ih, iw] : null,
    params,
  };
}

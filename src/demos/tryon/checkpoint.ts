/**
 * Reading DM-VTON checkpoints: the official `dmvton_pf_warp.pt` / `dmvton_pf_gen.pt` (torch.save
 * zips holding `{epoch, best_fid, model: state_dict, optimizer}` or a raw state dict, read by the
 * restricted unpickler: nothing in the file is executed), legacy torch.save files, and
 * safetensors (fp16/fp32; the project's default model, or both parts in one file under
 * `warp_model.` / `gen_model.` prefixes). Which part a file holds is told by its keys.
 */
import { readSafetensors } from '../../formats/safetensors.ts';
import { loadTorchCheckpoint, stateDict } from '../../formats/torch.ts';
import type { Tensor as FileTensor } from '../../formats/tensor.ts';
import { describeForeign, detectParts } from './model.ts';

/** Where users get the official weights (DM-VTON README and release). */
export const OFFICIAL_CHECKPOINT_LINKS = [
  { label: 'DM-VTON release 1.0.0 (GitHub)', url: 'https://github.com/KiseKloset/DM-VTON/releases/tag/1.0.0' },
  { label: 'DM-VTON checkpoints folder (Google Drive, linked from the README)', url: 'https://drive.google.com/drive/folders/1wfWGsR0vWC5LrA26xhj92ec_GoCKV80A' },
];

export interface StudentCheckpoint {
  dict: Map<string, FileTensor>;
  /** Key prefix of each part the file holds. */
  parts: { warp?: string; gen?: string };
  format: 'torch zip' | 'torch legacy' | 'safetensors';
  /** Free-form facts worth showing (epoch, best FID, dtype). */
  info: string[];
}

function scalar(v: unknown): string | null {
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return null;
}

/** What tools/vton/export.py records about training (steps, held-out PSNR against the unchanged person). */
function trainingFacts(metadata: Record<string, string>): string[] {
  const facts: string[] = [];
  if (/^\d+$/.test(metadata.steps ?? '')) facts.push(`${metadata.steps} training steps`);
  try {
    const m = JSON.parse(metadata.metrics ?? '{}') as Record<string, unknown>;
    if (typeof m.tryon_psnr === 'number' && typeof m.person_as_is_psnr === 'number') {
      facts.push(`held-out try-on PSNR ${m.tryon_psnr.toFixed(1)} dB at ${metadata.input_size ?? '?'} (the unchanged person: ${m.person_as_is_psnr.toFixed(1)} dB)`);
    }
  } catch {
    // Metadata is informative only: a file without it (or with other JSON) loads the same.
  }
  return facts;
}

/** Parses a checkpoint file; throws a clear Error for anything that is not a DM-VTON student part. */
export function readStudentCheckpoint(bytes: Uint8Array, name: string): StudentCheckpoint {
  const isSafetensors = bytes.length >= 8 && !(bytes[0] === 0x50 && bytes[1] === 0x4b) && bytes[8] === 0x7b;
  let dict: Map<string, FileTensor>;
  let format: StudentCheckpoint['format'];
  const info: string[] = [];
  if (isSafetensors) {
    let st;
    try {
      st = readSafetensors(bytes);
    } catch (e) {
      throw new Error(`${name}: not a readable safetensors file (${(e as Error).message})`, { cause: e });
    }
    dict = st.tensors;
    format = 'safetensors';
    const dtypes = new Set([...dict.values()].map((t) => t.sourceDtype));
    info.push([...dtypes].join('/'));
    info.push(...trainingFacts(st.metadata));
  } else {
    const ckpt = loadTorchCheckpoint(bytes, name);
    format = ckpt.format === 'zip' ? 'torch zip' : 'torch legacy';
    try {
      dict = stateDict(ckpt.root, { prefer: ['model', 'state_dict'], stripPrefix: 'module.' });
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`, { cause: e });
    }
    if (ckpt.root instanceof Map) {
      const epoch = scalar(ckpt.root.get('epoch'));
      if (epoch !== null) info.push(`epoch ${epoch}`);
    }
  }
  const parts = detectParts(dict);
  if (parts.warp === undefined && parts.gen === undefined) throw new Error(`${name}: not a DM-VTON student checkpoint: ${describeForeign(dict)}`);
  return { dict, parts, format, info };
}

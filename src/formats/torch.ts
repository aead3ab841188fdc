/**
 * PyTorch checkpoint loader (`torch.save` files: .pt, .pth, .ckpt, .tar) without Python
 * and without executing anything from the file.
 *
 * Layout of a torch.save zip (torch >= 1.6; checked against torch 1.13):
 *   <stem>/data.pkl      the object, pickled at protocol 2; tensors are
 *                        torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)
 *                        and each storage a persistent id ('storage', torch.FloatStorage,
 *                        '<key>', 'cpu', numel)
 *   <stem>/data/<key>    raw little-endian storage bytes (stored, 64-byte aligned)
 *   <stem>/version       '3'; torch 2.x adds byteorder, .data/version, .data/serialization_id
 * `<stem>` is the file name's stem when torch.save was given a path ('mymodel.pt' →
 * 'mymodel/') and 'archive' when it was given a buffer; torch's reader takes it from the
 * first entry, and so do we. The pre-1.6 "legacy" format (a stream of pickles followed by
 * the raw storages) is read too.
 *
 * Pure TS: no DOM, no GPU. Tensor data is materialised lazily: a large optimizer state
 * that nobody reads costs nothing but its pickle.
 */
import { callGlobal, PyGlobal, PyObject, unpickleAt, type PyCallable } from './pickle.ts';
import { decodeLittleEndian, DTYPE_SIZE, shapeSize, Tensor, type DType } from './tensor.ts';
import { ZipArchive } from './zip.ts';

export { PyGlobal, PyObject } from './pickle.ts';
export { Tensor, type DType, type TensorData } from './tensor.ts';

export interface TorchCheckpoint {
  /**
   * The saved object as plain JS: dict → Map, tuple/list → array, tensor → Tensor,
   * set → Set, anything else (nn.Module, argparse.Namespace, numpy scalars, ...) → an
   * inert PyObject `{ __global__, args, state }`.
   */
  root: unknown;
  format: 'zip' | 'legacy';
  /** Name of the zip's top folder ('archive', or the stem torch.save gave it); '' for legacy files. */
  archiveName: string;
  /** Every global the pickle named (e.g. '__main__.MobileR2L'), for diagnostics: none was executed. */
  globals: string[];
}

/**
 * Reads a torch.save checkpoint. `name` (the file name) only prefixes error messages.
 * Throws a clear Error on anything that is not a readable checkpoint.
 */
export function loadTorchCheckpoint(bytes: Uint8Array, name?: string): TorchCheckpoint {
  try {
    return loadUnchecked(bytes);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(name ? `${name}: ${msg}` : msg, { cause: e });
  }
}

const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

function loadUnchecked(bytes: Uint8Array): TorchCheckpoint {
  const starts = (sig: number[], at = 0) => sig.every((b, i) => bytes[at + i] === b);
  if (starts([0x50, 0x4b, 0x03, 0x04]) || starts([0x50, 0x4b, 0x05, 0x06])) return loadZip(bytes);
  if (starts(LEGACY_MAGIC)) return loadLegacy(bytes);
  if (starts([0x75, 0x73, 0x74, 0x61, 0x72], 257)) {
    throw new Error('this is a tar archive (the torch.save format of torch < 0.4), which is not supported; re-save with torch >= 1.6');
  }
  if (bytes[0] === 0x80) throw new Error('this is a plain Python pickle, not a torch.save checkpoint');
  throw new Error('not a PyTorch checkpoint (expected a zip archive written by torch.save)');
}

/** A storage: typed bytes that several tensors may view with different offsets and strides. */
class Storage {
  #bytes: Uint8Array | null = null;
  constructor(
    readonly dtype: DType,
    readonly name: string,
    /** Elements (not bytes). */
    readonly numel: number,
    /** Exactly numel * itemsize bytes; called once, on the first tensor read. */
    private readonly source: () => Uint8Array,
  ) {}
  bytes(): Uint8Array {
    return (this.#bytes ??= this.source());
  }
}

// ---- the zip format ---------------------------------------------------------------------

function loadZip(bytes: Uint8Array): TorchCheckpoint {
  const zip = new ZipArchive(bytes);
  if (zip.entries.length === 0) throw new Error('the zip archive is empty');
  const first = zip.entries[0].name;
  let stem = first.includes('/') ? first.slice(0, first.indexOf('/')) : '';
  if (!zip.get(`${stem}/data.pkl`)) {
    const pkls = zip.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
    if (pkls.length !== 1) throw new Error('no data.pkl in the zip: this is not a torch.save checkpoint');
    stem = pkls[0].name.slice(0, -'/data.pkl'.length);
  }
  const byteorder = zip.get(`${stem}/byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(zip.read(byteorder)).trim();
    if (order === 'big') throw new Error('big-endian checkpoint (saved on a big-endian machine) is not supported; re-save it on a little-endian one');
    if (order !== 'little') throw new Error(`unknown byte order '${order.slice(0, 20)}'`);
  }

  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new Error('unsupported persistent id in data.pkl');
    const [, type, key, , numel] = pid as unknown[];
    const dtype = storageDtype(type);
    if (typeof key !== 'string' || !Number.isSafeInteger(numel) || (numel as number) < 0) throw new Error('malformed storage reference in data.pkl');
    const record = `${stem}/data/${key}`;
    let s = storages.get(record);
    if (!s) {
      const entry = zip.get(record);
      if (!entry) throw new Error(`tensor storage '${record}' is missing`);
      const nbytes = (numel as number) * DTYPE_SIZE[dtype];
      if (entry.size < nbytes) throw new Error(`tensor storage '${record}' holds ${entry.size} bytes, its tensors need ${nbytes}`);
      s = new Storage(dtype, record, numel as number, () => zip.read(entry).subarray(0, nbytes));
      storages.set(record, s);
    } else if (s.dtype !== dtype) {
      throw new Error(`tensor storage '${record}' is used with two dtypes`);
    }
    return s;
  };
  const { value, globals } = unpickleAt(zip.read(`${stem}/data.pkl`), 0, { findClass: torchClass, persistentLoad });
  return { root: value, format: 'zip', archiveName: stem, globals: [...globals] };
}

// ---- the legacy format (torch < 1.6) -------------------------------------------------

const LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;

function loadLegacy(bytes: Uint8Array): TorchCheckpoint {
  const magic = unpickleAt(bytes, 0);
  if (magic.value !== LEGACY_MAGIC_NUMBER) throw new Error('invalid magic number in legacy checkpoint');
  const protocol = unpickleAt(bytes, magic.end);
  if (protocol.value !== 1001) throw new Error(`unsupported legacy checkpoint protocol ${String(protocol.value)}`);
  const sysInfo = unpickleAt(bytes, protocol.end);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new Error('big-endian checkpoint (saved on a big-endian machine) is not supported; re-save it on a little-endian one');
  }

  // Storages are declared by persistent ids while unpickling; their bytes follow the pickles.
  const roots = new Map<string, Storage>();
  const data = new Map<string, Uint8Array>();
  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid)) throw new Error('unsupported persistent id in legacy checkpoint');
    if (pid[0] === 'module') return pid[1]; // a module class saved with its source: keep the (inert) class
    if (pid[0] !== 'storage' || pid.length < 6) throw new Error('unsupported persistent id in legacy checkpoint');
    const [, type, key, , numel, view] = pid as unknown[];
    const dtype = storageDtype(type);
    if (typeof key !== 'string' || !Number.isSafeInteger(numel) || (numel as number) < 0) throw new Error('malformed storage reference');
    const size = DTYPE_SIZE[dtype];
    let root = roots.get(key);
    if (!root) {
      // Bounded before anything is read: the bytes must exist later in the file.
      if ((numel as number) * size > bytes.length) throw new Error(`storage '${key}' is larger than the file`);
      root = new Storage(dtype, key, numel as number, () => {
        const b = data.get(key);
        if (!b) throw new Error(`tensor storage '${key}' is missing`);
        return b;
      });
      roots.set(key, root);
    } else if (root.dtype !== dtype) {
      throw new Error(`tensor storage '${key}' is used with two dtypes`);
    }
    if (view == null) return root;
    const [, offset, viewSize] = Array.isArray(view) ? (view as unknown[]) : [];
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(viewSize) || (offset as number) < 0 || (viewSize as number) < 0 || (offset as number) + (viewSize as number) > root.numel) {
      throw new Error(`bad view of storage '${key}'`);
    }
    const r = root;
    const o = (offset as number) * size;
    return new Storage(dtype, key, viewSize as number, () => r.bytes().subarray(o, o + (viewSize as number) * size));
  };
  const main = unpickleAt(bytes, sysInfo.end, { findClass: torchClass, persistentLoad });
  const keys = unpickleAt(bytes, main.end);
  if (!Array.isArray(keys.value)) throw new Error('legacy checkpoint: storage key list is missing');

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = keys.end;
  for (const key of keys.value as unknown[]) {
    const root = typeof key === 'string' ? roots.get(key) : undefined;
    if (!root) throw new Error(`legacy checkpoint: data for unknown storage '${String(key)}'`);
    if (off + 8 > bytes.length) throw new Error(`legacy checkpoint is truncated (storage '${key}')`);
    const count = view.getBigInt64(off, true);
    if (count !== BigInt(root.numel)) throw new Error(`legacy checkpoint: storage '${key}' has ${count} elements, expected ${root.numel}`);
    const nbytes = root.numel * DTYPE_SIZE[root.dtype];
    if (off + 8 + nbytes > bytes.length) throw new Error(`legacy checkpoint is truncated (storage '${key}')`);
    data.set(key as string, bytes.subarray(off + 8, off + 8 + nbytes));
    off += 8 + nbytes;
  }
  for (const key of roots.keys()) if (!data.has(key)) throw new Error(`tensor storage '${key}' is missing`);
  return { root: main.value, format: 'legacy', archiveName: '', globals: [...main.globals] };
}

// ---- the allow-list -------------------------------------------------------------------

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
  // dtype globals (torch.float32 ...) name the element type where newer code writes them
  float32: 'float32',
  float: 'float32',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  float64: 'float64',
  double: 'float64',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  short: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

function storageDtype(type: unknown): DType {
  const name = type instanceof PyGlobal ? type.__global__ : '';
  const m = /^torch(?:\.cuda|\.storage)?\.(\w+)$/.exec(name);
  const dtype = m ? STORAGE_DTYPES[m[1]] : undefined;
  if (!dtype) throw new Error(`unsupported tensor storage type '${name || String(type)}'`);
  return dtype;
}

const isIndexList = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0);

/** torch._utils._rebuild_tensor(_v2): a view (offset, size, stride) of a storage. */
function rebuildTensor(args: unknown[]): unknown {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof Storage) || !Number.isSafeInteger(offset) || (offset as number) < 0 || !isIndexList(size) || !isIndexList(stride) || size.length !== stride.length) {
    throw new Error('malformed tensor in checkpoint');
  }
  const numel = shapeSize(size);
  const start = offset as number;
  let last = start;
  for (let i = 0; i < size.length; i++) if (size[i] > 0) last += (size[i] - 1) * stride[i];
  if (numel > 0 && last >= storage.numel) {
    throw new Error(`tensor view [${size.join(', ')}] at offset ${start} exceeds its storage '${storage.name}' of ${storage.numel} elements`);
  }
  const dtype = storage.dtype;
  return new Tensor(dtype, size, () => materialise(storage, start, size, stride, numel), dtype);
}

/** Copies a (possibly strided) view of a storage into contiguous row-major order. */
function materialise(storage: Storage, offset: number, size: number[], stride: number[], numel: number) {
  const is = DTYPE_SIZE[storage.dtype];
  const src = storage.bytes();
  let expected = 1;
  let contiguous = true;
  for (let i = size.length - 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== expected) contiguous = false;
    expected *= size[i];
  }
  if (contiguous || numel === 0) return decodeLittleEndian(storage.dtype, src.subarray(offset * is, (offset + numel) * is));
  // A broadcast view (stride 0) can be larger than its storage; cap it by the file it came from.
  if (numel > storage.numel && numel * is > Math.max(src.buffer.byteLength, 1 << 20)) {
    throw new Error(`tensor of ${numel} elements is a broadcast of storage '${storage.name}' too large to materialise`);
  }
  const out = new Uint8Array(numel * is);
  const rank = size.length;
  const index = new Array<number>(rank).fill(0);
  const inner = rank - 1;
  let o = 0;
  let base = offset; // storage element index of `index` with the innermost index at 0
  for (let done = 0; done < numel; ) {
    for (let k = 0; k < size[inner]; k++) {
      const s = (base + k * stride[inner]) * is;
      for (let b = 0; b < is; b++) out[o++] = src[s + b];
    }
    done += size[inner];
    // Odometer over the outer dimensions.
    for (let d = inner - 1; d >= 0; d--) {
      index[d]++;
      base += stride[d];
      if (index[d] < size[d]) break;
      base -= index[d] * stride[d];
      index[d] = 0;
    }
  }
  return decodeLittleEndian(storage.dtype, out);
}

const TORCH: Record<string, PyCallable> = {
  'torch._utils._rebuild_tensor_v2': rebuildTensor,
  'torch._utils._rebuild_tensor': rebuildTensor,
  // Parameters are tensors for our purposes; requires_grad, hooks and extra state are dropped.
  'torch._utils._rebuild_parameter': (a) => a[0],
  'torch._utils._rebuild_parameter_with_state': (a) => a[0],
  // Tensor subclasses: rebuild the tensor with its (allow-listed) function, forget the subclass.
  'torch._tensor._rebuild_from_type_v2': (a) => callGlobal(a[0], Array.isArray(a[2]) ? a[2] : []),
  'torch._tensor._rebuild_from_type': (a) => callGlobal(a[0], Array.isArray(a[2]) ? a[2] : []),
  'torch.Size': (a) => (Array.isArray(a[0]) ? [...a[0]] : []),
};

function torchClass(module: string, name: string): PyCallable | undefined {
  return TORCH[`${module}.${name}`];
}

// ---- helpers over the loaded object ----------------------------------------------------

/** Real checkpoints nest a few dozen levels at most. */
const MAX_DEPTH = 1000;

export interface StateDictOptions {
  /** Keys of the root dict to try first, in order (default: DEFAULT_STATE_DICT_KEYS). */
  prefer?: readonly string[];
  /** Prefix removed from every key that has it, e.g. 'module.' (DataParallel). */
  stripPrefix?: string;
}

/** Where trainers put the weights: generic names, MobileR2L, DM-VTON, nerfstudio. */
export const DEFAULT_STATE_DICT_KEYS: readonly string[] = ['state_dict', 'model_state_dict', 'model', 'network_fn_state_dict', 'net', 'params', 'pipeline', 'module'];

/**
 * Finds the state dict (a flat mapping of names to tensors) in a loaded checkpoint: the
 * root itself, else the first `prefer` key of the root dict that holds one, else the
 * largest one anywhere (optimizer states are skipped; a pickled nn.Module counts by its
 * parameters and persistent buffers). Throws when there is none.
 */
export function stateDict(root: unknown, options: StateDictOptions = {}): Map<string, Tensor> {
  const strip = (m: Map<string, Tensor>) => {
    const p = options.stripPrefix;
    if (!p) return m;
    return new Map([...m].map(([k, v]) => [k.startsWith(p) ? k.slice(p.length) : k, v]));
  };
  const direct = asStateDict(root);
  if (direct) return strip(direct);
  const top = root instanceof Map ? root : root instanceof PyObject && root.state instanceof Map ? root.state : null;
  if (top) {
    for (const key of options.prefer ?? DEFAULT_STATE_DICT_KEYS) {
      const sd = asStateDict(top.get(key));
      if (sd) return strip(sd);
    }
  }
  let best = null as Map<string, Tensor> | null;
  walk(root, (v) => {
    if (isOptimizerState(v)) return false;
    const sd = asStateDict(v);
    if (sd && (!best || sd.size > best.size)) best = sd;
    return !sd;
  });
  if (best) return strip(best);
  const keys = top ? [...top.keys()].map(String).slice(0, 20).join(', ') : describeValue(root);
  throw new Error(`no state dict (a mapping of names to tensors) found in the checkpoint (top level: ${keys})`);
}

/**
 * The state dict of a pickled nn.Module (an inert PyObject): parameters, then persistent
 * buffers, then submodules, with dotted names, in the order torch's state_dict() uses.
 */
export function moduleStateDict(module: unknown): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const seen = new Set<unknown>();
  const todo: [unknown, string, number][] = [[module, '', 0]];
  while (todo.length) {
    const [m, prefix, depth] = todo.pop()!;
    if (!isModule(m) || seen.has(m)) continue;
    if (depth > MAX_DEPTH) throw new Error(`modules nested deeper than ${MAX_DEPTH} levels`);
    seen.add(m);
    const state = m.state;
    const skip = state.get('_non_persistent_buffers_set');
    for (const group of ['_parameters', '_buffers']) {
      const tensors = state.get(group);
      if (!(tensors instanceof Map)) continue;
      for (const [k, v] of tensors) {
        if (v instanceof Tensor && !(group === '_buffers' && skip instanceof Set && skip.has(k))) out.set(prefix + String(k), v);
      }
    }
    const children = state.get('_modules');
    if (children instanceof Map) {
      const list = [...children].filter(([, v]) => v != null);
      for (let i = list.length - 1; i >= 0; i--) todo.push([list[i][1], `${prefix}${String(list[i][0])}.`, depth + 1]);
    }
  }
  return out;
}

/**
 * Every tensor reachable from `value`, keyed by its path: dict keys and sequence indices
 * joined with '.', PyObjects through 'args.i', 'state', 'items.i' and 'dict'. Each
 * container is visited once (pickles can share and even cycle).
 */
export function findTensors(value: unknown): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const seen = new Set<unknown>();
  const todo: [unknown, string, number][] = [[value, '', 0]];
  const join = (p: string, k: unknown) => (p ? `${p}.${String(k)}` : String(k));
  while (todo.length) {
    const [v, path, depth] = todo.pop()!;
    if (v instanceof Tensor) {
      out.set(path, v);
      continue;
    }
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    // Paths grow with depth: a hostile pickle nesting a million lists would cost O(depth²).
    if (depth > MAX_DEPTH) throw new Error(`checkpoint nested deeper than ${MAX_DEPTH} levels`);
    seen.add(v);
    const children: [unknown, string][] = [];
    if (Array.isArray(v)) v.forEach((x, i) => children.push([x, join(path, i)]));
    else if (v instanceof Map) for (const [k, x] of v) children.push([x, join(path, k)]);
    else if (v instanceof Set) [...v].forEach((x, i) => children.push([x, join(path, i)]));
    else if (v instanceof PyObject) {
      v.args.forEach((x, i) => children.push([x, join(path, `args.${i}`)]));
      children.push([v.state, join(path, 'state')]);
      v.listItems?.forEach((x, i) => children.push([x, join(path, `items.${i}`)]));
      children.push([v.dictItems, join(path, 'dict')]);
      children.push([v.kwargs, join(path, 'kwargs')]);
    }
    for (let i = children.length - 1; i >= 0; i--) todo.push([children[i][0], children[i][1], depth + 1]);
  }
  return out;
}

/**
 * A scalar as a JS number: ints, floats, bools, one-element tensors and numpy scalars
 * (e.g. DM-VTON's `best_fid`, pickled as numpy.core.multiarray.scalar(dtype, bytes)).
 * Returns undefined for anything else.
 */
export function pyNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Tensor) return v.size === 1 ? v.toFloat32()[0] : undefined;
  if (v instanceof PyObject && /^numpy\.(_core|core)\.multiarray\.scalar$/.test(v.__global__)) {
    const [dt, raw] = v.args;
    if (!(dt instanceof PyObject) || dt.__global__ !== 'numpy.dtype' || !(raw instanceof Uint8Array)) return undefined;
    const code = String(dt.args[0]);
    const order = Array.isArray(dt.state) ? dt.state[1] : '<';
    const le = order !== '>';
    const kind = code[0];
    const size = Number(code.slice(1));
    if (raw.length !== size) return undefined;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    if (kind === 'f' && size === 8) return view.getFloat64(0, le);
    if (kind === 'f' && size === 4) return view.getFloat32(0, le);
    if (kind === 'i' && size === 8) return Number(view.getBigInt64(0, le));
    if (kind === 'i' && size === 4) return view.getInt32(0, le);
    if (kind === 'u' && size === 8) return Number(view.getBigUint64(0, le));
    if (kind === 'u' && size === 4) return view.getUint32(0, le);
    if ((kind === 'i' || kind === 'u' || kind === 'b') && size === 1) return kind === 'i' ? view.getInt8(0) : view.getUint8(0);
  }
  return undefined;
}

function asStateDict(v: unknown): Map<string, Tensor> | null {
  if (isModule(v)) {
    const sd = moduleStateDict(v);
    return sd.size ? sd : null;
  }
  if (!(v instanceof Map) || v.size === 0) return null;
  const out = new Map<string, Tensor>();
  for (const [k, x] of v) {
    if (typeof k !== 'string') return null;
    if (x instanceof Tensor) out.set(k, x);
    else if (x !== null) return null;
  }
  return out.size ? out : null;
}

function isModule(v: unknown): v is PyObject & { state: Map<unknown, unknown> } {
  return v instanceof PyObject && v.state instanceof Map && v.state.has('_parameters') && v.state.has('_modules');
}

/** optimizer.state_dict(): {'state': {param index: {...}}, 'param_groups': [...]}. */
function isOptimizerState(v: unknown): boolean {
  return v instanceof Map && v.has('state') && v.has('param_groups');
}

/** Breadth-first over containers; `visit` returns false to skip a value's children. */
function walk(root: unknown, visit: (v: unknown) => boolean): void {
  const seen = new Set<unknown>();
  let level: unknown[] = [root];
  while (level.length) {
    const next: unknown[] = [];
    for (const v of level) {
      if (typeof v !== 'object' || v === null || v instanceof Tensor || seen.has(v)) continue;
      seen.add(v);
      if (!visit(v)) continue;
      // Loops, not push(...spread): a huge list would overflow the argument limit.
      const add = (xs: Iterable<unknown>) => {
        for (const x of xs) next.push(x);
      };
      if (Array.isArray(v) || v instanceof Set) add(v);
      else if (v instanceof Map) add(v.values());
      else if (v instanceof PyObject) add([...v.args, v.state, ...(v.listItems ?? []), v.dictItems, v.kwargs]);
    }
    level = next;
  }
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return `a sequence of ${v.length}`;
  if (v instanceof PyObject) return v.__global__;
  return v === null ? 'None' : typeof v;
}

import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { callGlobal, PyGlobal, PyObject, unpickle } from '../../src/formats/pickle.ts';
import { float16ToFloat32, float32ToFloat16, halfToFloat } from '../../src/formats/tensor.ts';
import { findTensors, loadTorchCheckpoint, moduleStateDict, pyNumber, stateDict, Tensor, type TorchCheckpoint } from '../../src/formats/torch.ts';
import { crc32, ZipArchive } from '../../src/formats/zip.ts';
import { expectedValue, expectTensor, makeTorchFixtures, type TorchFixtures } from '../fixtures/torch-fixtures.ts';

let fx: TorchFixtures;
beforeAll(() => {
  fx = makeTorchFixtures();
}, 180_000);
afterAll(() => fx?.cleanup());

const load = (name: string): TorchCheckpoint => loadTorchCheckpoint(fx.read(name), name);
const get = (m: unknown, ...keys: unknown[]): unknown => keys.reduce((v, k) => (v instanceof Map ? v.get(k) : Array.isArray(v) ? v[k as number] : undefined), m);

/** Every tensor findTensors reports under an expected path matches it; with `exact`, no others exist. */
function expectAllTensors(root: unknown, expected: TorchFixtures['expected'][string], exact = true): void {
  const found = findTensors(root);
  if (exact) expect([...found.keys()].sort()).toEqual(Object.keys(expected.tensors).sort());
  for (const [path, e] of Object.entries(expected.tensors)) {
    expect(found.has(path), `missing tensor ${path}`).toBe(true);
    expectTensor(found.get(path)!, e, path);
  }
}

describe('torch.save state dicts (every dtype, strided and aliasing views)', () => {
  test.each([
    ['state.pt', 'zip', 'state'],
    ['state_p4.pt', 'zip', 'state_p4'],
    ['state_deflated.pt', 'zip', 'state'],
    ['state_legacy.pt', 'legacy', ''],
  ])('%s', (name, format, archiveName) => {
    const ckpt = load(name);
    expect(ckpt.format).toBe(format);
    expect(ckpt.archiveName).toBe(archiveName);
    expectAllTensors(ckpt.root, fx.expected[name]);
    const sd = stateDict(ckpt.root);
    expect([...sd.keys()]).toEqual(Object.keys(fx.expected[name].tensors));
  });

  test('narrowing: float64 → float32, int64 → int32 when it fits, else BigInt64Array; bool → 0/1', () => {
    const sd = stateDict(load('state.pt').root);
    expect(sd.get('f64')!.data).toBeInstanceOf(Float32Array);
    expect(sd.get('i64')!.data).toBeInstanceOf(Int32Array);
    expect(sd.get('i64_big')!.data).toBeInstanceOf(BigInt64Array);
    expect(sd.get('bool')!.data).toBeInstanceOf(Uint8Array);
    expect(sd.get('f16')!.data).toBeInstanceOf(Uint16Array);
    expect(sd.get('bn.num_batches_tracked')!.shape).toEqual([]);
    expect(pyNumber(sd.get('bn.num_batches_tracked'))).toBe(17);
    // Data is copied out of the file: transferable without dragging the checkpoint along.
    expect(sd.get('f32')!.data.buffer.byteLength).toBe(12 * 4);
  });

  test('aliasing views share one storage but read their own offsets', () => {
    const ckpt = load('state.pt');
    const a = stateDict(ckpt.root).get('alias_a')!;
    const b = stateDict(ckpt.root).get('alias_b')!;
    expect([...a.toFloat32()]).toEqual([1, 1.5, 2, 2.5, 3]);
    expect([...b.toFloat32()]).toEqual([5, 5.5, 6, 6.5, 7, 7.5, 8, 8.5, 9, 9.5, 10, 10.5]);
  });

  test('float32 → float16 rounds as torch .half() does', () => {
    const sd = stateDict(load('state.pt').root);
    for (const key of ['f32', 'nonfinite']) {
      const e = fx.expected['state.pt'][`${key}_as_f16`] as { values: (number | string)[] };
      const half = float16ToFloat32(float32ToFloat16(sd.get(key)!.toFloat32()));
      expect([...half], key).toEqual(e.values.map((v) => Number(expectedValue(v))));
    }
  });
});

describe('MobileR2L-style training checkpoint', () => {
  const e = () => fx.expected['mobiler2l.tar'] as unknown as { tensors: never; state_dict: Record<string, never>; adam_exp_avg_0: never };

  test('state dict found by key, module. prefix stripped', () => {
    const root = load('mobiler2l.tar').root;
    const sd = stateDict(root);
    expect([...sd.keys()]).toEqual(Object.keys(e().state_dict));
    const stripped = stateDict(root, { stripPrefix: 'module.' });
    expect([...stripped.keys()]).toEqual(Object.keys(e().state_dict).map((k) => k.replace(/^module\./, '')));
    for (const [k, v] of Object.entries(e().state_dict)) expectTensor(stripped.get(k.replace(/^module\./, ''))!, v, k);
    expectAllTensors(root, fx.expected['mobiler2l.tar'], false);
  });

  test('the pickled nn.Module stays inert but its tensors are reachable', () => {
    const ckpt = load('mobiler2l.tar');
    const net = get(ckpt.root, 'network_fn');
    expect(net).toBeInstanceOf(PyObject);
    expect((net as PyObject).__global__).toBe('torch.nn.parallel.data_parallel.DataParallel');
    expect(ckpt.globals).toContain('__main__.TinyNet');
    const inner = get((net as PyObject).state, '_modules', 'module') as PyObject;
    expect(inner.__global__).toBe('__main__.TinyNet');
    // Same names and order as torch's state_dict(), non-persistent buffer left out.
    const fromModule = moduleStateDict(net);
    expect([...fromModule.keys()]).toEqual(Object.keys(e().state_dict));
    for (const [k, v] of Object.entries(e().state_dict)) expectTensor(fromModule.get(k)!, v, k);
  });

  test('scalars, optimizer state, argparse namespace, numpy scalar', () => {
    const root = load('mobiler2l.tar').root;
    expect(get(root, 'global_step')).toBe(1234);
    expect(get(root, 'scaler', 'scale')).toBe(65536);
    expectTensor(get(root, 'optimizer_state_dict', 'state', 0, 'exp_avg') as Tensor, e().adam_exp_avg_0);
    const args = get(root, 'args') as PyObject;
    expect(args.__global__).toBe('argparse.Namespace');
    expect(get(args.state, 'expname')).toBe('lego');
    expect(get(args.state, 'lr')).toBe(5e-4);
    expect(pyNumber(get(root, 'best_fid'))).toBe(12.5);
  });
});

describe('Gaussian splatting checkpoints', () => {
  test("Yang 4DGS chkpnt*.pth: (capture tuple, iteration)", () => {
    const root = load('chkpnt7000.pth').root as unknown[];
    expect(root).toHaveLength(2);
    expect(root[1]).toBe(7000);
    const capture = root[0] as unknown[];
    expect(capture).toHaveLength(19);
    expect(capture[0]).toBe(3);
    expect(capture[12]).toBe(2.5);
    expect(capture[16]).toBe(true);
    expect(capture[17]).toBeNull();
    expect(capture[18]).toBe(1);
    expect((capture[1] as Tensor).shape).toEqual([6, 3]);
    expectAllTensors(root, fx.expected['chkpnt7000.pth']);
    // No flat name → tensor mapping here, and optimizer states are not mistaken for one.
    expect(() => stateDict(root)).toThrow(/no state dict/);
  });

  test('4D-Rotor nerfstudio step-*.ckpt', () => {
    const root = load('step-000029999.ckpt').root;
    expect(get(root, 'step')).toBe(29999);
    const sd = stateDict(root);
    expect([...sd.keys()]).toContain('_model.gauss_params.quats2');
    expect(sd.size).toBe(9);
    expectAllTensors(root, fx.expected['step-000029999.ckpt']);
  });
});

describe('archive layout', () => {
  test('torch 1.13 names the zip folder after the file stem; a buffer gets "archive"', () => {
    expect(fx.expected['mymodel.pt'].names).toEqual(['mymodel/data.pkl', 'mymodel/data/0', 'mymodel/version']);
    expect(load('mymodel.pt').archiveName).toBe('mymodel');
    expect(load('small.pt').archiveName).toBe('archive');
    for (const name of ['mymodel.pt', 'small.pt', 'small_legacy.pt']) expectAllTensors(load(name).root, fx.expected[name]);
  });

  test('torch writes zip64 end records and data descriptors even for tiny files', () => {
    const bytes = fx.read('small.pt');
    const tail = bytes.subarray(bytes.length - 22 - 20 - 56);
    expect(new DataView(tail.buffer, tail.byteOffset).getUint32(0, true)).toBe(0x06064b50);
    const zip = new ZipArchive(bytes);
    expect(zip.entries.map((x) => x.name)).toEqual(fx.expected['small.pt'].names);
    for (const entry of zip.entries) expect(crc32(zip.read(entry))).toBe(entry.crc32);
    // Record data is 64-byte aligned so it can be mapped directly.
    expect(zip.get('archive/data/0')!.dataOffset % 64).toBe(0);
  });

  test('a zip from another writer (stored entries, no descriptors), byteorder record', () => {
    const pkl = new ZipArchive(fx.read('small.pt')).read('archive/data.pkl');
    const data = new ZipArchive(fx.read('small.pt')).read('archive/data/0');
    const little = buildZip([['model/data.pkl', pkl], ['model/byteorder', 'little'], ['model/data/0', data]]);
    expect([...stateDict(loadTorchCheckpoint(little).root).get('w')!.toFloat32()]).toEqual([0, 1, 2, 3, 4, 5]);
    const big = buildZip([['model/data.pkl', pkl], ['model/byteorder', 'big'], ['model/data/0', data]]);
    expect(() => loadTorchCheckpoint(big)).toThrow(/big-endian/);
  });
});

describe('hostile pickles load inertly', () => {
  test('os.system, eval and subprocess.Popen become placeholders and never run', () => {
    const marker = fx.expected['hostile.pt'].marker as string;
    const ckpt = load('hostile.pt');
    const evil = get(ckpt.root, 'evil') as PyObject;
    expect(evil).toBeInstanceOf(PyObject);
    expect(evil.__global__).toBe('posix.system');
    expect(evil.args).toEqual([`touch ${marker}`]);
    const evalObj = get(ckpt.root, 'evil_eval') as PyObject;
    expect(evalObj.__global__).toBe('builtins.eval');
    expect(evalObj.args[0]).toContain('system');
    const popen = get(ckpt.root, 'evil_popen') as PyObject;
    expect(popen.__global__).toBe('subprocess.Popen');
    expect(popen.args).toEqual([['touch', marker]]);
    expect(ckpt.globals).toEqual(expect.arrayContaining(['posix.system', 'builtins.eval', 'subprocess.Popen']));
    expect([...findTensors(ckpt.root).keys()]).toEqual(['weight']);
    expect(existsSync(marker)).toBe(false);

    const p0 = unpickle(fx.read('hostile_p0.pkl')) as PyObject;
    expect(p0.__global__).toBe('posix.system');
    expect(existsSync(marker)).toBe(false);
  });

  test('only pure data constructors are interpreted', () => {
    const g = (name: string) => {
      const [module, n] = [name.slice(0, name.lastIndexOf('.')), name.slice(name.lastIndexOf('.') + 1)];
      return unpickle(pickle(`\x80\x02c${module}\n${n}\n.`));
    };
    expect(callGlobal(g('builtins.set'), [[1, 2]])).toEqual(new Set([1, 2]));
    for (const name of ['builtins.getattr', 'builtins.eval', 'builtins.exec', 'builtins.__import__', 'os.system', 'torch.load', 'numpy.core.multiarray._reconstruct']) {
      const called = callGlobal(g(name), ['x']);
      expect(called, name).toBeInstanceOf(PyObject);
      expect((called as PyObject).__global__).toBe(name);
    }
    expect(g('torch.float32')).toBeInstanceOf(PyGlobal);
  });
});

describe('plain pickles, protocols 0-5', () => {
  test.each([0, 1, 2, 3, 4, 5])('protocol %i', (proto) => {
    expect(tagged(unpickle(fx.read(`plain_p${proto}.pkl`)))).toEqual(fx.expected.plain);
  });

  test('deep nesting is refused by the walkers instead of costing O(depth²)', () => {
    const deep = unpickle(pickle(`\x80\x02${']'.repeat(3000)}${'a'.repeat(2999)}.`));
    expect(() => findTensors(deep)).toThrow(/deeper than 1000 levels/);
  });

  test('shared references stay shared, cycles terminate', () => {
    const v = unpickle(fx.read('plain_p2.pkl')) as Map<string, unknown>;
    const shared = v.get('shared') as unknown[];
    expect(shared[0]).toBe(shared[1]);
    const cyclic: unknown[] = [];
    cyclic.push(cyclic, new Map([['t', new Tensor('float32', [1], new Float32Array([1]))]]));
    expect([...findTensors(cyclic).keys()]).toEqual(['1.t']);
  });
});

describe('bad input throws a clear Error', () => {
  test('missing storage record', () => {
    expect(() => load('missing_storage.pt')).toThrow("missing_storage.pt: tensor storage 'archive/data/3' is missing");
  });

  test('unknown opcode', () => {
    expect(() => load('unknown_opcode.pt')).toThrow(/unknown opcode 0xff/);
    expect(() => unpickle(pickle('\x80\x02\xff.'))).toThrow(/unknown opcode 0xff at offset 2/);
  });

  test('wrong magic, plain pickles, tar, empty', () => {
    expect(() => loadTorchCheckpoint(new TextEncoder().encode('hello world'), 'x.pt')).toThrow(/^x\.pt: not a PyTorch checkpoint/);
    expect(() => loadTorchCheckpoint(new Uint8Array(0))).toThrow(/not a PyTorch checkpoint/);
    expect(() => loadTorchCheckpoint(fx.read('plain_p2.pkl'))).toThrow(/plain Python pickle/);
    const tar = new Uint8Array(1024);
    tar.set(new TextEncoder().encode('ustar'), 257);
    expect(() => loadTorchCheckpoint(tar)).toThrow(/tar archive/);
    expect(() => loadTorchCheckpoint(buildZip([['x/other.txt', 'hi']]))).toThrow(/no data\.pkl/);
  });

  test.each(['small.pt', 'small_legacy.pt', 'four.pt'])('every truncation of %s', (name) => {
    const bytes = fx.read(name);
    for (let n = 0; n < bytes.length; n++) {
      let error: unknown = null;
      try {
        const ckpt = loadTorchCheckpoint(bytes.subarray(0, n));
        for (const t of findTensors(ckpt.root).values()) void t.data;
      } catch (e) {
        error = e;
      }
      expect(error, `prefix of ${n} bytes`).toBeInstanceOf(Error);
      expect((error as Error).message.length).toBeGreaterThan(0);
    }
  });

  test('hostile length fields in pickles are rejected before allocating', () => {
    const cases: [string, RegExp][] = [
      ['\x80\x02X\xff\xff\xff\xff', /absurd|truncated/], // BINUNICODE 4 GiB
      ['\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f', /truncated/], // BINBYTES8 2^63
      ['\x80\x04\x8d\x00\x00\x00\x00\x01\x00\x00\x00', /truncated/], // BINUNICODE8 4 GiB
      ['\x80\x02\x8b\xff\xff\xff\x7f', /absurd|truncated/], // LONG4 2 GiB
      ['\x80\x02\x8b\xff\xff\xff\xff', /negative/], // LONG4 -1
      ['\x80\x04\x95\xff\xff\xff\xff\xff\xff\x00\x00N.', /truncated/], // FRAME larger than the data
      ['\x80\x02T\x00\x00\x00\x80', /negative/], // BINSTRING -2^31
      ['\x80\x02j\xff\xff\xff\xff', /memo key/], // LONG_BINGET of nothing
      ['\x80\x02.', /stack underflow/],
      ['\x80\x02(u.', /stack underflow/],
      ['\x80\x02e.', /missing MARK/],
      ['\x80\x02]K\x01s.', /stack underflow|set items/],
      ['\x80\x06N.', /protocol 6/],
      ['\x80\x02N', /no STOP/],
      ['\x80\x02Q.', /stack underflow/],
      ['\x80\x02NQ.', /persistent id/],
      ['\x80\x02\x82\x01.', /extension registry/],
      ['\x80\x05\x97.', /out-of-band/],
      ['I12', /unterminated line/],
      ['Iabc\n.', /bad integer/],
      ['\x80\x02K\x01)R.', /cannot call/],
      [`I${'1'.repeat(5000)}\n.`, /5000 digits is too large/], // BigInt parsing is superlinear
      [`\x80\x02\x8b\xb8\x0b\x00\x00${'\x01'.repeat(3000)}.`, /3000 bytes is too large/],
    ];
    for (const [text, re] of cases) expect(() => unpickle(pickle(text)), JSON.stringify(text)).toThrow(re);
  });

  test('hostile zip directories are rejected before allocating', () => {
    const good = buildZip([['a/data.pkl', new Uint8Array(pickle('\x80\x02N.'))]]);
    expect(loadTorchCheckpoint(good).root).toBeNull();
    const eocd = good.length - 22;
    const patch = (at: number, bits: 16 | 32, value: number) => {
      const b = good.slice();
      const v = new DataView(b.buffer);
      if (bits === 16) v.setUint16(at, value, true);
      else v.setUint32(at, value, true);
      return b;
    };
    const cases: [Uint8Array, RegExp][] = [
      [patch(eocd + 10, 16, 0xfffe), /entries cannot fit/], // entry count
      [patch(eocd + 12, 32, 0x7fffffff), /outside the file/], // directory size
      [patch(eocd + 16, 32, 0x7fffffff), /outside the file/], // directory offset
      [patch(eocd + 16, 32, 0xffffffff), /zip64/],
      [patch(eocd + 4, 16, 1), /multi-disk/],
      [patch(eocd - 56 + 20, 32, 0x7fffffff), /inconsistent sizes/], // compressed size
      [patch(eocd - 56 + 42, 32, 0x7fffffff), /local header/], // local header offset (the record is 46 + 10-byte name)
      [patch(eocd - 56 + 10, 16, 12), /unsupported compression/],
      [patch(eocd - 56 + 8, 16, 1), /encrypted/],
      [patch(eocd - 56 + 28, 16, 0xffff), /overruns/],
    ];
    for (const [bytes, re] of cases) expect(() => loadTorchCheckpoint(bytes)).toThrow(re);
    // A deflate entry claiming a size no deflate stream of its length could produce.
    const bomb = buildZip([['a/data.pkl', new Uint8Array(pickle('\x80\x02N.'))]], { method: 8, size: 1 << 30 });
    expect(() => loadTorchCheckpoint(bomb)).toThrow(/impossible/);
    expect(() => loadTorchCheckpoint(buildZip([['a/data.pkl', 'x'], ['a/data.pkl', 'y']]))).toThrow(/duplicate/);
  });

  test('tensor views outside their storage', () => {
    // _rebuild_tensor_v2(storage '0' of 2 floats, offset 1, size (4,), stride (1,)).
    const pkl = pickle(
      '\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQK\x01K\x04\x85K\x01\x85\x89NtR.',
    );
    const zip = buildZip([['a/data.pkl', pkl], ['a/data/0', new Uint8Array(8)]]);
    expect(() => loadTorchCheckpoint(zip)).toThrow(/exceeds its storage/);
    const short = buildZip([['a/data.pkl', pkl], ['a/data/0', new Uint8Array(4)]]);
    expect(() => loadTorchCheckpoint(short)).toThrow(/holds 4 bytes/);
  });
});

describe('half precision', () => {
  test('every float16 bit pattern survives f16 → f32 → f16', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = float32ToFloat16(float16ToFloat32(all));
    for (let i = 0; i < 65536; i++) {
      if (Number.isNaN(halfToFloat(i))) expect(Number.isNaN(halfToFloat(back[i]))).toBe(true);
      else if (back[i] !== i) expect(back[i], `0x${i.toString(16)}`).toBe(i);
    }
  });
});

// ---- helpers ----------------------------------------------------------------------------

/** Bytes of a pickle written as a latin-1 string. */
function pickle(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** A plain zip writer (stored entries, sizes in the local headers, no zip64): "another writer". */
function buildZip(files: [string, Uint8Array | string][], opts: { method?: number; size?: number } = {}): Uint8Array {
  const enc = new TextEncoder();
  const locals: number[] = [];
  const central: number[] = [];
  const u16 = (a: number[], v: number) => a.push(v & 255, (v >>> 8) & 255);
  const u32 = (a: number[], v: number) => a.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255);
  for (const [name, content] of files) {
    const data = typeof content === 'string' ? enc.encode(content) : content;
    const nameBytes = enc.encode(name);
    const offset = locals.length;
    const crc = crc32(data);
    const header = (a: number[], sig: number, isCentral: boolean) => {
      u32(a, sig);
      if (isCentral) u16(a, 20);
      u16(a, 20);
      u16(a, 0);
      u16(a, opts.method ?? 0);
      u32(a, 0);
      u32(a, crc);
      u32(a, data.length);
      u32(a, opts.size ?? data.length);
      u16(a, nameBytes.length);
      u16(a, 0);
      if (isCentral) {
        u16(a, 0);
        u16(a, 0);
        u16(a, 0);
        u32(a, 0);
        u32(a, offset);
      }
      a.push(...nameBytes);
    };
    header(locals, 0x04034b50, false);
    locals.push(...data);
    header(central, 0x02014b50, true);
  }
  const out: number[] = [...locals, ...central];
  u32(out, 0x06054b50);
  u16(out, 0);
  u16(out, 0);
  u16(out, files.length);
  u16(out, files.length);
  u32(out, central.length);
  u32(out, locals.length);
  u16(out, 0);
  return Uint8Array.from(out);
}

/** The JSON form make_torch_fixtures.py writes for plain pickles. */
function tagged(v: unknown): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : { $float: v > 0 ? 'inf' : v < 0 ? '-inf' : 'nan' };
  if (typeof v === 'bigint') return { $bigint: v.toString() };
  if (v instanceof Uint8Array) return { $bytes: [...v].map((b) => b.toString(16).padStart(2, '0')).join('') };
  if (Array.isArray(v)) return v.map(tagged);
  if (v instanceof Set) return { $set: [...v].map(tagged).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) };
  if (v instanceof Map) return { $dict: [...v].map(([k, x]) => [tagged(k), tagged(x)]) };
  throw new Error(`unexpected value ${String(v)}`);
}

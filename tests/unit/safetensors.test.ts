import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_HEADER_BYTES, readSafetensors, writeSafetensors } from '../../src/formats/safetensors.ts';
import { float32ToFloat16, halfToFloat, Tensor } from '../../src/formats/tensor.ts';
import { loadTorchCheckpoint, stateDict } from '../../src/formats/torch.ts';
import { expectedValue, expectTensor, makeTorchFixtures, readSafetensorsWithPython, type TorchFixtures } from '../fixtures/torch-fixtures.ts';

let fx: TorchFixtures;
beforeAll(() => {
  fx = makeTorchFixtures();
}, 180_000);
afterAll(() => fx?.cleanup());

/** A safetensors file from a header object and a data section. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: number): Uint8Array {
  const json = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('readSafetensors', () => {
  test('a file written by an independent (Python struct + json) writer', () => {
    const { tensors, metadata } = readSafetensors(fx.read('weights.safetensors'));
    const e = fx.expected['weights.safetensors'];
    expect(metadata).toEqual(e.metadata);
    expect([...tensors.keys()]).toEqual(Object.keys(e.tensors));
    for (const [name, t] of Object.entries(e.tensors)) expectTensor(tensors.get(name)!, t, name);
    expect(tensors.get('mask')!.dtype).toBe('bool');
    expect(tensors.get('big')!.dtype).toBe('int64');
    expect(tensors.get('bn.num_batches_tracked')!.dtype).toBe('int32');
  });

  test('every truncation throws', () => {
    const bytes = fx.read('weights.safetensors');
    for (let n = 0; n < bytes.length; n++) {
      expect(() => readSafetensors(bytes.subarray(0, n)), `prefix of ${n} bytes`).toThrow(/^safetensors: /);
    }
  });

  const f32 = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  test.each([
    ['too short', new Uint8Array(4), /too short/],
    ['header past the end', file({}, new Uint8Array(0), 1000), /past the end/],
    ['header over the cap', file({}, new Uint8Array(0), MAX_HEADER_BYTES + 1), /limit/],
    ['header length 2^63', file({}, new Uint8Array(0), 2 ** 63), /limit/],
    ['not JSON', file('{"a": '), /not valid JSON/],
    ['not an object', file('[1, 2]'), /not a JSON object/],
    ['bad utf-8', file(Uint8Array.of(0x22, 0xff, 0x22)), /not valid JSON/],
    ['unknown dtype', file({ a: { ...f32, dtype: 'C64' } }, new Uint8Array(8)), /unsupported dtype "C64"/],
    ['negative dimension', file({ a: { ...f32, shape: [-2] } }, new Uint8Array(8)), /invalid shape/],
    ['fractional dimension', file({ a: { ...f32, shape: [2.5] } }, new Uint8Array(8)), /invalid shape/],
    ['shape/span mismatch', file({ a: { ...f32, shape: [3] } }, new Uint8Array(8)), /needs 12 bytes, its offsets span 8/],
    ['huge shape', file({ a: { ...f32, shape: [2 ** 40, 2 ** 40] } }, new Uint8Array(8)), /too many elements/],
    ['offsets out of bounds', file({ a: { ...f32, data_offsets: [0, 8] } }, new Uint8Array(4)), /outside/],
    ['offsets reversed', file({ a: { ...f32, data_offsets: [8, 0] } }, new Uint8Array(8)), /outside/],
    ['offsets not integers', file({ a: { ...f32, data_offsets: ['0', 8] } }, new Uint8Array(8)), /invalid data_offsets/],
    ['overlap', file({ a: f32, b: { ...f32, data_offsets: [4, 12] } }, new Uint8Array(12)), /overlap/],
    ['metadata not strings', file({ __metadata__: { a: 1 } }), /not a string/],
    ['entry not an object', file({ a: 3 }), /not an object/],
  ])('%s', (_, bytes, re) => {
    expect(() => readSafetensors(bytes)).toThrow(re);
  });

  test('zero-size tensors and scalars', () => {
    const { tensors } = readSafetensors(
      file(
        {
          s: { dtype: 'F32', shape: [], data_offsets: [0, 4] },
          e: { dtype: 'F32', shape: [0, 3], data_offsets: [4, 4] },
        },
        new Uint8Array(new Float32Array([1.5]).buffer),
      ),
    );
    expect([...tensors.get('s')!.toFloat32()]).toEqual([1.5]);
    expect(tensors.get('e')!.size).toBe(0);
  });
});

describe('writeSafetensors', () => {
  test('round trip, and an independent reader agrees', () => {
    const ts = readSafetensors(fx.read('weights.safetensors')).tensors;
    const metadata = { format: 'pt', note: 'héllo' };
    const bytes = writeSafetensors(ts, metadata);
    const back = readSafetensors(bytes);
    expect(back.metadata).toEqual(metadata);
    for (const [name, e] of Object.entries(fx.expected['weights.safetensors'].tensors)) expectTensor(back.tensors.get(name)!, { ...e, dtype: ts.get(name)!.dtype }, name);

    const path = join(fx.dir, 'written.safetensors');
    writeFileSync(path, bytes);
    const py = readSafetensorsWithPython(path);
    expect(py.__metadata__).toEqual(metadata);
    expect(py.header_length % 8).toBe(0);
    // Data ordered by element size, largest first, then by name: every tensor naturally aligned.
    const order = Object.entries(py.tensors).sort((a, b) => a[1].offsets[0] - b[1].offsets[0] || a[1].offsets[1] - b[1].offsets[1]);
    for (const [name, t] of order) expect(t.offsets[0] % ({ F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 }[t.dtype] ?? 1), name).toBe(0);
    const floats = ['float32', 'float16', 'bfloat16', 'float64'];
    for (const [name, e] of Object.entries(fx.expected['weights.safetensors'].tensors)) {
      expect(py.tensors[name].shape, name).toEqual(e.shape);
      const want = e.values.map((v) => (floats.includes(e.dtype) ? Math.fround(Number(expectedValue(v))) : expectedValue(v)));
      expect(py.tensors[name].values.map(expectedValue), name).toEqual(want);
    }
  });

  test('shipping fp16 weights converted from a torch checkpoint', () => {
    const sd = stateDict(loadTorchCheckpoint(fx.read('state.pt')).root);
    const f32 = sd.get('f32')!;
    const half = new Tensor('float16', f32.shape, float32ToFloat16(f32.toFloat32()));
    const bytes = writeSafetensors(new Map([['w', half]]));
    const path = join(fx.dir, 'half.safetensors');
    writeFileSync(path, bytes);
    const py = readSafetensorsWithPython(path);
    expect(py.tensors.w.dtype).toBe('F16');
    const e = fx.expected['state.pt'].f32_as_f16 as { values: number[] };
    expect(py.tensors.w.values).toEqual(e.values);
    expect([...(half.data as Uint16Array)].map(halfToFloat)).toEqual(e.values);
  });

  test('empty input, and names the format reserves', () => {
    const empty = readSafetensors(writeSafetensors(new Map()));
    expect(empty.tensors.size).toBe(0);
    const t = new Tensor('uint8', [1], new Uint8Array([1]));
    expect(() => writeSafetensors({ __metadata__: t })).toThrow(/__metadata__/);
  });

  test('Tensor rejects data that does not match its dtype or shape', () => {
    expect(() => new Tensor('float32', [3], new Float32Array(2))).toThrow(/3/);
    expect(() => new Tensor('float16', [2], new Float32Array(2))).toThrow(/Uint16Array/);
  });
});

/**
 * Fuzzing the checkpoint readers: random bytes and mutated real files (from torch 1.13 via
 * make_torch_fixtures.py). Each input must load or throw an Error with a message, quickly,
 * and never trip an engine limit (a failed allocation, an invalid typed-array length or a
 * stack overflow means a length was trusted before it was checked).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { unpickle } from '../../src/formats/pickle.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { findTensors, loadTorchCheckpoint, stateDict } from '../../src/formats/torch.ts';
import { ZipArchive } from '../../src/formats/zip.ts';
import { makeTorchFixtures, type TorchFixtures } from '../fixtures/torch-fixtures.ts';

let fx: TorchFixtures;
beforeAll(() => {
  fx = makeTorchFixtures();
}, 180_000);
afterAll(() => fx?.cleanup());

const ENGINE_LIMIT = /allocation failed|Invalid typed array length|Invalid array buffer length|Array buffer allocation|Maximum call stack|Invalid array length|Invalid string length/;
const MAX_MS = 2000;

/** Runs one input: success, or an Error with a message of our own; always fast. */
function survives(run: () => void): void {
  const t0 = performance.now();
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    const msg = (e as Error).message;
    expect(msg.length).toBeGreaterThan(0);
    expect(msg).not.toMatch(ENGINE_LIMIT);
  }
  expect(performance.now() - t0).toBeLessThan(MAX_MS);
}

/** Loads a checkpoint and reads everything a caller might: every tensor's data, the state dict. */
function loadAll(bytes: Uint8Array): void {
  const ckpt = loadTorchCheckpoint(bytes, 'fuzz.pt');
  for (const t of findTensors(ckpt.root).values()) {
    void t.data;
    void t.toFloat32();
  }
  stateDict(ckpt.root);
}

function readAll(bytes: Uint8Array): void {
  for (const t of readSafetensors(bytes).tensors.values()) void t.toFloat32();
}

type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'u32'; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  // Length fields are where readers get hurt: smash four bytes with boundary values.
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 1 << 20) }),
);

/** Applies mutations within [lo, hi) of the file (the whole file by default). */
function mutate(src: Uint8Array, ms: Mutation[], lo = 0, hi = src.length): Uint8Array {
  let b = src.slice();
  for (const m of ms) {
    const span = Math.max(1, hi - lo);
    const at = lo + (m.at % span);
    if (m.kind === 'set') {
      if (at < b.length) b[at] = m.value;
    } else if (m.kind === 'u32') {
      if (at + 4 <= b.length) new DataView(b.buffer).setUint32(at, m.value >>> 0, true);
    } else if (m.kind === 'insert') {
      const out = new Uint8Array(b.length + m.bytes.length);
      out.set(b.subarray(0, at));
      out.set(m.bytes, at);
      out.set(b.subarray(at), at + m.bytes.length);
      b = out;
      hi += m.bytes.length;
    } else {
      const out = new Uint8Array(Math.max(0, b.length - m.count));
      out.set(b.subarray(0, at));
      out.set(b.subarray(Math.min(b.length, at + m.count)), at);
      b = out.subarray(0, Math.max(0, b.length - m.count));
      hi = Math.max(lo, hi - m.count);
    }
  }
  return b;
}

const runs = (n: number) => ({ numRuns: n });

describe('random bytes', () => {
  test('loadTorchCheckpoint, readSafetensors, unpickle', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        survives(() => loadAll(bytes));
        survives(() => readAll(bytes));
        survives(() => unpickle(bytes));
      }),
      runs(500),
    );
  });

  test('behind plausible magic', () => {
    const heads = [
      [0x50, 0x4b, 0x03, 0x04],
      [0x50, 0x4b, 0x05, 0x06],
      [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e],
      [0x80, 0x02],
      [0x80, 0x04, 0x95],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...heads), fc.uint8Array({ maxLength: 512 }), (head, tail) => {
        const bytes = Uint8Array.from([...head, ...tail]);
        survives(() => loadAll(bytes));
        survives(() => unpickle(bytes));
      }),
      runs(500),
    );
  });

  test('safetensors headers with random JSON', () => {
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.integer({ min: -10, max: 1 << 20 }),
        fc.constantFrom(2 ** 53, 2 ** 64, -1, 0.5, 'F32', 'F16', 'BF16', 'I64', 'BOOL', 'X'),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(fc.constantFrom('dtype', 'shape', 'data_offsets', '__metadata__', 'a'), tie('v'), { maxKeys: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 4 }), fc.nat({ max: 256 }), (header, dataLength) => {
        const json = new TextEncoder().encode(JSON.stringify(header));
        const bytes = new Uint8Array(8 + json.length + dataLength);
        new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
        bytes.set(json, 8);
        survives(() => readAll(bytes));
      }),
      runs(500),
    );
  });
});

describe('mutated real files', () => {
  test.each([
    ['small.pt', 300],
    ['four.pt', 300],
    ['state.pt', 200],
    ['state_deflated.pt', 200],
    ['state_p4.pt', 150],
    ['state_legacy.pt', 300],
    ['hostile.pt', 150],
    ['mobiler2l.tar', 100],
  ])('%s anywhere', (name, n) => {
    const src = fx.read(name);
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => survives(() => loadAll(mutate(src, ms)))),
      runs(n),
    );
  });

  test.each(['small.pt', 'state.pt', 'hostile.pt', 'mobiler2l.tar', 'chkpnt7000.pth'])('%s: data.pkl mutated inside a valid zip', (name) => {
    const src = fx.read(name);
    const zip = new ZipArchive(src);
    const pkl = zip.entries.find((e) => e.name.endsWith('/data.pkl'))!;
    // Stored entries are not CRC-checked, so in-place edits reach the unpickler with torch's hooks.
    const inPlace = fc.array(fc.oneof(mutation.filter((m) => m.kind === 'set' || m.kind === 'u32')), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(inPlace, (ms) => survives(() => loadAll(mutate(src, ms, pkl.dataOffset, pkl.dataOffset + pkl.size)))),
      runs(300),
    );
    const raw = zip.read(pkl);
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => survives(() => unpickle(mutate(raw, ms)))),
      runs(300),
    );
  });

  test.each(['plain_p0.pkl', 'plain_p2.pkl', 'plain_p4.pkl', 'plain_p5.pkl'])('%s', (name) => {
    const src = fx.read(name);
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => survives(() => unpickle(mutate(src, ms)))),
      runs(300),
    );
  });

  test('weights.safetensors', () => {
    const src = fx.read('weights.safetensors');
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => survives(() => readAll(mutate(src, ms)))),
      runs(500),
    );
  });
});

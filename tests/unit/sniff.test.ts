import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FILE_KIND_LABELS, FILE_KINDS, imageDimensions, sniffFile, type FileKind } from '../../src/formats/sniff.ts';

const enc = new TextEncoder();
const bytes = (...parts: (string | number[] | Uint8Array)[]): Uint8Array => {
  const chunks = parts.map((p) => (typeof p === 'string' ? Uint8Array.from(p, (c) => c.charCodeAt(0)) : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) out.set(c, (o += c.length) - c.length);
  return out;
};
const u32le = (v: number): number[] => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];
const u32be = (v: number): number[] => u32le(v).reverse();
const u16le = (v: number): number[] => [v & 255, (v >>> 8) & 255];
const pad = (head: Uint8Array, length: number): Uint8Array => {
  const out = new Uint8Array(Math.max(length, head.length));
  out.set(head);
  return out;
};

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const png = (w: number, h: number) => bytes(PNG_SIG, u32be(13), 'IHDR', u32be(w), u32be(h), [8, 6, 0, 0, 0], [0, 0, 0, 0]);
const safetensors = (json: string) => bytes(u32le(json.length), [0, 0, 0, 0], json, new Uint8Array(16));

describe('sniffFile: magic bytes', () => {
  const cases: [string, Uint8Array, FileKind, string?][] = [
    ['ply LF', enc.encode('ply\nformat binary_little_endian 1.0\n'), 'ply'],
    ['ply CRLF', enc.encode('ply\r\nformat ascii 1.0\r\n'), 'ply'],
    ['ply beats a wrong name', enc.encode('ply\nformat ascii 1.0\n'), 'ply', 'scene.splat'],
    ['png', png(4, 3), 'png'],
    ['jpeg', bytes([0xff, 0xd8, 0xff, 0xe0], u16le(16)), 'jpeg'],
    ['webp', bytes('RIFF', u32le(100), 'WEBPVP8 '), 'webp'],
    ['gif87a', bytes('GIF87a', u16le(2), u16le(2)), 'gif'],
    ['gif89a', bytes('GIF89a', u16le(2), u16le(2)), 'gif'],
    ['bmp', bytes('BM', u32le(70), u32le(0), u32le(54), u32le(40), u32le(2), u32le(2)), 'bmp'],
    ['zip (PyTorch checkpoint)', bytes('PK', [3, 4], new Uint8Array(26)), 'zip', 'model.pth'],
    ['empty zip', bytes('PK', [5, 6], new Uint8Array(18)), 'zip'],
    ['safetensors', safetensors('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'), 'safetensors'],
    ['spz v4 raw NGSP', bytes(u32le(0x5053474e), u32le(4), u32le(10)), 'spz'],
    ['spz v1-3 gzip by name', bytes([0x1f, 0x8b, 0x08, 0x00]), 'spz', 'scene.SPZ'],
    ['plain gzip', bytes([0x1f, 0x8b, 0x08, 0x00]), 'gzip', 'scene.ply.gz'],
    ['gzip without name', bytes([0x1f, 0x8b, 0x08, 0x00]), 'gzip'],
    ['zstd with spz name', bytes([0x28, 0xb5, 0x2f, 0xfd, 0]), 'spz', 'a/b/scene.spz'],
    ['zstd without spz name', bytes([0x28, 0xb5, 0x2f, 0xfd, 0]), 'unknown', 'x.zst'],
    ['png content wins over .splat name', pad(png(1, 1), 64), 'png', 'scene.splat'],
  ];
  for (const [label, head, kind, name] of cases) {
    test(label, () => expect(sniffFile(head, name)).toBe(kind));
  }

  test('NGSP magic is 0x5053474e little-endian', () => {
    expect(sniffFile(enc.encode('NGSP'))).toBe('spz');
  });

  test('safetensors needs the header to fit in the file and its high length word to be zero', () => {
    const head = safetensors('{}');
    expect(sniffFile(head)).toBe('safetensors');
    expect(sniffFile(head.subarray(0, 9), undefined, 9)).toBe('unknown'); // header length 2 runs past a 9-byte file
    expect(sniffFile(head.subarray(0, 9), undefined, 1000)).toBe('safetensors'); // only a head of a bigger file
    const huge = head.slice();
    huge[7] = 1;
    expect(sniffFile(huge, undefined, 1e12)).toBe('unknown');
  });
});

describe('sniffFile: by name where content cannot tell', () => {
  test('.splat needs a size that is a multiple of 32', () => {
    const head = new Uint8Array(64).fill(7);
    expect(sniffFile(head, 'scene.splat')).toBe('splat');
    expect(sniffFile(head.subarray(0, 32), 'scene.splat', 32 * 1000)).toBe('splat');
    expect(sniffFile(head.subarray(0, 33), 'scene.splat')).toBe('unknown');
    expect(sniffFile(new Uint8Array(0), 'scene.splat')).toBe('unknown');
    expect(sniffFile(head)).toBe('unknown');
  });

  test('.obj: text with the name; statements without it', () => {
    const blender = '# Blender v2.93 OBJ File\nmtllib cube.mtl\no Cube\nv 1.000000 1.000000 -1.000000\nv 1 -1 -1\nvn 0 1 0\nusemtl Material\ns off\nf 1//1 2//1 3//1\n';
    expect(sniffFile(enc.encode(blender))).toBe('obj');
    expect(sniffFile(enc.encode('v -1.5e-3 2 .5\nv 1 2 3\nf 1 2 3\n'))).toBe('obj');
    expect(sniffFile(enc.encode('o thing\r\nv 0 0 0\r\n'))).toBe('obj');
    expect(sniffFile(enc.encode('# only a comment\n'), 'mesh.obj')).toBe('obj');
    expect(sniffFile(enc.encode('# only a comment\n'))).toBe('unknown');
    expect(sniffFile(enc.encode('hello world\nv 1 2 3\n'))).toBe('unknown');
    expect(sniffFile(enc.encode('v one two three\n'))).toBe('unknown');
    expect(sniffFile(bytes('v 1 2 3\n', [0, 1, 2]), 'mesh.obj')).toBe('unknown'); // binary is not OBJ
  });
});

describe('sniffFile: robustness', () => {
  test('truncated heads (0..3 bytes) of every magic are unknown and never throw', () => {
    const heads = [enc.encode('ply\n'), bytes(PNG_SIG), bytes([0xff, 0xd8, 0xff]), enc.encode('PK\x03\x04'), enc.encode('NGSP'), bytes([0x1f, 0x8b, 0x08]), bytes([0x28, 0xb5, 0x2f, 0xfd]), enc.encode('GIF89a'), enc.encode('RIFF')];
    for (const head of heads) {
      for (let n = 0; n <= 3 && n < head.length; n++) {
        expect(sniffFile(head.subarray(0, n))).toBe('unknown');
        expect(sniffFile(head.subarray(0, n), 'scene.spz')).toBe('unknown');
      }
    }
    expect(sniffFile(new Uint8Array(0), 'mesh.obj')).toBe('unknown');
    expect(sniffFile(new Uint8Array(0), '')).toBe('unknown');
  });

  test('random bytes never throw, give a known kind, and are unknown without a name', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.option(fc.string(), { nil: undefined }), (head, name) => {
        expect(FILE_KINDS).toContain(sniffFile(head, name));
        expect(sniffFile(head)).toBe('unknown');
        expect(() => imageDimensions(head)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });

  test('random bytes after a magic never throw', () => {
    const magics = [PNG_SIG, [0xff, 0xd8, 0xff], [...enc.encode('RIFF')], [0x42, 0x4d], [...enc.encode('GIF89a')]];
    fc.assert(
      fc.property(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 300 }), (magic, rest) => {
        const head = bytes(magic, rest);
        expect(FILE_KINDS).toContain(sniffFile(head, 'x.png'));
        const dims = imageDimensions(head);
        if (dims) expect(Number.isInteger(dims.width) && Number.isInteger(dims.height)).toBe(true);
      }),
    );
  });

  test('every kind has a label', () => {
    for (const kind of FILE_KINDS) expect(FILE_KIND_LABELS[kind].length).toBeGreaterThan(3);
    expect(FILE_KIND_LABELS.ply).toMatch(/\.ply/);
  });
});

describe('imageDimensions', () => {
  test('png, gif, bmp (incl. top-down), webp VP8/VP8L/VP8X, jpeg', () => {
    expect(imageDimensions(png(640, 480))).toEqual({ width: 640, height: 480 });
    expect(imageDimensions(bytes('GIF89a', u16le(300), u16le(200)))).toEqual({ width: 300, height: 200 });
    const bmp = (h: number) => bytes('BM', u32le(0), u32le(0), u32le(54), u32le(40), u32le(123), u32le(h >>> 0));
    expect(imageDimensions(bmp(45))).toEqual({ width: 123, height: 45 });
    expect(imageDimensions(bmp(-45))).toEqual({ width: 123, height: 45 });
    const vp8 = bytes('RIFF', u32le(0), 'WEBP', 'VP8 ', u32le(0), [0, 0, 0], [0x9d, 0x01, 0x2a], u16le(320), u16le(240));
    expect(imageDimensions(vp8)).toEqual({ width: 320, height: 240 });
    const bits = (1000 - 1) | ((500 - 1) << 14);
    const vp8l = bytes('RIFF', u32le(0), 'WEBP', 'VP8L', u32le(0), [0x2f], u32le(bits), [0]);
    expect(imageDimensions(vp8l)).toEqual({ width: 1000, height: 500 });
    const vp8x = bytes('RIFF', u32le(0), 'WEBP', 'VP8X', u32le(10), u32le(0), [0xff, 0x0f, 0], [0x7f, 0, 0]);
    expect(imageDimensions(vp8x)).toEqual({ width: 4096, height: 128 });
    const jpeg = bytes([0xff, 0xd8], [0xff, 0xe0, 0, 4, 0, 0], [0xff, 0xff], [0xff, 0xc2, 0, 11, 8], [0x01, 0x2c], [0x02, 0x58], [3, 1, 0x22, 0]);
    expect(imageDimensions(jpeg)).toEqual({ width: 600, height: 300 });
    expect(imageDimensions(jpeg.subarray(0, 12))).toBeNull(); // SOF cut off
    expect(imageDimensions(enc.encode('ply\n'))).toBeNull();
  });
});

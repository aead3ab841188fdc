/**
 * Binary PLY reader and writer (http://paulbourke.net/dataformats/ply/), safe on any bytes.
 *
 *   ply
 *   format binary_little_endian 1.0        (or binary_big_endian; ascii is refused)
 *   comment ... / obj_info ...
 *   element <name> <count>
 *   property <type> <name>                  type: char uchar short ushort int uint float double
 *   property list <count type> <item type> <name>       (or int8 ... float64)
 *   end_header
 *   <rows of every element, in header order>
 *
 * What this reader guarantees before it allocates anything proportional to a count:
 * - the header is at most MAX_PLY_HEADER_BYTES and well formed (unknown lines, missing
 *   format, duplicate element or property names are errors that say which);
 * - every element's rows fit in the bytes that follow the header (a header claiming 10⁹
 *   vertices on a small file fails at once, naming the element and the byte counts).
 * Elements with list properties (e.g. mesh faces) are walked row by row to find where
 * the next element starts; each row is bounds-checked. Reading columns (readPlyColumns)
 * rejects NaN and ±Infinity in float properties unless told otherwise, naming the
 * property and the row.
 *
 * Pure TS: no DOM, no GPU. DataView loops; no per-row objects.
 */

export type PlyScalarType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

/** A typed array a column can be read into. */
export type PlyColumnArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

export interface PlyProperty {
  name: string;
  type: PlyScalarType;
  /** For list properties: the type of the leading item count (type is then the item type). */
  countType?: PlyScalarType;
  /** Byte offset within a row; -1 in elements that have list properties (rows vary in size). */
  offset: number;
}

export interface PlyElement {
  name: string;
  count: number;
  properties: PlyProperty[];
  /** Bytes per row, or -1 when a list property makes rows vary in size. */
  rowBytes: number;
  /** Where the element's first row starts in the file (set by layoutPly; -1 before). */
  dataOffset: number;
  /** Bytes all its rows take (set by layoutPly; -1 before). */
  byteLength: number;
}

export interface PlyHeader {
  format: 'binary_little_endian' | 'binary_big_endian';
  littleEndian: boolean;
  /** Text of each `comment` line, in order, without the keyword. */
  comments: string[];
  /** Text of each `obj_info` line. */
  objInfo: string[];
  elements: PlyElement[];
  /** Bytes up to and including the end_header line: where the body starts. */
  headerBytes: number;
}

/** A parsed and laid-out PLY file over its bytes (nothing copied). */
export interface PlyFile extends PlyHeader {
  bytes: Uint8Array;
  /** Bytes after the last element (ignored; some writers pad). */
  trailingBytes: number;
}

/** Headers are tables of contents: a real one is a few KiB even with hundreds of properties. */
export const MAX_PLY_HEADER_BYTES = 64 * 1024;

export const PLY_TYPE_SIZE: Readonly<Record<PlyScalarType, number>> = {
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  float64: 8,
};

/** Type names a header may use, both the classic and the sized spellings. */
const TYPE_NAMES: Readonly<Record<string, PlyScalarType>> = {
  char: 'int8',
  uchar: 'uint8',
  short: 'int16',
  ushort: 'uint16',
  int: 'int32',
  uint: 'uint32',
  float: 'float32',
  double: 'float64',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  float32: 'float32',
  float64: 'float64',
};

/** The classic type name a writer puts in a header (what most readers expect). */
export const PLY_TYPE_NAME: Readonly<Record<PlyScalarType, string>> = {
  int8: 'char',
  uint8: 'uchar',
  int16: 'short',
  uint16: 'ushort',
  int32: 'int',
  uint32: 'uint',
  float32: 'float',
  float64: 'double',
};

const fail = (msg: string): never => {
  throw new Error(`PLY: ${msg}`);
};

const show = (s: string, max = 60): string => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);

/** True when the bytes start like a PLY file ('ply' then a line break). */
export function isPly(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x70 && bytes[1] === 0x6c && bytes[2] === 0x79 && (bytes[3] === 0x0a || (bytes[3] === 0x0d && bytes[4] === 0x0a));
}

/**
 * Parses the header (elements, properties, comments); does not look at the body. Throws a
 * clear Error for anything that is not a binary PLY header this reader understands.
 */
export function parsePlyHeader(bytes: Uint8Array): PlyHeader {
  if (!isPly(bytes)) {
    const start = String.fromCharCode(...bytes.subarray(0, 5));
    if (start.length < 5 && ('ply\n'.startsWith(start) || 'ply\r\n'.startsWith(start))) fail(`file is truncated (${bytes.length} bytes)`);
    fail("not a PLY file (it does not start with 'ply' and a line break)");
  }
  // Find the end_header line within the cap.
  const limit = Math.min(bytes.length, MAX_PLY_HEADER_BYTES);
  let headerBytes = -1;
  let lineStart = 0;
  const lines: string[] = [];
  for (let i = 0; i < limit; i++) {
    if (bytes[i] !== 0x0a) continue;
    let end = i;
    if (end > lineStart && bytes[end - 1] === 0x0d) end--;
    let line = '';
    for (let j = lineStart; j < end; j++) line += String.fromCharCode(bytes[j]);
    lines.push(line);
    lineStart = i + 1;
    if (line.trim() === 'end_header') {
      headerBytes = i + 1;
      break;
    }
  }
  if (headerBytes < 0) {
    if (bytes.length >= MAX_PLY_HEADER_BYTES) fail(`header is larger than ${MAX_PLY_HEADER_BYTES / 1024} KiB (no end_header line in the first ${MAX_PLY_HEADER_BYTES} bytes)`);
    fail('header is truncated (the file ends before the end_header line)');
  }

  let format: PlyHeader['format'] | null = null;
  const comments: string[] = [];
  const objInfo: string[] = [];
  const elements: PlyElement[] = [];
  for (let n = 1; n < lines.length - 1; n++) {
    const raw = lines[n];
    const line = raw.trim();
    if (line === '') continue;
    const words = line.split(/\s+/);
    const keyword = words[0];
    const lineNo = n + 1;
    switch (keyword) {
      case 'comment':
        comments.push(raw.replace(/^\s*comment\s?/, ''));
        break;
      case 'obj_info':
        objInfo.push(raw.replace(/^\s*obj_info\s?/, ''));
        break;
      case 'format': {
        if (format !== null) fail(`header line ${lineNo}: a second 'format' line`);
        if (elements.length) fail(`header line ${lineNo}: 'format' must come before the elements`);
        const [, kind, version] = words;
        if (kind === 'ascii') fail('ASCII PLY is not supported; convert to binary (binary_little_endian), e.g. with CloudCompare, MeshLab or plyfile');
        if (kind !== 'binary_little_endian' && kind !== 'binary_big_endian') fail(`header line ${lineNo}: unknown format ${show(kind ?? '')} (expected binary_little_endian or binary_big_endian)`);
        if (version !== '1.0') fail(`header line ${lineNo}: unsupported PLY version ${show(version ?? '')} (expected 1.0)`);
        if (words.length !== 3) fail(`header line ${lineNo}: malformed format line ${show(line)}`);
        format = kind as PlyHeader['format'];
        break;
      }
      case 'element': {
        if (words.length !== 3) fail(`header line ${lineNo}: malformed element line ${show(line)} (expected 'element <name> <count>')`);
        const [, name, countText] = words;
        if (!/^\d+$/.test(countText)) fail(`header line ${lineNo}: element '${name}' has a bad count ${show(countText)}`);
        const count = Number(countText);
        if (!Number.isSafeInteger(count)) fail(`header line ${lineNo}: element '${name}' count ${countText} is too large`);
        if (elements.some((e) => e.name === name)) fail(`header line ${lineNo}: duplicate element '${name}'`);
        elements.push({ name, count, properties: [], rowBytes: 0, dataOffset: -1, byteLength: -1 });
        break;
      }
      case 'property': {
        const element = elements[elements.length - 1];
        if (!element) fail(`header line ${lineNo}: property before any element`);
        let prop: PlyProperty;
        if (words[1] === 'list') {
          if (words.length !== 5) fail(`header line ${lineNo}: malformed list property ${show(line)} (expected 'property list <count type> <item type> <name>')`);
          const countType = TYPE_NAMES[words[2]];
          const type = TYPE_NAMES[words[3]];
          if (!countType) fail(`header line ${lineNo}: unknown list count type ${show(words[2])}`);
          if (!type) fail(`header line ${lineNo}: unknown list item type ${show(words[3])}`);
          if (countType === 'float32' || countType === 'float64') fail(`header line ${lineNo}: list count type ${words[2]} is not an integer type`);
          prop = { name: words[4], type, countType, offset: -1 };
        } else {
          if (words.length !== 3) fail(`header line ${lineNo}: malformed property line ${show(line)} (expected 'property <type> <name>')`);
          const type = TYPE_NAMES[words[1]];
          if (!type) fail(`header line ${lineNo}: unknown property type ${show(words[1])} (expected char, uchar, short, ushort, int, uint, float or double)`);
          prop = { name: words[2], type, offset: -1 };
        }
        if (element.properties.some((p) => p.name === prop.name)) fail(`duplicate property '${prop.name}' in element '${element.name}' (header line ${lineNo})`);
        element.properties.push(prop);
        break;
      }
      default:
        fail(`header line ${lineNo}: unknown line ${show(line)}`);
    }
  }
  if (format === null) fail("header has no 'format' line");
  const fmt = format as PlyHeader['format'];
  for (const e of elements) computeRowLayout(e);
  return { format: fmt, littleEndian: fmt === 'binary_little_endian', comments, objInfo, elements, headerBytes };
}

/** (Re)computes property offsets and the row size of an element after its properties change. */
export function computeRowLayout(e: PlyElement): void {
  if (e.properties.some((p) => p.countType)) {
    e.rowBytes = -1;
    for (const p of e.properties) p.offset = -1;
    return;
  }
  let offset = 0;
  for (const p of e.properties) {
    p.offset = offset;
    offset += PLY_TYPE_SIZE[p.type];
  }
  e.rowBytes = offset;
}

/**
 * Places every element's rows in the body and checks they fit the file, before anything
 * is allocated. Rows of fixed-size elements are not touched; elements with list
 * properties are walked (each row at least one byte, checked up front).
 */
export function layoutPly(header: PlyHeader, bytes: Uint8Array): PlyFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = header.littleEndian;
  let offset = header.headerBytes;
  for (const e of header.elements) {
    const remaining = bytes.length - offset;
    if (e.rowBytes >= 0) {
      const need = e.count * e.rowBytes;
      if (need > remaining) {
        fail(
          `file is truncated: element '${e.name}' declares ${e.count} rows of ${e.rowBytes} bytes (${need} bytes) ` +
            `at byte ${offset}, but only ${remaining} bytes remain`,
        );
      }
      e.dataOffset = offset;
      e.byteLength = need;
      offset += need;
      continue;
    }
    // Variable rows: each has at least the list counts and the scalar properties.
    let minRow = 0;
    for (const p of e.properties) minRow += PLY_TYPE_SIZE[p.countType ?? p.type];
    if (e.count * minRow > remaining) {
      fail(`file is truncated: element '${e.name}' declares ${e.count} rows of at least ${minRow} bytes at byte ${offset}, but only ${remaining} bytes remain`);
    }
    const start = offset;
    for (let row = 0; row < e.count; row++) {
      for (const p of e.properties) {
        if (!p.countType) {
          offset += PLY_TYPE_SIZE[p.type];
          if (offset > bytes.length) fail(`file is truncated in row ${row} of element '${e.name}'`);
          continue;
        }
        const size = PLY_TYPE_SIZE[p.countType];
        if (offset + size > bytes.length) fail(`file is truncated in row ${row} of element '${e.name}'`);
        const n = readScalar(view, offset, p.countType, le);
        if (!(n >= 0)) fail(`element '${e.name}' row ${row}: list '${p.name}' has a negative length ${n}`);
        offset += size + n * PLY_TYPE_SIZE[p.type];
        if (offset > bytes.length) fail(`file is truncated in row ${row} of element '${e.name}' (list '${p.name}' of ${n} items runs past the end)`);
      }
    }
    e.dataOffset = start;
    e.byteLength = offset - start;
  }
  return { ...header, bytes, trailingBytes: bytes.length - offset };
}

/** Parses and lays out a binary PLY file. */
export function readPly(bytes: Uint8Array): PlyFile {
  return layoutPly(parsePlyHeader(bytes), bytes);
}

export function findElement(ply: PlyHeader, name: string): PlyElement | undefined {
  return ply.elements.find((e) => e.name === name);
}

export function requireElement(ply: PlyHeader, name: string): PlyElement {
  const e = findElement(ply, name);
  if (!e) fail(`no '${name}' element (elements: ${ply.elements.map((x) => `'${x.name}'`).join(', ') || 'none'})`);
  return e as PlyElement;
}

export function findProperty(element: PlyElement, name: string): PlyProperty | undefined {
  return element.properties.find((p) => p.name === name);
}

/** Throws naming every missing property at once. */
export function requireProperties(element: PlyElement, names: readonly string[], what = ''): void {
  const missing = names.filter((n) => !findProperty(element, n));
  if (missing.length) {
    fail(`${what ? `${what}: ` : ''}element '${element.name}' is missing propert${missing.length > 1 ? 'ies' : 'y'} ${missing.map((m) => `'${m}'`).join(', ')}`);
  }
}

export interface PlyColumn {
  property: string;
  /** Receives row i's value at out[i * stride + offset]. */
  out: PlyColumnArray;
  stride?: number;
  offset?: number;
}

export interface ReadColumnsOptions {
  /** Reject NaN and ±Infinity in float properties (default true). */
  finite?: boolean;
  /** Called with the number of rows done, every 65,536 rows and at the end. */
  onRows?: (rows: number) => void;
}

/** Rows between progress callbacks. */
export const PLY_PROGRESS_ROWS = 65536;

const TYPE_CODE: Readonly<Record<PlyScalarType, number>> = { int8: 0, uint8: 1, int16: 2, uint16: 3, int32: 4, uint32: 5, float32: 6, float64: 7 };

/**
 * Reads scalar properties of a fixed-size element into typed arrays, one pass over the
 * rows. Values are converted as typed arrays convert (so uint32 → Uint32Array is exact).
 */
export function readPlyColumns(ply: PlyFile, element: PlyElement, columns: readonly PlyColumn[], options: ReadColumnsOptions = {}): void {
  if (element.dataOffset < 0) fail(`element '${element.name}' has not been laid out`);
  if (element.rowBytes < 0) fail(`element '${element.name}' has list properties; read them with readPlyList`);
  const finite = options.finite ?? true;
  const m = columns.length;
  const offs = new Int32Array(m);
  const codes = new Uint8Array(m);
  const strides = new Int32Array(m);
  const starts = new Int32Array(m);
  const outs: PlyColumnArray[] = [];
  /** Columns whose float64 values must fit float32 (the output is a Float32Array). */
  const narrow = new Uint8Array(m);
  for (let j = 0; j < m; j++) {
    const c = columns[j];
    const p = findProperty(element, c.property);
    if (!p) fail(`element '${element.name}' has no property '${c.property}'`);
    const prop = p as PlyProperty;
    if (prop.countType) fail(`property '${prop.name}' of element '${element.name}' is a list`);
    const stride = c.stride ?? 1;
    const offset = c.offset ?? 0;
    if (element.count > 0 && (element.count - 1) * stride + offset >= c.out.length) fail(`internal: output for '${prop.name}' is too small`);
    offs[j] = prop.offset;
    codes[j] = TYPE_CODE[prop.type];
    strides[j] = stride;
    starts[j] = offset;
    outs.push(c.out);
    narrow[j] = c.out instanceof Float32Array ? 1 : 0;
  }
  if (m === 0) return;
  const { bytes, littleEndian: le } = ply;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = element.count;
  const rowBytes = element.rowBytes;
  let base = element.dataOffset;
  for (let i = 0; i < n; i++, base += rowBytes) {
    for (let j = 0; j < m; j++) {
      const at = base + offs[j];
      let v: number;
      switch (codes[j]) {
        case 0:
          v = view.getInt8(at);
          break;
        case 1:
          v = bytes[at];
          break;
        case 2:
          v = view.getInt16(at, le);
          break;
        case 3:
          v = view.getUint16(at, le);
          break;
        case 4:
          v = view.getInt32(at, le);
          break;
        case 5:
          v = view.getUint32(at, le);
          break;
        case 6:
          v = view.getFloat32(at, le);
          if (finite && v - v !== 0) nonFinite(element, columns[j].property, i, v);
          break;
        default:
          v = view.getFloat64(at, le);
          if (finite && (v - v !== 0 || (narrow[j] && (v > FLOAT32_MAX || v < -FLOAT32_MAX)))) nonFinite(element, columns[j].property, i, v);
      }
      outs[j][i * strides[j] + starts[j]] = v;
    }
    if (options.onRows && (i & (PLY_PROGRESS_ROWS - 1)) === PLY_PROGRESS_ROWS - 1) options.onRows(i + 1);
  }
  options.onRows?.(n);
}

/** Largest finite float32; doubles beyond it would become Infinity in a Float32Array. */
const FLOAT32_MAX = 3.4028234663852886e38;

function nonFinite(element: PlyElement, property: string, row: number, v: number): never {
  if (Number.isFinite(v)) return fail(`element '${element.name}' row ${row}: property '${property}' = ${v} is beyond the float32 range`);
  return fail(`element '${element.name}' row ${row}: property '${property}' is ${Number.isNaN(v) ? 'NaN' : v > 0 ? '+Infinity' : '-Infinity'} (the file holds non-finite values; re-export it or filter those rows)`);
}

/** A list property of a (variable-size) element: row i's items are values[offsets[i] .. offsets[i+1]). */
export function readPlyList(ply: PlyFile, element: PlyElement, name: string): { offsets: Float64Array; values: Float64Array } {
  if (element.dataOffset < 0) fail(`element '${element.name}' has not been laid out`);
  const target = findProperty(element, name);
  if (!target) fail(`element '${element.name}' has no property '${name}'`);
  const view = new DataView(ply.bytes.buffer, ply.bytes.byteOffset, ply.bytes.byteLength);
  const le = ply.littleEndian;
  const offsets = new Float64Array(element.count + 1);
  // First pass: sizes (layoutPly already bounds-checked every row).
  let at = element.dataOffset;
  let total = 0;
  const walk = (visit: ((row: number, at: number, n: number, type: PlyScalarType) => void) | null) => {
    at = element.dataOffset;
    for (let row = 0; row < element.count; row++) {
      for (const p of element.properties) {
        if (!p.countType) {
          if (p === target) visit?.(row, at, 1, p.type);
          at += PLY_TYPE_SIZE[p.type];
          continue;
        }
        const n = readScalar(view, at, p.countType, le);
        at += PLY_TYPE_SIZE[p.countType];
        if (p === target) visit?.(row, at, n, p.type);
        at += n * PLY_TYPE_SIZE[p.type];
      }
    }
  };
  walk((row, _at, n) => {
    offsets[row] = total;
    total += n;
  });
  offsets[element.count] = total;
  const values = new Float64Array(total);
  walk((row, start, n, type) => {
    const size = PLY_TYPE_SIZE[type];
    for (let k = 0; k < n; k++) values[offsets[row] + k] = readScalar(view, start + k * size, type, le);
  });
  return { offsets, values };
}

function readScalar(view: DataView, at: number, type: PlyScalarType, le: boolean): number {
  switch (type) {
    case 'int8':
      return view.getInt8(at);
    case 'uint8':
      return view.getUint8(at);
    case 'int16':
      return view.getInt16(at, le);
    case 'uint16':
      return view.getUint16(at, le);
    case 'int32':
      return view.getInt32(at, le);
    case 'uint32':
      return view.getUint32(at, le);
    case 'float32':
      return view.getFloat32(at, le);
    case 'float64':
      return view.getFloat64(at, le);
  }
}

// ---- writing ----------------------------------------------------------------------------

export interface PlyWriteProperty {
  name: string;
  type: PlyScalarType;
  /** Row i's value is data[i * stride + offset]. */
  data: ArrayLike<number>;
  stride?: number;
  offset?: number;
}

export interface PlyWriteElement {
  name: string;
  count: number;
  properties: PlyWriteProperty[];
}

export interface PlyWriteOptions {
  comments?: readonly string[];
  littleEndian?: boolean;
  /** Called with the rows written so far (all elements together), every 65,536 rows. */
  onRows?: (rows: number) => void;
}

/** Writes a binary PLY file of scalar properties. */
export function writePly(elements: readonly PlyWriteElement[], options: PlyWriteOptions = {}): Uint8Array {
  const le = options.littleEndian ?? true;
  let header = `ply\nformat ${le ? 'binary_little_endian' : 'binary_big_endian'} 1.0\n`;
  for (const c of options.comments ?? []) {
    if (/[\r\n]/.test(c)) throw new Error('PLY: a comment cannot contain a line break');
    header += `comment ${c}\n`;
  }
  let body = 0;
  for (const e of elements) {
    if (!/^\S+$/.test(e.name)) throw new Error(`PLY: bad element name ${show(e.name)}`);
    header += `element ${e.name} ${e.count}\n`;
    let row = 0;
    const seen = new Set<string>();
    for (const p of e.properties) {
      if (!/^\S+$/.test(p.name) || seen.has(p.name)) throw new Error(`PLY: bad or duplicate property name ${show(p.name)}`);
      seen.add(p.name);
      header += `property ${PLY_TYPE_NAME[p.type]} ${p.name}\n`;
      row += PLY_TYPE_SIZE[p.type];
    }
    body += row * e.count;
  }
  header += 'end_header\n';
  const out = new Uint8Array(header.length + body);
  for (let i = 0; i < header.length; i++) out[i] = header.charCodeAt(i) & 0xff;
  const view = new DataView(out.buffer);
  let at = header.length;
  let rowsDone = 0;
  for (const e of elements) {
    const props = e.properties;
    const m = props.length;
    const codes = props.map((p) => TYPE_CODE[p.type]);
    const strides = props.map((p) => p.stride ?? 1);
    const starts = props.map((p) => p.offset ?? 0);
    for (let i = 0; i < e.count; i++) {
      for (let j = 0; j < m; j++) {
        const v = props[j].data[i * strides[j] + starts[j]];
        switch (codes[j]) {
          case 0:
            view.setInt8(at, v);
            at += 1;
            break;
          case 1:
            view.setUint8(at, v);
            at += 1;
            break;
          case 2:
            view.setInt16(at, v, le);
            at += 2;
            break;
          case 3:
            view.setUint16(at, v, le);
            at += 2;
            break;
          case 4:
            view.setInt32(at, v, le);
            at += 4;
            break;
          case 5:
            view.setUint32(at, v, le);
            at += 4;
            break;
          case 6:
            view.setFloat32(at, v, le);
            at += 4;
            break;
          default:
            view.setFloat64(at, v, le);
            at += 8;
        }
      }
      rowsDone++;
      if (options.onRows && (rowsDone & (PLY_PROGRESS_ROWS - 1)) === 0) options.onRows(rowsDone);
    }
  }
  return out;
}

/**
 * A restricted unpickler: reads Python pickles (protocols 0-5) into plain JS values and
 * executes nothing. Python would import and call every GLOBAL a pickle names (which is
 * how a checkpoint can run `os.system`); here a global resolves only to a small
 * allow-list of TS interpretations of pure data constructors (set, OrderedDict, ...,
 * plus whatever the caller adds, e.g. torch's tensor rebuilders). Any other global is
 * an inert `PyGlobal`; calling or instantiating it yields an inert `PyObject` that only
 * records its arguments and state, so tensors inside a pickled nn.Module's `__dict__`
 * stay reachable while the class itself is never looked at.
 *
 * Values: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number,
 * str → string, bytes/bytearray → Uint8Array, tuple/list → array, dict → Map (insertion
 * order, any key), set/frozenset → Set.
 *
 * Every length is checked against the bytes left before anything is allocated, and the
 * stack, memo and mark stack can only grow by one entry per opcode byte, so memory and
 * time are bounded by the input size. Errors are plain `Error`s prefixed "pickle:".
 * Pure TS: no DOM, no GPU.
 */

/** A global (class or function) the pickle referenced but that is not interpreted. */
export class PyGlobal {
  constructor(readonly __global__: string) {}
}

/** The inert result of calling or instantiating an uninterpreted global. */
export class PyObject {
  /** Set by BUILD (usually the instance `__dict__`, a Map). */
  state: unknown = undefined;
  /** Items appended (list subclasses) or set (dict subclasses) after construction. */
  listItems: unknown[] | undefined = undefined;
  dictItems: Map<unknown, unknown> | undefined = undefined;
  /** Keyword arguments (NEWOBJ_EX). */
  kwargs: unknown = undefined;
  constructor(
    readonly __global__: string,
    readonly args: unknown[],
  ) {}
}

/** A TS interpretation of an allow-listed global: receives the call's positional arguments. */
export type PyCallable = (args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** Caller's allow-list, consulted before the built-in one; return undefined to leave a global inert. */
  findClass?: (module: string, name: string) => PyCallable | undefined;
  /** Resolves persistent ids (PERSID/BINPERSID); without it they are an error. */
  persistentLoad?: (pid: unknown) => unknown;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode (several pickles may follow one another). */
  end: number;
  /** Every global the pickle named, as 'module.name'. */
  globals: Set<string>;
}

export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): unknown {
  return unpickleAt(bytes, 0, options).value;
}

/**
 * Python 3 writes protocols 0-2 with Python 2 module names (fix_imports) and maps them back
 * when reading (_compat_pickle); these are the renames that matter here (the rest only
 * change how an inert global is named).
 */
const PY2_MODULES: Record<string, string> = {
  __builtin__: 'builtins',
  exceptions: 'builtins',
  copy_reg: 'copyreg',
  commands: 'subprocess',
  cPickle: 'pickle',
  StringIO: 'io',
  cStringIO: 'io',
  UserDict: 'collections',
  UserList: 'collections',
  UserString: 'collections',
};

/** Implementations behind allow-listed globals; the PyGlobal stays the inert public face. */
const IMPLS = new WeakMap<PyGlobal, PyCallable>();

const iterable = (v: unknown, what: string): unknown[] => {
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  if (v instanceof Map) return [...v.keys()];
  if (typeof v === 'string') return [...v];
  if (v instanceof Uint8Array) return [...v];
  throw new Error(`pickle: ${what} expects an iterable argument`);
};

const toMap = (args: unknown[], what: string): Map<unknown, unknown> => {
  const m = new Map<unknown, unknown>();
  if (args.length === 0 || args[0] == null) return m;
  if (args[0] instanceof Map) return new Map(args[0]);
  for (const pair of iterable(args[0], what)) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new Error(`pickle: ${what} expects key/value pairs`);
    m.set(pair[0], pair[1]);
  }
  return m;
};

const toBytes = (args: unknown[], what: string): Uint8Array => {
  if (args.length === 0) return new Uint8Array(0);
  const [src, encoding] = args;
  if (src instanceof Uint8Array) return src.slice();
  if (Array.isArray(src)) return Uint8Array.from(src as number[]);
  if (typeof src === 'string') {
    const enc = typeof encoding === 'string' ? encoding.toLowerCase().replace(/[-_]/g, '') : 'latin1';
    if (enc === 'latin1' || enc === 'iso88591') {
      const out = new Uint8Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const c = src.charCodeAt(i);
        if (c > 255) throw new Error(`pickle: ${what}: character out of latin-1 range`);
        out[i] = c;
      }
      return out;
    }
    if (enc === 'utf8') return new TextEncoder().encode(src);
  }
  throw new Error(`pickle: unsupported arguments for ${what}`);
};

/** Pure data constructors of the standard library; nothing here touches the outside world. */
const BUILTINS: Record<string, PyCallable> = {
  'collections.OrderedDict': (a) => toMap(a, 'OrderedDict'),
  'builtins.dict': (a) => toMap(a, 'dict'),
  'builtins.set': (a) => new Set(a.length ? iterable(a[0], 'set') : []),
  'builtins.frozenset': (a) => new Set(a.length ? iterable(a[0], 'frozenset') : []),
  'builtins.list': (a) => (a.length ? [...iterable(a[0], 'list')] : []),
  'builtins.tuple': (a) => (a.length ? [...iterable(a[0], 'tuple')] : []),
  'builtins.bytes': (a) => toBytes(a, 'bytes'),
  'builtins.bytearray': (a) => toBytes(a, 'bytearray'),
  // Python 3 writes bytes at protocol 2 as _codecs.encode(latin-1 text, 'latin1').
  '_codecs.encode': (a) => toBytes(a, '_codecs.encode'),
  // Object construction helpers used by protocols 0-2: build an inert instance of the class.
  'copyreg._reconstructor': (a) => callGlobal(a[0], a[2] == null ? [] : [a[2]]),
  'copyreg.__newobj__': (a) => callGlobal(a[0], a.slice(1)),
};

/**
 * Calls a value the way REDUCE/NEWOBJ would: an allow-listed global runs its TS
 * interpretation, any other global yields an inert PyObject. For interpretations that
 * receive a callable as an argument (torch's _rebuild_from_type_v2).
 */
export function callGlobal(cls: unknown, args: unknown[], kwargs?: unknown): unknown {
  if (cls instanceof PyGlobal) {
    const impl = IMPLS.get(cls);
    if (impl && kwargs === undefined) return impl(args);
    const obj = new PyObject(cls.__global__, args);
    if (kwargs !== undefined) obj.kwargs = kwargs;
    return obj;
  }
  // Calling the result of a call (e.g. of an inert getattr): still inert.
  if (cls instanceof PyObject) return new PyObject(`${cls.__global__}()`, args);
  throw new Error(`pickle: cannot call a value of type ${describe(cls)}`);
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Map) return 'dict';
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}

const MAX_STRING_BYTES = 1 << 28;
const MAX_INT_DIGITS = 4300;

export function unpickleAt(bytes: Uint8Array, start: number, options: UnpickleOptions = {}): UnpickleResult {
  const n = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8');
  // TextDecoder('latin1') is really windows-1252; Python's latin-1 is byte = code point.
  const latin1 = (b: Uint8Array) => {
    let s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return s;
  };
  const globals = new Set<string>();
  const globalCache = new Map<string, PyGlobal>();
  // One stack; a MARK records its height, as in CPython (marks fence off what came before).
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;
  let op = 0;
  let opPos = 0;

  const fail = (msg: string): never => {
    throw new Error(`pickle: ${msg} (opcode 0x${op.toString(16).padStart(2, '0')} at offset ${opPos})`);
  };
  const need = (len: number) => {
    if (len > n - pos) fail(len > 0x7fffffff ? `length ${len} is absurd` : 'truncated data');
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    // Lengths beyond the input are rejected by `need` before anything is allocated.
    return v > BigInt(n) ? n + 1 : Number(v);
  };
  const take = (len: number) => (need(len), (pos += len), bytes.subarray(pos - len, pos));
  const text = (len: number) => {
    // Engines cap string length (V8: ~2^29); say so rather than hit a RangeError.
    const b = take(len);
    if (len > MAX_STRING_BYTES) fail(`string of ${len} bytes is too long`);
    return utf8.decode(b);
  };
  const line = (decode: (b: Uint8Array) => string = (b) => utf8.decode(b)) => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('truncated data (unterminated line)');
    const s = decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const fence = () => (marks.length ? marks[marks.length - 1] : 0);
  const pop = () => (stack.length <= fence() ? fail('stack underflow') : stack.pop());
  const top = () => (stack.length <= fence() ? fail('stack underflow') : stack[stack.length - 1]);
  const popMark = () => {
    if (marks.length === 0) fail('missing MARK');
    return stack.splice(marks.pop()!);
  };
  const put = (i: number) => {
    if (!Number.isInteger(i) || i < 0) fail('bad memo index');
    memo.set(i, top());
  };
  const get = (i: number) => {
    if (!memo.has(i)) fail(`memo key ${i} not found`);
    stack.push(memo.get(i));
  };
  const findGlobal = (module: string, name: string): PyGlobal => {
    module = PY2_MODULES[module] ?? module;
    const full = `${module}.${name}`;
    let g = globalCache.get(full);
    if (!g) {
      g = new PyGlobal(full);
      const impl = options.findClass?.(module, name) ?? BUILTINS[full];
      if (impl) IMPLS.set(g, impl);
      globalCache.set(full, g);
      globals.add(full);
    }
    return g;
  };
  const persistent = (pid: unknown) => {
    if (!options.persistentLoad) fail('persistent id in a pickle that should have none');
    return options.persistentLoad!(pid);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (items.length % 2) fail('odd number of items for SETITEMS');
    let map: Map<unknown, unknown>;
    if (target instanceof Map) map = target;
    else if (target instanceof PyObject) map = target.dictItems ??= new Map();
    else return fail(`cannot set items on ${describe(target)}`);
    for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]) => {
    if (Array.isArray(target)) for (const x of items) target.push(x);
    else if (target instanceof PyObject) for (const x of items) (target.listItems ??= []).push(x);
    else fail(`cannot append to ${describe(target)}`);
  };
  // Integers are capped like CPython's int_max_str_digits: BigInt parsing is superlinear.
  const int = (digits: string): number | bigint => {
    if (!/^[+-]?\d+$/.test(digits)) fail(`bad integer '${digits.slice(0, 40)}'`);
    if (digits.length > MAX_INT_DIGITS) fail(`integer of ${digits.length} digits is too large`);
    const v = BigInt(digits);
    return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  };
  const long = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length > MAX_INT_DIGITS / 2) fail(`integer of ${b.length} bytes is too large`);
    let hex = '';
    for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
    let v = BigInt('0x' + hex);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  };

  for (;;) {
    opPos = pos;
    if (pos >= n) fail('truncated pickle (no STOP)');
    op = bytes[pos++];
    switch (op) {
      // ---- framing and control
      case 0x80: {
        const proto = u8();
        if (proto > 5) fail(`unsupported pickle protocol ${proto}`);
        break;
      }
      case 0x95: // FRAME: only a length hint, but it must fit the data
        need(u64());
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos, globals };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP (of an empty stack frame: of its mark)
        if (stack.length > fence()) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;

      // ---- scalars
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x8a: // LONG1
        stack.push(long(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const len = i32();
        if (len < 0) fail('negative LONG4 length');
        stack.push(long(take(len)));
        break;
      }
      case 0x49: {
        // INT (text); protocol 0 spells booleans 00 and 01
        const s = line().trim();
        stack.push(s === '00' ? false : s === '01' ? true : int(s));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(int(line().trim().replace(/L$/, '')));
        break;
      case 0x46: {
        // FLOAT (text)
        const s = line().trim();
        const v = s === 'inf' ? Infinity : s === '-inf' ? -Infinity : s === 'nan' ? NaN : Number(s);
        if (s === '' || (Number.isNaN(v) && s !== 'nan')) fail(`bad float '${s.slice(0, 40)}'`);
        stack.push(v);
        break;
      }
      case 0x47: // BINFLOAT: big-endian double
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;

      // ---- strings and bytes
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x54: {
        // BINSTRING (Python 2 str; torch.load decodes these as utf-8)
        const len = i32();
        if (len < 0) fail('negative BINSTRING length');
        stack.push(text(len));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(text(u8()));
        break;
      case 0x53: // STRING (text, a quoted repr)
        stack.push(pyStringLiteral(line().trim(), fail));
        break;
      case 0x56: // UNICODE (text, raw-unicode-escape over latin-1)
        stack.push(rawUnicodeEscape(line(latin1)));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      case 0x97: // NEXT_BUFFER: out-of-band buffers never exist in a file
        fail('out-of-band pickle buffers are not supported');
        break;
      case 0x98: // READONLY_BUFFER
        top();
        break;

      // ---- containers
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x74: // TUPLE
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const m = new Map();
        setItems(m, items);
        stack.push(m);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail(`cannot add items to ${describe(s)}`);
        for (const x of items) (s as Set<unknown>).add(x);
        break;
      }
      case 0x61: {
        // APPEND
        const x = pop();
        appendItems(top(), [x]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }

      // ---- memo
      case 0x70: // PUT (text)
        put(Number(line()));
        break;
      case 0x71: // BINPUT
        put(u8());
        break;
      case 0x72: // LONG_BINPUT
        put(u32());
        break;
      case 0x94: // MEMOIZE
        put(memo.size);
        break;
      case 0x67: // GET (text)
        get(Number(line()));
        break;
      case 0x68: // BINGET
        get(u8());
        break;
      case 0x6a: // LONG_BINGET
        get(u32());
        break;

      // ---- globals, calls, objects
      case 0x63: {
        // GLOBAL (text)
        const module = line();
        stack.push(findGlobal(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(findGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!Array.isArray(args)) fail('REDUCE arguments are not a tuple');
        stack.push(callOrFail(fn, args as unknown[], undefined, fail));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!Array.isArray(args)) fail('NEWOBJ arguments are not a tuple');
        stack.push(callOrFail(cls, args as unknown[], undefined, fail));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!Array.isArray(args)) fail('NEWOBJ_EX arguments are not a tuple');
        stack.push(callOrFail(cls, args as unknown[], kwargs instanceof Map && kwargs.size === 0 ? undefined : kwargs, fail));
        break;
      }
      case 0x69: {
        // INST (text): class named inline, arguments since the mark
        const module = line();
        const cls = findGlobal(module, line());
        stack.push(callOrFail(cls, popMark(), undefined, fail));
        break;
      }
      case 0x6f: {
        // OBJ: class and arguments since the mark
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        stack.push(callOrFail(items[0], items.slice(1), undefined, fail));
        break;
      }
      case 0x62: {
        // BUILD: Python would call __setstate__ or update __dict__; we only record it.
        const state = pop();
        const inst = top();
        if (inst instanceof PyObject) inst.state = state;
        // Instance attributes of built-in containers (e.g. a state_dict's `_metadata`) are dropped.
        break;
      }
      case 0x50: // PERSID (text)
        stack.push(persistent(line()));
        break;
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      case 0x82:
      case 0x83:
      case 0x84:
        fail('pickle extension registry codes (EXT1/2/4) are not supported');
        break;
      default:
        throw new Error(`pickle: unknown opcode 0x${op.toString(16).padStart(2, '0')} at offset ${opPos}`);
    }
  }
}

function callOrFail(fn: unknown, args: unknown[], kwargs: unknown, fail: (msg: string) => never): unknown {
  try {
    return callGlobal(fn, args, kwargs);
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/^pickle: /, '') : String(e);
    return fail(msg);
  }
}

/** Python 2 `repr(str)` as the STRING opcode writes it: quoted, with backslash escapes. */
function pyStringLiteral(s: string, fail: (msg: string) => never): string {
  const q = s[0];
  if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) fail('STRING opcode argument is not quoted');
  const body = s.slice(1, -1);
  const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]+$/.test(e)) return String.fromCharCode(parseInt(e, 8) & 0xff);
    return simple[e] ?? '\\' + e;
  });
}

/** Python's raw-unicode-escape codec (the UNICODE opcode): only \uXXXX and \UXXXXXXXX are escapes. */
function rawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u: string | undefined, U: string | undefined) => {
    const cp = parseInt((u ?? U)!, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
  });
}

// Portable LSD radix sort of u32 key/value pairs, 4-bit digits, reduce-then-scan per pass:
//   count:     each thread counts the digits of its keys (16 bins as u16 pairs) into `prefix`;
//   tileScan:  scans those counts over the threads of each tile: every thread's stable offset
//              inside its tile, and the tile's bin totals into `hist`;
//   scan:      one workgroup scans `hist` (digit-major), giving each (digit, tile) its output base;
//   scatter:   each thread walks its keys in order and writes them at base + offset.
// No workgroup waits on another (no decoupled look-back), so it runs where forward progress
// between workgroups is not guaranteed. Each thread owns KEYS_PER_THREAD consecutive keys:
// that keeps the rank order (thread, key) equal to input order, hence stable.

override WG: u32 = 64u;               // threads per tile
override KEYS_PER_THREAD: u32 = 128u;  // <= 255 and WG * KEYS_PER_THREAD <= 65535: packed u8 / u16 counts
override MAX_COUNT: u32 = 0u;         // capacity of the scratch buffers
override MAX_ROW: u32 = 65535u;       // maxComputeWorkgroupsPerDimension

const SCAN_WG: u32 = 256u;
const TILE_SCAN_WG: u32 = 64u;

struct Params {
  count: u32,   // elements to sort, already clamped
  blocks: u32,  // tiles of WG * KEYS_PER_THREAD
}

struct Pass {
  shift: u32,
}

@group(0) @binding(1) var<storage, read_write> paramsOut: Params;
@group(0) @binding(2) var<storage, read_write> dispatchOut: array<u32>;
@group(0) @binding(3) var<storage, read> params: Params;
@group(0) @binding(4) var<storage, read> srcKeys: array<u32>;
@group(0) @binding(5) var<storage, read> srcValues: array<u32>;
@group(0) @binding(6) var<storage, read_write> dstKeys: array<u32>;
@group(0) @binding(7) var<storage, read_write> dstValues: array<u32>;
@group(0) @binding(8) var<storage, read_write> hist: array<u32>;
@group(0) @binding(9) var<storage, read> histIn: array<u32>;
@group(0) @binding(10) var<storage, read_write> prefix: array<u32>;
@group(0) @binding(11) var<storage, read> prefixIn: array<u32>;
@group(0) @binding(12) var<uniform> passInfo: Pass;
// Its own group: the count's buffer and offset change per sort, the rest stays bound.
@group(1) @binding(0) var<storage, read> countIn: array<u32>;

fn tile() -> u32 {
  return WG * KEYS_PER_THREAD;
}

fn blockIndex(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// Indirect dispatch args (x, y, 1) at dispatchOut[at..]: rows of at most MAX_ROW workgroups;
// workgroups past the end of the last row exit at once.
fn grid(groups: u32, at: u32) {
  let rows = (groups + MAX_ROW - 1u) / MAX_ROW;
  dispatchOut[at] = select(0u, (groups + rows - 1u) / rows, rows > 0u);
  dispatchOut[at + 1u] = rows;
  dispatchOut[at + 2u] = 1u;
}

// Reads the GPU-side count (clamped to what the buffers hold) and writes the tile count and
// the indirect dispatch sizes, so no CPU readback is needed.
@compute @workgroup_size(1)
fn setup() {
  let n = min(min(countIn[0], MAX_COUNT), min(arrayLength(&srcKeys), arrayLength(&srcValues)));
  let blocks = (n + tile() - 1u) / tile();
  paramsOut.count = n;
  paramsOut.blocks = blocks;
  grid(blocks, 0u);                                            // count, scatter, copy: a tile each
  grid((blocks * 8u + TILE_SCAN_WG - 1u) / TILE_SCAN_WG, 4u);  // tileScan: a thread per (tile, word)
}

// Per thread, the digit counts of its keys as 8 words of u16 pairs (bins 2w, 2w+1), stored
// [tile][word][thread] so that tileScan walks each (tile, word) row contiguously.
// No barriers anywhere in the per-tile kernels: on CPU implementations (SwiftShader) a barrier
// turns every 4-lane subgroup into a coroutine, which cost more than the sort itself.
@compute @workgroup_size(WG)
fn count(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let block = blockIndex(wid, nwg);
  if (block >= params.blocks) {
    return;
  }
  let shift = passInfo.shift;
  let first = block * tile() + t * KEYS_PER_THREAD;
  let end = min(first + KEYS_PER_THREAD, params.count);
  // 16 bins as 8-bit counters in a vec4 (KEYS_PER_THREAD <= 255): a select per key instead of
  // a dynamically indexed private array, which CPU implementations turn into per-lane gathers.
  var c = vec4u(0u);
  for (var i = first; i < end; i++) {
    let d = (srcKeys[i] >> shift) & 15u;
    c += select(vec4u(0u), vec4u(1u << ((d & 3u) << 3u)), vec4u(d >> 2u) == vec4u(0u, 1u, 2u, 3u));
  }
  // Widen to u16 pairs: word w holds bins 2w, 2w+1.
  let row = block * 8u * WG + t;
  for (var q = 0u; q < 4u; q++) {
    let v = c[q];
    prefix[row + (2u * q) * WG] = (v & 0xffu) | ((v & 0xff00u) << 8u);
    prefix[row + (2u * q + 1u) * WG] = ((v >> 16u) & 0xffu) | ((v >> 8u) & 0xff0000u);
  }
}

// One thread per (tile, word): exclusive scan over the tile's threads in place, giving each
// thread its first offset per bin inside the tile (stable: thread order is input order), and
// the tile's two bin totals into the digit-major histogram.
@compute @workgroup_size(TILE_SCAN_WG)
fn tileScan(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = blockIndex(wid, nwg) * TILE_SCAN_WG + l;
  let blocks = params.blocks;
  let block = g / 8u;
  let w = g % 8u;
  if (block >= blocks) {
    return;
  }
  let row = (block * 8u + w) * WG;
  var run = 0u;
  for (var t = 0u; t < WG; t++) {
    let v = prefix[row + t];
    prefix[row + t] = run;
    run += v;
  }
  hist[(2u * w) * blocks + block] = run & 0xffffu;
  hist[(2u * w + 1u) * blocks + block] = run >> 16u;
}

var<workgroup> sums: array<u32, SCAN_WG>;

// Exclusive scan of the digit-major histogram (16 * blocks entries) in one workgroup:
// entry (d, b) becomes the output index of tile b's first key with digit d.
@compute @workgroup_size(SCAN_WG)
fn scan(@builtin(local_invocation_index) t: u32) {
  let n = params.blocks * 16u;
  let chunk = (n + SCAN_WG - 1u) / SCAN_WG;
  let first = min(t * chunk, n);
  let end = min(first + chunk, n);
  var sum = 0u;
  for (var i = first; i < end; i++) {
    sum += hist[i];
  }
  sums[t] = sum;
  workgroupBarrier();
  if (t == 0u) {
    var run = 0u;
    for (var i = 0u; i < SCAN_WG; i++) {
      let v = sums[i];
      sums[i] = run;
      run += v;
    }
  }
  workgroupBarrier();
  var run = sums[t];
  for (var i = first; i < end; i++) {
    let v = hist[i];
    hist[i] = run;
    run += v;
  }
}

@compute @workgroup_size(WG)
fn scatter(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let block = blockIndex(wid, nwg);
  let blocks = params.blocks;
  let first = block * tile() + t * KEYS_PER_THREAD;
  let end = min(first + KEYS_PER_THREAD, params.count);
  if (block >= blocks || first >= end) {
    return;
  }
  let shift = passInfo.shift;
  // next[d]: where this thread's next key with digit d goes.
  var next: array<u32, 16>;
  for (var w = 0u; w < 8u; w++) {
    let p = prefixIn[(block * 8u + w) * WG + t];
    next[2u * w] = histIn[(2u * w) * blocks + block] + (p & 0xffffu);
    next[2u * w + 1u] = histIn[(2u * w + 1u) * blocks + block] + (p >> 16u);
  }
  for (var i = first; i < end; i++) {
    let key = srcKeys[i];
    let d = (key >> shift) & 15u;
    let to = next[d];
    next[d] = to + 1u;
    dstKeys[to] = key;
    dstValues[to] = srcValues[i];
  }
}

// After an odd number of passes: scratch back to the caller's buffers, only the first `count`.
@compute @workgroup_size(WG)
fn copy(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let block = blockIndex(wid, nwg);
  let first = block * tile() + t * KEYS_PER_THREAD;
  let end = min(first + KEYS_PER_THREAD, params.count);
  for (var i = first; i < end; i++) {
    dstKeys[i] = srcKeys[i];
    dstValues[i] = srcValues[i];
  }
}

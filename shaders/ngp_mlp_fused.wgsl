// Fully fused MLP (tiny-cuda-nn FullyFusedMLP semantics: no biases, ReLU hidden layers,
// output activation). Layouts: src/nn/ngp/config.ts; design notes: src/nn/ngp/fused-mlp.ts.
//
// One workgroup holds a block of R rows: the block's activations stay in workgroup memory
// (`act`, R x AW) through every layer, each thread computes a TR-row x 4CV-column register tile
// of a layer's output (outer products over k: one vec4 of weights and TR activations per k),
// and the layer's weights are optionally cached in workgroup memory (`wc`). Per layer: one
// barrier after the reads, one after the in-place write-back. Workgroups loop over blocks
// (grid-stride), so any batch size runs in one dispatch.
//
// Backward (per block, layers in reverse): g = dL/doutput * act'(y) in `act`; for each layer
// dW += g^T a_in (a_in = the layer's input: stored hidden activations or the MLP input, read
// from storage), then g <- (g W) * relu'(a_in). Weight gradients are summed per workgroup into
// its own slice of `partial` (plain read-modify-write: no atomics, deterministic), and the
// `reduce` entry point sums the slices. The number of workgroups G is fixed per batch so the
// partial buffer stays small (G x params).
//
// Prepended by fused-mlp.ts (structure):
//   [enable f16;]  alias hT = f32|f16;  alias h4 = vec4<hT>;
//   const W, IN, OUT: u32   hidden width, padded input and output widths (multiples of 4)
//   const NL: u32           weight matrices (hidden layers + 1)
//   const R, TR, CV, T: u32 rows per block; thread tile of TR rows x CV column vec4s (strided by
//                           W / 4 / CV); threads T = R / TR * W / 4 / CV
//   const TRO, TRI: u32     rows per thread tile of the output layer / of dL/dinput
//   const KV: u32           input vec4s per weight-gradient tile (4 outputs x 4 KV inputs)
//   const AW: u32           activation row width in workgroup memory (max(W, IN))
//   const CACHE: bool       weights cached in workgroup memory
//   const OUT_ACT: u32      0 none, 1 relu, 2 sigmoid, 3 exp
//   const PARAMS: u32       floats in the weight buffer
//   const F16_COPY: bool    prepare also writes a canonical hT copy (f16; f32 binds the master)
// and the register-tile functions, written out unrolled (tile sizes are structure, and
// unrolled scalars stay in registers even where the compiler does not unroll loops, as on
// SwiftShader): forwardLayer, outputLayer, backwardLayer, inputGradient, weightGradientTile;
// and the weight access: readT / readC (transposed / canonical weights, from the workgroup
// cache `wc` or from storage) and cacheT / cacheC (fill the cache with a layer, when CACHE).

struct Params {
  n: u32,       // rows
  blocks: u32,  // ceil(n / R)
  groups: u32,  // workgroups of the backward (partial slices), for reduce
  flags: u32,   // bit 0: forward stores hidden activations (training); bit 1: backward writes dL/dinput
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> input: array<vec4<f32>>;          // [n][IN/4]
@group(0) @binding(2) var<storage, read> wT: array<h4>;                    // per layer [in][out]
@group(0) @binding(3) var<storage, read_write> output: array<vec4<f32>>;   // [n][OUT/4]
@group(0) @binding(4) var<storage, read_write> hidden: array<h4>;          // [NL-1][n][W/4]
@group(0) @binding(5) var<storage, read> wC: array<h4>;                    // per layer [out][in]
@group(0) @binding(6) var<storage, read> outputIn: array<vec4<f32>>;       // y [n][OUT/4]
@group(0) @binding(7) var<storage, read> dOutput: array<vec4<f32>>;        // [n][OUT/4]
@group(0) @binding(8) var<storage, read> hiddenIn: array<h4>;              // [NL-1][n][W/4]
@group(0) @binding(9) var<storage, read_write> partial: array<vec4<f32>>;  // [G][PARAMS/4]
@group(0) @binding(10) var<storage, read_write> dInput: array<vec4<f32>>;  // [n][IN/4]
@group(0) @binding(11) var<storage, read> partialIn: array<vec4<f32>>;     // [G][PARAMS/4]
@group(0) @binding(12) var<storage, read_write> grads: array<vec4<f32>>;   // [PARAMS/4]
@group(0) @binding(13) var<storage, read> master: array<f32>;              // [PARAMS]
@group(0) @binding(14) var<storage, read_write> wTOut: array<hT>;          // [PARAMS]
@group(0) @binding(15) var<storage, read_write> wCOut: array<hT>;          // [PARAMS]

const W4: u32 = W / 4u;
const IN4: u32 = IN / 4u;
const OUT4: u32 = OUT / 4u;
const AW4: u32 = AW / 4u;
const P4: u32 = PARAMS / 4u;

var<workgroup> act: array<h4, R * AW4>;

// First float of weight matrix l.
fn layerOffset(l: u32) -> u32 {
  if (l == 0u) { return 0u; }
  return W * IN + (l - 1u) * W * W;
}

fn layerIn(l: u32) -> u32 {
  if (l == 0u) { return IN; }
  return W;
}

fn layerOut(l: u32) -> u32 {
  if (l == NL - 1u) { return OUT; }
  return W;
}

fn outAct(x: vec4<f32>) -> vec4<f32> {
  if (OUT_ACT == 1u) { return max(x, vec4<f32>(0.0)); }
  if (OUT_ACT == 2u) { return 1.0 / (1.0 + exp(-x)); }
  if (OUT_ACT == 3u) { return exp(x); }
  return x;
}

// Derivative of the output activation from its output y.
fn outActDeriv(y: vec4<f32>) -> vec4<f32> {
  if (OUT_ACT == 1u) { return select(vec4<f32>(0.0), vec4<f32>(1.0), y > vec4<f32>(0.0)); }
  if (OUT_ACT == 2u) { return y * (1.0 - y); }
  if (OUT_ACT == 3u) { return y; }
  return vec4<f32>(1.0);
}

const NCG: u32 = W4 / CV; // column groups of a hidden layer

// Input of matrix l (l >= 1: hidden activations of layer l - 1; l == 0: the MLP input).
fn layerInput(l: u32, row: u32, k4: u32) -> vec4<f32> {
  if (l == 0u) { return input[row * IN4 + k4]; }
  return vec4<f32>(hiddenIn[((l - 1u) * P.n + row) * W4 + k4]);
}

fn storePartial(o: u32, v: vec4<f32>, first: bool) {
  if (first) { partial[o] = v; } else { partial[o] += v; }
}

// partial[slice] (+)= g^T a_in for matrix l over the block's rows (tiles: weightGradientTile).
fn weightGrad(l: u32, row0: u32, rows: u32, slice: u32, first: bool, lid: u32) {
  let K4 = layerIn(l) / 4u;
  let KG = (K4 + KV - 1u) / KV;
  let base = slice * P4 + layerOffset(l) / 4u;
  for (var t = lid; t < (layerOut(l) / 4u) * KG; t += T) {
    weightGradientTile(l, K4, t / KG, (t % KG) * KV, row0, rows, base, first);
  }
}

@compute @workgroup_size(T)
fn forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let cg = lid % NCG;
  let r0 = (lid / NCG) * TR;
  let train = (P.flags & 1u) != 0u;
  for (var block = wid.x; block < P.blocks; block += nwg.x) {
    let row0 = block * R;
    for (var i = lid; i < R * IN4; i += T) {
      let r = i / IN4;
      let row = row0 + r;
      var v = h4(0.0);
      if (row < P.n) { v = h4(input[row * IN4 + i % IN4]); }
      act[r * AW4 + i % IN4] = v;
    }
    if (CACHE) { cacheT(0u, lid); }
    workgroupBarrier();
    for (var l = 0u; l + 1u < NL; l++) {
      // Computes the layer, barrier, writes ReLU(out) back into act (and hidden when training).
      forwardLayer(l, layerIn(l) / 4u, layerOffset(l) / 4u, r0, cg, row0, train);
      if (CACHE) { cacheT(l + 1u, lid); }
      workgroupBarrier();
    }
    let offL = layerOffset(NL - 1u) / 4u;
    for (var t = lid; t < (R / TRO) * OUT4; t += T) {
      outputLayer(offL, (t / OUT4) * TRO, t % OUT4, row0);
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(T)
fn backward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let kg = lid % NCG;
  let r0 = (lid / NCG) * TR;
  var first = true;
  for (var block = wid.x; block < P.blocks; block += nwg.x) {
    let row0 = block * R;
    let rows = min(R, P.n - row0);
    for (var t = lid; t < R * OUT4; t += T) {
      let r = t / OUT4;
      let c = t % OUT4;
      let row = row0 + r;
      var v = vec4<f32>(0.0);
      if (row < P.n) { v = dOutput[row * OUT4 + c] * outActDeriv(outputIn[row * OUT4 + c]); }
      act[r * AW4 + c] = h4(v);
    }
    if (CACHE) { cacheC(NL - 1u, lid); }
    workgroupBarrier();
    for (var l = NL - 1u; l > 0u; l--) {
      weightGrad(l, row0, rows, wid.x, first, lid);
      // g <- (g W_l) * relu'(a_in): computes, barrier, writes back into act.
      backwardLayer(l, layerOut(l) / 4u, layerOffset(l) / 4u, r0, kg, row0);
      if (CACHE) { cacheC(l - 1u, lid); }
      workgroupBarrier();
    }
    weightGrad(0u, row0, rows, wid.x, first, lid);
    if ((P.flags & 2u) != 0u) {
      for (var t = lid; t < (R / TRI) * IN4; t += T) {
        inputGradient((t / IN4) * TRI, t % IN4, row0);
      }
    }
    workgroupBarrier();
    first = false;
  }
}

// grads = sum over the G partial slices.
@compute @workgroup_size(64)
fn reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= P4) { return; }
  var s = vec4<f32>(0.0);
  for (var g = 0u; g < P.groups; g++) { s += partialIn[g * P4 + i]; }
  grads[i] = s;
}

// Master f32 weights -> the kernels' copies: transposed [in][out] per layer (and canonical in f16).
@compute @workgroup_size(64)
fn prepare(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= PARAMS) { return; }
  var l = 0u;
  for (var j = 1u; j < NL; j++) { if (i >= layerOffset(j)) { l = j; } }
  let local = i - layerOffset(l);
  let K = layerIn(l);
  let C = layerOut(l);
  let c = local / K;
  let k = local % K;
  let v = hT(master[i]);
  wTOut[layerOffset(l) + k * C + c] = v;
  if (F16_COPY) { wCOut[i] = v; }
}

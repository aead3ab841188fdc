// Shared by every nn kernel (joined in front by src/nn/ops/common.ts): activations with the
// codes of ACTIVATION_CODE, an f32 erf for exact GELU, and the conv epilogue (bias, fused
// residual add before or after the activation).

// erf for f32: odd/even rational approximation on [-4, 4] (the form used by XLA and Eigen for
// float erf); beyond 4 erf is +-1 in f32. Max |error| ~4.2e-7 over the real line (checked in
// tests/unit/nn-reference.test.ts against a double-precision erf).
fn nn_erf(v: f32) -> f32 {
  let x = clamp(v, -4.0, 4.0);
  let x2 = x * x;
  var p = fma(x2, -2.72614225801306e-10, 2.77068142495902e-08);
  p = fma(x2, p, -2.10102402082508e-06);
  p = fma(x2, p, -5.69250639462346e-05);
  p = fma(x2, p, -7.34990630326855e-04);
  p = fma(x2, p, -2.95459980854025e-03);
  p = fma(x2, p, -1.60960333262415e-02);
  p = x * p;
  var q = fma(x2, -1.45660718464996e-05, -2.13374055278905e-04);
  q = fma(x2, q, -1.68282697438203e-03);
  q = fma(x2, q, -7.37332916720468e-03);
  q = fma(x2, q, -1.42647390514189e-02);
  return p / q;
}

// tanh without the exp overflow some implementations hit for large |x|.
fn nn_tanh(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let t = (1.0 - e) / (1.0 + e);
  return select(t, -t, x < 0.0);
}

fn nn_sigmoid(x: f32) -> f32 {
  // exp(-x) overflows to +inf for x < -88: 1 / inf = 0, the right limit.
  return 1.0 / (1.0 + exp(-x));
}

// act: 0 none, 1 relu, 2 relu6, 3 leaky_relu(alpha), 4 gelu (erf), 5 tanh, 6 sigmoid.
fn nn_activate(x: f32, act: u32, alpha: f32) -> f32 {
  switch (act) {
    case 1u: { return max(x, 0.0); }
    case 2u: { return clamp(x, 0.0, 6.0); }
    case 3u: { return select(x * alpha, x, x >= 0.0); }
    case 4u: { return 0.5 * x * (1.0 + nn_erf(x * 0.7071067811865476)); }
    case 5u: { return nn_tanh(x); }
    case 6u: { return nn_sigmoid(x); }
    default: { return x; }
  }
}

// Epilogue of a conv output value v (bias already added). flags bit 0: add skip; bit 1: add
// it before the activation (else after).
fn nn_finish(v: f32, skip: f32, flags: u32, act: u32, alpha: f32) -> f32 {
  let hasSkip = (flags & 1u) != 0u;
  let before = (flags & 2u) != 0u;
  var y = v;
  if (hasSkip && before) { y += skip; }
  y = nn_activate(y, act, alpha);
  if (hasSkip && !before) { y += skip; }
  return y;
}

// PCG hash (Jarzynski & Olano 2020): one u32 in, one well-mixed u32 out. Counter-based
// randomness for kernels: pcg(index + pcg(seed)). TypeScript mirror: pcg in src/nn/random.ts.
fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

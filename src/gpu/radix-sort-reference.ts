/**
 * CPU reference for `RadixSort`: stable sort of u32 key/value pairs by key (LSD radix,
 * 8-bit digits). Returns new arrays; the inputs are left as they are.
 */
export function cpuRadixSort(keys: Uint32Array, values: Uint32Array, keyBits = 32): { keys: Uint32Array; values: Uint32Array } {
  if (keys.length !== values.length) throw new RangeError(`keys (${keys.length}) and values (${values.length}) differ in length`);
  const n = keys.length;
  let k = keys.slice();
  let v = values.slice();
  let k2 = new Uint32Array(n);
  let v2 = new Uint32Array(n);
  const counts = new Uint32Array(256);
  for (let shift = 0; shift < keyBits; shift += 8) {
    const mask = keyBits - shift >= 8 ? 0xff : (1 << (keyBits - shift)) - 1;
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(k[i] >>> shift) & mask]++;
    let sum = 0;
    for (let d = 0; d < 256; d++) {
      const c = counts[d];
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const to = counts[(k[i] >>> shift) & mask]++;
      k2[to] = k[i];
      v2[to] = v[i];
    }
    [k, k2] = [k2, k];
    [v, v2] = [v2, v];
  }
  return { keys: k, values: v };
}

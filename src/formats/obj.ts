/**
 * A safe minimal Wavefront OBJ reader for triangle meshes: `v x y z [w]` and
 * `f a b c ...` lines (vertex refs `i`, `i/t`, `i//n`, `i/t/n`; negative indices count back
 * from the latest vertex), polygons triangulated as fans. Everything else (vt, vn, o, g, s,
 * usemtl, mtllib, l, p, comments) is ignored. Pure TS, no DOM; every problem is a clear Error
 * naming the line: bad numbers, index 0 or out of range, faces with < 3 vertices, no
 * vertices, no faces, or more than the limits.
 */

export interface TriangleMesh {
  /** f32 [vertices][3]. */
  positions: Float32Array;
  /** u32 [triangles][3]. */
  indices: Uint32Array;
}

export interface ObjLimits {
  maxVertices?: number;
  maxTriangles?: number;
}

const DEFAULT_MAX_VERTICES = 10_000_000;
const DEFAULT_MAX_TRIANGLES = 20_000_000;

export function parseObj(source: string | Uint8Array, name = 'OBJ', limits: ObjLimits = {}): TriangleMesh {
  const text = typeof source === 'string' ? source : new TextDecoder('utf-8', { fatal: false }).decode(source);
  const maxVertices = limits.maxVertices ?? DEFAULT_MAX_VERTICES;
  const maxTriangles = limits.maxTriangles ?? DEFAULT_MAX_TRIANGLES;
  const fail = (line: number, msg: string): never => {
    throw new Error(`${name}: line ${line}: ${msg}`);
  };
  let positions = new Float32Array(3 * 1024);
  let vertexCount = 0;
  let indices = new Uint32Array(3 * 1024);
  let triCount = 0;
  const corner: number[] = [];
  let lineNo = 0;
  let start = 0;
  const length = text.length;
  while (start <= length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = length;
    lineNo++;
    let line = text.slice(start, end);
    start = end + 1;
    const hash = line.indexOf('#');
    if (hash >= 0) line = line.slice(0, hash);
    line = line.trim();
    if (line.length < 2) {
      if (end === length) break;
      continue;
    }
    const tokens = line.split(/\s+/);
    const head = tokens[0];
    if (head === 'v') {
      if (tokens.length < 4) fail(lineNo, `a vertex needs x y z, got "${line.slice(0, 60)}"`);
      if (vertexCount >= maxVertices) fail(lineNo, `more than ${maxVertices} vertices`);
      if ((vertexCount + 1) * 3 > positions.length) {
        const grown = new Float32Array(positions.length * 2);
        grown.set(positions);
        positions = grown;
      }
      for (let k = 0; k < 3; k++) {
        const value = Number(tokens[1 + k]);
        if (!Number.isFinite(value)) fail(lineNo, `vertex coordinate "${tokens[1 + k].slice(0, 30)}" is not a finite number`);
        positions[vertexCount * 3 + k] = value;
      }
      vertexCount++;
    } else if (head === 'f') {
      corner.length = 0;
      for (let k = 1; k < tokens.length; k++) {
        const ref = tokens[k];
        const slash = ref.indexOf('/');
        const raw = slash < 0 ? ref : ref.slice(0, slash);
        if (!/^[+-]?\d+$/.test(raw)) fail(lineNo, `face vertex "${ref.slice(0, 30)}" is not an integer index`);
        const index = Number(raw);
        if (index === 0) fail(lineNo, 'face index 0 (OBJ indices start at 1)');
        const resolved = index > 0 ? index - 1 : vertexCount + index;
        if (resolved < 0 || resolved >= vertexCount) fail(lineNo, `face index ${index} is out of range (${vertexCount} vertices so far)`);
        corner.push(resolved);
      }
      if (corner.length < 3) fail(lineNo, `a face needs at least 3 vertices, got ${corner.length}`);
      const add = corner.length - 2;
      if (triCount + add > maxTriangles) fail(lineNo, `more than ${maxTriangles} triangles`);
      while ((triCount + add) * 3 > indices.length) {
        const grown = new Uint32Array(indices.length * 2);
        grown.set(indices);
        indices = grown;
      }
      for (let k = 1; k + 1 < corner.length; k++) {
        indices[triCount * 3] = corner[0];
        indices[triCount * 3 + 1] = corner[k];
        indices[triCount * 3 + 2] = corner[k + 1];
        triCount++;
      }
    }
    if (end === length) break;
  }
  if (vertexCount === 0) throw new Error(`${name}: no vertices ("v x y z" lines); is this an OBJ mesh?`);
  if (triCount === 0) throw new Error(`${name}: the mesh has ${vertexCount} vertices but no faces ("f" lines); a surface is needed`);
  return { positions: positions.slice(0, vertexCount * 3), indices: indices.slice(0, triCount * 3) };
}

/**
 * A minimal ONNX writer: just enough protobuf to express the neural graphics lab's MLP
 * (tcnn FullyFusedMLP semantics: no biases, ReLU hidden layers, optional output activation)
 * as `MatMul` / `Relu` / `Sigmoid` / `Exp` nodes with float initializers, so onnxruntime-web
 * can run the very same weights as our kernels. No dependencies: the protobuf wire format is
 * varints and length-delimited fields (onnx.proto is proto2, so repeated scalars are written
 * unpacked, which every parser accepts).
 */
import { mlpLayout, type MlpConfig } from '../../nn/ngp/config.ts';

/** Protobuf message under construction: fields appended in order. */
export class Message {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wireType: 0 | 2): void {
    this.varint((field << 3) | wireType);
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  /** A 4-byte little-endian field (wire type 5): floats. */
  fixed32(field: number, value: Uint8Array): this {
    this.varint((field << 3) | 5);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: Message): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

const FLOAT = 1; // TensorProto.DataType.FLOAT

/** TensorProto: dims (1), data_type (2), name (8), raw_data (9, little-endian). */
export function tensor(name: string, dims: number[], values: Float32Array): Message {
  const t = new Message();
  for (const d of dims) t.int(1, d);
  t.int(2, FLOAT);
  t.string(8, name);
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return t.bytes(9, raw);
}

const INT64 = 7; // TensorProto.DataType.INT64

/** An int64 TensorProto (shapes, pads, slice bounds, axes). */
export function int64Tensor(name: string, dims: number[], values: readonly number[]): Message {
  const t = new Message();
  for (const d of dims) t.int(1, d);
  t.int(2, INT64);
  t.string(8, name);
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return t.bytes(9, raw);
}

export type AttributeValue = number | string | number[] | { float: number };

/**
 * AttributeProto: name (1), f (2), i (3), s (4), ints (8), type (20). A plain number is an INT,
 * `{ float }` a FLOAT, a string a STRING and an array INTS.
 */
export function attribute(name: string, value: AttributeValue): Message {
  const a = new Message().string(1, name);
  if (typeof value === 'number') return a.int(3, value).int(20, 2);
  if (typeof value === 'string') return a.bytes(4, new TextEncoder().encode(value)).int(20, 3);
  if (Array.isArray(value)) {
    for (const v of value) a.int(8, v);
    return a.int(20, 7);
  }
  const f = new Uint8Array(4);
  new DataView(f.buffer).setFloat32(0, value.float, true);
  return a.fixed32(2, f).int(20, 1);
}

/** ValueInfoProto of a float tensor; a string dimension is symbolic (dim_param). */
export function valueInfo(name: string, dims: (number | string)[]): Message {
  const shape = new Message();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  const tensorType = new Message().int(1, FLOAT).message(2, shape);
  return new Message().string(1, name).message(2, new Message().message(1, tensorType));
}

/** NodeProto: input (1), output (2), name (3), op_type (4). */
export function node(op: string, inputs: string[], outputs: string[], name: string): Message {
  const n = new Message();
  for (const i of inputs) n.string(1, i);
  for (const o of outputs) n.string(2, o);
  return n.string(3, name).string(4, op);
}

/**
 * ONNX model of the MLP with `weights` in our layout (config.ts: per layer row-major
 * [out][in], padded widths). Input `input` f32 [N][inputPadded], output `output` f32
 * [N][outputPadded], N symbolic. Each layer is `MatMul(x, W^T)`.
 */
export function mlpToOnnx(config: MlpConfig, weights: Float32Array, opset = 17): Uint8Array {
  const layout = mlpLayout(config);
  if (weights.length !== layout.paramCount) throw new RangeError(`MLP expects ${layout.paramCount} weights, got ${weights.length}`);
  const graph = new Message();
  const initializers: Message[] = [];
  let x = 'input';
  const last = layout.layers.length - 1;
  const activation = config.outputActivation ?? 'none';
  layout.layers.forEach((layer, l) => {
    // Transpose [out][in] -> [in][out] for MatMul's B.
    const wt = new Float32Array(layer.inputs * layer.outputs);
    for (let o = 0; o < layer.outputs; o++) for (let k = 0; k < layer.inputs; k++) wt[k * layer.outputs + o] = weights[layer.offset + o * layer.inputs + k];
    initializers.push(tensor(`w${l}`, [layer.inputs, layer.outputs], wt));
    const mm = l === last && activation === 'none' ? 'output' : `mm${l}`;
    graph.message(1, node('MatMul', [x, `w${l}`], [mm], `matmul${l}`));
    x = mm;
    const act = l < last ? 'Relu' : { none: '', relu: 'Relu', sigmoid: 'Sigmoid', exp: 'Exp' }[activation];
    if (act) {
      const y = l === last ? 'output' : `h${l}`;
      graph.message(1, node(act, [x], [y], `${act.toLowerCase()}${l}`));
      x = y;
    }
  });
  graph.string(2, `ngp_mlp_w${config.width}_h${config.hiddenLayers}`);
  for (const t of initializers) graph.message(5, t);
  graph.message(11, valueInfo('input', ['N', layout.inputPadded]));
  graph.message(12, valueInfo('output', ['N', layout.outputPadded]));

  const model = new Message();
  model.int(1, 8); // ir_version 8 (ONNX 1.10+)
  model.string(2, 'webgpu-suite onnx-writer');
  model.message(7, graph);
  model.message(8, new Message().string(1, '').int(2, opset));
  return model.finish();
}

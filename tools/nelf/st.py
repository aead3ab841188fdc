"""Minimal safetensors writer/reader (the `safetensors` pip package is not available here).

Format: 8-byte little-endian u64 N = header length; N bytes of UTF-8 JSON
  {"<name>": {"dtype": "F16"|"F32"|"I64", "shape": [...], "data_offsets": [begin, end]}, ...,
   "__metadata__": {"<key>": "<string value>", ...}}
padded with spaces so that 8 + N is a multiple of 8; then the raw little-endian data buffer
(offsets are relative to the start of the buffer, tensors row-major/contiguous).
"""
import json
import struct

import numpy as np
import torch

_DT = {torch.float16: ('F16', np.float16), torch.float32: ('F32', np.float32),
       torch.int64: ('I64', np.int64)}
_NP = {'F16': np.float16, 'F32': np.float32, 'I64': np.int64, 'BF16': None}


def save(tensors, path, metadata=None):
    header, chunks, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        code, npdt = _DT[t.dtype]
        b = t.numpy().astype(npdt, copy=False).astype(np.dtype(npdt).newbyteorder('<'), copy=False).tobytes()
        header[name] = {'dtype': code, 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in chunks:
            f.write(b)


def load(path):
    """-> (dict name -> torch tensor in the stored dtype, metadata dict)."""
    with open(path, 'rb') as f:
        raw = f.read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        a, b = info['data_offsets']
        arr = np.frombuffer(raw[base + a: base + b], dtype=np.dtype(_NP[info['dtype']]).newbyteorder('<'))
        out[name] = torch.from_numpy(arr.astype(_NP[info['dtype']]).reshape(info['shape']).copy())
    return out, meta

"""Self-check of tools/vton/model.py against the official DM-VTON student.

  python3 tools/vton/selfcheck.py [--keys-dir DIR]

DIR holds dmvton_warp_state_dict_keys.txt / dmvton_gen_state_dict_keys.txt
(lines: key<TAB>(shape)<TAB>dtype, dumped from the official classes).
Checks: key-for-key and shape-for-shape equality, the shared FPN smooth conv,
parameter count (9,350,124), fp32 weight memory (37.57 MB) and conv MACs at 256x192 (~34.5 G).
"""
import argparse
import ast
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import DMVTON  # noqa: E402

OFFICIAL_PARAMS = 9350124
OFFICIAL_MB = 37.57
OFFICIAL_GMAC = 34.5


def read_keys(path):
    out = []
    for line in open(path):
        line = line.rstrip('\n')
        if not line.strip():
            continue
        k, shape = line.split('\t')[:2]
        out.append((k, tuple(ast.literal_eval(shape))))
    return out


def conv_macs(model, *inputs):
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
            total[0] += out.numel() * k
        elif isinstance(m, nn.ConvTranspose2d):
            total[0] += inp[0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1]

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        model(*inputs)
    for h in hs:
        h.remove()
    return total[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--keys-dir', default=None, help='folder with the official key lists')
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    m = DMVTON('official').eval()
    ok = True
    if a.keys_dir:
        for name, sd in (('warp', m.warp_model.state_dict()), ('gen', m.gen_model.state_dict())):
            ref = read_keys(os.path.join(a.keys_dir, 'dmvton_%s_state_dict_keys.txt' % name))
            mine = [(k, tuple(v.shape)) for k, v in sd.items()]
            same = ref == mine
            print('%s: %d official keys, %d ours, identical (order, names, shapes): %s' % (name, len(ref), len(mine), same))
            if not same:
                ok = False
                rs, ms = dict(ref), dict(mine)
                for k in rs:
                    if k not in ms:
                        print('  missing', k, rs[k])
                    elif rs[k] != ms[k]:
                        print('  shape', k, rs[k], ms[k])
                for k in ms:
                    if k not in rs:
                        print('  extra', k, ms[k])
    for br in ('image_mobile', 'cond_mobile'):
        sl = getattr(m.warp_model, br).smooth_layers
        shared = all(s is sl[0] for s in sl)
        print('%s.smooth_layers.0..4 one shared conv: %s' % (br, shared))
        ok &= shared
    n = sum(p.numel() for p in m.parameters())
    mb = (sum(p.numel() * p.element_size() for p in m.parameters())
          + sum(b.numel() * b.element_size() for b in m.buffers())) / 1e6
    x = torch.zeros(1, 3, 256, 192)
    e = torch.ones(1, 1, 256, 192)
    macs = conv_macs(m, x, x, e) / 1e9
    print('params %d (official %d) match: %s' % (n, OFFICIAL_PARAMS, n == OFFICIAL_PARAMS))
    print('params+buffers fp32 %.2f MB (official %.2f)' % (mb, OFFICIAL_MB))
    print('conv MACs @256x192 %.2f G (official ~%.1f)' % (macs, OFFICIAL_GMAC))
    ok &= n == OFFICIAL_PARAMS and abs(mb - OFFICIAL_MB) < 0.05 and abs(macs - OFFICIAL_GMAC) < 0.3
    print('OK' if ok else 'FAIL')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()

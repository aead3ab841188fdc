"""Parity fixtures for the browser DM-VTON student.

  python3 tools/vton/reference.py --config tiny --out tests/fixtures/vton/tiny            (committed)
  python3 tools/vton/reference.py --config official --size 256x192 --out /tmp/vton-official (on demand)
  python3 tools/vton/reference.py --weights public/models/vton --out DIR                  (the shipped demo model)

Writes into OUT:
  warp.pt, gen.pt             raw state dicts (torch.save zip), official key names
  warp_ckpt.pt, gen_ckpt.pt   official training layout {'epoch', 'best_fid', 'model': state_dict, 'optimizer': ...}
                              (skipped with --no-ckpt)
  <name>.bin                  little-endian float32, NCHW (flows as [1,2,h,w] absolute grids, ch0 = x, ch1 = y)
  meta.json                   shapes, files, config, seed, the command, value ranges

Random models: seed-fixed init of the official scheme, then BatchNorm statistics/affine and conv biases
are randomised (so BN folding is exercised) and the last conv of every flow head is scaled by
--flow-gain (so sampling grids stay within a few pixels of identity instead of clamping to the border).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import CONFIGS, DMVTON, infer_config  # noqa: E402


def randomize(model, seed, flow_gain):
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                m.num_batches_tracked.fill_(1000)
            elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None:
                m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=g))
        for heads in (model.warp_model.aflow_net.netMain, model.warp_model.aflow_net.netRefine):
            for h in heads:
                h[6].weight.mul_(flow_gain)


def test_inputs(H, W, seed):
    """Smooth deterministic person/garment images in [-1,1] and a garment edge mask in {0,1}."""
    g = torch.Generator().manual_seed(seed + 2)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing='ij')

    def smooth(c):
        x = torch.randn(1, c, H // 8, W // 8, generator=g)
        return torch.nn.functional.interpolate(x, size=(H, W), mode='bicubic', align_corners=False)

    body = ((xx / 0.45) ** 2 + ((yy - 0.2) / 0.8) ** 2 < 1).float()
    head = ((xx / 0.2) ** 2 + ((yy + 0.65) / 0.22) ** 2 < 1).float()
    person = torch.tanh(0.6 * smooth(3) + 0.8 * (body + head).clamp(max=1) * torch.tensor([0.6, -0.2, -0.5]).view(1, 3, 1, 1))
    stripes = torch.sin(yy * 18).sign() * 0.5
    clothes = torch.tanh(0.5 * smooth(3) + stripes * torch.tensor([0.8, 0.3, -0.6]).view(1, 3, 1, 1))
    edge = (((xx.abs() < 0.7) & (yy.abs() < 0.75)) | ((yy + 0.55).abs() < 0.15)).float() * (xx.abs() < 0.95).float()
    return person, clothes, edge.view(1, 1, H, W)


def write_bin(path, t):
    a = t.detach().contiguous().cpu().numpy().astype('<f4')
    a.tofile(path)
    return a


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--config', default='tiny', choices=sorted(CONFIGS))
    ap.add_argument('--weights', default=None, help='folder with warp.safetensors/gen.safetensors (e.g. the demo model)')
    ap.add_argument('--size', default='128x96', help='HxW, multiples of 32')
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('--flow-gain', type=float, default=0.1)
    ap.add_argument('--inputs', default=None, help='optional .npz with person/clothes/edge arrays [1,C,H,W]')
    ap.add_argument('--sample-seed', type=int, default=None, help='use the procedural triplet of this seed as inputs')
    ap.add_argument('--no-ckpt', action='store_true', help='skip the wrapped {model: ...} checkpoints')
    ap.add_argument('--no-weights', action='store_true', help='write no .pt files (with --weights: the safetensors are the source)')
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    H, W = (int(v) for v in a.size.split('x'))
    os.makedirs(a.out, exist_ok=True)

    if a.weights:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'nelf'))
        import st
        wsd, _ = st.load(os.path.join(a.weights, 'warp.safetensors'))
        gsd, _ = st.load(os.path.join(a.weights, 'gen.safetensors'))
        cfg = infer_config(wsd, gsd)
        model = DMVTON(cfg)
        model.warp_model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in wsd.items()})
        model.gen_model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in gsd.items()})
        desc = 'weights from %s (fp16 safetensors upcast to f32)' % os.path.basename(os.path.normpath(a.weights))
    else:
        torch.manual_seed(a.seed)
        cfg = dict(CONFIGS[a.config])
        model = DMVTON(cfg)
        randomize(model, a.seed, a.flow_gain)
        desc = 'random init, config %s, seed %d, flow gain %g' % (a.config, a.seed, a.flow_gain)
    model.eval()

    wsd, gsd = model.warp_model.state_dict(), model.gen_model.state_dict()
    if a.no_weights:
        a.no_ckpt = True
    else:
        torch.save(wsd, os.path.join(a.out, 'warp.pt'))
        torch.save(gsd, os.path.join(a.out, 'gen.pt'))
    if not a.no_ckpt:
        for name, sub, sd in (('warp', model.warp_model, wsd), ('gen', model.gen_model, gsd)):
            opt = torch.optim.Adam(sub.parameters(), lr=5e-5, betas=(0.5, 0.999))
            torch.save({'epoch': 100, 'best_fid': 28.2, 'model': sd, 'optimizer': opt.state_dict()},
                       os.path.join(a.out, '%s_ckpt.pt' % name))

    if a.sample_seed is not None:
        import data
        d = data.triplet(a.sample_seed, H, W)
        person, clothes, edge = d['person'][None], d['clothes'][None], d['edge'][None]
    elif a.inputs:
        z = np.load(a.inputs)
        person, clothes, edge = (torch.from_numpy(z[k]).float() for k in ('person', 'clothes', 'edge'))
        H, W = person.shape[2:]
    else:
        person, clothes, edge = test_inputs(H, W, a.seed)
    with torch.no_grad():
        p_tryon, warped_cloth, warped_edge, extra = model(person, clothes, edge, return_all=True)

    tensors = [('person', person), ('clothes', clothes), ('edge', edge),
               ('p_tryon', p_tryon), ('warped_cloth', warped_cloth), ('warped_edge', warped_edge),
               ('last_flow', extra['last_flow']), ('p_rendered', extra['p_rendered']),
               ('m_composite', extra['m_composite'])]
    tensors += [('flow_level%d' % i, f) for i, f in enumerate(extra['flows'])]
    meta = {
        'description': 'DM-VTON student PyTorch reference: ' + desc,
        'command': 'python3 tools/vton/reference.py ' + ' '.join(sys.argv[1:]),
        'torch': torch.__version__,
        'config': {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
        'height': H, 'width': W,
        'conventions': 'NCHW little-endian float32; images in [-1,1]; edge in {0,1}; flows are absolute '
                       'sampling grids (align_corners=True normalisation), flow_level<i> = grid after the '
                       'refine step of level i (coarse->fine) before the x2 upsample; last_flow at full size',
        'weights': {'raw': [] if a.no_weights else ['warp.pt', 'gen.pt'],
                    'safetensors': [os.path.basename(os.path.normpath(a.weights)) + '/warp.safetensors',
                                    os.path.basename(os.path.normpath(a.weights)) + '/gen.safetensors'] if a.weights else [],
                    'wrapped': [] if a.no_ckpt else ['warp_ckpt.pt', 'gen_ckpt.pt']},
        'params': {'warp': sum(p.numel() for p in model.warp_model.parameters()),
                   'gen': sum(p.numel() for p in model.gen_model.parameters())},
        'tensors': {},
    }
    for name, t in tensors:
        arr = write_bin(os.path.join(a.out, name + '.bin'), t)
        meta['tensors'][name] = {'file': name + '.bin', 'shape': list(t.shape), 'dtype': 'f32',
                                 'min': float(arr.min()), 'max': float(arr.max()), 'mean': float(arr.mean())}
    with open(os.path.join(a.out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    fl = extra['last_flow'][0]
    ident = torch.stack(torch.meshgrid(torch.linspace(-1, 1, W), torch.linspace(-1, 1, H), indexing='xy'))
    print('wrote %s: %s; mean |grid - identity| = %.4f (normalised units); p_tryon range [%.3f, %.3f]' % (
        a.out, desc, (fl - ident).abs().mean().item(), p_tryon.min().item(), p_tryon.max().item()))


if __name__ == '__main__':
    main()

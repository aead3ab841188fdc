"""Quick self-checks of the tools (CPU, seconds): /usr/bin/python3 tools/nelf/selfcheck.py
1. rays.pose_input equals a literal transcription of the official eval path
   (PointSampler(perturb=False) -> PositionalEmbedder -> .transpose(1,0).view(1,C,H,W)).
2. the training path (encode_batch) equals the eval path without jitter.
3. jitter stays inside the official strata.
4. state-dict keys follow the official naming; safetensors round trip is exact.
"""
import math
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mobile_r2l  # noqa: E402
import rays  # noqa: E402
import st  # noqa: E402


def official_eval_input(c2w, H, W, focal, n=8, near=2.0, far=6.0, L=6):
    # get_ray_directions (kornia create_meshgrid(H, W, False) -> u = column, v = row)
    u = torch.arange(W, dtype=torch.float32)[None, :].expand(H, W)
    v = torch.arange(H, dtype=torch.float32)[:, None].expand(H, W)
    d = torch.stack([(u - 0.5 * W + 0.5) / focal, -(v - 0.5 * H + 0.5) / focal, -torch.ones_like(u)], -1).reshape(-1, 3)
    c2w = c2w[:3, :4]
    rays_d = d @ c2w[:, :3].T
    rays_o = c2w[..., 3].expand_as(rays_d).clone()
    t = torch.linspace(0., 1., steps=n)
    z = (near * (1 - t) + far * t)[None, :].expand(H * W, n)
    pts = rays_o[..., None, :] + rays_d[..., None, :] * z[..., :, None]
    pts = pts.view(pts.shape[0], -1)
    weights = 2 ** torch.linspace(0, L - 1, steps=L)
    y = pts[..., None] * weights
    y = torch.cat([torch.sin(y), torch.cos(y)], dim=-1)
    y = torch.cat([y, pts.unsqueeze(dim=-1)], dim=-1)
    y = y.view(y.shape[0], -1)
    return y.transpose(1, 0).view(1, y.shape[1], H, W)


def main():
    c2w = rays.sphere_pose(math.radians(37), math.radians(28))
    H = W = 5
    f = rays.focal_from_angle(W)
    a = rays.pose_input(c2w, H, W, f)
    b = official_eval_input(c2w, H, W, f)
    assert a.shape == (1, 312, H, W), a.shape
    assert torch.equal(a, b), (a - b).abs().max()
    # explicit channel order spot check: sample 3, axis 1, k = 7 (cos 2^1 x)
    s, ax, k = 3, 1, 7
    d = rays.get_ray_directions(H, W, f)
    o, dw = rays.get_rays(d, c2w)
    zz = rays.z_vals()
    p = o[2 * W + 4] + dw[2 * W + 4] * zz[s]
    assert torch.allclose(a[0, (s * 3 + ax) * 13 + k, 2, 4], torch.cos(2.0 * p[ax]))
    tr = rays.encode_batch(o[None], dw[None], H, W, zz)
    assert torch.equal(tr, a)
    zj = rays.perturb_z(zz, H * W, torch.Generator().manual_seed(0))
    mids = 0.5 * (zz[1:] + zz[:-1])
    lo = torch.cat([zz[:1], mids])
    hi = torch.cat([mids, zz[-1:]])
    assert bool(((zj >= lo) & (zj <= hi)).all())
    model = mobile_r2l.build(mobile_r2l.make_args(8, 64, (32, 32, 16)))
    keys = list(model.state_dict().keys())
    for k in ['head.0.weight', 'body.0.conv_block.1.running_var', 'body.2.conv_block.4.num_batches_tracked',
              'tail.0.weight', 'tail.1.conv_block.0.weight', 'tail.3.weight', 'tail.6.weight',
              'tail.8.conv_block.4.bias', 'tail.9.weight']:
        assert k in keys, k
    assert model.tail[0].weight.shape == (64, 32, 4, 4) and model.tail[6].weight.shape == (32, 16, 4, 4)
    assert model(a).shape == (1, 3, 8 * H, 8 * W)
    sd = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory() as td:
        st.save(sd, os.path.join(td, 'm.safetensors'), {'x': 1})
        back, meta = st.load(os.path.join(td, 'm.safetensors'))
        assert meta == {'x': '1'} and list(back) == list(sd)
        assert all(torch.equal(back[k], sd[k]) and back[k].dtype == sd[k].dtype for k in sd)
        with open(os.path.join(td, 'm.safetensors'), 'rb') as fh:
            n = int.from_bytes(fh.read(8), 'little')
        assert (8 + n) % 8 == 0
    print('selfcheck ok')


if __name__ == '__main__':
    main()

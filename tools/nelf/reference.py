"""PyTorch reference for the browser parity test of the light-field viewer.

Loads public/models/nelf/default.safetensors (f16 -> f32), builds the official MobileR2L module
(mobile_r2l.py) in eval mode and runs it on the rays of one pose; writes, to --out DIR:
  meta.json           shapes, pose, focal, sizes, file list, config from the safetensors metadata
  input.bin           f32 LE [1, 312, H, W]    network input (NCHW, channel (sample*3+axis)*13+k)
  output.bin          f32 LE [1, 3, 8H, 8W]    network output (sigmoid RGB, NCHW)
  image.bin           f32 LE [8H, 8W, 3]       same output as HWC
  rays_o.bin/rays_d.bin f32 LE [H*W, 3]        low-res rays (row-major over (v, u)), d unnormalised
  teacher.bin         f32 LE [8H, 8W, 3]       teacher render of the same pose at the output size
  state_dict.pt       torch.save of the f32 state dict (official key names)        (--state-dict)
  checkpoint.tar      official-layout training checkpoint with the same weights    (--checkpoint)

  /usr/bin/python3 tools/nelf/reference.py --out /tmp/nelf-ref --heldout 0 [--in-size 4]
  /usr/bin/python3 tools/nelf/reference.py --out /tmp/nelf-ref --c2w '[[...4x4 row-major...]]' --in-size 16
The architecture runs at any low-res size: --in-size h gives an 8h x 8h image with
focal_in = 0.5*h/tan(0.5*camera_angle_x) (the official scaling focal_out*h/H_out).
"""
import argparse
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import distill  # noqa: E402
import export  # noqa: E402
import rays  # noqa: E402
import teacher  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default=export.DEFAULT_ST)
    ap.add_argument('--out', required=True)
    ap.add_argument('--heldout', type=int, default=0, help='index of a held-out pose (poses.json)')
    ap.add_argument('--c2w', default=None, help='JSON 4x4 (or 3x4) camera-to-world, row-major')
    ap.add_argument('--in-size', type=int, default=None, help='low-res H=W (default: the model\'s)')
    ap.add_argument('--state-dict', action='store_true')
    ap.add_argument('--checkpoint', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)

    model, meta = export.load_model(a.model)
    h = a.in_size or int(meta['input_height'])
    angle = float(meta.get('camera_angle_x', rays.BLENDER_CAMERA_ANGLE_X))
    focal_in = 0.5 * h / math.tan(0.5 * angle)
    focal_out = 0.5 * 8 * h / math.tan(0.5 * angle)
    if a.c2w:
        c2w = torch.tensor(json.loads(a.c2w), dtype=torch.float32)
        if c2w.shape[0] == 3:
            c2w = torch.cat([c2w, torch.tensor([[0.0, 0.0, 0.0, 1.0]])])
    else:
        c2w = distill.heldout_poses()[a.heldout]
    dirs = rays.get_ray_directions(h, h, focal_in)
    ro, rd = rays.get_rays(dirs, c2w)
    x = rays.encode_batch(ro[None], rd[None], h, h, rays.z_vals(int(meta['n_sample_per_ray'])),
                          int(meta['multires']))
    with torch.no_grad():
        y = model(x)
    tea = teacher.render(c2w, 8 * h, 8 * h, focal_out)
    img = y[0].permute(1, 2, 0).contiguous()
    mse = ((img - tea) ** 2).mean().item()

    def w(name, t):
        t.detach().float().contiguous().numpy().astype('<f4').tofile(os.path.join(a.out, name))
        return {'file': name, 'shape': list(t.shape), 'dtype': 'float32-le'}

    files = [w('input.bin', x), w('output.bin', y), w('image.bin', img), w('rays_o.bin', ro),
             w('rays_d.bin', rd), w('teacher.bin', tea)]
    if a.state_dict:
        torch.save(model.state_dict(), os.path.join(a.out, 'state_dict.pt'))
        files.append({'file': 'state_dict.pt', 'format': 'torch.save state dict (f32)'})
    if a.checkpoint:
        export.write_checkpoint(model, meta, os.path.join(a.out, 'checkpoint.tar'))
        files.append({'file': 'checkpoint.tar', 'format': 'MobileR2L training checkpoint (torch.save)'})
    json.dump({'model': os.path.relpath(a.model, os.getcwd()), 'c2w': c2w.tolist(),
               'input_size': [h, h], 'output_size': [8 * h, 8 * h],
               'focal_input': focal_in, 'focal_output': focal_out, 'camera_angle_x': angle,
               'near': float(meta['near']), 'far': float(meta['far']),
               'n_sample_per_ray': int(meta['n_sample_per_ray']), 'multires': int(meta['multires']),
               'psnr_vs_teacher': -10 * math.log10(max(mse, 1e-12)), 'files': files,
               'model_metadata': meta}, open(os.path.join(a.out, 'meta.json'), 'w'), indent=1)
    print(f'wrote {a.out}: input {list(x.shape)} output {list(y.shape)} PSNR vs teacher {-10*math.log10(max(mse,1e-12)):.3f}')


if __name__ == '__main__':
    main()

"""Export the distilled MobileR2L student.

  # from a training run (official-layout checkpoint written by distill.py):
  /usr/bin/python3 tools/nelf/export.py --ckpt /tmp/nelf-run/best_ckpt.tar --run-dir /tmp/nelf-run
      -> public/models/nelf/default.safetensors   fp16 weights (I64 for BN num_batches_tracked),
                                                  official state-dict key names, BatchNorm NOT folded,
                                                  __metadata__ = config (all values are strings)
      -> public/models/nelf/poses.json            held-out poses + per-pose PSNR vs the teacher
  # a MobileR2L training checkpoint (official layout) holding exactly the shipped fp16 weights (as f32):
  /usr/bin/python3 tools/nelf/export.py --checkpoint /tmp/nelf-default.tar
      [--safetensors public/models/nelf/default.safetensors]
      -> torch.save({global_step, best_psnr, best_psnr_step, network_fn_state_dict,
                     optimizer_state_dict, scaler, network_fn}) ; network_fn is the pickled
         mobile_r2l.R2L module (unpickling needs tools/nelf on sys.path); not shipped.
  # ONNX export of the shipped weights (the benchmark's onnxruntime-web peer):
  /usr/bin/python3 tools/nelf/export.py --onnx public/models/nelf/default.onnx
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
import mobile_r2l  # noqa: E402
import rays  # noqa: E402
import st  # noqa: E402
import teacher  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
DEFAULT_ST = os.path.join(ROOT, 'public', 'models', 'nelf', 'default.safetensors')


def load_model(path=DEFAULT_ST):
    """safetensors (f16) -> (R2L in eval mode with f32 weights, metadata)."""
    tensors, meta = st.load(path)
    args = mobile_r2l.make_args(int(meta['netdepth']), int(meta['netwidth']), json.loads(meta['sr_kernel']),
                                activation_fn=meta.get('activation_fn', 'gelu'),
                                num_sr_blocks=int(meta.get('num_sr_blocks', 3)),
                                num_conv_layers=int(meta.get('num_conv_layers', 2)),
                                dataset_type=meta.get('dataset_type', 'Blender'),
                                n_sample_per_ray=int(meta['n_sample_per_ray']), multires=int(meta['multires']))
    model = mobile_r2l.build(args)
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model, meta


def write_checkpoint(model, meta, out):
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, betas=(0.9, 0.999))
    torch.save({
        'global_step': int(meta.get('steps', 0)),
        'best_psnr': float(meta.get('heldout_psnr', 0.0)),
        'best_psnr_step': int(meta.get('best_psnr_step', meta.get('steps', 0))),
        'network_fn_state_dict': model.state_dict(),
        'optimizer_state_dict': opt.state_dict(),
        'scaler': None,
        'network_fn': model,
    }, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--ckpt', help='training checkpoint (.tar) to export')
    ap.add_argument('--run-dir', help='training run dir (summary.json, train-log.txt)')
    ap.add_argument('--out', default=DEFAULT_ST)
    ap.add_argument('--poses-out', default=os.path.join(ROOT, 'public', 'models', 'nelf', 'poses.json'))
    ap.add_argument('--in-size', type=int, default=16)
    ap.add_argument('--out-size', type=int, default=128)
    ap.add_argument('--note', default='', help='free text stored in the metadata (e.g. early stop)')
    ap.add_argument('--checkpoint', help='write an official-layout training checkpoint here')
    ap.add_argument('--safetensors', default=None, help='source for --checkpoint / --onnx (default --out)')
    ap.add_argument('--onnx', help='write an ONNX export (opset 17, H and W dynamic) of the shipped weights here')
    a = ap.parse_args()
    torch.set_num_threads(1)

    if a.ckpt:
        ck = torch.load(a.ckpt, map_location='cpu')
        model = ck['network_fn']
        model.load_state_dict(ck['network_fn_state_dict'])
        model.eval()
        margs = model.args
        summary = {}
        if a.run_dir and os.path.exists(os.path.join(a.run_dir, 'summary.json')):
            summary = json.load(open(os.path.join(a.run_dir, 'summary.json')))
        f_out = rays.focal_from_angle(a.out_size)
        targets = [teacher.render(p, a.out_size, a.out_size, f_out) for p in distill.heldout_poses()]
        p32, ps32, _ = distill.evaluate(model, a.in_size, a.out_size, targets)
        sd = model.state_dict()
        tensors = {k: (v.half() if v.is_floating_point() else v) for k, v in sd.items()}
        # PSNR of the weights as shipped (fp16 -> f32)
        model16 = mobile_r2l.build(margs)
        model16.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()})
        p16, ps16, _ = distill.evaluate(model16, a.in_size, a.out_size, targets)
        macs, _ = mobile_r2l.count_macs(model16, a.in_size, a.in_size)
        meta = {
            'format': 'pt',
            'model': 'MobileR2L (snap-research/MobileR2L model/R2L.py), official state-dict names',
            'netdepth': margs.netdepth, 'netwidth': margs.netwidth,
            'sr_kernel': json.dumps(list(margs.sr_kernel)), 'num_sr_blocks': margs.num_sr_blocks,
            'num_conv_layers': margs.num_conv_layers, 'activation_fn': margs.activation_fn,
            'use_sr_module': 'true', 'dataset_type': margs.dataset_type,
            'input_dim': model.input_dim,
            'input_height': a.in_size, 'input_width': a.in_size,
            'output_height': a.out_size, 'output_width': a.out_size,
            'n_sample_per_ray': margs.n_sample_per_ray, 'multires': margs.multires,
            'near': rays.NEAR, 'far': rays.FAR, 'camera_radius': rays.RADIUS,
            'camera_angle_x': rays.BLENDER_CAMERA_ANGLE_X,
            'focal_output': f_out, 'focal_input': f_out * a.in_size / a.out_size,
            'focal_convention': 'focal = 0.5*W/tan(0.5*camera_angle_x) at the output width; rays on the '
                                'input grid use focal*input_height/output_height (= same formula with the input width)',
            'camera_convention': 'openGL: c2w camera-to-world (Blender/NeRF transforms.json), camera looks down -z, '
                                 '+y up; world z-up; dirs ((u-0.5W+0.5)/f, -(v-0.5H+0.5)/f, -1), unnormalised',
            'channel_order': 'NCHW input [1, 312, H, W]; channel = (sample*3+axis)*13+k; k 0..5 sin(2^k x), '
                             '6..11 cos(2^k x), 12 x; z_i = near*(1-t_i)+far*t_i, t_i = i/7',
            'batchnorm': 'not folded; eval mode uses running_mean/running_var, eps 1e-05',
            'weights_dtype': 'float16 (num_batches_tracked int64)',
            'teacher': teacher.NAME + ' (tools/nelf/teacher.py)',
            'heldout_psnr': round(p16, 3), 'heldout_psnr_fp32': round(p32, 3),
            'heldout_poses': 'public/models/nelf/poses.json',
            'steps': summary.get('steps', ck.get('global_step', 0)),
            'best_psnr_step': ck.get('best_psnr_step', ck.get('global_step', 0)),
            'batch': summary.get('batch', ''), 'n_pseudo': summary.get('n_pseudo', ''),
            'train_wall_s': summary.get('wall_s', ''),
            'macs_per_frame': macs, 'params': sum(p.numel() for p in model16.parameters()),
            'command': summary.get('command', ''),
            'note': a.note,
        }
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        st.save(tensors, a.out, meta)
        poses = []
        for (az, el), c2w, q32, q16 in zip(distill.HELDOUT, distill.heldout_poses(), ps32, ps16):
            poses.append({'azimuth_deg': az, 'elevation_deg': el,
                          'c2w': [[round(float(x), 7) for x in row] for row in c2w.tolist()],
                          'psnr': round(q16, 3), 'psnr_fp32': round(q32, 3)})
        json.dump({
            'description': 'held-out poses of the default MobileR2L student; psnr = student (fp16 weights as '
                           'shipped, evaluated in f32) vs the teacher at the output size; psnr_fp32 = before '
                           'the fp16 cast',
            'teacher': teacher.NAME, 'camera_convention': meta['camera_convention'],
            'camera_angle_x': rays.BLENDER_CAMERA_ANGLE_X, 'radius': rays.RADIUS,
            'input_size': [a.in_size, a.in_size], 'output_size': [a.out_size, a.out_size],
            'focal_output': f_out, 'focal_input': meta['focal_input'],
            'mean_psnr': round(p16, 3), 'mean_psnr_fp32': round(p32, 3), 'poses': poses,
        }, open(a.poses_out, 'w'), indent=1)
        print(f'wrote {a.out} ({os.path.getsize(a.out)} bytes) held-out PSNR fp16 {p16:.3f} fp32 {p32:.3f}')
        print(f'wrote {a.poses_out}')

    if a.checkpoint:
        model, meta = load_model(a.safetensors or a.out)
        write_checkpoint(model, meta, a.checkpoint)
        print(f'wrote {a.checkpoint} ({os.path.getsize(a.checkpoint)} bytes)')

    if a.onnx:
        # The benchmark's peer input: onnxruntime-web runs this beside our kernels. Eval mode, so
        # BatchNorm is folded into the convs by the exporter, as the official export_onnx() does.
        model, meta = load_model(a.safetensors or a.out)
        h, w = int(meta['input_height']), int(meta['input_width'])
        x = torch.zeros(1, model.input_dim, h, w)
        torch.onnx.export(model, x, a.onnx, input_names=['input'], output_names=['output'], opset_version=17,
                          dynamic_axes={'input': {2: 'h', 3: 'w'}, 'output': {2: 'H', 3: 'W'}})
        print(f'wrote {a.onnx} ({os.path.getsize(a.onnx)} bytes)')


if __name__ == '__main__':
    main()

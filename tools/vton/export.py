"""Export a trained DM-VTON student for the browser.

  python3 tools/vton/export.py --run runs/vton-demo --out public/models/vton [--pt-out DIR]

Writes OUT/warp.safetensors and OUT/gen.safetensors: fp16 tensors (num_batches_tracked stays I64)
with the official state-dict key names. Each FPN's shared smooth conv is stored once per file
under all five `smooth_layers.<i>` names (safetensors has no aliasing; the loader may
dedupe by name). `__metadata__` (all strings): format, model, config (JSON: width_mult, fpn_dim,
flow_hidden, gen_width), input_size ("HxW" the model was trained at), training command, steps,
held-out metrics (JSON; metrics2 at the second training size metrics2_size), and a note that this is a demo model trained on procedural data.
Also copies the run's training log to OUT/training-log.txt.
With --pt-out, also writes official-layout torch checkpoints (dmvton_pf_warp.pt / dmvton_pf_gen.pt,
{'epoch', 'best_fid', 'model', 'optimizer'}), not committed.
"""
import argparse
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'nelf'))
import st  # noqa: E402  (hand-written safetensors writer/reader)
from model import DMVTON, infer_config  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run', required=True, help='training output folder (warp.pt, gen.pt, metrics.json)')
    ap.add_argument('--out', required=True)
    ap.add_argument('--pt-out', default=None)
    a = ap.parse_args()
    wsd = torch.load(os.path.join(a.run, 'warp.pt'), map_location='cpu')
    gsd = torch.load(os.path.join(a.run, 'gen.pt'), map_location='cpu')
    cfg = infer_config(wsd, gsd)
    model = DMVTON(cfg)
    model.warp_model.load_state_dict(wsd)
    model.gen_model.load_state_dict(gsd)
    mpath = os.path.join(a.run, 'metrics.json')
    info = json.load(open(mpath)) if os.path.exists(mpath) else {}
    os.makedirs(a.out, exist_ok=True)
    meta = {
        'format': 'dmvton-student-v1',
        'model': 'DM-VTON student (MobileAFWM + MobileNetV2_unet(7,4)), narrow demo width, official key names',
        'note': 'Demo model trained by this project on procedurally drawn people and garments '
                '(tools/vton/data.py); not the paper weights, not trained on photos.',
        'config': json.dumps({k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}),
        'input_size': '%dx%d' % tuple(info.get('size', [128, 96])),
        'training_command': info.get('command', ''),
        'steps': str(info.get('steps', '')), 'samples_seen': str(info.get('samples', '')),
        'minutes': str(info.get('minutes', '')),
        'metrics': json.dumps(info.get('metrics', {})),
        'metrics2_size': '%dx%d' % tuple(info['size2']) if info.get('size2') else '',
        'metrics2': json.dumps(info.get('metrics2') or {}),
        'conventions': 'images RGB in [-1,1] NCHW; edge in [0,1], thresholded at 0.5; outputs p_tryon, warped_cloth',
    }
    for name, sd in (('warp', wsd), ('gen', gsd)):
        t = {k: (v.half() if v.is_floating_point() else v) for k, v in sd.items()}
        path = os.path.join(a.out, name + '.safetensors')
        st.save(t, path, dict(meta, part=name))
        # round trip + fp16 effect on the output
        back, _ = st.load(path)
        assert list(back) == list(sd), 'key order changed'
        print('wrote %s: %d tensors, %.1f KB' % (path, len(back), os.path.getsize(path) / 1024))
    log = os.path.join(a.run, 'training-log.txt')
    if os.path.exists(log):
        shutil.copy(log, os.path.join(a.out, 'training-log.txt'))
    # fp16 vs fp32 output difference on one held-out sample
    import data
    H, W = (int(v) for v in meta['input_size'].split('x'))
    b = data.batch([10_000_000], H, W)
    model.eval()
    m16 = DMVTON(cfg).eval()
    w16, _ = st.load(os.path.join(a.out, 'warp.safetensors'))
    g16, _ = st.load(os.path.join(a.out, 'gen.safetensors'))
    m16.warp_model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in w16.items()})
    m16.gen_model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in g16.items()})
    with torch.no_grad():
        p32 = model(b['person'], b['clothes'], b['edge'])[0]
        p16 = m16(b['person'], b['clothes'], b['edge'])[0]
    print('fp16 weights vs fp32: max |d p_tryon| = %.4g' % (p32 - p16).abs().max().item())
    if a.pt_out:
        os.makedirs(a.pt_out, exist_ok=True)
        for name, sub, sd in (('warp', model.warp_model, wsd), ('gen', model.gen_model, gsd)):
            opt = torch.optim.Adam(sub.parameters())
            torch.save({'epoch': info.get('steps', 0), 'best_fid': 0.0, 'model': sd, 'optimizer': opt.state_dict()},
                       os.path.join(a.pt_out, 'dmvton_pf_%s.pt' % name))
        print('wrote official-layout checkpoints to', a.pt_out)


if __name__ == '__main__':
    main()

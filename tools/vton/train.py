"""Train the DM-VTON student (warp + generator, end to end) on procedural data (tools/vton/data.py).

  python3 tools/vton/train.py --config demo --size 128x96 --batch 4 --deadline 10:42 \
      --out runs/vton-demo --threads 2

Stops at --deadline (UTC HH:MM) or --steps, whichever first; the learning rate follows a cosine
schedule over the time budget (or the steps). Saves `warp.pt`/`gen.pt` (raw state dicts, official keys)
and `train_state.pt` in --out every --save-min minutes and at the end, then evaluates on held-out seeds
and writes `metrics.json`. Training seeds are 0.., held-out seeds start at 10,000,000.

Losses (no VGG weights here, so no perceptual loss):
  try-on:  L1 + 0.5 * L1 of image gradients + 0.5 * (1 - SSIM) against the target render,
  warp:    L1 of the warped garment vs the known ground-truth warped garment (inside its mask)
           + L1 of the warped edge vs the ground-truth mask, also at every pyramid level (x0.5 weight),
  flow:    2 * L1 of the sampling grid vs the known grid (data.backward_map) inside the true mask,
           at the last flow and (x0.5) at every pyramid level: the deformation is known, so supervise it,
  smooth:  0.5 * total variation of (last grid - identity).
"""
import argparse
import datetime
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from model import CONFIGS, DMVTON  # noqa: E402

EVAL_SEED = 10_000_000


def ssim(a, b, win=7):
    """mean SSIM over channels with a box window; inputs in [-1,1] (mapped to [0,1])."""
    a, b = (a + 1) / 2, (b + 1) / 2
    C1, C2 = 0.01 ** 2, 0.03 ** 2
    p = win // 2
    mu_a = F.avg_pool2d(a, win, 1, p, count_include_pad=False)
    mu_b = F.avg_pool2d(b, win, 1, p, count_include_pad=False)
    saa = F.avg_pool2d(a * a, win, 1, p, count_include_pad=False) - mu_a ** 2
    sbb = F.avg_pool2d(b * b, win, 1, p, count_include_pad=False) - mu_b ** 2
    sab = F.avg_pool2d(a * b, win, 1, p, count_include_pad=False) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + C1) * (2 * sab + C2)) / ((mu_a ** 2 + mu_b ** 2 + C1) * (saa + sbb + C2))
    return s.mean()


def psnr(a, b):
    mse = (((a + 1) / 2 - (b + 1) / 2) ** 2).flatten(1).mean(1)
    return (10 * torch.log10(1 / mse.clamp(min=1e-10))).mean()


def grad_l1(a, b):
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    return (dx(a) - dx(b)).abs().mean() + (dy(a) - dy(b)).abs().mean()


def identity_grid(B, H, W):
    y = torch.linspace(-1, 1, H).view(1, 1, H, 1).expand(B, 1, H, W)
    x = torch.linspace(-1, 1, W).view(1, 1, 1, W).expand(B, 1, H, W)
    return torch.cat([x, y], 1)


def losses(model, b):
    p_tryon, wc, we, ex = model(b['person'], b['clothes'], b['edge'], return_all=True)
    m = b['warped_mask_gt']
    L = {}
    L['l1'] = (p_tryon - b['target']).abs().mean()
    L['grad'] = 0.5 * grad_l1(p_tryon, b['target'])
    L['ssim'] = 0.5 * (1 - ssim(p_tryon, b['target']))
    L['warp'] = (wc * m - b['warped_gt']).abs().mean() * 2 + (we - m).abs().mean()
    clothes = b['clothes'] * (b['edge'] > 0.5).float()
    ms = 0
    for f in ex['flows'][1:]:
        g = F.interpolate(f, scale_factor=2, mode='bilinear', align_corners=False)
        h, w = g.shape[2:]
        cl = F.interpolate(clothes, size=(h, w), mode='bilinear', align_corners=False)
        ed = F.interpolate(b['edge'], size=(h, w), mode='bilinear', align_corners=False)
        mg = F.interpolate(m, size=(h, w), mode='bilinear', align_corners=False)
        wg = F.interpolate(b['warped_gt'], size=(h, w), mode='bilinear', align_corners=False)
        gp = g.permute(0, 2, 3, 1)
        wcl = F.grid_sample(cl, gp, mode='bilinear', padding_mode='border', align_corners=True)
        wed = F.grid_sample(ed, gp, mode='bilinear', padding_mode='zeros', align_corners=True)
        gg = F.interpolate(b['grid_gt'], size=(h, w), mode='bilinear', align_corners=True)
        ms = ms + (wcl * mg - wg).abs().mean() * 2 + (wed - mg).abs().mean() + 2 * ((g - gg).abs() * mg).mean()
    L['warp_ms'] = 0.5 * ms
    # the deformation is known, so the flow itself is supervised inside the garment region
    L['flow'] = 2 * ((ex['last_flow'] - b['grid_gt']).abs() * m).mean()
    d = ex['last_flow'] - identity_grid(*m.shape[:1], *m.shape[2:])
    L['tv'] = 0.01 * ((d[..., 1:, :] - d[..., :-1, :]).abs().mean() + (d[..., 1:] - d[..., :-1]).abs().mean()) * 50
    return L, (p_tryon, wc, we)


@torch.no_grad()
def evaluate(model, n, H, W, bs=8):
    model.eval()
    acc = {}
    for s in range(0, n, bs):
        b = data.batch(range(EVAL_SEED + s, EVAL_SEED + min(n, s + bs)), H, W)
        p, wc, we = model(b['person'], b['clothes'], b['edge'])
        m = b['warped_mask_gt']
        edge = (b['edge'] > 0.5).float()
        cl = b['clothes'] * edge
        naive = cl * edge + b['person'] * (1 - edge)  # paste the flat garment without warping
        k = p.shape[0]
        res = {
            'tryon_l1': (p - b['target']).abs().mean(), 'tryon_psnr': psnr(p, b['target']),
            'tryon_ssim': ssim(p, b['target']),
            'person_as_is_l1': (b['person'] - b['target']).abs().mean(),
            'person_as_is_psnr': psnr(b['person'], b['target']), 'person_as_is_ssim': ssim(b['person'], b['target']),
            'nowarp_paste_l1': (naive - b['target']).abs().mean(), 'nowarp_paste_psnr': psnr(naive, b['target']),
            'nowarp_paste_ssim': ssim(naive, b['target']),
            'warp_l1_in_mask': ((wc * m - b['warped_gt']).abs().sum() / (3 * m.sum())),
            'nowarp_l1_in_mask': ((cl * m - b['warped_gt']).abs().sum() / (3 * m.sum())),
            'warped_edge_iou': ((we > 0.5) & (m > 0.5)).sum() / ((we > 0.5) | (m > 0.5)).sum(),
            'nowarp_edge_iou': ((edge > 0.5) & (m > 0.5)).sum() / ((edge > 0.5) | (m > 0.5)).sum(),
        }
        for key, v in res.items():
            acc[key] = acc.get(key, 0.0) + float(v) * k
    model.train()
    return {key: round(v / n, 5) for key, v in acc.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--config', default='demo', choices=sorted(CONFIGS))
    ap.add_argument('--size', default='128x96')
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument('--size2', default=None, help='second training size (e.g. the studio default 256x192)')
    ap.add_argument('--every2', type=int, default=4, help='every Nth step at --size2, batch halved')
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--steps', type=int, default=10 ** 9)
    ap.add_argument('--deadline', default=None, help='UTC HH:MM: stop and save then')
    ap.add_argument('--eval-n', type=int, default=64)
    ap.add_argument('--save-min', type=float, default=5)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    H, W = (int(v) for v in a.size.split('x'))
    H2, W2 = (int(v) for v in a.size2.split('x')) if a.size2 else (H, W)
    os.makedirs(a.out, exist_ok=True)
    model = DMVTON(a.config).train()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999))
    t0 = time.time()
    end = None
    if a.deadline:
        now = datetime.datetime.utcnow()
        hh, mm = (int(v) for v in a.deadline.split(':'))
        dl = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
        end = t0 + (dl - now).total_seconds()
    cmd = 'python3 tools/vton/train.py ' + ' '.join(sys.argv[1:])
    log = open(os.path.join(a.out, 'training-log.txt'), 'a')

    def say(s):
        line = '[%7.1fs] %s' % (time.time() - t0, s)
        print(line, flush=True)
        log.write(line + '\n')
        log.flush()

    nparams = sum(p.numel() for p in model.parameters())
    say('command: %s' % cmd)
    say('config %s %s, %d params, torch %s, %d threads' % (a.config, model.cfg, nparams, torch.__version__, a.threads))

    def save(step):
        torch.save(model.warp_model.state_dict(), os.path.join(a.out, 'warp.pt'))
        torch.save(model.gen_model.state_dict(), os.path.join(a.out, 'gen.pt'))
        torch.save({'step': step, 'optimizer': opt.state_dict(), 'cfg': model.cfg}, os.path.join(a.out, 'train_state.pt'))

    step, last_save, run, samples = 0, time.time(), {}, 0
    seed_ctr = a.seed * 1_000_000
    while step < a.steps:
        now = time.time()
        if end is not None and now >= end:
            break
        frac = (now - t0) / (end - t0) if end else step / a.steps
        lr = a.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        if step < 50:
            lr *= (step + 1) / 50
        for g in opt.param_groups:
            g['lr'] = lr
        big = a.size2 and step % a.every2 == a.every2 - 1
        n = max(1, a.batch // 2) if big else a.batch
        b = data.batch(range(seed_ctr, seed_ctr + n), *((H2, W2) if big else (H, W)))
        seed_ctr += n
        samples += n
        L, _ = losses(model, b)
        loss = sum(L.values())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        for k, v in L.items():
            run[k] = run.get(k, 0) + float(v)
        if step % 25 == 0:
            say('step %d lr %.2e %s' % (step, lr, ' '.join('%s %.4f' % (k, v / 25) for k, v in run.items())))
            run = {}
        if time.time() - last_save > a.save_min * 60:
            save(step)
            last_save = time.time()
    save(step)
    say('stopped at step %d (%d samples seen), %.1f min' % (step, samples, (time.time() - t0) / 60))
    m = evaluate(model, a.eval_n, H, W)
    say('held-out %dx%d (%d seeds from %d): %s' % (H, W, a.eval_n, EVAL_SEED, json.dumps(m)))
    m2 = None
    if a.size2:
        m2 = evaluate(model, a.eval_n // 2, H2, W2)
        say('held-out %dx%d (%d seeds from %d): %s' % (H2, W2, a.eval_n // 2, EVAL_SEED, json.dumps(m2)))
    meta = dict(command=cmd, config=a.config, cfg=model.cfg, size=[H, W], size2=[H2, W2] if a.size2 else None,
                every2=a.every2 if a.size2 else None, metrics2=m2, batch=a.batch, steps=step,
                samples=samples, minutes=round((time.time() - t0) / 60, 1), params=nparams,
                eval_seeds=[EVAL_SEED, EVAL_SEED + a.eval_n], metrics=m, torch=torch.__version__)
    with open(os.path.join(a.out, 'metrics.json'), 'w') as f:
        json.dump(meta, f, indent=1)


if __name__ == '__main__':
    main()

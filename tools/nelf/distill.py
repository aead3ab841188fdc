"""Distil a MobileR2L student (official architecture, mobile_r2l.py) from the procedural teacher
(teacher.py), following MobileR2L's recipe scaled down to one CPU thread.

Recipe (official -> here):
  pseudo data : 10k teacher renders of random poses        -> --n-pseudo renders (random upper-hemisphere
                (data/pseudo.py, lookAt poses)                poses on the radius-4 sphere, poses_utils.lookAt)
  rays        : low-res grid, focal*in_h/out_h, 8 samples, stratified jitter while training (rays.py)
  optimiser   : AdamW(lr 5e-4, betas .9/.999, default weight decay), MSE on the sigmoid output
  lr schedule : warmup lr linearly 1e-4 -> 5e-4 over 200 its, then 5e-4 * 0.1^((step-200)/decay_steps)
                (model/engine.py _scheduel_lr; official decay_steps = 500k for 600k its; here
                decay_steps = --lrate-decay-frac * iters, default 500/600)
  batch       : 10 images/GPU x 4 GPUs, 600k its             -> --batch images, --iters its
  test        : every i_testset its on the test poses, best ckpt kept (eval mode, BN running stats)
              -> every --eval-every its on 8 fixed held-out poses (poses.json), mean per-image PSNR
  checkpoints : official layout {global_step, best_psnr, best_psnr_step, network_fn_state_dict,
                optimizer_state_dict, scaler, network_fn} as ckpt.tar / best_ckpt.tar in --out-dir.
Deterministic on CPU: fixed seeds, one thread (torch.set_num_threads(1)).
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mobile_r2l  # noqa: E402
import rays  # noqa: E402
import teacher  # noqa: E402

# 8 fixed held-out poses: (azimuth deg, elevation deg) on the radius-4 sphere
HELDOUT = [(22.5 + 45 * i, (15, 30, 45, 60)[i % 4]) for i in range(8)]
ELEV_RANGE_DEG = (5.0, 80.0)


def heldout_poses():
    return [rays.sphere_pose(math.radians(a), math.radians(e)) for a, e in HELDOUT]


def random_poses(n, seed):
    """Uniform (by area) on the spherical zone with elevation in ELEV_RANGE_DEG, radius 4."""
    g = torch.Generator().manual_seed(seed)
    z0, z1 = (math.sin(math.radians(x)) for x in ELEV_RANGE_DEG)
    zs = z0 + (z1 - z0) * torch.rand(n, generator=g, dtype=torch.float64)
    ph = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    out = []
    for z, p in zip(zs.tolist(), ph.tolist()):
        rr = math.sqrt(max(0.0, 1 - z * z))
        out.append(rays.look_at([rays.RADIUS * rr * math.cos(p), rays.RADIUS * rr * math.sin(p), rays.RADIUS * z]))
    return torch.stack(out)


def make_pseudo(n, seed, out_size, cache_dir):
    key = hashlib.sha1(f'{teacher.NAME}-{n}-{seed}-{out_size}'.encode()).hexdigest()[:12]
    path = os.path.join(cache_dir, f'nelf-pseudo-{key}.pt')
    if os.path.exists(path):
        d = torch.load(path)
        return d['poses'], d['rgb']
    poses = random_poses(n, seed)
    f = rays.focal_from_angle(out_size)
    rgb = torch.empty(n, out_size, out_size, 3, dtype=torch.float16)
    for i in range(n):
        rgb[i] = teacher.render(poses[i], out_size, out_size, f).half()
    os.makedirs(cache_dir, exist_ok=True)
    torch.save({'poses': poses, 'rgb': rgb}, path)
    return poses, rgb


def psnr(mse):
    return -10.0 * math.log10(max(mse, 1e-12))


def lr_at(step, lrate, warmup, decay_steps):
    start_lr, end_iter = warmup
    if step < end_iter:
        return (lrate - start_lr) / end_iter * step + start_lr
    return lrate * (0.1 ** ((step - end_iter) / decay_steps))


@torch.no_grad()
def evaluate(model, in_size, out_size, targets=None):
    """Mean per-image PSNR of the student (eval mode) on the held-out poses; returns (mean, list, imgs)."""
    was = model.training
    model.eval()
    f_in = rays.focal_from_angle(out_size) * in_size / out_size
    ps, imgs = [], []
    for i, c2w in enumerate(heldout_poses()):
        x = rays.pose_input(c2w, in_size, in_size, f_in)
        y = model(x)[0].permute(1, 2, 0)
        imgs.append(y)
        if targets is not None:
            ps.append(psnr(((y - targets[i]) ** 2).mean().item()))
    model.train(was)
    return (sum(ps) / len(ps) if ps else None), ps, imgs


def save_ckpt(path, model, opt, step, best, best_step):
    torch.save({
        'global_step': step,
        'best_psnr': best,
        'best_psnr_step': best_step,
        'network_fn_state_dict': model.state_dict(),
        'optimizer_state_dict': opt.state_dict(),
        'scaler': None,
        'network_fn': model,
    }, path + '.tmp')
    os.replace(path + '.tmp', path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--in-size', type=int, default=16)
    ap.add_argument('--out-size', type=int, default=128)
    ap.add_argument('--netdepth', type=int, default=8)
    ap.add_argument('--netwidth', type=int, default=64)
    ap.add_argument('--sr-kernel', type=int, nargs=3, default=(32, 32, 16))
    ap.add_argument('--n-pseudo', type=int, default=2000)
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--iters', type=int, default=6000)
    ap.add_argument('--lrate', type=float, default=5e-4)
    ap.add_argument('--warmup-lr', default='0.0001,200')
    ap.add_argument('--lrate-decay-frac', type=float, default=500 / 600)
    ap.add_argument('--eval-every', type=int, default=500)
    ap.add_argument('--log-every', type=int, default=50)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--data-seed', type=int, default=1234)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--cache-dir', default='/tmp/nelf-cache')
    ap.add_argument('--out-dir', default='/tmp/nelf-run')
    ap.add_argument('--log', default=None, help='log file (default OUT_DIR/train-log.txt)')
    ap.add_argument('--deadline', default=None,
                    help='UTC wall-clock HH:MM: stop early (after saving) if reached; the step count then differs')
    ap.add_argument('--bench', type=int, default=0, help='only time N training steps and exit')
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out_dir, exist_ok=True)
    log_path = a.log or os.path.join(a.out_dir, 'train-log.txt')
    logf = open(log_path, 'a')

    def log(msg):
        line = f'[{time.strftime("%H:%M:%S", time.gmtime())}] {msg}'
        print(line, flush=True)
        logf.write(line + '\n')
        logf.flush()

    args = mobile_r2l.make_args(a.netdepth, a.netwidth, a.sr_kernel)
    model = mobile_r2l.build(args)
    n_params = sum(p.numel() for p in model.parameters())
    macs, stages = mobile_r2l.count_macs(model, a.in_size, a.in_size)
    assert model(torch.zeros(1, model.input_dim, a.in_size, a.in_size)).shape[-1] == a.out_size, 'out-size must be 8x in-size'
    log('command: /usr/bin/python3 tools/nelf/distill.py ' + ' '.join(sys.argv[1:]))
    log(f'config: {json.dumps(vars(args))} in {a.in_size}x{a.in_size} -> out {a.out_size}x{a.out_size}')
    log(f'params {n_params}  MACs/frame {macs/1e9:.4f} G  by stage {json.dumps({k: round(v/1e6, 2) for k, v in stages.items()})} M')

    t0 = time.time()
    poses, rgb = make_pseudo(a.n_pseudo if not a.bench else max(a.batch * 4, 16), a.data_seed, a.out_size, a.cache_dir)
    f_out = rays.focal_from_angle(a.out_size)
    held_t = [teacher.render(p, a.out_size, a.out_size, f_out) for p in heldout_poses()]
    log(f'pseudo data: {rgb.shape[0]} teacher renders {a.out_size}x{a.out_size} ({time.time()-t0:.1f}s); '
        f'held-out poses {len(held_t)}')

    opt = torch.optim.AdamW(model.parameters(), lr=a.lrate, betas=(0.9, 0.999))
    warm = tuple(float(x) for x in a.warmup_lr.split(','))
    decay_steps = a.lrate_decay_frac * a.iters
    f_in = f_out * a.in_size / a.out_size
    dirs = rays.get_ray_directions(a.in_size, a.in_size, f_in)  # [HW, 3]
    z = rays.z_vals()
    g = torch.Generator().manual_seed(a.seed + 1)
    n_data = rgb.shape[0]
    perm, pp = torch.randperm(n_data, generator=g), 0
    best, best_step = 0.0, 0
    run_loss, run_n = 0.0, 0
    iters = a.bench or a.iters
    t_start = time.time()
    step = 0
    stop_reason = 'done'
    for step in range(1, iters + 1):
        if pp + a.batch > n_data:
            perm, pp = torch.randperm(n_data, generator=g), 0
        idx = perm[pp:pp + a.batch]
        pp += a.batch
        lr = lr_at(step, a.lrate, warm, decay_steps)
        for pg in opt.param_groups:
            pg['lr'] = lr
        c2w = poses[idx]  # [B,4,4]
        rd = torch.einsum('nj,bij->bni', dirs, c2w[:, :3, :3])
        ro = c2w[:, None, :3, 3].expand_as(rd)
        zj = rays.perturb_z(z, dirs.shape[0], generator=g)  # [HW, n], shared by the batch
        x = rays.encode_batch(ro, rd, a.in_size, a.in_size, zj)
        target = rgb[idx].float().permute(0, 3, 1, 2)
        y = model(x)
        loss = ((y - target) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run_loss += loss.item()
        run_n += 1
        if a.bench:
            continue
        if step % a.log_every == 0:
            m = run_loss / run_n
            el = time.time() - t_start
            log(f'step {step} loss {m:.6f} train_psnr {psnr(m):.3f} lr {lr:.3e} elapsed {el:.0f}s '
                f'({el/step*1000:.0f} ms/it)')
            run_loss, run_n = 0.0, 0
        late = False
        if a.deadline:
            hh, mm = (int(s) for s in a.deadline.split(':'))
            now = time.gmtime()
            late = now.tm_hour * 60 + now.tm_min >= hh * 60 + mm
        if step % a.eval_every == 0 or step == iters or late:
            p, _, _ = evaluate(model, a.in_size, a.out_size, held_t)
            if p > best:
                best, best_step = p, step
                save_ckpt(os.path.join(a.out_dir, 'best_ckpt.tar'), model, opt, step, best, best_step)
            save_ckpt(os.path.join(a.out_dir, 'ckpt.tar'), model, opt, step, best, best_step)
            log(f'[TEST] step {step} heldout_psnr {p:.3f} best {best:.3f} (step {best_step})')
        if late:
            stop_reason = f'deadline {a.deadline} UTC reached at step {step} of {iters}'
            break
    el = time.time() - t_start
    if a.bench:
        log(f'bench: {iters} steps batch {a.batch} in {el:.1f}s = {el/iters*1000:.0f} ms/it')
        return
    log(f'finished ({stop_reason}): {step} steps, wall {el:.0f}s ({el/60:.1f} min), best held-out PSNR '
        f'{best:.3f} at step {best_step}')
    with open(os.path.join(a.out_dir, 'summary.json'), 'w') as fh:
        json.dump({'steps': step, 'iters_planned': iters, 'stop_reason': stop_reason, 'wall_s': round(el),
                   'best_psnr': best, 'best_psnr_step': best_step, 'params': n_params, 'macs': macs,
                   'in_size': a.in_size, 'out_size': a.out_size, 'batch': a.batch, 'n_pseudo': n_data,
                   'command': '/usr/bin/python3 tools/nelf/distill.py ' + ' '.join(sys.argv[1:]),
                   'netdepth': a.netdepth, 'netwidth': a.netwidth, 'sr_kernel': list(a.sr_kernel)}, fh, indent=2)


if __name__ == '__main__':
    main()

"""Procedural try-on data: drawn people wearing procedural garments, with known garment warps.

Every sample is made from a seed (deterministic). A garment is drawn flat in its own frame (the
"product image": shape + texture on white, plus its edge mask); a person is drawn with a pose
(torso placement, scale, lean, sleeve/arm droop, body bend, skin tone, hair, background, trousers), and
the garment is put on the torso by a known smooth backward map (affine + bend + sleeve rotation
about the shoulders). A triplet uses one body and two garments A and B:

  input:  person wearing A, flat garment B, edge of B
  target: the same person wearing B; also the ground-truth warped garment B and its warped mask.

All images are float tensors in [-1, 1] (NCHW), masks in {0, 1}, H x W a multiple of 32.

  python3 tools/vton/data.py --samples public/models/vton/samples   # writes sample PNGs
"""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

PALETTE_SKIN = [(0.98, 0.84, 0.72), (0.93, 0.75, 0.60), (0.80, 0.60, 0.45), (0.62, 0.43, 0.30),
                (0.45, 0.30, 0.21), (0.33, 0.22, 0.16)]


def _grid(H, W):
    y = torch.linspace(-1, 1, H).view(H, 1).expand(H, W)
    x = torch.linspace(-1, 1, W).view(1, W).expand(H, W)
    return x, y


def _smooth(x, e=0.02):
    """soft step of a signed distance-like value (x > 0 inside)."""
    return torch.clamp(x / e + 0.5, 0, 1)


def _col(r):
    return torch.tensor(r, dtype=torch.float32).view(3, 1, 1)


def garment_params(rng):
    return dict(
        bw=rng.uniform(0.42, 0.62),            # body half width
        flare=rng.uniform(-0.08, 0.15),        # hem wider/narrower
        top=rng.uniform(-0.72, -0.6),          # shoulder line
        bot=rng.uniform(0.6, 0.92),            # hem
        sleeve=rng.choice([0.0, rng.uniform(0.15, 0.3), rng.uniform(0.3, 0.6)]),  # sleeve length
        sl_ang=rng.uniform(0.55, 0.9),         # canonical sleeve angle below horizontal (rad)
        neck_w=rng.uniform(0.15, 0.3), neck_d=rng.uniform(0.08, 0.3),
        c1=rng.uniform(0.05, 0.95, 3), c2=rng.uniform(0.05, 0.95, 3), c3=rng.uniform(0.05, 0.95, 3),
        pattern=rng.choice(['solid', 'hstripes', 'vstripes', 'diag', 'dots', 'checker', 'noise']),
        freq=rng.uniform(6, 18), phase=rng.uniform(0, 6.3),
        logo=rng.choice(['none', 'circle', 'square', 'star', 'bar']), logo_s=rng.uniform(0.1, 0.22),
        logo_y=rng.uniform(-0.3, 0.2), seed=int(rng.integers(1 << 30)))


def draw_garment(p, H, W):
    """Flat garment in its own frame -> (rgb [3,H,W] in [0,1] with white background, mask [1,H,W] soft)."""
    x, y = _grid(H, W)
    t = (y - p['top']) / (p['bot'] - p['top'])
    bw = p['bw'] + p['flare'] * t.clamp(0, 1)
    body = _smooth(bw - x.abs()) * _smooth(y - p['top']) * _smooth(p['bot'] - y)
    # neckline: ellipse cut at the top centre
    neck = ((x / p['neck_w']) ** 2 + ((y - p['top']) / max(p['neck_d'], 1e-3)) ** 2)
    body = body * _smooth(neck - 1.0, 0.15)
    m = body
    if p['sleeve'] > 0:
        for sgn in (-1, 1):
            sx, sy = sgn * (p['bw'] - 0.04), p['top'] + 0.1
            dx, dy = sgn * math.cos(p['sl_ang']), math.sin(p['sl_ang'])
            rx, ry = x - sx, y - sy
            along = rx * dx + ry * dy
            perp = (rx * dy - ry * dx).abs()
            half = 0.13 + 0.03 * (1 - along / max(p['sleeve'], 1e-3)).clamp(0, 1)
            sl = _smooth(along) * _smooth(p['sleeve'] - along) * _smooth(half - perp)
            m = torch.maximum(m, sl)
    c1, c2, c3 = _col(p['c1']), _col(p['c2']), _col(p['c3'])
    f, ph = p['freq'], p['phase']
    pat = p['pattern']
    if pat == 'solid':
        w = torch.zeros(H, W)
    elif pat == 'hstripes':
        w = (torch.sin(y * f + ph) > 0).float()
    elif pat == 'vstripes':
        w = (torch.sin(x * f + ph) > 0).float()
    elif pat == 'diag':
        w = (torch.sin((x + y) * f + ph) > 0).float()
    elif pat == 'dots':
        w = ((torch.sin(x * f + ph) * torch.sin(y * f * 1.33)) > 0.6).float()
    elif pat == 'checker':
        w = ((torch.sin(x * f * 0.7) * torch.sin(y * f * 0.7 + ph)) > 0).float()
    else:
        g = torch.Generator().manual_seed(p['seed'])
        n = F.interpolate(torch.rand(1, 1, H // 8, W // 8, generator=g), size=(H, W), mode='bicubic',
                          align_corners=False)[0, 0]
        w = (n - n.min()) / (n.max() - n.min() + 1e-6)
    rgb = c1 * (1 - w) + c2 * w
    if p['logo'] != 'none':
        lx, ly, s = x, y - p['logo_y'], p['logo_s']
        if p['logo'] == 'circle':
            lm = _smooth(s - (lx ** 2 + ly ** 2).sqrt())
        elif p['logo'] == 'square':
            lm = _smooth(s - torch.maximum(lx.abs(), ly.abs()))
        elif p['logo'] == 'bar':
            lm = _smooth(s * 1.6 - lx.abs()) * _smooth(s * 0.35 - ly.abs())
        else:  # 5-point star
            r = (lx ** 2 + ly ** 2).sqrt()
            a = torch.atan2(ly, lx)
            lm = _smooth(s * (0.6 + 0.4 * torch.cos(5 * a)) - r)
        rgb = rgb * (1 - lm) + c3 * lm
    rgb = rgb * m + (1 - m)
    return rgb.clamp(0, 1), (m > 0.5).float().unsqueeze(0)


def pose_params(rng):
    return dict(
        s=rng.uniform(0.62, 0.85), tx=rng.uniform(-0.12, 0.12), ty=rng.uniform(0.05, 0.25),
        rot=rng.uniform(-0.12, 0.12), bend=rng.uniform(-0.12, 0.12), curve=rng.uniform(-0.08, 0.08),
        droop=rng.uniform(-0.2, 0.75),   # extra sleeve/arm rotation (rad), positive = arms down
        arm_len=rng.uniform(0.7, 1.0), arm_w=rng.uniform(0.1, 0.14),
        skin=PALETTE_SKIN[int(rng.integers(len(PALETTE_SKIN)))], skin_j=rng.uniform(-0.05, 0.05, 3),
        hair=rng.uniform(0.0, 0.45, 3), hair_len=rng.uniform(0.0, 0.5),
        pants=rng.uniform(0.05, 0.7, 3),
        bg1=rng.uniform(0.3, 1.0, 3), bg2=rng.uniform(0.3, 1.0, 3), bg_ang=rng.uniform(0, 6.3),
        torso_w=rng.uniform(0.44, 0.52), head_r=rng.uniform(0.17, 0.22), seed=int(rng.integers(1 << 30)))


def backward_map(pp, gp, H, W):
    """Person pixel -> garment-frame coordinate (grid [H,W,2] in [-1,1], align_corners=True).
    Aspect: both frames share H x W so x and y are scaled independently."""
    x, y = _grid(H, W)
    c, s_ = math.cos(pp['rot']), math.sin(pp['rot'])
    qx, qy = (x - pp['tx']) / pp['s'], (y - pp['ty']) / pp['s']
    gx = c * qx + s_ * qy
    gy = -s_ * qx + c * qy
    gx = gx - pp['bend'] * (gy + 1) ** 2 * 0.5
    gy = gy - pp['curve'] * gx ** 2
    # sleeve rotation about the shoulders, blended in outside the body
    bw = gp['bw']
    sy = gp['top'] + 0.1
    for sgn in (-1, 1):
        sx = sgn * (bw - 0.04)
        wgt = torch.clamp((sgn * gx - (bw - 0.06)) / 0.15, 0, 1) * torch.clamp((0.5 - (gy - sy)) / 0.5, 0, 1)
        ang = -sgn * pp['droop'] * wgt
        ca, sa = torch.cos(ang), torch.sin(ang)
        rx, ry = gx - sx, gy - sy
        gx, gy = sx + ca * rx - sa * ry, sy + sa * rx + ca * ry
    return torch.stack([gx, gy], -1)


def _forward_pt(pp, gx, gy):
    """Approximate forward map garment-frame point -> person frame (affine part only)."""
    c, s_ = math.cos(pp['rot']), math.sin(pp['rot'])
    qx = c * gx - s_ * gy
    qy = s_ * gx + c * gy
    return qx * pp['s'] + pp['tx'], qy * pp['s'] + pp['ty']


def draw_person(pp, gp, g_rgb, g_mask, H, W, shade=True):
    """-> person rgb [3,H,W] in [0,1], warped garment rgb [3,H,W] (unshaded), warped mask [1,H,W]."""
    x, y = _grid(H, W)
    grid = backward_map(pp, gp, H, W).unsqueeze(0)
    wg = F.grid_sample(g_rgb.unsqueeze(0), grid, mode='bilinear', padding_mode='border', align_corners=True)[0]
    wm = F.grid_sample(g_mask.unsqueeze(0), grid, mode='bilinear', padding_mode='zeros', align_corners=True)[0]
    wm = (wm > 0.5).float()
    gx, gy = grid[0, ..., 0], grid[0, ..., 1]
    # background
    a = pp['bg_ang']
    t = ((x * math.cos(a) + y * math.sin(a)) * 0.5 + 0.5).clamp(0, 1)
    img = _col(pp['bg1']) * (1 - t) + _col(pp['bg2']) * t
    skin = _col(np.clip(np.array(pp['skin']) + pp['skin_j'], 0, 1))
    # trousers below the torso
    hx, hy = _forward_pt(pp, 0.0, 0.85)
    legs = _smooth(y - (hy - 0.05)) * _smooth(pp['s'] * 0.5 - (x - hx).abs())
    img = img * (1 - legs) + _col(pp['pants']) * legs
    # arms (under the garment), along the drooped sleeve direction
    for sgn in (-1, 1):
        sxg, syg = sgn * (gp['bw'] - 0.04), gp['top'] + 0.1
        ax, ay = _forward_pt(pp, sxg, syg)
        ang = gp['sl_ang'] + pp['droop'] + pp['rot']
        dx, dy = sgn * math.cos(ang), math.sin(ang)
        # person frame is anisotropic (normalised coords): scale direction by aspect
        dx *= H / W * 0.75
        n = math.hypot(dx, dy)
        dx, dy = dx / n, dy / n
        rx, ry = (x - ax) * W / H * 4 / 3, y - ay
        along = rx * dx + ry * dy
        perp = (rx * dy - ry * dx).abs()
        L = pp['arm_len'] * pp['s']
        arm = _smooth(along + 0.05) * _smooth(L - along) * _smooth(pp['arm_w'] * pp['s'] * 1.2 - perp)
        hand = _smooth(pp['arm_w'] * pp['s'] * 1.3 - ((rx - dx * L) ** 2 + (ry - dy * L) ** 2).sqrt())
        arm = torch.maximum(arm, hand)
        img = img * (1 - arm) + skin * 0.95 * arm
    # torso skin (neckline shows it), in the garment frame
    torso = _smooth(pp['torso_w'] - gx.abs()) * _smooth(gy - (gp['top'] - 0.15)) * _smooth(0.9 - gy)
    neck_x, neck_y = _forward_pt(pp, 0.0, gp['top'])
    neck = _smooth(0.09 * pp['s'] * 1.5 - (x - neck_x).abs()) * _smooth(y - (neck_y - 0.25 * pp['s'])) * \
        _smooth(neck_y + 0.05 - y)
    torso = torch.maximum(torso, neck)
    img = img * (1 - torso) + skin * torso
    # garment
    gar = wg
    if shade:
        sh = 1 - 0.18 * gx.clamp(-1.2, 1.2) ** 2 + 0.04 * torch.sin(gy * 9 + 2 * gx)
        gar = (wg * sh).clamp(0, 1)
    img = img * (1 - wm) + gar * wm
    # head + hair
    hx, hy = _forward_pt(pp, 0.0, gp['top'] - 0.05)
    r = pp['head_r'] * pp['s'] * 1.6
    cy = hy - 0.25 * pp['s'] - r * 0.9
    dxh, dyh = (x - hx) * W / H * 4 / 3, y - cy
    head = _smooth(1 - ((dxh / (r * 0.8)) ** 2 + (dyh / r) ** 2), 0.08)
    hair = head * _smooth(-(dyh + r * 0.35)) + _smooth(1 - ((dxh / (r * 0.92)) ** 2 + (dyh / (r * 1.08)) ** 2), 0.08) * \
        _smooth(-dyh - 0.2 * r) + _smooth(r * 0.95 - dxh.abs()) * _smooth(dyh) * _smooth(pp['hair_len'] * r * 2 - dyh) * \
        _smooth(dxh.abs() - r * 0.6)
    hair = hair.clamp(0, 1)
    img = img * (1 - head) + skin * head
    img = img * (1 - hair) + _col(pp['hair']) * hair
    eyes = sum(_smooth(r * 0.09 - ((dxh - sg * r * 0.33) ** 2 + (dyh + r * 0.05) ** 2).sqrt()) for sg in (-1, 1))
    img = img * (1 - eyes) + 0.1 * eyes
    return img.clamp(0, 1), wg, wm


def triplet(seed, H=128, W=96):
    """One training example from a seed. Returns a dict of tensors in [-1,1] / {0,1}:
    person (wearing A), clothes (B flat), edge (B mask), target (person wearing B),
    warped_gt (B warped onto the body, unshaded), warped_mask_gt, and grid_gt: the known sampling grid
    person -> flat-garment frame ([2,H,W], ch0 = x, ch1 = y, align_corners=True), the flow's ground truth."""
    rng = np.random.default_rng(seed)
    pp = pose_params(rng)
    ga, gb = garment_params(rng), garment_params(rng)
    a_rgb, a_m = draw_garment(ga, H, W)
    b_rgb, b_m = draw_garment(gb, H, W)
    person, _, _ = draw_person(pp, ga, a_rgb, a_m, H, W)
    target, wg, wm = draw_person(pp, gb, b_rgb, b_m, H, W)
    s = lambda t: t * 2 - 1  # noqa: E731
    return dict(person=s(person), clothes=s(b_rgb), edge=b_m, target=s(target),
                warped_gt=s(wg) * wm, warped_mask_gt=wm, grid_gt=backward_map(pp, gb, H, W).permute(2, 0, 1))


def batch(seeds, H=128, W=96):
    items = [triplet(int(s), H, W) for s in seeds]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def save_png(path, t):
    """t: [3,H,W] or [1,H,W] in [0,1]."""
    from PIL import Image
    a = (t.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    if a.shape[2] == 1:
        a = a[..., 0]
    Image.fromarray(a).save(path, optimize=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--samples', required=True, help='output folder for sample PNGs')
    ap.add_argument('--n', type=int, default=6)
    ap.add_argument('--size', default='256x192')
    ap.add_argument('--seed', type=int, default=9000000, help='sample seeds (disjoint from training seeds)')
    a = ap.parse_args()
    H, W = (int(v) for v in a.size.split('x'))
    os.makedirs(a.samples, exist_ok=True)
    for i in range(a.n):
        d = triplet(a.seed + i, H, W)
        u = lambda t: (t + 1) / 2  # noqa: E731
        save_png(os.path.join(a.samples, 'person_%02d.png' % i), u(d['person']))
        save_png(os.path.join(a.samples, 'garment_%02d.png' % i), u(d['clothes']))
        save_png(os.path.join(a.samples, 'garment_%02d_edge.png' % i), d['edge'])
    with open(os.path.join(a.samples, 'README.md'), 'w') as f:
        f.write('Procedural samples made by this project (tools/vton/data.py, seeds %d..%d, %dx%d); '
                'no photos, no third-party images.\n\n    python3 tools/vton/data.py --samples %s --n %d --size %s --seed %d\n'
                % (a.seed, a.seed + a.n - 1, W, H, 'public/models/vton/samples', a.n, a.size, a.seed))


if __name__ == '__main__':
    main()

"""Procedural teacher "nelf-procedural-v1": an analytically ray-traced scene the project can render
EXACTLY in PyTorch (here) and in WGSL (the browser port), used to distil the default MobileR2L.

Everything is f32, deterministic, one ray per pixel centre (no anti-aliasing), no textures, no noise.
World is z-up (Blender).  Camera convention: Blender/NeRF transforms.json, OpenGL (see rays.py).

RAYS
  focal = 0.5*W/tan(0.5*camera_angle_x) for the image being rendered (camera_angle_x = 0.6911112070083618
  by default; `render` takes the focal directly).  For pixel (u, v) (u column, v row, row 0 at the top):
      d_cam = ((u - 0.5*W + 0.5)/focal, -(v - 0.5*H + 0.5)/focal, -1)
      d     = R d_cam            (R = c2w[0:3,0:3]; in components d_i = sum_j R_ij d_cam_j)
      o     = c2w[0:3, 3]
      dn    = d / sqrt(dot(d, d))          (all intersections below use the unit direction dn)

PRIMITIVES (constants below; t is the distance along dn)
  ground disc  plane z = GROUND_Z, radius GROUND_R, normal n = (0,0,1):
      hit iff dn.z < 0:  t = (GROUND_Z - o.z) / dn.z ;  p = o + t*dn ;  t > 0 and p.x^2 + p.y^2 <= GROUND_R^2
  sphere (c, r):
      oc = o - c ; b = dot(oc, dn) ; q = dot(oc, oc) - r*r ; h = b*b - q
      hit iff h >= 0 and t = -b - sqrt(h) > 0 ;  n = (p - c) / r
      (the camera and every shadow-ray origin lie outside all spheres, so the near root suffices)
  axis-aligned box (bmin, bmax), slab method:
      e_i = dn_i if |dn_i| >= 1e-8 else 1e-8 ;  inv_i = 1 / e_i
      t1 = (bmin - o)*inv ; t2 = (bmax - o)*inv ; tn = min(t1, t2) ; tf = max(t1, t2)  (per axis)
      t_near = max(tn.x, tn.y, tn.z) ; t_far = min(tf.x, tf.y, tf.z)
      hit iff t_near <= t_far and t_near > 0 ; t = t_near
      face axis a = x if tn.x >= tn.y and tn.x >= tn.z, else y if tn.y >= tn.z, else z
      n = -sign(e_a) * unit_a   (sign(e_a) = +1 if e_a >= 0 else -1)

NEAREST HIT: t_best = 1e30; test in the order ground, SPHERES[0], SPHERES[1], SPHERES[2], BOX; a primitive
  replaces the current best iff it hits and t < t_best (strict).  p = o + t_best*dn.

SHADING (L = normalize(LIGHT_DIR) is the direction TO the light, a fixed directional light)
  albedo: the primitive's colour; for the ground the checker
      s = floor(2*p.x) + floor(2*p.y) ;  k = s - 2*floor(s/2)   (0 or 1, cells of 0.5 x 0.5)
      albedo = CHECKER_A if k == 0 else CHECKER_B
  visibility vis = 1, except on the ground: a shadow ray from p along L is tested against the three
      spheres and the box (same formulas, origin p, direction L); any hit with t > 0 gives vis = 0.
  colour = clamp(albedo * (AMBIENT + DIFFUSE * max(0, dot(n, L)) * vis), 0, 1)
BACKGROUND (no hit):  s = clamp(dn.z, 0, 1) ;  colour = (1 - s)*SKY_HORIZON + s*SKY_ZENITH
"""
import math

import torch

NAME = 'nelf-procedural-v1'

GROUND_Z = -0.5
GROUND_R = 2.0
CHECKER_A = (0.85, 0.85, 0.85)
CHECKER_B = (0.30, 0.32, 0.38)
# (centre, radius, albedo)
SPHERES = (
    ((0.55, 0.35, 0.05), 0.55, (0.90, 0.22, 0.18)),    # red
    ((-0.75, 0.55, -0.15), 0.35, (0.20, 0.40, 0.95)),  # blue
    ((-0.15, -0.65, 0.55), 0.25, (0.95, 0.80, 0.15)),  # yellow, resting on the box
)
BOX = ((-0.45, -0.95, -0.5), (0.15, -0.35, 0.3), (0.25, 0.80, 0.35))  # bmin, bmax, albedo (green)
LIGHT_DIR = (0.5, -0.4, 0.75)
AMBIENT = 0.3
DIFFUSE = 0.7
SKY_HORIZON = (0.92, 0.94, 0.98)
SKY_ZENITH = (0.45, 0.62, 0.90)
T_INF = 1e30


def _v(x):
    return torch.tensor(x, dtype=torch.float32)


def _sphere(o, dn, c, r):
    oc = o - _v(c)
    b = (oc * dn).sum(-1)
    q = (oc * oc).sum(-1) - r * r
    h = b * b - q
    t = -b - torch.sqrt(torch.clamp(h, min=0.0))
    hit = (h >= 0) & (t > 0)
    return hit, t


def _box(o, dn, bmin, bmax):
    e = torch.where(dn.abs() >= 1e-8, dn, torch.full_like(dn, 1e-8))
    inv = 1.0 / e
    t1 = (_v(bmin) - o) * inv
    t2 = (_v(bmax) - o) * inv
    tn = torch.minimum(t1, t2)
    tf = torch.maximum(t1, t2)
    t_near = torch.maximum(torch.maximum(tn[..., 0], tn[..., 1]), tn[..., 2])
    t_far = torch.minimum(torch.minimum(tf[..., 0], tf[..., 1]), tf[..., 2])
    hit = (t_near <= t_far) & (t_near > 0)
    ax_x = (tn[..., 0] >= tn[..., 1]) & (tn[..., 0] >= tn[..., 2])
    ax_y = (~ax_x) & (tn[..., 1] >= tn[..., 2])
    ax_z = (~ax_x) & (~ax_y)
    sgn = torch.where(e >= 0, torch.ones_like(e), -torch.ones_like(e))
    n = torch.stack([ax_x.float(), ax_y.float(), ax_z.float()], -1) * (-sgn)
    return hit, t_near, n


def _ground(o, dn):
    t = (GROUND_Z - o[..., 2]) / torch.where(dn[..., 2] < 0, dn[..., 2], -torch.ones_like(dn[..., 2]))
    p = o + t[..., None] * dn
    hit = (dn[..., 2] < 0) & (t > 0) & (p[..., 0] * p[..., 0] + p[..., 1] * p[..., 1] <= GROUND_R * GROUND_R)
    return hit, t


def trace(o, d):
    """o, d: [N, 3] float32 (d need not be unit) -> colours [N, 3] in [0, 1]."""
    o = o.float()
    d = d.float()
    dn = d / torch.sqrt((d * d).sum(-1, keepdim=True))
    N = d.shape[0]
    t_best = torch.full((N,), T_INF)
    ident = torch.full((N,), -1, dtype=torch.long)  # -1 sky, 0 ground, 1..3 spheres, 4 box
    box_n = None

    hit, t = _ground(o, dn)
    upd = hit & (t < t_best)
    t_best = torch.where(upd, t, t_best)
    ident = torch.where(upd, torch.zeros_like(ident), ident)
    for i, (c, r, _) in enumerate(SPHERES):
        hit, t = _sphere(o, dn, c, r)
        upd = hit & (t < t_best)
        t_best = torch.where(upd, t, t_best)
        ident = torch.where(upd, torch.full_like(ident, i + 1), ident)
    hit, t, box_n = _box(o, dn, BOX[0], BOX[1])
    upd = hit & (t < t_best)
    t_best = torch.where(upd, t, t_best)
    ident = torch.where(upd, torch.full_like(ident, 4), ident)

    tb = torch.where(ident >= 0, t_best, torch.zeros_like(t_best))
    p = o + tb[..., None] * dn
    L = _v(LIGHT_DIR)
    L = L / torch.sqrt((L * L).sum())

    # normals and albedo
    n = torch.zeros_like(p)
    alb = torch.zeros_like(p)
    g = ident == 0
    s = torch.floor(2.0 * p[..., 0]) + torch.floor(2.0 * p[..., 1])
    k = s - 2.0 * torch.floor(s / 2.0)
    chk = torch.where((k == 0)[..., None], _v(CHECKER_A).expand_as(p), _v(CHECKER_B).expand_as(p))
    n = torch.where(g[..., None], _v((0.0, 0.0, 1.0)).expand_as(p), n)
    alb = torch.where(g[..., None], chk, alb)
    for i, (c, r, a) in enumerate(SPHERES):
        m = (ident == i + 1)[..., None]
        n = torch.where(m, (p - _v(c)) / r, n)
        alb = torch.where(m, _v(a).expand_as(p), alb)
    m = (ident == 4)[..., None]
    n = torch.where(m, box_n, n)
    alb = torch.where(m, _v(BOX[2]).expand_as(p), alb)

    # shadows on the ground
    Ls = L.expand_as(p)
    occ = torch.zeros(N, dtype=torch.bool)
    for (c, r, _) in SPHERES:
        occ = occ | _sphere(p, Ls, c, r)[0]
    occ = occ | _box(p, Ls, BOX[0], BOX[1])[0]
    vis = torch.where(g & occ, torch.zeros(N), torch.ones(N))

    ndl = torch.clamp((n * L).sum(-1), min=0.0)
    col = alb * (AMBIENT + DIFFUSE * ndl * vis)[..., None]
    col = torch.clamp(col, 0.0, 1.0)
    sk = torch.clamp(dn[..., 2], 0.0, 1.0)[..., None]
    sky = (1 - sk) * _v(SKY_HORIZON) + sk * _v(SKY_ZENITH)
    return torch.where((ident >= 0)[..., None], col, sky)


def render(c2w, H, W, focal):
    """c2w [4,4] (or [3,4]) camera-to-world, openGL; -> [H, W, 3] float32 in [0, 1]."""
    c2w = torch.as_tensor(c2w, dtype=torch.float32)
    v, u = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32),
                          indexing='ij')
    d_cam = torch.stack([(u - 0.5 * W + 0.5) / focal, -(v - 0.5 * H + 0.5) / focal, -torch.ones_like(u)], -1)
    d = d_cam.reshape(-1, 3) @ c2w[:3, :3].T
    o = c2w[:3, 3].expand_as(d)
    return trace(o, d).reshape(H, W, 3)


if __name__ == '__main__':
    import argparse
    import sys
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import rays
    ap = argparse.ArgumentParser(description='render teacher views to PPM files')
    ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--out', default='/tmp/nelf-teacher')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    f = rays.focal_from_angle(a.size)
    for i, (az, el) in enumerate([(30, 30), (120, 15), (210, 45), (300, 70)]):
        img = render(rays.sphere_pose(math.radians(az), math.radians(el)), a.size, a.size, f)
        b = (img * 255 + 0.5).clamp(0, 255).byte().numpy()
        with open(f'{a.out}/view{i}.ppm', 'wb') as fh:
            fh.write(b'P6 %d %d 255\n' % (a.size, a.size) + b.tobytes())
    print('wrote', a.out)

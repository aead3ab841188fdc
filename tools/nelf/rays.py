"""Ray generation and ray encoding exactly as MobileR2L (`data/rays_utils.py`, `data/blender.py`,
`data/poses_utils.py`, `model/engine.py`).

Camera (Blender / NeRF transforms.json convention, OpenGL): c2w is camera-to-world, the camera
looks down its -z axis, +y is up and +x is right in camera space; the world is z-up.

1. Intrinsics. `camera_angle_x` (Blender default 0.6911112070083618 rad, ~39.6 deg) gives the focal
   at the OUTPUT width: focal_out = 0.5 * W_out / tan(0.5 * camera_angle_x).  Rays are generated on
   the LOW-RES input grid with focal_in = focal_out * (H_in / H_out)   (data/blender.py).
2. Directions (get_ray_directions, openGL, pixel centres, NOT normalised):
       d_cam(u, v) = ((u - 0.5*W + 0.5) / focal, -(v - 0.5*H + 0.5) / focal, -1),
   u = column 0..W-1, v = row 0..H-1 (row 0 = top), flattened row-major (index v*W + u).
3. World rays (get_rays): d = R @ d_cam  (R = c2w[:3,:3]),  o = c2w[:3, 3].
4. Samples (PointSampler): t_i = i / (n-1), i = 0..n-1 (n = 8); z_i = near*(1-t_i) + far*t_i,
   near = 2, far = 6.  Training (perturb): mids = (z_i + z_{i+1})/2, lower = [z_0, mids],
   upper = [mids, z_{n-1}], z = lower + (upper-lower)*U[0,1)  with ONE uniform draw of shape
   [H*W, n] per step (shared by every image of the batch, as the official sampler).  Eval: no jitter.
   p_i = o + d * z_i   (d unnormalised: z is the depth along the camera axis).
5. Positional encoding (PositionalEmbedder, L = multires = 6, include_input, NO pi):
   for each scalar x: [sin(2^0 x) .. sin(2^5 x), cos(2^0 x) .. cos(2^5 x), x]  (13 values).
6. Channel order of the network input [1, C=312, H, W] (NCHW):
       channel c = (sample*3 + axis)*13 + k,   k 0..5 sin, 6..11 cos, 12 raw coordinate,
   i.e. `embedder(pts).view(n_ray, 312)` then `.transpose(1,0).view(1, 312, H, W)`.
Also `look_at(center)`: c2w from a camera centre, as poses_utils.lookAt (openGL):
   forward = normalize(center); right = normalize(forward x (0,0,-1)); up = normalize(forward x right);
   R = [right | up | forward] (columns); t = center.
"""
import math

import torch

BLENDER_CAMERA_ANGLE_X = 0.6911112070083618
NEAR = 2.0
FAR = 6.0
N_SAMPLE = 8
MULTIRES = 6
RADIUS = 4.0


def focal_from_angle(width, camera_angle_x=BLENDER_CAMERA_ANGLE_X):
    return 0.5 * width / math.tan(0.5 * camera_angle_x)


def get_ray_directions(H, W, focal):
    """[H*W, 3] camera-space directions (openGL, pixel centres), row-major over (v, u)."""
    v, u = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32),
                          indexing='ij')
    d = torch.stack([(u - 0.5 * W + 0.5) / focal, -(v - 0.5 * H + 0.5) / focal, -torch.ones_like(u)], -1)
    return d.reshape(-1, 3)


def get_rays(directions, c2w):
    """directions [N,3], c2w [3,4] or [4,4] -> rays_o [N,3], rays_d [N,3] (d = dirs @ R^T)."""
    c2w = torch.as_tensor(c2w, dtype=torch.float32)
    rays_d = directions @ c2w[:3, :3].T
    rays_o = c2w[:3, 3].expand_as(rays_d).clone()
    return rays_o, rays_d


def z_vals(n_sample=N_SAMPLE, near=NEAR, far=FAR):
    t = torch.linspace(0.0, 1.0, steps=n_sample)
    return near * (1 - t) + far * t


def perturb_z(z, n_ray, generator=None):
    """Stratified jitter as PointSampler (perturb=True): z [n] -> [n_ray, n]."""
    zz = z[None, :].expand(n_ray, z.shape[0])
    mids = 0.5 * (zz[..., 1:] + zz[..., :-1])
    upper = torch.cat([mids, zz[..., -1:]], -1)
    lower = torch.cat([zz[..., :1], mids], -1)
    t_rand = torch.rand(zz.shape, generator=generator)
    return lower + (upper - lower) * t_rand


def sample_points(rays_o, rays_d, z):
    """rays [..., N, 3], z [n] or [N, n] -> pts [..., N, n*3] (index sample*3 + axis)."""
    if z.dim() == 1:
        z = z[None, :]
    pts = rays_o[..., None, :] + rays_d[..., None, :] * z[..., :, None]
    return pts.reshape(*pts.shape[:-2], -1)


def embed(x, multires=MULTIRES):
    """PositionalEmbedder(L, include_input=True): [..., D] -> [..., D*(2L+1)], k fastest."""
    w = 2.0 ** torch.linspace(0, multires - 1, steps=multires)
    y = x[..., None] * w
    y = torch.cat([torch.sin(y), torch.cos(y), x[..., None]], -1)
    return y.reshape(*x.shape[:-1], -1)


def encode_batch(rays_o, rays_d, H, W, z, multires=MULTIRES):
    """rays [B, H*W, 3] -> network input [B, C, H, W] (official training path:
    embed -> view(B, H, W, C) -> permute(0, 3, 1, 2))."""
    B = rays_o.shape[0]
    e = embed(sample_points(rays_o, rays_d, z), multires)  # [B, H*W, C]
    return e.view(B, H, W, -1).permute(0, 3, 1, 2).contiguous()


def pose_input(c2w, H, W, focal, n_sample=N_SAMPLE, near=NEAR, far=FAR, multires=MULTIRES):
    """Eval-time network input [1, C, H, W] for one pose (no jitter); focal is the LOW-RES focal."""
    d = get_ray_directions(H, W, focal)
    o, dw = get_rays(d, c2w)
    return encode_batch(o[None], dw[None], H, W, z_vals(n_sample, near, far), multires)


def look_at(center):
    """c2w [4,4] (openGL, z-up world) for a camera at `center` looking at the origin."""
    c = torch.as_tensor(center, dtype=torch.float32).view(3)
    f = c / (c.norm() + 1e-10)
    up0 = torch.tensor([0.0, 0.0, -1.0])
    r = torch.cross(f, up0, dim=-1)
    r = r / (r.norm() + 1e-10)
    u = torch.cross(f, r, dim=-1)
    u = u / (u.norm() + 1e-10)
    m = torch.eye(4)
    m[:3, :3] = torch.stack([r, u, f], -1)
    m[:3, 3] = c
    return m


def sphere_pose(azimuth, elevation, radius=RADIUS):
    """Camera on the sphere of `radius` (angles in radians, elevation above the z=0 plane)."""
    ce = math.cos(elevation)
    return look_at([radius * ce * math.cos(azimuth), radius * ce * math.sin(azimuth),
                    radius * math.sin(elevation)])

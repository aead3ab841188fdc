"""DM-VTON student (MobileAFWM warp + MobileNetV2_unet generator) in plain PyTorch.

An independent re-implementation of the official student architecture
(DM-VTON, "Distilled Mobile Real-time Virtual Try-On"): module and parameter
names, shapes and inference semantics follow the official code so that the
official checkpoints (`dmvton_pf_warp.pt`, `dmvton_pf_gen.pt`) load key for key,
and the correlation is written as plain tensor ops (runs on CPU).

Conventions (see the research notes):
  * images in [-1, 1], NCHW, edge mask in [0, 1] (thresholded at 0.5);
  * correlation: 7x7 window, zero padding, channel MEAN, channel index (dy+3)*7+(dx+3),
    first = (pre-warped) garment feature, second = person feature;
  * flows are absolute sampling grids normalised with the align_corners=True rule;
    all grid_sample calls: bilinear, align_corners=True, padding 'border'
    (the edge warp in the pipeline uses 'zeros');
  * flow x2 upsampling and the FPN top-down resize: bilinear, align_corners=False;
  * generator output resize: nearest x2.

Width options (all default to the official configuration):
  MobileAFWM(width_mult, fpn_dim, flow_hidden), MobileNetV2_unet(width_mult).
Narrow models keep every key name; only tensor shapes change.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# Presets. 'official' is the paper's student; the others are narrower variants
# (same keys, smaller shapes) used for the demo model and the parity fixtures.
CONFIGS = {
    'official': dict(width_mult=1.0, fpn_dim=256, flow_hidden=(128, 64, 32), gen_width=1.0),
    'demo': dict(width_mult=0.25, fpn_dim=32, flow_hidden=(32, 16, 16), gen_width=0.25),
    'tiny': dict(width_mult=0.125, fpn_dim=8, flow_hidden=(8, 8, 8), gen_width=0.125),
}


def _ch(c, w):
    return c if w == 1.0 else max(4, int(round(c * w)))


# ----------------------------------------------------------------------------- warp: FPN
class FPNInvertedResidual(nn.Module):
    """FPN-style inverted residual: always has the 1x1 expand conv (even for t=1).
    conv.{0,1} expand+BN, conv.3/4 depthwise+BN, conv.6/7 project+BN."""

    def __init__(self, inp, oup, stride, t):
        super().__init__()
        hid = inp * t
        self.use_res = stride == 1 and inp == oup
        self.conv = nn.Sequential(
            nn.Conv2d(inp, hid, 1, 1, 0, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(inplace=True),
            nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(inplace=True),
            nn.Conv2d(hid, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup))

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.use_res else y


FPN_SETTING = [  # (t, c, s), n = 1 each
    (1, 16, 1), (6, 24, 2), (6, 32, 2), (6, 64, 2), (6, 96, 2), (6, 160, 2), (6, 320, 1)]


class MobileNetV2_dynamicFPN(nn.Module):
    """5-level FPN; outputs fine->coarse: H/2, H/4, H/8, H/16, H/32, all fpn_dim channels.
    `smooth_layers` is ONE conv shared by all five levels (the state dict lists it five times)."""

    def __init__(self, input_nc, width_mult=1.0, fpn_dim=256):
        super().__init__()
        c0 = int(32 * width_mult)
        self.first_layer = nn.Sequential(
            nn.Conv2d(input_nc, c0, 3, 1, 1, bias=False), nn.BatchNorm2d(c0), nn.ReLU6(inplace=True))
        blocks, inp, lat_in = [], c0, []
        for t, c, s in FPN_SETTING:
            oup = int(c * width_mult)
            blocks.append(nn.Sequential(FPNInvertedResidual(inp, oup, s, t)))
            inp = oup
        self.inverted_residual_blocks = nn.ModuleList(blocks)
        self.strides = [s for _, _, s in FPN_SETTING]
        lat_in = [int(c * width_mult) for _, c, s in FPN_SETTING[:-1] if s > 1]
        self.average_pool = nn.AdaptiveAvgPool2d(1)
        self.top_layer = nn.Conv2d(inp, fpn_dim, 1, 1, 0)
        self.lateral_layers = nn.ModuleList([nn.Conv2d(c, fpn_dim, 1, 1, 0) for c in lat_in])
        smooth = nn.Conv2d(fpn_dim, fpn_dim, 3, 1, 1)
        self.smooth_layers = nn.ModuleList([smooth] * len(lat_in))  # shared on purpose
        for m in self.modules():
            _init(m)

    def forward(self, x):
        x = self.first_layer(x)
        laterals = []
        for i, blk in enumerate(self.inverted_residual_blocks):
            x = blk(x)
            if self.strides[i] > 1 and len(laterals) < len(self.lateral_layers):
                laterals.append(self.lateral_layers[len(laterals)](x))
        m = self.top_layer(self.average_pool(x))
        ms = []
        for lat in reversed(laterals):
            m = F.interpolate(m, size=lat.shape[2:], mode='bilinear', align_corners=False) + lat
            ms.append(m)
        return [s(t) for s, t in zip(self.smooth_layers, ms)][::-1]


# ----------------------------------------------------------------------------- warp: flow
def correlation(first, second, d=3):
    """7x7 cost volume, channel mean, zero padding; out[:, (dy+d)*(2d+1)+(dx+d)] =
    mean_c first[c, y, x] * second[c, y+dy, x+dx]."""
    H, W = first.shape[2:]
    sp = F.pad(second, (d, d, d, d))
    outs = []
    for dy in range(-d, d + 1):
        for dx in range(-d, d + 1):
            outs.append((first * sp[:, :, d + dy:d + dy + H, d + dx:d + dx + W]).mean(1, keepdim=True))
    return torch.cat(outs, 1)


def apply_offset(offset):
    """offset [B,2,H,W] (pixels; ch0 = x, ch1 = y) -> absolute grid [B,H,W,2] in [-1,1] (align_corners=True)."""
    B, _, H, W = offset.shape
    ys = torch.arange(H, dtype=offset.dtype, device=offset.device).view(1, H, 1)
    xs = torch.arange(W, dtype=offset.dtype, device=offset.device).view(1, 1, W)
    gx = (xs + offset[:, 0]) / ((W - 1.0) / 2.0) - 1.0
    gy = (ys + offset[:, 1]) / ((H - 1.0) / 2.0) - 1.0
    return torch.stack([gx, gy], -1)


def _gs(x, grid, padding='border'):
    return F.grid_sample(x, grid, mode='bilinear', padding_mode=padding, align_corners=True)


def _flow_head(cin, hidden):
    h1, h2, h3 = hidden
    return nn.Sequential(
        nn.Conv2d(cin, h1, 3, 1, 1), nn.LeakyReLU(0.1),
        nn.Conv2d(h1, h2, 3, 1, 1), nn.LeakyReLU(0.1),
        nn.Conv2d(h2, h3, 3, 1, 1), nn.LeakyReLU(0.1),
        nn.Conv2d(h3, 2, 3, 1, 1))


class AFlowNet(nn.Module):
    """Cascaded appearance-flow estimator (inference path of the official code)."""

    def __init__(self, num_pyramid=5, fpn_dim=256, flow_hidden=(128, 64, 32)):
        super().__init__()
        self.netMain = nn.ModuleList([_flow_head(49, flow_hidden) for _ in range(num_pyramid)])
        self.netRefine = nn.ModuleList([_flow_head(2 * fpn_dim, flow_hidden) for _ in range(num_pyramid)])

    def forward(self, x, x_warps, x_conds, return_all=False):
        last_flow = None
        flows = []  # per level (coarse->fine): grid after refine, [B,2,h,w] before the x2 upsample
        n = len(x_warps)
        for i in range(n):
            x_warp, x_cond = x_warps[n - 1 - i], x_conds[n - 1 - i]
            x_warp_after = x_warp if last_flow is None else _gs(x_warp, last_flow.detach().permute(0, 2, 3, 1))
            corr = F.leaky_relu(correlation(x_warp_after, x_cond), 0.1)
            flow = apply_offset(self.netMain[i](corr))
            flow = flow.permute(0, 3, 1, 2) if last_flow is None else _gs(last_flow, flow)
            last_flow = flow
            xw = _gs(x_warp, flow.permute(0, 2, 3, 1))
            flow = apply_offset(self.netRefine[i](torch.cat([xw, x_cond], 1)))
            flow = _gs(last_flow, flow)
            flows.append(flow)
            last_flow = F.interpolate(flow, scale_factor=2, mode='bilinear', align_corners=False)
        x_warp = _gs(x, last_flow.permute(0, 2, 3, 1))
        if return_all:
            return x_warp, last_flow, flows
        return x_warp, last_flow


class MobileAFWM(nn.Module):
    """Warp module. forward(cond_input=person, image_input=masked garment) -> (warped garment, last_flow)."""

    def __init__(self, input_nc=3, width_mult=1.0, fpn_dim=256, flow_hidden=(128, 64, 32)):
        super().__init__()
        self.image_mobile = MobileNetV2_dynamicFPN(3, width_mult, fpn_dim)
        self.cond_mobile = MobileNetV2_dynamicFPN(input_nc, width_mult, fpn_dim)
        self.aflow_net = AFlowNet(5, fpn_dim, flow_hidden)

    def forward(self, cond_input, image_input, return_all=False):
        cond_p = self.cond_mobile(cond_input)
        image_p = self.image_mobile(image_input)
        return self.aflow_net(image_input, image_p, cond_p, return_all=return_all)


# ----------------------------------------------------------------------------- generator
class InvertedResidual(nn.Module):
    """torchvision-style IR: t=1 -> conv.{0:dw,1:BN,3:pw,4:BN}; else conv.{0,1,3,4,6,7}."""

    def __init__(self, inp, oup, stride, t):
        super().__init__()
        hid = round(inp * t)
        self.use_res = stride == 1 and inp == oup
        layers = []
        if t != 1:
            layers += [nn.Conv2d(inp, hid, 1, 1, 0, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(inplace=True)]
        layers += [nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid),
                   nn.ReLU6(inplace=True), nn.Conv2d(hid, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.use_res else y


GEN_SETTING = [(1, 16, 1), (6, 24, 2), (6, 32, 2), (6, 64, 2), (6, 96, 1), (6, 160, 2), (6, 320, 1)]


class MobileNetV2(nn.Module):
    def __init__(self, input_c=3, width_mult=1.0):
        super().__init__()
        c = _ch(32, width_mult)
        feats = [nn.Sequential(nn.Conv2d(input_c, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU6(inplace=True))]
        for t, oc, s in GEN_SETTING:
            oc = _ch(oc, width_mult)
            feats.append(InvertedResidual(c, oc, s, t))
            c = oc
        last = _ch(512, width_mult)
        feats.append(nn.Sequential(nn.Conv2d(c, last, 1, 1, 0, bias=False), nn.BatchNorm2d(last), nn.ReLU6(inplace=True)))
        self.features = nn.Sequential(*feats)


class MobileNetV2_unet(nn.Module):
    def __init__(self, input_c=7, output_c=4, width_mult=1.0):
        super().__init__()
        w = lambda c: _ch(c, width_mult)  # noqa: E731
        self.backbone = MobileNetV2(input_c, width_mult)
        self.dconv1 = nn.ConvTranspose2d(w(512), w(96), 4, padding=1, stride=2)
        self.invres1 = InvertedResidual(2 * w(96), w(96), 1, 6)
        self.dconv2 = nn.ConvTranspose2d(w(96), w(32), 4, padding=1, stride=2)
        self.invres2 = InvertedResidual(2 * w(32), w(32), 1, 6)
        self.dconv3 = nn.ConvTranspose2d(w(32), w(24), 4, padding=1, stride=2)
        self.invres3 = InvertedResidual(2 * w(24), w(24), 1, 6)
        self.dconv4 = nn.ConvTranspose2d(w(24), w(16), 4, padding=1, stride=2)
        self.invres4 = InvertedResidual(2 * w(16), w(16), 1, 6)
        self.conv_last = nn.Conv2d(w(16), output_c, 3, 1, 1, bias=False)
        for m in self.modules():
            _init(m)

    def forward(self, x):
        f = self.backbone.features
        x1 = f[1](f[0](x))
        x2 = f[2](x1)
        x3 = f[3](x2)
        x4 = f[5](f[4](x3))
        x = f[8](f[7](f[6](x4)))
        u = self.invres1(torch.cat([x4, self.dconv1(x)], 1))
        u = self.invres2(torch.cat([x3, self.dconv2(u)], 1))
        u = self.invres3(torch.cat([x2, self.dconv3(u)], 1))
        u = self.invres4(torch.cat([x1, self.dconv4(u)], 1))
        return self.conv_last(F.interpolate(u, scale_factor=2, mode='nearest'))


def _init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
        m.weight.data.normal_(0, math.sqrt(2.0 / n))
        if m.bias is not None:
            m.bias.data.zero_()
    elif isinstance(m, nn.BatchNorm2d):
        m.weight.data.fill_(1)
        m.bias.data.zero_()


# ----------------------------------------------------------------------------- pipeline
class DMVTON(nn.Module):
    """Student pipeline. forward(person, clothes, clothes_edge) -> (p_tryon, warped_cloth, warped_edge)
    (and a dict of intermediates with return_all=True)."""

    def __init__(self, config='official', **over):
        super().__init__()
        cfg = dict(CONFIGS[config] if isinstance(config, str) else config)
        cfg.update(over)
        self.cfg = cfg
        self.warp_model = MobileAFWM(3, cfg['width_mult'], cfg['fpn_dim'], tuple(cfg['flow_hidden']))
        self.gen_model = MobileNetV2_unet(7, 4, cfg['gen_width'])

    def forward(self, person, clothes, clothes_edge, return_all=False):
        edge = (clothes_edge > 0.5).float()
        clothes = clothes * edge
        warped_cloth, last_flow, flows = self.warp_model(person, clothes, return_all=True)
        warped_edge = _gs(edge, last_flow.permute(0, 2, 3, 1), padding='zeros')
        out = self.gen_model(torch.cat([person, warped_cloth, warped_edge], 1))
        p_rendered = torch.tanh(out[:, :3])
        m = torch.sigmoid(out[:, 3:4]) * warped_edge
        p_tryon = warped_cloth * m + p_rendered * (1 - m)
        if return_all:
            return p_tryon, warped_cloth, warped_edge, dict(
                last_flow=last_flow, flows=flows, p_rendered=p_rendered, m_composite=m)
        return p_tryon, warped_cloth, warped_edge


def state_dicts(model):
    """(warp state dict, gen state dict) with the official key names."""
    return model.warp_model.state_dict(), model.gen_model.state_dict()


def infer_config(warp_sd, gen_sd):
    """Recover the width options of a checkpoint from its tensor shapes."""
    fpn_dim = warp_sd['image_mobile.top_layer.weight'].shape[0]
    c0 = warp_sd['image_mobile.first_layer.0.weight'].shape[0]
    hid = tuple(warp_sd['aflow_net.netMain.0.%d.weight' % k].shape[0] for k in (0, 2, 4))
    g0 = gen_sd['backbone.features.0.0.weight'].shape[0]
    return dict(width_mult=c0 / 32.0, fpn_dim=fpn_dim, flow_hidden=hid, gen_width=g0 / 32.0)

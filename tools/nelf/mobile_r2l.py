"""MobileR2L student network: the official architecture of snap-research/MobileR2L
(`model/R2L.py`, CVPR 2023), re-typed here so that a state dict of this module has
exactly the official key names.

Module tree (official names, Blender 8x configuration):

    head.0                      Conv2d(input_dim -> W, 1x1)        (+ head.1 = GELU)
    body.{i}.conv_block.0       Conv2d(W -> W, 1x1)                i = 0 .. (D-2)//2 - 1
    body.{i}.conv_block.1       BatchNorm2d(W, momentum=0.1)
    body.{i}.conv_block.2       GELU (exact erf)
    body.{i}.conv_block.3       Conv2d(W -> W, 1x1)
    body.{i}.conv_block.4       BatchNorm2d(W, momentum=0.1)
    tail.0                      ConvTranspose2d(W -> k0, 4, stride 2, pad 1)
    tail.1, tail.2              ResnetBlock(k0)
    tail.3                      ConvTranspose2d(k0 -> k1, 4, stride 2, pad 1)
    tail.4, tail.5              ResnetBlock(k1)
    tail.6                      ConvTranspose2d(k1 -> k2, 4, 2, 1)   (Blender; Colmap: 3, 3, 0)
    tail.7, tail.8              ResnetBlock(k2)
    tail.9                      Conv2d(k2 -> 3, 1x1)               (+ tail.10 = Sigmoid)

forward(x):  x = head(x);  x = body(x) + x;  return tail(x)
ResnetBlock.forward(x) = x + conv_block(x)   (no activation after the add)

(the generic loop: for i in range(num_sr_blocks-1): ConvTranspose2d(W if i == 0 else k[i], k[i], 4, 2, 1)
 + num_conv_layers ResnetBlocks(k[i]); then ConvTranspose2d(k[1], k[-1], ...) exactly as the
 official code, which reads kernels[1] there.)

`make_args(...)` builds the argument namespace the official constructor reads
(netdepth, netwidth, activation_fn, use_sr_module, num_sr_blocks, num_conv_layers,
sr_kernel, dataset_type).
"""
import argparse

import torch.nn as nn


class ResnetBlock(nn.Module):
    """Official MobileR2L ResnetBlock (pix2pix-style), kernel_size 1, zero padding (p=0)."""

    def __init__(self, dim, kernel_size=1, padding_type='zero', norm_layer=nn.BatchNorm2d,
                 use_dropout=False, use_bias=True, act=None):
        super(ResnetBlock, self).__init__()
        self.conv_block = self.build_conv_block(dim, kernel_size, padding_type, norm_layer,
                                                use_dropout, use_bias, act)

    def build_conv_block(self, dim, kernel_size, padding_type, norm_layer, use_dropout,
                         use_bias, act=nn.GELU()):
        conv_block = []
        p = 0
        if padding_type == 'reflect':
            conv_block += [nn.ReflectionPad2d(1)]
        elif padding_type == 'replicate':
            conv_block += [nn.ReplicationPad2d(1)]
        elif padding_type == 'zero':
            p = 0
        else:
            raise NotImplementedError('padding [%s] is not implemented' % padding_type)
        conv_block += [nn.Conv2d(dim, dim, kernel_size=kernel_size, padding=p, bias=use_bias)]
        if norm_layer:
            conv_block += [norm_layer(dim, momentum=0.1)]
        if act:
            conv_block += [act]
        if use_dropout:
            conv_block += [nn.Dropout(0.5)]
        p = 0
        if padding_type == 'reflect':
            conv_block += [nn.ReflectionPad2d(1)]
        elif padding_type == 'replicate':
            conv_block += [nn.ReplicationPad2d(1)]
        elif padding_type == 'zero':
            p = 0
        else:
            raise NotImplementedError('padding [%s] is not implemented' % padding_type)
        conv_block += [nn.Conv2d(dim, dim, kernel_size=kernel_size, padding=p, bias=use_bias)]
        if norm_layer:
            conv_block += [norm_layer(dim, momentum=0.1)]
        return nn.Sequential(*conv_block)

    def forward(self, x):
        return x + self.conv_block(x)


def get_activation(act):
    if act.lower() == 'relu':
        return nn.ReLU(inplace=True)
    if act.lower() == 'gelu':
        return nn.GELU()
    if act.lower() == 'none':
        return None
    raise NotImplementedError(act)


class R2L(nn.Module):
    """Official MobileR2L network. input_dim = 3 * n_sample_per_ray * (2*multires + 1)."""

    def __init__(self, args, input_dim, output_dim):
        super(R2L, self).__init__()
        self.args = args
        self.input_dim = input_dim
        D, W = args.netdepth, args.netwidth
        Ws = [W] * (D - 1) + [3]
        act = get_activation(args.activation_fn)
        self.head = nn.Sequential(
            *[nn.Conv2d(input_dim, Ws[0], 1), act]) if act else nn.Sequential(
            *[nn.Conv2d(input_dim, Ws[0], 1)])
        n_block = (D - 2) // 2  # 2 layers per resblock
        self.body = nn.Sequential(*[ResnetBlock(W, act=act) for _ in range(n_block)])
        if args.use_sr_module:
            n_conv = args.num_conv_layers
            n_up_block = args.num_sr_blocks
            kernels = args.sr_kernel
            up_blocks = []
            for i in range(n_up_block - 1):
                in_dim = Ws[-2] if not i else kernels[i]
                up_blocks += [nn.ConvTranspose2d(in_dim, kernels[i], 4, stride=2, padding=1)]
                up_blocks += [ResnetBlock(kernels[i], act=act) for _ in range(n_conv)]
            if args.dataset_type == 'Colmap':
                k, s, p = 3, 3, 0
            elif args.dataset_type == 'Blender':
                k, s, p = 4, 2, 1
            else:
                raise ValueError(f'Undefined dataset type: {args.dataset_type}.')
            up_blocks += [nn.ConvTranspose2d(kernels[1], kernels[-1], k, stride=s, padding=p)]
            up_blocks += [ResnetBlock(kernels[-1], act=act) for _ in range(n_conv)]
            up_blocks += [nn.Conv2d(kernels[-1], output_dim, 1), nn.Sigmoid()]
            self.tail = nn.Sequential(*up_blocks)
        else:
            self.tail = nn.Sequential(*[nn.Conv2d(W, output_dim, 1), nn.Sigmoid()])

    def forward(self, x):
        x = self.head(x)
        x = self.body(x) + x
        return self.tail(x)


def make_args(netdepth=8, netwidth=64, sr_kernel=(32, 32, 16), activation_fn='gelu',
              use_sr_module=True, num_sr_blocks=3, num_conv_layers=2, dataset_type='Blender',
              n_sample_per_ray=8, multires=6):
    """Namespace with the attribute names the official R2L constructor reads."""
    return argparse.Namespace(
        netdepth=int(netdepth), netwidth=int(netwidth), sr_kernel=tuple(int(k) for k in sr_kernel),
        activation_fn=activation_fn, use_sr_module=bool(use_sr_module),
        num_sr_blocks=int(num_sr_blocks), num_conv_layers=int(num_conv_layers),
        dataset_type=dataset_type, n_sample_per_ray=int(n_sample_per_ray), multires=int(multires))


def build(args):
    input_dim = 3 * args.n_sample_per_ray * (2 * args.multires + 1)
    return R2L(args, input_dim, 3)


def count_macs(model, in_h, in_w):
    """Multiply-accumulates of one forward pass at input in_h x in_w (convs and transposed convs;
    BN/GELU/adds not counted, as usual). Returns (total, per-stage dict)."""
    import torch
    macs = {}
    hooks = []

    def hook(name):
        def f(mod, inp, out):
            if isinstance(mod, nn.Conv2d):
                n = out.numel() // out.shape[0] * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1] // mod.groups
            else:  # ConvTranspose2d: every input pixel scatters in*out*k*k products
                x = inp[0]
                n = x.shape[2] * x.shape[3] * mod.in_channels * mod.out_channels * mod.kernel_size[0] * mod.kernel_size[1]
            stage = name.split('.')[0]
            macs[stage] = macs.get(stage, 0) + n
        return f

    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            hooks.append(m.register_forward_hook(hook(name)))
    was = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, model.input_dim, in_h, in_w))
    model.train(was)
    for h in hooks:
        h.remove()
    return sum(macs.values()), macs

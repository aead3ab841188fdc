import type { FileKind } from '../formats/sniff.ts';

/** One entry per route of the suite; the shell, home page and drop routing read this table. */
export interface RouteInfo {
  name: string;
  title: string;
  paper: string;
  /** One line on what the paper does. */
  blurb: string;
  /** File kinds its demo opens (drop on the home page routes by these). */
  accepts: FileKind[];
  /** Custom element tag and its lazy module; absent while the demo has not landed. */
  element?: { tag: string; load: () => Promise<unknown> };
  /** Listed under diagnostics rather than as a demo. */
  diagnostic?: boolean;
  /** A page of the suite that is not a demo (no automation contract). */
  page?: boolean;
}

export const ROUTES: RouteInfo[] = [
  {
    name: 'gaussians',
    title: '4D Gaussian player',
    paper: '4D Gaussian Splatting (Yang et al., ICLR 2024; Duan et al., SIGGRAPH 2024)',
    blurb: 'Dynamic scenes as XYZT Gaussians: each is sliced at time t into a 3D Gaussian, projected, sorted on the GPU and alpha-blended every frame. Static 3DGS is the special case.',
    accepts: ['ply', 'splat', 'spz', 'zip'],
    element: { tag: 'gaussians-demo', load: () => import('../demos/gaussians/gaussians-demo.ts') },
  },
  {
    name: 'ngp',
    title: 'Neural graphics lab',
    paper: 'NGPC: Hardware Acceleration of Neural Graphics (instant-ngp hash grids + fully fused MLPs)',
    blurb: 'Multiresolution hash-grid encoding feeding a fully fused MLP, trained and rendered live: gigapixel image, signed distance field, radiance field and volume.',
    accepts: ['png', 'jpeg', 'webp', 'gif', 'bmp', 'obj', 'ply'],
    element: { tag: 'ngp-demo', load: () => import('../demos/ngp/ngp-demo.ts') },
  },
  {
    name: 'nelf',
    title: 'Neural light field viewer',
    paper: 'MobileR2L: Real-Time Neural Light Field on Mobile Devices (CVPR 2023)',
    blurb: 'One network pass turns camera rays into an image: positional-encoded ray samples, a residual 1x1-conv body and transposed-conv upsampling.',
    accepts: ['zip', 'safetensors'],
    element: { tag: 'nelf-demo', load: () => import('../demos/nelf/nelf-demo.ts') },
  },
  {
    name: 'tryon',
    title: 'Try-on studio',
    paper: 'DM-VTON: Distilled Mobile Real-time Virtual Try-On (ISMAR 2023)',
    blurb: 'A person photo or webcam frame plus a garment image become a try-on image: MobileNetV2 feature pyramids, appearance flow, and a mobile generator.',
    accepts: ['zip', 'safetensors', 'png', 'jpeg', 'webp', 'bmp'],
    element: { tag: 'tryon-demo', load: () => import('../demos/tryon/tryon-demo.ts') },
  },
  {
    name: 'selftest',
    title: 'Suite self-test',
    paper: 'The automation contract every demo implements',
    blurb: 'A compute-shader pattern and an image viewer that exercise ready/open/snapshot/stats, workers, GPU timing and device-loss recovery.',
    accepts: ['png', 'jpeg', 'webp', 'gif', 'bmp'],
    element: { tag: 'selftest-demo', load: () => import('../demos/selftest/selftest-demo.ts') },
    diagnostic: true,
  },
  {
    name: 'bench',
    title: 'Benchmarks',
    paper: 'Ours against the peers a user would pick instead, in one browser run',
    blurb: 'Runs the benchmarks of `npm run bench` on your own browser and GPU: sort, MLPs, networks and splat viewers, with ratios.',
    accepts: [],
    element: { tag: 'bench-page', load: () => import('./bench/bench-page.ts') },
    diagnostic: true,
    page: true,
  },
];

export function findRoute(name: string): RouteInfo | undefined {
  return ROUTES.find((r) => r.name === name);
}

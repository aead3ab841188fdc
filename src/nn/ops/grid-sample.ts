/**
 * Bilinear grid_sample (shaders/nn_grid_sample.wgsl): padding 'zeros' or 'border',
 * align_corners true or false, PyTorch semantics. The grid may be PyTorch's [N, Hg, Wg, 2]
 * ('nhwc', stored in a Tensor of shape [N, Hg, Wg, 2]), a channel-first [N, 2, Hg, Wg] grid
 * ('nchw': DM-VTON keeps its flow like that and permutes it for every grid_sample), or
 * channel-first pixel offsets that DM-VTON's apply_offset turns into a grid ('offset': fused
 * here, so netMain/netRefine outputs feed grid_sample directly).
 */
import gridWgsl from '../../../shaders/nn_grid_sample.wgsl?raw';
import type { Shape, Tensor } from '../tensor.ts';
import { cachedPipeline, checkChannels, inPass, linearGroups, OpResources, type EncodeTarget } from './common.ts';

export type GridLayout = 'nhwc' | 'nchw' | 'offset';
export type GridPadding = 'zeros' | 'border';

export interface GridSampleParams {
  padding?: GridPadding;
  alignCorners?: boolean;
  gridLayout?: GridLayout;
  label?: string;
}

export interface GridSampleEncodeOptions {
  /** Sample `channels` channels from `inChannelOffset` (default: all channels of the input). */
  inChannelOffset?: number;
  channels?: number;
  outChannelOffset?: number;
}

const LAYOUT: Record<GridLayout, number> = { nhwc: 0, nchw: 1, offset: 2 };

export class GridSample {
  readonly padding: GridPadding;
  readonly alignCorners: boolean;
  readonly gridLayout: GridLayout;
  readonly label: string;
  private readonly resources: OpResources;

  constructor(
    private readonly device: GPUDevice,
    params: GridSampleParams = {},
  ) {
    this.padding = params.padding ?? 'zeros';
    this.alignCorners = params.alignCorners ?? false;
    this.gridLayout = params.gridLayout ?? 'nhwc';
    if (!(this.gridLayout in LAYOUT)) throw new RangeError(`unknown grid layout '${this.gridLayout}'`);
    if (this.padding !== 'zeros' && this.padding !== 'border') throw new RangeError(`grid_sample padding '${this.padding}' is not supported (zeros, border)`);
    this.label = params.label ?? `grid_sample ${this.padding}${this.alignCorners ? ' align' : ''}`;
    this.resources = new OpResources(device, this.label);
  }

  /** [N, Hg, Wg] of a grid tensor in this op's layout. */
  gridSize(grid: Tensor): [number, number, number] {
    if (this.gridLayout === 'nhwc') {
      if (grid.w !== 2) throw new RangeError(`${this.label}: an 'nhwc' grid must be [N, Hg, Wg, 2], got [${grid.shape.join(', ')}]`);
      return [grid.n, grid.c, grid.h];
    }
    if (grid.c !== 2) throw new RangeError(`${this.label}: a '${this.gridLayout}' grid must be [N, 2, Hg, Wg], got [${grid.shape.join(', ')}]`);
    return [grid.n, grid.h, grid.w];
  }

  outputShape(input: Shape, grid: Tensor): Shape {
    const [n, hg, wg] = this.gridSize(grid);
    return [n, input[1], hg, wg];
  }

  encode(target: EncodeTarget, input: Tensor, grid: Tensor, output: Tensor, options: GridSampleEncodeOptions = {}): void {
    const [n, hg, wg] = this.gridSize(grid);
    const inOff = options.inChannelOffset ?? 0;
    const channels = options.channels ?? input.c - inOff;
    const outOff = options.outChannelOffset ?? 0;
    if (input.n !== n) throw new RangeError(`${this.label}: input batch ${input.n} differs from grid batch ${n}`);
    checkChannels(`${this.label} input`, input, inOff, channels);
    if (output.n !== n || output.h !== hg || output.w !== wg) throw new RangeError(`${this.label}: output must be [${n}, >=${channels}, ${hg}, ${wg}], got [${output.shape.join(', ')}]`);
    checkChannels(`${this.label} output`, output, outOff, channels);
    if (output.buffer === input.buffer || output.buffer === grid.buffer) throw new RangeError(`${this.label}: output must not alias the input or the grid`);
    const [gx, gy] = linearGroups(this.device, n * hg * wg, 64);
    const u = this.resources.uniform([
      n, channels, input.h, input.w, input.c, inOff, hg, wg, output.c, outOff,
      LAYOUT[this.gridLayout], this.padding === 'border' ? 1 : 0, this.alignCorners ? 1 : 0, gx, 0, 0,
    ]);
    const pipeline = cachedPipeline(this.device, 'nn-grid-sample', 'nn grid sample', () => gridWgsl);
    inPass(target, this.label, (pass) => this.resources.dispatch(pass, pipeline, [u, input.buffer, grid.buffer, output.buffer], gx, gy));
  }

  destroy(): void {
    this.resources.destroy();
  }
}

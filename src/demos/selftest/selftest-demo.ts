import { html } from 'lit';
import type { FileKind } from '../../formats/sniff.ts';
import { IMAGE_KINDS } from '../../formats/sniff.ts';
import { DemoElement, type FrameInfo } from '../../ui/demo-base.ts';
import { decodePool } from '../../workers/pool.ts';
import { PatternPipeline } from './pattern-pipeline.ts';
import '../../ui/file-drop.ts';

/** Images above this many pixels are downscaled by the decoder (16 MP). */
const MAX_PIXELS = 1 << 24;

/**
 * The suite's self-test: a seeded compute pattern that moves with time, and an image
 * viewer. Small on purpose; it drives every part of the automation contract, the worker
 * pool, GPU timing and device-loss recovery in e2e tests.
 */
export class SelftestDemo extends DemoElement {
  protected readonly accepts: readonly FileKind[] = IMAGE_KINDS;
  private pipeline: PatternPipeline | null = null;
  private time = 0;
  private imageNote = '';

  protected async build(device: GPUDevice): Promise<void> {
    this.pipeline = new PatternPipeline(device);
    this.time = this.params.t ?? 0;
  }

  protected encodeFrame(encoder: GPUCommandEncoder, output: GPUTexture, frame: FrameInfo): void {
    if (this.params.t === null) this.time += frame.dt;
    this.pipeline!.encode(encoder, output, this.time, this.params.seed, frame.profiler);
    this.stats.time = Number(this.time.toFixed(3));
  }

  protected async load(blob: Blob, _kind: FileKind, name: string, signal: AbortSignal): Promise<void> {
    const image = await decodePool().run('decodeImage', [blob, MAX_PIXELS], {
      signal,
      onProgress: (fraction, message) => (this.progress = { fraction, label: message ?? `Decoding ${name}` }),
    });
    this.pipeline!.setImage(image.pixels, image.width, image.height);
    this.imageNote = image.scaled
      ? `${name}: ${image.originalWidth}x${image.originalHeight}, shown downscaled to ${image.width}x${image.height}`
      : `${name}: ${image.width}x${image.height}`;
    this.stats.image = this.imageNote;
    this.renderOnce();
  }

  protected release(): void {
    this.pipeline?.destroy();
    this.pipeline = null;
  }

  protected override renderBody() {
    return html`
      <div class="demo-toolbar">
        <file-drop accept="image/*" label="Open image…" @file-chosen=${(e: CustomEvent<File>) => this.open(e.detail).catch(() => undefined)}></file-drop>
        <span class="note">${this.imageNote}</span>
      </div>
      <div class="demo-stage">${this.canvas}</div>
    `;
  }
}

customElements.define('selftest-demo', SelftestDemo);
declare global {
  interface HTMLElementTagNameMap { 'selftest-demo': SelftestDemo }
}

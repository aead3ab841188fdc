/**
 * Per-stage GPU milliseconds. With `timestamp-query`, every pass a stage opens gets a
 * begin/end timestamp pair; passes of one stage add up. Results come back a frame or
 * two late through a small ring of mappable buffers, so the frame loop never waits on
 * the GPU. Without timestamps, the whole submit is timed on the CPU via
 * onSubmittedWorkDone and reported as the single stage 'submit (cpu)'.
 */
const MAX_PASSES = 64;
const RING = 3;

export class GpuProfiler {
  readonly hasTimestamps: boolean;
  /** Latest milliseconds per stage, smoothed. */
  readonly stages: Record<string, number> = {};
  private readonly querySet: GPUQuerySet | null = null;
  private readonly resolve: GPUBuffer | null = null;
  private readonly ring: { buffer: GPUBuffer; busy: boolean }[] = [];
  private passStages: string[] = [];
  private submitStart = 0;
  private destroyed = false;

  constructor(
    private readonly device: GPUDevice,
    /** Weight of the newest sample in the running average (1 = no smoothing). */
    private readonly smoothing = 0.2,
  ) {
    this.hasTimestamps = device.features.has('timestamp-query');
    if (this.hasTimestamps) {
      this.querySet = device.createQuerySet({ label: 'profiler', type: 'timestamp', count: MAX_PASSES * 2 });
      this.resolve = device.createBuffer({ label: 'profiler resolve', size: MAX_PASSES * 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      for (let i = 0; i < RING; i++) {
        this.ring.push({ buffer: device.createBuffer({ label: 'profiler read', size: MAX_PASSES * 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ }), busy: false });
      }
    }
  }

  /** Timestamp writes for one more pass of `stage` this frame (undefined when not timing). */
  timestamps(stage: string): GPUComputePassTimestampWrites | undefined {
    if (!this.querySet || this.passStages.length >= MAX_PASSES) return undefined;
    const index = this.passStages.length * 2;
    this.passStages.push(stage);
    return { querySet: this.querySet, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 };
  }

  /** Opens a compute pass that is timed as part of `stage`. */
  computePass(encoder: GPUCommandEncoder, stage: string): GPUComputePassEncoder {
    const timestampWrites = this.timestamps(stage);
    return encoder.beginComputePass(timestampWrites ? { label: stage, timestampWrites } : { label: stage });
  }

  /** Call after encoding a frame and before finishing the encoder; returns a callback for after submit. */
  finish(encoder: GPUCommandEncoder): () => void {
    const stages = this.passStages;
    this.passStages = [];
    if (!this.querySet || !this.resolve || stages.length === 0) {
      return () => this.timeSubmit();
    }
    const slot = this.ring.find((s) => !s.busy);
    if (!slot) return () => undefined; // all readbacks in flight: skip this frame's timing
    const bytes = stages.length * 16;
    encoder.resolveQuerySet(this.querySet, 0, stages.length * 2, this.resolve, 0);
    encoder.copyBufferToBuffer(this.resolve, 0, slot.buffer, 0, bytes);
    slot.busy = true;
    return () => {
      slot.buffer.mapAsync(GPUMapMode.READ, 0, bytes).then(
        () => {
          if (this.destroyed) return;
          const times = new BigInt64Array(slot.buffer.getMappedRange(0, bytes));
          const totals: Record<string, number> = {};
          stages.forEach((stage, i) => {
            const ns = Number(times[2 * i + 1] - times[2 * i]);
            // Some drivers report end < begin for empty passes; treat as zero.
            totals[stage] = (totals[stage] ?? 0) + Math.max(0, ns) / 1e6;
          });
          slot.buffer.unmap();
          slot.busy = false;
          for (const [stage, ms] of Object.entries(totals)) this.record(stage, ms);
        },
        () => (slot.busy = false), // device lost or destroyed: nothing to report
      );
    };
  }

  private timeSubmit(): void {
    const start = performance.now();
    if (this.submitStart) return; // one CPU-timed submit in flight at a time
    this.submitStart = start;
    this.device.queue.onSubmittedWorkDone().then(
      () => {
        this.submitStart = 0;
        if (!this.destroyed) this.record('submit (cpu)', performance.now() - start);
      },
      () => (this.submitStart = 0),
    );
  }

  private record(stage: string, ms: number): void {
    const previous = this.stages[stage];
    this.stages[stage] = previous === undefined ? ms : previous + (ms - previous) * this.smoothing;
  }

  destroy(): void {
    this.destroyed = true;
    this.querySet?.destroy();
    this.resolve?.destroy();
    for (const s of this.ring) s.buffer.destroy();
  }
}

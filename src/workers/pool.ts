/**
 * A small pool of module workers speaking comlink. Jobs queue FIFO and run one per worker.
 * Decoders are synchronous loops, so cancelling a running job terminates its worker (a
 * fresh one is started when the next job needs it); a worker that dies is replaced the
 * same way, and its job rejects with a clear error.
 *
 *   const img = await decodePool().run('decodeImage', [file, 4_000_000], { signal, onProgress });
 *
 * Arguments are a tuple (the method's parameters without its trailing progress callback);
 * see decode-api.ts for the conventions methods follow.
 */
import * as Comlink from 'comlink';
import type { DecodeApi, JobArgs, JobResult, MethodKey, ProgressFn, TakesProgress } from './decode-api.ts';

export interface RunOptions<F = unknown> {
  /** Aborting rejects the job at once with an AbortError and terminates the worker running it. */
  signal?: AbortSignal;
  /** Progress of the job, for methods that report it (throttled by the worker). */
  onProgress?: TakesProgress<F> extends true ? ProgressFn : never;
  /** Objects inside `args` to transfer instead of copying (e.g. an ArrayBuffer the caller no longer needs). */
  transfer?: Transferable[];
}

export interface WorkerPoolOptions {
  /** Most workers alive at once; default min(hardwareConcurrency - 1, 4), at least 1. */
  size?: number;
  /** Creates one worker; default: the decode worker (src/workers/decode.worker.ts). */
  factory?: () => Worker;
  /** Name used in error messages. */
  name?: string;
  /** An idle worker is terminated after this long (ms), so no worker outlives its use; default 5000. */
  idleTimeoutMs?: number;
}

/** Workers alive in this page across every pool (tests check nothing is left running). */
export const liveWorkers = { count: 0 };

/** A job failed inside the worker, or the worker died under it. */
export class WorkerJobError extends Error {
  constructor(
    readonly method: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WorkerJobError';
  }
}

export function defaultPoolSize(): number {
  const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency > 0 ? navigator.hardwareConcurrency : 2;
  return Math.max(1, Math.min(cores - 1, 4));
}

/** Starts one decode worker (the pool's default factory). */
export function createDecodeWorker(): Worker {
  // Keep this literal: Vite bundles workers written exactly as `new Worker(new URL(..., import.meta.url))`.
  return new Worker(new URL('./decode.worker.ts', import.meta.url), { type: 'module', name: 'decode' });
}

interface Job {
  method: string;
  args: unknown[];
  options: RunOptions<never>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  settled: boolean;
  /** Removes the abort listener. */
  detach: () => void;
}

interface Slot {
  idleTimer?: ReturnType<typeof setTimeout>;
  worker: Worker;
  remote: Comlink.Remote<Record<string, (...args: unknown[]) => unknown>>;
  job: Job | null;
}

export class WorkerPool<Api extends object = DecodeApi> {
  readonly size: number;
  readonly name: string;
  private readonly factory: () => Worker;
  private readonly idleTimeoutMs: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private isDestroyed = false;

  constructor(options: WorkerPoolOptions = {}) {
    const size = options.size ?? defaultPoolSize();
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`WorkerPool size must be an integer >= 1, got ${size}`);
    this.size = size;
    this.factory = options.factory ?? createDecodeWorker;
    this.name = options.name ?? 'decode worker';
    this.idleTimeoutMs = options.idleTimeoutMs ?? 5000;
  }

  /** Workers alive now (started and not terminated). */
  get live(): number {
    return this.slots.length;
  }

  /** Jobs running now. */
  get busy(): number {
    return this.slots.filter((s) => s.job).length;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  get destroyed(): boolean {
    return this.isDestroyed;
  }

  /**
   * Runs `method(...args)` on a free worker (queued while all are busy) and resolves with its
   * result. Rejects with an AbortError when `options.signal` aborts (at once, also while
   * running), with a WorkerJobError ("<method>: <original message>") when the method throws
   * or the worker dies.
   */
  run<K extends MethodKey<Api>>(method: K, args: JobArgs<Api[K]>, options: RunOptions<Api[K]> = {}): Promise<JobResult<Api[K]>> {
    const { signal } = options;
    if (this.isDestroyed) return Promise.reject(new WorkerJobError(method, `${method}: the ${this.name} pool was destroyed`));
    if (signal?.aborted) return Promise.reject(abortError(method, signal));
    return new Promise<JobResult<Api[K]>>((resolve, reject) => {
      const job: Job = {
        method,
        args: [...(args as unknown[])],
        options: options as RunOptions<never>,
        resolve: resolve as (value: unknown) => void,
        reject,
        settled: false,
        detach: () => undefined,
      };
      if (signal) {
        const onAbort = (): void => this.abort(job, signal);
        signal.addEventListener('abort', onAbort, { once: true });
        job.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(job);
      this.pump();
    });
  }

  /** Terminates every worker; running and queued jobs reject. Later runs reject. */
  destroy(): void {
    if (this.isDestroyed) return;
    this.isDestroyed = true;
    const jobs = [...this.slots.flatMap((s) => (s.job ? [s.job] : [])), ...this.queue.splice(0)];
    for (const slot of [...this.slots]) this.remove(slot);
    for (const job of jobs) this.settle(job, null, new WorkerJobError(job.method, `${job.method}: the ${this.name} pool was destroyed before the job finished`));
  }

  /** Starts queued jobs on idle workers, starting workers up to `size`. */
  private pump(): void {
    while (!this.isDestroyed && this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.job);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn() ?? undefined;
        if (!slot) return;
      }
      this.start(slot, this.queue.shift()!);
    }
  }

  private spawn(): Slot | null {
    let worker: Worker;
    try {
      worker = this.factory();
    } catch (e) {
      // Cannot start workers at all (CSP, unsupported): fail the waiting jobs rather than hang.
      for (const job of this.queue.splice(0)) {
        this.settle(job, null, new WorkerJobError(job.method, `${job.method}: could not start a ${this.name}: ${errorMessage(e)}`, { cause: e }));
      }
      return null;
    }
    const slot: Slot = { worker, remote: Comlink.wrap(worker), job: null };
    liveWorkers.count++;
    worker.addEventListener('error', (event) => {
      // Uncaught errors and failed script loads: treat the worker as dead.
      event.preventDefault();
      const detail = event instanceof ErrorEvent && event.message ? event.message : 'the worker script failed to load or crashed';
      this.fail(slot, `the ${this.name} crashed (${detail}); it was replaced`);
    });
    worker.addEventListener('messageerror', () => {
      this.fail(slot, `a message from the ${this.name} could not be deserialized`);
    });
    this.slots.push(slot);
    return slot;
  }

  private start(slot: Slot, job: Job): void {
    clearTimeout(slot.idleTimer);
    slot.job = job;
    const { onProgress, transfer } = job.options as RunOptions<(onProgress?: ProgressFn) => void>;
    const args = job.args;
    if (transfer && transfer.length > 0) {
      // comlink collects transferables per argument object; attach the list to the first object argument.
      const carrier = args.findIndex((a) => typeof a === 'object' && a !== null);
      if (carrier < 0) {
        this.finish(slot, job, null, new WorkerJobError(job.method, `${job.method}: options.transfer lists objects but no argument is an object`));
        return;
      }
      args[carrier] = Comlink.transfer(args[carrier], transfer);
    }
    if (onProgress) {
      args.push(
        Comlink.proxy((fraction: number, message?: string) => {
          if (job.settled) return;
          try {
            onProgress(fraction, message);
          } catch (e) {
            console.error(`${job.method}: onProgress threw`, e);
          }
        }),
      );
    }
    let call: Promise<unknown>;
    try {
      call = Promise.resolve(slot.remote[job.method](...args));
    } catch (e) {
      // Arguments that cannot be cloned throw synchronously from postMessage.
      this.finish(slot, job, null, new WorkerJobError(job.method, `${job.method}: ${errorMessage(e)}`, { cause: e }));
      return;
    }
    call.then(
      (result) => this.finish(slot, job, { result }),
      (error) => this.finish(slot, job, null, new WorkerJobError(job.method, `${job.method}: ${errorMessage(error)}`, { cause: error })),
    );
  }

  /** A job ended normally (result or thrown error): the worker is free again. */
  private finish(slot: Slot, job: Job, ok: { result: unknown } | null, error?: unknown): void {
    if (job.settled) return;
    if (slot.job === job) slot.job = null;
    this.settle(job, ok, error);
    this.pump();
    if (!slot.job && this.slots.includes(slot)) {
      clearTimeout(slot.idleTimer);
      slot.idleTimer = setTimeout(() => !slot.job && this.remove(slot), this.idleTimeoutMs);
    }
  }

  /** The worker is unusable: terminate it, reject its job, start queued work on a fresh one. */
  private fail(slot: Slot, why: string): void {
    if (!this.remove(slot)) return;
    const job = slot.job;
    slot.job = null;
    if (job) this.settle(job, null, new WorkerJobError(job.method, `${job.method}: ${why}`));
    this.pump();
  }

  private abort(job: Job, signal: AbortSignal): void {
    if (job.settled) return;
    const queuedAt = this.queue.indexOf(job);
    if (queuedAt >= 0) this.queue.splice(queuedAt, 1);
    const slot = this.slots.find((s) => s.job === job);
    if (slot) {
      // A synchronous decoder cannot be interrupted: terminating the worker is the cancel.
      this.remove(slot);
      slot.job = null;
    }
    this.settle(job, null, abortError(job.method, signal));
    this.pump();
  }

  private remove(slot: Slot): boolean {
    const i = this.slots.indexOf(slot);
    if (i < 0) return false;
    this.slots.splice(i, 1);
    clearTimeout(slot.idleTimer);
    slot.worker.terminate();
    liveWorkers.count--;
    return true;
  }

  private settle(job: Job, ok: { result: unknown } | null, error?: unknown): void {
    if (job.settled) return;
    job.settled = true;
    job.detach();
    if (ok) job.resolve(ok.result);
    else job.reject(error);
  }
}

function errorMessage(e: unknown): string {
  if (e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e)) return String((e as { message: unknown }).message);
  return String(e);
}

function abortError(method: string, signal: AbortSignal): DOMException {
  const reason: unknown = signal.reason;
  const why = reason instanceof DOMException && reason.name === 'AbortError' ? '' : reason === undefined ? '' : ` (${errorMessage(reason)})`;
  return new DOMException(`${method} was aborted${why}`, 'AbortError');
}

let shared: WorkerPool | null = null;

/** The app's shared decode pool, created on first use (and again after someone destroys it). */
export function decodePool(): WorkerPool {
  if (!shared || shared.destroyed) shared = new WorkerPool();
  return shared;
}

import * as Comlink from 'comlink';
import type { ProgressFn } from './decode-api.ts';

/**
 * Throttled progress reporting: at most one message per `intervalMs` (fractions clamped and
 * kept non-decreasing), and the comlink proxy released when the job is done.
 */
export function progressReporter(onProgress: ProgressFn | undefined, intervalMs = 50) {
  let last = -Infinity;
  let high = 0;
  let closed = false;
  const send = (fraction: number, message?: string): void => {
    if (!onProgress || closed) return;
    high = Math.max(high, Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0)));
    last = performance.now();
    // A comlink proxy returns a promise; a failing callback must not fail the job.
    void Promise.resolve(onProgress(high, message)).catch(() => {});
  };
  return {
    /** Reports unless one was sent less than `intervalMs` ago. */
    report(fraction: number, message?: string): void {
      if (performance.now() - last >= intervalMs) send(fraction, message);
    },
    /** Reports now (stage changes, the final 1). */
    force: send,
    /** Releases the caller's callback proxy; later reports are dropped. */
    close(): void {
      if (closed) return;
      closed = true;
      const release = (onProgress as unknown as { [Comlink.releaseProxy]?: () => void } | undefined)?.[Comlink.releaseProxy];
      try {
        if (typeof release === 'function') release();
      } catch {
        // Not a proxy (called directly in a test) or already released.
      }
    },
  };
}

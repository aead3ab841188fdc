/**
 * Splat viewers side by side: the 4D Gaussian player's renderer against the web viewers a
 * user would pick instead (research 4dgs.md §3), on the same synthetic static 3DGS .ply
 * (SH degree 3), the same 800×600 canvas and the same camera path, in one browser run.
 *
 * - PlayCanvas 2.23 on WebGPU (GPU sort every frame: the like-for-like peer) and on WebGL2
 *   (CPU sort in a worker when the camera moves);
 * - GaussianSplats3D 0.4.7 and Spark 2.2 (three.js, WebGL2, worker sorts that the render
 *   does not wait for).
 *
 * Each viewer loads the .ply bytes, renders until splats show, then is timed over a window
 * of frames with a static camera and/or a camera orbiting 10° per frame (which makes the
 * CPU-sorting peers re-sort all the time), and is torn down completely before the next one
 * starts. Each peer module is imported only when its turn comes. A peer that throws or
 * runs past its time limit becomes a row with `failed: …` and NaN times; the run goes on.
 */
import { row, type BenchContext, type BenchRow, type BenchSuite } from './harness.ts';
import { imagePsnr, type CameraPath, type FrameImage, type PassResult, type PeerOptions, type PeerResult, type RunPeer } from './peers/peer-runner.ts';
// The scene writer (and the formats code under it) loads with the suite's first run, not with the page.
import type * as SyntheticScene from './synthetic-scene.ts';

const WIDTH = 800;
const HEIGHT = 600;
/** Degrees the moving camera turns per frame. */
const ORBIT_STEP_DEG = 10;
/** How long a timed-out peer may take to tear down before we stop waiting for it. */
const TEARDOWN_GRACE_MS = 15_000;

/** The camera paths, on the orbit around the synthetic scene. */
export function cameraPaths(orbitPose: typeof SyntheticScene.orbitPose): Record<'static' | 'moving', CameraPath> {
  return {
    static: { name: 'static camera', pose: () => orbitPose(30, 15) },
    moving: { name: 'moving camera', pose: (frame) => orbitPose(30 + ORBIT_STEP_DEG * frame, 15 + 10 * Math.sin(frame * 0.3)) },
  };
}

export interface Peer {
  impl: string;
  ours: boolean;
  variant?: string;
  load(): Promise<{ runPeer: RunPeer }>;
}

const PEERS: Peer[] = [
  { impl: 'ours: 4D Gaussian player', ours: true, load: () => import('./peers/ours.ts') },
  { impl: 'PlayCanvas 2.23 WebGPU', ours: false, variant: 'webgpu', load: () => import('./peers/playcanvas.ts') },
  { impl: 'PlayCanvas 2.23 WebGL2', ours: false, variant: 'webgl2', load: () => import('./peers/playcanvas.ts') },
  { impl: 'GaussianSplats3D 0.4.7', ours: false, load: () => import('./peers/gaussian-splats-3d.ts') },
  { impl: 'Spark 2.2', ours: false, load: () => import('./peers/spark.ts') },
];

interface SplatCase {
  count: number;
  paths: ('static' | 'moving')[];
  /** Cap on one pass's timed window. */
  maxMeasureMs: number;
}

const CASES: SplatCase[] = [
  { count: 100_000, paths: ['static', 'moving'], maxMeasureMs: 12_000 },
  { count: 500_000, paths: ['moving'], maxMeasureMs: 20_000 },
];

export function caseLabel(count: number, pathName: string): string {
  return `${count / 1000}k SH3, ${WIDTH}x${HEIGHT}, ${pathName}`;
}

export const splatBench: BenchSuite = {
  name: 'splats',
  title: 'Splat viewers: ours vs PlayCanvas (WebGPU, WebGL2), GaussianSplats3D, Spark',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const { orbitPose, syntheticPly } = await import('./synthetic-scene.ts');
    const camera = cameraPaths(orbitPose);
    const stage = document.createElement('div');
    stage.className = 'bench-stage';
    // On screen and at 1 CSS px per pixel: the compositor paces presented frames.
    Object.assign(stage.style, { position: 'fixed', left: '0', top: '0', width: `${WIDTH}px`, height: `${HEIGHT}px`, zIndex: '1000', background: '#000', overflow: 'hidden' });
    document.body.appendChild(stage);
    const rows: BenchRow[] = [];
    const steps = CASES.length * (PEERS.length + 1);
    let step = 0;
    try {
      for (const c of CASES) {
        ctx.progress(step++ / steps, `writing a ${c.count / 1000}k-Gaussian .ply`);
        await new Promise((r) => setTimeout(r, 0));
        const ply = syntheticPly(c.count, 1);
        const paths = c.paths.map((p) => camera[p]);
        /** Our last frame per path, with its frame count (the pose it ends at). */
        const oursLast = new Map<string, { image: FrameImage; frames: number }>();
        for (const peer of PEERS) {
          ctx.progress(step++ / steps, `${c.count / 1000}k Gaussians: ${peer.impl}`);
          ctx.signal.throwIfAborted();
          const opts: Omit<PeerOptions, 'signal'> = {
            width: WIDTH,
            height: HEIGHT,
            warmupFrames: 3,
            frames: 10,
            maxMeasureMs: c.maxMeasureMs,
            paths,
            variant: peer.variant,
            device: ctx.device,
          };
          const timeoutMs = Math.max(120_000, c.count * 0.48);
          let result: PeerResult | null = null;
          let failure = '';
          try {
            result = await runWithTimeout(peer, stage, ply, opts, timeoutMs, ctx.signal);
          } catch (e) {
            if (ctx.signal.aborted) throw e;
            failure = e instanceof Error ? e.message : String(e);
            console.warn(`splat bench: ${peer.impl} at ${c.count}:`, e);
          } finally {
            stage.replaceChildren();
            (globalThis as { gc?: () => void }).gc?.();
            await new Promise((r) => setTimeout(r, 200));
          }
          for (const path of paths) {
            const label = caseLabel(c.count, path.name);
            const pass = result?.passes.find((p) => p.path === path.name);
            if (!result || !pass) {
              rows.push({ suite: 'splats', case: label, impl: peer.impl, ours: peer.ours, medianMs: NaN, minMs: NaN, samples: 0, note: `failed: ${failure || 'no result for this camera path'}` });
              continue;
            }
            if (peer.ours && pass.image) oursLast.set(path.name, { image: pass.image, frames: pass.frameMs.length });
            const bits = [
              result.note,
              `load ${(result.loadMs / 1000).toFixed(1)} s`,
              `${(pass.coverage * 100).toFixed(0)}% of pixels lit`,
              peer.ours ? '' : agreement(oursLast.get(path.name), pass),
              `synced mean ${pass.syncedMeanMs.toFixed(1)} ms`,
              pass.sorts === undefined ? '' : `${pass.sorts} sorts in ${pass.frameMs.length} frames`,
            ].filter(Boolean);
            rows.push(row('splats', label, peer.impl, peer.ours, pass.frameMs, { note: bits.join('; ') }));
          }
        }
      }
    } finally {
      stage.remove();
    }
    ctx.progress(1, 'splats done');
    // Group by case (in the order the cases were defined), ours first.
    const order = CASES.flatMap((c) => c.paths.map((p) => caseLabel(c.count, camera[p].name)));
    return rows.sort((a, b) => order.indexOf(a.case) - order.indexOf(b.case) || PEERS.findIndex((p) => p.impl === a.impl) - PEERS.findIndex((p) => p.impl === b.impl));
  },
};

/**
 * How close a peer's last frame is to ours: PSNR of the 4× downscaled captures when both
 * ended at the same pose (same number of frames on the path).
 */
function agreement(ours: { image: FrameImage; frames: number } | undefined, pass: PassResult): string {
  if (!ours || !pass.image) return '';
  if (ours.frames !== pass.frameMs.length) return 'last frame at another pose than ours';
  return `last frame vs ours ${imagePsnr(ours.image, pass.image).toFixed(1)} dB PSNR`;
}

/**
 * Runs one peer with a time limit. On timeout (or cancel) the peer's signal aborts, which
 * makes it stop and tear down; a peer stuck inside a library call is given up on after a
 * grace period.
 */
export async function runWithTimeout(peer: Peer, stage: HTMLElement, ply: Uint8Array, opts: Omit<PeerOptions, 'signal'>, timeoutMs: number, outer: AbortSignal): Promise<PeerResult> {
  const controller = new AbortController();
  const onOuter = () => controller.abort(outer.reason);
  outer.addEventListener('abort', onOuter, { once: true });
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
  let graceTimer = 0;
  const givenUp = new Promise<never>((_, reject) => {
    controller.signal.addEventListener('abort', () => {
      graceTimer = window.setTimeout(() => reject(new Error(`${String((controller.signal.reason as Error)?.message ?? controller.signal.reason)} (teardown did not finish)`)), TEARDOWN_GRACE_MS);
    });
  });
  givenUp.catch(() => undefined);
  try {
    const { runPeer } = await peer.load();
    return await Promise.race([runPeer(stage, ply, { ...opts, signal: controller.signal }), givenUp]);
  } catch (e) {
    // Report a timeout as such rather than as the AbortError it caused inside the peer.
    if (controller.signal.aborted && !outer.aborted) throw controller.signal.reason instanceof Error ? controller.signal.reason : new Error(String(controller.signal.reason));
    throw e;
  } finally {
    clearTimeout(timer);
    clearTimeout(graceTimer);
    outer.removeEventListener('abort', onOuter);
  }
}

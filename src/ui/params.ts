/**
 * URL parameters of a route, from `#/route?x=1` merged over `?x=1` in the page URL.
 * `seed`, `t`, `frames` and `size` make a render deterministic (goldens).
 */
export interface RunParams {
  seed: number;
  /** Fixed time, when given: animation stops there. */
  t: number | null;
  /** Render exactly this many frames, then freeze. */
  frames: number | null;
  /** Fixed canvas size in device pixels, instead of the layout size. */
  size: { width: number; height: number } | null;
  all: URLSearchParams;
}

export function routeOf(hash: string): { route: string; query: URLSearchParams } {
  const clean = hash.replace(/^#\/?/, '');
  const q = clean.indexOf('?');
  const route = (q < 0 ? clean : clean.slice(0, q)).replace(/\/+$/, '');
  return { route, query: new URLSearchParams(q < 0 ? '' : clean.slice(q + 1)) };
}

export function parseRunParams(search: string, hash: string): RunParams {
  const all = new URLSearchParams(search);
  for (const [k, v] of routeOf(hash).query) all.set(k, v);
  const num = (key: string): number | null => {
    const raw = all.get(key);
    if (raw === null || raw.trim() === '') return null;
    const value = Number(raw);
    return Number.isFinite(value) ? value : null;
  };
  const sizeMatch = /^(\d{1,5})x(\d{1,5})$/.exec(all.get('size') ?? '');
  const size = sizeMatch ? { width: clampInt(+sizeMatch[1], 1, 8192), height: clampInt(+sizeMatch[2], 1, 8192) } : null;
  const frames = num('frames');
  return {
    seed: Math.trunc(num('seed') ?? 1) >>> 0,
    t: num('t'),
    frames: frames === null ? null : clampInt(frames, 1, 1_000_000),
    size,
    all,
  };
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.round(v)));
}

/**
 * Accepts only http(s) URLs (relative ones resolve against the page). Anything else
 * (javascript:, data:, file:, blob: from elsewhere) is refused with a clear error.
 */
export function safeAssetUrl(raw: string, base: string): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new Error(`Not a valid URL: ${JSON.stringify(raw.slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`Only http(s) URLs can be opened, not ${url.protocol}`);
  }
  return url;
}

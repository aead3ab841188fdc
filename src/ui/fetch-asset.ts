import { safeAssetUrl } from './params.ts';

/**
 * Downloads an asset as a Blob with progress. Only http(s) URLs are fetched; cross-origin
 * ones must allow CORS (fetch enforces it). Size comes from Content-Length when present.
 */
export async function fetchAsset(
  raw: string,
  options: { signal?: AbortSignal; onProgress?: (fraction: number | null, message: string) => void } = {},
): Promise<{ blob: Blob; name: string }> {
  const url = safeAssetUrl(raw, location.href);
  const name = decodeURIComponent(url.pathname.split('/').pop() || url.hostname);
  let response: Response;
  try {
    response = await fetch(url, { signal: options.signal, mode: 'cors', credentials: 'same-origin' });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new Error(`Could not fetch ${url.href}: ${(e as Error).message} (network error, or the server does not allow cross-origin requests)`);
  }
  if (!response.ok) throw new Error(`Could not fetch ${url.href}: HTTP ${response.status} ${response.statusText}`);
  const total = Number(response.headers.get('content-length')) || 0;
  if (!response.body) return { blob: await response.blob(), name };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.byteLength;
    options.onProgress?.(total ? Math.min(1, received / total) : null, `Downloading ${name}: ${(received / 1048576).toFixed(1)} MiB`);
  }
  return { blob: new Blob(chunks as BlobPart[]), name };
}

// Where the system Chromium lives and the flags that give it WebGPU without a GPU
// (SwiftShader's Vulkan ICD ships with Debian's chromium). Shared by vitest's
// browser project, Playwright e2e and the benchmark runner.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) {
    if (existsSync(p)) return p;
  }
  try {
    return execSync('command -v chromium', { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('No Chromium found: install Debian chromium (apt-get install -y chromium) or set CHROMIUM_PATH');
  }
}

/** With a real GPU (GPU=1) drop the SwiftShader forcing. */
export function chromiumArgs(): string[] {
  const base = [
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan',
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    // Tests measure page memory after a forced collection.
    '--js-flags=--expose-gc',
    '--enable-precise-memory-info',
  ];
  if (process.env.GPU === '1') return [...base, '--ignore-gpu-blocklist', '--use-angle=vulkan'];
  return [...base, '--use-webgpu-adapter=swiftshader', '--use-angle=swiftshader', '--use-vulkan=swiftshader'];
}

import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { chromiumArgs, chromiumPath } from './tools/chromium.ts';

export default defineConfig({
  // Relative base: dist/ works from any sub-path of any static host.
  base: './',
  // Hash routing: no SPA fallback, so a missing asset is a real 404.
  appType: 'mpa',
  build: { target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 3072 },
  worker: { format: 'es' },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', environment: 'node', include: ['tests/unit/**/*.test.ts'] },
      },
      {
        // Kernel tests: WGSL against CPU references on a real WebGPU device
        // (headless system Chromium; SwiftShader when there is no GPU).
        extends: true,
        test: {
          name: 'browser',
          include: ['tests/browser/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({
              launchOptions: { executablePath: chromiumPath(), args: chromiumArgs() },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});

import { defineConfig, devices } from '@playwright/test';
import { chromiumArgs, chromiumPath } from './tools/chromium.ts';

/** E2E_PORT lets two runs share a machine (CI uses the default). */
const PORT = Number(process.env.E2E_PORT ?? 4173);

/**
 * e2e against the built app (dist/) served on 127.0.0.1, in the system Chromium
 * (SwiftShader WebGPU when there is no GPU). Never a downloaded browser.
 */
export default defineConfig({
  testDir: 'e2e',
  timeout: 180_000,
  expect: { timeout: 60_000, toHaveScreenshot: { threshold: 0.15, maxDiffPixelRatio: 0.01 } },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? [['list']] : [['list'], ['html', { open: 'never' }]],
  snapshotPathTemplate: '{testDir}/goldens/{arg}-{projectName}{ext}',
  use: {
    baseURL: `http://127.0.0.1:${PORT}/`,
    launchOptions: { executablePath: chromiumPath(), args: chromiumArgs() },
    trace: 'retain-on-failure',
  },
  projects: [
    { name: 'desktop', grepInvert: /@phone-only/, use: { viewport: { width: 1280, height: 800 } } },
    {
      name: 'phone',
      grep: /@phone/,
      use: { ...devices['Pixel 7'], viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true, defaultBrowserType: 'chromium' },
    },
  ],
  webServer: {
    command: `npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
  },
});

import { defineConfig, type PlaywrightTestConfig } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import base from '../playwright.config.ts';

/** `npm run bench`: the benchmark page, headless, in the same system Chromium as e2e. */
export default defineConfig({
  ...base,
  testDir: '.',
  testMatch: /.*\.bench\.ts$/,
  timeout: 3_600_000,
  reporter: [['list']],
  projects: [{ name: 'bench', use: { viewport: { width: 1280, height: 800 } } }],
  // The server runs from the project root, where dist/ is.
  webServer: { ...(base.webServer as NonNullable<PlaywrightTestConfig['webServer']> & { command: string }), cwd: fileURLToPath(new URL('..', import.meta.url)) },
});

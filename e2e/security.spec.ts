import { expect, test } from '@playwright/test';
import { watchErrors } from './util.ts';

test('the Content-Security-Policy forbids eval and inline scripts @phone', async ({ page }) => {
  const violations: string[] = [];
  page.on('console', (m) => m.text().includes('Content Security Policy') && violations.push(m.text()));
  await page.goto('./');
  // DevTools evaluation is exempt from eval checks, so check the policy itself and an inline script.
  const policy = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  const scriptSrc = /script-src([^;]*)/.exec(policy ?? '')?.[1] ?? '';
  expect(scriptSrc).toContain("'self'");
  // 'wasm-unsafe-eval' allows compiling WebAssembly only, not JavaScript eval.
  expect(scriptSrc.replace("'wasm-unsafe-eval'", '')).not.toMatch(/unsafe-eval|unsafe-inline|\*/);
  expect(policy).toContain("object-src 'none'");
  const inline = await page.evaluate(async () => {
    const script = document.createElement('script');
    script.textContent = 'window.__inline = 1';
    document.body.append(script);
    await new Promise((r) => setTimeout(r, 50));
    return (window as unknown as { __inline?: number }).__inline ?? 'blocked';
  });
  expect(inline).toBe('blocked');
  expect(violations.length).toBeGreaterThan(0);
  expect(await page.locator('script:not([src])').count()).toBe(1); // only the one the test added
});

test('a hostile ?url= is refused and shown as text, never as HTML', async ({ page }) => {
  const errors = watchErrors(page);
  let dialog = false;
  page.on('dialog', (d) => {
    dialog = true;
    void d.dismiss();
  });
  await page.goto(`./#/selftest?frames=1&size=32x32&url=${encodeURIComponent('javascript:alert(1)//<img src=x onerror=alert(2)>')}`);
  await expect(page.locator('.demo-error')).toContainText('Only http(s) URLs');
  await expect(page.locator('.demo-error img')).toHaveCount(0);
  expect(dialog).toBe(false);
  expect(errors).toEqual([]);
});

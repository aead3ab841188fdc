import { describe, expect, test } from 'vitest';
import { parseRunParams, routeOf, safeAssetUrl } from '../../src/ui/params.ts';

describe('routeOf', () => {
  test.each([
    ['', ''],
    ['#/', ''],
    ['#/gaussians', 'gaussians'],
    ['#/gaussians/', 'gaussians'],
    ['#/ngp?app=gia&seed=2', 'ngp'],
    ['#ngp', 'ngp'],
  ])('%s -> %s', (hash, route) => expect(routeOf(hash).route).toBe(route));

  test('query after the route', () => expect(routeOf('#/ngp?app=nerf').query.get('app')).toBe('nerf'));
});

describe('parseRunParams', () => {
  test('defaults', () => {
    const p = parseRunParams('', '#/gaussians');
    expect(p).toMatchObject({ seed: 1, t: null, frames: null, size: null });
  });
  test('hash parameters override the page query', () => {
    const p = parseRunParams('?seed=9&t=0.1', '#/gaussians?seed=3&t=0.5&frames=4&size=320x240');
    expect(p).toMatchObject({ seed: 3, t: 0.5, frames: 4, size: { width: 320, height: 240 } });
  });
  test('garbage is ignored, sizes and frames are clamped', () => {
    const p = parseRunParams('', '#/x?seed=abc&t=NaN&frames=-5&size=99999x2');
    expect(p.seed).toBe(1);
    expect(p.t).toBeNull();
    expect(p.frames).toBe(1);
    expect(p.size).toEqual({ width: 8192, height: 2 });
    expect(parseRunParams('', '#/x?size=12').size).toBeNull();
  });
});

describe('safeAssetUrl', () => {
  const base = 'http://127.0.0.1:4173/app/';
  test('http(s) and relative URLs are accepted', () => {
    expect(safeAssetUrl('scene.ply', base).href).toBe('http://127.0.0.1:4173/app/scene.ply');
    expect(safeAssetUrl('https://example.org/a.splat', base).protocol).toBe('https:');
  });
  test.each(['javascript:alert(1)', 'data:text/html,<script>', 'file:///etc/passwd', 'blob:http://x/1', 'ftp://x/y'])('%s is refused', (raw) => {
    expect(() => safeAssetUrl(raw, base)).toThrow(/Only http\(s\) URLs/);
  });
  test('invalid URLs get a clear error', () => expect(() => safeAssetUrl('http://[::1', base)).toThrow(/Not a valid URL/));
});

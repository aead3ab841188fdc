/**
 * Sample inputs drawn by the project (no photographs, no licence questions): a person in a
 * plain top standing before a light studio background, and garments laid flat on white, in the
 * VITON framing (portrait 3:4, upper body). Drawn analytically per pixel (signed distances with
 * a one-pixel ramp), so every browser and resolution gets the same pixels for the same size.
 */

export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray<ArrayBuffer>;
}

type Rgb = readonly [number, number, number];

/** Signed distance to an axis-aligned ellipse (approximate, fine for drawing). */
function ellipse(x: number, y: number, cx: number, cy: number, rx: number, ry: number): number {
  const dx = (x - cx) / rx;
  const dy = (y - cy) / ry;
  return (Math.sqrt(dx * dx + dy * dy) - 1) * Math.min(rx, ry);
}

/** Signed distance to a rounded box. */
function box(x: number, y: number, cx: number, cy: number, hw: number, hh: number, r: number): number {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

/** Distance to a capsule from (ax, ay) to (bx, by) of radius r. */
function capsule(x: number, y: number, ax: number, ay: number, bx: number, by: number, r: number): number {
  const px = x - ax;
  const py = y - ay;
  const vx = bx - ax;
  const vy = by - ay;
  const t = Math.max(0, Math.min(1, (px * vx + py * vy) / (vx * vx + vy * vy)));
  return Math.hypot(px - vx * t, py - vy * t) - r;
}

function paint(img: RgbaImage, shade: (x: number, y: number) => Rgb): void {
  const { width, height, data } = img;
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      const c = shade((px + 0.5) / width, (py + 0.5) / height);
      const i = (py * width + px) * 4;
      data[i] = c[0];
      data[i + 1] = c[1];
      data[i + 2] = c[2];
      data[i + 3] = 255;
    }
  }
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  const k = Math.max(0, Math.min(1, t));
  return [a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k, a[2] + (b[2] - a[2]) * k];
}

/** Coverage of a shape with signed distance `d` (in normalized units) at pixel size `px`. */
function cover(d: number, px: number): number {
  return Math.max(0, Math.min(1, 0.5 - d / px));
}

export interface Garment {
  name: string;
  colour: Rgb;
  accent: Rgb;
  pattern: 'solid' | 'stripes' | 'dots' | 'check';
  sleeves: 'short' | 'long' | 'none';
}

export const GARMENTS: readonly Garment[] = [
  { name: 'Red T-shirt', colour: [200, 40, 48], accent: [200, 40, 48], pattern: 'solid', sleeves: 'short' },
  { name: 'Navy stripes', colour: [30, 50, 110], accent: [235, 235, 240], pattern: 'stripes', sleeves: 'long' },
  { name: 'Yellow dots', colour: [240, 200, 40], accent: [40, 40, 40], pattern: 'dots', sleeves: 'short' },
  { name: 'Green check', colour: [40, 130, 70], accent: [20, 70, 40], pattern: 'check', sleeves: 'none' },
];

export interface Person {
  name: string;
  skin: Rgb;
  hair: Rgb;
  top: Rgb;
  trousers: Rgb;
  background: Rgb;
}

export const PEOPLE: readonly Person[] = [
  { name: 'Person A (grey top)', skin: [224, 178, 140], hair: [60, 40, 30], top: [120, 125, 135], trousers: [40, 50, 80], background: [236, 234, 230] },
  { name: 'Person B (white top)', skin: [150, 100, 70], hair: [20, 20, 20], top: [240, 240, 236], trousers: [70, 60, 50], background: [214, 222, 230] },
];

function garmentColour(g: Garment, x: number, y: number): Rgb {
  switch (g.pattern) {
    case 'stripes':
      return Math.floor(y * 24) % 2 ? g.accent : g.colour;
    case 'dots': {
      const fx = (x * 12) % 1;
      const fy = (y * 16) % 1;
      return Math.hypot(fx - 0.5, fy - 0.5) < 0.22 ? g.accent : g.colour;
    }
    case 'check':
      return (Math.floor(x * 10) + Math.floor(y * 13)) % 2 ? g.accent : g.colour;
    default:
      return g.colour;
  }
}

/** Distance field of a flat-laid top (body + sleeves + neck cut-out), in garment image units. */
function topShape(x: number, y: number, sleeves: Garment['sleeves'], scale = 1, cx = 0.5, cy = 0.55): number {
  const X = (x - cx) / scale + 0.5;
  const Y = (y - cy) / scale + 0.55;
  let d = box(X, Y, 0.5, 0.6, 0.24, 0.3, 0.04);
  if (sleeves === 'short') {
    d = Math.min(d, capsule(X, Y, 0.3, 0.38, 0.14, 0.52, 0.07), capsule(X, Y, 0.7, 0.38, 0.86, 0.52, 0.07));
  } else if (sleeves === 'long') {
    d = Math.min(d, capsule(X, Y, 0.3, 0.38, 0.12, 0.78, 0.06), capsule(X, Y, 0.7, 0.38, 0.88, 0.78, 0.06));
  }
  // Neck opening.
  d = Math.max(d, -ellipse(X, Y, 0.5, 0.3, 0.09, 0.06));
  return d * scale;
}

export function drawGarment(index: number, width: number, height: number): RgbaImage {
  const g = GARMENTS[((index % GARMENTS.length) + GARMENTS.length) % GARMENTS.length];
  const img: RgbaImage = { width, height, data: new Uint8ClampedArray(width * height * 4) };
  const px = 1 / Math.min(width, height);
  const white: Rgb = [250, 250, 250];
  paint(img, (x, y) => {
    const d = topShape(x, y, g.sleeves);
    const c = garmentColour(g, x, y);
    // A faint fold shadow down the middle.
    const shaded = mix(c, [0, 0, 0], 0.12 * Math.exp(-(((x - 0.5) / 0.05) ** 2)));
    return mix(white, shaded, cover(d, px));
  });
  return img;
}

export function drawPerson(index: number, width: number, height: number): RgbaImage {
  const p = PEOPLE[((index % PEOPLE.length) + PEOPLE.length) % PEOPLE.length];
  const img: RgbaImage = { width, height, data: new Uint8ClampedArray(width * height * 4) };
  const px = 1 / Math.min(width, height);
  paint(img, (x, y) => {
    // Background with a soft vertical gradient.
    let c: Rgb = mix(p.background, [p.background[0] - 20, p.background[1] - 20, p.background[2] - 20], y);
    // Trousers.
    c = mix(c, p.trousers, cover(box(x, y, 0.5, 0.98, 0.2, 0.12, 0.03), px));
    // Arms (skin), then the top over the shoulders and torso.
    const arms = Math.min(capsule(x, y, 0.28, 0.44, 0.2, 0.9, 0.055), capsule(x, y, 0.72, 0.44, 0.8, 0.9, 0.055));
    c = mix(c, p.skin, cover(arms, px));
    const torso = Math.min(box(x, y, 0.5, 0.68, 0.2, 0.26, 0.06), capsule(x, y, 0.3, 0.45, 0.25, 0.58, 0.065), capsule(x, y, 0.7, 0.45, 0.75, 0.58, 0.065));
    const shade = 0.15 * Math.exp(-(((x - 0.5) / 0.06) ** 2));
    c = mix(c, mix(p.top, [0, 0, 0], shade), cover(torso, px));
    // Neck and head.
    c = mix(c, p.skin, cover(box(x, y, 0.5, 0.36, 0.045, 0.06, 0.02), px));
    c = mix(c, p.skin, cover(ellipse(x, y, 0.5, 0.22, 0.1, 0.12), px));
    c = mix(c, p.hair, cover(Math.max(ellipse(x, y, 0.5, 0.18, 0.11, 0.11), y - 0.17), px));
    // Eyes.
    c = mix(c, [30, 30, 30], cover(Math.min(ellipse(x, y, 0.46, 0.23, 0.012, 0.009), ellipse(x, y, 0.54, 0.23, 0.012, 0.009)), px));
    return c;
  });
  return img;
}

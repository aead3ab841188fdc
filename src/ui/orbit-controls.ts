/**
 * Orbit / pan / zoom around a target with mouse, touch and keyboard, for any demo with a
 * 3D view. It owns no rendering: it turns input on an element into a camera pose and calls
 * `onChange`. Mouse: drag orbits, right- or shift-drag pans, wheel zooms. Touch: one
 * finger orbits, two fingers pinch-zoom and pan. Keys: arrows orbit, shift+arrows pan,
 * +/- zoom, R resets.
 */
import { vec3 } from 'gl-matrix';

export interface CameraPose {
  position: [number, number, number];
  target: [number, number, number];
  up: [number, number, number];
  fovYDeg: number;
}

export class OrbitControls {
  private target = vec3.create();
  private up = vec3.fromValues(0, 1, 0);
  private distance = 1;
  private yaw = 0;
  private pitch = 0;
  private fovYDeg = 50;
  private home: CameraPose;
  private readonly pointers = new Map<number, { x: number; y: number }>();
  private pinch: { distance: number; mid: { x: number; y: number } } | null = null;
  private panMode = false;

  constructor(
    private readonly element: HTMLElement,
    initial: CameraPose,
    private readonly onChange: (pose: CameraPose) => void,
  ) {
    this.home = initial;
    this.set(initial, false);
    element.tabIndex = element.tabIndex >= 0 ? element.tabIndex : 0;
    element.addEventListener('pointerdown', this.onPointerDown);
    element.addEventListener('pointermove', this.onPointerMove);
    element.addEventListener('pointerup', this.onPointerUp);
    element.addEventListener('pointercancel', this.onPointerUp);
    element.addEventListener('wheel', this.onWheel, { passive: false });
    element.addEventListener('keydown', this.onKey);
    element.addEventListener('contextmenu', this.onContextMenu);
  }

  /** Sets the pose (and, with `asHome`, what R returns to). */
  set(pose: CameraPose, notify = true, asHome = false): void {
    if (asHome) this.home = pose;
    vec3.set(this.target, ...pose.target);
    vec3.normalize(this.up, vec3.fromValues(...pose.up));
    this.fovYDeg = pose.fovYDeg;
    const offset = vec3.sub(vec3.create(), vec3.fromValues(...pose.position), this.target);
    this.distance = Math.max(1e-6, vec3.length(offset));
    const { right, forward } = this.basis();
    // Angles relative to the up axis: pitch above the plane, yaw around it.
    const along = vec3.dot(offset, this.up) / this.distance;
    this.pitch = Math.asin(Math.max(-1, Math.min(1, along)));
    this.yaw = Math.atan2(vec3.dot(offset, right), vec3.dot(offset, forward));
    if (notify) this.onChange(this.pose());
  }

  reset(): void {
    this.set(this.home);
  }

  pose(): CameraPose {
    const { right, forward } = this.basis();
    const dir = vec3.create();
    vec3.scaleAndAdd(dir, dir, forward, Math.cos(this.pitch) * Math.cos(this.yaw));
    vec3.scaleAndAdd(dir, dir, right, Math.cos(this.pitch) * Math.sin(this.yaw));
    vec3.scaleAndAdd(dir, dir, this.up, Math.sin(this.pitch));
    const position = vec3.scaleAndAdd(vec3.create(), this.target, dir, this.distance);
    return { position: [...position] as CameraPose['position'], target: [...this.target] as CameraPose['target'], up: [...this.up] as CameraPose['up'], fovYDeg: this.fovYDeg };
  }

  orbit(dYaw: number, dPitch: number): void {
    this.yaw += dYaw;
    this.pitch = Math.max(-1.55, Math.min(1.55, this.pitch + dPitch));
    this.onChange(this.pose());
  }

  /** Moves the target in the view plane by a fraction of the view height. */
  pan(dx: number, dy: number): void {
    const pose = this.pose();
    const view = vec3.normalize(vec3.create(), vec3.sub(vec3.create(), this.target, vec3.fromValues(...pose.position)));
    const right = vec3.normalize(vec3.create(), vec3.cross(vec3.create(), view, this.up));
    const upScreen = vec3.cross(vec3.create(), right, view);
    const scale = 2 * this.distance * Math.tan((this.fovYDeg * Math.PI) / 360);
    vec3.scaleAndAdd(this.target, this.target, right, -dx * scale);
    vec3.scaleAndAdd(this.target, this.target, upScreen, dy * scale);
    this.onChange(this.pose());
  }

  zoom(factor: number): void {
    this.distance = Math.max(1e-3, Math.min(1e5, this.distance * factor));
    this.onChange(this.pose());
  }

  destroy(): void {
    const e = this.element;
    e.removeEventListener('pointerdown', this.onPointerDown);
    e.removeEventListener('pointermove', this.onPointerMove);
    e.removeEventListener('pointerup', this.onPointerUp);
    e.removeEventListener('pointercancel', this.onPointerUp);
    e.removeEventListener('wheel', this.onWheel);
    e.removeEventListener('keydown', this.onKey);
    e.removeEventListener('contextmenu', this.onContextMenu);
  }

  /** An orthonormal frame around `up`: yaw 0 looks from +forward. */
  private basis(): { right: vec3; forward: vec3 } {
    const helper = Math.abs(this.up[2]) < 0.9 ? vec3.fromValues(0, 0, 1) : vec3.fromValues(1, 0, 0);
    const right = vec3.normalize(vec3.create(), vec3.cross(vec3.create(), this.up, helper));
    const forward = vec3.cross(vec3.create(), right, this.up);
    return { right, forward };
  }

  private readonly onContextMenu = (e: Event) => e.preventDefault();

  private readonly onPointerDown = (e: PointerEvent) => {
    this.element.setPointerCapture?.(e.pointerId);
    this.element.focus({ preventScroll: true });
    this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    this.panMode = e.button === 2 || e.shiftKey || e.button === 1;
    if (this.pointers.size === 2) this.pinch = this.pinchState();
  };

  private readonly onPointerMove = (e: PointerEvent) => {
    const last = this.pointers.get(e.pointerId);
    if (!last) return;
    const height = this.element.clientHeight || 1;
    if (this.pointers.size >= 2) {
      this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      const next = this.pinchState();
      if (this.pinch && next.distance > 0) {
        this.distance = Math.max(1e-3, (this.distance * this.pinch.distance) / next.distance);
        this.pan((next.mid.x - this.pinch.mid.x) / height, (next.mid.y - this.pinch.mid.y) / height);
      }
      this.pinch = next;
      return;
    }
    const dx = (e.clientX - last.x) / height;
    const dy = (e.clientY - last.y) / height;
    this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (this.panMode) this.pan(dx, dy);
    else this.orbit(-dx * Math.PI, dy * Math.PI);
  };

  private readonly onPointerUp = (e: PointerEvent) => {
    this.pointers.delete(e.pointerId);
    this.pinch = this.pointers.size === 2 ? this.pinchState() : null;
  };

  private pinchState(): { distance: number; mid: { x: number; y: number } } {
    const [a, b] = [...this.pointers.values()];
    return { distance: Math.hypot(a.x - b.x, a.y - b.y), mid: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 } };
  }

  private readonly onWheel = (e: WheelEvent) => {
    e.preventDefault();
    this.zoom(Math.exp(Math.max(-1, Math.min(1, e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.002)))));
  };

  private readonly onKey = (e: KeyboardEvent) => {
    const step = 0.05;
    switch (e.key) {
      case 'ArrowLeft':
        e.shiftKey ? this.pan(-step, 0) : this.orbit(step * 2, 0);
        break;
      case 'ArrowRight':
        e.shiftKey ? this.pan(step, 0) : this.orbit(-step * 2, 0);
        break;
      case 'ArrowUp':
        e.shiftKey ? this.pan(0, -step) : this.orbit(0, step * 2);
        break;
      case 'ArrowDown':
        e.shiftKey ? this.pan(0, step) : this.orbit(0, -step * 2);
        break;
      case '+':
      case '=':
        this.zoom(0.9);
        break;
      case '-':
      case '_':
        this.zoom(1 / 0.9);
        break;
      case 'r':
      case 'R':
        this.reset();
        break;
      default:
        return;
    }
    e.preventDefault();
  };
}

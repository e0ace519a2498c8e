// Keyboard and mouse: movement keys, aim and fire, sampled once per tick by the
// connection. Browser-only (DOM events), no game state.

import { BUTTON_FIRE, angleToQ } from './codec.js';

const MOVE_KEYS = {
  KeyW: 'up',
  ArrowUp: 'up',
  KeyS: 'down',
  ArrowDown: 'down',
  KeyA: 'left',
  ArrowLeft: 'left',
  KeyD: 'right',
  ArrowRight: 'right',
};

function isTyping(target) {
  return (
    target instanceof HTMLInputElement ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement ||
    (target instanceof HTMLElement && target.isContentEditable)
  );
}

export class Controls {
  /** `canvas`: where the mouse aims and clicks fire. `onKey(code)`: other keys pressed. */
  constructor(canvas, onKey) {
    this.canvas = canvas;
    this.onKey = onKey;
    this.held = new Set();
    this.fire = false;
    /** Mouse position in CSS pixels relative to the canvas, null until it moves. */
    this.mouse = null;
    /** Where aim is measured from: the own player on screen (the camera follows it). */
    this.origin = null;
    this.aimRad = 0;
    this.enabled = false;
    this.attach();
  }

  attach() {
    window.addEventListener('keydown', (e) => {
      if (isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (MOVE_KEYS[e.code]) {
        if (!this.enabled) return;
        this.held.add(e.code);
        e.preventDefault();
      } else if (!e.repeat) {
        this.onKey?.(e.code, e);
      }
    });
    window.addEventListener('keyup', (e) => this.held.delete(e.code));
    // Keys released while the window had no focus never send keyup: forget them all.
    window.addEventListener('blur', () => this.reset());
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) this.reset();
    });
    const at = (e) => {
      const r = this.canvas.getBoundingClientRect();
      this.mouse = { x: e.clientX - r.left, y: e.clientY - r.top };
    };
    window.addEventListener('pointermove', at);
    this.canvas.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 || !this.enabled) return;
      at(e);
      this.fire = true;
      e.preventDefault();
    });
    window.addEventListener('pointerup', (e) => {
      if (e.button === 0) this.fire = false;
    });
    window.addEventListener('pointercancel', () => {
      this.fire = false;
    });
    this.canvas.addEventListener('contextmenu', (e) => e.preventDefault());
  }

  reset() {
    this.held.clear();
    this.fire = false;
  }

  heldDir(dir) {
    for (const code of this.held) if (MOVE_KEYS[code] === dir) return true;
    return false;
  }

  /** The input for this tick: `{moveX, moveY, aim, aimRad, buttons}`. */
  sample() {
    const m = this.mouse;
    const o = this.origin;
    if (m && o && (m.x !== o.x || m.y !== o.y)) this.aimRad = Math.atan2(m.y - o.y, m.x - o.x);
    const moveX = (this.heldDir('right') ? 127 : 0) - (this.heldDir('left') ? 127 : 0);
    const moveY = (this.heldDir('down') ? 127 : 0) - (this.heldDir('up') ? 127 : 0);
    return {
      moveX,
      moveY,
      aim: angleToQ(this.aimRad),
      aimRad: this.aimRad,
      buttons: this.fire && this.enabled ? BUTTON_FIRE : 0,
    };
  }
}

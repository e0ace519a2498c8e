// Keyboard and mouse, sampled once per tick by the connection into an Input: movement
// keys give the move axes, the mouse the aim (from the own player on screen), and the
// game says which of what is held are its buttons (`mapping.buttons`, e.g. fire or kick
// on the primary pointer button). Browser-only (DOM events), no game state.

import { angleToQ } from './codec.js';

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
  /** `canvas`: where the mouse aims and clicks. `onKey(code)`: other keys pressed. */
  constructor(canvas, onKey) {
    this.canvas = canvas;
    this.onKey = onKey;
    this.held = new Set();
    /** The primary pointer button is down (on the canvas). */
    this.primary = false;
    /** Mouse position in CSS pixels relative to the canvas, null until it moves. */
    this.mouse = null;
    /** Where aim is measured from: the own player on screen (the camera follows it). */
    this.origin = null;
    this.aimRad = 0;
    this.enabled = false;
    /** The game's controls: `{buttons(controls) → bits, keys: [codes it holds]}`. */
    this.mapping = { buttons: () => 0, keys: [] };
    this.attach();
  }

  attach() {
    window.addEventListener('keydown', (e) => {
      if (isTyping(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (MOVE_KEYS[e.code] || this.mapping.keys.includes(e.code)) {
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
      this.primary = true;
      e.preventDefault();
    });
    window.addEventListener('pointerup', (e) => {
      if (e.button === 0) this.primary = false;
    });
    window.addEventListener('pointercancel', () => {
      this.primary = false;
    });
    this.canvas.addEventListener('contextmenu', (e) => e.preventDefault());
  }

  reset() {
    this.held.clear();
    this.primary = false;
  }

  /** Whether key `code` is held (a movement key or one of the game's keys). */
  isDown(code) {
    return this.held.has(code);
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
      buttons: this.enabled ? this.mapping.buttons(this) : 0,
    };
  }
}

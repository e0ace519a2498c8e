// When to send inputs: one per server tick, each in its own tick slot, the slots
// phase-locked half a tick away from the server's ticks.
//
// The server queues inputs and applies one per tick. Inputs are sent evenly, one per
// slot, so none waits in that queue; a slot the page was too busy for is skipped rather
// than sent late in a burst (which would queue stale inputs). And an input sent just as
// a tick starts may make it in time or not, jitter deciding: then one tick gets no new
// input (the previous one is applied twice) and the next input waits a tick in the
// queue, so the player lags its keys by a tick until the queue empties again. Inputs that arrive half a
// tick before the next tick are immune to jitter below half a tick. A snapshot leaves
// the server right after its tick, so its arrival time minus the round trip marks a tick
// boundary; `lockPhase` nudges the slots to half a tick after it.
//
// Pure (times are passed in, in milliseconds): the connection runs the timer.

/** The fraction of the measured phase error corrected per snapshot. */
export const PHASE_GAIN = 0.1;

export class InputClock {
  constructor(tickRate, nowMs) {
    this.tickMs = 1000 / tickRate;
    /** Start of slot 0; slot n starts at `epoch + n * tickMs`. */
    this.epoch = nowMs;
    /** Slots used or skipped so far: the next input goes in slot `sent` or later. */
    this.sent = 0;
    /** Slots skipped because the page was busy (the server repeated an input). */
    this.skipped = 0;
  }

  /**
   * The start time of the slot to send an input for at `nowMs`, or null when this slot
   * already had its input. At most one input per call: slots missed are skipped.
   */
  take(nowMs) {
    const slot = Math.floor((nowMs - this.epoch) / this.tickMs);
    if (slot < this.sent) return null;
    this.skipped += slot - this.sent;
    this.sent = slot + 1;
    return this.epoch + slot * this.tickMs;
  }

  /** Milliseconds from `nowMs` to the next slot, rounded up: a timer never fires early. */
  wait(nowMs) {
    return Math.max(0, Math.ceil(this.epoch + this.sent * this.tickMs - nowMs));
  }

  /** A snapshot arrived at `arrivalMs` with the round trip `rttMs`: move the slots towards mid-tick. */
  lockPhase(arrivalMs, rttMs = 0) {
    const tickMs = this.tickMs;
    const target = arrivalMs + tickMs / 2 - rttMs;
    let err = (((target - this.epoch) % tickMs) + tickMs) % tickMs;
    if (err > tickMs / 2) err -= tickMs;
    this.epoch += err * PHASE_GAIN;
  }
}

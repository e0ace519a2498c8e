//! A client's queue of input frames: what arrived in `Input` messages, applied one per
//! tick.
//!
//! A client may send one frame per message at the tick rate, or bundle several at a
//! lower input rate (fewer messages for both ends). Either way the room applies exactly
//! one frame per tick, oldest first, so the server steps the same inputs, in the same
//! ticks' order, that a predicting client stepped; with nothing queued the last frame
//! stays in force. Two rules keep the queue from adding latency for good:
//!
//! - it holds at most [`QUEUE_FRAMES`]: a frame that would overflow it drops the oldest;
//! - a queue that has not run empty for a second (a client whose clock runs faster
//!   than the room's) drops its oldest frame, which brings the standing delay down by a
//!   tick a second until the queue empties again.
//!
//! A dropped frame's buttons are added to the next frame's (or, when it was the last
//! one queued, to the frame applied that tick), so a press is never lost (buttons are
//! bits held for a tick; a press lasting one dropped tick lasts another).

use std::collections::VecDeque;

use shared::protocol::{Intent, MAX_INPUT_FRAMES};

/// Most frames a client's queue holds: two full messages.
pub const QUEUE_FRAMES: usize = 2 * MAX_INPUT_FRAMES;

/// What [`InputQueue::push`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Queued, and the oldest frame dropped to make room (its buttons carried on).
    Displaced,
    /// No newer than a frame already received: ignored.
    Stale,
}

#[derive(Debug)]
pub struct InputQueue {
    frames: VecDeque<(u32, Intent)>,
    /// Newest frame received.
    last_seq: u32,
    /// Newest frame applied: what snapshots echo as `last_input_seq`.
    applied_seq: u32,
    /// Consecutive ticks that ended with frames still queued.
    backlog_ticks: u32,
}

impl Default for InputQueue {
    fn default() -> InputQueue {
        InputQueue {
            frames: VecDeque::with_capacity(QUEUE_FRAMES),
            last_seq: 0,
            applied_seq: 0,
            backlog_ticks: 0,
        }
    }
}

impl InputQueue {
    /// Queues the frame numbered `seq` if it is newer than any received so far.
    pub fn push(&mut self, seq: u32, intent: Intent) -> Pushed {
        if seq <= self.last_seq {
            return Pushed::Stale;
        }
        self.last_seq = seq;
        let full = self.frames.len() >= QUEUE_FRAMES;
        if full {
            // A full queue has a frame after the oldest to carry its buttons.
            let _ = self.drop_oldest();
        }
        self.frames.push_back((seq, intent));
        if full {
            Pushed::Displaced
        } else {
            Pushed::Queued
        }
    }

    /// The frame to apply this tick, if one is queued; `drain_after` is the ticks a
    /// backlog may last before its oldest frame is dropped (the tick rate: a second).
    /// Returns the frame and how many were dropped.
    pub fn next(&mut self, drain_after: u32) -> (Option<Intent>, u32) {
        let Some((seq, intent)) = self.frames.pop_front() else {
            self.backlog_ticks = 0;
            return (None, 0);
        };
        self.applied_seq = seq;
        if self.frames.is_empty() {
            self.backlog_ticks = 0;
            return (Some(intent), 0);
        }
        self.backlog_ticks += 1;
        if self.backlog_ticks < drain_after.max(1) {
            return (Some(intent), 0);
        }
        self.backlog_ticks = 0;
        let mut intent = intent;
        if let Some((gone_seq, gone)) = self.drop_oldest() {
            // It was the last one queued: its press goes with this tick's frame, and
            // the echo moves past it (it will never be applied; a client stops
            // replaying it).
            intent.buttons |= gone.buttons;
            self.applied_seq = gone_seq;
        }
        (Some(intent), 1)
    }

    /// Drops the oldest queued frame, carrying its buttons to the next one; returns it
    /// when no frame is left to carry them.
    fn drop_oldest(&mut self) -> Option<(u32, Intent)> {
        let gone = self.frames.pop_front()?;
        match self.frames.front_mut() {
            Some((_, next)) => {
                next.buttons |= gone.1.buttons;
                None
            }
            None => Some(gone),
        }
    }

    /// Newest frame applied (0 before the first).
    pub fn applied_seq(&self) -> u32 {
        self.applied_seq
    }

    /// A new session of the same player: its numbering starts again.
    pub fn reset(&mut self) {
        self.frames.clear();
        self.last_seq = 0;
        self.applied_seq = 0;
        self.backlog_ticks = 0;
    }

    /// Frames waiting.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.frames.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(x: i8, buttons: u8) -> Intent {
        Intent {
            move_x: x,
            buttons,
            ..Intent::default()
        }
    }

    /// Pushes the frames of a message numbered from `seq`.
    fn push(q: &mut InputQueue, seq: u32, frames: &[Intent]) -> Vec<Pushed> {
        (seq..).zip(frames).map(|(s, &f)| q.push(s, f)).collect()
    }

    #[test]
    fn a_bundle_is_applied_one_frame_per_tick_in_order() {
        let mut q = InputQueue::default();
        let pushed = push(&mut q, 1, &[intent(1, 0), intent(2, 0), intent(3, 0)]);
        assert_eq!(pushed, [Pushed::Queued; 3]);
        for x in 1..=3 {
            assert_eq!(q.next(60), (Some(intent(x, 0)), 0));
            assert_eq!(q.applied_seq(), x as u32);
        }
        // Nothing queued: the game keeps the last frame; the echo stays.
        assert_eq!(q.next(60), (None, 0));
        assert_eq!(q.applied_seq(), 3);
    }

    #[test]
    fn old_frames_are_ignored_and_gaps_are_kept() {
        let mut q = InputQueue::default();
        push(&mut q, 5, &[intent(5, 0)]);
        let pushed = push(&mut q, 4, &[intent(4, 0), intent(5, 0), intent(6, 0)]);
        assert_eq!(pushed, [Pushed::Stale, Pushed::Stale, Pushed::Queued]);
        push(&mut q, 10, &[intent(10, 0)]);
        let applied: Vec<_> = (0..3).map(|_| (q.next(60).0, q.applied_seq())).collect();
        assert_eq!(
            applied,
            [
                (Some(intent(5, 0)), 5),
                (Some(intent(6, 0)), 6),
                (Some(intent(10, 0)), 10)
            ]
        );
    }

    #[test]
    fn an_overflow_drops_the_oldest_and_keeps_its_buttons() {
        let mut q = InputQueue::default();
        let first: Vec<_> = (0..QUEUE_FRAMES).map(|i| intent(i as i8, 0)).collect();
        push(&mut q, 1, &first);
        assert_eq!(q.len(), QUEUE_FRAMES);
        // Frame 1 fires; two more frames push it and frame 2 out.
        q.frames.front_mut().unwrap().1.buttons = 1;
        let next = QUEUE_FRAMES as u32 + 1;
        let pushed = push(&mut q, next, &[intent(100, 0), intent(101, 0)]);
        assert_eq!(pushed, [Pushed::Displaced; 2]);
        assert_eq!(q.len(), QUEUE_FRAMES);
        // The press survives on the oldest frame left (seq 3, move_x 2).
        assert_eq!(q.next(60).0, Some(intent(2, 1)));
        assert_eq!(q.applied_seq(), 3);
    }

    #[test]
    fn a_standing_backlog_drains_a_frame_a_second() {
        let mut q = InputQueue::default();
        // A client one frame ahead for good: every tick one arrives, two are queued.
        q.push(1, intent(0, 0));
        let mut seq = 2;
        let mut dropped = 0;
        for _ in 0..10 {
            q.push(seq, intent(0, 0));
            seq += 1;
            dropped += q.next(10).1;
        }
        // Ten ticks of backlog at `drain_after` 10: one frame went, the queue emptied,
        // and the echo passed the frame that will never be applied.
        assert_eq!(dropped, 1);
        assert_eq!(q.len(), 0);
        assert_eq!(q.applied_seq(), seq - 1);
        // Keeping up at the tick rate never drops anything.
        for _ in 0..100 {
            q.push(seq, intent(0, 0));
            seq += 1;
            assert_eq!(q.next(10).1, 0);
        }
    }

    #[test]
    fn a_drained_press_is_applied_a_tick_early() {
        let mut q = InputQueue::default();
        q.push(1, intent(1, 0));
        q.push(2, intent(2, 1));
        // With `drain_after` 1 the one tick of backlog drains frame 2 at once: its
        // press goes with frame 1.
        assert_eq!(q.next(1), (Some(intent(1, 1)), 1));
        assert_eq!(q.applied_seq(), 2);
        assert_eq!(q.next(1), (None, 0));
    }

    #[test]
    fn a_reset_starts_the_numbering_again() {
        let mut q = InputQueue::default();
        push(&mut q, 50, &[intent(1, 0), intent(2, 0)]);
        q.next(60);
        q.reset();
        assert_eq!(q.applied_seq(), 0);
        assert_eq!(q.push(1, intent(3, 0)), Pushed::Queued);
        assert_eq!(q.next(60).0, Some(intent(3, 0)));
    }
}

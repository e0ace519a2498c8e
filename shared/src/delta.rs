//! Delta snapshots: what changed between a view a client holds and the view it should
//! hold now, packed field by field as the game's [`Layout`] says, and the checksum that
//! proves both sides agree.
//!
//! A view is a list of [`EntityState`]s sorted by id. The server diffs a client's
//! baseline against its new view ([`diff`]), may send only part of the changes (a byte
//! budget), and keeps as the next baseline exactly what the client will rebuild
//! ([`merge`]). The client rebuilds it with [`ClientView::apply`] (in place), or
//! [`decode_payload`] (into a new list).
//!
//! Payload layout (PROTOCOL.md has it bit by bit): removed ids; created entities (their
//! presence mask, then every field of every present component); changed entities (a bit
//! for a new presence mask, then per component kept a changed bit, a field mask and only
//! the fields that changed, then the added components whole). Each changed field is coded
//! against a reference both sides compute: a predicted motion's position against where
//! its velocity would have taken it, a trajectory against the old trajectory at the new
//! anchor tick, numbers against their previous value. Created entities are named by the
//! gaps between their ascending ids, removed and changed ones by the gaps between their
//! places in the held view (far denser), each section at the Exp-Golomb order that
//! writes its gaps in the fewest bits. An unchanged entity, or component, costs nothing.

// Peer-controlled bytes flow through this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::sync::Arc;

use crate::pack::{
    BitReader, BitWriter, ByteReader, ByteWriter, PackError, Packer, Unpacker, eg_bits,
};
use crate::protocol::{FullSnapshot, Packing, Snapshot};
use crate::quant::advance_mean;
use crate::schema::{
    EntityState, FieldKind, Layout, MOTION_SLOTS, MotionModel, MotionValue, Slot, Values,
    angle_shift,
};

/// Sub-mask bits of a changed motion, in the order their values follow.
pub mod motion {
    /// The anchor tick (trajectories only), first because the position refers to it.
    pub const ANCHOR: u32 = 1;
    /// `x` and `y` (bit 0 for a predicted motion, which has no anchor bit).
    pub const POS: u32 = 2;
    /// `vx` and `vy`.
    pub const VEL: u32 = 4;
}

/// Exp-Golomb orders of the engine's own values, tuned on the arena-64 scenario (see
/// BENCHMARKS.md). A field's own order comes from its kind.
mod k {
    pub const COUNT: u32 = 3;
    /// Only to price a record's id (sections choose their own order, see `Gaps`).
    pub const ID_GAP: u32 = 1;
    pub const ABS_POS: u32 = 13;
    pub const ABS_VEL: u32 = 8;
    pub const AGE: u32 = 2;
    pub const TEXT_LEN: u32 = 3;
    pub const ENTITY: u32 = 8;
    pub const POS_RESIDUAL: u32 = 0;
    pub const VEL_DELTA: u32 = 6;
    pub const ANGLE_DELTA: u32 = 10;
}

/// Order of an angle change in steps of its precision: [`k::ANGLE_DELTA`] for 16 bits,
/// one less per bit fewer (a coarser angle moves by fewer steps), at least 0.
fn angle_k(bits: u8) -> u32 {
    (k::ANGLE_DELTA + u32::from(bits)).saturating_sub(16)
}

/// Why a snapshot could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    #[error("malformed payload: {0}")]
    Pack(#[from] PackError),
    #[error("snapshot is relative to tick {got}, but the view holds tick {held}")]
    Baseline { held: u32, got: u32 },
    #[error("entity {0} is not in the view")]
    Unknown(u32),
    #[error("place {0} is beyond the held view")]
    Place(u32),
    #[error("entity {0} is already in the view")]
    Duplicate(u32),
    #[error("ids are not ascending")]
    Order,
    #[error("presence mask {0:#x} names components the schema lacks")]
    Presence(u32),
    #[error("value {0:#x} is wider than its field")]
    Wide(u32),
    #[error("full snapshot entity {0} does not fit the schema")]
    Shape(u32),
    #[error("invalid text")]
    Text,
    #[error("checksum mismatch: view hashes to {got:#010x}, snapshot says {expected:#010x}")]
    Checksum { expected: u32, got: u32 },
}

/// The ticks a payload is coded against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Tick of the new state.
    pub tick: u32,
    /// Tick of the state the receiver holds (0 for a keyframe: it holds nothing).
    pub baseline: u32,
    pub tick_rate: u16,
}

impl Frame {
    fn elapsed(&self) -> i64 {
        i64::from(self.tick) - i64::from(self.baseline)
    }
}

/// What differs between two views. Indices point into the lists given to [`diff`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Ids in the baseline but not in the target (ascending).
    pub removed: Vec<u32>,
    /// Target indices of entities the baseline lacks (ascending).
    pub created: Vec<usize>,
    /// (baseline index, target index) of entities that changed (ascending).
    pub changed: Vec<(usize, usize)>,
}

impl Diff {
    pub fn clear(&mut self) {
        self.removed.clear();
        self.created.clear();
        self.changed.clear();
    }
}

/// Diffs two views sorted by id into `out` (cleared first, so its buffers are reused).
/// Entities that share their values (the server's common case) compare in one step.
pub fn diff(base: &[EntityState], target: &[EntityState], out: &mut Diff) {
    out.clear();
    let (mut i, mut j) = (0, 0);
    loop {
        match (base.get(i), target.get(j)) {
            (None, None) => break,
            (Some(b), None) => {
                out.removed.push(b.id);
                i += 1;
            }
            (None, Some(_)) => {
                out.created.push(j);
                j += 1;
            }
            (Some(b), Some(t)) if b.id < t.id => {
                out.removed.push(b.id);
                i += 1;
            }
            (Some(b), Some(t)) if b.id > t.id => {
                out.created.push(j);
                j += 1;
            }
            (Some(b), Some(t)) => {
                if !b.same(t) {
                    out.changed.push((i, j));
                }
                i += 1;
                j += 1;
            }
        }
    }
}

/// The view a client holds after receiving the given part of a diff: the baseline
/// without `removed`, with the `changed` entities (by target index) and the `created`
/// ones taken from `target`. Both index lists must be ascending and come from [`diff`].
pub fn merge(
    base: &[EntityState],
    target: &[EntityState],
    removed: &[u32],
    created: &[usize],
    changed: &[(usize, usize)],
    out: &mut Vec<EntityState>,
) {
    out.clear();
    let mut removed = removed.iter().peekable();
    let mut changed = changed.iter().peekable();
    let mut created = created.iter().filter_map(|&j| target.get(j)).peekable();
    for (i, b) in base.iter().enumerate() {
        while let Some(c) = created.next_if(|c| c.id < b.id) {
            out.push(c.clone());
        }
        if removed.next_if(|&&id| id == b.id).is_some() {
            continue;
        }
        match changed.next_if(|&&(bi, _)| bi == i) {
            Some(&(_, tj)) => out.push(target.get(tj).cloned().unwrap_or_else(|| b.clone())),
            None => out.push(b.clone()),
        }
    }
    out.extend(created.cloned());
}

fn ints(e: &EntityState, i: usize, n: usize) -> &[i32] {
    e.values.ints.get(i..i + n).unwrap_or(&[])
}

/// Whether the field at `slot` differs between `b` and `t`.
fn field_changed(slot: Slot, b: &EntityState, t: &EntityState) -> bool {
    match slot {
        Slot::Int(i) => b.int(i) != t.int(i),
        Slot::Text(i) => b.text(i) != t.text(i),
        Slot::Motion(i) => ints(b, i, MOTION_SLOTS) != ints(t, i, MOTION_SLOTS),
    }
}

/// `n` raw bits. The byte packing reads whole bytes, so a value wider than `n` bits is
/// possible there and refused: every raw value has exactly one encoding.
fn raw(u: &mut impl Unpacker, n: u32) -> Result<u32, DeltaError> {
    let v = u.bits(n)?;
    if n < 32 && v >> n != 0 {
        return Err(DeltaError::Wide(v));
    }
    Ok(v)
}

fn write_text(p: &mut impl Packer, text: &str, max_bytes: u16) {
    let text = crate::schema::truncate(text, usize::from(max_bytes));
    p.uint(text.len() as u32, k::TEXT_LEN);
    for &b in text.as_bytes() {
        p.bits(u32::from(b), 8);
    }
}

fn read_text(u: &mut impl Unpacker, max_bytes: u16) -> Result<String, DeltaError> {
    let len = u.uint(k::TEXT_LEN)?;
    if len > u32::from(max_bytes) {
        return Err(DeltaError::Text);
    }
    let mut bytes = Vec::with_capacity(len as usize);
    for _ in 0..len {
        bytes.push(raw(u, 8)? as u8);
    }
    String::from_utf8(bytes).map_err(|_| DeltaError::Text)
}

/// Writes a field's whole value.
fn write_full(p: &mut impl Packer, kind: FieldKind, slot: Slot, e: &EntityState, frame: &Frame) {
    match (kind, slot) {
        (FieldKind::Text { max_bytes }, Slot::Text(i)) => write_text(p, e.text(i), max_bytes),
        (FieldKind::Motion { model, .. }, Slot::Motion(i)) => {
            let m = e.motion(i);
            if model == MotionModel::Trajectory {
                p.uint(frame.tick.wrapping_sub(m.anchor), k::AGE);
            }
            p.sint(m.x, k::ABS_POS);
            p.sint(m.y, k::ABS_POS);
            p.sint(m.vx, k::ABS_VEL);
            p.sint(m.vy, k::ABS_VEL);
        }
        (_, Slot::Int(i)) => {
            let v = e.int(i);
            match kind {
                FieldKind::Bits { width } => p.bits(v as u32, u32::from(width)),
                FieldKind::Uint { k } => p.uint(v as u32, u32::from(k)),
                FieldKind::Int { k } | FieldKind::Fixed { k, .. } => p.sint(v, u32::from(k)),
                FieldKind::Angle { bits } => {
                    p.bits((v as u32 & 0xFFFF) >> angle_shift(bits), u32::from(bits));
                }
                _ => p.uint(v as u32, k::ENTITY),
            }
        }
        // A layout never pairs other kinds and slots.
        _ => {}
    }
}

/// Reads a field's whole value into `values`.
fn read_full(
    u: &mut impl Unpacker,
    kind: FieldKind,
    slot: Slot,
    values: &mut Values,
    frame: &Frame,
) -> Result<(), DeltaError> {
    match (kind, slot) {
        (FieldKind::Text { max_bytes }, Slot::Text(i)) => {
            let text = read_text(u, max_bytes)?;
            if let Some(t) = values.texts.get_mut(i) {
                *t = text;
            }
        }
        (FieldKind::Motion { model, .. }, Slot::Motion(i)) => {
            let anchor = match model {
                MotionModel::Trajectory => frame.tick.wrapping_sub(u.uint(k::AGE)?),
                MotionModel::Predicted => 0,
            };
            let vals = [
                anchor as i32,
                u.sint(k::ABS_POS)?,
                u.sint(k::ABS_POS)?,
                u.sint(k::ABS_VEL)?,
                u.sint(k::ABS_VEL)?,
            ];
            for (s, v) in values.ints.iter_mut().skip(i).zip(vals) {
                *s = v;
            }
        }
        (_, Slot::Int(i)) => {
            let v = match kind {
                FieldKind::Bits { width } => raw(u, u32::from(width))? as i32,
                FieldKind::Uint { k } => u.uint(u32::from(k))? as i32,
                FieldKind::Int { k } | FieldKind::Fixed { k, .. } => u.sint(u32::from(k))?,
                FieldKind::Angle { bits } => {
                    ((raw(u, u32::from(bits))? << angle_shift(bits)) & 0xFFFF) as i32
                }
                _ => u.uint(k::ENTITY)? as i32,
            };
            if let Some(s) = values.ints.get_mut(i) {
                *s = v;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Where a changed motion's new position is coded against: the old motion at the new
/// one's anchor tick (a trajectory), or moved by its velocity since the baseline.
/// Where a changed motion's position is predicted to be, its residual coded against:
/// a trajectory's point at the new anchor; a predicted motion's baseline position moved
/// by the mean of its old and new velocities (`t_vel`; the velocity is coded first), so
/// a body speeding up or slowing down steadily lands on its prediction.
fn motion_reference(
    model: MotionModel,
    b: MotionValue,
    new_anchor: u32,
    t_vel: (i32, i32),
    frame: &Frame,
) -> (i32, i32) {
    match model {
        MotionModel::Predicted => (
            advance_mean(b.x, b.vx, t_vel.0, frame.elapsed(), frame.tick_rate),
            advance_mean(b.y, b.vy, t_vel.1, frame.elapsed(), frame.tick_rate),
        ),
        MotionModel::Trajectory => b.along(new_anchor, frame.tick_rate),
    }
}

fn motion_bits(model: MotionModel) -> u32 {
    match model {
        MotionModel::Predicted => 2,
        MotionModel::Trajectory => 3,
    }
}

/// The sub-mask of a changed motion as written: predicted motions have no anchor bit,
/// and either model writes its position only when it is not at `reference`
/// ([`motion_reference`]): a bounce is a new anchor and velocity, no position.
fn motion_mask(model: MotionModel, b: MotionValue, t: MotionValue, reference: (i32, i32)) -> u32 {
    let mut mask = 0;
    if b.anchor != t.anchor {
        mask |= motion::ANCHOR;
    }
    if reference != (t.x, t.y) {
        mask |= motion::POS;
    }
    if (b.vx, b.vy) != (t.vx, t.vy) {
        mask |= motion::VEL;
    }
    match model {
        MotionModel::Predicted => mask >> 1,
        MotionModel::Trajectory => mask,
    }
}

/// Writes a changed field against its previous value.
fn write_change(
    p: &mut impl Packer,
    kind: FieldKind,
    slot: Slot,
    b: &EntityState,
    t: &EntityState,
    frame: &Frame,
) {
    match (kind, slot) {
        (FieldKind::Motion { model, .. }, Slot::Motion(i)) => {
            let (bm, tm) = (b.motion(i), t.motion(i));
            let (rx, ry) = motion_reference(model, bm, tm.anchor, (tm.vx, tm.vy), frame);
            let written = motion_mask(model, bm, tm, (rx, ry));
            p.bits(written, motion_bits(model));
            let mask = match model {
                MotionModel::Predicted => written << 1,
                MotionModel::Trajectory => written,
            };
            if mask & motion::ANCHOR != 0 {
                p.uint(frame.tick.wrapping_sub(tm.anchor), k::AGE);
            }
            // A predicted motion's velocity first: its position is predicted with it.
            let vel_first = model == MotionModel::Predicted;
            let write_vel = |p: &mut _| {
                if mask & motion::VEL != 0 {
                    Packer::sint(p, tm.vx.wrapping_sub(bm.vx), k::VEL_DELTA);
                    Packer::sint(p, tm.vy.wrapping_sub(bm.vy), k::VEL_DELTA);
                }
            };
            if vel_first {
                write_vel(p);
            }
            if mask & motion::POS != 0 {
                p.sint(tm.x.wrapping_sub(rx), k::POS_RESIDUAL);
                p.sint(tm.y.wrapping_sub(ry), k::POS_RESIDUAL);
            }
            if !vel_first {
                write_vel(p);
            }
        }
        (
            FieldKind::Uint { k } | FieldKind::Int { k } | FieldKind::Fixed { k, .. },
            Slot::Int(i),
        ) => {
            p.sint(t.int(i).wrapping_sub(b.int(i)), u32::from(k));
        }
        (FieldKind::Angle { bits }, Slot::Int(i)) => {
            // Both are multiples of the step, so the shift is exact.
            let d = (t.int(i) as u16).wrapping_sub(b.int(i) as u16) as i16;
            p.sint(i32::from(d) >> angle_shift(bits), angle_k(bits));
        }
        _ => write_full(p, kind, slot, t, frame),
    }
}

/// Reads a changed field into `values` (which hold the previous values of `b`).
fn read_change<U: Unpacker>(
    u: &mut U,
    kind: FieldKind,
    slot: Slot,
    b: &EntityState,
    values: &mut Values,
    frame: &Frame,
) -> Result<(), DeltaError> {
    let set = |values: &mut Values, i: usize, v: i32| {
        if let Some(s) = values.ints.get_mut(i) {
            *s = v;
        }
    };
    match (kind, slot) {
        (FieldKind::Motion { model, .. }, Slot::Motion(i)) => {
            let written = raw(u, motion_bits(model))?;
            let mask = match model {
                MotionModel::Predicted => written << 1,
                MotionModel::Trajectory => written,
            };
            let bm = b.motion(i);
            let mut t = bm;
            if mask & motion::ANCHOR != 0 {
                t.anchor = frame.tick.wrapping_sub(u.uint(k::AGE)?);
            }
            // A predicted motion's velocity comes first (see `write_change`).
            let vel_first = model == MotionModel::Predicted;
            let read_vel = |u: &mut U, t: &mut MotionValue| -> Result<(), DeltaError> {
                if mask & motion::VEL != 0 {
                    t.vx = bm.vx.wrapping_add(u.sint(k::VEL_DELTA)?);
                    t.vy = bm.vy.wrapping_add(u.sint(k::VEL_DELTA)?);
                }
                Ok(())
            };
            if vel_first {
                read_vel(u, &mut t)?;
            }
            let (rx, ry) = motion_reference(model, bm, t.anchor, (t.vx, t.vy), frame);
            if mask & motion::POS != 0 {
                t.x = rx.wrapping_add(u.sint(k::POS_RESIDUAL)?);
                t.y = ry.wrapping_add(u.sint(k::POS_RESIDUAL)?);
            } else {
                (t.x, t.y) = (rx, ry);
            }
            if !vel_first {
                read_vel(u, &mut t)?;
            }
            let vals = [t.anchor as i32, t.x, t.y, t.vx, t.vy];
            for (s, v) in values.ints.iter_mut().skip(i).zip(vals) {
                *s = v;
            }
        }
        (
            FieldKind::Uint { k } | FieldKind::Int { k } | FieldKind::Fixed { k, .. },
            Slot::Int(i),
        ) => {
            set(values, i, b.int(i).wrapping_add(u.sint(u32::from(k))?));
        }
        (FieldKind::Angle { bits }, Slot::Int(i)) => {
            let d = ((u.sint(angle_k(bits))? as u32) << angle_shift(bits)) as u16;
            set(values, i, i32::from((b.int(i) as u16).wrapping_add(d)));
        }
        _ => read_full(u, kind, slot, values, frame)?,
    }
    Ok(())
}

fn write_presence(p: &mut impl Packer, layout: &Layout, present: u32) {
    let n = layout.component_count() as u32;
    if n > 0 {
        p.bits(present, n);
    }
}

fn read_presence(u: &mut impl Unpacker, layout: &Layout) -> Result<u32, DeltaError> {
    let n = layout.component_count() as u32;
    if n == 0 {
        return Ok(0);
    }
    raw(u, n).map_err(|e| match e {
        DeltaError::Wide(v) => DeltaError::Presence(v),
        e => e,
    })
}

fn components(layout: &Layout, present: u32) -> impl Iterator<Item = usize> {
    (0..layout.component_count()).filter(move |&c| present & (1 << c) != 0)
}

fn write_created(p: &mut impl Packer, layout: &Layout, e: &EntityState, frame: &Frame) {
    write_presence(p, layout, e.present);
    for c in components(layout, e.present) {
        for &(kind, slot) in layout.fields(c) {
            write_full(p, kind, slot, e, frame);
        }
    }
}

/// Values that a client's view no longer holds, kept to be written over by the next
/// snapshot's records instead of allocating new ones (a changed entity would otherwise
/// cost a fresh copy of its values, names included, and the old one's free).
#[derive(Debug, Default)]
struct Spare(Vec<Arc<Values>>);

impl Spare {
    /// Most values kept: about the largest number of records one snapshot holds.
    const MAX: usize = 4096;

    /// Values to write a record into: a spare one (its allocations kept) or a new one.
    fn take(&mut self) -> Arc<Values> {
        self.0.pop().unwrap_or_default()
    }

    /// Keeps `values` if nothing else shares them.
    fn keep(&mut self, mut values: Arc<Values>) {
        if self.0.len() < Spare::MAX && Arc::get_mut(&mut values).is_some() {
            self.0.push(values);
        }
    }
}

/// Spares are not state: copies of a view start without any, and views compare
/// equal whatever spares they hold.
impl Clone for Spare {
    fn clone(&self) -> Spare {
        Spare::default()
    }
}

impl PartialEq for Spare {
    fn eq(&self, _: &Spare) -> bool {
        true
    }
}

impl Eq for Spare {}

fn read_created(
    u: &mut impl Unpacker,
    layout: &Layout,
    id: u32,
    frame: &Frame,
    spare: &mut Spare,
) -> Result<EntityState, DeltaError> {
    let present = read_presence(u, layout)?;
    let mut arc = spare.take();
    // Unshared (spares and new values are), so this writes in place.
    let values = Arc::make_mut(&mut arc);
    layout.reset_values(values);
    for c in components(layout, present) {
        for &(kind, slot) in layout.fields(c) {
            read_full(u, kind, slot, values, frame)?;
        }
    }
    Ok(EntityState {
        id,
        present,
        values: arc,
    })
}

/// Writes a changed record's structure (its bit, and the new presence mask if the
/// mask changed), in a payload whose changed section says that some records do.
fn write_structure(p: &mut impl Packer, layout: &Layout, b: &EntityState, t: &EntityState) {
    let restructured = b.present != t.present;
    p.bits(u32::from(restructured), 1);
    if restructured {
        write_presence(p, layout, t.present);
    }
}

/// Writes a changed record after its structure: the changes of the components kept, then
/// the components added. It depends only on `b`, `t` and the frame, so one client's
/// copy serves every client that holds the same `b` ([`RecordCache`]).
fn write_changed(
    p: &mut impl Packer,
    layout: &Layout,
    b: &EntityState,
    t: &EntityState,
    frame: &Frame,
) {
    for c in components(layout, b.present & t.present) {
        let fields = layout.fields(c);
        if fields.is_empty() {
            continue;
        }
        let mut mask = 0u32;
        for (f, &(_, slot)) in fields.iter().enumerate() {
            if field_changed(slot, b, t) {
                mask |= 1 << f;
            }
        }
        p.bits(u32::from(mask != 0), 1);
        if mask == 0 {
            continue;
        }
        if fields.len() > 1 {
            p.bits(mask, fields.len() as u32);
        }
        for (f, &(kind, slot)) in fields.iter().enumerate() {
            if mask & (1 << f) != 0 {
                write_change(p, kind, slot, b, t, frame);
            }
        }
    }
    for c in components(layout, t.present & !b.present) {
        for &(kind, slot) in layout.fields(c) {
            write_full(p, kind, slot, t, frame);
        }
    }
}

/// Reads a changed record; `structured`: whether its payload's changed records start
/// with a structure bit.
fn read_changed(
    u: &mut impl Unpacker,
    layout: &Layout,
    b: &EntityState,
    structured: bool,
    frame: &Frame,
    spare: &mut Spare,
) -> Result<EntityState, DeltaError> {
    let present = if structured && raw(u, 1)? == 1 {
        read_presence(u, layout)?
    } else {
        b.present
    };
    let mut arc = spare.take();
    // Unshared (spares and new values are), so this writes in place.
    let values = Arc::make_mut(&mut arc);
    // Element by element, so a spare's vectors and strings keep their allocations.
    values.ints.clone_from(&b.values.ints);
    values.texts.clone_from(&b.values.texts);
    for c in components(layout, b.present & !present) {
        layout.clear_component(values, c);
    }
    for c in components(layout, b.present & present) {
        let fields = layout.fields(c);
        if fields.is_empty() || raw(u, 1)? == 0 {
            continue;
        }
        let mask = if fields.len() > 1 {
            raw(u, fields.len() as u32)?
        } else {
            1
        };
        for (f, &(kind, slot)) in fields.iter().enumerate() {
            if mask & (1 << f) != 0 {
                read_change(u, kind, slot, b, values, frame)?;
            }
        }
    }
    for c in components(layout, present & !b.present) {
        for &(kind, slot) in layout.fields(c) {
            read_full(u, kind, slot, values, frame)?;
        }
    }
    Ok(EntityState {
        id: b.id,
        present,
        values: arc,
    })
}

/// Largest Exp-Golomb order a section's id gaps may be written with, and the raw bits
/// that write it.
const MAX_GAP_ORDER: u32 = 15;
const GAP_ORDER_BITS: u32 = 4;

/// The gaps between ascending ids (net ids start at 1): `id - previous - 1`, with the
/// previous id of the first one taken as 0.
fn gaps(ids: impl Iterator<Item = u32>) -> impl Iterator<Item = u32> {
    ids.scan(0u32, |prev, id| {
        let gap = id.wrapping_sub(*prev).wrapping_sub(1);
        *prev = id;
        Some(gap)
    })
}

/// The order that writes these gaps in the fewest bits (the lowest of equals): dense ids
/// (every player changed) cost one bit each at order 0, a few scattered creations among
/// a thousand ids about ten at order 8, where a fixed order pays for one or the other.
fn gap_order(ids: impl Iterator<Item = u32> + Clone) -> u32 {
    (0..=MAX_GAP_ORDER)
        .min_by_key(|&k| gaps(ids.clone()).map(|g| eg_bits(g, k) as u64).sum::<u64>())
        .unwrap_or(0)
}

/// Ids of one section as they are written: gaps, at the section's order.
struct Gaps {
    prev: u32,
    k: u32,
}

impl Gaps {
    /// Writes a section's head (its record count, then, unless it is empty, the order of
    /// its gaps as raw bits) and returns the writer of its ids.
    fn head(p: &mut impl Packer, ids: impl Iterator<Item = u32> + Clone) -> Gaps {
        let n = ids.clone().count() as u32;
        p.uint(n, k::COUNT);
        let k = if n == 0 { 0 } else { gap_order(ids) };
        if n > 0 {
            p.bits(k, GAP_ORDER_BITS);
        }
        Gaps { prev: 0, k }
    }

    /// Reads a section's head: its record count and the reader of its ids.
    fn read_head(u: &mut impl Unpacker) -> Result<(u32, Gaps), DeltaError> {
        let n = u.uint(k::COUNT)?;
        if n > MAX_RECORDS {
            return Err(DeltaError::Pack(PackError::Overlong));
        }
        let k = if n == 0 { 0 } else { raw(u, GAP_ORDER_BITS)? };
        Ok((n, Gaps { prev: 0, k }))
    }

    fn write(&mut self, p: &mut impl Packer, id: u32) {
        p.uint(id.wrapping_sub(self.prev).wrapping_sub(1), self.k);
        self.prev = id;
    }

    fn read(&mut self, u: &mut impl Unpacker) -> Result<u32, DeltaError> {
        let gap = u.uint(self.k)?;
        let id = self
            .prev
            .checked_add(1)
            .and_then(|next| next.checked_add(gap))
            .ok_or(DeltaError::Order)?;
        self.prev = id;
        Ok(id)
    }
}

/// The part of a diff a payload carries, with the views its indices point into.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    pub base: &'a [EntityState],
    pub target: &'a [EntityState],
    pub removed: &'a [u32],
    pub created: &'a [usize],
    pub changed: &'a [(usize, usize)],
}

/// Writes the payload for the chosen part of a diff.
pub fn write_payload(p: &mut impl Packer, layout: &Layout, frame: &Frame, part: Part<'_>) {
    write_removed(p, part);
    // Counts are of the records actually written, so they match even for bad indices.
    let created = || part.created.iter().filter_map(|&j| part.target.get(j));
    let mut ids = Gaps::head(p, created().map(|e| e.id));
    for e in created() {
        ids.write(p, e.id);
        write_created(p, layout, e, frame);
    }
    let changed = || {
        part.changed
            .iter()
            .filter_map(|&(i, j)| Some((i, part.base.get(i)?, part.target.get(j)?)))
    };
    let mut at = Gaps::head(p, changed().map(|(i, _, _)| position(i)));
    let structured = write_structured(p, changed().map(|(_, b, t)| (b, t)));
    for (i, b, t) in changed() {
        at.write(p, position(i));
        if structured {
            write_structure(p, layout, b, t);
        }
        write_changed(p, layout, b, t, frame);
    }
}

/// Writes, unless the changed section is empty, whether any of its records changes its
/// presence mask: only then does every record start with a structure bit.
fn write_structured<'a>(
    p: &mut impl Packer,
    mut pairs: impl Iterator<Item = (&'a EntityState, &'a EntityState)> + Clone,
) -> bool {
    if pairs.clone().next().is_none() {
        return false;
    }
    let structured = pairs.any(|(b, t)| b.present != t.present);
    p.bits(u32::from(structured), 1);
    structured
}

/// An entity's place in the held view as the removed and changed sections write it:
/// its index plus one (so that the gaps are those of ids starting at 1).
fn position(index: usize) -> u32 {
    (index as u32).wrapping_add(1)
}

/// Writes the removed section: the removed entities' places in the held view (an id
/// the held view lacks is left out).
fn write_removed(p: &mut impl Packer, part: Part<'_>) {
    let at = || {
        part.removed
            .iter()
            .filter_map(|&id| find(part.base, id))
            .map(position)
    };
    let mut gaps = Gaps::head(p, at());
    for place in at() {
        gaps.write(p, place);
    }
}

/// Encodes the chosen part of a diff with the given packing.
pub fn encode_payload(packing: Packing, layout: &Layout, frame: &Frame, part: Part<'_>) -> Vec<u8> {
    match packing {
        Packing::Bits => {
            let mut w = BitWriter::new();
            write_payload(&mut w, layout, frame, part);
            w.into_bytes()
        }
        Packing::Bytes => {
            let mut w = ByteWriter::new();
            write_payload(&mut w, layout, frame, part);
            w.into_bytes()
        }
    }
}

/// Records already written this snapshot tick, shared by all the clients of a room: a
/// changed entity most clients see against the same baseline values (the ones the last
/// snapshot gave them) is coded once, and copied bit for bit into each of their payloads.
///
/// Entries are keyed by the target's index (the target list must stay the same until
/// [`RecordCache::reset`]) and, for a changed entity, by the baseline's values (the
/// same allocation, which the entry keeps alive so its address is not reused), presence
/// and baseline tick. Bit packing only: byte-packed payloads are written directly.
#[derive(Debug, Default)]
pub struct RecordCache {
    tick: u32,
    /// The records' bits, one after the other.
    arena: Vec<u8>,
    created: Vec<Option<Chunk>>,
    changed: Vec<Vec<Keyed>>,
    /// Target indices with an entry, so that a reset clears only those.
    touched: Vec<usize>,
    scratch: BitWriter,
    hits: u64,
    misses: u64,
}

#[derive(Debug, Clone, Copy)]
struct Chunk {
    start: u32,
    len: u32,
    tail: u64,
    tail_bits: u32,
}

#[derive(Debug)]
struct Keyed {
    base: Arc<Values>,
    present: u32,
    baseline: u32,
    chunk: Chunk,
}

/// Writes a record with `write`, or copies the cached one.
fn cached(
    w: &mut BitWriter,
    arena: &mut Vec<u8>,
    scratch: &mut BitWriter,
    chunk: Option<Chunk>,
    write: impl FnOnce(&mut BitWriter),
) -> Option<Chunk> {
    if let Some(c) = chunk {
        let bytes = arena
            .get(c.start as usize..(c.start + c.len) as usize)
            .unwrap_or(&[]);
        w.append_parts(bytes, c.tail, c.tail_bits);
        return None;
    }
    scratch.clear();
    write(scratch);
    let (bytes, tail, tail_bits) = scratch.parts();
    let made = Chunk {
        start: arena.len() as u32,
        len: bytes.len() as u32,
        tail,
        tail_bits,
    };
    arena.extend_from_slice(bytes);
    w.append_parts(bytes, tail, tail_bits);
    Some(made)
}

impl RecordCache {
    /// Forgets every record: the next payloads are of tick `tick`, against a target
    /// list of `len` entities.
    pub fn reset(&mut self, tick: u32, len: usize) {
        self.tick = tick;
        self.arena.clear();
        for &j in &self.touched {
            if let Some(c) = self.created.get_mut(j) {
                *c = None;
            }
            if let Some(c) = self.changed.get_mut(j) {
                c.clear();
            }
        }
        self.touched.clear();
        self.created.resize(len, None);
        self.changed.resize_with(len, Vec::new);
    }

    /// Records copied and records written since the cache was made.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// [`encode_payload`] with bit packing, reusing and filling the cache: the same bytes.
    /// A frame of another tick than the cache's resets it first.
    pub fn encode(&mut self, layout: &Layout, frame: &Frame, part: Part<'_>) -> Vec<u8> {
        if frame.tick != self.tick || self.created.len() != part.target.len() {
            self.reset(frame.tick, part.target.len());
        }
        // Room for a typical delta, so that the payload is not grown step by step.
        let mut w = BitWriter::with_capacity(256);
        let p = &mut w;
        write_removed(p, part);
        let created = || {
            part.created
                .iter()
                .filter_map(|&j| Some((j, part.target.get(j)?)))
        };
        let mut ids = Gaps::head(p, created().map(|(_, e)| e.id));
        for (j, e) in created() {
            ids.write(p, e.id);
            let Some(slot) = self.created.get_mut(j) else {
                // Not reachable (the cache is sized to the target), and never a gap
                // without its record.
                write_created(p, layout, e, frame);
                continue;
            };
            let made = cached(p, &mut self.arena, &mut self.scratch, *slot, |s| {
                write_created(s, layout, e, frame)
            });
            match made {
                Some(c) => {
                    *slot = Some(c);
                    self.touched.push(j);
                    self.misses += 1;
                }
                None => self.hits += 1,
            }
        }
        let changed = || {
            part.changed
                .iter()
                .filter_map(|&(i, j)| Some((i, j, part.base.get(i)?, part.target.get(j)?)))
        };
        let mut at = Gaps::head(p, changed().map(|(i, ..)| position(i)));
        let structured = write_structured(p, changed().map(|(_, _, b, t)| (b, t)));
        for (i, j, b, t) in changed() {
            at.write(p, position(i));
            if structured {
                write_structure(p, layout, b, t);
            }
            let Some(entries) = self.changed.get_mut(j) else {
                write_changed(p, layout, b, t, frame);
                continue;
            };
            let hit = entries
                .iter()
                .find(|e| {
                    Arc::ptr_eq(&e.base, &b.values)
                        && e.present == b.present
                        && e.baseline == frame.baseline
                })
                .map(|e| e.chunk);
            let made = cached(p, &mut self.arena, &mut self.scratch, hit, |s| {
                write_changed(s, layout, b, t, frame)
            });
            match made {
                Some(chunk) => {
                    entries.push(Keyed {
                        base: Arc::clone(&b.values),
                        present: b.present,
                        baseline: frame.baseline,
                        chunk,
                    });
                    self.touched.push(j);
                    self.misses += 1;
                }
                None => self.hits += 1,
            }
        }
        w.into_bytes()
    }
}

/// A [`Packer`] that only counts, to price records against a byte budget.
#[derive(Debug, Clone, Copy)]
struct SizeCounter {
    packing: Packing,
    bits: usize,
}

impl Packer for SizeCounter {
    fn bits(&mut self, _value: u32, n: u32) {
        self.bits += match self.packing {
            Packing::Bits => n as usize,
            Packing::Bytes => n.div_ceil(8) as usize * 8,
        };
    }

    fn uint(&mut self, value: u32, k: u32) {
        self.bits += match self.packing {
            Packing::Bits => eg_bits(value, k) as usize,
            Packing::Bytes => 8 * (32 - value.leading_zeros()).max(1).div_ceil(7) as usize,
        };
    }

    fn bit_len(&self) -> usize {
        self.bits
    }
}

/// Size in bits of a created-entity record, id gap included (priced as a gap of one).
pub fn created_bits(packing: Packing, layout: &Layout, frame: &Frame, e: &EntityState) -> usize {
    let mut c = SizeCounter { packing, bits: 0 };
    c.uint(1, k::ID_GAP);
    write_created(&mut c, layout, e, frame);
    c.bits
}

/// Size in bits of a changed-entity record, id gap included (priced as a gap of one).
pub fn changed_bits(
    packing: Packing,
    layout: &Layout,
    frame: &Frame,
    b: &EntityState,
    t: &EntityState,
) -> usize {
    let mut c = SizeCounter { packing, bits: 0 };
    c.uint(1, k::ID_GAP);
    write_structure(&mut c, layout, b, t);
    write_changed(&mut c, layout, b, t, frame);
    c.bits
}

/// The most entities one payload may create or change: far above any real view, low
/// enough that a forged count cannot make a client allocate much.
const MAX_RECORDS: u32 = 1 << 16;

fn find(base: &[EntityState], id: u32) -> Option<usize> {
    base.binary_search_by_key(&id, |e| e.id).ok()
}

/// What a payload says, read and checked against the view it is relative to but not
/// applied yet (so a bad payload leaves that view as it was).
#[derive(Debug, Default)]
struct Records {
    removed: Vec<u32>,
    created: Vec<EntityState>,
    /// Index in the base view, new state.
    changed: Vec<(usize, EntityState)>,
}

fn read_records(
    u: &mut impl Unpacker,
    layout: &Layout,
    frame: &Frame,
    base: &[EntityState],
    spare: &mut Spare,
) -> Result<Records, DeltaError> {
    let (n, mut at) = Gaps::read_head(u)?;
    let mut removed = Vec::with_capacity(n.min(1024) as usize);
    for _ in 0..n {
        let (_, e) = held(base, at.read(u)?)?;
        removed.push(e.id);
    }
    let (n, mut ids) = Gaps::read_head(u)?;
    let mut created = Vec::with_capacity(n.min(1024) as usize);
    for _ in 0..n {
        let id = ids.read(u)?;
        if find(base, id).is_some() && removed.binary_search(&id).is_err() {
            return Err(DeltaError::Duplicate(id));
        }
        created.push(read_created(u, layout, id, frame, spare)?);
    }
    let (n, mut at) = Gaps::read_head(u)?;
    let structured = n > 0 && raw(u, 1)? == 1;
    let mut changed = Vec::with_capacity(n.min(1024) as usize);
    for _ in 0..n {
        let (i, b) = held(base, at.read(u)?)?;
        if removed.binary_search(&b.id).is_ok() {
            return Err(DeltaError::Unknown(b.id));
        }
        changed.push((i, read_changed(u, layout, b, structured, frame, spare)?));
    }
    u.finish()?;
    Ok(Records {
        removed,
        created,
        changed,
    })
}

/// The held entity at a place read from the removed or changed section.
fn held(base: &[EntityState], place: u32) -> Result<(usize, &EntityState), DeltaError> {
    let i = place.wrapping_sub(1) as usize;
    base.get(i).map(|e| (i, e)).ok_or(DeltaError::Place(place))
}

impl Records {
    /// The new view, as a list of its own.
    fn merged(self, base: &[EntityState]) -> Vec<EntityState> {
        // `merge` takes indices into a target list; here the created and changed
        // entities are that list.
        let mut target = Vec::with_capacity(self.created.len() + self.changed.len());
        let mut created_idx = Vec::with_capacity(self.created.len());
        for e in self.created {
            created_idx.push(target.len());
            target.push(e);
        }
        let mut changed_idx = Vec::with_capacity(self.changed.len());
        for (i, e) in self.changed {
            changed_idx.push((i, target.len()));
            target.push(e);
        }
        let mut out = Vec::with_capacity(base.len() + created_idx.len());
        merge(
            base,
            &target,
            &self.removed,
            &created_idx,
            &changed_idx,
            &mut out,
        );
        out
    }

    /// Applies the records to the view they were read against (`view`, with the
    /// entity hashes `hashes` beside it), hashing only the entities that are new or
    /// changed. Changed entities are replaced where they are; only removals and
    /// creations move the others, which are moved, not cloned.
    /// The values replaced or removed go to `spare`.
    fn apply(
        self,
        layout: &Layout,
        view: &mut Vec<EntityState>,
        hashes: &mut Vec<u32>,
        spare: &mut Spare,
    ) {
        if hashes.len() != view.len() {
            *hashes = view.iter().map(|e| entity_hash(layout, e)).collect();
        }
        if self.removed.is_empty() && self.created.is_empty() {
            for (i, e) in self.changed {
                if let (Some(v), Some(h)) = (view.get_mut(i), hashes.get_mut(i)) {
                    *h = entity_hash(layout, &e);
                    spare.keep(std::mem::replace(v, e).values);
                }
            }
            return;
        }
        let old_len = view.len();
        let mut out = Vec::with_capacity(old_len + self.created.len());
        let mut out_hashes = Vec::with_capacity(out.capacity());
        let mut removed = self.removed.iter().peekable();
        let mut changed = self.changed.into_iter().peekable();
        let mut created = self.created.into_iter().peekable();
        for (i, (b, h)) in view.drain(..).zip(hashes.drain(..)).enumerate() {
            while let Some(c) = created.next_if(|c| c.id < b.id) {
                out_hashes.push(entity_hash(layout, &c));
                out.push(c);
            }
            if removed.next_if(|&&id| id == b.id).is_some() {
                spare.keep(b.values);
                continue;
            }
            match changed.next_if(|(ci, _)| *ci == i) {
                Some((_, e)) => {
                    out_hashes.push(entity_hash(layout, &e));
                    out.push(e);
                    spare.keep(b.values);
                }
                None => {
                    out_hashes.push(h);
                    out.push(b);
                }
            }
        }
        for c in created {
            out_hashes.push(entity_hash(layout, &c));
            out.push(c);
        }
        *view = out;
        *hashes = out_hashes;
    }
}

fn read_payload(
    u: &mut impl Unpacker,
    layout: &Layout,
    frame: &Frame,
    base: &[EntityState],
) -> Result<Vec<EntityState>, DeltaError> {
    Ok(read_records(u, layout, frame, base, &mut Spare::default())?.merged(base))
}

/// Rebuilds the view a payload describes from the view it is relative to.
pub fn decode_payload(
    packing: Packing,
    layout: &Layout,
    frame: &Frame,
    base: &[EntityState],
    payload: &[u8],
) -> Result<Vec<EntityState>, DeltaError> {
    match packing {
        Packing::Bits => read_payload(&mut BitReader::new(payload), layout, frame, base),
        Packing::Bytes => read_payload(&mut ByteReader::new(payload), layout, frame, base),
    }
}

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// Hash of one entity: FNV-1a over 32-bit words: the id, the presence mask, then every
/// field of every present component in schema order (a number as its 32 bits; a text
/// as its length, then a word per byte; a motion as x, y, vx, vy, with the anchor first
/// for a trajectory).
pub fn entity_hash(layout: &Layout, e: &EntityState) -> u32 {
    let mut h = FNV_OFFSET;
    let mut word = |w: u32| h = (h ^ w).wrapping_mul(FNV_PRIME);
    word(e.id);
    word(e.present);
    for c in components(layout, e.present) {
        for &(kind, slot) in layout.fields(c) {
            match slot {
                Slot::Int(i) => word(e.int(i) as u32),
                Slot::Text(i) => {
                    let t = e.text(i);
                    word(t.len() as u32);
                    for &b in t.as_bytes() {
                        word(u32::from(b));
                    }
                }
                Slot::Motion(i) => {
                    let m = e.motion(i);
                    if matches!(
                        kind,
                        FieldKind::Motion {
                            model: MotionModel::Trajectory,
                            ..
                        }
                    ) {
                        word(m.anchor);
                    }
                    for v in [m.x, m.y, m.vx, m.vy] {
                        word(v as u32);
                    }
                }
            }
        }
    }
    h
}

/// Combines per-entity hashes (in ascending id order) into a view's checksum: FNV-1a over
/// the hashes, then MurmurHash3's finaliser. Two levels so that a server hashes each
/// entity once per tick and each client's view costs one step per entity.
pub fn fold_hashes(hashes: impl IntoIterator<Item = u32>) -> u32 {
    let mut h = FNV_OFFSET;
    for e in hashes {
        h = (h ^ e).wrapping_mul(FNV_PRIME);
    }
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// Checksum of a view sorted by id (see PROTOCOL.md, "Checksum"). Simple to reproduce
/// in JavaScript with `Math.imul`.
pub fn checksum(layout: &Layout, view: &[EntityState]) -> u32 {
    fold_hashes(view.iter().map(|e| entity_hash(layout, e)))
}

/// A client's copy of the replicated state, kept up to date by snapshots and decoded
/// with the schema its `Welcome` carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientView {
    layout: Arc<Layout>,
    tick: u32,
    entities: Vec<EntityState>,
    /// `entity_hash` of each entity, beside it: a snapshot replaces the entities it
    /// changes where they are and hashes only those, so a checksum folds the kept hashes.
    hashes: Vec<u32>,
    /// Values the view let go of, for the next snapshot's records.
    spare: Spare,
}

impl ClientView {
    /// An empty view of a game with this layout.
    pub fn new(layout: Arc<Layout>) -> ClientView {
        ClientView {
            layout,
            tick: 0,
            entities: Vec::new(),
            hashes: Vec::new(),
            spare: Spare::default(),
        }
    }

    pub fn layout(&self) -> &Arc<Layout> {
        &self.layout
    }

    /// Tick of the newest snapshot applied (0 before any).
    pub fn tick(&self) -> u32 {
        self.tick
    }

    /// Entities sorted by id.
    pub fn entities(&self) -> &[EntityState] {
        &self.entities
    }

    pub fn get(&self, id: u32) -> Option<&EntityState> {
        find(&self.entities, id).and_then(|i| self.entities.get(i))
    }

    /// Applies a delta snapshot. On a decode error the view is left as it was. On a
    /// checksum mismatch the view is updated (later deltas build on it) and the error
    /// tells the caller to ask for a keyframe.
    pub fn apply(
        &mut self,
        snap: &Snapshot,
        tick_rate: u16,
        packing: Packing,
    ) -> Result<(), DeltaError> {
        let base: &[EntityState] = if snap.baseline == 0 {
            &[]
        } else if snap.baseline == self.tick {
            &self.entities
        } else {
            return Err(DeltaError::Baseline {
                held: self.tick,
                got: snap.baseline,
            });
        };
        let frame = Frame {
            tick: snap.tick,
            baseline: snap.baseline,
            tick_rate,
        };
        let records = match packing {
            Packing::Bits => read_records(
                &mut BitReader::new(&snap.payload),
                &self.layout,
                &frame,
                base,
                &mut self.spare,
            ),
            Packing::Bytes => read_records(
                &mut ByteReader::new(&snap.payload),
                &self.layout,
                &frame,
                base,
                &mut self.spare,
            ),
        }?;
        if snap.baseline == 0 {
            // A keyframe: the records are the whole view.
            for e in self.entities.drain(..) {
                self.spare.keep(e.values);
            }
            self.hashes.clear();
        }
        records.apply(
            &self.layout,
            &mut self.entities,
            &mut self.hashes,
            &mut self.spare,
        );
        let got = fold_hashes(self.hashes.iter().copied());
        self.tick = snap.tick;
        if got != snap.checksum {
            return Err(DeltaError::Checksum {
                expected: snap.checksum,
                got,
            });
        }
        Ok(())
    }

    /// Replaces the view with a full snapshot (`--snapshots full`). Every entity must fit
    /// the layout (its slot counts and components); otherwise the view is left as it was.
    pub fn apply_full(&mut self, snap: &FullSnapshot) -> Result<(), DeltaError> {
        if let Some(bad) = snap.entities.iter().find(|e| !self.layout.fits(e)) {
            return Err(DeltaError::Shape(bad.id));
        }
        self.entities.clone_from(&snap.entities);
        self.entities.sort_by_key(|e| e.id);
        self.entities.dedup_by_key(|e| e.id);
        self.hashes = self
            .entities
            .iter()
            .map(|e| entity_hash(&self.layout, e))
            .collect();
        self.tick = snap.tick;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod section_tests;

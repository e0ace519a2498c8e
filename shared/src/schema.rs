//! The replication schema: which components a game replicates, their fields and how each
//! field is coded on the wire, and the generic entity record every peer holds.
//!
//! A game declares its schema once (the server builds it from the game's registered
//! components); the server sends it in `Welcome`, so any client decodes any game's
//! snapshots without knowing the game (the `@colyseus/schema` reflection model).
//! [`Schema::layout`] checks a schema and computes where each field's value lives in an
//! [`EntityState`]: a presence mask over the components and two flat slot arrays, one of
//! integers and one of strings. PROTOCOL.md, "Schema", defines the kinds bit by bit.

// A schema comes from the peer (the server) on a client: no panicking shortcuts.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// At most this many components per schema (the presence mask is a `u32`).
pub const MAX_COMPONENTS: usize = 32;
/// At most this many fields per component (a field mask is a `u32`).
pub const MAX_FIELDS: usize = 32;
/// Longest component or field name, in bytes.
pub const MAX_NAME_BYTES: usize = 32;
/// Largest `max_bytes` a text field may declare.
pub const MAX_TEXT_BYTES: u16 = 1024;
/// Largest Exp-Golomb order a field may declare.
pub const MAX_ORDER: u8 = 24;

/// What a game replicates: its name and its components, in wire order (a component's
/// index is its bit in an entity's presence mask).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// The game's name (a room's `game` setting).
    pub game: String,
    pub components: Vec<ComponentDef>,
}

/// One replicated component: a name and its fields, in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentDef {
    pub name: String,
    pub fields: Vec<FieldDef>,
}

/// One field of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    pub name: String,
    pub kind: FieldKind,
}

impl FieldDef {
    pub fn new(name: &str, kind: FieldKind) -> FieldDef {
        FieldDef {
            name: name.to_owned(),
            kind,
        }
    }
}

/// How a field's value is held and coded. `k` is an Exp-Golomb order (PROTOCOL.md,
/// "Bit packing"): values near 2^k cost the fewest bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldKind {
    /// `width` (1..=32) raw bits, unsigned: flags, booleans, small enums, health. A change
    /// sends the new value.
    Bits { width: u8 },
    /// Unsigned integer (`u32`); a change sends the wrapping difference, signed.
    Uint { k: u8 },
    /// Signed integer (`i32`); a change sends the wrapping difference.
    Int { k: u8 },
    /// Fixed point: the real value times `scale`, rounded half up, as an `i32` coded like
    /// [`FieldKind::Int`]. Clients divide by `scale`.
    Fixed { scale: u32, k: u8 },
    /// A direction as a `u16` fraction of a turn, kept to `bits` (1..=16) bits of
    /// precision (the value is a multiple of `2^(16 − bits)`); a change sends the
    /// shortest signed difference in those steps. A direction only drawn needs fewer
    /// bits than one a client predicts with. [`FieldWriter::angle`] rounds to the step;
    /// the coding drops whatever lies below it.
    Angle { bits: u8 },
    /// A UTF-8 string of at most `max_bytes` bytes; a change sends it whole.
    Text { max_bytes: u16 },
    /// The net id of another entity (0: none); a change sends the new id.
    Entity,
    /// A 2-D motion in steps of `1/scale` m and `1/scale` m/s, coded against where the
    /// previous motion predicts the entity (see [`MotionModel`]).
    Motion { model: MotionModel, scale: u32 },
}

/// Steps of a `u16` angle below a precision of `bits` bits: `16 − bits` (0 to 15).
pub fn angle_shift(bits: u8) -> u32 {
    16 - u32::from(bits.clamp(1, 16))
}

/// `v` rounded half up (wrapping) to a multiple of `2^(16 − bits)`.
pub fn angle_to_precision(v: u16, bits: u8) -> u16 {
    let shift = angle_shift(bits);
    if shift == 0 {
        return v;
    }
    let half = 1u32 << (shift - 1);
    (((u32::from(v) + half) >> shift) << shift) as u16
}

/// How a [`FieldKind::Motion`] is held and predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MotionModel {
    /// Position and velocity now; a new position is coded against the old one moved by
    /// the old velocity for the ticks between the two snapshots (players).
    Predicted,
    /// A straight line: at tick `anchor` the entity was at the position, moving at the
    /// velocity since. Changes only when the line does (a turn, a bounce), so an entity
    /// cruising costs nothing (drones, projectiles, balls).
    Trajectory,
}

/// A [`FieldKind::Motion`] value. `anchor` is 0 for [`MotionModel::Predicted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MotionValue {
    pub anchor: u32,
    pub x: i32,
    pub y: i32,
    pub vx: i32,
    pub vy: i32,
}

impl MotionValue {
    /// Position at `tick`, exact and identical on every peer: the position itself for a
    /// predicted motion, the point reached along the line for a trajectory.
    pub fn at(&self, model: MotionModel, tick: u32, tick_rate: u16) -> (i32, i32) {
        if model == MotionModel::Predicted {
            return (self.x, self.y);
        }
        self.along(tick, tick_rate)
    }

    /// The point at `tick` along the line through (`x`, `y`) at `anchor`.
    pub fn along(&self, tick: u32, tick_rate: u16) -> (i32, i32) {
        let elapsed = i64::from(tick) - i64::from(self.anchor);
        (
            crate::quant::advance(self.x, self.vx, elapsed, tick_rate),
            crate::quant::advance(self.y, self.vy, elapsed, tick_rate),
        )
    }
}

/// Integer slots a motion takes: anchor, x, y, vx, vy.
pub const MOTION_SLOTS: usize = 5;

/// Why a schema was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("{0} components; at most {MAX_COMPONENTS}")]
    Components(usize),
    #[error("component {0:?} has {1} fields; at most {MAX_FIELDS}")]
    Fields(String, usize),
    #[error("name {0:?} is empty, too long or not unique")]
    Name(String),
    #[error("field {0:?}: {1}")]
    Kind(String, &'static str),
    #[error("every motion of a schema must have the same scale (the area of interest's unit)")]
    MotionScales,
}

/// Where a field's value lives in an [`EntityState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// One integer at this index of [`Values::ints`] (a `u32`, `u16` or bit field is held
    /// as its bits).
    Int(usize),
    /// One string at this index of [`Values::texts`].
    Text(usize),
    /// [`MOTION_SLOTS`] integers from this index of [`Values::ints`].
    Motion(usize),
}

/// A field with its place: what [`Layout::field`] finds by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRef {
    pub component: usize,
    pub kind: FieldKind,
    pub slot: Slot,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ComponentLayout {
    fields: Vec<(FieldKind, Slot)>,
    /// Slot and model of the component's first motion field: where its entity is.
    motion: Option<(usize, MotionModel)>,
}

/// A checked schema with the place of every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    schema: Schema,
    components: Vec<ComponentLayout>,
    ints: usize,
    texts: usize,
    /// Steps per unit of every motion (0 when the schema has none).
    motion_scale: u32,
    /// (component, slot, model) of each component's first motion, in component order:
    /// what [`Layout::motion`] looks through (every snapshot tick, for every entity).
    motions: Vec<(usize, usize, MotionModel)>,
}

fn check_name(name: &str, seen: &mut Vec<String>) -> Result<(), SchemaError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES || seen.iter().any(|n| n == name) {
        return Err(SchemaError::Name(name.to_owned()));
    }
    seen.push(name.to_owned());
    Ok(())
}

fn check_kind(name: &str, kind: FieldKind) -> Result<(), SchemaError> {
    let bad = |why| Err(SchemaError::Kind(name.to_owned(), why));
    match kind {
        FieldKind::Bits { width } if !(1..=32).contains(&width) => bad("width must be 1..=32"),
        FieldKind::Angle { bits } if !(1..=16).contains(&bits) => bad("bits must be 1..=16"),
        FieldKind::Uint { k } | FieldKind::Int { k } | FieldKind::Fixed { k, .. }
            if k > MAX_ORDER =>
        {
            bad("order k must be at most 24")
        }
        FieldKind::Fixed { scale: 0, .. } | FieldKind::Motion { scale: 0, .. } => {
            bad("scale must be positive")
        }
        FieldKind::Text { max_bytes } if max_bytes > MAX_TEXT_BYTES => {
            bad("max_bytes must be at most 1024")
        }
        _ => Ok(()),
    }
}

impl Schema {
    /// Checks the schema (counts, unique names, kinds in range) and lays its fields out.
    pub fn layout(&self) -> Result<Layout, SchemaError> {
        if self.components.len() > MAX_COMPONENTS {
            return Err(SchemaError::Components(self.components.len()));
        }
        let (mut ints, mut texts, mut motion_scale) = (0, 0, 0);
        let mut names = Vec::new();
        let mut components = Vec::with_capacity(self.components.len());
        for c in &self.components {
            check_name(&c.name, &mut names)?;
            if c.fields.len() > MAX_FIELDS {
                return Err(SchemaError::Fields(c.name.clone(), c.fields.len()));
            }
            let mut field_names = Vec::new();
            let mut fields = Vec::with_capacity(c.fields.len());
            let mut motion = None;
            for f in &c.fields {
                check_name(&f.name, &mut field_names)?;
                check_kind(&f.name, f.kind)?;
                let slot = match f.kind {
                    FieldKind::Text { .. } => {
                        texts += 1;
                        Slot::Text(texts - 1)
                    }
                    FieldKind::Motion { model, scale } => {
                        if motion_scale != 0 && motion_scale != scale {
                            return Err(SchemaError::MotionScales);
                        }
                        motion_scale = scale;
                        ints += MOTION_SLOTS;
                        motion.get_or_insert((ints - MOTION_SLOTS, model));
                        Slot::Motion(ints - MOTION_SLOTS)
                    }
                    _ => {
                        ints += 1;
                        Slot::Int(ints - 1)
                    }
                };
                fields.push((f.kind, slot));
            }
            components.push(ComponentLayout { fields, motion });
        }
        let motions = components
            .iter()
            .enumerate()
            .filter_map(|(c, l)| l.motion.map(|(slot, model)| (c, slot, model)))
            .collect();
        Ok(Layout {
            schema: self.clone(),
            motions,
            components,
            ints,
            texts,
            motion_scale,
        })
    }
}

impl Layout {
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Steps per unit of the schema's motions (the unit of positions and of the area of
    /// interest's radius); 0 when it has none.
    pub fn motion_scale(&self) -> u32 {
        self.motion_scale
    }

    /// Whether `e` has the slot counts of this layout and only its components.
    pub fn fits(&self, e: &EntityState) -> bool {
        let n = self.components.len();
        e.values.ints.len() == self.ints
            && e.values.texts.len() == self.texts
            && (n >= 32 || e.present >> n == 0)
    }

    /// Number of components (the width of a presence mask).
    pub fn component_count(&self) -> usize {
        self.components.len()
    }

    /// Index of the component called `name`.
    pub fn component(&self, name: &str) -> Option<usize> {
        self.schema.components.iter().position(|c| c.name == name)
    }

    /// The field `field` of the component `component`.
    pub fn field(&self, component: &str, field: &str) -> Option<FieldRef> {
        let c = self.component(component)?;
        let i = self
            .schema
            .components
            .get(c)?
            .fields
            .iter()
            .position(|f| f.name == field)?;
        let &(kind, slot) = self.components.get(c)?.fields.get(i)?;
        Some(FieldRef {
            component: c,
            kind,
            slot,
        })
    }

    /// The kinds and slots of component `c`'s fields, in wire order.
    pub fn fields(&self, c: usize) -> &[(FieldKind, Slot)] {
        self.components.get(c).map_or(&[], |c| &c.fields)
    }

    /// An entity with no components and every slot zero.
    pub fn empty(&self, id: u32) -> EntityState {
        EntityState {
            id,
            present: 0,
            values: Arc::new(self.empty_values()),
        }
    }

    /// Every slot of this layout at zero (numbers) or empty (texts).
    pub fn empty_values(&self) -> Values {
        Values {
            ints: vec![0; self.ints],
            texts: vec![String::new(); self.texts],
        }
    }

    /// Makes `values` equal to [`Layout::empty_values`], keeping its allocations.
    pub fn reset_values(&self, values: &mut Values) {
        values.ints.clear();
        values.ints.resize(self.ints, 0);
        values.texts.truncate(self.texts);
        for t in &mut values.texts {
            t.clear();
        }
        values.texts.resize(self.texts, String::new());
    }

    /// The motion that places `e`: the first motion field of its first present component
    /// that has one. Entities without one are everywhere (a match clock, team scores):
    /// every client's area of interest includes them.
    pub fn motion(&self, e: &EntityState) -> Option<MotionValue> {
        self.placing_motion(e).map(|(m, _)| m)
    }

    /// The motion that places `e` (see [`Layout::motion`]) with its model.
    pub fn placing_motion(&self, e: &EntityState) -> Option<(MotionValue, MotionModel)> {
        self.motions
            .iter()
            .find(|(c, _, _)| e.has(*c))
            .map(|&(_, at, model)| (e.motion(at), model))
    }

    /// Position of `e` at `tick` (see [`Layout::motion`]).
    pub fn position(&self, e: &EntityState, tick: u32, tick_rate: u16) -> Option<(i32, i32)> {
        self.placing_motion(e)
            .map(|(m, model)| m.at(model, tick, tick_rate))
    }

    /// Clears the slots of component `c` (a removed component's values are zero).
    pub(crate) fn clear_component(&self, values: &mut Values, c: usize) {
        for &(_, slot) in self.fields(c) {
            match slot {
                Slot::Int(i) => {
                    if let Some(v) = values.ints.get_mut(i) {
                        *v = 0;
                    }
                }
                Slot::Text(i) => {
                    if let Some(t) = values.texts.get_mut(i) {
                        t.clear();
                    }
                }
                Slot::Motion(i) => {
                    for v in values.ints.iter_mut().skip(i).take(MOTION_SLOTS) {
                        *v = 0;
                    }
                }
            }
        }
    }

    /// Writes component `c` of `values` through a [`FieldWriter`], marking it present.
    pub fn writer<'a>(&'a self, e: &'a mut EntityBuilder, c: usize) -> FieldWriter<'a> {
        e.present |= 1u32.checked_shl(c as u32).unwrap_or(0);
        FieldWriter {
            fields: self.fields(c),
            values: &mut e.values,
            next: 0,
        }
    }
}

/// The values of an entity's fields (absent components' slots are zero or empty, so two
/// equal entities have equal values).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Values {
    pub ints: Vec<i32>,
    pub texts: Vec<String>,
}

/// One replicated entity: its net id, which components it has, and their values.
/// Cloning shares the values (the server's baselines and views hold the same
/// allocation until something changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityState {
    /// Net id, unique within the room for the room's lifetime.
    pub id: u32,
    /// Bit `c` set: the entity has component `c` of the schema.
    pub present: u32,
    pub values: Arc<Values>,
}

impl EntityState {
    /// Whether the entity has component `c`.
    pub fn has(&self, c: usize) -> bool {
        c < 32 && self.present & (1 << c) != 0
    }

    /// Whether `other` holds the same state (cheap when the values are shared).
    pub fn same(&self, other: &EntityState) -> bool {
        self.id == other.id
            && self.present == other.present
            && (Arc::ptr_eq(&self.values, &other.values)
                || (self.values.ints == other.values.ints
                    && same_texts(&self.values.texts, &other.values.texts)))
    }

    /// The integer in slot `i` (0 when out of range).
    pub fn int(&self, i: usize) -> i32 {
        self.values.ints.get(i).copied().unwrap_or(0)
    }

    /// The string in text slot `i` (empty when out of range).
    pub fn text(&self, i: usize) -> &str {
        self.values.texts.get(i).map_or("", String::as_str)
    }

    /// The motion whose slots start at `i`.
    pub fn motion(&self, i: usize) -> MotionValue {
        MotionValue {
            anchor: self.int(i) as u32,
            x: self.int(i + 1),
            y: self.int(i + 2),
            vx: self.int(i + 3),
            vy: self.int(i + 4),
        }
    }

    /// Value of `field` if the entity has its component: integers as `i64` (unsigned
    /// kinds are read unsigned).
    pub fn get(&self, field: &FieldRef) -> Option<i64> {
        if !self.has(field.component) {
            return None;
        }
        match (field.kind, field.slot) {
            (FieldKind::Bits { .. } | FieldKind::Uint { .. } | FieldKind::Entity, Slot::Int(i)) => {
                Some(i64::from(self.int(i) as u32))
            }
            (FieldKind::Angle { .. }, Slot::Int(i)) => Some(i64::from(self.int(i) as u16)),
            (_, Slot::Int(i)) => Some(i64::from(self.int(i))),
            _ => None,
        }
    }

    /// The text of `field` if the entity has its component and the field is text.
    pub fn get_text(&self, field: &FieldRef) -> Option<&str> {
        match field.slot {
            Slot::Text(i) if self.has(field.component) => Some(self.text(i)),
            _ => None,
        }
    }

    /// The motion of `field` if the entity has its component and the field is a motion.
    pub fn get_motion(&self, field: &FieldRef) -> Option<MotionValue> {
        match field.slot {
            Slot::Motion(i) if self.has(field.component) => Some(self.motion(i)),
            _ => None,
        }
    }
}

/// Text equality that skips the `memcmp` call for the common case of two empty texts:
/// measured at ~80 ns per call otherwise, which dominated a 1,000-entity diff.
fn same_texts(a: &[String], b: &[String]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.len() == y.len() && (x.is_empty() || x == y))
}

/// An entity being filled in by the server, component by component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityBuilder {
    pub id: u32,
    pub present: u32,
    pub values: Values,
}

impl EntityBuilder {
    /// An empty entity of `layout` (reusing `values`' allocations when given).
    pub fn new(layout: &Layout, id: u32, mut values: Values) -> EntityBuilder {
        values.ints.clear();
        values.ints.resize(layout.ints, 0);
        values.texts.resize(layout.texts, String::new());
        for t in &mut values.texts {
            t.clear();
        }
        EntityBuilder {
            id,
            present: 0,
            values,
        }
    }

    /// The finished record.
    pub fn build(self) -> EntityState {
        EntityState {
            id: self.id,
            present: self.present,
            values: Arc::new(self.values),
        }
    }
}

/// Writes one component's fields in their declared order. A value of the wrong kind for
/// the next field is a bug in the game's declaration: debug builds panic, release builds
/// skip the field (it stays zero).
#[derive(Debug)]
pub struct FieldWriter<'a> {
    fields: &'a [(FieldKind, Slot)],
    values: &'a mut Values,
    next: usize,
}

impl FieldWriter<'_> {
    fn next_slot(&mut self, fits: impl Fn(FieldKind) -> bool) -> Option<Slot> {
        let field = self.fields.get(self.next).copied();
        self.next += 1;
        match field {
            Some((kind, slot)) if fits(kind) => Some(slot),
            other => {
                debug_assert!(
                    false,
                    "field {} written as the wrong kind: {other:?}",
                    self.next - 1
                );
                None
            }
        }
    }

    fn put(&mut self, fits: impl Fn(FieldKind) -> bool, v: i32) -> &mut Self {
        if let Some(Slot::Int(i)) = self.next_slot(fits)
            && let Some(s) = self.values.ints.get_mut(i)
        {
            *s = v;
        }
        self
    }

    /// A [`FieldKind::Bits`] field (masked to its width).
    pub fn bits(&mut self, v: u32) -> &mut Self {
        let width = match self.fields.get(self.next) {
            Some((FieldKind::Bits { width }, _)) => u32::from(*width),
            _ => 32,
        };
        let v = if width >= 32 {
            v
        } else {
            v & ((1 << width) - 1)
        };
        self.put(|k| matches!(k, FieldKind::Bits { .. }), v as i32)
    }

    /// A boolean, as a one-bit [`FieldKind::Bits`] field.
    pub fn flag(&mut self, v: bool) -> &mut Self {
        self.bits(u32::from(v))
    }

    /// A [`FieldKind::Uint`] field.
    pub fn uint(&mut self, v: u32) -> &mut Self {
        self.put(|k| matches!(k, FieldKind::Uint { .. }), v as i32)
    }

    /// A [`FieldKind::Int`] field.
    pub fn int(&mut self, v: i32) -> &mut Self {
        self.put(|k| matches!(k, FieldKind::Int { .. }), v)
    }

    /// A [`FieldKind::Fixed`] field from its real value (quantised with its scale).
    pub fn fixed(&mut self, v: f64) -> &mut Self {
        let scale = match self.fields.get(self.next) {
            Some((FieldKind::Fixed { scale, .. }, _)) => f64::from(*scale),
            _ => 1.0,
        };
        self.put(
            |k| matches!(k, FieldKind::Fixed { .. }),
            crate::quant::to_fixed(v, scale),
        )
    }

    /// A [`FieldKind::Angle`] field, already a fraction of a turn, rounded (half up,
    /// wrapping) to the field's precision.
    pub fn angle(&mut self, v: u16) -> &mut Self {
        let bits = match self.fields.get(self.next) {
            Some((FieldKind::Angle { bits }, _)) => *bits,
            _ => 16,
        };
        self.put(
            |k| matches!(k, FieldKind::Angle { .. }),
            i32::from(angle_to_precision(v, bits)),
        )
    }

    /// A [`FieldKind::Entity`] field: a net id, 0 for none.
    pub fn entity(&mut self, net_id: u32) -> &mut Self {
        self.put(|k| k == FieldKind::Entity, net_id as i32)
    }

    /// A [`FieldKind::Text`] field (cut to its `max_bytes` at a character boundary).
    pub fn text(&mut self, v: &str) -> &mut Self {
        let max = match self.fields.get(self.next) {
            Some((FieldKind::Text { max_bytes }, _)) => usize::from(*max_bytes),
            _ => 0,
        };
        if let Some(Slot::Text(i)) = self.next_slot(|k| matches!(k, FieldKind::Text { .. }))
            && let Some(s) = self.values.texts.get_mut(i)
        {
            s.clear();
            s.push_str(truncate(v, max));
        }
        self
    }

    /// A [`FieldKind::Motion`] field (anchor 0 for a predicted motion).
    pub fn motion(&mut self, m: MotionValue) -> &mut Self {
        if let Some(Slot::Motion(i)) = self.next_slot(|k| matches!(k, FieldKind::Motion { .. })) {
            let vals = [m.anchor as i32, m.x, m.y, m.vx, m.vy];
            for (s, v) in self.values.ints.iter_mut().skip(i).zip(vals) {
                *s = v;
            }
        }
        self
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema {
            game: "t".into(),
            components: vec![
                ComponentDef {
                    name: "Body".into(),
                    fields: vec![FieldDef {
                        name: "motion".into(),
                        kind: FieldKind::Motion {
                            model: MotionModel::Predicted,
                            scale: 64,
                        },
                    }],
                },
                ComponentDef {
                    name: "Tag".into(),
                    fields: vec![
                        FieldDef {
                            name: "name".into(),
                            kind: FieldKind::Text { max_bytes: 4 },
                        },
                        FieldDef {
                            name: "hp".into(),
                            kind: FieldKind::Bits { width: 4 },
                        },
                    ],
                },
            ],
        }
    }

    #[test]
    fn layout_places_fields_and_writers_fill_them() {
        let layout = schema().layout().unwrap();
        let mut b = EntityBuilder::new(&layout, 7, Values::default());
        layout.writer(&mut b, 1).text("héllo").bits(0x1f);
        let e = b.build();
        assert_eq!(e.present, 2);
        let name = layout.field("Tag", "name").unwrap();
        let hp = layout.field("Tag", "hp").unwrap();
        assert_eq!(e.get_text(&name), Some("hél"));
        assert_eq!(e.get(&hp), Some(0xf));
        assert_eq!(layout.position(&e, 0, 60), None);
    }

    #[test]
    fn bad_schemas_are_refused() {
        let mut s = schema();
        s.components[1].name = "Body".into();
        assert!(matches!(s.layout(), Err(SchemaError::Name(_))));
        let mut s = schema();
        s.components[1].fields[1].kind = FieldKind::Bits { width: 33 };
        assert!(matches!(s.layout(), Err(SchemaError::Kind(..))));
        let mut s = schema();
        s.components = (0..33)
            .map(|i| ComponentDef {
                name: format!("C{i}"),
                fields: vec![],
            })
            .collect();
        assert!(matches!(s.layout(), Err(SchemaError::Components(33))));
    }
}

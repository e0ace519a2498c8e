//! Delta snapshots: what changed between a view a client holds and the view it should
//! hold now, packed field by field, and the checksum that proves both sides agree.
//!
//! A view is a list of [`EntityState`]s sorted by id. The server diffs a client's
//! baseline against its new view ([`diff`]), may send only part of the changes (a byte
//! budget), and keeps as the next baseline exactly what the client will rebuild
//! ([`merge`]). The client rebuilds it with [`decode_payload`] through [`ClientView`].
//!
//! Payload layout (PROTOCOL.md has it bit by bit): removed ids, created entities in full,
//! changed entities as a field mask plus only the fields that changed, each coded
//! against a reference both sides compute: players' positions against where their
//! velocity would have taken them, trajectories against the old trajectory at the new
//! anchor tick, everything else against its previous value. Ids are gaps between
//! ascending ids. An unchanged entity costs nothing.

// Peer-controlled bytes flow through this module: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use crate::pack::{BitReader, BitWriter, ByteReader, ByteWriter, PackError, Packer, Unpacker};
use crate::protocol::{EntityKind, EntityState, FullSnapshot, Packing, Snapshot};
use crate::quant::advance;

/// Field mask bits of a changed entity, in the order their values follow the mask.
pub mod field {
    /// `anchor` (trajectories only), written first because `x`/`y` refer to it.
    pub const ANCHOR: u8 = 1;
    /// `x` and `y`.
    pub const POS: u8 = 2;
    /// `vx` and `vy`.
    pub const VEL: u8 = 4;
    pub const ANGLE: u8 = 8;
    pub const HEALTH: u8 = 16;
    pub const FLAGS: u8 = 32;
    pub const SCORE: u8 = 64;
    pub const NAME: u8 = 128;
}

/// Longest name accepted in a payload, in bytes (16 characters of up to 4 bytes).
pub const MAX_NAME_BYTES: u32 = 64;

/// Exp-Golomb orders per value, tuned on the arena-64 scenario (see BENCHMARKS.md).
mod k {
    pub const COUNT: u32 = 3;
    pub const ID_GAP: u32 = 1;
    pub const ABS_POS: u32 = 12;
    pub const ABS_VEL: u32 = 6;
    pub const AGE: u32 = 2;
    pub const SCORE: u32 = 1;
    pub const NAME_LEN: u32 = 3;
    pub const OWNER: u32 = 8;
    pub const POS_RESIDUAL: u32 = 2;
    pub const VEL_DELTA: u32 = 4;
    pub const ANGLE_DELTA: u32 = 6;
    pub const SCORE_DELTA: u32 = 0;
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
    #[error("entity {0} is already in the view")]
    Duplicate(u32),
    #[error("ids are not ascending")]
    Order,
    #[error("unknown entity kind {0}")]
    Kind(u32),
    #[error("invalid name")]
    Name,
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
    /// (baseline index, target index, field mask) of entities that changed (ascending).
    pub changed: Vec<(usize, usize, u8)>,
}

impl Diff {
    pub fn clear(&mut self) {
        self.removed.clear();
        self.created.clear();
        self.changed.clear();
    }
}

/// Which fields of `b` differ in `t` (same id, kind and owner).
pub fn changed_fields(b: &EntityState, t: &EntityState) -> u8 {
    let mut mask = 0;
    if b.anchor != t.anchor {
        mask |= field::ANCHOR;
    }
    if (b.x, b.y) != (t.x, t.y) {
        mask |= field::POS;
    }
    if (b.vx, b.vy) != (t.vx, t.vy) {
        mask |= field::VEL;
    }
    if b.angle != t.angle {
        mask |= field::ANGLE;
    }
    if b.health != t.health {
        mask |= field::HEALTH;
    }
    if b.flags != t.flags {
        mask |= field::FLAGS;
    }
    if b.score != t.score {
        mask |= field::SCORE;
    }
    if !same_name(&b.name, &t.name) {
        mask |= field::NAME;
    }
    mask
}

/// Name equality that skips the `memcmp` call for the common case of two empty names
/// (only players have one): measured at ~80 ns per call otherwise, which dominated a
/// 1,000-entity diff (see BENCHMARKS.md).
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// Diffs two views sorted by id into `out` (cleared first, so its buffers are reused).
/// An entity whose kind or owner changed is removed and created again.
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
                if b.kind != t.kind || b.owner != t.owner {
                    out.removed.push(b.id);
                    out.created.push(j);
                } else {
                    let mask = changed_fields(b, t);
                    if mask != 0 {
                        out.changed.push((i, j, mask));
                    }
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
    changed: &[(usize, usize, u8)],
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
            // A kind change re-creates the same id right here.
            if let Some(c) = created.next_if(|c| c.id == b.id) {
                out.push(c.clone());
            }
            continue;
        }
        match changed.next_if(|&&(bi, _, _)| bi == i) {
            Some(&(_, tj, _)) => out.push(target.get(tj).cloned().unwrap_or_else(|| b.clone())),
            None => out.push(b.clone()),
        }
    }
    out.extend(created.cloned());
}

fn kind_code(kind: EntityKind) -> u32 {
    match kind {
        EntityKind::Player => 0,
        EntityKind::Drone => 1,
        EntityKind::Projectile => 2,
    }
}

fn kind_from(code: u32) -> Result<EntityKind, DeltaError> {
    match code {
        0 => Ok(EntityKind::Player),
        1 => Ok(EntityKind::Drone),
        2 => Ok(EntityKind::Projectile),
        other => Err(DeltaError::Kind(other)),
    }
}

/// Where a changed entity's new position is coded against.
fn position_reference(b: &EntityState, new_anchor: u32, frame: &Frame) -> (i32, i32) {
    if b.kind == EntityKind::Player {
        (
            advance(b.x, b.vx, frame.elapsed(), frame.tick_rate),
            advance(b.y, b.vy, frame.elapsed(), frame.tick_rate),
        )
    } else {
        // A new trajectory starts where the old one had got to at its anchor tick.
        EntityState {
            anchor: b.anchor,
            ..b.clone()
        }
        .position_at(new_anchor, frame.tick_rate)
    }
}

fn write_name(p: &mut impl Packer, name: &str) {
    let bytes = name.as_bytes();
    let len = bytes.len().min(MAX_NAME_BYTES as usize);
    p.uint(len as u32, k::NAME_LEN);
    for &b in bytes.iter().take(len) {
        p.bits(u32::from(b), 8);
    }
}

fn read_name(u: &mut impl Unpacker) -> Result<String, DeltaError> {
    let len = u.uint(k::NAME_LEN)?;
    if len > MAX_NAME_BYTES {
        return Err(DeltaError::Name);
    }
    let mut bytes = Vec::with_capacity(len as usize);
    for _ in 0..len {
        bytes.push(u.bits(8)? as u8);
    }
    String::from_utf8(bytes).map_err(|_| DeltaError::Name)
}

fn write_created(p: &mut impl Packer, e: &EntityState, frame: &Frame) {
    p.bits(kind_code(e.kind), 2);
    p.sint(e.x, k::ABS_POS);
    p.sint(e.y, k::ABS_POS);
    p.sint(e.vx, k::ABS_VEL);
    p.sint(e.vy, k::ABS_VEL);
    if e.kind != EntityKind::Player {
        p.uint(frame.tick.wrapping_sub(e.anchor), k::AGE);
    }
    p.bits(u32::from(e.angle), 16);
    p.bits(u32::from(e.health), 8);
    match e.kind {
        EntityKind::Player => {
            p.bits(u32::from(e.flags), 8);
            p.uint(e.score, k::SCORE);
            write_name(p, &e.name);
        }
        EntityKind::Projectile => p.uint(e.owner, k::OWNER),
        EntityKind::Drone => {}
    }
}

fn read_created(u: &mut impl Unpacker, id: u32, frame: &Frame) -> Result<EntityState, DeltaError> {
    let kind = kind_from(u.bits(2)?)?;
    let x = u.sint(k::ABS_POS)?;
    let y = u.sint(k::ABS_POS)?;
    let vx = u.sint(k::ABS_VEL)?;
    let vy = u.sint(k::ABS_VEL)?;
    let anchor = match kind {
        EntityKind::Player => 0,
        _ => frame.tick.wrapping_sub(u.uint(k::AGE)?),
    };
    let angle = u.bits(16)? as u16;
    let health = u.bits(8)? as u8;
    let (mut flags, mut score, mut owner, mut name) = (0, 0, 0, String::new());
    match kind {
        EntityKind::Player => {
            flags = u.bits(8)? as u8;
            score = u.uint(k::SCORE)?;
            name = read_name(u)?;
        }
        EntityKind::Projectile => owner = u.uint(k::OWNER)?,
        EntityKind::Drone => {}
    }
    Ok(EntityState {
        id,
        kind,
        x,
        y,
        vx,
        vy,
        anchor,
        angle,
        health,
        flags,
        score,
        owner,
        name,
    })
}

fn write_changed(p: &mut impl Packer, b: &EntityState, t: &EntityState, mask: u8, frame: &Frame) {
    p.bits(u32::from(mask), 8);
    if mask & field::ANCHOR != 0 {
        p.uint(frame.tick.wrapping_sub(t.anchor), k::AGE);
    }
    if mask & field::POS != 0 {
        let (rx, ry) = position_reference(b, t.anchor, frame);
        p.sint(t.x.wrapping_sub(rx), k::POS_RESIDUAL);
        p.sint(t.y.wrapping_sub(ry), k::POS_RESIDUAL);
    }
    if mask & field::VEL != 0 {
        p.sint(t.vx.wrapping_sub(b.vx), k::VEL_DELTA);
        p.sint(t.vy.wrapping_sub(b.vy), k::VEL_DELTA);
    }
    if mask & field::ANGLE != 0 {
        p.sint(
            i32::from(t.angle.wrapping_sub(b.angle) as i16),
            k::ANGLE_DELTA,
        );
    }
    if mask & field::HEALTH != 0 {
        p.bits(u32::from(t.health), 8);
    }
    if mask & field::FLAGS != 0 {
        p.bits(u32::from(t.flags), 8);
    }
    if mask & field::SCORE != 0 {
        p.sint(t.score.wrapping_sub(b.score) as i32, k::SCORE_DELTA);
    }
    if mask & field::NAME != 0 {
        write_name(p, &t.name);
    }
}

fn read_changed(
    u: &mut impl Unpacker,
    b: &EntityState,
    frame: &Frame,
) -> Result<EntityState, DeltaError> {
    let mask = u.bits(8)? as u8;
    let mut t = b.clone();
    if mask & field::ANCHOR != 0 {
        t.anchor = frame.tick.wrapping_sub(u.uint(k::AGE)?);
    }
    if mask & field::POS != 0 {
        let (rx, ry) = position_reference(b, t.anchor, frame);
        t.x = rx.wrapping_add(u.sint(k::POS_RESIDUAL)?);
        t.y = ry.wrapping_add(u.sint(k::POS_RESIDUAL)?);
    }
    if mask & field::VEL != 0 {
        t.vx = b.vx.wrapping_add(u.sint(k::VEL_DELTA)?);
        t.vy = b.vy.wrapping_add(u.sint(k::VEL_DELTA)?);
    }
    if mask & field::ANGLE != 0 {
        t.angle = b.angle.wrapping_add(u.sint(k::ANGLE_DELTA)? as u16);
    }
    if mask & field::HEALTH != 0 {
        t.health = u.bits(8)? as u8;
    }
    if mask & field::FLAGS != 0 {
        t.flags = u.bits(8)? as u8;
    }
    if mask & field::SCORE != 0 {
        t.score = b.score.wrapping_add(u.sint(k::SCORE_DELTA)? as u32);
    }
    if mask & field::NAME != 0 {
        t.name = read_name(u)?;
    }
    Ok(t)
}

/// Writes ascending ids (net ids start at 1) as gaps: `id - previous - 1`, with the
/// previous id of the first one taken as 0.
fn write_gap(p: &mut impl Packer, prev: &mut u32, id: u32) {
    p.uint(id.wrapping_sub(*prev).wrapping_sub(1), k::ID_GAP);
    *prev = id;
}

fn read_gap(u: &mut impl Unpacker, prev: &mut u32) -> Result<u32, DeltaError> {
    let gap = u.uint(k::ID_GAP)?;
    let id = prev
        .checked_add(1)
        .and_then(|next| next.checked_add(gap))
        .ok_or(DeltaError::Order)?;
    *prev = id;
    Ok(id)
}

/// Writes the payload for the chosen part of a diff.
pub fn write_payload(
    p: &mut impl Packer,
    frame: &Frame,
    base: &[EntityState],
    target: &[EntityState],
    removed: &[u32],
    created: &[usize],
    changed: &[(usize, usize, u8)],
) {
    p.uint(removed.len() as u32, k::COUNT);
    let mut prev = 0;
    for &id in removed {
        write_gap(p, &mut prev, id);
    }
    // Counts are of the records actually written, so they match even for bad indices.
    let created = || created.iter().filter_map(|&j| target.get(j));
    p.uint(created().count() as u32, k::COUNT);
    let mut prev = 0;
    for e in created() {
        write_gap(p, &mut prev, e.id);
        write_created(p, e, frame);
    }
    let changed = || {
        changed
            .iter()
            .filter_map(|&(i, j, m)| Some((base.get(i)?, target.get(j)?, m)))
    };
    p.uint(changed().count() as u32, k::COUNT);
    let mut prev = 0;
    for (b, t, mask) in changed() {
        write_gap(p, &mut prev, t.id);
        write_changed(p, b, t, mask, frame);
    }
}

/// Encodes the chosen part of a diff with the given packing.
pub fn encode_payload(
    packing: Packing,
    frame: &Frame,
    base: &[EntityState],
    target: &[EntityState],
    removed: &[u32],
    created: &[usize],
    changed: &[(usize, usize, u8)],
) -> Vec<u8> {
    match packing {
        Packing::Bits => {
            let mut w = BitWriter::new();
            write_payload(&mut w, frame, base, target, removed, created, changed);
            w.into_bytes()
        }
        Packing::Bytes => {
            let mut w = ByteWriter::new();
            write_payload(&mut w, frame, base, target, removed, created, changed);
            w.into_bytes()
        }
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
            Packing::Bits => {
                let len = 64 - (u64::from(value) + (1u64 << k)).leading_zeros();
                (2 * len - k - 1) as usize
            }
            Packing::Bytes => 8 * (32 - value.leading_zeros()).max(1).div_ceil(7) as usize,
        };
    }

    fn bit_len(&self) -> usize {
        self.bits
    }
}

/// Size in bits of a created-entity record, id gap included (priced as a gap of one).
pub fn created_bits(packing: Packing, frame: &Frame, e: &EntityState) -> usize {
    let mut c = SizeCounter { packing, bits: 0 };
    c.uint(1, k::ID_GAP);
    write_created(&mut c, e, frame);
    c.bits
}

/// Size in bits of a changed-entity record, id gap included (priced as a gap of one).
pub fn changed_bits(
    packing: Packing,
    frame: &Frame,
    b: &EntityState,
    t: &EntityState,
    mask: u8,
) -> usize {
    let mut c = SizeCounter { packing, bits: 0 };
    c.uint(1, k::ID_GAP);
    write_changed(&mut c, b, t, mask, frame);
    c.bits
}

/// The most entities one payload may create or change: far above any real view, low
/// enough that a forged count cannot make a client allocate much.
const MAX_RECORDS: u32 = 1 << 16;

fn read_count(u: &mut impl Unpacker) -> Result<u32, DeltaError> {
    let n = u.uint(k::COUNT)?;
    if n > MAX_RECORDS {
        return Err(DeltaError::Pack(PackError::Overlong));
    }
    Ok(n)
}

fn find(base: &[EntityState], id: u32) -> Option<usize> {
    base.binary_search_by_key(&id, |e| e.id).ok()
}

fn read_payload(
    u: &mut impl Unpacker,
    frame: &Frame,
    base: &[EntityState],
) -> Result<Vec<EntityState>, DeltaError> {
    let n = read_count(u)?;
    let mut removed = Vec::with_capacity(n.min(1024) as usize);
    let mut prev = 0;
    for _ in 0..n {
        let id = read_gap(u, &mut prev)?;
        find(base, id).ok_or(DeltaError::Unknown(id))?;
        removed.push(id);
    }
    let n = read_count(u)?;
    let mut created = Vec::with_capacity(n.min(1024) as usize);
    let mut prev = 0;
    for _ in 0..n {
        let id = read_gap(u, &mut prev)?;
        if find(base, id).is_some() && removed.binary_search(&id).is_err() {
            return Err(DeltaError::Duplicate(id));
        }
        created.push(read_created(u, id, frame)?);
    }
    let n = read_count(u)?;
    let mut changed = Vec::with_capacity(n.min(1024) as usize);
    let mut prev = 0;
    for _ in 0..n {
        let id = read_gap(u, &mut prev)?;
        let i = find(base, id).ok_or(DeltaError::Unknown(id))?;
        if removed.binary_search(&id).is_ok() {
            return Err(DeltaError::Unknown(id));
        }
        let b = base.get(i).ok_or(DeltaError::Unknown(id))?;
        changed.push((i, read_changed(u, b, frame)?));
    }
    u.finish()?;

    // `merge` takes indices into a target list; here the created and changed entities
    // are that list.
    let mut target = Vec::with_capacity(created.len() + changed.len());
    let mut created_idx = Vec::with_capacity(created.len());
    for e in created {
        created_idx.push(target.len());
        target.push(e);
    }
    let mut changed_idx = Vec::with_capacity(changed.len());
    for (i, e) in changed {
        changed_idx.push((i, target.len(), 0));
        target.push(e);
    }
    let mut out = Vec::with_capacity(base.len() + created_idx.len());
    merge(
        base,
        &target,
        &removed,
        &created_idx,
        &changed_idx,
        &mut out,
    );
    Ok(out)
}

/// Rebuilds the view a payload describes from the view it is relative to.
pub fn decode_payload(
    packing: Packing,
    frame: &Frame,
    base: &[EntityState],
    payload: &[u8],
) -> Result<Vec<EntityState>, DeltaError> {
    match packing {
        Packing::Bits => read_payload(&mut BitReader::new(payload), frame, base),
        Packing::Bytes => read_payload(&mut ByteReader::new(payload), frame, base),
    }
}

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// Hash of one entity: FNV-1a over 32-bit words of every field.
pub fn entity_hash(e: &EntityState) -> u32 {
    let mut h = FNV_OFFSET;
    let mut word = |w: u32| h = (h ^ w).wrapping_mul(FNV_PRIME);
    word(e.id);
    word(kind_code(e.kind));
    word(e.x as u32);
    word(e.y as u32);
    word(e.vx as u32);
    word(e.vy as u32);
    word(e.anchor);
    word(u32::from(e.angle));
    word(u32::from(e.health));
    word(u32::from(e.flags));
    word(e.score);
    word(e.owner);
    word(e.name.len() as u32);
    for &b in e.name.as_bytes() {
        word(u32::from(b));
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
pub fn checksum(view: &[EntityState]) -> u32 {
    fold_hashes(view.iter().map(entity_hash))
}

/// A client's copy of the replicated state, kept up to date by snapshots.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClientView {
    tick: u32,
    entities: Vec<EntityState>,
}

impl ClientView {
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
        let view = decode_payload(packing, &frame, base, &snap.payload)?;
        let got = checksum(&view);
        self.entities = view;
        self.tick = snap.tick;
        if got != snap.checksum {
            return Err(DeltaError::Checksum {
                expected: snap.checksum,
                got,
            });
        }
        Ok(())
    }

    /// Replaces the view with a full snapshot (`--snapshots full`).
    pub fn apply_full(&mut self, snap: &FullSnapshot) {
        self.entities.clone_from(&snap.entities);
        self.entities.sort_by_key(|e| e.id);
        self.entities.dedup_by_key(|e| e.id);
        self.tick = snap.tick;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn kind() -> impl Strategy<Value = EntityKind> {
        prop_oneof![
            Just(EntityKind::Player),
            Just(EntityKind::Drone),
            Just(EntityKind::Projectile)
        ]
    }

    prop_compose! {
        fn entity(id: u32)(kind in kind(), x in -20_000i32..20_000, y in -20_000i32..20_000,
                 vx in -2_000i32..2_000, vy in -2_000i32..2_000, anchor_back in 0u32..500,
                 angle: u16, health: u8, flags: u8, score in 0u32..1000, owner in 0u32..5000,
                 name in "\\PC{0,16}") -> EntityState {
            let player = kind == EntityKind::Player;
            EntityState {
                id, kind, x, y, vx, vy,
                anchor: if player { 0 } else { 10_000 - anchor_back },
                angle, health,
                flags: if player { flags } else { 0 },
                score: if player { score } else { 0 },
                owner: if kind == EntityKind::Projectile { owner } else { 0 },
                name: if player { name } else { String::new() },
            }
        }
    }

    /// A view: up to `n` entities with ids in 1..200, sorted.
    fn view(n: usize) -> impl Strategy<Value = Vec<EntityState>> {
        prop::collection::btree_set(1u32..200, 0..n)
            .prop_flat_map(|ids| ids.into_iter().map(entity).collect::<Vec<_>>())
    }

    /// A world evolving: each step keeps, mutates, drops or adds entities.
    fn mutate(prev: Vec<EntityState>) -> impl Strategy<Value = Vec<EntityState>> {
        (
            view(30),
            prop::collection::vec(any::<(u8, i16, i16, bool)>(), prev.len()),
        )
            .prop_map(move |(fresh, edits)| {
                let mut out: BTreeMap<u32, EntityState> = BTreeMap::new();
                for (e, (what, dx, dy, aim)) in prev.iter().zip(edits) {
                    let mut e = e.clone();
                    match what % 4 {
                        0 => continue,
                        1 => {}
                        _ => {
                            e.x = e.x.wrapping_add(i32::from(dx));
                            e.y = e.y.wrapping_add(i32::from(dy));
                            if aim {
                                e.angle = e.angle.wrapping_add(dx as u16);
                                e.health = e.health.wrapping_sub(20);
                            }
                            if e.kind != EntityKind::Player && what % 4 == 3 {
                                e.anchor += 3;
                            }
                        }
                    }
                    out.insert(e.id, e);
                }
                for e in fresh {
                    out.entry(e.id).or_insert(e);
                }
                out.into_values().collect()
            })
    }

    fn frame() -> Frame {
        Frame {
            tick: 10_003,
            baseline: 10_000,
            tick_rate: 60,
        }
    }

    fn round_trip(
        packing: Packing,
        base: &[EntityState],
        target: &[EntityState],
    ) -> Vec<EntityState> {
        let mut d = Diff::default();
        diff(base, target, &mut d);
        let payload = encode_payload(
            packing,
            &frame(),
            base,
            target,
            &d.removed,
            &d.created,
            &d.changed,
        );
        decode_payload(packing, &frame(), base, &payload).unwrap()
    }

    proptest! {
        #[test]
        fn apply_of_diff_gives_the_new_view(base in view(40), target in view(40)) {
            prop_assert_eq!(&round_trip(Packing::Bits, &base, &target), &target);
            prop_assert_eq!(&round_trip(Packing::Bytes, &base, &target), &target);
        }

        #[test]
        fn partial_deltas_give_what_merge_predicts(base in view(40), target in view(40),
                keep in prop::collection::vec(any::<bool>(), 80)) {
            let mut d = Diff::default();
            diff(&base, &target, &mut d);
            let mut pick = keep.iter().cycle();
            let created: Vec<usize> = d.created.iter().copied().filter(|_| *pick.next().unwrap()).collect();
            let changed: Vec<_> = d.changed.iter().copied().filter(|_| *pick.next().unwrap()).collect();
            // Any part of the removals may go too (a byte budget defers them like the
            // rest), but removing an id that is re-created with another kind goes with
            // that creation, and only with it.
            let removed: Vec<u32> = d.removed.iter().copied()
                .filter(|id| {
                    let recreated = target.iter().any(|t| t.id == *id);
                    if recreated {
                        created.iter().any(|&j| target[j].id == *id)
                    } else {
                        *pick.next().unwrap()
                    }
                })
                .collect();
            let mut expected = Vec::new();
            merge(&base, &target, &removed, &created, &changed, &mut expected);
            for packing in [Packing::Bits, Packing::Bytes] {
                let payload = encode_payload(packing, &frame(), &base, &target, &removed, &created, &changed);
                prop_assert_eq!(&decode_payload(packing, &frame(), &base, &payload).unwrap(), &expected);
            }
        }

        #[test]
        fn a_client_view_follows_any_sequence_of_worlds(
            worlds in view(30).prop_flat_map(|a| mutate(a.clone()).prop_map(move |b| (a.clone(), b)))
                .prop_flat_map(|(a, b)| mutate(b.clone()).prop_map(move |c| vec![a.clone(), b.clone(), c]))
        ) {
            let mut client = ClientView::default();
            let mut server_view: Vec<EntityState> = Vec::new();
            let mut d = Diff::default();
            for (n, world) in worlds.iter().enumerate() {
                let tick = 10_000 + 3 * n as u32;
                let baseline = if n == 0 { 0 } else { tick - 3 };
                let f = Frame { tick, baseline, tick_rate: 60 };
                diff(&server_view, world, &mut d);
                let payload = encode_payload(Packing::Bits, &f, &server_view, world, &d.removed, &d.created, &d.changed);
                let snap = Snapshot { tick, baseline, last_input_seq: 0, checksum: checksum(world), payload };
                client.apply(&snap, 60, Packing::Bits).unwrap();
                prop_assert_eq!(client.entities(), world.as_slice());
                server_view = world.clone();
            }
        }

        #[test]
        fn extreme_values_round_trip_without_overflow(
            vals in prop::collection::vec(any::<(i32, i32, i32, i32, u32, u32)>(), 1..8),
            tick: u32, back: u32,
        ) {
            // Full-range velocities and anchors: references (advance) must neither
            // overflow nor lose the exact values.
            let make = |(x, y, vx, vy, anchor, _): (i32, i32, i32, i32, u32, u32), id: u32| EntityState {
                id, kind: EntityKind::Drone, x, y, vx, vy, anchor: anchor.max(1), angle: 0,
                health: 1, flags: 0, score: 0, owner: 0, name: String::new(),
            };
            let base: Vec<EntityState> = vals.iter().enumerate().map(|(i, v)| make(*v, i as u32 + 1)).collect();
            let target: Vec<EntityState> = vals.iter().enumerate()
                .map(|(i, v)| make((v.1, v.0, v.3, v.2, v.5, 0), i as u32 + 1)).collect();
            let f = Frame { tick, baseline: tick.wrapping_sub(back), tick_rate: 60 };
            let mut d = Diff::default();
            diff(&base, &target, &mut d);
            for packing in [Packing::Bits, Packing::Bytes] {
                let payload = encode_payload(packing, &f, &base, &target, &d.removed, &d.created, &d.changed);
                prop_assert_eq!(&decode_payload(packing, &f, &base, &payload).unwrap(), &target);
            }
        }

        #[test]
        fn garbage_payloads_never_panic(base in view(20), payload in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_payload(Packing::Bits, &frame(), &base, &payload);
            let _ = decode_payload(Packing::Bytes, &frame(), &base, &payload);
        }
    }

    #[test]
    fn unchanged_views_cost_only_the_counts() {
        let base: Vec<EntityState> = (1..=100)
            .map(|id| EntityState {
                id,
                kind: EntityKind::Drone,
                x: 100,
                y: 100,
                vx: 64,
                vy: 0,
                anchor: 5,
                angle: 0,
                health: 40,
                flags: 0,
                score: 0,
                owner: 0,
                name: String::new(),
            })
            .collect();
        let mut d = Diff::default();
        diff(&base, &base, &mut d);
        let payload = encode_payload(
            Packing::Bits,
            &frame(),
            &base,
            &base,
            &d.removed,
            &d.created,
            &d.changed,
        );
        // Three empty counts of 4 bits each: the 100 unchanged drones cost nothing.
        assert_eq!(payload.len(), 2);
    }

    proptest! {
        #[test]
        fn size_counter_matches_the_writers(base in view(30), target in view(30)) {
            let mut d = Diff::default();
            diff(&base, &target, &mut d);
            for packing in [Packing::Bits, Packing::Bytes] {
                let f = frame();
                for &j in &d.created {
                    let e = &target[j];
                    let mut w = BitWriter::new();
                    let mut bw = ByteWriter::new();
                    w.uint(1, k::ID_GAP);
                    write_created(&mut w, e, &f);
                    bw.uint(1, k::ID_GAP);
                    write_created(&mut bw, e, &f);
                    let want = if packing == Packing::Bits { w.bit_len() } else { bw.bit_len() };
                    prop_assert_eq!(created_bits(packing, &f, e), want);
                }
                for &(i, j, m) in &d.changed {
                    let mut w = BitWriter::new();
                    let mut bw = ByteWriter::new();
                    w.uint(1, k::ID_GAP);
                    write_changed(&mut w, &base[i], &target[j], m, &f);
                    bw.uint(1, k::ID_GAP);
                    write_changed(&mut bw, &base[i], &target[j], m, &f);
                    let want = if packing == Packing::Bits { w.bit_len() } else { bw.bit_len() };
                    prop_assert_eq!(changed_bits(packing, &f, &base[i], &target[j], m), want);
                }
            }
        }
    }

    #[test]
    fn baseline_and_checksum_are_checked() {
        let mut client = ClientView::default();
        let snap = Snapshot {
            tick: 5,
            baseline: 2,
            last_input_seq: 0,
            checksum: 0,
            payload: vec![],
        };
        assert_eq!(
            client.apply(&snap, 60, Packing::Bits),
            Err(DeltaError::Baseline { held: 0, got: 2 })
        );
        let mut w = BitWriter::new();
        write_payload(&mut w, &frame(), &[], &[], &[], &[], &[]);
        let snap = Snapshot {
            tick: 5,
            baseline: 0,
            last_input_seq: 0,
            checksum: 1,
            payload: w.into_bytes(),
        };
        assert!(matches!(
            client.apply(&snap, 60, Packing::Bits),
            Err(DeltaError::Checksum { .. })
        ));
        assert_eq!(client.tick(), 5);
    }
}

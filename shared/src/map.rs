//! Arena maps: bounds, wall rectangles and spawn points.
//!
//! Map files are JSON in metres (see `assets/maps/arena.json`). Loading quantises every
//! coordinate to the position grid of [`crate::quant`], and both the server and clients
//! collide against those quantised values, so prediction uses exactly the server's walls.

use serde::{Deserialize, Serialize};

use crate::quant::{pos_to_q, q_to_pos};
use crate::rules::PLAYER_RADIUS;

/// Largest accepted map side, in metres.
pub const MAX_MAP_SIDE_M: f64 = 10_000.0;
/// Most walls a map may have (the wire format sends them all in `Welcome`).
pub const MAX_WALLS: usize = 4096;

/// The map as sent in `Welcome`: quantised to 1/64 m steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapInfo {
    pub name: String,
    /// Width in position steps; the arena spans `[0, width] × [0, height]`.
    pub width: i32,
    pub height: i32,
    pub walls: Vec<WallRect>,
}

/// An axis-aligned wall in position steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WallRect {
    pub min_x: i32,
    pub min_y: i32,
    pub max_x: i32,
    pub max_y: i32,
}

/// An axis-aligned box in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aabb {
    pub min_x: f64,
    pub min_y: f64,
    pub max_x: f64,
    pub max_y: f64,
}

impl Aabb {
    /// Whether a square of half-side `r` centred on `(x, y)` overlaps the box by more than
    /// `eps` (touching is not overlapping).
    pub fn overlaps_square(&self, x: f64, y: f64, r: f64, eps: f64) -> bool {
        x - r < self.max_x - eps
            && x + r > self.min_x + eps
            && y - r < self.max_y - eps
            && y + r > self.min_y + eps
    }
}

/// A validated map ready for simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    info: MapInfo,
    width: f64,
    height: f64,
    walls: Vec<Aabb>,
    index: WallIndex,
    spawns: Vec<(f64, f64)>,
}

/// Walls filed in a uniform grid of cells, so that a moving entity looks only at the
/// walls near its path: a thousand drones against every wall of a map was a fifth of a
/// room's tick. A wall is filed in every cell its closed rectangle touches.
#[derive(Debug, Clone, PartialEq, Default)]
struct WallIndex {
    /// Cells per metre.
    per_metre: f64,
    cols: usize,
    rows: usize,
    /// Cell `c`'s walls are `walls[starts[c]..starts[c + 1]]`.
    starts: Vec<u32>,
    /// Copies, cell after cell, so a lookup reads one run of memory.
    walls: Vec<Aabb>,
}

/// Cells per side at most: small enough for any map, fine enough for the default one.
const INDEX_CELLS: f64 = 64.0;
/// Smallest cell side (m): about the longest step a fast entity takes in one tick.
const INDEX_MIN_CELL: f64 = 8.0;
/// Most wall copies the index files (2 MiB of boxes).
const MAX_FILED: usize = 1 << 16;

impl WallIndex {
    fn new(walls: &[Aabb], width: f64, height: f64) -> WallIndex {
        let cell = (width.max(height) / INDEX_CELLS).max(INDEX_MIN_CELL);
        let mut index = WallIndex {
            per_metre: 1.0 / cell,
            cols: (width / cell).floor() as usize + 1,
            rows: (height / cell).floor() as usize + 1,
            starts: Vec::new(),
            walls: Vec::new(),
        };
        // Each wall is filed in every cell it touches: a map of many large walls (a
        // server's map is peer data to a client) could file millions. Past a bound the
        // index has one cell, which is the every-wall loop.
        let filed: usize = walls
            .iter()
            .map(|w| {
                (index.col(w.max_x).saturating_sub(index.col(w.min_x)) + 1)
                    * (index.row(w.max_y).saturating_sub(index.row(w.min_y)) + 1)
            })
            .sum();
        if filed > MAX_FILED.max(walls.len()) {
            index.per_metre = 0.0;
            index.cols = 1;
            index.rows = 1;
        }
        let mut cells = vec![Vec::new(); index.cols * index.rows];
        for w in walls {
            let (c0, c1) = (index.col(w.min_x), index.col(w.max_x));
            let (r0, r1) = (index.row(w.min_y), index.row(w.max_y));
            for row in r0..=r1 {
                for col in c0..=c1 {
                    if let Some(c) = cells.get_mut(row * index.cols + col) {
                        c.push(*w);
                    }
                }
            }
        }
        for c in cells {
            index.starts.push(index.walls.len() as u32);
            index.walls.extend(c);
        }
        index.starts.push(index.walls.len() as u32);
        index
    }

    // A float-to-integer cast truncates (so floors a positive value) and saturates (a
    // negative value gives 0): no call to `floor`, which is a library call without SSE4.1
    // and was a tenth of a drone's step. Both filing and lookup use these, and they are
    // monotonic, which is all the index needs.
    fn col(&self, x: f64) -> usize {
        ((x * self.per_metre) as usize).min(self.cols - 1)
    }

    fn row(&self, y: f64) -> usize {
        ((y * self.per_metre) as usize).min(self.rows - 1)
    }
}

/// Why a map was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MapError {
    #[error("map JSON is invalid: {0}")]
    Json(String),
    #[error("map size must be between 10 m and {MAX_MAP_SIDE_M} m on each side")]
    Size,
    #[error("map has more than {MAX_WALLS} walls")]
    TooManyWalls,
    #[error("wall {0} is empty, inverted or outside the map")]
    Wall(usize),
    #[error("map has no spawn points")]
    NoSpawns,
    #[error("spawn point {0} is outside the map or inside a wall")]
    Spawn(usize),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    name: String,
    width: f64,
    height: f64,
    walls: Vec<RectFile>,
    spawns: Vec<PointFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RectFile {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PointFile {
    x: f64,
    y: f64,
}

fn wall_to_aabb(w: &WallRect) -> Aabb {
    Aabb {
        min_x: q_to_pos(w.min_x),
        min_y: q_to_pos(w.min_y),
        max_x: q_to_pos(w.max_x),
        max_y: q_to_pos(w.max_y),
    }
}

impl Map {
    /// Parses and validates a map file (metres).
    pub fn from_json(json: &str) -> Result<Map, MapError> {
        let file: MapFile =
            serde_json::from_str(json).map_err(|e| MapError::Json(e.to_string()))?;
        let side_ok = |s: f64| s.is_finite() && (10.0..=MAX_MAP_SIDE_M).contains(&s);
        if !side_ok(file.width) || !side_ok(file.height) {
            return Err(MapError::Size);
        }
        let walls = file
            .walls
            .iter()
            .map(|r| WallRect {
                min_x: pos_to_q(r.x),
                min_y: pos_to_q(r.y),
                max_x: pos_to_q(r.x + r.w),
                max_y: pos_to_q(r.y + r.h),
            })
            .collect();
        let info = MapInfo {
            name: file.name,
            width: pos_to_q(file.width),
            height: pos_to_q(file.height),
            walls,
        };
        let spawns: Vec<(f64, f64)> = file
            .spawns
            .iter()
            .map(|p| (q_to_pos(pos_to_q(p.x)), q_to_pos(pos_to_q(p.y))))
            .collect();
        let map = Map::from_info(info)?;
        if spawns.is_empty() {
            return Err(MapError::NoSpawns);
        }
        for (i, &(x, y)) in spawns.iter().enumerate() {
            if !map.is_free(x, y, PLAYER_RADIUS) {
                return Err(MapError::Spawn(i));
            }
        }
        Ok(Map { spawns, ..map })
    }

    /// Validates a map received from a server (clients use this to predict movement).
    /// The result has no spawn points: those are the server's business.
    pub fn from_info(info: MapInfo) -> Result<Map, MapError> {
        let max_q = pos_to_q(MAX_MAP_SIDE_M);
        let min_q = pos_to_q(10.0);
        if !(min_q..=max_q).contains(&info.width) || !(min_q..=max_q).contains(&info.height) {
            return Err(MapError::Size);
        }
        if info.walls.len() > MAX_WALLS {
            return Err(MapError::TooManyWalls);
        }
        for (i, w) in info.walls.iter().enumerate() {
            let inside =
                w.min_x >= 0 && w.min_y >= 0 && w.max_x <= info.width && w.max_y <= info.height;
            if !inside || w.min_x >= w.max_x || w.min_y >= w.max_y {
                return Err(MapError::Wall(i));
            }
        }
        let walls: Vec<Aabb> = info.walls.iter().map(wall_to_aabb).collect();
        let (width, height) = (q_to_pos(info.width), q_to_pos(info.height));
        Ok(Map {
            width,
            height,
            index: WallIndex::new(&walls, width, height),
            walls,
            spawns: Vec::new(),
            info,
        })
    }

    pub fn info(&self) -> &MapInfo {
        &self.info
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Width in metres.
    pub fn width(&self) -> f64 {
        self.width
    }

    /// Height in metres.
    pub fn height(&self) -> f64 {
        self.height
    }

    /// Walls in metres.
    pub fn walls(&self) -> &[Aabb] {
        &self.walls
    }

    /// Calls `f` with every wall that touches the box `[min_x, max_x] × [min_y, max_y]`
    /// (metres), and maybe with a few others nearby; a wall may come more than once.
    /// A box with a coordinate that is not finite gets every wall.
    pub fn walls_near(
        &self,
        (min_x, min_y): (f64, f64),
        (max_x, max_y): (f64, f64),
        mut f: impl FnMut(&Aabb),
    ) {
        if ![min_x, min_y, max_x, max_y].iter().all(|v| v.is_finite()) {
            self.walls.iter().for_each(f);
            return;
        }
        let ix = &self.index;
        for row in ix.row(min_y)..=ix.row(max_y) {
            for col in ix.col(min_x)..=ix.col(max_x) {
                let c = row * ix.cols + col;
                let (Some(&a), Some(&b)) = (ix.starts.get(c), ix.starts.get(c + 1)) else {
                    continue;
                };
                ix.walls
                    .get(a as usize..b as usize)
                    .unwrap_or(&[])
                    .iter()
                    .for_each(&mut f);
            }
        }
    }

    /// Spawn points in metres (empty on clients).
    pub fn spawns(&self) -> &[(f64, f64)] {
        &self.spawns
    }

    /// Whether a square of half-side `r` at `(x, y)` is inside the bounds and touches no wall.
    pub fn is_free(&self, x: f64, y: f64, r: f64) -> bool {
        x - r >= 0.0
            && y - r >= 0.0
            && x + r <= self.width
            && y + r <= self.height
            && !self.walls.iter().any(|w| w.overlaps_square(x, y, r, 0.0))
    }
}

/// The default arena, embedded so that the server runs with no files beside it.
pub const DEFAULT_ARENA_JSON: &str = include_str!("../../assets/maps/arena.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_arena_loads() {
        let map = Map::from_json(DEFAULT_ARENA_JSON).unwrap();
        assert!(map.width() >= 200.0 && map.height() >= 200.0);
        assert!(!map.walls().is_empty());
        assert!(map.spawns().len() >= 8);
    }

    #[test]
    fn a_map_of_huge_walls_is_not_filed_cell_by_cell() {
        // The most walls, each covering the largest map: filed per cell, millions of
        // copies; bounded, one cell holding each wall once.
        let side = pos_to_q(MAX_MAP_SIDE_M);
        let wall = WallRect {
            min_x: 0,
            min_y: 0,
            max_x: side,
            max_y: side,
        };
        let map = Map::from_info(MapInfo {
            name: "huge".into(),
            width: side,
            height: side,
            walls: vec![wall; MAX_WALLS],
        })
        .unwrap();
        assert_eq!(map.index.walls.len(), MAX_WALLS);
        let mut met = 0;
        map.walls_near((5.0, 5.0), (6.0, 6.0), |_| met += 1);
        assert_eq!(met, MAX_WALLS);
        // The default arena is indexed: a point far from walls meets few of them.
        let arena = Map::from_json(DEFAULT_ARENA_JSON).unwrap();
        assert!(arena.index.cols > 1 && arena.index.walls.len() >= arena.walls().len());
    }

    #[test]
    fn bad_maps_are_refused() {
        let base = |walls: &str, spawns: &str| {
            format!(
                r#"{{"name":"t","width":50,"height":50,"walls":[{walls}],"spawns":[{spawns}]}}"#
            )
        };
        assert_eq!(Map::from_json(&base("", "")), Err(MapError::NoSpawns));
        assert_eq!(
            Map::from_json(&base(r#"{"x":40,"y":0,"w":20,"h":1}"#, r#"{"x":5,"y":5}"#)),
            Err(MapError::Wall(0))
        );
        assert_eq!(
            Map::from_json(&base(r#"{"x":4,"y":4,"w":2,"h":2}"#, r#"{"x":5,"y":5}"#)),
            Err(MapError::Spawn(0))
        );
        assert!(matches!(Map::from_json("{"), Err(MapError::Json(_))));
        assert!(Map::from_json(&base("", r#"{"x":5,"y":5}"#)).is_ok());
    }
}

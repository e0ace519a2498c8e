//! Tickwire's benchmarks. The criterion benches live in `benches/`:
//! - `codec`: full-state snapshot encode (whole, body once, per-client header splice) and decode.
//!
//! Run them with `cargo bench -p benches`; results are reported in BENCHMARKS.md.

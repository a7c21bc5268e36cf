//! Rules: per-camera logic that turns tracks into violation events. Pure: tracks, zones and the
//! media time in, events out.

pub mod dwell;

pub use dwell::{DwellEvent, DwellRule};

//! streetwatch: edge video analytics for street-order violations.
//!
//! The pipeline, one module per stage:
//! `source` → `detect` (with `model`) → `track` → `rules` (with `calibration`, `geometry`,
//! `cues`) → `alert` → `sink`. `analytics` runs track → cues → rules → alerts for one camera,
//! for `pipeline` (the `replay` wiring) and `service` (the live one) alike; `annotate` draws for
//! people; `subscriber` is the control room's terminal client.
//!
//! The pure core (`geometry`, `detection`, `violation`, `time`, `calibration` with its schedules
//! and dispatch table, `track`, `rules`, `alert`) imports nothing that does I/O, inference or
//! wiring (`tests/layers.rs` checks it); `digest` and `stats` are small leaves.

pub mod alert;
pub mod analytics;
pub mod annotate;
pub mod bundle;
pub mod calibration;
pub mod cli;
pub mod config;
pub mod console;
pub mod cues;
pub mod detect;
pub mod detection;
pub mod digest;
pub mod error;
pub mod geometry;
pub mod ident;
pub mod model;
pub mod outbox;
pub mod pipeline;
pub mod report;
pub mod rules;
pub mod score;
pub mod service;
pub mod signature;
pub mod sink;
pub mod source;
pub mod stats;
pub mod subscriber;
pub mod time;
pub mod track;
pub mod viewwatch;
pub mod violation;

pub use error::{Error, Result};

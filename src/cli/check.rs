//! `streetwatch check`: validate a calibration or a service configuration.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::calibration::Calibration;

#[derive(Args)]
pub struct CheckArgs {
    /// A camera calibration (zones, ground, schedules), a service configuration (one with
    /// `[[cameras]]`) or a console configuration (one with `[[brokers]]`).
    calibration: PathBuf,
}

pub fn run(args: &CheckArgs) -> Result<()> {
    let path = &args.calibration;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    // A service configuration has `cameras` or `[mqtt]` (a box with no camera yet has only the
    // latter); anything else is a calibration. A file that is not TOML at all is reported by the
    // calibration parser (with the line), unless it names cameras or a broker.
    let is_service = match toml::from_str::<toml::Table>(&text) {
        Ok(table) => table.contains_key("cameras") || table.contains_key("mqtt"),
        Err(_) => text.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("[[cameras]]") || l.starts_with("cameras") || l.starts_with("[mqtt]")
        }),
    };
    let is_console =
        matches!(toml::from_str::<toml::Table>(&text), Ok(t) if t.contains_key("brokers"));
    if is_console {
        let cfg = crate::console::config::ConsoleConfig::load(path)?;
        println!(
            "{}: ok: console on http://{}/, database {}, {} broker(s)",
            path.display(),
            cfg.listen,
            crate::console::redact_db(&cfg.database),
            cfg.brokers.len()
        );
        for b in &cfg.brokers {
            println!("  broker {} {}:{}", b.name, b.host, b.port);
        }
        return Ok(());
    }
    if is_service {
        let cfg = crate::config::ServiceConfig::load(path)?;
        println!(
            "{}: ok: site {}, {} cameras, broker {}:{}",
            path.display(),
            cfg.site,
            cfg.cameras.len(),
            cfg.mqtt.host,
            cfg.mqtt.port
        );
        if cfg.cameras.is_empty() {
            println!("  no camera yet: the service runs idle (health only) until one is added");
        }
        for c in &cfg.cameras {
            println!(
                "  camera {} {} at {}/s, calibration {}",
                c.id,
                c.safe_url(),
                c.detect_fps,
                c.calibration.path.display()
            );
        }
        return Ok(());
    }
    let c = Calibration::load(path)?;
    println!(
        "{}: ok: camera {} at {} (grid cell {:?}), {}x{}",
        path.display(),
        c.camera_id,
        c.site,
        c.grid_cell,
        c.frame_width,
        c.frame_height
    );
    match &c.ground {
        Some(g) => println!(
            "  ground: {} point pairs, reprojection error {:.3} m (RMS)",
            g.pairs.len(),
            g.reprojection_rms_m
        ),
        None => println!(
            "  ground: none (speeds in box heights per second, no areas or widths in metres)"
        ),
    }
    for z in &c.zones {
        let area = z
            .ground
            .as_ref()
            .map(|g| format!(", {:.1} m²", g.area()))
            .unwrap_or_default();
        let sched = if z.schedule.active.is_empty() && z.schedule.exempt.is_empty() {
            "always".to_string()
        } else {
            let w = |l: &[crate::calibration::schedule::Window]| {
                l.iter()
                    .map(|w| w.text.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            format!(
                "active [{}] exempt [{}]",
                w(&z.schedule.active),
                w(&z.schedule.exempt)
            )
        };
        println!(
            "  zone {} ({}){area}, confirm {}s, schedule {sched}",
            z.name,
            z.zone_type().as_str(),
            z.confirm_seconds
        );
    }
    Ok(())
}

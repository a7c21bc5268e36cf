//! `report.html`: one self-contained page per bundle (inline CSS, images by relative path, no
//! script, no network) with the identity of the evidence, a timeline of the episodes and each
//! episode's snapshots, measures, zone and dispatch code.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::alert::Alert;
use crate::bundle::Manifest;
use crate::rules::Phase;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `clips`: episode ids that have a clip in `clips/<id>.webm`.
pub fn render(m: &Manifest, alerts: &[Alert], clips: &[String]) -> String {
    let mut episodes: BTreeMap<&str, Vec<&Alert>> = BTreeMap::new();
    for a in alerts {
        episodes.entry(a.episode_id.as_str()).or_default().push(a);
    }
    let duration = m
        .source
        .as_ref()
        .map_or(0.0, |s| s.duration_s)
        .max(alerts.iter().map(|a| a.event_media_s).fold(0.0, f64::max));
    let mut h = String::new();
    let source_name = m.source.as_ref().map_or("?", |s| s.file_name.as_str());
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>streetwatch evidence: {title}</title>
<style>
body{{font-family:sans-serif;margin:1.5em;color:#222;max-width:1100px}}
h1{{font-size:1.5em}} h2{{border-bottom:1px solid #ccc;padding-bottom:.2em}}
table{{border-collapse:collapse;margin:.5em 0}} td,th{{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}}
.mono{{font-family:monospace;font-size:.85em;word-break:break-all}}
.timeline{{position:relative;height:{tl_h}px;background:#f4f4f4;border:1px solid #ccc;margin:1em 0}}
.bar{{position:absolute;height:18px;border-radius:3px;color:#fff;font-size:11px;overflow:hidden;white-space:nowrap;padding-left:3px}}
.vending{{background:#d9534f}} .parking{{background:#337ab7}} .smoke{{background:#777}}
.episode{{border:1px solid #ccc;border-radius:6px;padding:.8em;margin:1em 0}}
figure{{display:inline-block;margin:.3em}} figure img{{max-width:520px;border:1px solid #aaa}}
.warn{{color:#a94442;font-weight:bold}}
</style></head><body>
<h1>streetwatch evidence report</h1>
"#,
        title = esc(source_name),
        tl_h = 24 * episodes.len().max(1) + 10
    );
    if !m.complete {
        let _ = writeln!(
            h,
            "<p class=\"warn\">This bundle is incomplete: the replay did not finish.</p>"
        );
    }
    if let Some(s) = &m.source {
        if s.truncated {
            let _ = writeln!(
                h,
                "<p class=\"warn\">The source is truncated: {} of the {} frames it announces could be decoded; the evidence covers the first {:.2} s.</p>",
                s.frames_decoded, s.frames_announced, s.duration_s
            );
        }
        let _ = writeln!(
            h,
            "<table><tr><th>source</th><td>{}</td></tr><tr><th>source sha256</th><td class=\"mono\">{}</td></tr><tr><th>size, duration</th><td>{} bytes, {:.2} s, {} frames, {}x{} at {:.2} fps</td></tr>",
            esc(&s.file_name),
            s.sha256,
            s.size,
            s.duration_s,
            s.frames_decoded,
            s.width,
            s.height,
            s.fps
        );
    } else {
        h.push_str("<table>");
    }
    let _ = writeln!(
        h,
        "<tr><th>model</th><td>{} <span class=\"mono\">{}</span></td></tr><tr><th>calibration</th><td>{} <span class=\"mono\">{}</span></td></tr><tr><th>settings</th><td>detection {:.1}/s, start time {}, clips {:.1} s before / {:.1} s after, blur {}</td></tr><tr><th>streetwatch</th><td>{}</td></tr></table>",
        esc(&m.model.name),
        m.model.sha256,
        esc(&m.calibration.name),
        m.calibration.sha256,
        m.settings.detect_fps,
        esc(m.settings.start_time.as_deref().unwrap_or("not given")),
        m.settings.clip_before_s,
        m.settings.clip_after_s,
        esc(&m.settings.blur),
        esc(&m.streetwatch_version)
    );
    if let Some(first) = alerts.first() {
        let gps = first
            .gps
            .map(|g| format!("{:.5}, {:.5}", g[0], g[1]))
            .unwrap_or_else(|| "—".into());
        let _ = writeln!(
            h,
            "<table><tr><th>camera</th><td>{}</td><th>site</th><td>{}</td><th>grid cell</th><td>{}</td><th>GPS</th><td>{}</td></tr></table>",
            esc(&first.camera_id),
            esc(&first.site),
            esc(&first.grid_cell),
            gps
        );
    }
    let _ = writeln!(
        h,
        "<h2>Timeline ({:.1} s)</h2><div class=\"timeline\">",
        duration
    );
    for (i, msgs) in episodes.values().enumerate() {
        let (s, e) = (msgs[0], msgs[msgs.len() - 1]);
        let left = 100.0 * s.first_seen_media_s / duration.max(1e-9);
        let width = (100.0 * (e.last_seen_media_s.max(e.event_media_s) - s.first_seen_media_s)
            / duration.max(1e-9))
        .max(0.8);
        let _ = writeln!(
            h,
            "<div class=\"bar {}\" style=\"left:{left:.2}%;width:{width:.2}%;top:{}px\" title=\"{}\">{}. {}/{}</div>",
            esc(s.event_type.as_str()),
            5 + 24 * i,
            esc(&s.zone),
            i + 1,
            esc(s.event_type.as_str()),
            esc(s.subtype.as_str())
        );
    }
    h.push_str("</div>\n");
    let _ = writeln!(h, "<h2>Episodes ({})</h2>", episodes.len());
    for (i, (id, msgs)) in episodes.iter().enumerate() {
        let (s, e) = (msgs[0], msgs[msgs.len() - 1]);
        let ended = e.phase == Phase::End;
        let code = s
            .dispatch
            .as_ref()
            .map(|d| format!("{} {}", esc(&d.code), esc(&d.name)))
            .unwrap_or_else(|| "—".into());
        let wall = |w: &Option<String>| w.as_deref().map(esc).unwrap_or_else(|| "—".into());
        let _ = writeln!(
            h,
            "<section class=\"episode\" id=\"episode-{n}\" data-episode-id=\"{id}\"><h3>{n}. {t} / {st} in zone “{z}” ({zt})</h3>",
            n = i + 1,
            id = esc(id),
            t = esc(s.event_type.as_str()),
            st = esc(s.subtype.as_str()),
            z = esc(&s.zone),
            zt = esc(s.zone_type.as_str())
        );
        let _ = writeln!(
            h,
            "<table><tr><th>dispatch code</th><td>{code}</td></tr><tr><th>first seen</th><td>{:.2} s ({})</td></tr><tr><th>confirmed</th><td>{:.2} s ({}) after {:.1} s</td></tr><tr><th>last seen</th><td>{:.2} s ({}){}</td></tr><tr><th>duration</th><td>{:.1} s</td></tr><tr><th>confidence</th><td>{:.2}</td></tr><tr><th>measures</th><td class=\"mono\">{}</td></tr><tr><th>messages</th><td class=\"mono\">{}</td></tr></table>",
            s.first_seen_media_s,
            wall(&s.first_seen_wall),
            s.confirmed_media_s,
            wall(&s.confirmed_wall),
            s.confirmation_s,
            e.last_seen_media_s,
            wall(&e.last_seen_wall),
            if ended { "" } else { " — not ended" },
            e.duration_s,
            s.confidence,
            esc(&serde_json::to_string(&e.measures).unwrap_or_default()),
            msgs.iter().map(|m| format!("{:?} {}", m.phase, esc(&m.id))).collect::<Vec<_>>().join("<br>")
        );
        h.push_str("<table><tr><th>track</th><th>class</th><th>box (px)</th><th>still for</th><th>speed</th></tr>");
        for t in &s.tracks {
            let _ = write!(
                h,
                "<tr><td>#{}</td><td>{}</td><td>{:.0},{:.0} – {:.0},{:.0}</td><td>{:.1} s</td><td>{}</td></tr>",
                t.id,
                esc(&t.class),
                t.bbox.x1,
                t.bbox.y1,
                t.bbox.x2,
                t.bbox.y2,
                t.dwell_s,
                t.speed.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into())
            );
        }
        h.push_str("</table>\n");
        for (label, a) in [("start", s), ("end", e)] {
            if let Some(img) = &a.snapshot {
                let original = match &a.snapshot_original {
                    Some(o) => format!("original: <a href=\"{}\">{}</a>", esc(o), esc(o)),
                    None => {
                        "original withheld (blurred bundle; its sha256 is in the manifest)".into()
                    }
                };
                let _ = write!(
                    h,
                    "<figure><img src=\"{}\" alt=\"{label} snapshot\"><figcaption>{label} at {:.2} s — {original}</figcaption></figure>",
                    esc(img),
                    a.event_media_s,
                );
            }
        }
        let clip = format!("clips/{id}.webm");
        if clips.iter().any(|c| c == id) {
            let _ = write!(
                h,
                "<p>clip: <a href=\"{}\">{}</a></p><video controls muted preload=\"metadata\" src=\"{}\"></video>",
                esc(&clip),
                esc(&clip),
                esc(&clip)
            );
        }
        h.push_str("</section>\n");
    }
    h.push_str("</body></html>\n");
    h
}

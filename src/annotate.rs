//! Drawing on frames for people: zones, boxes, track ids and dwell times; and the evidence
//! media written from them (JPEG snapshots, WebM clips).

use opencv::core::{Mat, Point as CvPoint, Rect, Scalar, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use crate::calibration::Zone;
use crate::detection::Detection;
use crate::error::Result;
use crate::geometry::BBox;
use crate::track::Track;

const ZONE: (f64, f64, f64) = (0.0, 200.0, 255.0);
const BOX: (f64, f64, f64) = (0.0, 255.0, 0.0);
const ALERT: (f64, f64, f64) = (0.0, 0.0, 255.0);

fn color(c: (f64, f64, f64)) -> Scalar {
    Scalar::new(c.0, c.1, c.2, 0.0)
}

fn rect(b: &BBox) -> Rect {
    Rect::new(
        b.x1 as i32,
        b.y1 as i32,
        b.width().max(1.0) as i32,
        b.height().max(1.0) as i32,
    )
}

fn label(img: &mut Mat, text: &str, x: i32, y: i32, c: (f64, f64, f64)) -> Result<()> {
    let org = CvPoint::new(x, (y - 4).max(12));
    imgproc::put_text(
        img,
        text,
        org,
        imgproc::FONT_HERSHEY_SIMPLEX,
        0.45,
        Scalar::all(0.0),
        3,
        imgproc::LINE_AA,
        false,
    )?;
    imgproc::put_text(
        img,
        text,
        org,
        imgproc::FONT_HERSHEY_SIMPLEX,
        0.45,
        color(c),
        1,
        imgproc::LINE_AA,
        false,
    )?;
    Ok(())
}

pub fn draw_zones(img: &mut Mat, zones: &[Zone]) -> Result<()> {
    for z in zones {
        let pts: Vector<CvPoint> = z
            .polygon
            .points
            .iter()
            .map(|p| CvPoint::new(p.x as i32, p.y as i32))
            .collect();
        let mut polys = Vector::<Vector<CvPoint>>::new();
        polys.push(pts);
        imgproc::polylines(img, &polys, true, color(ZONE), 2, imgproc::LINE_AA, 0)?;
        if let Some(p) = z.polygon.points.first() {
            label(img, &z.name, p.x as i32 + 4, p.y as i32 + 16, ZONE)?;
        }
    }
    Ok(())
}

pub fn draw_detections(img: &mut Mat, dets: &[Detection]) -> Result<()> {
    for d in dets {
        imgproc::rectangle(img, rect(&d.bbox), color(BOX), 2, imgproc::LINE_8, 0)?;
        label(
            img,
            &format!("{} {:.2}", d.class, d.score),
            d.bbox.x1 as i32,
            d.bbox.y1 as i32,
            BOX,
        )?;
    }
    Ok(())
}

/// Current tracks with id, class and how long they have been stationary; `highlight` ids are
/// drawn in the alert colour.
pub fn draw_tracks(img: &mut Mat, tracks: &[Track], now: f64, highlight: &[u64]) -> Result<()> {
    for t in tracks.iter().filter(|t| t.is_current(now)) {
        let c = if highlight.contains(&t.id) {
            ALERT
        } else {
            BOX
        };
        imgproc::rectangle(img, rect(&t.bbox), color(c), 2, imgproc::LINE_8, 0)?;
        let text = match t.stationary_since {
            Some(_) => format!("#{} {} still {:.0}s", t.id, t.class, t.still_for(now)),
            None => format!("#{} {}", t.id, t.class),
        };
        label(img, &text, t.bbox.x1 as i32, t.bbox.y1 as i32, c)?;
    }
    Ok(())
}

/// JPEG bytes of an image (quality 90).
pub fn encode_jpeg(img: &Mat) -> Result<Vec<u8>> {
    let params = Vector::<i32>::from_slice(&[opencv::imgcodecs::IMWRITE_JPEG_QUALITY, 90]);
    let mut buf = Vector::<u8>::new();
    if !opencv::imgcodecs::imencode(".jpg", img, &mut buf, &params)? {
        return Err(
            opencv::Error::new(opencv::core::StsError, "could not encode a JPEG snapshot").into(),
        );
    }
    Ok(buf.to_vec())
}

/// Writes a JPEG (quality 90) and returns its bytes.
pub fn write_jpeg(path: &std::path::Path, img: &Mat) -> Result<Vec<u8>> {
    let bytes = encode_jpeg(img)?;
    std::fs::write(path, &bytes).map_err(|e| crate::error::Error::io(path, e))?;
    Ok(bytes)
}

/// A snapshot for an alert: zones, all current tracks (involved ones highlighted, with dwell),
/// the alert's regions and a header line.
pub fn draw_alert(
    img: &mut Mat,
    cal: &crate::calibration::Calibration,
    tracks: &[Track],
    now: f64,
    alert: &crate::alert::Alert,
) -> Result<()> {
    draw_zones(img, &cal.zones)?;
    let ids: Vec<u64> = alert.tracks.iter().map(|t| t.id).collect();
    draw_tracks(img, tracks, now, &ids)?;
    for r in &alert.regions {
        imgproc::rectangle(img, rect(r), color(ALERT), 1, imgproc::LINE_8, 0)?;
    }
    let code = alert
        .dispatch
        .as_ref()
        .map(|d| d.code.as_str())
        .unwrap_or("");
    let header = format!(
        "{:?} {}/{} zone={} t={:.1}s dur={:.1}s code={code}",
        alert.phase,
        alert.event_type,
        alert.subtype,
        alert.zone,
        alert.event_media_s,
        alert.duration_s
    );
    let bar = Rect::new(0, 0, img.cols(), 22);
    imgproc::rectangle(img, bar, Scalar::all(0.0), -1, imgproc::LINE_8, 0)?;
    imgproc::put_text(
        img,
        &header,
        CvPoint::new(4, 16),
        imgproc::FONT_HERSHEY_SIMPLEX,
        0.5,
        color(ALERT),
        1,
        imgproc::LINE_AA,
        false,
    )?;
    Ok(())
}

/// Draws a metre grid of the ground plane (every `step` metres) through the inverse homography.
pub fn draw_ground_grid(
    img: &mut Mat,
    ground: &crate::calibration::GroundPlane,
    step: f32,
) -> Result<()> {
    let Some(inv) = ground.homography.inverse() else {
        return Ok(());
    };
    let (w, h) = (img.cols() as f32, img.rows() as f32);
    // Extent: the ground points, widened by a few metres.
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for (_, g) in &ground.pairs {
        x0 = x0.min(g.x);
        y0 = y0.min(g.y);
        x1 = x1.max(g.x);
        y1 = y1.max(g.y);
    }
    let pad = 3.0 * step;
    let (x0, y0, x1, y1) = (
        (x0 - pad) / step,
        (y0 - pad) / step,
        (x1 + pad) / step,
        (y1 + pad) / step,
    );
    let grid = Scalar::new(255.0, 255.0, 0.0, 0.0);
    let mut line =
        |a: crate::geometry::Point, b: crate::geometry::Point, major: bool| -> Result<()> {
            // Sample the line so points beyond the horizon are left out.
            let n = 40;
            let mut prev: Option<CvPoint> = None;
            for i in 0..=n {
                let f = i as f32 / n as f32;
                let g = crate::geometry::Point {
                    x: a.x + (b.x - a.x) * f,
                    y: a.y + (b.y - a.y) * f,
                };
                let p = inv
                    .apply(g)
                    .filter(|p| p.x > -w && p.x < 2.0 * w && p.y > -h && p.y < 2.0 * h);
                // Keep only points in front of the camera: mapping back must give the ground point.
                let p = p.filter(|p| {
                    ground
                        .homography
                        .apply(*p)
                        .is_some_and(|q| (q.x - g.x).abs() < 0.01 * step.max(1.0))
                });
                let cur = p.map(|p| CvPoint::new(p.x as i32, p.y as i32));
                if let (Some(a), Some(b)) = (prev, cur) {
                    imgproc::line(
                        img,
                        a,
                        b,
                        grid,
                        if major { 2 } else { 1 },
                        imgproc::LINE_AA,
                        0,
                    )?;
                }
                prev = cur;
            }
            Ok(())
        };
    for i in x0.floor() as i32..=x1.ceil() as i32 {
        let x = i as f32 * step;
        line(
            crate::geometry::Point { x, y: y0 * step },
            crate::geometry::Point { x, y: y1 * step },
            i == 0,
        )?;
    }
    for j in y0.floor() as i32..=y1.ceil() as i32 {
        let y = j as f32 * step;
        line(
            crate::geometry::Point { x: x0 * step, y },
            crate::geometry::Point { x: x1 * step, y },
            j == 0,
        )?;
    }
    for (img_p, g) in &ground.pairs {
        let c = CvPoint::new(img_p.x as i32, img_p.y as i32);
        imgproc::circle(img, c, 5, color(ALERT), 2, imgproc::LINE_AA, 0)?;
        label(
            img,
            &format!("({:.1},{:.1})m", g.x, g.y),
            c.x + 6,
            c.y,
            ALERT,
        )?;
    }
    Ok(())
}

/// Writes a lossless PNG (original evidence frames).
pub fn write_png(path: &std::path::Path, img: &Mat) -> Result<()> {
    let ok = opencv::imgcodecs::imwrite(path, img, &Vector::new())?;
    if !ok {
        return Err(crate::error::Error::io(
            path,
            std::io::Error::other("OpenCV could not write the image"),
        ));
    }
    Ok(())
}

/// PNG bytes of an image (to hash an original that is withheld).
pub fn encode_png(img: &Mat) -> Result<Vec<u8>> {
    let mut buf = Vector::<u8>::new();
    opencv::imgcodecs::imencode(".png", img, &mut buf, &Vector::new())?;
    Ok(buf.to_vec())
}

/// A WebM/VP8 writer (browsers play it, unlike MJPEG AVI) for `path`, whose name must end in
/// `.webm` (FFmpeg picks the container by it); an error naming the file when this OpenCV's
/// FFmpeg cannot write it.
pub fn open_webm(
    path: &std::path::Path,
    fps: f64,
    size: opencv::core::Size,
) -> Result<opencv::videoio::VideoWriter> {
    let fourcc = opencv::videoio::VideoWriter::fourcc('V', 'P', '8', '0')?;
    let writer = opencv::videoio::VideoWriter::new_with_backend(
        path,
        opencv::videoio::CAP_FFMPEG,
        fourcc,
        fps,
        size,
        true,
    )?;
    if !writer.is_opened()? {
        return Err(crate::error::Error::io(
            path,
            std::io::Error::other("OpenCV (FFmpeg) cannot write WebM/VP8 here"),
        ));
    }
    Ok(writer)
}

/// WebM (Matroska) files start with the EBML magic.
pub const WEBM_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

/// FFmpeg's WebM muxer gives each track a random TrackUID (repeated in the tags as
/// TagTrackUID): in the header, before the first cluster, both are set from `seed`, so that the
/// same frames make the same file (bundles are byte-identical run to run). Returns how many
/// were set.
pub fn webm_fixed_uids(bytes: &mut [u8], seed: &str) -> usize {
    const CLUSTER: [u8; 4] = [0x1F, 0x43, 0xB6, 0x75];
    let digest = crate::digest::sha256_parts(b"streetwatch-webm-track-uid", &[seed.as_bytes()]);
    let mut uid = [0u8; 8];
    uid.copy_from_slice(&digest[..8]);
    uid[0] |= 1; // never zero
    let head = bytes
        .windows(4)
        .position(|w| w == CLUSTER)
        .unwrap_or(bytes.len())
        .min(bytes.len());
    let (mut i, mut n) = (0, 0);
    while i + 11 <= head {
        if matches!(bytes[i], 0x73 | 0x63) && bytes[i + 1] == 0xC5 && bytes[i + 2] == 0x88 {
            bytes[i + 3..i + 11].copy_from_slice(&uid);
            n += 1;
            i += 11;
        } else {
            i += 1;
        }
    }
    n
}

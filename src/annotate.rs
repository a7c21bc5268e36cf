//! Drawing on frames for people: zones, boxes, track ids and dwell times.

use opencv::core::{Mat, Point as CvPoint, Rect, Scalar, Vector};
use opencv::imgproc;

use crate::calibration::Zone;
use crate::detect::Detection;
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

/// Tracks with id and age; `highlight` ids are drawn in the alert colour.
pub fn draw_tracks(img: &mut Mat, tracks: &[Track], now: f64, highlight: &[u64]) -> Result<()> {
    for t in tracks.iter().filter(|t| t.last_seen >= now) {
        let c = if highlight.contains(&t.id) {
            ALERT
        } else {
            BOX
        };
        imgproc::rectangle(img, rect(&t.bbox), color(c), 2, imgproc::LINE_8, 0)?;
        let text = format!("#{} {} {:.1}s", t.id, t.class, now - t.first_seen);
        label(img, &text, t.bbox.x1 as i32, t.bbox.y1 as i32, c)?;
    }
    Ok(())
}

/// Writes a JPEG (quality 90).
pub fn write_jpeg(path: &std::path::Path, img: &Mat) -> Result<()> {
    let params = Vector::<i32>::from_slice(&[opencv::imgcodecs::IMWRITE_JPEG_QUALITY, 90]);
    let ok = opencv::imgcodecs::imwrite(path, img, &params)?;
    if !ok {
        return Err(crate::error::Error::io(
            path,
            std::io::Error::other("OpenCV could not write the image"),
        ));
    }
    Ok(())
}

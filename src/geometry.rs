//! Plain geometry: boxes, points, polygons. No I/O.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// Axis-aligned box in pixels, corners (x1, y1) top-left and (x2, y2) bottom-right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> BBox {
        BBox { x1, y1, x2, y2 }
    }

    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    pub fn center(&self) -> Point {
        Point {
            x: (self.x1 + self.x2) / 2.0,
            y: (self.y1 + self.y2) / 2.0,
        }
    }

    /// Bottom centre: where an upright object touches the ground.
    pub fn foot(&self) -> Point {
        Point {
            x: (self.x1 + self.x2) / 2.0,
            y: self.y2,
        }
    }

    /// Area of the intersection with `other`.
    pub fn intersection(&self, other: &BBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        ix * iy
    }

    /// Fraction of this box that lies inside `other` (0 for an empty box).
    pub fn inside_fraction(&self, other: &BBox) -> f32 {
        let a = self.area();
        if a > 0.0 {
            self.intersection(other) / a
        } else {
            0.0
        }
    }

    /// Width over height (0 for a flat box).
    pub fn aspect(&self) -> f32 {
        let h = self.height();
        if h > 0.0 {
            self.width() / h
        } else {
            0.0
        }
    }

    /// The box moved a fraction `a` (0..=1) of the way towards `other`.
    pub fn lerp(&self, other: &BBox, a: f32) -> BBox {
        BBox {
            x1: self.x1 + (other.x1 - self.x1) * a,
            y1: self.y1 + (other.y1 - self.y1) * a,
            x2: self.x2 + (other.x2 - self.x2) * a,
            y2: self.y2 + (other.y2 - self.y2) * a,
        }
    }

    pub fn iou(&self, other: &BBox) -> f32 {
        let inter = self.intersection(other);
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }

    pub fn clip(&self, width: f32, height: f32) -> BBox {
        BBox {
            x1: self.x1.clamp(0.0, width),
            y1: self.y1.clamp(0.0, height),
            x2: self.x2.clamp(0.0, width),
            y2: self.y2.clamp(0.0, height),
        }
    }
}

/// A simple polygon in pixels (closed implicitly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Polygon {
    pub points: Vec<Point>,
}

impl Polygon {
    pub fn new(points: Vec<Point>) -> Polygon {
        Polygon { points }
    }

    /// Even-odd ray casting; points on an edge may fall either way.
    pub fn contains(&self, p: Point) -> bool {
        let pts = &self.points;
        let mut inside = false;
        let mut j = pts.len().wrapping_sub(1);
        for i in 0..pts.len() {
            let (a, b) = (pts[i], pts[j]);
            if (a.y > p.y) != (b.y > p.y) {
                let x = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
                if p.x < x {
                    inside = !inside;
                }
            }
            j = i;
        }
        inside
    }

    /// Shoelace area (absolute), in squared units of the points.
    pub fn area(&self) -> f32 {
        let pts = &self.points;
        let mut s = 0.0f64;
        for i in 0..pts.len() {
            let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
            s += a.x as f64 * b.y as f64 - b.x as f64 * a.y as f64;
        }
        (s.abs() / 2.0) as f32
    }

    /// True when two non-adjacent edges cross.
    pub fn self_intersects(&self) -> bool {
        let n = self.points.len();
        if n < 4 {
            return false;
        }
        let seg = |i: usize| (self.points[i], self.points[(i + 1) % n]);
        for i in 0..n {
            for j in (i + 1)..n {
                if j == i + 1 || (i == 0 && j == n - 1) {
                    continue;
                }
                let (a, b) = seg(i);
                let (c, d) = seg(j);
                if segments_cross(a, b, c, d) {
                    return true;
                }
            }
        }
        false
    }
}

fn orient(a: Point, b: Point, c: Point) -> f32 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

/// Proper crossing of segments ab and cd (touching endpoints do not count).
fn segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool {
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f32, y: f32) -> Point {
        Point { x, y }
    }

    #[test]
    fn iou_of_identical_disjoint_and_half() {
        let a = BBox::new(0.0, 0.0, 10.0, 10.0);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&BBox::new(20.0, 20.0, 30.0, 30.0)), 0.0);
        let b = BBox::new(5.0, 0.0, 15.0, 10.0);
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
    }

    #[test]
    fn polygon_contains_concave() {
        // An L shape: the notch at top right is outside.
        let l = Polygon::new(vec![
            p(0.0, 0.0),
            p(5.0, 0.0),
            p(5.0, 5.0),
            p(10.0, 5.0),
            p(10.0, 10.0),
            p(0.0, 10.0),
        ]);
        assert!(l.contains(p(2.0, 2.0)));
        assert!(l.contains(p(8.0, 8.0)));
        assert!(!l.contains(p(8.0, 2.0)));
        assert!(!l.contains(p(-1.0, 5.0)));
        assert_eq!(l.area(), 75.0);
    }

    #[test]
    fn bowtie_self_intersects_square_does_not() {
        let square = Polygon::new(vec![p(0.0, 0.0), p(1.0, 0.0), p(1.0, 1.0), p(0.0, 1.0)]);
        assert!(!square.self_intersects());
        let bowtie = Polygon::new(vec![p(0.0, 0.0), p(1.0, 1.0), p(1.0, 0.0), p(0.0, 1.0)]);
        assert!(bowtie.self_intersects());
    }
}

/// A plane-to-plane projective map (image pixels → ground metres), row-major 3×3.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Homography {
    pub m: [f64; 9],
}

/// Normalising similarity (Hartley): centroid to the origin, mean distance √2.
fn normaliser(pts: &[(f64, f64)]) -> [f64; 9] {
    let n = pts.len() as f64;
    let (cx, cy) = pts
        .iter()
        .fold((0.0, 0.0), |a, p| (a.0 + p.0 / n, a.1 + p.1 / n));
    let mean_d = pts
        .iter()
        .map(|p| ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt())
        .sum::<f64>()
        / n;
    let s = if mean_d > 0.0 {
        std::f64::consts::SQRT_2 / mean_d
    } else {
        1.0
    };
    [s, 0.0, -s * cx, 0.0, s, -s * cy, 0.0, 0.0, 1.0]
}

fn mat_mul(a: &[f64; 9], b: &[f64; 9]) -> [f64; 9] {
    let mut r = [0.0; 9];
    for i in 0..3 {
        for j in 0..3 {
            r[i * 3 + j] = (0..3).map(|k| a[i * 3 + k] * b[k * 3 + j]).sum();
        }
    }
    r
}

fn mat_inv(m: &[f64; 9]) -> Option<[f64; 9]> {
    let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
        + m[2] * (m[3] * m[7] - m[4] * m[6]);
    if det.abs() < 1e-12 {
        return None;
    }
    let c = [
        m[4] * m[8] - m[5] * m[7],
        m[2] * m[7] - m[1] * m[8],
        m[1] * m[5] - m[2] * m[4],
        m[5] * m[6] - m[3] * m[8],
        m[0] * m[8] - m[2] * m[6],
        m[2] * m[3] - m[0] * m[5],
        m[3] * m[7] - m[4] * m[6],
        m[1] * m[6] - m[0] * m[7],
        m[0] * m[4] - m[1] * m[3],
    ];
    Some(c.map(|v| v / det))
}

/// Solves the square system `a x = b` (n×n, row-major) by Gaussian elimination with partial
/// pivoting; `None` when it is singular.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for col in 0..n {
        let piv =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[piv * n + col].abs() < 1e-10 {
            return None;
        }
        for k in 0..n {
            a.swap(col * n + k, piv * n + k);
        }
        b.swap(col, piv);
        for row in 0..n {
            if row != col {
                let f = a[row * n + col] / a[col * n + col];
                for k in col..n {
                    a[row * n + k] -= f * a[col * n + k];
                }
                b[row] -= f * b[col];
            }
        }
    }
    Some((0..n).map(|i| b[i] / a[i * n + i]).collect())
}

impl Homography {
    /// Least-squares homography from four or more (image, ground) pairs, by the normalised
    /// direct linear transform with h33 = 1. Errors name what is wrong with the pairs.
    pub fn from_pairs(pairs: &[(Point, Point)]) -> Result<Homography, String> {
        if pairs.len() < 4 {
            return Err(format!("needs at least 4 point pairs, has {}", pairs.len()));
        }
        let img: Vec<(f64, f64)> = pairs
            .iter()
            .map(|(p, _)| (p.x as f64, p.y as f64))
            .collect();
        let gnd: Vec<(f64, f64)> = pairs
            .iter()
            .map(|(_, q)| (q.x as f64, q.y as f64))
            .collect();
        for (name, pts) in [("image", &img), ("ground", &gnd)] {
            if !has_spread(pts) {
                return Err(format!(
                    "the {name} points are degenerate (three or more on one line, or repeated)"
                ));
            }
        }
        let (ti, tg) = (normaliser(&img), normaliser(&gnd));
        let apply = |t: &[f64; 9], p: (f64, f64)| (t[0] * p.0 + t[2], t[4] * p.1 + t[5]);
        // Normal equations of the 2n×8 system.
        let mut ata = vec![0.0; 64];
        let mut atb = vec![0.0; 8];
        for (p, q) in img.iter().zip(&gnd) {
            let (x, y) = apply(&ti, *p);
            let (u, v) = apply(&tg, *q);
            let rows = [
                ([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y], u),
                ([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y], v),
            ];
            for (r, rhs) in rows {
                for i in 0..8 {
                    atb[i] += r[i] * rhs;
                    for j in 0..8 {
                        ata[i * 8 + j] += r[i] * r[j];
                    }
                }
            }
        }
        let h =
            solve(ata, atb, 8).ok_or("the point pairs are degenerate (no unique homography)")?;
        let hn = [h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0];
        let tg_inv = mat_inv(&tg).ok_or("degenerate ground points")?;
        let mut m = mat_mul(&tg_inv, &mat_mul(&hn, &ti));
        let s = m[8];
        if s.abs() < 1e-12 {
            return Err("the homography maps the image origin to infinity".into());
        }
        m.iter_mut().for_each(|v| *v /= s);
        Ok(Homography { m })
    }

    pub fn apply(&self, p: Point) -> Option<Point> {
        let m = &self.m;
        let (x, y) = (p.x as f64, p.y as f64);
        let w = m[6] * x + m[7] * y + m[8];
        if w.abs() < 1e-12 {
            return None;
        }
        Some(Point {
            x: ((m[0] * x + m[1] * y + m[2]) / w) as f32,
            y: ((m[3] * x + m[4] * y + m[5]) / w) as f32,
        })
    }

    pub fn inverse(&self) -> Option<Homography> {
        mat_inv(&self.m).map(|m| Homography { m })
    }

    /// Root-mean-square distance between mapped image points and their ground points (metres).
    pub fn reprojection_rms(&self, pairs: &[(Point, Point)]) -> f64 {
        let sum: f64 = pairs
            .iter()
            .map(|(p, q)| match self.apply(*p) {
                Some(r) => ((r.x - q.x) as f64).powi(2) + ((r.y - q.y) as f64).powi(2),
                None => f64::INFINITY,
            })
            .sum();
        (sum / pairs.len().max(1) as f64).sqrt()
    }

    /// Approximate height in metres of an upright object standing on the ground: the box's
    /// height over the ground's horizontal scale (pixels per metre across the image) at its
    /// foot. A camera looking down foreshortens what stands up, so this is below the true height
    /// by the cosine of the camera's tilt (about 0.8-0.95 for a pole camera), and a calibration
    /// estimated from people's heights (as the samples' are) already carries that factor.
    /// `None` when the foot cannot be mapped.
    pub fn upright_height_m(&self, b: &BBox) -> Option<f32> {
        let foot = b.foot();
        let half = (b.width() / 2.0).max(4.0);
        let l = self.apply(Point {
            x: foot.x - half,
            y: foot.y,
        })?;
        let r = self.apply(Point {
            x: foot.x + half,
            y: foot.y,
        })?;
        let metres = ((r.x - l.x).powi(2) + (r.y - l.y).powi(2)).sqrt();
        if !(metres.is_finite() && metres > 0.0) {
            return None;
        }
        let px_per_m = 2.0 * half / metres;
        Some(b.height() / px_per_m)
    }

    /// Maps a polygon; `None` when a vertex lies on the horizon.
    pub fn apply_polygon(&self, poly: &Polygon) -> Option<Polygon> {
        poly.points
            .iter()
            .map(|p| self.apply(*p))
            .collect::<Option<Vec<_>>>()
            .map(Polygon::new)
    }
}

/// False when all points are (nearly) on one line or coincide.
fn has_spread(pts: &[(f64, f64)]) -> bool {
    let n = pts.len();
    let scale = pts
        .iter()
        .flat_map(|a| {
            pts.iter()
                .map(move |b| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt())
        })
        .fold(0.0, f64::max);
    if scale <= 0.0 {
        return false;
    }
    // Need four points with no three collinear (within 0.1% of the spread).
    let tol = 1e-3 * scale * scale;
    let area2 = |a: (f64, f64), b: (f64, f64), c: (f64, f64)| {
        ((b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0)).abs()
    };
    for i in 0..n {
        for j in (i + 1)..n {
            for k in (j + 1)..n {
                for l in (k + 1)..n {
                    let (a, b, c, d) = (pts[i], pts[j], pts[k], pts[l]);
                    if area2(a, b, c) > tol
                        && area2(a, b, d) > tol
                        && area2(a, c, d) > tol
                        && area2(b, c, d) > tol
                    {
                        return true;
                    }
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod homography_tests {
    use super::*;

    fn p(x: f32, y: f32) -> Point {
        Point { x, y }
    }

    /// A known projective map, applied to make exact pairs.
    fn truth(q: Point) -> Point {
        let (x, y) = (q.x as f64, q.y as f64);
        let w = 0.0004 * x + 0.002 * y + 1.0;
        p(
            ((0.02 * x + 0.001 * y - 3.0) / w) as f32,
            ((0.0005 * x + 0.05 * y + 1.0) / w) as f32,
        )
    }

    #[test]
    fn recovers_a_known_homography() {
        let img = [
            p(100.0, 400.0),
            p(600.0, 420.0),
            p(520.0, 150.0),
            p(180.0, 140.0),
            p(350.0, 300.0),
        ];
        let pairs: Vec<_> = img.iter().map(|&q| (q, truth(q))).collect();
        let h = Homography::from_pairs(&pairs).unwrap();
        assert!(
            h.reprojection_rms(&pairs) < 1e-4,
            "{}",
            h.reprojection_rms(&pairs)
        );
        let q = p(300.0, 250.0);
        let (a, b) = (h.apply(q).unwrap(), truth(q));
        assert!((a.x - b.x).abs() < 1e-3 && (a.y - b.y).abs() < 1e-3);
        let back = h.inverse().unwrap().apply(a).unwrap();
        assert!((back.x - q.x).abs() < 1e-2 && (back.y - q.y).abs() < 1e-2);
    }

    /// The vtest calibration (75 px per metre at y = 450, 36 at y = 180): a person 1.7 m tall
    /// measures about 1.7 m wherever they stand; the 20-pixel road cone on its far edge 0.5 m.
    #[test]
    fn upright_heights_from_the_ground_scale() {
        let pairs = [
            (p(200.0, 450.0), p(-2.45, 0.0)),
            (p(568.0, 450.0), p(2.45, 0.0)),
            (p(568.0, 180.0), p(5.11, 8.47)),
            (p(200.0, 180.0), p(-5.11, 8.47)),
        ];
        let h = Homography::from_pairs(&pairs).unwrap();
        let near = h
            .upright_height_m(&BBox::new(380.0, 450.0 - 1.7 * 75.1, 420.0, 450.0))
            .unwrap();
        let far = h
            .upright_height_m(&BBox::new(380.0, 180.0 - 1.7 * 36.0, 400.0, 180.0))
            .unwrap();
        assert!(
            (near - 1.7).abs() < 0.05 && (far - 1.7).abs() < 0.05,
            "{near} {far}"
        );
        let cone = h
            .upright_height_m(&BBox::new(163.0, 188.0, 180.0, 209.0))
            .unwrap();
        assert!((0.4..0.6).contains(&cone), "{cone}");
        // On the horizon nothing can be measured.
        let flat = Homography {
            m: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, -100.0],
        };
        assert_eq!(
            flat.upright_height_m(&BBox::new(0.0, 80.0, 10.0, 100.0)),
            None
        );
    }

    #[test]
    fn rejects_too_few_and_collinear_pairs() {
        let three = [
            (p(0.0, 0.0), p(0.0, 0.0)),
            (p(1.0, 0.0), p(1.0, 0.0)),
            (p(0.0, 1.0), p(0.0, 1.0)),
        ];
        assert!(Homography::from_pairs(&three)
            .unwrap_err()
            .contains("at least 4"));
        let line: Vec<_> = (0..5)
            .map(|i| (p(i as f32 * 10.0, i as f32 * 5.0), p(i as f32, 0.0)))
            .collect();
        assert!(Homography::from_pairs(&line)
            .unwrap_err()
            .contains("degenerate"));
    }

    #[test]
    fn noisy_pairs_report_their_error() {
        let img = [
            p(100.0, 400.0),
            p(600.0, 420.0),
            p(520.0, 150.0),
            p(180.0, 140.0),
            p(350.0, 300.0),
            p(400.0, 200.0),
        ];
        let mut pairs: Vec<_> = img.iter().map(|&q| (q, truth(q))).collect();
        pairs[4].1.x += 0.5; // one ground point half a metre off
        let h = Homography::from_pairs(&pairs).unwrap();
        let rms = h.reprojection_rms(&pairs);
        assert!(rms > 0.05 && rms < 0.5, "{rms}");
    }
}

/// Clear width of a walkway on the ground: the narrowest free cross-section left between the
/// walkway's edges once `obstacles` (ground polygons, e.g. parked bikes' footprints) are taken
/// out. The walkway's axis is its longest direction (principal axis of its vertices); it is
/// sampled in `samples` cross-sections. Returns (clear width, full width at that section) in the
/// units of the points, or `None` for a degenerate walkway.
pub fn clear_width(walkway: &Polygon, obstacles: &[Polygon], samples: usize) -> Option<(f32, f32)> {
    let pts = &walkway.points;
    if pts.len() < 3 {
        return None;
    }
    let n = pts.len() as f64;
    let (mx, my) = pts.iter().fold((0.0, 0.0), |a, p| {
        (a.0 + p.x as f64 / n, a.1 + p.y as f64 / n)
    });
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for p in pts {
        let (dx, dy) = (p.x as f64 - mx, p.y as f64 - my);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    let angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let (ca, sa) = (angle.cos(), angle.sin());
    // Axis coordinates: u along the walkway, v across it.
    let to_uv = |p: &Point| {
        let (dx, dy) = (p.x as f64 - mx, p.y as f64 - my);
        (dx * ca + dy * sa, -dx * sa + dy * ca)
    };
    let walk: Vec<(f64, f64)> = pts.iter().map(to_uv).collect();
    let obs: Vec<Vec<(f64, f64)>> = obstacles
        .iter()
        .map(|o| o.points.iter().map(to_uv).collect())
        .collect();
    let (umin, umax) = walk
        .iter()
        .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.0), a.1.max(p.0)));
    if umax - umin <= 0.0 {
        return None;
    }
    // Interval of v where the line u = const crosses a polygon (outermost crossings).
    let span_at = |poly: &[(f64, f64)], u: f64| -> Option<(f64, f64)> {
        let mut lo = f64::MAX;
        let mut hi = f64::MIN;
        for i in 0..poly.len() {
            let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
            if (a.0 - u) * (b.0 - u) <= 0.0 && a.0 != b.0 {
                let v = a.1 + (u - a.0) * (b.1 - a.1) / (b.0 - a.0);
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        (lo <= hi).then_some((lo, hi))
    };
    let mut best: Option<(f32, f32)> = None;
    for k in 0..samples.max(2) {
        let u = umin + (umax - umin) * (k as f64 + 0.5) / samples.max(2) as f64;
        let Some((w0, w1)) = span_at(&walk, u) else {
            continue;
        };
        let mut blocked: Vec<(f64, f64)> = obs
            .iter()
            .filter_map(|o| span_at(o, u))
            .map(|(a, b)| (a.max(w0), b.min(w1)))
            .filter(|(a, b)| b > a)
            .collect();
        blocked.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Widest free gap between the edges and the merged obstacles.
        let (mut cursor, mut widest) = (w0, 0.0f64);
        for (a, b) in blocked {
            if a > cursor {
                widest = widest.max(a - cursor);
            }
            cursor = cursor.max(b);
        }
        widest = widest.max(w1 - cursor);
        if best.is_none_or(|(c, _)| (widest as f32) < c) {
            best = Some((widest as f32, (w1 - w0) as f32));
        }
    }
    best
}

#[cfg(test)]
mod clear_width_tests {
    use super::*;

    fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Polygon {
        Polygon::new(vec![
            Point { x: x0, y: y0 },
            Point { x: x1, y: y0 },
            Point { x: x1, y: y1 },
            Point { x: x0, y: y1 },
        ])
    }

    #[test]
    fn free_walkway_has_its_full_width() {
        let (clear, full) = clear_width(&rect(0.0, 0.0, 20.0, 3.0), &[], 40).unwrap();
        assert!((clear - 3.0).abs() < 1e-3 && (full - 3.0).abs() < 1e-3);
    }

    #[test]
    fn bikes_narrow_the_walkway_and_the_widest_gap_counts() {
        let walk = rect(0.0, 0.0, 20.0, 3.0);
        // One bike from the left edge (1.8 m deep), another from the right edge at the same spot.
        let bikes = [rect(5.0, 0.0, 5.6, 1.8), rect(5.1, 2.4, 5.7, 3.0)];
        let (clear, _) = clear_width(&walk, &bikes, 200).unwrap();
        assert!((clear - 0.6).abs() < 0.01, "{clear}");
        // A bike in the middle leaves the wider side free.
        let (clear, _) = clear_width(&walk, &[rect(10.0, 1.0, 10.6, 1.8)], 200).unwrap();
        assert!((clear - 1.2).abs() < 0.01, "{clear}");
        // Rotated walkway (along y) is handled by its principal axis.
        let (clear, _) = clear_width(
            &rect(0.0, 0.0, 2.0, 30.0),
            &[rect(0.0, 10.0, 1.5, 10.6)],
            300,
        )
        .unwrap();
        assert!((clear - 0.5).abs() < 0.01, "{clear}");
    }
}

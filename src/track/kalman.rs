//! Constant-velocity Kalman filter on a box (cx, cy, aspect w/h, height), as in SORT/ByteTrack.
//! With a diagonal process and measurement noise the 8-state filter separates into four
//! independent (position, velocity) filters, which is how it is computed here.

use crate::geometry::BBox;

/// Noise scales (ByteTrack's): position and velocity standard deviations relative to the box
/// height, per reference step of `STEP` seconds.
const STD_POS: f64 = 1.0 / 20.0;
const STD_VEL: f64 = 1.0 / 160.0;
const STEP: f64 = 0.1;

#[derive(Debug, Clone, Copy)]
struct Axis {
    x: f64,
    v: f64,
    /// Covariance [[pp, pv], [pv, vv]].
    pp: f64,
    pv: f64,
    vv: f64,
}

impl Axis {
    fn predict(&mut self, dt: f64, q_pos: f64, q_vel: f64) {
        self.x += self.v * dt;
        let (pp, pv, vv) = (self.pp, self.pv, self.vv);
        self.pp = pp + 2.0 * dt * pv + dt * dt * vv + q_pos;
        self.pv = pv + dt * vv;
        self.vv = vv + q_vel;
    }

    fn update(&mut self, z: f64, r: f64) {
        let s = self.pp + r;
        let (kp, kv) = (self.pp / s, self.pv / s);
        let y = z - self.x;
        self.x += kp * y;
        self.v += kv * y;
        let (pp, pv, vv) = (self.pp, self.pv, self.vv);
        self.pp = (1.0 - kp) * pp;
        self.pv = (1.0 - kp) * pv;
        self.vv = vv - kv * pv;
    }
}

#[derive(Debug, Clone)]
pub struct BoxFilter {
    axes: [Axis; 4],
}

fn measure(b: &BBox) -> [f64; 4] {
    let h = b.height().max(1.0) as f64;
    let c = b.center();
    [c.x as f64, c.y as f64, b.width() as f64 / h, h]
}

impl BoxFilter {
    pub fn new(b: &BBox) -> BoxFilter {
        let z = measure(b);
        let h = z[3];
        let pos = [
            2.0 * STD_POS * h,
            2.0 * STD_POS * h,
            1e-2,
            2.0 * STD_POS * h,
        ];
        let vel = [
            10.0 * STD_VEL * h,
            10.0 * STD_VEL * h,
            1e-5,
            10.0 * STD_VEL * h,
        ];
        let axes = [0, 1, 2, 3].map(|i| Axis {
            x: z[i],
            v: 0.0,
            pp: pos[i] * pos[i],
            pv: 0.0,
            vv: (vel[i] / STEP) * (vel[i] / STEP),
        });
        BoxFilter { axes }
    }

    /// Predicts `dt` seconds ahead.
    pub fn predict(&mut self, dt: f64) {
        if dt <= 0.0 {
            return;
        }
        let h = self.axes[3].x.max(1.0);
        let k = dt / STEP;
        for (i, a) in self.axes.iter_mut().enumerate() {
            let (sp, sv) = if i == 2 {
                (1e-2, 1e-5)
            } else {
                (STD_POS * h, STD_VEL * h / STEP)
            };
            a.predict(dt, sp * sp * k, sv * sv * k);
        }
    }

    pub fn update(&mut self, b: &BBox) {
        let z = measure(b);
        let h = z[3];
        for (i, a) in self.axes.iter_mut().enumerate() {
            let r = if i == 2 { 1e-1 } else { (STD_POS * h).powi(2) };
            a.update(z[i], r);
        }
    }

    pub fn bbox(&self) -> BBox {
        let [cx, cy, a, h] = self.axes.map(|a| a.x);
        let h = h.max(1.0);
        let w = (a * h).max(1.0);
        BBox::new(
            (cx - w / 2.0) as f32,
            (cy - h / 2.0) as f32,
            (cx + w / 2.0) as f32,
            (cy + h / 2.0) as f32,
        )
    }

    /// Image velocity of the box centre, pixels per second.
    pub fn velocity(&self) -> (f64, f64) {
        (self.axes[0].v, self.axes[1].v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_constant_velocity_and_predicts_through_a_gap() {
        let mut f = BoxFilter::new(&BBox::new(0.0, 0.0, 20.0, 40.0));
        for i in 1..=20 {
            f.predict(0.1);
            let x = i as f32 * 3.0; // 30 px/s
            f.update(&BBox::new(x, 0.0, x + 20.0, 40.0));
        }
        let (vx, vy) = f.velocity();
        assert!((vx - 30.0).abs() < 3.0 && vy.abs() < 1.0, "{vx} {vy}");
        f.predict(0.5); // half a second unseen
        let b = f.bbox();
        assert!((b.x1 - 75.0).abs() < 3.0, "{b:?}");
        assert!((b.height() - 40.0).abs() < 1.0);
    }
}

//! Evidence clips of live cases: each camera's last `before` seconds of analysed frames are
//! kept (small JPEGs), and when an episode starts its clip takes them and the next `after`
//! seconds; a finished clip is encoded as WebM (VP8, which every browser plays) off the
//! analytics thread, stored in the evidence budget beside the snapshots and sent on
//! `streetwatch/{site}/{camera}/clips/{start alert id}`.
//!
//! `Recorder` is the bookkeeping (pure: times and bytes in, finished clips out); `encode` does
//! the OpenCV work.

use std::collections::VecDeque;

use opencv::core::{Mat, Size, Vector};
use opencv::prelude::*;

use crate::annotate::WEBM_MAGIC;
use crate::error::{Error, Result};

/// A clip that has all its frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The start alert's id (the clip's name).
    pub alert_id: String,
    pub camera: usize,
    /// JPEG frames in order, and their times (Unix seconds).
    pub frames: Vec<(f64, Vec<u8>)>,
}

struct Active {
    alert_id: String,
    until: f64,
    frames: Vec<(f64, Vec<u8>)>,
}

/// Per camera: the recent frames and the clips being filled.
pub struct Recorder {
    before: f64,
    after: f64,
    rings: Vec<Ring>,
    active: Vec<Vec<Active>>,
}

/// A camera's recent frames: (Unix seconds, JPEG).
type Ring = VecDeque<(f64, Vec<u8>)>;

/// Frame times a microsecond apart are one time (sums of frame periods are not exact).
const EPS: f64 = 1e-6;

/// Most frames one clip holds (a bound whatever the rates: 30 s at 10 frames/s).
pub const MAX_FRAMES: usize = 300;

impl Recorder {
    pub fn new(cameras: usize, before_s: f64, after_s: f64) -> Recorder {
        Recorder {
            before: before_s.max(0.0),
            after: after_s.max(0.0),
            rings: (0..cameras).map(|_| VecDeque::new()).collect(),
            active: (0..cameras).map(|_| Vec::new()).collect(),
        }
    }

    /// Whether clips are made at all.
    pub fn enabled(&self) -> bool {
        self.before + self.after > 0.0
    }

    /// A camera's analysed frame at `t` (Unix seconds): kept for the clips to come and added to
    /// the clips being filled; the clips it completes are returned.
    pub fn frame(&mut self, camera: usize, t: f64, jpeg: Vec<u8>) -> Vec<Finished> {
        let Some(ring) = self.rings.get_mut(camera) else {
            return Vec::new();
        };
        let mut done = Vec::new();
        let active = &mut self.active[camera];
        let mut i = 0;
        while i < active.len() {
            if t > active[i].until + EPS || active[i].frames.len() >= MAX_FRAMES {
                let a = active.remove(i);
                done.push(Finished {
                    alert_id: a.alert_id,
                    camera,
                    frames: a.frames,
                });
            } else {
                active[i].frames.push((t, jpeg.clone()));
                i += 1;
            }
        }
        ring.push_back((t, jpeg));
        while ring
            .front()
            .is_some_and(|(t0, _)| t - *t0 > self.before + EPS)
        {
            ring.pop_front();
        }
        done
    }

    /// An episode started at `t` on `camera` (its frame already given to `frame`): its clip
    /// starts with the frames kept.
    pub fn start(&mut self, camera: usize, alert_id: &str, t: f64) {
        if !self.enabled() {
            return;
        }
        let Some(ring) = self.rings.get(camera) else {
            return;
        };
        let frames: Vec<(f64, Vec<u8>)> = ring
            .iter()
            .filter(|(t0, _)| t - *t0 <= self.before + EPS)
            .cloned()
            .collect();
        self.active[camera].push(Active {
            alert_id: alert_id.to_string(),
            until: t + self.after,
            frames,
        });
    }

    /// The cameras renumbered (a reload): `by_new[j]` is the old number of new camera `j`, if it
    /// had one; its frames and clips move with it. The clips of cameras no longer listed end as
    /// they are and are returned.
    pub fn remap(&mut self, by_new: &[Option<usize>]) -> Vec<Finished> {
        let mut rings: Vec<Option<Ring>> = std::mem::take(&mut self.rings)
            .into_iter()
            .map(Some)
            .collect();
        let mut active: Vec<Option<Vec<Active>>> = std::mem::take(&mut self.active)
            .into_iter()
            .map(Some)
            .collect();
        fn take<T: Default>(v: &mut [Option<T>], i: Option<usize>) -> T {
            i.and_then(|i| v.get_mut(i))
                .and_then(Option::take)
                .unwrap_or_default()
        }
        for &old in by_new {
            self.rings.push(take(&mut rings, old));
            self.active.push(take(&mut active, old));
        }
        let mut ended = Vec::new();
        for (camera, left) in active.into_iter().enumerate() {
            for a in left.into_iter().flatten() {
                ended.push(Finished {
                    alert_id: a.alert_id,
                    camera,
                    frames: a.frames,
                });
            }
        }
        ended
    }

    /// The clips being filled, ended as they are (at shutdown).
    pub fn flush(&mut self) -> Vec<Finished> {
        let mut out = Vec::new();
        for (camera, active) in self.active.iter_mut().enumerate() {
            for a in active.drain(..) {
                out.push(Finished {
                    alert_id: a.alert_id,
                    camera,
                    frames: a.frames,
                });
            }
        }
        out
    }
}

/// A frame for the ring: scaled to `width` (never up) and JPEG-encoded.
pub fn shrink(image: &Mat, width: i32) -> Result<Vec<u8>> {
    let (w, h) = (image.cols(), image.rows());
    let mut small = Mat::default();
    let img = if w > width && w > 0 {
        let height = ((h as f64 * width as f64 / w as f64).round() as i32).max(2) & !1;
        opencv::imgproc::resize(
            image,
            &mut small,
            Size::new(width & !1, height),
            0.0,
            0.0,
            opencv::imgproc::INTER_AREA,
        )?;
        &small
    } else {
        image
    };
    let mut buf = Vector::<u8>::new();
    let params = Vector::from_slice(&[opencv::imgcodecs::IMWRITE_JPEG_QUALITY, 80]);
    opencv::imgcodecs::imencode(".jpg", img, &mut buf, &params)?;
    Ok(buf.to_vec())
}

/// Encodes a clip's frames as WebM (VP8) at `fps` through a temporary file at `tmp` (its name
/// ends in `.webm`: FFmpeg picks the container by it; removed after); the file's bytes.
pub fn encode(frames: &[(f64, Vec<u8>)], fps: f64, tmp: &std::path::Path) -> Result<Vec<u8>> {
    if tmp.extension().is_none_or(|e| e != "webm") {
        return Err(Error::io(
            tmp,
            std::io::Error::other("a clip's file name ends in .webm"),
        ));
    }
    let first = frames
        .first()
        .ok_or_else(|| Error::io(tmp, std::io::Error::other("a clip without frames")))?;
    let decode = |jpeg: &[u8]| -> Result<Mat> {
        Ok(opencv::imgcodecs::imdecode(
            &Vector::<u8>::from_slice(jpeg),
            opencv::imgcodecs::IMREAD_COLOR,
        )?)
    };
    let size = decode(&first.1)?.size()?;
    let result = (|| -> Result<Vec<u8>> {
        let mut writer = crate::annotate::open_webm(tmp, fps.clamp(1.0, 30.0), size)?;
        for (_, jpeg) in frames {
            let img = decode(jpeg)?;
            if img.size()? == size {
                writer.write(&img)?;
            }
        }
        writer.release()?;
        std::fs::read(tmp).map_err(|e| Error::io(tmp, e))
    })();
    let _ = std::fs::remove_file(tmp);
    let mut bytes = result?;
    if !bytes.starts_with(&WEBM_MAGIC) {
        return Err(Error::io(
            tmp,
            std::io::Error::other("the encoder wrote no WebM"),
        ));
    }
    let seed = tmp
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    crate::annotate::webm_fixed_uids(&mut bytes, &seed);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(n: u8) -> Vec<u8> {
        vec![n]
    }

    #[test]
    fn a_clip_holds_the_seconds_before_and_after_its_start_at_any_rate() {
        for fps in [2.0, 5.0, 10.0] {
            let mut r = Recorder::new(2, 3.0, 7.0);
            let dt = 1.0 / fps;
            let mut done = Vec::new();
            let mut t = 1000.0;
            let mut n = 0u32;
            // 20 s of frames on camera 0; an episode starts at 1010 s. Camera 1 is idle.
            while t < 1020.0 {
                done.extend(r.frame(0, t, jpeg((n % 250) as u8)));
                if (t - 1010.0).abs() < dt / 2.0 {
                    r.start(0, "a-1", t);
                }
                t += dt;
                n += 1;
            }
            assert_eq!(done.len(), 1, "{fps}/s");
            let c = &done[0];
            assert_eq!((c.alert_id.as_str(), c.camera), ("a-1", 0));
            let (t0, t1) = (c.frames[0].0, c.frames.last().unwrap().0);
            assert!((t0 - 1007.0).abs() <= dt + 1e-6, "{fps}/s: starts {t0}");
            assert!((t1 - 1017.0).abs() <= dt + 1e-6, "{fps}/s: ends {t1}");
            let expect = (10.0 * fps).round() as usize + 1;
            assert!(
                c.frames.len().abs_diff(expect) <= 1,
                "{fps}/s: {} frames",
                c.frames.len()
            );
            assert!(c.frames.windows(2).all(|w| w[0].0 < w[1].0), "in order");
        }
    }

    #[test]
    fn overlapping_clips_and_shutdown() {
        let mut r = Recorder::new(1, 1.0, 2.0);
        let mut done = Vec::new();
        for i in 0..10 {
            let t = i as f64;
            done.extend(r.frame(0, t, jpeg(i as u8)));
            if i == 2 || i == 3 {
                r.start(0, &format!("a-{i}"), t);
            }
        }
        // a-2: 1..4, a-3: 2..5.
        let frames = |c: &Finished| c.frames.iter().map(|f| f.1[0]).collect::<Vec<_>>();
        assert_eq!(done.len(), 2);
        assert_eq!(frames(&done[0]), [1, 2, 3, 4]);
        assert_eq!(frames(&done[1]), [2, 3, 4, 5]);
        r.start(0, "late", 9.0);
        let left = r.flush();
        assert_eq!(
            (left.len(), frames(&left[0])),
            (1, vec![8, 9]),
            "flushed as far as it got"
        );
        let mut off = Recorder::new(1, 0.0, 0.0);
        off.frame(0, 0.0, jpeg(1));
        off.start(0, "x", 0.0);
        assert!(off.flush().is_empty(), "clips disabled");
        assert!(
            Recorder::new(1, 1.0, 1.0).frame(5, 0.0, jpeg(1)).is_empty(),
            "no such camera"
        );
    }

    #[test]
    fn a_clip_is_encoded_as_webm_that_opencv_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut frames = Vec::new();
        for i in 0..15 {
            let mut img = Mat::new_rows_cols_with_default(
                480,
                640,
                opencv::core::CV_8UC3,
                opencv::core::Scalar::all((i * 15) as f64),
            )
            .unwrap();
            opencv::imgproc::circle(
                &mut img,
                opencv::core::Point::new(40 * i + 20, 240),
                30,
                opencv::core::Scalar::new(0.0, 0.0, 255.0, 0.0),
                -1,
                opencv::imgproc::LINE_8,
                0,
            )
            .unwrap();
            frames.push((i as f64 / 5.0, shrink(&img, 320).unwrap()));
        }
        assert!(
            encode(&frames, 5.0, &dir.path().join("clip.tmp")).is_err(),
            "not a .webm name"
        );
        let tmp = dir.path().join("clip.webm");
        let t0 = std::time::Instant::now();
        let bytes = encode(&frames, 5.0, &tmp).unwrap();
        eprintln!("[clips] 15 frames of 320x240 encoded in {:?}", t0.elapsed());
        assert_eq!(
            bytes,
            encode(&frames, 5.0, &tmp).unwrap(),
            "the same frames, the same file"
        );
        // Its random track id (and the tags' copy) was set from the name.
        let mut again = bytes.clone();
        assert_eq!(crate::annotate::webm_fixed_uids(&mut again, "clip"), 2);
        assert_eq!(again, bytes);
        assert_eq!(crate::annotate::webm_fixed_uids(&mut again, "other"), 2);
        assert_ne!(again, bytes, "another name, another id");
        assert!(bytes.starts_with(&WEBM_MAGIC));
        assert!(!tmp.exists(), "the temporary file is removed");
        let back = dir.path().join("back.webm");
        std::fs::write(&back, &bytes).unwrap();
        let mut cap =
            opencv::videoio::VideoCapture::from_file(&back, opencv::videoio::CAP_FFMPEG).unwrap();
        let mut n = 0;
        let mut f = Mat::default();
        while cap.read(&mut f).unwrap_or(false) && !f.empty() {
            assert_eq!((f.cols(), f.rows()), (320, 240), "scaled to the clip width");
            n += 1;
        }
        assert_eq!(n, 15, "every frame in the clip");
    }
}

//! Frame sources. Here: video files and still images read with OpenCV, on the media timeline.

use std::path::{Path, PathBuf};

use opencv::core::Mat;
use opencv::prelude::*;
use opencv::videoio::{self, VideoCapture};

use crate::error::{Error, Result};

/// One decoded frame. `time` is the media time in seconds (from the file's timestamps).
pub struct Frame {
    pub index: u64,
    pub time: f64,
    pub image: Mat,
}

/// A video file read frame by frame.
pub struct VideoFile {
    cap: VideoCapture,
    pub path: PathBuf,
    pub fps: f64,
    /// Frame count the container announces (0 when unknown).
    pub frame_count: u64,
    pub width: i32,
    pub height: i32,
    next_index: u64,
    last_time: f64,
}

const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "ppm", "pgm",
];

/// True when the path names a still image (by extension).
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

/// The kind of still image a file holds, by its first bytes (PNG, JPEG, GIF, BMP, WebP, TIFF).
pub fn image_kind(path: &Path) -> Option<&'static str> {
    use std::io::Read;
    let mut head = [0u8; 12];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let h = &head[..n];
    if h.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("PNG")
    } else if h.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("JPEG")
    } else if h.starts_with(b"GIF87a") || h.starts_with(b"GIF89a") {
        Some("GIF")
    } else if h.starts_with(b"BM") && n >= 6 {
        Some("BMP")
    } else if h.starts_with(b"RIFF") && h.get(8..12) == Some(b"WEBP") {
        Some("WebP")
    } else if h.starts_with(b"II*\0") || h.starts_with(b"MM\0*") {
        Some("TIFF")
    } else {
        None
    }
}

/// Reads a still image as an 8-bit BGR frame.
pub fn read_image(path: &Path) -> Result<Mat> {
    if !path.is_file() {
        return Err(Error::Video {
            path: path.to_path_buf(),
            message: "no such file".into(),
        });
    }
    let img = opencv::imgcodecs::imread(path, opencv::imgcodecs::IMREAD_COLOR)?;
    if img.empty() {
        return Err(Error::Video {
            path: path.to_path_buf(),
            message: "not a readable image".into(),
        });
    }
    Ok(img)
}

/// A still image, or the frame of a video at `at` seconds of media time (the last one when the
/// video is shorter).
pub fn frame_at(path: &Path, at: f64) -> Result<Mat> {
    if is_image(path) {
        return read_image(path);
    }
    let mut v = VideoFile::open(path)?;
    let mut chosen = None;
    while let Some(f) = v.read()? {
        let done = f.time + 1e-6 >= at;
        chosen = Some(f.image);
        if done {
            break;
        }
    }
    chosen.ok_or_else(|| Error::Video {
        path: path.to_path_buf(),
        message: "no frame could be decoded".into(),
    })
}

impl VideoFile {
    pub fn open(path: &Path) -> Result<VideoFile> {
        let err = |message: &str| Error::Video {
            path: path.to_path_buf(),
            message: message.to_string(),
        };
        if !path.is_file() {
            return Err(err("no such file"));
        }
        // FFmpeg opens a still image as a one-frame "video": by its content, not its name.
        if let Some(kind) = image_kind(path) {
            return Err(err(&format!(
                "is a {kind} image, not a video (whatever its name says); `streetwatch detect` takes images"
            )));
        }
        let cap = VideoCapture::from_file(path, videoio::CAP_FFMPEG)?;
        if !cap.is_opened()? {
            return Err(err(
                "not a video OpenCV can open (unknown format or corrupt header)",
            ));
        }
        let fps = cap.get(videoio::CAP_PROP_FPS)?;
        let frame_count = cap.get(videoio::CAP_PROP_FRAME_COUNT)?.max(0.0) as u64;
        let width = cap.get(videoio::CAP_PROP_FRAME_WIDTH)? as i32;
        let height = cap.get(videoio::CAP_PROP_FRAME_HEIGHT)? as i32;
        if width <= 0 || height <= 0 {
            return Err(err("the video has no frame size (no video stream)"));
        }
        Ok(VideoFile {
            cap,
            path: path.to_path_buf(),
            fps: if fps.is_finite() && fps > 0.0 {
                fps
            } else {
                0.0
            },
            frame_count,
            width,
            height,
            next_index: 0,
            last_time: -1.0,
        })
    }

    /// Frames read so far.
    pub fn frames_read(&self) -> u64 {
        self.next_index
    }

    /// Media time of the last frame read, seconds.
    pub fn last_time(&self) -> f64 {
        self.last_time.max(0.0)
    }

    /// Next frame, or `None` at the end of what can be decoded.
    pub fn read(&mut self) -> Result<Option<Frame>> {
        let mut image = Mat::default();
        let ok = self.cap.read(&mut image).unwrap_or(false);
        if !ok || image.empty() {
            return Ok(None);
        }
        // CAP_PROP_POS_MSEC is the timestamp of the frame just decoded; fall back to the frame
        // rate when the container has none, and never let time run backwards.
        let index = self.next_index;
        let from_rate = if self.fps > 0.0 {
            index as f64 / self.fps
        } else {
            index as f64
        };
        let ms = self.cap.get(videoio::CAP_PROP_POS_MSEC).unwrap_or(-1.0);
        let mut time = if ms.is_finite() && ms >= 0.0 && (index == 0 || ms > 0.0) {
            ms / 1000.0
        } else {
            from_rate
        };
        if time <= self.last_time {
            time = from_rate.max(self.last_time + 1e-6);
        }
        self.last_time = time;
        self.next_index += 1;
        Ok(Some(Frame { index, time, image }))
    }

    /// When the container announced more frames than could be decoded: (read, announced).
    pub fn truncated(&self) -> Option<(u64, u64)> {
        // Containers round their counts; a couple of missing frames at the end is not truncation.
        let slack = 2 + self.frame_count / 100;
        (self.frame_count > 0 && self.next_index + slack < self.frame_count)
            .then_some((self.next_index, self.frame_count))
    }
}

//! Helpers shared by the integration tests: where setup put things, and running the binary.
#![allow(dead_code)]

pub mod services;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn cache() -> PathBuf {
    streetwatch::model::cache_dir()
}

/// A sample clip that setup fetched; fails the test (not skips it) when it is missing.
pub fn sample(name: &str) -> PathBuf {
    let p = root().join("samples").join(name);
    assert!(
        p.is_file(),
        "{} is missing: run scripts/setup.sh",
        p.display()
    );
    p
}

/// Polls `cond` (every 50 ms) until it holds; fails the test after `secs` naming `what`.
/// Returns how long it took.
pub fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) -> std::time::Duration {
    let t0 = std::time::Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(secs),
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    t0.elapsed()
}

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_streetwatch"))
}

pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run streetwatch");
    let (out, err) = (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    );
    assert!(!err.contains("panicked"), "streetwatch panicked:\n{err}");
    (status.success(), out, err)
}

/// The Python of the reference venv that setup --test created.
pub fn reference_python() -> PathBuf {
    std::env::var_os("STREETWATCH_REF_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("venv-reference/bin/python"))
}

pub fn manifest(name: &str) -> PathBuf {
    root().join("models").join(format!("{name}.toml"))
}

pub fn copy_truncated(src: &Path, dst: &Path, fraction: f64) {
    let data = std::fs::read(src).unwrap();
    let n = (data.len() as f64 * fraction) as usize;
    std::fs::write(dst, &data[..n]).unwrap();
}

/// A small file system (tmpfs of `mib` MiB) mounted at `path` (created), unmounted when
/// dropped. Mounting needs root, as CI has; without it the test fails (it is not skipped).
pub struct SmallDisk(pub PathBuf);

impl SmallDisk {
    pub fn mount(path: &Path, mib: u32) -> SmallDisk {
        std::fs::create_dir_all(path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "cannot mount a {mib} MiB tmpfs at {} (the full-disk tests need root)",
            path.display()
        );
        SmallDisk(path.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

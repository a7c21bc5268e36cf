//! Process and sample statistics for summaries and benchmarks: memory from /proc, median and
//! 95th percentile.

/// Peak resident memory of this process (VmHWM), MB.
pub fn peak_rss_mb() -> f64 {
    proc_status_mb("self", "VmHWM:")
}

/// A memory line (`VmRSS:`, `VmHWM:`, …) of /proc/`pid`/status, MB (0 when unreadable).
pub fn proc_status_mb(pid: &str, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Median and 95th percentile of a sample (0, 0 when empty).
pub fn median_p95(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (
        v[v.len() / 2],
        v[((v.len() - 1) as f64 * 0.95).round() as usize],
    )
}

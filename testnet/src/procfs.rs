//! Memory of a running process as Linux reports it in `/proc/PID/status`: the tests' and the
//! benchmarks' one reader of it.

/// A `kB` field of `/proc/PID/status` (`VmRSS:`, `VmHWM:`, …), in KiB; `None` if the process is
/// gone or the field is absent (not Linux).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resident memory of a process, in KiB (0 if it cannot be read).
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:").unwrap_or(0)
}

/// File descriptors a process has open (0 if it cannot be read).
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

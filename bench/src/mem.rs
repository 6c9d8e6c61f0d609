//! Resident memory of this process, from `/proc/self/status` (Linux; elsewhere nothing).

/// The peak resident set size (`VmHWM`) in bytes.
pub(crate) fn peak_rss() -> Option<u64> {
    status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// Resets the peak to the current resident set (`echo 5 > /proc/self/clear_refs`), so that what
/// comes next is measured alone: building a tenant in memory is not what `resolve` costs.
/// Returns whether it worked.
pub(crate) fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_peak_where_linux_reports_it() {
        if cfg!(target_os = "linux") {
            let peak = peak_rss().expect("linux reports VmHWM");
            assert!(peak > 1024 * 1024, "a running test holds more than a megabyte: {peak}");
        } else {
            assert_eq!(peak_rss(), None);
        }
    }
}

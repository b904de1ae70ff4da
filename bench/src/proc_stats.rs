//! What a process holds, read from `/proc` (Linux): open file descriptors and
//! resident memory, for soak tests that watch a server for leaks.

use std::path::PathBuf;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStats {
    /// Entries in `/proc/<pid>/fd`: files, sockets, pipes, epoll and event fds.
    pub fds: usize,
    /// `VmRSS` of `/proc/<pid>/status`, in KiB.
    pub rss_kib: u64,
}

/// Reads `pid`'s open descriptors and resident memory.
pub fn read(pid: u32) -> anyhow::Result<ProcStats> {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let fds = std::fs::read_dir(proc_dir.join("fd"))?.count();
    let status = std::fs::read_to_string(proc_dir.join("status"))?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{pid}/status"))?;
    Ok(ProcStats { fds, rss_kib })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let stats = super::read(std::process::id()).expect("own /proc entry");
        assert!(stats.fds >= 3, "stdin, stdout and stderr at least: {stats:?}");
        assert!(stats.rss_kib > 0);
    }
}

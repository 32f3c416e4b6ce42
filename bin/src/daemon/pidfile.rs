//! keepalived's pid files (-p, -r, -c): refuse to start while a live
//! process holds one, write ours, remove them on exit.
//!
//! keepalived 2.2.7 (checked): a second daemon with the same pid files logs
//! "daemon is already running" and exits 0; the files are removed on a clean
//! stop.

use nix::sys::signal::kill;
use nix::unistd::Pid;
use std::io;
use std::path::{Path, PathBuf};

/// The pid recorded in `path`, if that process is alive.
pub fn live_pid(path: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(path).ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    if pid <= 0 || pid == std::process::id() as i32 {
        return None;
    }
    // Signal 0 only checks existence; EPERM still means "alive".
    match kill(Pid::from_raw(pid), None) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => Some(pid),
        Err(_) => None,
    }
}

/// Pid files written by this process; removed when dropped.
#[derive(Debug, Default)]
pub struct PidFiles {
    written: Vec<PathBuf>,
}

impl PidFiles {
    /// Writes our pid (with a newline, as keepalived) to each path.
    pub fn write(paths: &[PathBuf]) -> io::Result<Self> {
        let mut me = PidFiles::default();
        let pid = std::process::id();
        for p in paths {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(p, format!("{pid}\n"))?;
            me.written.push(p.clone());
        }
        Ok(me)
    }
}

impl Drop for PidFiles {
    fn drop(&mut self) {
        for p in &self.written {
            // Only remove a file that still names us: a successor may own it.
            let ours = std::fs::read_to_string(p)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
                == Some(std::process::id());
            if ours {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_or_garbage_pid_is_not_live() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("x.pid");
        std::fs::write(&p, "not a pid\n").expect("write");
        assert_eq!(live_pid(&p), None);
        // pid_max is at most 2^22: this one cannot exist.
        std::fs::write(&p, "99999999\n").expect("write");
        assert_eq!(live_pid(&p), None);
        assert_eq!(live_pid(&d.path().join("missing.pid")), None);
    }

    #[test]
    fn live_parent_pid_is_detected_and_files_removed_on_drop() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("y.pid");
        let parent = nix::unistd::getppid().as_raw();
        std::fs::write(&p, format!("{parent}\n")).expect("write");
        assert_eq!(live_pid(&p), Some(parent));
        let q = d.path().join("sub/z.pid");
        {
            let f = PidFiles::write(std::slice::from_ref(&q)).expect("write");
            let text = std::fs::read_to_string(&q).expect("read");
            assert_eq!(text, format!("{}\n", std::process::id()));
            drop(f);
        }
        assert!(!q.exists());
    }
}

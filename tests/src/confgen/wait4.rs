//! The one `unsafe` call of the config-test runner: `wait4(2)`, which reaps
//! a child and returns its resource usage (peak RSS) in one step. Neither
//! std nor nix exposes the per-child `rusage`.
#![allow(unsafe_code)]

use std::io;

/// Exit of a reaped child: raw wait status and peak resident set size.
pub struct Reaped {
    pub status: i32,
    pub max_rss_kib: u64,
}

/// Block until child `pid` exits; retries on EINTR.
pub fn wait4(pid: u32) -> io::Result<Reaped> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers refer to live, writable locals of the right
        // types for the duration of the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            return Ok(Reaped {
                status,
                // Linux reports ru_maxrss in KiB.
                max_rss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
            });
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

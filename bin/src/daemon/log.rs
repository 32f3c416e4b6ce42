//! Logging set-up for the daemon: keepalived's console format with `-l`
//! ("Tue Nov 24 23:40:53 2026: (VI_1) Entering MASTER STATE"), stderr
//! otherwise; `-D` adds debug detail.

use std::time::{SystemTime, UNIX_EPOCH};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::EnvFilter;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `ctime`-style UTC timestamp followed by a colon, as keepalived's console
/// log lines start (keepalived uses local time; the daemon runs in UTC).
pub fn ctime_utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (H. Hinnant's algorithm), days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mon = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mon <= 2);
    let wd = DAYS[(days % 7) as usize];
    let mn = MONTHS[(mon - 1) as usize];
    format!("{wd} {mn} {d:02} {h:02}:{m:02}:{s:02} {y}:")
}

struct KeepalivedTime;

impl FormatTime for KeepalivedTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        write!(w, "{}", ctime_utc(secs))
    }
}

/// Installs the global subscriber. `RUST_LOG` overrides the level.
pub fn init(console: bool, detail: bool) {
    let default = if detail { "debug" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(KeepalivedTime)
        .with_level(false)
        .with_target(false)
        .with_ansi(false);
    // keepalived -l writes to stdout; without it we have no syslog yet, so
    // stderr keeps the messages visible.
    let res = if console {
        builder.with_writer(std::io::stdout).try_init()
    } else {
        builder.with_writer(std::io::stderr).try_init()
    };
    // A subscriber already installed (tests, demo) is fine.
    let _ = res;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_matches_keepalived_console_prefix() {
        // 2026-11-24 23:40:53 UTC, a Tuesday (seen in keepalived's output).
        assert_eq!(ctime_utc(1_795_563_653), "Tue Nov 24 23:40:53 2026:");
        assert_eq!(ctime_utc(0), "Thu Jan 01 00:00:00 1970:");
        assert_eq!(ctime_utc(951_782_400), "Tue Feb 29 00:00:00 2000:");
    }
}

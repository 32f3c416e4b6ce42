//! keepalived 2.2.7's command line (reference 3.1), accepted flag for flag so
//! that unit files and scripts written for keepalived run unchanged.

use clap::{ArgAction, Parser, Subcommand};
use std::path::PathBuf;

/// keepalived's default configuration file.
pub const DEFAULT_CONF: &str = "/etc/keepalived/keepalived.conf";

#[derive(Parser, Debug, Clone, Default)]
#[command(
    name = "keepalived-rs",
    version,
    about = "Drop-in replacement for keepalived",
    disable_version_flag = true
)]
pub struct Cli {
    /// Use the specified configuration file.
    #[arg(short = 'f', long = "use-file", value_name = "FILE")]
    pub use_file: Option<PathBuf>,
    /// Only run with VRRP subsystem.
    #[arg(short = 'P', long = "vrrp")]
    pub vrrp_only: bool,
    /// Only run with Health-checker subsystem.
    #[arg(short = 'C', long = "check")]
    pub check_only: bool,
    /// Don't run BFD subsystem.
    #[arg(short = 'B', long = "no_bfd")]
    pub no_bfd: bool,
    /// Force all child processes to run, even if have no configuration.
    #[arg(long = "all")]
    pub all: bool,
    /// Log to local console.
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,
    /// Detailed log messages.
    #[arg(short = 'D', long = "log-detail")]
    pub log_detail: bool,
    /// Set syslog facility to LOG_LOCAL[0-7] (or a name).
    #[arg(short = 'S', long = "log-facility", value_name = "FACILITY")]
    pub log_facility: Option<String>,
    /// Don't log via syslog.
    #[arg(short = 'G', long = "no-syslog")]
    pub no_syslog: bool,
    /// Log to file.
    #[arg(short = 'g', long = "log-file", value_name = "FILE", num_args = 0..=1, default_missing_value = "/tmp/keepalived.log")]
    pub log_file: Option<PathBuf>,
    /// Flush log file on write.
    #[arg(long = "flush-log-file")]
    pub flush_log_file: bool,
    /// Don't release VRRP VIPs and routes on daemon stop.
    #[arg(short = 'V', long = "dont-release-vrrp")]
    pub dont_release_vrrp: bool,
    /// Don't remove IPVS topology on daemon stop.
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,
    /// Don't respawn child processes.
    #[arg(short = 'R', long = "dont-respawn")]
    pub dont_respawn: bool,
    /// Don't fork the daemon process.
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,
    /// Dump the configuration data (`--dump-conf=json` prints it as JSON).
    #[arg(short = 'd', long = "dump-conf", value_name = "FORMAT", num_args = 0..=1, default_missing_value = "text")]
    pub dump_conf: Option<String>,
    /// Monitor address changes and log them.
    #[arg(short = 'a', long = "address-monitoring")]
    pub address_monitoring: bool,
    /// Drop VIPs on transition from signal.
    #[arg(short = 'X', long = "release-vips")]
    pub release_vips: bool,
    /// Run in network namespace NAME (overrides config).
    #[arg(short = 's', long = "namespace", value_name = "NAME")]
    pub namespace: Option<String>,
    /// Any config file not found is fatal.
    #[arg(short = 'e', long = "all-config")]
    pub all_config: bool,
    /// Set umask (octal or symbolic).
    #[arg(short = 'u', long = "umask", value_name = "NUMBER")]
    pub umask: Option<String>,
    /// Use specified pidfile for parent process.
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub pid: Option<PathBuf>,
    /// Use specified pidfile for VRRP child process.
    #[arg(short = 'r', long = "vrrp_pid", value_name = "FILE")]
    pub vrrp_pid: Option<PathBuf>,
    /// Use specified pidfile for checkers child process.
    #[arg(short = 'c', long = "checkers_pid", value_name = "FILE")]
    pub checkers_pid: Option<PathBuf>,
    /// Use specified pidfile for BFD child process.
    #[arg(short = 'b', long = "bfd_pid", value_name = "FILE")]
    pub bfd_pid: Option<PathBuf>,
    /// Enable SNMP subsystem (accepted; not provided by keepalived-rs).
    #[arg(short = 'x', long = "snmp")]
    pub snmp: bool,
    /// Use the specified socket for the SNMP agent.
    #[arg(short = 'A', long = "snmp-agent-socket", value_name = "FILE")]
    pub snmp_agent_socket: Option<String>,
    /// Force core dump if a process crashes.
    #[arg(short = 'm', long = "core-dump")]
    pub core_dump: bool,
    /// Also update /proc/sys/kernel/core_pattern.
    #[arg(short = 'M', long = "core-dump-pattern", value_name = "PATTERN", num_args = 0..=1, default_missing_value = "core")]
    pub core_dump_pattern: Option<String>,
    /// Check the configuration for obvious errors and exit (optional log file).
    #[arg(short = 't', long = "config-test", visible_alias = "check-config", value_name = "LOGFILE", num_args = 0..=1, default_missing_value = "")]
    pub config_test: Option<String>,
    /// Print diagnostics as JSON (with `-t`).
    #[arg(long = "json")]
    pub json: bool,
    /// The id `@ID` configuration lines are matched against.
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub config_id: Option<String>,
    /// Print the number of the signal for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON.
    #[arg(long = "signum", value_name = "SIGFUNC")]
    pub signum: Option<String>,
    /// Ignore SIGINT (debugging).
    #[arg(long = "ignore-sigint")]
    pub ignore_sigint: bool,
    /// Accepted for compatibility; keepalived-rs has no such switch.
    #[arg(long = "no-mem-check")]
    pub no_mem_check: bool,
    /// Accepted for compatibility; keepalived-rs has no such switch.
    #[arg(long = "perf", value_name = "WHEN", num_args = 0..=1, default_missing_value = "run")]
    pub perf: Option<String>,
    /// Accepted for compatibility; keepalived-rs has no such switch.
    #[arg(long = "debug", value_name = "OPTS", num_args = 0..=1, default_missing_value = "")]
    pub debug: Option<String>,
    /// Display the version number (keepalived's `-v`; `-V` is --dont-release-vrrp).
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub version: (),
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Build a throwaway namespace topology with two directors and show a takeover.
    Demo,
}

impl Cli {
    pub fn config_path(&self) -> PathBuf {
        self.use_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONF))
    }
}

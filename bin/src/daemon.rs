//! The daemon: pid files, logging, signals, and the VRRP runtime for every
//! `vrrp_instance` of the model, in one process (keepalived forks a parent
//! and a VRRP child; we keep one process and write both pid files).
//!
//! keepalived behaviour matched (checked against 2.2.7): a live pid in any
//! of the pid files → "daemon is already running", exit 0; SIGTERM/SIGINT →
//! "Stopping", priority-0 adverts, VIPs removed, pid files removed, exit 0;
//! SIGUSR1 / SIGUSR2 write /tmp/keepalived.data / /tmp/keepalived.stats;
//! SIGHUP reloads (unchanged VRRP instances keep running untouched).

mod log;
mod lvs;
mod pidfile;
mod sync;

use crate::cli::Cli;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info, warn};

/// keepalived's default pid files (reference 3.1, observed).
const DEFAULT_PID: &str = "/run/keepalived.pid";
const DEFAULT_VRRP_PID: &str = "/run/vrrp.pid";
const DEFAULT_CHECKERS_PID: &str = "/run/checkers.pid";

/// Where keepalived writes its state (SIGUSR1) and counters (SIGUSR2).
const DATA_FILE: &str = "/tmp/keepalived.data";
const STATS_FILE: &str = "/tmp/keepalived.stats";

fn dump(path: &str, text: &str) {
    match std::fs::write(path, text) {
        Ok(()) => info!("Printing VRRP data to {path}"),
        Err(e) => warn!("cannot write {path}: {e}"),
    }
}

/// SIGHUP for the VRRP side: re-read the configuration; if it cannot run,
/// keep the running one (and say why); else apply the difference and
/// return the configuration now in force.
async fn reload_vrrp(r: &mut vrrp::runtime::Runtime, cli: &Cli) -> Option<confparse::Model> {
    info!("Reloading VRRP configuration");
    let path = cli.config_path();
    let opts = crate::load_options(cli);
    // Reading the file is blocking work: off the runtime's threads.
    let loaded = tokio::task::spawn_blocking(move || confparse::check(&path, &opts)).await;
    let mut report = match loaded {
        Ok(rep) => rep,
        Err(e) => {
            warn!("VRRP reload failed: {e}");
            return None;
        }
    };
    let Some(model) = report.model.take() else {
        warn!(
            "VRRP reload: the new configuration cannot run; keeping the running one\n{}",
            report.render()
        );
        return None;
    };
    match r.reload(&model).await {
        Ok((kept, stopped, started)) => {
            info!(
                "VRRP reload done: {} unchanged, stopped {:?}, started {:?}",
                kept.len(),
                stopped,
                started
            );
            Some(model)
        }
        Err(e) => {
            warn!("VRRP reload: {e}");
            None
        }
    }
}

/// The next transition for the sync daemon follower; never ready when
/// the VRRP side does not run.
async fn next_state(
    rx: &mut Option<tokio::sync::broadcast::Receiver<vrrp::runtime::StateEvent>>,
) -> Result<vrrp::runtime::StateEvent, tokio::sync::broadcast::error::RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Runs the daemon until SIGTERM/SIGINT. Returns the process exit status.
pub fn run(cli: &Cli, model: confparse::Model) -> ExitCode {
    log::init(cli.log_console, cli.log_detail);
    info!("Starting Keepalived-rs v{}", env!("CARGO_PKG_VERSION"));

    let pid = cli
        .pid
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PID));
    let vrrp_pid = cli
        .vrrp_pid
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_VRRP_PID));
    let checkers_pid = cli
        .checkers_pid
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CHECKERS_PID));
    for p in [&pid, &vrrp_pid, &checkers_pid] {
        if let Some(other) = pidfile::live_pid(p) {
            info!("daemon is already running (pid {other} in {})", p.display());
            return ExitCode::SUCCESS;
        }
    }
    // keepalived starts a subsystem only when it has something to do
    // (or with -a); -P runs VRRP only, -C the LVS side only.
    let mut files = vec![pid];
    let run_vrrp = !cli.check_only && (!model.instances.is_empty() || cli.all);
    if run_vrrp {
        files.push(vrrp_pid);
    }
    let run_lvs = !cli.vrrp_only && (!model.lvs.virtual_servers.is_empty() || cli.all);
    if run_lvs {
        files.push(checkers_pid);
    }
    let _pidfiles = match pidfile::PidFiles::write(&files) {
        Ok(f) => f,
        Err(e) => {
            error!("cannot write pid file: {e}");
            return ExitCode::FAILURE;
        }
    };

    // Two workers. A current_thread runtime (as keepalived's one VRRP
    // thread) saved ~1 MiB RSS and a third of the CPU at 1,000 instances,
    // but its adverts came in larger bursts (instances become master closer
    // together at start, and one thread sends each burst alone), and under
    // load the send jitter went up: p50 4.2-10.9 ms, p99 49-70 ms against
    // 1.7 / 17.9 ms for two workers in the same bench on the same host
    // (BENCHMARKS.md, VRRP).
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let opts = vrrp::runtime::RuntimeOpts {
        release_on_stop: !cli.dont_release_vrrp,
    };
    rt.block_on(async move {
        let mut term = signal(SignalKind::terminate());
        let mut int = signal(SignalKind::interrupt());
        let mut hup = signal(SignalKind::hangup());
        let mut usr1 = signal(SignalKind::user_defined1());
        let mut usr2 = signal(SignalKind::user_defined2());
        let (Ok(term), Ok(int), Ok(hup), Ok(usr1), Ok(usr2)) = (
            term.as_mut(),
            int.as_mut(),
            hup.as_mut(),
            usr1.as_mut(),
            usr2.as_mut(),
        ) else {
            error!("cannot install signal handlers");
            return ExitCode::FAILURE;
        };
        // keepalived 2.2.7 without IPVS: "IPVS: Can't initialize ipvs", the
        // checker process exits FATAL and the parent terminates (status 1).
        let mut lvs = if run_lvs {
            match lvs::Lvs::start(&model, &cli.config_path()) {
                Ok(l) => Some(l),
                Err(e) => {
                    error!("IPVS: Can't initialize ipvs: {e}");
                    return ExitCode::FAILURE;
                }
            }
        } else {
            None
        };
        let mut runtime = if run_vrrp {
            match vrrp::runtime::Runtime::start(&model, opts).await {
                Ok(r) => Some(r),
                Err(e) => {
                    error!("{e}");
                    if let Some(l) = lvs {
                        l.stop(cli.dont_release_ipvs);
                    }
                    return ExitCode::FAILURE;
                }
            }
        } else {
            None
        };
        // `lvs_sync_daemon IF VI`: the sync daemon follows VI's role (the
        // feed is subscribed before the first status read: nothing missed).
        let mut states = runtime.as_ref().map(|r| r.subscribe_states());
        let mut follower = match &runtime {
            Some(r) => {
                let mut f = sync::Follower::new(&model);
                f.resync(&r.status().await);
                Some(f)
            }
            None => None,
        };
        // The model is not needed once both sides run (a reload reads the
        // file again); at 1,000 instances it is a few MiB of the heap.
        drop(model);
        info!("Startup complete");
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv(), if !cli.ignore_sigint => break,
                _ = hup.recv() => {
                    if let Some(l) = &lvs {
                        l.reload(cli.config_path(), crate::load_options(cli));
                    } else if !cli.vrrp_only {
                        lvs = lvs::Lvs::start_on_reload(&cli.config_path(), &crate::load_options(cli));
                    }
                    if let Some(r) = runtime.as_mut() {
                        if let (Some(m), Some(f)) = (reload_vrrp(r, cli).await, follower.as_mut()) {
                            f.reconfigure(&m);
                            f.resync(&r.status().await);
                        }
                    }
                }
                ev = next_state(&mut states) => match ev {
                    Ok(ev) => {
                        if let Some(f) = follower.as_mut() {
                            f.on_event(&ev);
                        }
                    }
                    // Transitions were lost: read the state instead.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        if let (Some(f), Some(r)) = (follower.as_mut(), &runtime) {
                            f.resync(&r.status().await);
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => states = None,
                },
                // keepalived's DATA and STATS signals (reference 3.2).
                _ = usr1.recv() => {
                    if let Some(r) = &runtime {
                        dump(DATA_FILE, &vrrp::runtime::render_data(&r.status().await));
                    }
                }
                _ = usr2.recv() => {
                    if let Some(r) = &runtime {
                        dump(STATS_FILE, &vrrp::runtime::render_stats(&r.status().await));
                    }
                }
            }
        }
        info!("Stopping");
        // keepalived stops the instance-bound sync daemon before the VRRP
        // instances send their priority-0 adverts (vrrp_terminate_phase2).
        if let Some(f) = follower {
            f.stop();
        }
        if let Some(l) = lvs {
            l.stop(cli.dont_release_ipvs);
        }
        if let Some(r) = runtime {
            r.stop().await;
        }
        info!("Stopped Keepalived-rs v{}", env!("CARGO_PKG_VERSION"));
        ExitCode::SUCCESS
    })
}

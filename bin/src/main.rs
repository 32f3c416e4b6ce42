//! `keepalived-rs`: keepalived's command line over the confparse, vrrp,
//! ipvs and checkers crates.

mod alloc;
mod cli;
mod daemon;
mod demo;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc malloc: loading a large configuration makes
/// about a million small allocations, and glibc's `_int_malloc`/`_int_free`
/// and `malloc_consolidate` were a quarter of `-t`'s profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if matches!(cli.command, Some(cli::Command::Demo)) {
        return demo::run();
    }
    if cli.config_test.is_some() {
        return config_test(&cli);
    }
    run_daemon(&cli)
}

/// The load options the command line asks for, on this host's interfaces.
fn load_options(cli: &cli::Cli) -> confparse::LoadOptions {
    confparse::LoadOptions {
        config_id: cli.config_id.clone(),
        all_config: cli.all_config,
        ..confparse::LoadOptions::for_this_host()
    }
}

/// `-d` / `--dump-conf[=json]`: the resolved model on stdout.
fn dump_model(cli: &cli::Cli, model: &confparse::Model) {
    match cli.dump_conf.as_deref() {
        None => {}
        Some("json") => match serde_json::to_string_pretty(model) {
            Ok(j) => println!("{j}"),
            Err(e) => eprintln!("cannot dump the configuration as JSON: {e}"),
        },
        Some(_) => println!("{model:#?}"),
    }
}

/// `-t` / `--config-test[=LOGFILE]` (alias `--check-config`): check the
/// configuration as keepalived 2.2.7 does and exit with its status (0
/// clean; 4 cannot run; 5 problems but would run; 6 security; 2 missing
/// parameter). Diagnostics go to stderr (and to LOGFILE when given), or as
/// JSON to stdout with `--json`.
fn config_test(cli: &cli::Cli) -> ExitCode {
    let report = confparse::check(&cli.config_path(), &load_options(cli));
    if cli.json {
        println!("{}", report.diagnostics.to_json(&report.sources));
    } else {
        let rendered = report.render();
        eprint!("{rendered}");
        if let Some(log) = cli.config_test.as_deref().filter(|l| !l.is_empty()) {
            if let Err(e) = std::fs::write(log, &rendered) {
                eprintln!("cannot write {log}: {e}");
            }
        }
    }
    if let Some(m) = &report.model {
        dump_model(cli, m);
    }
    let status = report.exit_status();
    // `-t` is done once the report is out: exit here instead of dropping the
    // model, the statements and the source text, which on a 250k-line file
    // costs a fifth of the run (keepalived's `-t` also just exits).
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    std::process::exit(status)
}

/// Loads the configuration as `-t` does and runs the daemon on it;
/// a configuration that cannot run is reported and exits 1.
fn run_daemon(cli: &cli::Cli) -> ExitCode {
    // mimalloc madvises its arena MADV_HUGEPAGE, so on hosts with THP in
    // `madvise` mode every touched page of the long-lived daemon's sparse
    // heap became a resident 2 MiB page (53 MiB RSS for 1,000 instances,
    // BENCHMARKS.md). The daemon wants a small footprint more than `-t`'s
    // allocation speed: no transparent huge pages for it.
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        eprintln!("cannot disable transparent huge pages: {e}");
    }
    alloc::tune_for_daemon();
    let mut report = confparse::check(&cli.config_path(), &load_options(cli));
    let rendered = report.render();
    if !rendered.is_empty() {
        eprint!("{rendered}");
    }
    // The daemon keeps the model only: the sources, statements and
    // diagnostics of the report are freed before it starts.
    let model = report.model.take();
    drop(report);
    match model {
        Some(model) => {
            // keepalived's -d dumps the configuration and runs.
            dump_model(cli, &model);
            daemon::run(cli, model)
        }
        None => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::cli::Cli;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

//! `keepalived-rs`: keepalived's command line over the confparse, vrrp,
//! ipvs and checkers crates.

mod cli;
mod daemon;
mod demo;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if matches!(cli.command, Some(cli::Command::Demo)) {
        return demo::run();
    }
    if cli.config_test.is_none() {
        return run_daemon(&cli);
    }
    let path = cli.config_path();
    let mut sources = confparse::SourceMap::new();
    let mut diags = confparse::Diagnostics::new();
    let _lines =
        confparse::preproc::read_config(&path, &Default::default(), &mut sources, &mut diags);
    if cli.json {
        println!("{}", diags.to_json(&sources));
    } else {
        eprint!("{}", diags.render(&sources));
    }
    let status = diags.exit_status();
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

/// Loads the configuration as `-t` does and runs the daemon on it;
/// a configuration that cannot run is reported and exits 1.
fn run_daemon(cli: &cli::Cli) -> ExitCode {
    let opts = confparse::LoadOptions {
        config_id: cli.config_id.clone(),
        all_config: cli.all_config,
        ..confparse::LoadOptions::for_this_host()
    };
    let mut report = confparse::check(&cli.config_path(), &opts);
    let rendered = report.render();
    if !rendered.is_empty() {
        eprint!("{rendered}");
    }
    match report.model.take() {
        Some(model) => daemon::run(cli, model),
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

//! `keepalived-rs`: keepalived's command line over the confparse, vrrp,
//! ipvs and checkers crates.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// keepalived's default configuration file.
const DEFAULT_CONF: &str = "/etc/keepalived/keepalived.conf";

#[derive(Parser, Debug)]
#[command(
    name = "keepalived-rs",
    version,
    about = "Drop-in replacement for keepalived"
)]
struct Cli {
    /// Use the specified configuration file.
    #[arg(short = 'f', long = "use-file", value_name = "FILE")]
    use_file: Option<PathBuf>,
    /// Check the configuration for obvious errors and exit.
    #[arg(short = 't', long = "config-test", visible_alias = "check-config")]
    config_test: bool,
    /// Print diagnostics as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = cli.use_file.unwrap_or_else(|| PathBuf::from(DEFAULT_CONF));
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

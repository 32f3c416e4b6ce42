//! `keepalived-rs`: keepalived's command line over the confparse, vrrp,
//! ipvs and checkers crates.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
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

#[cfg(test)]
mod tests {
    use super::cli::Cli;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

//! Runs `confparse::check` over fixtures/configs with the interfaces the
//! recorded keepalived verdicts were taken with (lo, eth0, eth1) and prints
//! every configuration whose status differs from keepalived 2.2.7's.
//! Usage: cargo run -p confparse --example check_fixtures [-- -v] [FILE…]

use std::path::Path;

fn main() {
    let verbose = std::env::args().any(|a| a == "-v");
    // `check_fixtures FILE…`: status and diagnostics of the given files.
    let files: Vec<String> = std::env::args().skip(1).filter(|a| a != "-v").collect();
    if !files.is_empty() {
        let mut opts = confparse::LoadOptions::for_this_host();
        opts.interfaces = Some(
            ["lo", "eth0", "eth1"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
        for f in files {
            let r = confparse::check(Path::new(&f), &opts);
            print!("{}", r.render());
            println!("{f}: rc={}", r.exit_status());
        }
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/configs");
    let Ok(tsv) = std::fs::read_to_string(dir.join("expected.tsv")) else {
        eprintln!("no expected.tsv");
        std::process::exit(2);
    };
    let mut opts = confparse::LoadOptions::for_this_host();
    opts.interfaces = Some(
        ["lo", "eth0", "eth1"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    let (mut ok, mut bad) = (0, 0);
    for line in tsv.lines().filter(|l| !l.starts_with('#')) {
        let Some((file, rc)) = line.split_once('\t') else {
            continue;
        };
        let Ok(want) = rc.trim().parse::<i32>() else {
            continue;
        };
        let r = confparse::check(&dir.join(file), &opts);
        let got = r.exit_status();
        if got == want {
            ok += 1;
        } else {
            bad += 1;
            println!("MISMATCH {file}: keepalived {want}, ours {got}");
            if verbose {
                print!("{}", r.render());
            }
        }
    }
    println!("{ok} agree, {bad} differ");
}

//! Config-test benchmark: times `keepalived -t` and `keepalived-rs -t` on the
//! same generated configurations in one run and prints a markdown table
//! (median wall time of several runs, peak RSS from `wait4`).
//!
//! Each configuration is checked inside a private network namespace that
//! holds exactly the interfaces it names, because keepalived looks every
//! `interface` up. Needs root and keepalived on PATH.
//!
//! Usage (see BENCHMARKS.md):
//!   sudo cargo run --release -p keepalived-rs-tests --bin bench_config -- [--reps N] [--scaling] [--keep DIR]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use testlab::confgen::{self, run, GeneratedConfig};

struct Args {
    reps: usize,
    scaling: bool,
    phases: bool,
    keep: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        reps: 5,
        scaling: false,
        phases: false,
        keep: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--reps" => {
                a.reps = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n: &usize| n > 0)
                    .ok_or("--reps needs a positive number")?;
            }
            "--scaling" => a.scaling = true,
            "--phases" => a.phases = true,
            "--keep" => a.keep = Some(it.next().ok_or("--keep needs a directory")?.into()),
            "-h" | "--help" => {
                return Err(
                    "usage: bench_config [--reps N] [--scaling] [--phases] [--keep DIR]\n  \
                     --scaling adds intermediate sizes to show how time grows\n  \
                     --phases also times our loader's phases in-process (where the time goes)"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// Timings of one program on one file.
struct Side {
    median: Duration,
    min: Duration,
    peak_rss_kib: u64,
    statuses: Vec<i32>,
}

/// One timed run through a small helper process (this binary with
/// `--run-one`): a child's peak RSS starts from its parent's RSS at exec
/// (posix_spawn shares the parent's memory until then), so the parent that
/// spawns the measured program must itself be small.
fn run_one(prog: &Path, file: &Path) -> Result<run::Outcome, String> {
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let out = std::process::Command::new(me)
        .arg("--run-one")
        .arg(prog)
        .arg(file)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("running the helper: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<i64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let [wall_ns, code, signal, rss] = f[..] else {
        return Err(format!("helper said {text:?}"));
    };
    Ok(run::Outcome {
        code: (code >= 0).then(|| i32::try_from(code).unwrap_or(-1)),
        signal: (signal >= 0).then(|| i32::try_from(signal).unwrap_or(-1)),
        stderr: String::new(),
        wall: Duration::from_nanos(u64::try_from(wall_ns).unwrap_or(0)),
        max_rss_kib: u64::try_from(rss).unwrap_or(0),
    })
}

/// `--run-one PROG FILE`: run `PROG -t -f FILE`, print `wall_ns code
/// signal max_rss_kib` (-1 for none).
fn helper(prog: &str, file: &str) -> ExitCode {
    match run::config_test(Path::new(prog), Path::new(file)) {
        Ok(o) => {
            println!(
                "{} {} {} {}",
                o.wall.as_nanos(),
                o.code.unwrap_or(-1),
                o.signal.unwrap_or(-1),
                o.max_rss_kib
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn measure(prog: &Path, file: &Path, reps: usize) -> Result<Side, String> {
    let mut walls = vec![];
    let mut rss = 0;
    let mut statuses = vec![];
    for _ in 0..reps {
        let o = run_one(prog, file)?;
        walls.push(o.wall);
        rss = rss.max(o.max_rss_kib);
        let s = o.shell_status();
        if !statuses.contains(&s) {
            statuses.push(s);
        }
    }
    let min = walls.iter().min().copied().unwrap_or_default();
    Ok(Side {
        median: run::median(&mut walls),
        min,
        peak_rss_kib: rss,
        statuses,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn configs(scaling: bool) -> Vec<GeneratedConfig> {
    let mut v = confgen::benchmark_set();
    if scaling {
        for n in [2_500, 5_000] {
            v.push(GeneratedConfig {
                name: format!("vrrp-{n}x40"),
                text: confgen::vrrp_instances(n, 40),
                interfaces: 40,
            });
        }
        for n in [500, 1_000] {
            v.push(GeneratedConfig {
                name: format!("lvs-{n}x20"),
                text: confgen::virtual_servers(n, 20),
                interfaces: 1,
            });
        }
    }
    v
}

/// Our loader's phases in this process (median of `reps`): preprocessing
/// (read, include, `$`/`@`/`~`, lexing) and keyword parsing plus validation
/// when the statements are collected first (`read_config` +
/// `check_lines`), freeing that, and `confparse::check` as `-t` runs it
/// (the walk fed in batches while the preprocessor reads: no split into
/// phases there).
fn phases(file: &Path, reps: usize) -> (Duration, Duration, Duration, Duration) {
    let (mut pre, mut parse, mut free, mut streamed) = (vec![], vec![], vec![], vec![]);
    for _ in 0..reps {
        let t = std::time::Instant::now();
        let report = confparse::check(file, &confparse::LoadOptions::for_this_host());
        streamed.push(t.elapsed());
        drop(report);
        let mut sources = confparse::SourceMap::new();
        let mut diags = confparse::Diagnostics::new();
        let t0 = std::time::Instant::now();
        let lines =
            confparse::preproc::read_config(file, &Default::default(), &mut sources, &mut diags);
        let t1 = std::time::Instant::now();
        let opts = confparse::LoadOptions::for_this_host();
        let model = confparse::check_lines(&lines, &opts, &mut diags);
        let t2 = std::time::Instant::now();
        drop(model);
        drop(lines);
        drop(sources);
        let t3 = std::time::Instant::now();
        pre.push(t1 - t0);
        parse.push(t2 - t1);
        free.push(t3 - t2);
    }
    (
        run::median(&mut pre),
        run::median(&mut parse),
        run::median(&mut free),
        run::median(&mut streamed),
    )
}

fn main_inner() -> Result<(), String> {
    let args = parse_args()?;
    if let Some(why) =
        testlab::missing(&[testlab::Need::Root, testlab::Need::Program("keepalived")])
    {
        return Err(format!("bench_config {why}"));
    }
    let ours = run::our_binary()?;
    let theirs = PathBuf::from("keepalived");
    let tmp = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let dir = args
        .keep
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let kv = std::process::Command::new("keepalived")
        .arg("-v")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    println!(
        "config-test benchmark: {} runs each, median wall time (min), peak RSS; {kv}; ours {}\n",
        args.reps,
        ours.display()
    );
    println!("| config | lines | interfaces | keepalived -t | keepalived-rs -t | speedup | keepalived RSS | keepalived-rs RSS | status (theirs/ours) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut phase_rows = vec![];
    for c in configs(args.scaling) {
        let file = dir.join(format!("{}.conf", c.name));
        std::fs::write(&file, &c.text).map_err(|e| format!("{}: {e}", file.display()))?;
        let (ours_b, theirs_b, file_b, reps) =
            (ours.clone(), theirs.clone(), file.clone(), args.reps);
        let (t, o) = run::in_private_netns(c.interfaces, move || {
            // One warm-up run each (page cache, dynamic linking), not timed.
            let _ = run::config_test(&theirs_b, &file_b);
            let _ = run::config_test(&ours_b, &file_b);
            let t = measure(&theirs_b, &file_b, reps);
            let o = measure(&ours_b, &file_b, reps);
            (t, o)
        })?;
        let (t, o) = (t?, o?);
        let speedup = t.median.as_secs_f64() / o.median.as_secs_f64().max(1e-9);
        println!(
            "| {} | {} | {} | {} ({}) | {} ({}) | {:.1}x | {} | {} | {:?}/{:?} |",
            c.name,
            c.lines(),
            c.interfaces,
            ms(t.median),
            ms(t.min),
            ms(o.median),
            ms(o.min),
            speedup,
            mib(t.peak_rss_kib),
            mib(o.peak_rss_kib),
            t.statuses,
            o.statuses,
        );
        if args.phases {
            let (file_b, reps) = (file.clone(), args.reps);
            let (pre, parse, free, streamed) =
                run::in_private_netns(c.interfaces, move || phases(&file_b, reps))?;
            phase_rows.push(format!(
                "| {} | {} | {} | {} | {} | {} |",
                c.name,
                c.lines(),
                ms(pre),
                ms(parse),
                ms(free),
                ms(streamed)
            ));
        }
    }
    if !phase_rows.is_empty() {
        println!("\nkeepalived-rs loader phases, in-process (median):\n");
        println!("| config | lines | preprocess + lex | parse + validate | freeing it all | check as -t (streamed) |");
        println!("|---|---:|---:|---:|---:|---:|");
        for r in phase_rows {
            println!("{r}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let a: Vec<String> = std::env::args().collect();
    if a.len() == 4 && a[1] == "--run-one" {
        return helper(&a[2], &a[3]);
    }
    match main_inner() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

//! Times the stages of `check` on a generated configuration of 10,000
//! VRRP instances (100,000 lines): preprocessing, then keyword walk and
//! validation. Usage: cargo run --release -p confparse --example bench_check
//! (keepalived 2.2.7's `-t` on the same file: see BENCHMARKS.md).

use std::time::Instant;

fn main() {
    let mut text = String::from("global_defs {\n router_id bench\n dynamic_interfaces\n}\n");
    for i in 0..10_000u32 {
        text.push_str(&format!(
            "vrrp_instance VI_{i} {{\n state BACKUP\n interface veth{}\n virtual_router_id {}\n priority 100\n advert_int 1\n virtual_ipaddress {{\n  10.{}.{}.1/24\n }}\n}}\n",
            i / 250,
            i % 250 + 1,
            i / 250,
            i % 250
        ));
    }
    let dir = std::env::temp_dir().join(format!("bench_check_{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let path = dir.join("big.conf");
    if std::fs::write(&path, &text).is_err() {
        return;
    }
    let opts = confparse::LoadOptions::default();
    let mut best = [f64::MAX; 3];
    for _ in 0..10 {
        let t0 = Instant::now();
        let mut sources = confparse::SourceMap::new();
        let mut diags = confparse::Diagnostics::new();
        let lines =
            confparse::preproc::read_config(&path, &Default::default(), &mut sources, &mut diags);
        let t1 = Instant::now();
        let model = confparse::check_lines(&lines, &opts, &mut diags);
        let t2 = Instant::now();
        let r = confparse::check(&path, &opts);
        let t3 = Instant::now();
        assert!(model.is_some() && r.model.is_some());
        best[0] = best[0].min((t1 - t0).as_secs_f64() * 1e3);
        best[1] = best[1].min((t2 - t1).as_secs_f64() * 1e3);
        best[2] = best[2].min((t3 - t2).as_secs_f64() * 1e3);
    }
    println!(
        "preprocess {:.1} ms, keywords+validation {:.1} ms, check() total {:.1} ms",
        best[0], best[1], best[2]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

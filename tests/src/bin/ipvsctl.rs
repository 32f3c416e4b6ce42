//! `ipvsctl`: drives the `ipvs` crate against the running kernel, for the VM
//! lab (`tests/tests/lab_ipvs.rs`) and the IPVS benchmark. Tables are JSON
//! files of `ipvs::DesiredTable`; listings use `ipvsadm -Ln`'s layout.
//!
//! ```text
//! ipvsctl show                                 listing read through the crate
//! ipvsctl plan  DESIRED.json [OWNED.json]      ops a reconcile would run
//! ipvsctl apply DESIRED.json [OWNED.json]      reconcile (OWNED: service keys owned before)
//! ipvsctl start DESIRED.json [--flush]         first reconcile, lvs_flush optional
//! ipvsctl stop  DESIRED.json each|services|flush|keep
//! ipvsctl bench DESIRED.json                   add from empty, no-change pass, remove
//! ipvsctl cpu   DESIRED.json                   pure-CPU plan + encode timing (no kernel:
//!                                              run on the host and in the VM = TCG factor)
//! ipvsctl exec  OPS.json                       run ops (pipelined), one result line each
//! ipvsctl info                                 version, timeouts, sync daemons
//! ipvsctl raw                                  family id and the raw dump datagrams, hex
//! ipvsctl stats                                counters like ipvsadm -Ln --stats --exact
//! ```

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Instant;

use ipvs::reconcile::{read_table, ReconcileReport};
use ipvs::{DesiredTable, IpvsClient, NetlinkIpvs, Reconciler, ServiceKey, StopPolicy};

fn load<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

fn listing(c: &mut NetlinkIpvs) -> Result<String, String> {
    let info = c.info().map_err(|e| e.to_string())?;
    let mut table = Vec::new();
    for s in c.services().map_err(|e| e.to_string())? {
        let d = c.dests(&s.service.key).map_err(|e| e.to_string())?;
        table.push((s, d));
    }
    Ok(ipvs::show::ipvsadm_ln(&info, &table))
}

fn report(what: &str, r: &ReconcileReport) -> bool {
    println!("{what}.ops {}", r.ops.len());
    println!("{what}.done {}", r.applied.done);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what}.phases_ms read {:.1} plan {:.1} apply {:.1}",
        ms(r.times.read),
        ms(r.times.plan),
        ms(r.times.apply)
    );
    for f in &r.applied.failed {
        println!("{what}.failed {}", f.error);
    }
    r.applied.is_ok()
}

/// This process's user and system CPU time so far, in ms (/proc/self/stat
/// fields 14 and 15, clock ticks of 10 ms): the load-independent split of
/// a phase between our own work and the kernel's (IPVS requests are
/// handled inside our `sendmsg`, so their kernel time is ours).
fn cpu_ms() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name may hold spaces: fields count from its closing ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(f64::NAN))
        .collect();
    let tick_ms = 10.0;
    (
        f.get(11).copied().unwrap_or(f64::NAN) * tick_ms,
        f.get(12).copied().unwrap_or(f64::NAN) * tick_ms,
    )
}

/// Runs `f`, printing `KEY_ms`, and `KEY_cpu user_ms sys_ms`.
fn timed<T>(key: &str, f: impl FnOnce() -> T) -> T {
    let (u0, s0) = cpu_ms();
    let t = Instant::now();
    let out = f();
    let wall = t.elapsed().as_secs_f64() * 1e3;
    let (u1, s1) = cpu_ms();
    println!("{key}_ms {wall:.1}");
    println!("{key}_cpu {:.0} {:.0}", u1 - u0, s1 - s0);
    out
}

/// Pure-CPU work of a reconcile, without the kernel: `plan` of the table
/// against itself read back (the no-change compare) and encoding every
/// request of the add plan. Prints the median of 9 rounds, in ms.
fn cpu_bench(desired: &DesiredTable) {
    let actual = ipvs::ActualTable {
        services: desired
            .services
            .iter()
            .map(|v| (v.service.clone(), v.effective_dests()))
            .collect(),
        timeouts: None,
    };
    let owned = desired.services.iter().map(|v| v.service.key).collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let rounds = |f: &mut dyn FnMut() -> usize| {
        median(
            (0..9)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(f());
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect(),
        )
    };
    let compare = rounds(&mut || ipvs::plan(desired, &actual, &owned).len());
    let add = ipvs::plan(desired, &ipvs::ActualTable::default(), &BTreeSet::new());
    let encode = rounds(&mut || {
        let mut buf = Vec::new();
        for (i, op) in add.iter().enumerate() {
            ipvs::wire::encode_request_into(&mut buf, op.to_message(), 30, i as u32, 0);
        }
        buf.len()
    });
    println!("cpu.compare_ms {compare:.2}");
    println!("cpu.encode_ms {encode:.2} ({} requests)", add.len());
}

fn run(args: &[String]) -> Result<bool, String> {
    if let (Some("cpu"), Some(file)) = (args.first().map(String::as_str), args.get(1)) {
        cpu_bench(&load(file)?);
        return Ok(true);
    }
    let mut c = NetlinkIpvs::connect().map_err(|e| e.to_string())?;
    let arg = |i: usize| args.get(i).map(String::as_str);
    let owned = |i: usize| -> Result<BTreeSet<ServiceKey>, String> {
        match arg(i) {
            Some(p) if !p.starts_with("--") => load(p),
            _ => Ok(BTreeSet::new()),
        }
    };
    match (arg(0), arg(1)) {
        (Some("show"), _) => {
            print!("{}", listing(&mut c)?);
            Ok(true)
        }
        (Some("info"), _) => {
            let i = c.info().map_err(|e| e.to_string())?;
            println!("info.version {}", i.version_string());
            println!("info.size {}", i.conn_tab_size);
            let t = c.config().map_err(|e| e.to_string())?;
            println!("info.timeouts {} {} {}", t.tcp, t.tcp_fin, t.udp);
            for d in c.daemons().map_err(|e| e.to_string())? {
                println!(
                    "info.daemon {:?} {} {} {:?} {:?} {:?} {:?}",
                    d.state,
                    d.ifname,
                    d.sync_id,
                    d.sync_maxlen,
                    d.mcast_group,
                    d.mcast_port,
                    d.mcast_ttl
                );
            }
            Ok(true)
        }
        (Some("stats"), _) => {
            let line = |s: &ipvs::Stats| {
                format!(
                    "{} {} {} {} {}",
                    s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes
                )
            };
            for s in c.services().map_err(|e| e.to_string())? {
                println!("{} {}", s.service.key, line(&s.stats));
                for d in c.dests(&s.service.key).map_err(|e| e.to_string())? {
                    println!("  -> {} {}", d.dest.key, line(&d.stats));
                }
            }
            Ok(true)
        }
        (Some("raw"), _) => {
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            println!("family {}", c.family_id());
            let services = c.services().map_err(|e| e.to_string())?;
            for d in c.dump_raw(None).map_err(|e| e.to_string())? {
                println!("services {}", hex(&d));
            }
            for s in services {
                for d in c
                    .dump_raw(Some(&s.service.key))
                    .map_err(|e| e.to_string())?
                {
                    println!(
                        "dests {} {}",
                        serde_json::to_string(&s.service.key).map_err(|e| e.to_string())?,
                        hex(&d)
                    );
                }
            }
            Ok(true)
        }
        (Some("exec"), Some(file)) => {
            let ops: Vec<ipvs::Op> = load(file)?;
            for (i, r) in c.execute(&ops).into_iter().enumerate() {
                match r {
                    Ok(()) => println!("exec.{i} ok"),
                    Err(e) => println!("exec.{i} err {} {e}", e.errno().unwrap_or(0)),
                }
            }
            Ok(true)
        }
        (Some("plan"), Some(file)) => {
            let desired: DesiredTable = load(file)?;
            let mut owned = owned(2)?;
            owned.extend(desired.services.iter().map(|v| v.service.key));
            let actual = read_table(&mut c).map_err(|e| e.to_string())?;
            for op in ipvs::plan(&desired, &actual, &owned) {
                println!("{op}");
            }
            Ok(true)
        }
        (Some("apply"), Some(file)) => {
            let desired: DesiredTable = load(file)?;
            let mut r = Reconciler::with_owned(owned(2)?);
            let rep = r.reconcile(&mut c, &desired).map_err(|e| e.to_string())?;
            Ok(report("apply", &rep))
        }
        (Some("start"), Some(file)) => {
            let desired: DesiredTable = load(file)?;
            let flush = arg(2) == Some("--flush");
            let rep = Reconciler::new()
                .start(&mut c, &desired, flush)
                .map_err(|e| e.to_string())?;
            Ok(report("start", &rep))
        }
        (Some("stop"), Some(file)) => {
            let desired: DesiredTable = load(file)?;
            let policy = match arg(2) {
                Some("each") => StopPolicy::DeleteEach,
                Some("services") => StopPolicy::DeleteServices,
                Some("flush") => StopPolicy::FlushAll,
                Some("keep") => StopPolicy::Keep,
                other => return Err(format!("stop policy {other:?}")),
            };
            let mut r =
                Reconciler::with_owned(desired.services.iter().map(|v| v.service.key).collect());
            let rep = r.stop(&mut c, policy).map_err(|e| e.to_string())?;
            Ok(report("stop", &rep))
        }
        (Some("bench"), Some(file)) => {
            let desired: DesiredTable = load(file)?;
            let mut r = Reconciler::new();
            let add =
                timed("bench.add", || r.reconcile(&mut c, &desired)).map_err(|e| e.to_string())?;
            let ok = report("bench.add", &add);
            let same = timed("bench.nochange", || r.reconcile(&mut c, &desired))
                .map_err(|e| e.to_string())?;
            let ok = report("bench.nochange", &same) && ok;
            // The table read alone (dumps and decoding, no compare).
            let read = timed("bench.read", || read_table(&mut c)).map_err(|e| e.to_string())?;
            println!(
                "bench.read.dests {}",
                read.services.iter().map(|(_, d)| d.len()).sum::<usize>()
            );
            // A health transition (one real server down), planned against
            // the cached table instead of a full read.
            let mut down = desired.clone();
            if let Some(r) = down.services.first_mut().and_then(|v| v.reals.first_mut()) {
                r.up = false;
            }
            let health = timed("bench.health", || r.reconcile_cached(&mut c, &down))
                .map_err(|e| e.to_string())?;
            let ok = report("bench.health", &health) && ok;
            let stop = timed("bench.remove", || {
                r.stop(&mut c, StopPolicy::DeleteServices)
            })
            .map_err(|e| e.to_string())?;
            Ok(report("bench.remove", &stop) && ok)
        }
        _ => Err("usage: ipvsctl show | plan|apply|start|stop|bench|cpu DESIRED.json ...".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ipvsctl: {e}");
            ExitCode::from(2)
        }
    }
}
